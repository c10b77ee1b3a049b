#include "muster_client/transports/ws_connection.hpp"

#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_client.hpp>

#include <deque>
#include <type_traits>

#include "muster_client/transports/tls.hpp"

namespace muster::client {

class WsConnection::Impl {
 public:
  virtual ~Impl() = default;
  virtual Status connect(const std::string& url, std::chrono::milliseconds timeout) = 0;
  virtual Status send(const std::string& text) = 0;
  virtual Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;
  int close_code_ = 0;
  std::string close_reason_;
};

namespace {

using PlainConfig = websocketpp::config::asio_client;    // ws://
using TlsConfig = websocketpp::config::asio_tls_client;  // wss://

// The connection over one WebSocket++ config; only the TLS setup differs.
template <class Config>
class Client final : public WsConnection::Impl {
 public:
  using Endpoint = websocketpp::client<Config>;
  static constexpr bool kTls = std::is_same_v<Config, TlsConfig>;

  explicit Client(std::string ca_file) : ca_file_(std::move(ca_file)) {
    endpoint_.clear_access_channels(websocketpp::log::alevel::all);
    endpoint_.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    endpoint_.init_asio(&io_, ec);
    // The server bounds what it sends; a client must still not be made to hold
    // unbounded frames.
    endpoint_.set_max_message_size(64 * 1024 * 1024);
    endpoint_.set_tcp_post_init_handler([this](websocketpp::connection_hdl h) {
      std::error_code failed;
      auto con = endpoint_.get_con_from_hdl(h, failed);
      if (!failed) con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), failed);
    });
    endpoint_.set_open_handler([this](websocketpp::connection_hdl) { open_ = true; });
    endpoint_.set_fail_handler([this](websocketpp::connection_hdl h) { on_end(h, true); });
    endpoint_.set_close_handler([this](websocketpp::connection_hdl h) { on_end(h, false); });
    endpoint_.set_message_handler([this](websocketpp::connection_hdl, const typename Endpoint::message_ptr& m) {
      inbox_.push_back(m->get_payload());
    });
  }

  Status connect(const std::string& url, std::chrono::milliseconds timeout) override {
    if constexpr (kTls) {
      // Set before the connection is made: WebSocket++ asks for the context then.
      const websocketpp::uri parsed(url);
      if (!parsed.get_valid()) return make_error(Errc::invalid, "bad server address '" + url + "'");
      verdict_->problem.clear();
      auto ctx = make_client_tls(parsed.get_host(), ca_file_, verdict_);
      if (!ctx) return ctx.error();
      endpoint_.set_tls_init_handler([ctx = *ctx](websocketpp::connection_hdl) { return ctx; });
    }
    std::error_code ec;
    auto con = endpoint_.get_connection(url, ec);
    if (ec) return make_error(Errc::invalid, "bad server address '" + url + "': " + ec.message());
    con->set_open_handshake_timeout(static_cast<long>(timeout.count()));
    hdl_ = con->get_handle();
    endpoint_.connect(con);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!open_ && !ended_ && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_until(deadline);
      if (io_.stopped()) io_.restart();
    }
    if (!open_) {
      std::string why = !verdict_->problem.empty() ? verdict_->problem
                        : fail_reason_.empty()     ? "timed out"
                                                   : fail_reason_;
      return make_error(Errc::unavailable, "cannot reach " + url + ": " + why);
    }
    return {};
  }

  Status send(const std::string& text) override {
    if (!open_ || ended_) return make_error(Errc::unavailable, "not connected");
    std::error_code ec;
    endpoint_.send(hdl_, text, websocketpp::frame::opcode::text, ec);
    if (ec) return make_error(Errc::unavailable, "send failed: " + ec.message());
    io_.poll();  // start writing now
    if (io_.stopped()) io_.restart();
    return {};
  }

  Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (inbox_.empty() && !ended_ && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_until(deadline);
      if (io_.stopped()) io_.restart();
    }
    if (!inbox_.empty()) {
      std::string frame = std::move(inbox_.front());
      inbox_.pop_front();
      return std::optional<std::string>(std::move(frame));
    }
    if (ended_) {
      if (close_code_ == websocketpp::close::status::policy_violation) {
        return make_error(Errc::forbidden, "the server refused us: " + close_reason_);
      }
      return make_error(Errc::unavailable, "connection closed" + (close_code_ ? " (" + std::to_string(close_code_) +
                                                                                    " " + close_reason_ + ")"
                                                                              : std::string()));
    }
    return std::optional<std::string>();
  }

  void close() override {
    if (!open_ || ended_) return;
    std::error_code ec;
    endpoint_.close(hdl_, websocketpp::close::status::normal, "bye", ec);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (!ended_ && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_until(deadline);
      if (io_.stopped()) io_.restart();
    }
  }

 private:
  void on_end(websocketpp::connection_hdl h, bool failed) {
    ended_ = true;
    std::error_code ec;
    auto con = endpoint_.get_con_from_hdl(h, ec);
    if (ec) return;
    if (failed) {
      fail_reason_ = con->get_ec().message();
    } else {
      close_code_ = con->get_remote_close_code();
      close_reason_ = con->get_remote_close_reason();
    }
  }

  asio::io_context io_;
  Endpoint endpoint_;
  websocketpp::connection_hdl hdl_;
  std::deque<std::string> inbox_;
  bool open_ = false;
  bool ended_ = false;
  std::string fail_reason_;
  std::string ca_file_;                                            // wss://: "" is the system's store
  std::shared_ptr<TlsVerdict> verdict_ = std::make_shared<TlsVerdict>();  // why a handshake was refused
};

std::unique_ptr<WsConnection::Impl> make_client(const std::string& url, std::string ca_file) {
  if (url.rfind("wss://", 0) == 0) return std::make_unique<Client<TlsConfig>>(std::move(ca_file));
  return std::make_unique<Client<PlainConfig>>(std::move(ca_file));
}

}  // namespace

WsConnection::WsConnection(std::string url, std::string ca_file)
    : url_(std::move(url)), impl_(make_client(url_, std::move(ca_file))) {}
WsConnection::~WsConnection() = default;
Status WsConnection::connect(std::chrono::milliseconds timeout) { return impl_->connect(url_, timeout); }
Status WsConnection::send(const std::string& text) { return impl_->send(text); }
Result<std::optional<std::string>> WsConnection::receive(std::chrono::milliseconds timeout) {
  return impl_->receive(timeout);
}
void WsConnection::close() { impl_->close(); }
int WsConnection::close_code() const { return impl_->close_code_; }
std::string WsConnection::close_reason() const { return impl_->close_reason_; }

}  // namespace muster::client
