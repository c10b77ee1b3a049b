#include "muster_client/transports/make_connection.hpp"

#include "muster_client/transports/mqtt_connection.hpp"
#include "muster_client/transports/ws_connection.hpp"

namespace muster::client {

Result<std::unique_ptr<Connection>> make_connection(sync::ClientStore& store, const sync::Identity& identity,
                                                    const std::optional<std::string>& password) {
  const std::string& server = identity.server;
  if (server.rfind("ws://", 0) == 0 || server.rfind("wss://", 0) == 0) {
    return std::unique_ptr<Connection>(std::make_unique<WsConnection>(server, store.config(kTlsCaKey)));
  }
  if (server.rfind("mqtt://", 0) == 0 || server.rfind("mqtts://", 0) == 0) {
    std::string secret = password ? *password : store.config(kMqttPasswordKey);
    return std::unique_ptr<Connection>(
        std::make_unique<MqttConnection>(identity, std::move(secret), store.config(kTlsCaKey)));
  }
  return make_error(Errc::invalid, "unsupported server address '" + server +
                                       "' (use wss://HOST:PORT or mqtts://HOST:PORT; ws:// and mqtt:// on a "
                                       "trusted network)");
}

}  // namespace muster::client
