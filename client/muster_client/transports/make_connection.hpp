// The transports the command-line client can use, chosen by the server address. This is
// what main.cpp hands the client's core (run_command) as its ConnectionFactory.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "muster/base/result.hpp"
#include "muster/sync/client_store.hpp"
#include "muster_client/connection.hpp"

namespace muster::client {

// A connection for the identity's server address: ws:// or wss://HOST:PORT
// (WsConnection), mqtt:// or mqtts://HOST:PORT (MqttConnection); Errc::invalid for
// anything else. Over TLS the server's certificate must verify against the CA file kept
// under kTlsCaKey, else the system's store. Over MQTT the
// broker authenticates each connection with the user's password: `password` if given
// (at login), else the one kept in the store under kMqttPasswordKey. Over WebSocket the
// password travels in the hello and neither is used here.
Result<std::unique_ptr<Connection>> make_connection(sync::ClientStore& store, const sync::Identity& identity,
                                                    const std::optional<std::string>& password);

}  // namespace muster::client
