// What the sync driver needs from a transport: a blocking, frame-oriented connection
// to the server. WebSocket (ws://) and MQTT (mqtt://) implement it in transports/, a
// target of their own; the SyncSession on top is the same for both.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "muster/base/result.hpp"
#include "muster/sync/client_store.hpp"

namespace muster::client {

class Connection {
 public:
  virtual ~Connection() = default;

  // Errc::unavailable if the server (or broker) cannot be reached in time;
  // Errc::forbidden if it refused our credentials; Errc::invalid for a bad address.
  virtual Status connect(std::chrono::milliseconds timeout) = 0;
  // Sends one frame (op frames and requests alike; the transport routes them).
  virtual Status send(const std::string& frame) = 0;
  // The next frame, waiting at most `timeout`: nullopt if none came in time;
  // Errc::unavailable once the connection is gone, Errc::forbidden if the server
  // closed it because it refused us.
  virtual Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;
};

// The ClientStore config key under which `muster login` keeps the user's password for
// an mqtt:// server (the broker authenticates every connection with it).
inline constexpr const char* kMqttPasswordKey = "mqtt_password";
// The ClientStore config key under which `muster login --ca FILE` keeps the CA file
// (an absolute path) that a wss:// or mqtts:// server's certificate must verify
// against; "" means the system's store.
inline constexpr const char* kTlsCaKey = "tls_ca";

// Makes the connection for an identity's server address, with the password given at
// login (else nullopt). The core is handed one and never names a transport: main.cpp
// passes make_connection (transports/make_connection.hpp).
using ConnectionFactory = std::function<Result<std::unique_ptr<Connection>>(
    sync::ClientStore& store, const sync::Identity& identity, const std::optional<std::string>& password)>;

}  // namespace muster::client
