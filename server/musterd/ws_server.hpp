// The WebSocket adapter: sessions, authentication, replay and live delivery over
// WebSocket++ on standalone Asio, plus GET /healthz and GET /metrics on the same port.
//
// Thread: everything here runs on the one Asio loop thread, which owns the sessions,
// the Engine, the LogStore, the MQTT bridge and the plugin host. Other threads only post
// to the loop: one checks passwords (argon2id is slow on purpose), Paho's deliver MQTT
// callbacks, the plugin supervisor's libuv thread reports what its children wrote.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "musterd/directory.hpp"
#include "musterd/engine.hpp"
#include "musterd/log_store.hpp"
#include "musterd/mqtt_bridge.hpp"
#include "musterd/plugin_host.hpp"

namespace musterd {

struct ServeOptions {
  std::string data_dir;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_frame_bytes = 256 * 1024;       // larger frames close the connection with 1009
  std::size_t max_send_buffer = 16 * 1024 * 1024;  // a live client further behind is disconnected
  std::vector<std::string> allowed_origins;        // browsers' Origin header must be one of these
  int hello_timeout_ms = 10000;                    // say hello within this or be closed (1008)
  MqttOptions mqtt;                                // the second transport, when mqtt.url is set
  std::vector<PluginSpec> plugins;                 // --plugin PATH --plugin-config FILE, each
  PluginLimits plugin_limits;
};

class WsServer {
 public:
  WsServer(ServeOptions options, LogStore& log, DirectoryStore& directory, Engine& engine, const muster::Clock& clock);
  ~WsServer();
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  // Listens and serves until SIGINT or SIGTERM. Returns the process exit code.
  int run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace musterd
