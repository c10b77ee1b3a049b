#include "musterd/ws_server.hpp"

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "muster/protocol/frame.hpp"
#include "musterd/credentials.hpp"
#include "musterd/metrics.hpp"

namespace musterd {

namespace domain = muster::domain;
namespace protocol = muster::protocol;
using websocketpp::connection_hdl;

namespace {

// permessage-deflate stays off: WebSocket++ bounds the compressed size only.
using Endpoint = websocketpp::server<websocketpp::config::asio>;
using Clock = std::chrono::steady_clock;

constexpr int kReplayChunk = 512;
constexpr std::size_t kReplayBufferLimit = 1 << 20;  // refill replay when the send buffer is below this
constexpr auto kReplayBackoff = std::chrono::milliseconds(2);
constexpr auto kHousekeepingPeriod = std::chrono::seconds(1);

enum class Phase { hello, authenticating, replaying, live };

struct Session {
  std::uint64_t id = 0;
  connection_hdl hdl;
  Phase phase = Phase::hello;
  std::string user;
  std::string device;
  std::vector<std::string> scopes;
  std::map<std::string, std::int64_t> sent;  // scope -> last seq sent to this client
  bool replay_scheduled = false;
  std::unique_ptr<asio::steady_timer> timer;  // hello deadline, then replay back-off
};

}  // namespace

class WsServer::Impl {
 public:
  Impl(ServeOptions options, LogStore& log, DirectoryStore& directory, Engine& engine, const muster::Clock& clock)
      : options_(std::move(options)),
        log_(log),
        directory_store_(directory),
        engine_(engine),
        clock_(clock),
        housekeeping_(io_),
        signals_(io_, SIGINT, SIGTERM) {}

  int run();

 private:
  // --- WebSocket++ handlers ---
  bool on_validate(connection_hdl hdl);
  void on_http(connection_hdl hdl);
  void on_open(connection_hdl hdl);
  void on_close(connection_hdl hdl);
  void on_message(connection_hdl hdl, const Endpoint::message_ptr& msg);

  // --- frames ---
  void on_hello(Session& s, protocol::Hello hello);
  void finish_hello(std::uint64_t session_id, const protocol::Hello& hello, bool password_ok);
  void on_op(Session& s, protocol::OpFrame frame);
  void enqueue(Submission submission);
  void on_cursor(Session& s, const protocol::CursorFrame& frame);
  void on_backfill(Session& s, const protocol::Backfill& frame);

  // --- delivery ---
  void flush();
  void deliver(const Delivery& d);
  void publish(const Batch& batch);
  void run_timers();
  void pump_replay(std::uint64_t session_id);
  void schedule_replay(Session& s, bool backoff);

  void send(Session& s, const std::string& frame);
  void send_error(Session& s, const std::string& code, const std::string& message);
  void close(Session& s, websocketpp::close::status::value code, const std::string& reason);
  Session* find(connection_hdl hdl);
  Session* find(std::uint64_t id);

  void refresh_directory();
  void run_hotline_purge_request();
  void housekeeping();
  void flush_cursors();

  ServeOptions options_;
  LogStore& log_;
  DirectoryStore& directory_store_;
  Engine& engine_;
  const muster::Clock& clock_;

  asio::io_context io_;
  Endpoint endpoint_;
  asio::steady_timer housekeeping_;
  asio::signal_set signals_;
  asio::thread_pool auth_pool_{1};

  std::uint64_t next_session_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Session>> sessions_;
  std::map<connection_hdl, std::uint64_t, std::owner_less<connection_hdl>> by_hdl_;
  std::unordered_map<std::string, std::unordered_set<std::uint64_t>> subscribers_;  // scope -> sessions

  std::unique_ptr<MqttBridge> bridge_;
  std::unique_ptr<PluginHost> plugins_;
  std::vector<Submission> pending_;
  bool flush_scheduled_ = false;
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> pending_cursors_;
  std::int64_t directory_version_ = -1;
  bool purge_check_due_ = true;  // directory.db changed: look for a hotline purge request
  bool stopping_ = false;
  Metrics metrics_;
};

WsServer::WsServer(ServeOptions options, LogStore& log, DirectoryStore& directory, Engine& engine,
                   const muster::Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), log, directory, engine, clock)) {}

WsServer::~WsServer() = default;

