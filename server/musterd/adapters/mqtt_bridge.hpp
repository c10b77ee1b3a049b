// The MQTT adapter: musterd as one client of a broker (Mosquitto), with Eclipse Paho C++.
//
//   <prefix>/op/<user>   ops, decided by the same Engine and group commit as WebSocket ops
//   <prefix>/req/<user>  hello (replay from cursors), backfill, cursor, query, ping
//   <prefix>/ack/<user>  acks, welcome, replayed events, caught_up, results, errors
//   <prefix>/ev/<scope>  every event of the log, QoS 1, in gseq order
//
// The topic's <user> is the identity: the broker authenticated the connection and its
// ACL lets each user publish only to its own op and req topics. Each user is one
// Subscriber (core/subscriber.hpp) with this bridge as its port: hello, replay,
// backfill, receipts, ops and queries follow the same rules as on every transport.
// Live events do not go through the session: every event goes once to its scope's
// topic, and the broker fans it out; receipts may name what was handed to the broker.
//
// The outbox: every event is in the log before anything is sent, and the log position
// the broker has confirmed (PUBACK) is kept in log.db (`mqtt_published_gseq`). On
// (re)connect, and after a crash, publishing resumes from that mark, so every event
// reaches the broker at least once and in order; clients drop what they already have by
// seq. While the broker is away nothing blocks: ops keep arriving over WebSocket and the
// outbox (last_gseq − mark) grows.
//
// Thread: the server's loop thread owns the bridge, with the Hub, and makes every Paho call. Paho's
// callbacks run on Paho's threads and only post to the loop: Paho is never called from
// inside its own callbacks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <asio/io_context.hpp>

#include "musterd/core/hub.hpp"

namespace musterd {

struct MqttOptions {
  std::string url;  // tcp://HOST:PORT; empty: no MQTT
  std::string user;
  std::string password;
  std::string client_id = "musterd";
  std::string prefix = "muster/v1";
  std::size_t max_frame_bytes = 256 * 1024;
  int max_in_flight = 512;  // publishes awaiting PUBACK
};

class MqttBridge {
 public:
  MqttBridge(asio::io_context& io, Hub& hub, MqttOptions options);
  ~MqttBridge();
  MqttBridge(const MqttBridge&) = delete;
  MqttBridge& operator=(const MqttBridge&) = delete;

  // Starts connecting (and reconnecting with back-off for as long as it runs).
  void start();
  // Saves the confirmed mark and disconnects (waits at most a few seconds).
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace musterd
