#include "musterd/adapters/ws_server.hpp"

#include <websocketpp/config/asio.hpp>
#include <websocketpp/server.hpp>

#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <type_traits>
#include <unordered_map>

#include "muster/protocol/frame.hpp"
#include "musterd/adapters/descriptors.hpp"
#include "musterd/core/log.hpp"
#include "musterd/adapters/draining_socket.hpp"
#include "musterd/core/subscriber.hpp"

namespace musterd {

namespace protocol = muster::protocol;
using websocketpp::connection_hdl;

namespace {

// permessage-deflate stays off: WebSocket++ bounds the compressed size only.
// ws://: WebSocket++'s plain config with a socket that half-closes and drains before it
// closes (draining_socket.hpp), so a client still sending gets our close frame.
struct PlainConfig : websocketpp::config::asio {
  using type = PlainConfig;
  struct transport_config : websocketpp::config::asio::transport_config {
    using socket_type = DrainingSocketEndpoint;
  };
  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
};
// wss://: the same over TLS.
struct TlsConfig : websocketpp::config::asio_tls {
  using type = TlsConfig;
  struct transport_config : websocketpp::config::asio_tls::transport_config {
    using socket_type = DrainingTlsEndpoint;
  };
  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
};
using Status = muster::Status;
using muster::Errc;

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
    case CloseReason::rate_limited:
    case CloseReason::crowded:
      return websocketpp::close::status::try_again_later;
    case CloseReason::stopping:
      return websocketpp::close::status::going_away;
  }
  return websocketpp::close::status::internal_endpoint_error;
}

// OpenSSL's reason for the last failure ("no such file", "key values mismatch"), else
// the error code's text.
std::string openssl_reason(const std::error_code& ec) {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e != 0) {
    if (const char* reason = ERR_reason_error_string(e)) return reason;
  }
  return ec.message();
}

// The TLS settings of wss://: TLS 1.2 or later, no compression, the chain and key from
// PEM files, checked to belong together. Made once; every connection shares it.
muster::Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const WsOptions& options) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  std::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression |
                       asio::ssl::context::single_dh_use,
                   ec);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  for (const auto& [what, path] : {std::pair{"certificate", options.tls_cert}, std::pair{"key", options.tls_key}}) {
    std::ifstream in(path);
    if (!in) {
      return muster::make_error(Errc::invalid, std::string("cannot read the TLS ") + what + ' ' + path + ": " +
                                                   std::strerror(errno));
    }
  }
  // The key first: the chain is then checked against it, by SSL_CTX_check_private_key.
  ERR_clear_error();
  ctx->use_private_key_file(options.tls_key, asio::ssl::context::pem, ec);
  if (ec) {
    return muster::make_error(Errc::invalid, "cannot load the TLS key " + options.tls_key +
                                                 ": not a PEM private key (" + openssl_reason(ec) + ")");
  }
  ctx->use_certificate_chain_file(options.tls_cert, ec);
  if (ec) {
    return muster::make_error(Errc::invalid, "cannot load the TLS certificate " + options.tls_cert +
                                                 ": not a PEM certificate chain, the server's first (" +
                                                 openssl_reason(ec) + ")");
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    ERR_clear_error();
    return muster::make_error(Errc::invalid, "the TLS key " + options.tls_key + " does not belong to the certificate " +
                                                 options.tls_cert);
  }
  return ctx;
}

bool is_loopback(const asio::ip::address& a) {
  return a.is_loopback() || (a.is_v6() && a.to_v6().is_v4_mapped() &&
                             asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback());
}