int WsServer::run() { return impl_->run(); }

int WsServer::Impl::run() {
  std::error_code ec;
  endpoint_.clear_access_channels(websocketpp::log::alevel::all);
  endpoint_.clear_error_channels(websocketpp::log::elevel::all);
  endpoint_.set_error_channels(websocketpp::log::elevel::fatal);
  endpoint_.init_asio(&io_, ec);
  if (ec) {
    std::cerr << "musterd: cannot start the WebSocket endpoint: " << ec.message() << '\n';
    return 1;
  }
  endpoint_.set_reuse_addr(true);
  endpoint_.set_listen_backlog(4096);
  endpoint_.set_max_message_size(options_.max_frame_bytes);
  // Small frames (an event, then its ack) must not wait for the peer's delayed ACK. Set
  // once the TCP connection exists: the socket-init hook runs before accept.
  endpoint_.set_tcp_post_init_handler([this](connection_hdl h) {
    std::error_code failed;
    auto con = endpoint_.get_con_from_hdl(h, failed);
    if (!failed) con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), failed);
  });
  endpoint_.set_validate_handler([this](connection_hdl h) { return on_validate(std::move(h)); });
  endpoint_.set_http_handler([this](connection_hdl h) { on_http(std::move(h)); });
  endpoint_.set_open_handler([this](connection_hdl h) { on_open(std::move(h)); });
  endpoint_.set_close_handler([this](connection_hdl h) { on_close(std::move(h)); });
  endpoint_.set_fail_handler([this](connection_hdl h) { on_close(std::move(h)); });
  endpoint_.set_message_handler(
      [this](connection_hdl h, const Endpoint::message_ptr& m) { on_message(std::move(h), m); });

  refresh_directory();
  metrics_.log_events = log_.count_events();
  asio::ip::tcp::endpoint where(asio::ip::make_address(options_.host, ec), options_.port);
  if (ec) {
    std::cerr << "musterd: bad listen address '" << options_.host << "': " << ec.message() << '\n';
    return 1;
  }
  endpoint_.listen(where, ec);
  if (!ec) endpoint_.start_accept(ec);
  if (ec) {
    std::cerr << "musterd: cannot listen on " << options_.host << ':' << options_.port << ": " << ec.message() << '\n';
    return 1;
  }
  std::cerr << "musterd: serving " << options_.data_dir << " on ws://" << options_.host << ':' << options_.port
            << " (" << metrics_.log_events << " events in the log)\n";

  if (!options_.mqtt.url.empty()) {
    options_.mqtt.max_frame_bytes = options_.max_frame_bytes;
    bridge_ = std::make_unique<MqttBridge>(io_, options_.mqtt, log_, engine_, metrics_,
                                           [this](Submission s) { enqueue(std::move(s)); });
    bridge_->start();
  }
  if (!options_.plugins.empty()) {
    plugins_ = std::make_unique<PluginHost>(io_, options_.plugins, options_.plugin_limits, log_, engine_, metrics_,
                                            [this](Submission s) { enqueue(std::move(s)); });
    plugins_->start();
  }

  signals_.async_wait([this](const std::error_code& e, int) {
    if (e) return;
    std::cerr << "musterd: stopping\n";
    stopping_ = true;
    std::error_code ignored;
    endpoint_.stop_listening(ignored);
    housekeeping_.cancel();
    flush();
    flush_cursors();
    if (bridge_) bridge_->stop();
    if (plugins_) plugins_->stop();
    for (auto& [id, s] : sessions_) {
      endpoint_.close(s->hdl, websocketpp::close::status::going_away, "server stopping", ignored);
      if (s->timer) s->timer->cancel();
    }
  });
  housekeeping();
  io_.run();
  auth_pool_.join();
  return 0;
}

// ---------------------------------------------------------------- handlers

bool WsServer::Impl::on_validate(connection_hdl hdl) {
  auto con = endpoint_.get_con_from_hdl(hdl);
  const std::string& origin = con->get_request_header("Origin");
  if (origin.empty()) return true;  // not a browser
  for (const auto& allowed : options_.allowed_origins) {
    if (origin == allowed) return true;
  }
  con->set_status(websocketpp::http::status_code::forbidden);
  return false;
}

