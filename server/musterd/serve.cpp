#include "musterd/serve.hpp"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <iostream>
#include <memory>

#include "musterd/adapters/asio_loop.hpp"
#include "musterd/core/hub.hpp"

namespace musterd {

int serve(ServeOptions options, LogStore& log, DirectoryStore& directory, Engine& engine, const muster::Clock& clock) {
  asio::io_context io;
  AsioLoop loop(io);
  Metrics metrics;
  Hub hub(loop, engine, log, directory, clock, metrics, options.hub);
  hub.start();

  WsServer ws(io, hub, options.ws);
  if (auto listening = ws.listen(); !listening) {
    std::cerr << "musterd: " << listening.error().message << '\n';
    return 1;
  }
  std::cerr << "musterd: serving " << options.data_dir << " on ws://" << options.ws.host << ':' << options.ws.port
            << " (" << metrics.log_events << " events in the log)\n";

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
    std::cerr << "musterd: stopping\n";
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