// What the login throttle and the connection limits key a peer by: its IPv4 address, or
// its IPv6 /64 (one host holds a whole /64).
std::string peer_key(asio::ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

// Answers /healthz and /metrics (and 404) on either listener.
template <class Connection>
void answer_http(Connection& con, Hub& hub, const WsOptions& options, bool metrics_here) {
  const std::string resource = con.get_resource();
  if (resource == "/healthz") {
    con.set_status(websocketpp::http::status_code::ok);
    con.replace_header("Content-Type", "text/plain");
    con.set_body("ok\n");
  } else if (resource == "/metrics" && metrics_here) {
    const std::string expected = "Bearer " + options.metrics_token;
    const std::string& given = con.get_request_header("Authorization");
    if (!options.metrics_token.empty() &&
        (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0)) {
      con.set_status(websocketpp::http::status_code::unauthorized);
      con.replace_header("WWW-Authenticate", "Bearer realm=\"muster metrics\"");
      con.replace_header("Content-Type", "text/plain");
      con.set_body("/metrics wants Authorization: Bearer <the token of musterd serve --metrics-token>\n");
    } else {
      Metrics& metrics = hub.metrics();
      metrics.last_gseq = hub.engine().last_gseq();
      metrics.pending_ops = static_cast<std::int64_t>(hub.pending_ops());
      metrics.open_fds = open_fds();
      metrics.max_fds = fd_limit();
      con.set_status(websocketpp::http::status_code::ok);
      con.replace_header("Content-Type", "text/plain; version=0.0.4");
      con.set_body(metrics.prometheus());
    }
  } else {
    con.set_status(websocketpp::http::status_code::not_found);
    con.set_body("not found\n");
  }
  if (con.get_request().get_method() == "HEAD") {
    // The same headers as GET, Content-Length included, and no body (RFC 9110 9.3.2).
    const std::string length = con.get_response_header("Content-Length");
    con.set_body("");
    con.replace_header("Content-Length", length);
  }
}

}  // namespace

class WsServer::Impl {
 public:
  virtual ~Impl() = default;
  virtual Status listen() = 0;
  virtual void stop() = 0;
  virtual const char* scheme() const = 0;
};

namespace {

// The server over one WebSocket++ config: PlainConfig or TlsConfig. Everything but
// the TLS handshake's setup is the same code.
template <class Config>
class Server final : public WsServer::Impl {
 public:
  using Endpoint = websocketpp::server<Config>;
  static constexpr bool kTls = std::is_same_v<Config, TlsConfig>;

  Server(asio::io_context& io, Hub& hub, WsOptions options) : io_(io), hub_(hub), options_(std::move(options)) {}

  Status listen() override;
  void stop() override;
  const char* scheme() const override { return kTls ? "wss" : "ws"; }

 private:
  // One WebSocket connection: the port of its Subscriber.
  class Connection final : public SessionPort {
   public:
    Connection(Server& server, connection_hdl hdl, SessionRules rules)
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
    void logged_in() override { server_.unwait(hdl_); }

   private:
    Server& server_;
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
  void on_message(connection_hdl hdl, const typename Endpoint::message_ptr& msg);
  Connection* find(connection_hdl hdl);

  // The accept loop.
  void accept_next();
  void on_accept(const typename Endpoint::connection_ptr& con, const std::error_code& ec);
  // Connections waiting to log in, oldest first.
  void wait_for_login(connection_hdl hdl);
  void unwait(connection_hdl hdl);
  // Closes up to n of the oldest waiting connections (of `address` if not empty): at
  // once (hard) or with a close frame where the WebSocket is open.
  void shed(const std::string& address, std::size_t n, bool hard, const std::string& why);

  asio::io_context& io_;
  Hub& hub_;
  WsOptions options_;
  Endpoint endpoint_;
  std::map<connection_hdl, std::unique_ptr<Connection>, std::owner_less<connection_hdl>> connections_;
  std::shared_ptr<asio::ssl::context> tls_;  // wss:// only

  struct Waiting {
    connection_hdl hdl;
    std::string address;
  };
  std::map<std::uint64_t, Waiting> waiting_;  // by arrival
  std::map<connection_hdl, std::uint64_t, std::owner_less<connection_hdl>> waiting_index_;
  std::unordered_map<std::string, int> waiting_per_address_;
  std::uint64_t next_arrival_ = 0;