void WsServer::Impl::on_http(connection_hdl hdl) {
  auto con = endpoint_.get_con_from_hdl(hdl);
  const std::string resource = con->get_resource();
  if (resource == "/healthz") {
    con->set_status(websocketpp::http::status_code::ok);
    con->replace_header("Content-Type", "text/plain");
    con->set_body("ok\n");
  } else if (resource == "/metrics") {
    metrics_.last_gseq = engine_.last_gseq();
    metrics_.pending_ops = static_cast<std::int64_t>(pending_.size());
    con->set_status(websocketpp::http::status_code::ok);
    con->replace_header("Content-Type", "text/plain; version=0.0.4");
    con->set_body(metrics_.prometheus());
  } else {
    con->set_status(websocketpp::http::status_code::not_found);
    con->set_body("not found\n");
  }
}

void WsServer::Impl::on_open(connection_hdl hdl) {
  auto s = std::make_unique<Session>();
  s->id = next_session_++;
  s->hdl = hdl;
  s->timer = std::make_unique<asio::steady_timer>(io_);
  s->timer->expires_after(std::chrono::milliseconds(options_.hello_timeout_ms));
  s->timer->async_wait([this, id = s->id](const std::error_code& ec) {
    if (ec) return;
    Session* found = find(id);
    if (found && (found->phase == Phase::hello || found->phase == Phase::authenticating)) {
      close(*found, websocketpp::close::status::policy_violation, "no hello in time");
    }
  });
  by_hdl_[hdl] = s->id;
  sessions_.emplace(s->id, std::move(s));
  ++metrics_.connections_open;
  ++metrics_.connections_total;
}

void WsServer::Impl::on_close(connection_hdl hdl) {
  auto it = by_hdl_.find(hdl);
  if (it == by_hdl_.end()) return;
  auto sit = sessions_.find(it->second);
  by_hdl_.erase(it);
  if (sit == sessions_.end()) return;
  Session& s = *sit->second;
  if (s.timer) s.timer->cancel();
  for (const auto& scope : s.scopes) {
    auto sub = subscribers_.find(scope);
    if (sub == subscribers_.end()) continue;
    sub->second.erase(s.id);
    if (sub->second.empty()) subscribers_.erase(sub);
  }
  if (s.phase == Phase::live) --metrics_.sessions_live;
  --metrics_.connections_open;
  sessions_.erase(sit);
}

void WsServer::Impl::on_message(connection_hdl hdl, const Endpoint::message_ptr& msg) {
  Session* s = find(hdl);
  if (!s) return;
  if (msg->get_opcode() != websocketpp::frame::opcode::text) {
    send_error(*s, "bad_frame", "frames are JSON text; binary frames are not accepted");
    return;
  }
  auto decoded = protocol::decode_client_frame(msg->get_payload());
  if (!decoded) {
    send_error(*s, "bad_frame", decoded.error().message);
    return;
  }
  protocol::ClientFrame& frame = *decoded;
  if (auto* hello = std::get_if<protocol::Hello>(&frame)) {
    on_hello(*s, std::move(*hello));
    return;
  }
  if (std::holds_alternative<protocol::Ping>(frame)) {
    send(*s, protocol::encode(protocol::ServerFrame{protocol::Pong{}}));
    return;
  }
  if (s->phase == Phase::hello || s->phase == Phase::authenticating) {
    send_error(*s, "unauthorized", "say hello first");
    return;
  }
  if (auto* op = std::get_if<protocol::OpFrame>(&frame)) {
    on_op(*s, std::move(*op));
  } else if (auto* cursor = std::get_if<protocol::CursorFrame>(&frame)) {
    on_cursor(*s, *cursor);
  } else if (auto* backfill = std::get_if<protocol::Backfill>(&frame)) {
    on_backfill(*s, *backfill);
  } else if (auto* query = std::get_if<protocol::Query>(&frame)) {
    send(*s, protocol::encode(protocol::ServerFrame{engine_.query(s->user, *query)}));
  }
}

// ---------------------------------------------------------------- frames

