#include "musterd/adapters/mqtt_bridge.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <mqtt/async_client.h>

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include "muster/base/json_parse.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/protocol/topics.hpp"
#include "musterd/core/log.hpp"
#include "musterd/core/subscriber.hpp"

namespace musterd {

namespace protocol = muster::protocol;
namespace domain = muster::domain;
using muster::Errc;
using muster::make_error;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int kReplayChunk = 256;
constexpr std::size_t kReplayWindow = 256 * 1024;  // a user's frames waiting for Paho
constexpr auto kMarkSavePeriod = std::chrono::seconds(1);
constexpr const char* kDevice = "mqtt";  // the device of MQTT users' receipts
constexpr const char* kMarkKey = "mqtt_published_gseq";
constexpr auto kMinBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::seconds(10);

// What a publish was for, carried through Paho as its user context.
constexpr std::uint64_t kDirect = 0;  // acks, replies: not part of the outbox

// Paho C queues publishes in its command list and refuses more than maxBufferedMessages
// of them (100 by default) with MQTTASYNC_MAX_BUFFERED_MESSAGES, also while connected:
// leave room for everything the bridge keeps in flight (twice over: after a reconnect,
// publishes Paho still holds from before are not counted by the bridge any more).
// Offline buffering stays off: the log is the outbox.
mqtt::create_options paho_options(int max_in_flight) {
  mqtt::create_options options(MQTTVERSION_3_1_1);
  options.set_max_buffered_messages(2 * max_in_flight + 1);
  return options;
}

}  // namespace

class MqttBridge::Impl final : public mqtt::callback, public mqtt::iaction_listener, public CommitListener {
  struct Direct {
    std::string topic;
    std::string payload;
    std::int64_t after = 0;  // held back until the events up to this gseq are handed to Paho
    std::string user;        // whose session's backlog it counts in ("" for none)
  };

 public:
  Impl(asio::io_context& io, Hub& hub, MqttOptions options)
      : io_(io),
        hub_(hub),
        options_(std::move(options)),
        log_(hub.log()),
        engine_(hub.engine()),
        metrics_(hub.metrics()),
        client_(options_.url, options_.client_id, paho_options(options_.max_in_flight)),
        retry_(io),
        pump_retry_(io),
        mark_timer_(io) {
    client_.set_callback(*this);
    const std::string mark = log_.meta(kMarkKey);
    confirmed_ = mark.empty() ? 0 : std::stoll(mark);
    saved_mark_ = confirmed_;
    sent_ = confirmed_;
    for (const auto& [scope, seq] : log_.scope_heads_through(confirmed_)) published_[scope] = seq;
    hub_.add_listener(this);
  }

  void start() {
    connect();
    save_mark_periodically();
  }

  void stop() {
    stopping_ = true;
    retry_.cancel();
    pump_retry_.cancel();
    mark_timer_.cancel();
    save_mark();
    try {
      if (client_.is_connected()) client_.disconnect(std::chrono::seconds(2))->wait_for(std::chrono::seconds(3));
    } catch (const mqtt::exception& e) {
      log_warn(std::string("mqtt: disconnect: ") + e.what());
    }
  }

  // New events are in the log: they go out to their topics.
  void on_committed(const Batch&) override {
    metrics_.mqtt_outbox_depth = engine_.last_gseq() - confirmed_;
    pump();
  }

 private:
  // One MQTT user: its session, answered on its ack topic.
  class UserPort final : public SessionPort {
   public:
    UserPort(Impl& bridge, std::string user, SessionRules rules)
        : bridge_(bridge), user_(std::move(user)), subscriber_(bridge.hub_, *this, std::move(rules)) {}

    Subscriber& subscriber() { return subscriber_; }

