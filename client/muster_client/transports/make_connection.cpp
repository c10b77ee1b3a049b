#include "muster_client/transports/make_connection.hpp"

#include "muster_client/transports/mqtt_connection.hpp"
#include "muster_client/transports/ws_connection.hpp"

namespace muster::client {

Result<std::unique_ptr<Connection>> make_connection(sync::ClientStore& store, const sync::Identity& identity,
                                                    const std::optional<std::string>& password) {
  if (identity.server.rfind("ws://", 0) == 0) {
    return std::unique_ptr<Connection>(std::make_unique<WsConnection>(identity.server));
  }
  if (identity.server.rfind("mqtt://", 0) == 0) {
    std::string secret = password ? *password : store.config(kMqttPasswordKey);
    return std::unique_ptr<Connection>(std::make_unique<MqttConnection>(identity, std::move(secret)));
  }
  return make_error(Errc::invalid,
                    "unsupported server address '" + identity.server + "' (use ws://HOST:PORT or mqtt://HOST:PORT)");
}

}  // namespace muster::client