  bool accepting_ = false;
  asio::steady_timer accept_pause_{io_};
  std::chrono::milliseconds accept_delay_{0};
  bool warned_accept_ = false;

  // --metrics-listen: a plain HTTP endpoint of its own.
  std::unique_ptr<websocketpp::server<PlainConfig>> metrics_endpoint_;
};

template <class Config>
Status Server<Config>::listen() {
  std::error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return muster::make_error(Errc::unavailable, "bad listen address '" + options_.host + "': " + ec.message());
  if constexpr (kTls) {
    auto ctx = make_tls_context(options_);
    if (!ctx) return ctx.error();
    tls_ = std::move(*ctx);
    endpoint_.set_tls_init_handler([this](connection_hdl) { return tls_; });
  } else {
    if (!is_loopback(address) && !options_.insecure_listen) {
      return muster::make_error(
          Errc::invalid, "refusing to serve plain ws:// on " + options_.host +
                             ": passwords and notes would cross the network in clear. Give --tls-cert FILE --tls-key "
                             "FILE to serve wss://, or --insecure-listen if a TLS proxy in front of musterd does it");
    }
  }
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
  // Every accepted TCP connection waits to log in from here on, before its handshake.
  endpoint_.set_tcp_pre_init_handler([this](connection_hdl h) { wait_for_login(std::move(h)); });
  endpoint_.set_validate_handler([this](connection_hdl h) { return on_validate(std::move(h)); });
  endpoint_.set_http_handler([this](connection_hdl h) { on_http(std::move(h)); });
  endpoint_.set_open_handler([this](connection_hdl h) { on_open(std::move(h)); });
  endpoint_.set_close_handler([this](connection_hdl h) { on_close(std::move(h)); });
  endpoint_.set_fail_handler([this](connection_hdl h) { on_close(std::move(h)); });
  endpoint_.set_message_handler(
      [this](connection_hdl h, const typename Endpoint::message_ptr& m) { on_message(std::move(h), m); });

  asio::ip::tcp::endpoint where(address, options_.port);
  endpoint_.listen(where, ec);
  if (ec) {
    return muster::make_error(Errc::unavailable,
                              "cannot listen on " + options_.host + ':' + std::to_string(options_.port) + ": " +
                                  ec.message());
  }
  accepting_ = true;
  accept_next();

  if (!options_.metrics_host.empty()) {
    const auto maddress = asio::ip::make_address(options_.metrics_host, ec);
    if (ec || !is_loopback(maddress)) {
      return muster::make_error(Errc::invalid, "--metrics-listen takes a loopback address (127.0.0.1:PORT), not '" +
                                                   options_.metrics_host + "'; to expose /metrics, give --metrics-token");
    }
    metrics_endpoint_ = std::make_unique<websocketpp::server<PlainConfig>>();
    auto& m = *metrics_endpoint_;
    m.clear_access_channels(websocketpp::log::alevel::all);
    m.clear_error_channels(websocketpp::log::elevel::all);
    m.init_asio(&io_, ec);
    if (!ec) {
      m.set_reuse_addr(true);
      m.set_validate_handler([](connection_hdl) { return false; });  // HTTP only
      m.set_http_handler([this](connection_hdl h) {
        std::error_code failed;
        auto con = metrics_endpoint_->get_con_from_hdl(h, failed);
        if (!failed) answer_http(*con, hub_, options_, true);
      });
      m.listen(asio::ip::tcp::endpoint(maddress, options_.metrics_port), ec);
    }
    if (!ec) m.start_accept(ec);
    if (ec) {
      return muster::make_error(Errc::unavailable, "cannot listen on " + options_.metrics_host + ':' +
                                                       std::to_string(options_.metrics_port) + ": " + ec.message());
    }
  }
  return {};
}

template <class Config>
void Server<Config>::accept_next() {
  if (!accepting_ || hub_.stopping()) return;
  std::error_code ec;
  auto con = endpoint_.get_connection();
  if (!con) return;
  endpoint_.async_accept(
      std::static_pointer_cast<typename Endpoint::transport_con_type>(con),
      [this, con](const std::error_code& e) { on_accept(con, e); }, ec);
  if (ec) con->terminate(std::error_code());
}

template <class Config>
void Server<Config>::on_accept(const typename Endpoint::connection_ptr& con, const std::error_code& ec) {
  if (!ec) {
    accept_delay_ = std::chrono::milliseconds(0);
    warned_accept_ = false;
    con->start();
    accept_next();
    return;
  }
  con->terminate(std::error_code());
  if (ec == websocketpp::error::operation_canceled || !accepting_) return;  // stopped listening
  // Out of descriptors (EMFILE, ENFILE; over TLS WebSocket++ hides the cause, so any
  // failure counts): make room by closing the oldest connections waiting to log in, and
  // wait before the next accept rather than fail again at once.
  ++hub_.metrics().accept_failures;
  if (!warned_accept_) {
    warned_accept_ = true;
    log_warn("accept failed (" + ec.message() + "; " + std::to_string(open_fds()) + " of " +
             std::to_string(fd_limit()) + " descriptors in use): closing the oldest of " +
             std::to_string(waiting_.size()) + " connections waiting to log in, and pausing accept");
  }
  shed("", std::max<std::size_t>(1, waiting_.size() / 4), true, "server out of descriptors");
  accept_delay_ = std::min(std::max(accept_delay_ * 2, std::chrono::milliseconds(10)), std::chrono::milliseconds(1000));
  accept_pause_.expires_after(accept_delay_);
  accept_pause_.async_wait([this](const std::error_code& e) {
    if (!e) accept_next();
  });
}

template <class Config>
void Server<Config>::wait_for_login(connection_hdl hdl) {
  std::error_code ec;
  auto con = endpoint_.get_con_from_hdl(hdl, ec);
  if (ec) return;
  const auto remote = con->get_raw_socket().remote_endpoint(ec);
  if (ec) return;
  const std::string address = peer_key(remote.address());
  const std::uint64_t arrival = next_arrival_++;
  waiting_.emplace(arrival, Waiting{hdl, address});
  waiting_index_.emplace(hdl, arrival);
  const int here = ++waiting_per_address_[address];
  hub_.metrics().unauthenticated = static_cast<std::int64_t>(waiting_.size());
  if (here > options_.max_unauthenticated_per_address) {
    shed(address, 1, false,
         "too many connections from " + address + " waiting to log in (limit " +
             std::to_string(options_.max_unauthenticated_per_address) + "): closing the oldest");
  }
  if (waiting_.size() > static_cast<std::size_t>(options_.max_unauthenticated)) {
    shed("", waiting_.size() - static_cast<std::size_t>(options_.max_unauthenticated), false,
         "too many connections waiting to log in (limit " + std::to_string(options_.max_unauthenticated) +
             "): closing the oldest");
  }
}

template <class Config>
void Server<Config>::unwait(connection_hdl hdl) {
  auto it = waiting_index_.find(hdl);
  if (it == waiting_index_.end()) return;
  auto w = waiting_.find(it->second);
  if (w != waiting_.end()) {
    auto a = waiting_per_address_.find(w->second.address);
    if (a != waiting_per_address_.end() && --a->second <= 0) waiting_per_address_.erase(a);
    waiting_.erase(w);
  }
  waiting_index_.erase(it);
  hub_.metrics().unauthenticated = static_cast<std::int64_t>(waiting_.size());
}

template <class Config>
void Server<Config>::shed(const std::string& address, std::size_t n, bool hard, const std::string& why) {
  // The oldest first; a connection whose password is being checked only if the silent
  // ones do not make up n (it is someone logging in, not someone waiting).
  std::vector<connection_hdl> victims;
  std::vector<connection_hdl> checking;
  for (const auto& [arrival, w] : waiting_) {
    if (victims.size() >= n) break;
    if (!address.empty() && w.address != address) continue;
    Connection* c = find(w.hdl);
    if (c && c->subscriber().checking_credentials()) {
      checking.push_back(w.hdl);
    } else {
      victims.push_back(w.hdl);
    }
  }
  for (std::size_t i = 0; victims.size() < n && i < checking.size(); ++i) victims.push_back(checking[i]);
  // Closing may call the close handlers at once: the list is taken first.
  for (const auto& hdl : victims) {
    unwait(hdl);
    ++hub_.metrics().connections_shed;
    std::error_code ec;
    auto con = endpoint_.get_con_from_hdl(hdl, ec);
    if (ec) continue;
    if (!hard && find(hdl)) {
      endpoint_.close(hdl, websocketpp::close::status::try_again_later, why, ec);
      continue;
    }
    con->terminate(std::error_code());
    con->get_raw_socket().close(ec);  // the descriptor now, not after TLS's goodbye
  }
}

template <class Config>
void Server<Config>::stop() {
  std::error_code ignored;
  accepting_ = false;
  accept_pause_.cancel();
  endpoint_.stop_listening(ignored);
  if (metrics_endpoint_) metrics_endpoint_->stop_listening(ignored);
  for (auto& [hdl, c] : connections_) c->deadline().cancel();
}

template <class Config>
bool Server<Config>::on_validate(connection_hdl hdl) {
  auto con = endpoint_.get_con_from_hdl(hdl);
  const std::string& origin = con->get_request_header("Origin");
  if (origin.empty()) return true;  // not a browser
  for (const auto& allowed : options_.allowed_origins) {
    if (origin == allowed) return true;
  }
  con->set_status(websocketpp::http::status_code::forbidden);
  return false;
}

template <class Config>
void Server<Config>::on_http(connection_hdl hdl) {
  unwait(hdl);  // a plain HTTP request, answered now
  auto con = endpoint_.get_con_from_hdl(hdl);
  answer_http(*con, hub_, options_, options_.metrics_host.empty());
}

template <class Config>
void Server<Config>::on_open(connection_hdl hdl) {
  if (hub_.stopping()) {
    std::error_code ignored;
    endpoint_.close(hdl, websocketpp::close::status::going_away, "server stopping", ignored);
    return;
  }
  SessionRules rules;
  rules.transport = "ws";
  rules.live_window = options_.max_send_buffer;
  {
    std::error_code ec;
    auto con = endpoint_.get_con_from_hdl(hdl, ec);
    const auto remote = ec ? asio::ip::tcp::endpoint() : con->get_raw_socket().remote_endpoint(ec);
    if (!ec) rules.peer_address = peer_key(remote.address());
  }
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

template <class Config>
void Server<Config>::on_close(connection_hdl hdl) {
  unwait(hdl);
  auto it = connections_.find(hdl);
  if (it == connections_.end()) return;
  connections_.erase(it);
  --hub_.metrics().connections_open;
}

template <class Config>
void Server<Config>::on_message(connection_hdl hdl, const typename Endpoint::message_ptr& msg) {
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

template <class Config>
typename Server<Config>::Connection* Server<Config>::find(connection_hdl hdl) {
  auto it = connections_.find(hdl);
  return it == connections_.end() ? nullptr : it->second.get();
}

std::unique_ptr<WsServer::Impl> make_server(asio::io_context& io, Hub& hub, WsOptions options) {
  if (!options.tls_cert.empty()) return std::make_unique<Server<TlsConfig>>(io, hub, std::move(options));
  return std::make_unique<Server<PlainConfig>>(io, hub, std::move(options));
}

}  // namespace

WsServer::WsServer(asio::io_context& io, Hub& hub, WsOptions options)
    : impl_(make_server(io, hub, std::move(options))) {}
WsServer::~WsServer() = default;
muster::Status WsServer::listen() { return impl_->listen(); }
void WsServer::stop() { impl_->stop(); }
const char* WsServer::scheme() const { return impl_->scheme(); }

}  // namespace musterd