    // Like over WebSocket, a client gets an op's events before its ack: the ack waits
    // until the events committed with it are handed to the broker.
    void send(FrameKind kind, const std::string& frame) override {
      queued_ += frame.size();
      bridge_.queue_direct(Direct{protocol::ack_topic(bridge_.options_.prefix, user_), frame,
                                  kind == FrameKind::ack ? bridge_.engine_.last_gseq() : 0, user_});
    }
    std::size_t backlog() const override { return queued_; }
    void resume_when_drained() override { waiting_ = true; }
    // There is no connection to close: the user is told why, and the session ends.
    void close(CloseReason reason, const std::string& text) override {
      if (reason != CloseReason::stopping) {
        const char* code = reason == CloseReason::bad_hello ? "bad_frame"
                           : reason == CloseReason::storage ? "unavailable"
                           : reason == CloseReason::rate_limited || reason == CloseReason::crowded ? "rate_limited"
                                                            : "unauthorized";
        send(FrameKind::reply, protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{code, text}}));
      }
      bridge_.drop_user(user_);
    }
    std::int64_t delivered_elsewhere(const std::string& scope) const override {
      auto it = bridge_.published_.find(scope);
      return it == bridge_.published_.end() ? 0 : it->second;
    }

    // One of its frames was handed to Paho.
    void taken(std::size_t bytes) {
      queued_ -= std::min(bytes, queued_);
      if (waiting_ && queued_ < kReplayWindow / 2) {
        waiting_ = false;
        asio::post(bridge_.io_, [&bridge = bridge_, user = user_] {
          if (UserPort* p = bridge.find_user(user)) p->subscriber_.pump();
        });
      }
    }

   private:
    Impl& bridge_;
    std::string user_;
    std::size_t queued_ = 0;
    bool waiting_ = false;
    Subscriber subscriber_;  // last: it goes first, while the port is whole
  };

  UserPort& user_port(const std::string& user) {
    auto& slot = users_[user];
    if (!slot) {
      SessionRules rules;
      rules.transport = "mqtt";
      rules.credentials = false;  // the broker checked the password; the topic names the user
      rules.hello_again = true;   // a client that reconnects to the broker says hello again
      rules.live = false;         // live events reach clients through the event topics
      rules.replay_window = kReplayWindow;
      rules.replay_chunk = kReplayChunk;
      slot = std::make_unique<UserPort>(*this, user, std::move(rules));
      slot->subscriber().authenticate_as(user, kDevice);
    }
    return *slot;
  }

  UserPort* find_user(const std::string& user) {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : it->second.get();
  }

  // Later, not while its own call is on the stack.
  void drop_user(const std::string& user) {
    asio::post(io_, [this, user] {
      auto it = users_.find(user);
      if (it == users_.end()) return;
      // Frames already queued for it still go out; they count for no session now.
      for (auto& d : direct_) {
        if (d.user == user) d.user.clear();
      }
      users_.erase(it);
    });
  }

  void save_mark() {
    metrics_.mqtt_outbox_depth = engine_.last_gseq() - confirmed_;
    if (confirmed_ == saved_mark_) return;
    try {
      log_.set_meta(kMarkKey, std::to_string(confirmed_));
      saved_mark_ = confirmed_;
    } catch (const muster::store::SqliteError& e) {
      log_warn(std::string("mqtt: cannot save the published mark (will retry): ") + e.what());
    }
  }

  // The mark may lag: after a crash, events past it go out again and clients drop them
  // by seq. Saving it on every PUBACK would cost a commit each.
  void save_mark_periodically() {
    if (stopping_) return;
    save_mark();
    mark_timer_.expires_after(kMarkSavePeriod);
    mark_timer_.async_wait([this](const std::error_code& ec) {
      if (!ec) save_mark_periodically();
    });
  }

  // ------------------------------------------------------------ Paho's threads: post only

  void connected(const std::string&) override {
    asio::post(io_, [this] { on_connected(); });
  }
  void connection_lost(const std::string& cause) override {
    asio::post(io_, [this, cause] { on_lost(cause); });
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    asio::post(io_, [this, topic = msg->get_topic(), payload = msg->get_payload_str()] { on_message(topic, payload); });
  }
  void delivery_complete(mqtt::delivery_token_ptr) override {}

  // Action listener for connect attempts and publishes.
  void on_failure(const mqtt::token& tok) override {
    const auto context = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    if (tok.get_type() == mqtt::token::Type::CONNECT) {
      asio::post(io_, [this, rc = tok.get_return_code()] { on_connect_failed(rc); });
    } else if (tok.get_type() == mqtt::token::Type::PUBLISH) {
      asio::post(io_, [this, context] { on_publish_failed(context); });
    }
  }
  void on_success(const mqtt::token& tok) override {
    if (tok.get_type() != mqtt::token::Type::PUBLISH) return;
    const auto context = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
    asio::post(io_, [this, context] { on_published(context); });
  }

  // ------------------------------------------------------------ the loop thread

  void connect() {
    if (stopping_) return;
    mqtt::connect_options opts;
    opts.set_clean_session(false);  // the broker keeps our subscriptions and queues ops while we are away
    opts.set_keep_alive_interval(std::chrono::seconds(20));
    opts.set_connect_timeout(std::chrono::seconds(5));
    opts.set_max_inflight(options_.max_in_flight);
    if (!options_.user.empty()) opts.set_user_name(options_.user);
    if (!options_.password.empty()) opts.set_password(options_.password);
    try {
      client_.connect(opts, nullptr, *this);
    } catch (const mqtt::exception& e) {
      on_connect_failed(e.get_return_code());
    }
  }

  void on_connect_failed(int rc) {
    if (stopping_) return;
    if (!warned_) {
      log_warn("mqtt: cannot connect to " + options_.url + " (code " + std::to_string(rc) +
               "); events queue in the log and go out when it is back");
      warned_ = true;
    }
    schedule_reconnect();
  }

  void schedule_reconnect() {
    retry_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
    retry_.async_wait([this](const std::error_code& ec) {
      if (!ec) connect();
    });
  }

  void on_connected() {
    if (stopping_) return;
    connected_ = true;
    warned_ = false;
    backoff_ = kMinBackoff;
    metrics_.mqtt_connected = 1;
    log_info("mqtt: connected to " + options_.url);
    try {
      client_.subscribe(options_.prefix + "/op/+", 1);
      client_.subscribe(options_.prefix + "/req/+", 1);
    } catch (const mqtt::exception& e) {
      log_error(std::string("mqtt: subscribe: ") + e.what());
    }
    // Whatever was in flight when we lost the broker goes out again from the mark.
    in_flight_.clear();
    confirmed_ahead_.clear();
    direct_in_flight_ = 0;
    sent_ = confirmed_;
    pump();
  }

  void on_lost(const std::string& cause) {
    connected_ = false;
    metrics_.mqtt_connected = 0;
    if (stopping_) return;
    log_warn("mqtt: lost the broker" + (cause.empty() ? "" : ": " + cause) + "; reconnecting");
    schedule_reconnect();
  }

  void on_publish_failed(std::uint64_t context) {
    // The connection is going down; on_connected republishes from the mark. A lost
    // reply is answered again when the client asks again (ops are idempotent).
    if (context == kDirect) {
      direct_in_flight_ = std::max(0, direct_in_flight_ - 1);
      return;
    }
    in_flight_.erase(context);
    ++metrics_.mqtt_publish_failures;
  }

  void on_published(std::uint64_t context) {
    if (context == kDirect) {
      direct_in_flight_ = std::max(0, direct_in_flight_ - 1);
      pump();
      return;
    }
    auto it = in_flight_.find(context);
    if (it == in_flight_.end()) return;  // from before a reconnect
    const double latency = std::chrono::duration<double>(SteadyClock::now() - it->second).count();
    metrics_.mqtt_publish_seconds_sum += latency;
    ++metrics_.mqtt_published;
    in_flight_.erase(it);
    // PUBACKs may come out of order: the mark moves only over a gap-free prefix.
    confirmed_ahead_.insert(static_cast<std::int64_t>(context));
    while (!confirmed_ahead_.empty() && *confirmed_ahead_.begin() == confirmed_ + 1) {
      ++confirmed_;
      confirmed_ahead_.erase(confirmed_ahead_.begin());
    }
    metrics_.mqtt_outbox_depth = engine_.last_gseq() - confirmed_;
    pump();
  }

  void on_message(const std::string& topic, const std::string& payload) {
    if (stopping_) return;
    auto route = protocol::parse_client_topic(options_.prefix, topic);
    if (!route) return;
    UserPort& port = user_port(route->user);
    Subscriber& session = port.subscriber();
    if (payload.size() > options_.max_frame_bytes) {
      session.error("too_large", "frames are at most " + std::to_string(options_.max_frame_bytes) + " bytes");
      return;
    }
    const bool op_topic = route->kind == protocol::TopicRoute::Kind::op;
    auto decoded = protocol::decode_client_frame(payload);
    if (!decoded) {
      // An op we cannot read is still answered on its id when it has one, so the
      // sender's outbox does not wait for it forever: on a topic shared by all of a
      // user's answers, an error frame could not be told apart.
      auto parsed = muster::parse_limited(payload, protocol::kMaxFrameDepth, protocol::kMaxFrameBytes);
      const nlohmann::json j = parsed ? std::move(*parsed) : nlohmann::json();
      if (op_topic && j.is_object() && j.contains("id") && j["id"].is_string()) {
        ++metrics_.bad_frames;
        protocol::Ack ack{j["id"].get<muster::domain::OpId>(), false, decoded.error(), nullptr};
        port.send(FrameKind::ack, protocol::encode(protocol::ServerFrame{ack}));
      } else {
        session.bad_frame(decoded.error().message);
      }
      return;
    }
    const bool is_op = std::holds_alternative<protocol::OpFrame>(*decoded);
    if (op_topic != is_op) {
      session.bad_frame(op_topic ? "only op frames go to the op topic" : "this frame does not go to the req topic");
      return;
    }
    session.on_frame(std::move(*decoded));
  }

  // Sends what is waiting, within the in-flight limit: replies first, then the outbox of events in gseq order.
  void pump() {
    if (!connected_ || pumping_) return;
    pumping_ = true;
    try {
      while (connected_ && total_in_flight() < options_.max_in_flight) {
        if (!direct_.empty() && direct_.front().after <= sent_) {
          if (!publish(direct_.front().topic, direct_.front().payload, kDirect)) break;
          Direct taken = std::move(direct_.front());
          direct_.pop_front();
          if (UserPort* p = taken.user.empty() ? nullptr : find_user(taken.user)) p->taken(taken.payload.size());
          continue;
        }
        if (sent_ >= engine_.last_gseq()) break;
        // No more than the in-flight limit allows: Paho's queue is sized for it.
        auto rows = log_.read_after(sent_, std::min(kReplayChunk, options_.max_in_flight - total_in_flight()));
        if (rows.empty()) break;
        bool refused = false;
        for (auto& row : rows) {
          in_flight_[static_cast<std::uint64_t>(row.gseq)] = SteadyClock::now();
          if (!publish(protocol::event_topic(options_.prefix, row.scope), row.frame,
                       static_cast<std::uint64_t>(row.gseq))) {
            refused = true;  // sent_ stays before it: it goes out on the next pump
            break;
          }
          sent_ = row.gseq;
          auto& published = published_[row.scope];
          published = std::max(published, row.seq);
        }
        if (refused) break;
      }
    } catch (const muster::store::SqliteError& e) {
      log_error(std::string("mqtt: cannot read the log: ") + e.what());
    }
    pumping_ = false;
  }

  void queue_direct(Direct d) {
    direct_.push_back(std::move(d));
    pump();
  }

  // Hands one message to Paho. False if Paho refused it; the caller keeps it and it is
  // sent again: after the reconnect if the connection is gone, else by a pump shortly.
  bool publish(const std::string& topic, const std::string& payload, std::uint64_t context) {
    if (context == kDirect) ++direct_in_flight_;
    try {
      auto msg = mqtt::make_message(topic, payload, 1, false);
      client_.publish(msg, reinterpret_cast<void*>(static_cast<std::uintptr_t>(context)), *this);
      return true;
    } catch (const mqtt::exception&) {
      if (context == kDirect) {
        --direct_in_flight_;
      } else {
        in_flight_.erase(context);
        ++metrics_.mqtt_publish_failures;
      }
      if (!client_.is_connected()) {
        // Not connected any more: connection_lost follows, and on_connected starts over.
        connected_ = false;
      } else {
        // Still connected (e.g. Paho's queue is full): marking the bridge disconnected
        // here would stall the outbox for good, as no connection_lost would follow.
        schedule_pump();
      }
      return false;
    }
  }

  void schedule_pump() {
    if (pump_retry_pending_ || stopping_) return;
    pump_retry_pending_ = true;
    pump_retry_.expires_after(std::chrono::milliseconds(50));
    pump_retry_.async_wait([this](const std::error_code& ec) {
      pump_retry_pending_ = false;
      if (!ec) pump();
    });
  }

  int total_in_flight() const { return static_cast<int>(in_flight_.size()) + direct_in_flight_; }

  asio::io_context& io_;
  Hub& hub_;
  MqttOptions options_;
  LogStore& log_;
  Engine& engine_;
  Metrics& metrics_;
  mqtt::async_client client_;
  asio::steady_timer retry_;
  asio::steady_timer pump_retry_;  // after Paho refused a publish while connected
  bool pump_retry_pending_ = false;
  asio::steady_timer mark_timer_;
  std::chrono::milliseconds backoff_ = kMinBackoff;

  bool connected_ = false;
  bool stopping_ = false;
  bool warned_ = false;
  bool pumping_ = false;
  std::int64_t confirmed_ = 0;   // every event up to here has its PUBACK
  std::int64_t saved_mark_ = 0;  // what log.db says
  std::int64_t sent_ = 0;        // handed to Paho up to here
  std::map<std::uint64_t, SteadyClock::time_point> in_flight_;  // gseq -> sent at
  std::set<std::int64_t> confirmed_ahead_;                       // PUBACKs beyond the mark
  int direct_in_flight_ = 0;
  std::deque<Direct> direct_;
  std::unordered_map<std::string, std::int64_t> published_;  // scope -> last seq handed to Paho
  std::unordered_map<std::string, std::unique_ptr<UserPort>> users_;
};

MqttBridge::MqttBridge(asio::io_context& io, Hub& hub, MqttOptions options)
    : impl_(std::make_unique<Impl>(io, hub, std::move(options))) {}

MqttBridge::~MqttBridge() = default;

void MqttBridge::start() { impl_->start(); }
void MqttBridge::stop() { impl_->stop(); }

}  // namespace musterd
