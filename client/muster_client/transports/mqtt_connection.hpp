// A blocking MQTT connection for the command-line client (SPEC §5), over Paho C++'s
// mqtt::async_client used synchronously.
//
// Routing (shared/muster/protocol/topics.hpp, prefix "muster/v1"):
//   send: op frames -> <prefix>/op/<user>; every other frame -> <prefix>/req/<user>.
//   receive: <prefix>/ack/<user> and <prefix>/ev/<scope> for each visible scope.
//
// Session: MQTT 3.1.1 with clean_session=false and client id "<user>/<device>", so the
// broker keeps the subscriptions and queues QoS 1 messages while the device is offline.
// A broker written by `musterd broker-config` accepts only ids that start with the
// connecting user's name, so no other user can take this session.
// The broker authenticates the connection (username = the muster user, password = the
// user's password), so a hello goes out without "password" and "token". Paho keeps
// nothing on disk: the client's outbox is the durable store, and a reconnecting client
// catches up from its cursors whatever the broker kept.
//
// Threads: every method runs on the calling thread and must be called from one thread
// at a time. Paho's own threads only put incoming messages (and a "connection lost"
// marker) into a queue that receive() reads; the client is never called from a Paho
// callback. No mqtt::exception escapes: every failure becomes a Status.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "muster/base/result.hpp"
#include "muster/sync/client_store.hpp"
#include "muster_client/connection.hpp"

namespace muster::client {

class MqttConnection final : public Connection {
 public:
  // identity.server is mqtt://HOST[:PORT] (1883 by default) or mqtts://HOST[:PORT]
  // (TLS, 8883 by default; the broker's certificate must verify against ca_file, PEM,
  // or the system's store if it is "", and name HOST). `password` may be empty (the
  // broker then refuses us unless it allows that).
  MqttConnection(sync::Identity identity, std::string password, std::string ca_file = "");
  ~MqttConnection() override;
  MqttConnection(const MqttConnection&) = delete;
  MqttConnection& operator=(const MqttConnection&) = delete;

  // Connects within `timeout` and subscribes (QoS 1) to the ack topic and to the event
  // topic of every scope in identity.scopes. Errc::invalid for a bad address,
  // Errc::forbidden if the broker refused the user name or password (CONNACK 4 or 5),
  // Errc::unavailable otherwise (naming the certificate problem if TLS refused it). May be called again after close() or a lost connection.
  Status connect(std::chrono::milliseconds timeout) override;
  // Publishes one frame at QoS 1 and waits (bounded) until the broker has it. A hello
  // is published without its "password" and "token" fields. Errc::invalid if the
  // frame is not a JSON object with a string "t".
  Status send(const std::string& frame) override;
  // The next payload from the ack topic or an event topic, in arrival order; nullopt
  // if none came within `timeout`; Errc::unavailable once the connection is lost.
  // A welcome frame's "scopes" are subscribed to before the welcome is returned.
  Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout) override;
  // Disconnects, waiting briefly for the broker. Safe to call more than once.
  void close() override;

  // The Paho client id and broker URI this connection uses (for tests and messages).
  std::string client_id() const;
  // "tcp://HOST:PORT" (mqtt://) or "ssl://HOST:PORT" (mqtts://), or nullopt if
  // identity.server is not a valid address of either.
  static std::optional<std::string> broker_uri(const std::string& server);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muster::client
