#include "musterd/adapters/ws_server.hpp"

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <unordered_map>

#include "muster/protocol/frame.hpp"
#include "musterd/core/subscriber.hpp"

namespace musterd {

namespace protocol = muster::protocol;
using websocketpp::connection_hdl;

namespace {

// permessage-deflate stays off: WebSocket++ bounds the compressed size only.
using Endpoint = websocketpp::server<websocketpp::config::asio>;

// How often a session waiting for room looks at the send buffer: every 2 ms while the
// peer reads, backing off to 250 ms while it does not, so a peer that stopped reading
// costs a few wake-ups a second, not five hundred.
constexpr auto kDrainPoll = std::chrono::milliseconds(2);
constexpr auto kDrainPollMax = std::chrono::milliseconds(250);

websocketpp::close::status::value close_code(CloseReason reason) {
  switch (reason) {
    case CloseReason::bad_hello:
    case CloseReason::auth_failed:
    case CloseReason::disabled:
      return websocketpp::close::status::policy_violation;
    case CloseReason::storage:
      return websocketpp::close::status::try_again_later;
    case CloseReason::stopping:
      return websocketpp::close::status::going_away;
  }
  return websocketpp::close::status::internal_endpoint_error;
}

}  // namespace

class WsServer::Impl {
 public:
  Impl(asio::io_context& io, Hub& hub, WsOptions options) : io_(io), hub_(hub), options_(std::move(options)) {}

  muster::Status listen();
  void stop();

 private:
  // One WebSocket connection: the port of its Subscriber.
  class Connection final : public SessionPort {
   public:
    Connection(Impl& server, connection_hdl hdl, SessionRules rules)
        : server_(server), hdl_(std::move(hdl)), deadline_(server.io_), drain_(server.io_),
          subscriber_(server.hub_, *this, std::move(rules)) {}
    ~Connection() override {
      deadline_.cancel();
      drain_.cancel();
    }

    Subscriber& subscriber() { return subscriber_; }
    asio::steady_timer& deadline() { return deadline_; }

    void send(FrameKind, const std::string& frame) override {
      std::error_code ec;
      server_.endpoint_.send(hdl_, frame, websocketpp::frame::opcode::text, ec);
    }
    std::size_t backlog() const override {
      std::error_code ec;
      auto con = server_.endpoint_.get_con_from_hdl(hdl_, ec);
      return ec ? 0 : con->get_buffered_amount();
    }
    void resume_when_drained() override {
      if (drain_pending_) return;
      drain_pending_ = true;
      const std::size_t waiting = backlog();
      drain_.expires_after(drain_poll_);
      drain_.async_wait([this, waiting](const std::error_code& ec) {
        if (ec) return;
        drain_pending_ = false;
        drain_poll_ = backlog() < waiting ? kDrainPoll : std::min(drain_poll_ * 2, kDrainPollMax);
        subscriber_.pump();
      });
    }
    void close(CloseReason reason, const std::string& text) override {
      std::error_code ec;
      server_.endpoint_.close(hdl_, close_code(reason), text, ec);
    }

   private:
    Impl& server_;
    connection_hdl hdl_;
    asio::steady_timer deadline_;  // hello
    asio::steady_timer drain_;     // waiting for room in the send buffer
    bool drain_pending_ = false;
    std::chrono::milliseconds drain_poll_ = kDrainPoll;
    Subscriber subscriber_;        // last: it goes first, while the port is whole
  };

  bool on_validate(connection_hdl hdl);
  void on_http(connection_hdl hdl);
  void on_open(connection_hdl hdl);
  void on_close(connection_hdl hdl);
  void on_message(connection_hdl hdl, const Endpoint::message_ptr& msg);
  Connection* find(connection_hdl hdl);

