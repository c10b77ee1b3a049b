// The process half of the plugin host: runs each plugin as a child process on a libuv
// loop of its own, and restarts it with back-off when it exits.
//
// Thread: the supervisor owns one thread, which runs its uv_loop and owns the child
// processes, their pipes (non-blocking) and timers. Other threads reach it only
// through write() and stop(), which queue a command and wake the loop with
// uv_async_send (libuv's one thread-safe door). What it has to report goes out
// through the Events callbacks, which run on its thread and must only hand over
// (the plugin host posts to the Asio loop); nothing throws through a libuv callback.
//
// What it does on its own, whatever a plugin does:
//  - splits what a plugin writes to stdout into lines; a line over the size limit is
//    dropped (reported), the rest delivered in order;
//  - forwards stderr as lines (cut at the size limit);
//  - throttles: lines from stdout and stderr draw from a token bucket
//    (lines_per_second, burst); when it runs dry, reading pauses until it refills, so a
//    flooding plugin blocks on its own full pipe, not the server;
//  - stops reading a plugin's stdout while more than max_stdin_backlog bytes wait in
//    its stdin (a plugin that does not read its acks may not ask for more);
//  - restarts a plugin that exited after min_backoff, doubling up to max_backoff; a
//    plugin that ran healthy_after or longer starts again from min_backoff.
//
// Children are spawned through `musterd plugin-exec PATH` (commands.cpp), which closes
// every inherited descriptor but stdin, stdout and stderr and then execs the plugin:
// a child must not keep the server's sockets or files open (a restarted musterd could
// not bind its port while an old plugin lives on). They run detached (their own
// session): when musterd stops, their stdin reaches EOF and they decide themselves
// whether to exit (the XMPP bridge keeps serving residents).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace musterd {

struct PluginLimits {
  std::size_t max_line_bytes = 64 * 1024;         // longer stdout lines are dropped
  double lines_per_second = 200;                  // sustained rate of stdout and stderr lines
  double burst_lines = 1000;                      // lines allowed at once above the rate
  std::size_t max_stdin_backlog = 1024 * 1024;    // stdout reads pause while this much waits in stdin
  std::size_t feed_window = 256 * 1024;           // event bytes the host lets wait for one plugin
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds healthy_after{60000};  // ran this long: back-off starts again from min
};

struct PluginProgram {
  std::string name;  // for the log
  std::string path;  // the executable
  std::string cwd;   // its working directory ("" = the server's)
};

class PluginSupervisor {
 public:
  enum class Notice { stderr_line, line_too_long, throttled, spawn_failed };

  // Called on the supervisor's thread. `generation` numbers the runs of one plugin
  // (1, 2, ...): whatever belongs to an older run is stale.
  struct Events {
    std::function<void(std::size_t plugin, std::uint64_t generation, int pid)> started;
    std::function<void(std::size_t plugin, std::uint64_t generation, std::string line)> line;
    // `bytes` of what write() queued for that run left for its stdin (or were dropped
    // because the run ended).
    std::function<void(std::size_t plugin, std::uint64_t generation, std::size_t bytes)> written;
    std::function<void(std::size_t plugin, std::uint64_t generation, Notice notice, std::string text)> notice;
    // exit_status is -1 and term_signal 0 when the run ended without an exit status
    // (the spawn failed).
    std::function<void(std::size_t plugin, std::uint64_t generation, std::int64_t exit_status, int term_signal,
                       std::chrono::milliseconds restart_in)>
        exited;
  };

  // `self` is the musterd executable (for `plugin-exec`).
  PluginSupervisor(std::string self, std::vector<PluginProgram> programs, PluginLimits limits, Events events);
  ~PluginSupervisor();  // stop()
  PluginSupervisor(const PluginSupervisor&) = delete;
  PluginSupervisor& operator=(const PluginSupervisor&) = delete;

  // Starts the thread, which spawns every program. Ignores SIGPIPE process-wide (a
  // write to a plugin that just died must fail with EPIPE, not kill the server).
  void start();
  // Any thread. Queues `data` for the stdin of run `generation` of `plugin`; dropped
  // (and reported written) if that run is over. Nothing after stop().
  void write(std::size_t plugin, std::uint64_t generation, std::string data);
  // Any thread. Closes every pipe (the children see EOF and may go on running),
  // stops restarting, and joins the thread. Idempotent.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace musterd
