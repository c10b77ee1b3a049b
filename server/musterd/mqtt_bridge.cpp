#include "musterd/mqtt_bridge.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <mqtt/async_client.h>

#include <chrono>
#include <deque>
#include <iostream>
#include <map>
#include <set>
#include <unordered_map>

#include "muster/base/json_parse.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/protocol/topics.hpp"

namespace musterd {

namespace protocol = muster::protocol;
namespace domain = muster::domain;
using muster::Errc;
using muster::make_error;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kOriginBit = std::uint64_t{1} << 62;
constexpr int kReplayChunk = 256;
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

class MqttBridge::Impl final : public mqtt::callback, public mqtt::iaction_listener {
 public:
  Impl(asio::io_context& io, MqttOptions options, LogStore& log, Engine& engine, Metrics& metrics, Submit submit)
      : io_(io),
        options_(std::move(options)),
        log_(log),
        engine_(engine),
        metrics_(metrics),
        submit_(std::move(submit)),
        client_(options_.url, options_.client_id, paho_options(options_.max_in_flight)),
        retry_(io),
        pump_retry_(io) {
    client_.set_callback(*this);
    const std::string mark = log_.meta(kMarkKey);
    confirmed_ = mark.empty() ? 0 : std::stoll(mark);
    saved_mark_ = confirmed_;
    sent_ = confirmed_;
  }

  void start() { connect(); }

  void stop() {
    stopping_ = true;
    retry_.cancel();
    pump_retry_.cancel();
    housekeeping();
    try {
      if (client_.is_connected()) client_.disconnect(std::chrono::seconds(2))->wait_for(std::chrono::seconds(3));
    } catch (const mqtt::exception& e) {
      std::cerr << "musterd: mqtt: disconnect: " << e.what() << '\n';
    }
  }

  void on_committed(const Batch& batch) {
    for (const auto& d : batch.decisions) {
      if (!owns(d.origin)) continue;
      auto it = origins_.find(d.origin);
      if (it == origins_.end()) continue;
      // Like over WebSocket, a client gets an op's events before its ack.
      direct_.push_back(Direct{protocol::ack_topic(options_.prefix, it->second), d.ack, engine_.last_gseq()});
      origins_.erase(it);
    }
    metrics_.mqtt_outbox_depth = engine_.last_gseq() - confirmed_;
    pump();
  }

  void on_unavailable(const std::vector<Submission>& batch, const muster::Error& error) {
    for (const auto& s : batch) {
      auto it = origins_.find(s.origin);
      if (it == origins_.end()) continue;
      protocol::Ack ack{s.op.id, false, error, nullptr};
      publish_direct(protocol::ack_topic(options_.prefix, it->second), protocol::encode(protocol::ServerFrame{ack}));
      origins_.erase(it);
    }
    pump();
  }

  void housekeeping() {
    metrics_.mqtt_outbox_depth = engine_.last_gseq() - confirmed_;
    if (confirmed_ == saved_mark_) return;
    try {
      log_.set_meta(kMarkKey, std::to_string(confirmed_));
      saved_mark_ = confirmed_;
    } catch (const muster::store::SqliteError& e) {
      std::cerr << "musterd: mqtt: cannot save the published mark (will retry): " << e.what() << '\n';
    }
  }

