// muster-xmpp-bridge: the residents' chat bridge, a musterd plugin (plugins/README.md).
// musterd starts it and sends init with its config; it logs in to XMPP as the
// community's bot account and turns residents' messages into errand tasks.
//
// One thread, one loop: poll() on musterd's pipes and the XMPP socket, then
// libstrophe's run_once, the lines from musterd, and the replies waiting for residents. When musterd goes away (stdin
// ends) the bridge serves on alone, queueing requests in its state file, until a new
// instance asks it to hand over (instance_lock.hpp) or orphan_exit_after_s passes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <vector>
#include <fstream>

#include "muster/base/time.hpp"
#include "muster/protocol/plugin_frame.hpp"
#include "muster/store/sqlite.hpp"
#include "xmpp-bridge/bridge.hpp"
#include "xmpp-bridge/bridge_config.hpp"
#include "xmpp-bridge/host_pipe.hpp"
#include "xmpp-bridge/instance_lock.hpp"
#include "xmpp-bridge/log.hpp"
#include "xmpp-bridge/xmpp_link.hpp"

namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace xmpp_bridge;

volatile std::sig_atomic_t g_leave = 0;

// What the bridge's parts report (the lock, the bridge, the XMPP link).
void log(const std::string& text) { log_info(text); }

int run() {
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction on_term {};
  on_term.sa_handler = [](int) { g_leave = 1; };
  sigaction(SIGTERM, &on_term, nullptr);
  sigaction(SIGINT, &on_term, nullptr);

  HostPipe host;
  auto first = host.read_first_line();
  if (!first) return 0;  // musterd went away before saying who we are
  auto decoded = muster::protocol::decode_host_line(*first);
  if (!decoded || !std::holds_alternative<muster::protocol::PluginInit>(*decoded)) {
    // Not the line itself: an event carries what residents wrote.
    log_error("the first line from musterd is not init" + (decoded ? std::string() : ": " + decoded.error().message));
    return 2;
  }
  const auto init = std::get<muster::protocol::PluginInit>(*decoded);
  auto config = parse_bridge_config(init.config);
  if (!config) {
    log_error(config.error().message);
    return 2;
  }
  set_log_level(log_level_named(config->log_level));
  std::string password;
  {
    std::ifstream in(config->password_file);
    if (!in || !std::getline(in, password) || password.empty()) {
      log_error("cannot read the account's password from " + config->password_file);
      return 2;
    }
  }

  // Only the instance holding the lock may touch the state file or the XMPP account.
  auto lock = InstanceLock::take(config->state + ".lock", 10s, log);
  if (!lock) {
    log_error(lock.error().message);
    return 3;
  }
  muster::store::Db db = muster::store::Db::open(config->state);
  muster::SystemClock clock;
  Bridge bridge(*config, db, clock);
  bridge.log = log;
  if (!host.closed()) host.write(bridge.on_init(init));
  log("serving " + bridge.served_area() + " as " + config->jid + " for muster user " + init.user);

  XmppLink link(XmppLink::Options{config->jid, config->resource, password, config->host, config->port, config->tls,
                                  config->trust_tls},
                [&](const std::string& from, const std::string& body) {
                  auto lines = bridge.on_chat(from, body);
                  host.write(lines);
                },
                log);

  bool host_gone = false;
  auto gone_since = SteadyClock::now();
  auto last_tick = SteadyClock::now();
  std::vector<std::int64_t> written;  // replies handed to libstrophe, not yet marked sent
  SteadyClock::time_point leave_at{};
  bool leaving = false;

  // Replies are marked sent once libstrophe has written them to the socket (a lost
  // connection before that: they are sent again). Writing at once and marking at once
  // keeps the window in which a kill -9 could repeat one to the length of a commit.
  auto deliver_replies = [&] {
    if (!link.online()) {
      written.clear();
      return;
    }
    for (int round = 0; round < 50; ++round) {
      if (link.queued() != 0) return;
      bridge.mark_sent(written);
      written.clear();
      if (leaving) return;  // the next instance sends what is left
      auto replies = bridge.unsent_replies(20);
      if (replies.empty()) return;
      for (const auto& r : replies) {
        link.send(r.to, r.text, "muster-reply-" + std::to_string(r.id));
        written.push_back(r.id);
      }
      link.run_once(0ms);
    }
  };

  for (;;) {
    // One wait for everything: musterd's lines, the XMPP socket, room in stdout.
    std::vector<pollfd> fds;
    if (!host_gone) fds.push_back(pollfd{STDIN_FILENO, POLLIN, 0});
    if (!host_gone && host.wants_write()) fds.push_back(pollfd{STDOUT_FILENO, POLLOUT, 0});
    if (link.fd() >= 0) fds.push_back(pollfd{link.fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 100);
    link.run_once(0ms);

    if (!host_gone) {
      auto lines = host.read_available();
      if (!lines.empty()) host.write(bridge.on_host_lines(lines));
      host.flush();
      if (host.closed()) {
        host_gone = true;
        gone_since = SteadyClock::now();
        bridge.on_host_gone();
        // stderr went with musterd: from now on the log is a file beside the state.
        const int fd = ::open((config->state + ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
          ::dup2(fd, STDERR_FILENO);
          ::close(fd);
        }
        stamp_log_times();
        log_warn("musterd went away: requests queue here until it is back");
      }
    }
    if (SteadyClock::now() - last_tick >= 1s) {
      last_tick = SteadyClock::now();
      host.write(bridge.tick());
    }
    deliver_replies();

    if (g_leave && !leaving) {
      // Handing over: unavailable first, so the server keeps new messages for the next
      // instance; then a moment to commit what was already on its way here.
      log("asked to leave: handing over");
      leaving = true;
      link.go_unavailable();
      leave_at = SteadyClock::now() + 1s;
    }
    if (leaving && SteadyClock::now() >= leave_at && written.empty()) break;
    if (leaving && SteadyClock::now() >= leave_at + 3s) break;
    if (link.replaced() && host_gone) {
      log("another instance logged in with this account: leaving");
      break;
    }
    if (host_gone && config->orphan_exit_after_s > 0 &&
        SteadyClock::now() - gone_since >= std::chrono::seconds(config->orphan_exit_after_s)) {
      log("musterd has been away for orphan_exit_after_s: exiting");
      break;
    }
  }
  link.close(2s);
  return 0;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    log_error(std::string("fatal: ") + e.what());
    return 1;
  }
}
