#include "muster_client/transports/mqtt_connection.hpp"

#include <mqtt/async_client.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "muster/base/json_parse.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/protocol/topics.hpp"
#include "muster_client/transports/tls.hpp"

namespace muster::client {

namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr int kQos = 1;
constexpr int kDefaultPort = 1883;
constexpr int kDefaultTlsPort = 8883;
constexpr std::string_view kScheme = "mqtt://";
constexpr std::string_view kTlsScheme = "mqtts://";
// How long send() waits for the broker's PUBACK, and a (re)subscription for its SUBACK.
constexpr milliseconds kPublishTimeout{10000};
constexpr milliseconds kSubscribeTimeout{10000};
constexpr milliseconds kDisconnectTimeout{1000};
// While waiting for an acknowledgement, how often to notice that the connection is gone.
constexpr milliseconds kWaitSlice{50};
constexpr std::chrono::seconds kKeepAlive{20};
// MQTT 3.1.1 CONNACK return codes for refused credentials.
constexpr int kConnackBadUserNameOrPassword = 4;
constexpr int kConnackNotAuthorized = 5;
// A SUBACK return code at or above this is a refusal (0x80 in MQTT 3.1.1).
constexpr int kSubackFailure = 0x80;

bool valid_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return false;
  }
  const int port = std::stoi(std::string(text));
  return port >= 1 && port <= 65535;
}

std::string describe(const mqtt::exception& e) {
  std::string text = e.get_message();
  if (text.empty()) text = e.get_error_str();
  if (text.empty()) text = e.what();
  return text;
}

}  // namespace

class MqttConnection::Impl {
 public:
  Impl(sync::Identity identity, std::string password, std::string ca_file)
      : identity_(std::move(identity)),
        password_(std::move(password)),
        ca_file_(std::move(ca_file)),
        prefix_(protocol::kDefaultTopicPrefix),
        ack_topic_(protocol::ack_topic(prefix_, identity_.user)),
        event_prefix_(prefix_ + "/ev/") {}

  ~Impl() { close(); }

  std::string client_id() const { return identity_.user + "/" + identity_.device; }

  Status connect(milliseconds timeout) {
    close();
    auto uri = broker_uri(identity_.server);
    if (!uri) {
      return make_error(Errc::invalid,
                        "bad server address '" + identity_.server + "' (use mqtts://HOST:PORT or mqtt://HOST:PORT)");
    }
    const bool tls = uri->rfind("ssl://", 0) == 0;
    try {
      // No persistence argument: Paho keeps in-flight messages in memory only.
      client_ = std::make_unique<mqtt::async_client>(*uri, client_id(), mqtt::create_options(MQTTVERSION_3_1_1));
      // Consume before connecting: the broker may deliver queued messages at once.
      client_->start_consuming();
      // Paho's own limit is in whole seconds; ours (below) is the exact one.
      const std::chrono::seconds paho_timeout(std::max<long long>(1, (timeout.count() + 999) / 1000));
      auto builder = mqtt::connect_options_builder();
      if (tls) {
        // The chain against --ca FILE (else the system's store), and the host name.
        mqtt::ssl_options ssl;
        if (!ca_file_.empty()) ssl.set_trust_store(ca_file_);
        ssl.set_enable_server_cert_auth(true);
        ssl.set_verify(true);
        builder.ssl(std::move(ssl));
      }
      auto options = builder.mqtt_version(MQTTVERSION_3_1_1)
                         .clean_session(false)
                         .user_name(identity_.user)
                         .password(password_)
                         .keep_alive_interval(kKeepAlive)
                         .connect_timeout(paho_timeout)
                         .automatic_reconnect(false)
                         .finalize();
      auto token = client_->connect(options);
      if (!token->wait_for(timeout)) {
        client_.reset();
        return make_error(Errc::unavailable, "cannot reach the broker at " + identity_.server + ": timed out");
      }
    } catch (const mqtt::exception& e) {
      client_.reset();
      const int rc = e.get_return_code();
      if (rc == kConnackBadUserNameOrPassword || rc == kConnackNotAuthorized) {
        return make_error(Errc::forbidden, "the broker refused user " + identity_.user);
      }
      if (tls) {
        // Paho says only that the TLS connection failed: a handshake of our own names why.
        const auto [host, port] = host_and_port(*uri);
        if (std::string problem = tls_problem(host, port, ca_file_, timeout); !problem.empty()) {
          return make_error(Errc::unavailable, "cannot reach the broker at " + identity_.server + ": " + problem);
        }
      }
      return make_error(Errc::unavailable, "cannot reach the broker at " + identity_.server + ": " + describe(e));
    }
    connected_ = true;
    lost_ = false;
    subscribed_.clear();
    // Subscribe again every time: cheap, and makes up for a broker that lost the session.
    return subscribe(identity_.scopes, /*with_ack=*/true);
  }