 private:
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
      std::cerr << "musterd: mqtt: cannot connect to " << options_.url << " (code " << rc
                << "); events queue in the log and go out when it is back\n";
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
    std::cerr << "musterd: mqtt: connected to " << options_.url << '\n';
    try {
      client_.subscribe(options_.prefix + "/op/+", 1);
      client_.subscribe(options_.prefix + "/req/+", 1);
    } catch (const mqtt::exception& e) {
      std::cerr << "musterd: mqtt: subscribe: " << e.what() << '\n';
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
    std::cerr << "musterd: mqtt: lost the broker" << (cause.empty() ? "" : ": " + cause) << "; reconnecting\n";
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
    auto route = protocol::parse_client_topic(options_.prefix, topic);
    if (!route) return;
    const std::string& user = route->user;
    auto reply = [&](const std::string& frame) { publish_direct(protocol::ack_topic(options_.prefix, user), frame); };
    auto error = [&](const std::string& code, const std::string& message) {
      ++metrics_.bad_frames;
      reply(protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{code, message}}));
    };
    if (payload.size() > options_.max_frame_bytes) {
      error("too_large", "frames are at most " + std::to_string(options_.max_frame_bytes) + " bytes");
      return;
    }
    auto decoded = protocol::decode_client_frame(payload);
    if (!decoded) {
      // An op we cannot read is still answered on its id when it has one, so the
      // sender's outbox does not wait for it forever.
      auto parsed = muster::parse_limited(payload, protocol::kMaxFrameDepth, protocol::kMaxFrameBytes);
      const nlohmann::json j = parsed ? std::move(*parsed) : nlohmann::json();
      if (route->kind == protocol::TopicRoute::Kind::op && j.is_object() && j.contains("id") && j["id"].is_string()) {
        ++metrics_.bad_frames;
        protocol::Ack ack{j["id"].get<std::string>(), false, decoded.error(), nullptr};
        reply(protocol::encode(protocol::ServerFrame{ack}));
      } else {
        error("bad_frame", decoded.error().message);
      }
      return;
    }
    auto& frame = *decoded;
    if (route->kind == protocol::TopicRoute::Kind::op) {
      auto* op = std::get_if<protocol::OpFrame>(&frame);
      if (!op) {
        error("bad_frame", "only op frames go to the op topic");
        return;
      }
      const std::uint64_t origin = kOriginBit | next_origin_++;
      origins_[origin] = user;
      submit_(Submission{std::move(op->op), user, "mqtt", origin});
      return;
    }
    const UserRecord* rec = engine_.directory().user(user);
    if (!rec || rec->disabled) {
      error("unauthorized", user + " is not an enabled muster user");
      return;
    }
    if (auto* hello = std::get_if<protocol::Hello>(&frame)) {
      on_hello(*rec, *hello);
    } else if (auto* backfill = std::get_if<protocol::Backfill>(&frame)) {
      if (!domain::can_see(rec->actor(), backfill->scope) || !domain::valid_scope(backfill->scope)) {
        error("bad_frame", "backfill: scope " + backfill->scope + " is not visible to " + user);
        return;
      }
      replays_.push_back(Replay{user, {{backfill->scope, std::max<std::int64_t>(backfill->from - 1, 0)}}, 0});
      pump();
    } else if (auto* cursor = std::get_if<protocol::CursorFrame>(&frame)) {
      save_cursors(user, cursor->cursors);
    } else if (auto* query = std::get_if<protocol::Query>(&frame)) {
      reply(protocol::encode(protocol::ServerFrame{engine_.query(user, *query)}));
    } else if (std::holds_alternative<protocol::Ping>(frame)) {
      reply(protocol::encode(protocol::ServerFrame{protocol::Pong{}}));
    } else {
      error("bad_frame", "this frame does not go to the req topic");
    }
  }

  void on_hello(const UserRecord& rec, const protocol::Hello& hello) {
    Replay r{rec.name, engine_.replay_start(rec, hello.cursors), 0};
    protocol::Welcome w{rec.name, rec.roles.names(), rec.area, "", {}, engine_.policy().timezone};
    for (const auto& [scope, from] : r.scopes) w.scopes.push_back(scope);
    publish_direct(protocol::ack_topic(options_.prefix, rec.name), protocol::encode(protocol::ServerFrame{w}));
    replays_.push_back(std::move(r));
    pump();
  }

  void save_cursors(const std::string& user, const protocol::Cursors& cursors) {
    try {
      muster::store::Transaction tx(log_.db());
      const std::string now = muster::format_utc(muster::SystemClock().now_ms());
      for (const auto& [scope, seq] : cursors) {
        if (seq <= engine_.head(scope)) log_.save_cursor(user, "mqtt", scope, seq, now);
      }
      tx.commit();
    } catch (const muster::store::SqliteError& e) {
      std::cerr << "musterd: mqtt: cannot save cursors: " << e.what() << '\n';
    }
  }

  // Sends what is waiting, within the in-flight limit: replies first, then replays,
  // then the outbox of events in gseq order.
  void pump() {
    if (!connected_ || pumping_) return;
    pumping_ = true;
    try {
      while (connected_ && total_in_flight() < options_.max_in_flight) {
        if (!direct_.empty() && direct_.front().after <= sent_) {
          if (!publish(direct_.front().topic, direct_.front().payload, kDirect)) break;
          direct_.pop_front();
          continue;
        }
        if (direct_.empty() && !replays_.empty()) {
          advance_replay();
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
        }
        if (refused) break;
      }
    } catch (const muster::store::SqliteError& e) {
      std::cerr << "musterd: mqtt: cannot read the log: " << e.what() << '\n';
    }
    pumping_ = false;
  }

  void advance_replay() {
    Replay& r = replays_.front();
    const std::string topic = protocol::ack_topic(options_.prefix, r.user);
    while (r.index < r.scopes.size()) {
      auto& [scope, after] = r.scopes[r.index];
      auto rows = log_.read_scope(scope, after, kReplayChunk);
      if (rows.empty()) {
        ++r.index;
        continue;
      }
      for (auto& [seq, frame] : rows) {
        direct_.push_back(Direct{topic, std::move(frame), 0});
        after = seq;
      }
      metrics_.events_replayed += static_cast<std::int64_t>(rows.size());
      return;  // one chunk at a time: the direct queue drains before the next
    }
    direct_.push_back(Direct{topic, protocol::encode(protocol::ServerFrame{protocol::CaughtUp{}}), 0});
    replays_.pop_front();
  }

  void publish_direct(const std::string& topic, const std::string& payload) {
    direct_.push_back(Direct{topic, payload, 0});
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

  struct Replay {
    std::string user;
    std::vector<std::pair<std::string, std::int64_t>> scopes;  // scope, last seq sent
    std::size_t index = 0;
  };

  asio::io_context& io_;
  MqttOptions options_;
  LogStore& log_;
  Engine& engine_;
  Metrics& metrics_;
  Submit submit_;
  mqtt::async_client client_;
  asio::steady_timer retry_;
  asio::steady_timer pump_retry_;  // after Paho refused a publish while connected
  bool pump_retry_pending_ = false;
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
  struct Direct {
    std::string topic;
    std::string payload;
    std::int64_t after = 0;  // held back until the events up to this gseq are handed to Paho
  };
  std::deque<Direct> direct_;
  std::deque<Replay> replays_;
  std::unordered_map<std::uint64_t, std::string> origins_;  // op origin -> user
  std::uint64_t next_origin_ = 1;
};

MqttBridge::MqttBridge(asio::io_context& io, MqttOptions options, LogStore& log, Engine& engine, Metrics& metrics,
                       Submit submit)
    : impl_(std::make_unique<Impl>(io, std::move(options), log, engine, metrics, std::move(submit))) {}

MqttBridge::~MqttBridge() = default;

void MqttBridge::start() { impl_->start(); }
void MqttBridge::stop() { impl_->stop(); }
bool MqttBridge::owns(std::uint64_t origin) { return (origin & kOriginBit) != 0; }
void MqttBridge::on_committed(const Batch& batch) { impl_->on_committed(batch); }
void MqttBridge::on_unavailable(const std::vector<Submission>& batch, const muster::Error& error) {
  impl_->on_unavailable(batch, error);
}
void MqttBridge::housekeeping() { impl_->housekeeping(); }

}  // namespace musterd