void WsServer::Impl::on_hello(Session& s, protocol::Hello hello) {
  if (s.phase != Phase::hello) {
    send_error(s, "bad_frame", "hello was already said on this connection");
    return;
  }
  if (hello.v != protocol::kProtocolVersion) {
    close(s, websocketpp::close::status::policy_violation, "unsupported protocol version");
    return;
  }
  if (hello.device.empty() || hello.device.size() > 128) {
    close(s, websocketpp::close::status::policy_violation, "hello needs a device name of 1-128 bytes");
    return;
  }
  if (!hello.password && !hello.token) {
    ++metrics_.auth_failures;
    close(s, websocketpp::close::status::policy_violation, "hello needs a password or a token");
    return;
  }
  s.phase = Phase::authenticating;
  if (hello.token) {
    finish_hello(s.id, hello, false);
    return;
  }
  refresh_directory();
  const UserRecord* user = engine_.directory().user(hello.user);
  std::string hash = user ? user->password_hash : std::string();
  // argon2id takes a while by design: check it off the loop, then come back.
  asio::post(auth_pool_, [this, id = s.id, hello = std::move(hello), hash = std::move(hash)]() {
    bool ok = !hash.empty() && verify_password(*hello.password, hash);
    asio::post(io_, [this, id, hello, ok]() { finish_hello(id, hello, ok); });
  });
}

void WsServer::Impl::finish_hello(std::uint64_t session_id, const protocol::Hello& hello, bool password_ok) {
  Session* s = find(session_id);
  if (!s || stopping_) return;
  refresh_directory();
  const UserRecord* user = engine_.directory().user(hello.user);
  std::string token;
  bool ok = false;
  if (hello.token) {
    auto rec = log_.find_token(token_digest(*hello.token));
    ok = rec && rec->user == hello.user && rec->device == hello.device;
    token = *hello.token;
  } else if (password_ok) {
    token = new_token();
    ok = true;
  }
  if (!ok || !user || user->disabled) {
    ++metrics_.auth_failures;
    close(*s, websocketpp::close::status::policy_violation, "authentication failed");
    return;
  }
  if (!hello.token) {
    try {
      log_.save_token(token_digest(token), user->name, hello.device, muster::format_utc(clock_.now_ms()));
    } catch (const muster::store::SqliteError& e) {
      close(*s, websocketpp::close::status::try_again_later, "storage unavailable");
      return;
    }
  }
  s->timer->cancel();
  s->user = user->name;
  s->device = hello.device;
  for (const auto& [scope, from] : engine_.replay_start(*user, hello.cursors)) {
    s->scopes.push_back(scope);
    s->sent[scope] = from;
    subscribers_[scope].insert(s->id);
  }
  protocol::Welcome w{user->name, user->roles.names(), user->area, token, s->scopes, engine_.policy().timezone};
  send(*s, protocol::encode(protocol::ServerFrame{w}));
  s->phase = Phase::replaying;
  pump_replay(s->id);
}

void WsServer::Impl::on_op(Session& s, protocol::OpFrame frame) {
  enqueue(Submission{std::move(frame.op), s.user, s.device, s.id});
}

void WsServer::Impl::enqueue(Submission submission) {
  pending_.push_back(std::move(submission));
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    // Everything that arrives before this runs joins the same commit.
    asio::post(io_, [this]() { flush(); });
  }
}

void WsServer::Impl::on_cursor(Session& s, const protocol::CursorFrame& frame) {
  for (const auto& [scope, seq] : frame.cursors) {
    if (s.sent.count(scope) == 0 || seq > s.sent[scope]) continue;  // only what was delivered
    auto& slot = pending_cursors_[{s.user, s.device, scope}];
    slot = std::max(slot, seq);
  }
}

void WsServer::Impl::on_backfill(Session& s, const protocol::Backfill& frame) {
  auto it = s.sent.find(frame.scope);
  if (it == s.sent.end()) {
    send_error(s, "bad_frame", "backfill: scope " + frame.scope + " is not visible to " + s.user);
    return;
  }
  it->second = std::min(it->second, std::max<std::int64_t>(frame.from - 1, 0));
  if (s.phase == Phase::live) --metrics_.sessions_live;
  s.phase = Phase::replaying;
  schedule_replay(s, false);
}

// ---------------------------------------------------------------- delivery

