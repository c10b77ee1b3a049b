// `musterd serve`: the composition root. It builds the serving process from its parts
// (the Hub on an Asio loop, and the WebSocket, MQTT and plugin adapters around it) and
// runs it until SIGINT or SIGTERM. The only place that knows every part.
//
// Thread: the calling thread becomes the loop thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "musterd/adapters/mqtt_bridge.hpp"
#include "musterd/adapters/plugin_host.hpp"
#include "musterd/adapters/ws_server.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/engine.hpp"
#include "musterd/core/log_store.hpp"

namespace musterd {

struct ServeOptions {
  std::string data_dir;
  WsOptions ws;
  MqttOptions mqtt;                 // the second transport, when mqtt.url is set
  std::vector<PluginSpec> plugins;  // --plugin PATH --plugin-config FILE, each
  PluginLimits plugin_limits;
  HubOptions hub;
  int login_workers = 2;  // threads checking passwords (argon2id, 64 MiB each while it runs)
};

// Serves until SIGINT or SIGTERM. Returns the process exit code.
int serve(ServeOptions options, LogStore& log, DirectoryStore& directory, Engine& engine, const muster::Clock& clock);

}  // namespace musterd
