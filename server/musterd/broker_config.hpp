// The Mosquitto broker muster needs, as files: `musterd broker-config` writes
// mosquitto.conf, a password file and an ACL file into an output directory, and every
// later change to the users (add, passwd, disable, enable) rewrites the password and
// ACL files and signals the broker (SIGHUP via its pid file) to reload them. Mosquitto
// re-checks connected clients on reload, so a disabled user is disconnected at once.
//
// The ACL uses %u patterns for what every user may do with its own topics (publish to
// its op and req topics, read its ack topic and inbox) and per-user read entries for
// the area and role scopes it can see; the server's own account reads and writes
// muster/v1/#. Client ids (%c) are never trusted.
//
// Identities: a plugin (server/broker_plugin/client_ids.cpp, kClientIdsPlugin next to
// musterd) lets user U connect only with the client id U or U/... ("wang/laptop-3"), so
// connecting with the client id "musterd" or another user's id is refused (CONNACK not
// authorised) and takes nobody's session; the server's account (user and client id
// "musterd") is no muster user's (a muster user of that name gets no broker login).
//
// Listeners: the plain one (--listen, loopback by default) is for musterd itself; with
// --tls-cert/--tls-key a TLS listener (--tls-listen, 0.0.0.0:8883 by default, TLS 1.2
// or later) is for the clients (mqtts://).
#pragma once

#include <string>

#include "muster/base/result.hpp"
#include "musterd/core/directory.hpp"

namespace musterd {

inline constexpr const char* kBrokerAccount = "musterd";
inline constexpr const char* kClientIdsPlugin = "muster_broker_ids.so";

struct BrokerConfigOptions {
  std::string data_dir;
  std::string out_dir;
  std::string listen = "127.0.0.1:1883";
  std::string tls_listen = "0.0.0.0:8883";  // with tls_cert and tls_key
  std::string tls_cert;                     // PEM: the chain, the broker's certificate first
  std::string tls_key;                      // PEM
};

// The server's broker password, kept in DATA/broker-password (mode 0600); made on first use.
muster::Result<std::string> broker_account_password(const std::string& data_dir, bool create);

// Writes OUT/mosquitto.conf, OUT/passwd and OUT/acl, and remembers OUT in the
// directory so later user changes keep the broker in step.
muster::Status write_broker_config(DirectoryStore& directory, const BrokerConfigOptions& options);

// If broker-config was run for this data dir: rewrites OUT/passwd and OUT/acl from the
// directory and sends SIGHUP to the broker named in OUT/mosquitto.pid (if it runs).
// Returns a note for the admin ("" when there is no broker to tell).
muster::Result<std::string> refresh_broker(DirectoryStore& directory, const std::string& data_dir);

}  // namespace musterd