void WsServer::Impl::flush() {
  flush_scheduled_ = false;
  if (pending_.empty()) return;
  std::vector<Submission> batch;
  batch.swap(pending_);
  auto started = Clock::now();
  auto result = engine_.commit(batch);
  metrics_.commit_seconds_sum += std::chrono::duration<double>(Clock::now() - started).count();
  ++metrics_.commits;
  metrics_.commit_ops += static_cast<std::int64_t>(batch.size());
  if (!result) {
    std::cerr << "musterd: " << result.error().message << '\n';
    for (const auto& sub : batch) {
      ++metrics_.ops_unavailable;
      if (Session* s = find(sub.origin)) {
        protocol::Ack ack{sub.op.id, false, result.error(), nullptr};
        send(*s, protocol::encode(protocol::ServerFrame{ack}));
      }
    }
    if (bridge_) bridge_->on_unavailable(batch, result.error());
    if (plugins_) plugins_->on_unavailable(batch, result.error());
    return;
  }
  publish(*result);
}

// Events first, then acks: a client that sees its ack already has the op's events.
void WsServer::Impl::publish(const Batch& batch) {
  for (const auto& d : batch.events) deliver(d);
  metrics_.events_appended += static_cast<std::int64_t>(batch.events.size());
  metrics_.log_events += static_cast<std::int64_t>(batch.events.size());
  for (const auto& d : batch.decisions) {
    if (!d.fresh) {
      ++metrics_.ops_repeated;
    } else if (d.ok) {
      ++metrics_.ops_accepted;
    } else {
      ++metrics_.ops_rejected;
    }
    if (Session* s = find(d.origin)) send(*s, d.ack);
  }
  if (bridge_) bridge_->on_committed(batch);
  if (plugins_) plugins_->on_committed(batch);
}

// The server's own moves that fell due (offer time-outs, escalations, reminders).
void WsServer::Impl::run_timers() {
  auto result = engine_.tick();
  if (!result) {
    std::cerr << "musterd: timers: " << result.error().message << " (will retry)\n";
    return;
  }
  if (result->events.empty()) return;
  metrics_.timer_events += static_cast<std::int64_t>(result->events.size());
  publish(*result);
}

void WsServer::Impl::deliver(const Delivery& d) {
  auto sub = subscribers_.find(d.event.scope);
  if (sub == subscribers_.end()) return;
  for (std::uint64_t id : sub->second) {
    Session* s = find(id);
    if (!s || s->phase != Phase::live) continue;  // a replaying session reads it from the log
    auto& sent = s->sent[d.event.scope];
    if (d.event.seq != sent + 1) continue;
    std::error_code ec;
    auto con = endpoint_.get_con_from_hdl(s->hdl, ec);
    if (ec) continue;
    if (con->get_buffered_amount() > options_.max_send_buffer) {
      // It can catch up from its cursor when it reconnects; it may not hold our memory.
      ++metrics_.slow_consumers_closed;
      close(*s, websocketpp::close::status::try_again_later, "too slow: reconnect to catch up");
      continue;
    }
    send(*s, d.frame);
    sent = d.event.seq;
    ++metrics_.events_sent;
  }
}

void WsServer::Impl::schedule_replay(Session& s, bool backoff) {
  if (s.replay_scheduled) return;
  s.replay_scheduled = true;
  if (!backoff) {
    asio::post(io_, [this, id = s.id]() { pump_replay(id); });
    return;
  }
  s.timer->expires_after(kReplayBackoff);
  s.timer->async_wait([this, id = s.id](const std::error_code& ec) {
    if (!ec) pump_replay(id);
  });
}

void WsServer::Impl::pump_replay(std::uint64_t session_id) {
  Session* s = find(session_id);
  if (!s || s->phase != Phase::replaying) return;
  s->replay_scheduled = false;
  std::error_code ec;
  auto con = endpoint_.get_con_from_hdl(s->hdl, ec);
  if (ec) return;
  try {
    for (const auto& scope : s->scopes) {
      auto& sent = s->sent[scope];
      while (sent < engine_.head(scope)) {
        if (con->get_buffered_amount() > kReplayBufferLimit) {
          schedule_replay(*s, true);
          return;
        }
        auto rows = log_.read_scope(scope, sent, kReplayChunk);
        if (rows.empty()) break;
        for (const auto& [seq, frame] : rows) {
          send(*s, frame);
          sent = seq;
        }
        metrics_.events_replayed += static_cast<std::int64_t>(rows.size());
      }
    }
  } catch (const muster::store::SqliteError& e) {
    std::cerr << "musterd: replay failed: " << e.what() << '\n';
    close(*s, websocketpp::close::status::try_again_later, "storage unavailable");
    return;
  }
  s->phase = Phase::live;
  ++metrics_.sessions_live;
  send(*s, protocol::encode(protocol::ServerFrame{protocol::CaughtUp{}}));
}