  Status send(const std::string& frame) {
    if (auto st = check_connected(); !st) return st;
    Json parsed = Json::parse(frame, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object() || !parsed.contains("t") || !parsed["t"].is_string()) {
      return make_error(Errc::invalid, "not a frame: " + frame.substr(0, 80));
    }
    const std::string type = parsed["t"].get<std::string>();
    std::string payload = frame;
    if (type == "hello") {
      // The broker authenticated this connection; credentials never travel in a payload.
      parsed.erase("password");
      parsed.erase("token");
      payload = parsed.dump();
    }
    const std::string topic =
        type == "op" ? protocol::op_topic(prefix_, identity_.user) : protocol::req_topic(prefix_, identity_.user);
    try {
      auto token = client_->publish(mqtt::make_message(topic, payload, kQos, false));
      return wait_for(*token, kPublishTimeout, "publishing to " + topic);
    } catch (const mqtt::exception& e) {
      return failure("publishing to " + topic, e);
    }
  }

  Result<std::optional<std::string>> receive(milliseconds timeout) {
    if (auto st = check_connected(); !st) return st.error();
    const auto deadline = SteadyClock::now() + timeout;
    while (true) {
      mqtt::const_message_ptr message;
      bool got = false;
      try {
        got = client_->try_consume_message_until(&message, deadline);
      } catch (const mqtt::exception& e) {
        return failure("receiving", e).error();
      }
      if (!got) return std::optional<std::string>();
      if (!message) {  // Paho's marker: the connection was lost
        lost_ = true;
        return make_error(Errc::unavailable, "lost the connection to the broker at " + identity_.server);
      }
      const std::string& topic = message->get_topic();
      const bool from_ack = topic == ack_topic_;
      if (!from_ack && topic.compare(0, event_prefix_.size(), event_prefix_) != 0) continue;  // not ours
      std::string payload = message->to_string();
      if (from_ack) {
        if (auto st = follow_welcome(payload); !st) return st.error();
      }
      return std::optional<std::string>(std::move(payload));
    }
  }

  void close() {
    if (!client_) return;
    try {
      if (connected_ && !lost_ && client_->is_connected()) {
        client_->disconnect(static_cast<int>(kDisconnectTimeout.count()))->wait_for(kDisconnectTimeout);
      }
      client_->stop_consuming();
    } catch (const mqtt::exception&) {
      // Going away anyway: the broker notices the closed socket.
    }
    connected_ = false;
    client_.reset();
  }

 private:
  Status check_connected() const {
    if (!client_ || !connected_) return make_error(Errc::unavailable, "not connected to the broker");
    if (lost_) return make_error(Errc::unavailable, "lost the connection to the broker at " + identity_.server);
    return {};
  }

  Status failure(const std::string& what, const mqtt::exception& e) {
    if (!client_->is_connected()) lost_ = true;
    return make_error(Errc::unavailable, what + " failed: " + describe(e));
  }

