#include "muster_client/connection.hpp"

#include "muster_client/ws_connection.hpp"

namespace muster::client {

Result<std::unique_ptr<Connection>> make_connection(const sync::Identity& identity,
                                                    const std::optional<std::string>& password) {
  (void)password;
  if (identity.server.rfind("ws://", 0) == 0) {
    return std::unique_ptr<Connection>(std::make_unique<WsConnection>(identity.server));
  }
  return make_error(Errc::invalid, "unsupported server address '" + identity.server + "' (use ws://HOST:PORT)");
}

}  // namespace muster::client
