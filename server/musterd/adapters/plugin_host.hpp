// The plugin host (SPEC §7; the protocol is plugins/README.md): runs each plugin given
// with `musterd serve --plugin PATH [--plugin-config FILE]`, speaks JSON lines with
// it, and feeds it the events it subscribed to.
//
//   start / restart   -> init {config, user, area, scopes, areas, cursors}
//   subscribe         -> the events of those scopes after the stored cursors, in seq
//                        order per scope, then caught_up, then live
//   backfill          -> a scope's events from `from` again, then caught_up
//   op                -> decided by the Engine as the plugin's user (device "plugin"),
//                        in the same group commit as everyone's ops -> ack
//   cursor            -> stored in log.db (cursors: user, device "plugin", scope) with
//                        the next group commit; the next run's feed starts after it
//   log               -> the server's log, prefixed with the plugin's name
//   a bad line        -> reported in the server's log, answered with an error line
//
// Each run of a plugin is one Subscriber (core/subscriber.hpp) with its stdin as the
// port: subscribe, backfill, cursor and op follow the rules of every transport.
//
// Thread: PluginHost lives on the server's Asio loop thread with the Engine and the
// LogStore. The child processes and their pipes belong to a PluginSupervisor, which
// runs libuv on its own thread; what it reports is posted to the Asio loop, and what
// the host writes goes to it through its queue.
//
// Memory stays bounded whatever a plugin does: its feed is read from the log (log.db
// is the spill) only while less than PluginLimits::feed_window bytes wait for it, as
// for every session; the supervisor pauses the reads of a plugin that floods or does
// not read what it is sent. A hung plugin costs the server nothing but its cursor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "muster/base/result.hpp"
#include "musterd/adapters/plugin_supervisor.hpp"
#include "musterd/core/hub.hpp"

namespace musterd {

// One --plugin PATH [--plugin-config FILE].
struct PluginSpec {
  std::string path;                      // the executable, absolute
  std::string config_path;               // absolute, or "" for none
  nlohmann::json config = nlohmann::json::object();
  std::string name;                      // config "name", else the executable's file name
  std::string user;                      // config "user": the muster account it acts as
  std::vector<std::string> message_to;   // config "message_to": whom it may send messages
  std::string cwd;                       // the config file's directory (relative paths in it work)
};

// Reads and checks a plugin and its config file: the executable must exist and be
// executable; the config must be a JSON object naming `user`. Errors: invalid.
muster::Result<PluginSpec> load_plugin_spec(const std::string& path, const std::string& config_path);

class PluginHost {
 public:
  PluginHost(asio::io_context& io, Hub& hub, std::vector<PluginSpec> plugins, PluginLimits limits);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Registers each plugin user's grants with the Engine and starts the plugins.
  void start();
  // Closes the plugins' pipes (they see EOF) and stops supervising them.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace musterd