  // Waits for an acknowledgement in slices, so a lost connection ends the wait early.
  // Throws mqtt::exception if the action failed.
  Status wait_for(mqtt::token& token, milliseconds timeout, const std::string& what) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!token.wait_for(kWaitSlice)) {
      if (!client_->is_connected()) {
        lost_ = true;
        return make_error(Errc::unavailable, what + " failed: lost the connection to the broker");
      }
      if (SteadyClock::now() >= deadline) {
        return make_error(Errc::unavailable, what + " failed: the broker did not answer in time");
      }
    }
    return {};
  }

  // Subscribes (QoS 1) to the event topics of `scopes` not yet subscribed, and to the
  // ack topic too when `with_ack`. A refused ack topic is Errc::forbidden; a refused
  // event topic is left out (its events still come as replays on the ack topic at the
  // next sync, and the session goes on).
  Status subscribe(const std::vector<std::string>& scopes, bool with_ack) {
    std::vector<std::string> topics;
    if (with_ack) topics.push_back(ack_topic_);
    for (const auto& scope : scopes) {
      std::string topic = protocol::event_topic(prefix_, scope);
      if (!subscribed_.count(topic) && std::find(topics.begin(), topics.end(), topic) == topics.end()) {
        topics.push_back(std::move(topic));
      }
    }
    if (topics.empty()) return {};
    std::vector<int> granted(topics.size(), kSubackFailure);
    try {
      auto token = client_->subscribe(mqtt::string_collection::create(topics), std::vector<int>(topics.size(), kQos));
      if (auto st = wait_for(*token, kSubscribeTimeout, "subscribing"); !st) return st;
      const mqtt::subscribe_response response = token->get_subscribe_response();
      const auto& codes = response.get_reason_codes();
      for (std::size_t i = 0; i < topics.size() && i < codes.size(); ++i) granted[i] = static_cast<int>(codes[i]);
    } catch (const mqtt::exception& e) {
      // Paho reports a refused single-topic subscription as a failure with the SUBACK code.
      if (topics.size() != 1 || e.get_return_code() != kSubackFailure) return failure("subscribing", e);
    }
    for (std::size_t i = 0; i < topics.size(); ++i) {
      const bool refused = granted[i] >= kSubackFailure;
      if (topics[i] == ack_topic_) {
        if (refused) return make_error(Errc::forbidden, "the broker does not let " + identity_.user + " read " + ack_topic_);
      } else if (!refused) {
        subscribed_.insert(topics[i]);
      }
    }
    return {};
  }

  // A welcome names the scopes this user sees (a first login learns them here).
  Status follow_welcome(const std::string& payload) {
    if (payload.find("\"welcome\"") == std::string::npos) return {};  // cheap filter
    auto parsed = parse_limited(payload, protocol::kMaxFrameDepth, protocol::kMaxFrameBytes);
    if (!parsed) return {};
    const Json& frame = *parsed;
    if (!frame.is_object() || frame.value("t", Json()) != "welcome") return {};
    const Json scopes = frame.value("scopes", Json::array());
    if (!scopes.is_array()) return {};
    std::vector<std::string> names;
    for (const auto& scope : scopes) {
      if (scope.is_string()) names.push_back(scope.get<std::string>());
    }
    identity_.scopes = names;
    return subscribe(names, /*with_ack=*/false);
  }

  // "ssl://HOST:PORT" -> HOST, PORT.
  static std::pair<std::string, std::string> host_and_port(const std::string& uri) {
    const std::string rest = uri.substr(uri.find("://") + 3);
    const auto colon = rest.rfind(':');
    return {rest.substr(0, colon), rest.substr(colon + 1)};
  }

  sync::Identity identity_;
  std::string password_;
  std::string ca_file_;  // mqtts://: "" is the system's store
  const std::string prefix_;
  const std::string ack_topic_;
  const std::string event_prefix_;
  std::unique_ptr<mqtt::async_client> client_;
  std::set<std::string> subscribed_;  // event topics the broker granted
  bool connected_ = false;
  bool lost_ = false;
};

MqttConnection::MqttConnection(sync::Identity identity, std::string password, std::string ca_file)
    : impl_(std::make_unique<Impl>(std::move(identity), std::move(password), std::move(ca_file))) {}
MqttConnection::~MqttConnection() = default;
Status MqttConnection::connect(std::chrono::milliseconds timeout) { return impl_->connect(timeout); }
Status MqttConnection::send(const std::string& frame) { return impl_->send(frame); }
Result<std::optional<std::string>> MqttConnection::receive(std::chrono::milliseconds timeout) {
  return impl_->receive(timeout);
}
void MqttConnection::close() { impl_->close(); }
std::string MqttConnection::client_id() const { return impl_->client_id(); }

std::optional<std::string> MqttConnection::broker_uri(const std::string& server) {
  const bool tls = server.compare(0, kTlsScheme.size(), kTlsScheme) == 0;
  if (!tls && server.compare(0, kScheme.size(), kScheme) != 0) return std::nullopt;
  std::string_view rest(server);
  rest.remove_prefix(tls ? kTlsScheme.size() : kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string_view::npos) return std::nullopt;
  std::string_view host = rest;
  std::string_view port;
  if (rest.front() == '[') {  // [IPv6]:PORT
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty() || host.find(':') != std::string_view::npos || port.empty()) return std::nullopt;
  }
  if (!port.empty() && !valid_port(port)) return std::nullopt;
  const int default_port = tls ? kDefaultTlsPort : kDefaultPort;
  return (tls ? "ssl://" : "tcp://") + std::string(host) + ":" +
         (port.empty() ? std::to_string(default_port) : std::string(port));
}

}  // namespace muster::client