  asio::io_context& io_;
  Hub& hub_;
  WsOptions options_;
  Endpoint endpoint_;
  std::map<connection_hdl, std::unique_ptr<Connection>, std::owner_less<connection_hdl>> connections_;
};

WsServer::WsServer(asio::io_context& io, Hub& hub, WsOptions options)
    : impl_(std::make_unique<Impl>(io, hub, std::move(options))) {}
WsServer::~WsServer() = default;
muster::Status WsServer::listen() { return impl_->listen(); }
void WsServer::stop() { impl_->stop(); }

muster::Status WsServer::Impl::listen() {
  using muster::Errc;
  std::error_code ec;
  endpoint_.clear_access_channels(websocketpp::log::alevel::all);
  endpoint_.clear_error_channels(websocketpp::log::elevel::all);
  endpoint_.set_error_channels(websocketpp::log::elevel::fatal);
  endpoint_.init_asio(&io_, ec);
  if (ec) return muster::make_error(Errc::unavailable, "cannot start the WebSocket endpoint: " + ec.message());
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

  asio::ip::tcp::endpoint where(asio::ip::make_address(options_.host, ec), options_.port);
  if (ec) return muster::make_error(Errc::unavailable, "bad listen address '" + options_.host + "': " + ec.message());
  endpoint_.listen(where, ec);
  if (!ec) endpoint_.start_accept(ec);
  if (ec) {
    return muster::make_error(Errc::unavailable,
                              "cannot listen on " + options_.host + ':' + std::to_string(options_.port) + ": " +
                                  ec.message());
  }
  return {};
}

void WsServer::Impl::stop() {
  std::error_code ignored;
  endpoint_.stop_listening(ignored);
  for (auto& [hdl, c] : connections_) c->deadline().cancel();
}

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
    Metrics& metrics = hub_.metrics();
    metrics.last_gseq = hub_.engine().last_gseq();
    metrics.pending_ops = static_cast<std::int64_t>(hub_.pending_ops());
    con->set_status(websocketpp::http::status_code::ok);
    con->replace_header("Content-Type", "text/plain; version=0.0.4");
    con->set_body(metrics.prometheus());
  } else {
    con->set_status(websocketpp::http::status_code::not_found);
    con->set_body("not found\n");
  }
}

void WsServer::Impl::on_open(connection_hdl hdl) {
  if (hub_.stopping()) {
    std::error_code ignored;
    endpoint_.close(hdl, websocketpp::close::status::going_away, "server stopping", ignored);
    return;
  }
  SessionRules rules;
  rules.transport = "ws";
  rules.live_window = options_.max_send_buffer;
  auto c = std::make_unique<Connection>(*this, hdl, std::move(rules));
  c->deadline().expires_after(std::chrono::milliseconds(options_.hello_timeout_ms));
  c->deadline().async_wait([this, hdl](const std::error_code& ec) {
    if (ec) return;
    Connection* found = find(hdl);
    if (found && !found->subscriber().authenticated()) {
      found->close(CloseReason::bad_hello, "no hello in time");
    }
  });
  connections_.emplace(hdl, std::move(c));
  ++hub_.metrics().connections_open;
  ++hub_.metrics().connections_total;
}

void WsServer::Impl::on_close(connection_hdl hdl) {
  auto it = connections_.find(hdl);
  if (it == connections_.end()) return;
  connections_.erase(it);
  --hub_.metrics().connections_open;
}

void WsServer::Impl::on_message(connection_hdl hdl, const Endpoint::message_ptr& msg) {
  Connection* c = find(hdl);
  if (!c) return;
  if (msg->get_opcode() != websocketpp::frame::opcode::text) {
    c->subscriber().bad_frame("frames are JSON text; binary frames are not accepted");
    return;
  }
  auto decoded = protocol::decode_client_frame(msg->get_payload());
  if (!decoded) {
    c->subscriber().bad_frame(decoded.error().message);
    return;
  }
  c->subscriber().on_frame(std::move(*decoded));
}

WsServer::Impl::Connection* WsServer::Impl::find(connection_hdl hdl) {
  auto it = connections_.find(hdl);
  return it == connections_.end() ? nullptr : it->second.get();
}

}  // namespace musterd