void WsServer::Impl::send(Session& s, const std::string& frame) {
  std::error_code ec;
  endpoint_.send(s.hdl, frame, websocketpp::frame::opcode::text, ec);
}

void WsServer::Impl::send_error(Session& s, const std::string& code, const std::string& message) {
  ++metrics_.bad_frames;
  send(s, protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{code, message}}));
}

void WsServer::Impl::close(Session& s, websocketpp::close::status::value code, const std::string& reason) {
  std::error_code ec;
  endpoint_.close(s.hdl, code, reason, ec);
}

Session* WsServer::Impl::find(connection_hdl hdl) {
  auto it = by_hdl_.find(hdl);
  return it == by_hdl_.end() ? nullptr : find(it->second);
}

Session* WsServer::Impl::find(std::uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

// ---------------------------------------------------------------- housekeeping

void WsServer::Impl::refresh_directory() {
  try {
    auto version = directory_store_.data_version();
    if (version == directory_version_) return;
    directory_version_ = version;
    purge_check_due_ = true;
    engine_.set_directory(directory_store_.snapshot());
  } catch (const muster::store::SqliteError& e) {
    std::cerr << "musterd: cannot read the directory: " << e.what() << '\n';
    return;
  }
  // A disabled user loses access at once.
  for (auto& [id, s] : sessions_) {
    if (s->user.empty()) continue;
    const UserRecord* u = engine_.directory().user(s->user);
    if (!u || u->disabled) close(*s, websocketpp::close::status::policy_violation, "user disabled");
  }
}

void WsServer::Impl::flush_cursors() {
  if (pending_cursors_.empty()) return;
  try {
    muster::store::Transaction tx(log_.db());
    const std::string now = muster::format_utc(clock_.now_ms());
    for (const auto& [key, seq] : pending_cursors_) {
      log_.save_cursor(std::get<0>(key), std::get<1>(key), std::get<2>(key), seq, now);
    }
    tx.commit();
    pending_cursors_.clear();
  } catch (const muster::store::SqliteError& e) {
    std::cerr << "musterd: cannot save delivery cursors (will retry): " << e.what() << '\n';
  }
}

// `musterd hotline purge` while we serve: the command may not write log.db (we are
// its one writer), so it leaves a request in directory.db's settings and waits for the
// purge to show in the log. Carried out once (the engine records the request's id).
void WsServer::Impl::run_hotline_purge_request() {
  if (!purge_check_due_) return;
  purge_check_due_ = false;
  nlohmann::json request;
  try {
    request = nlohmann::json::parse(directory_store_.setting(kHotlinePurgeRequestSetting), nullptr, false);
  } catch (const muster::store::SqliteError& e) {
    std::cerr << "musterd: cannot read the directory: " << e.what() << '\n';
    purge_check_due_ = true;
    return;
  }
  if (!request.is_object() || !request.contains("id")) return;
  const std::string id = request.value("id", "");
  const int days = request.value("older_than_days", -1);
  auto done = engine_.purge_hotline_notes(days, id);
  if (!done) {
    std::cerr << "musterd: hotline purge " << id << ": " << done.error().message << '\n';
    if (done.error().code == muster::Errc::unavailable) purge_check_due_ = true;  // try again next time
    return;
  }
  if (done->repeated) return;
  std::cerr << "musterd: hotline purge " << id << ": deleted the notes of " << done->calls.size()
            << (done->calls.size() == 1 ? " call" : " calls") << " logged before " << done->before << '\n';
  metrics_.timer_events += static_cast<std::int64_t>(done->batch.events.size());
  publish(done->batch);
}

void WsServer::Impl::housekeeping() {
  if (stopping_) return;
  refresh_directory();
  run_hotline_purge_request();
  run_timers();
  flush_cursors();
  if (bridge_) bridge_->housekeeping();
  housekeeping_.expires_after(kHousekeepingPeriod);
  housekeeping_.async_wait([this](const std::error_code& ec) {
    if (!ec) housekeeping();
  });
}

}  // namespace musterd
