#include "musterd/serve.hpp"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <csignal>
#include <memory>

#include "musterd/adapters/asio_loop.hpp"
#include "musterd/adapters/descriptors.hpp"
#include "musterd/core/hub.hpp"
#include "musterd/core/log.hpp"

namespace musterd {

int serve(ServeOptions options, LogStore& log, DirectoryStore& directory, Engine& engine, const muster::Clock& clock) {
  // Every connection costs a descriptor: take all the system allows.
  const FdLimit fds = raise_fd_limit();
  if (fds.now != fds.before) {
    log_info("descriptor limit raised from " + std::to_string(fds.before) + " to " + std::to_string(fds.now));
  } else {
    log_info("descriptor limit " + std::to_string(fds.now) + " (the hard limit)");
  }
  // A file grown past the process's size limit (ulimit -f, LimitFSIZE=) is a full disk
  // like any other: the write fails, the commit is refused `unavailable` and the server
  // stays up, instead of SIGXFSZ killing it.
  std::signal(SIGXFSZ, SIG_IGN);
  asio::io_context io;
  AsioLoop loop(io, options.login_workers);
  Metrics metrics;
  Hub hub(loop, engine, log, directory, clock, metrics, options.hub);
  hub.start();

  WsServer ws(io, hub, options.ws);
  if (auto listening = ws.listen(); !listening) {
    log_error(listening.error().message);
    return 1;
  }
  log_info("serving " + options.data_dir + " on " + ws.scheme() + "://" + options.ws.host + ':' + std::to_string(options.ws.port) +
           " (" + std::to_string(metrics.log_events) + " events in the log)");

  std::unique_ptr<MqttBridge> bridge;
  if (!options.mqtt.url.empty()) {
    options.mqtt.max_frame_bytes = options.ws.max_frame_bytes;
    bridge = std::make_unique<MqttBridge>(io, hub, options.mqtt);
    bridge->start();
  }
  std::unique_ptr<PluginHost> plugins;
  if (!options.plugins.empty()) {
    plugins = std::make_unique<PluginHost>(io, hub, options.plugins, options.plugin_limits);
    plugins->start();
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& e, int) {
    if (e) return;
    log_info("stopping");
    ws.stop();
    hub.stop();  // commits what is pending, ends the sessions
    if (bridge) bridge->stop();
    if (plugins) plugins->stop();
  });
  io.run();
  loop.join();
  return 0;
}

}  // namespace musterd
