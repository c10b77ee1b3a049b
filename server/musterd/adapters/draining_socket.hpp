// WebSocket++'s plain socket policy with a gentler end: a close that ends the TCP
// connection half-closes it (FIN after our close frame) and reads and discards what the
// peer still sends, until it closes its side, up to kDrainBytes, within the transport's
// socket-shutdown timeout (config::timeout_socket_shutdown), and only then closes.
//
// Why: WebSocket++ 0.8.2 answers a frame over the size limit with close 1009 and then
// shuts the socket down both ways while the client is still sending that frame; the
// kernel answers the unread bytes with a TCP reset, and the reset makes the client drop
// the close frame it had not read yet, so it saw 1006 instead of 1009. WebSocket++ has
// no setting for this; its socket policies are the place it is meant to be changed
// (transport/asio/security/none.hpp), so this derives from the plain one and replaces
// only async_shutdown, which the transport calls by name.
#pragma once

#include <array>
#include <cstddef>
#include <memory>

#include <websocketpp/transport/asio/security/none.hpp>

namespace musterd {

class DrainingSocketConnection : public websocketpp::transport::asio::basic_socket::connection {
 public:
  using type = DrainingSocketConnection;
  using ptr = std::shared_ptr<type>;

  // What a closing peer may still send us before we stop reading it: a frame just over
  // the largest --max-frame anyone sets, and then some.
  static constexpr std::size_t kDrainBytes = 80 * 1024 * 1024;

  void async_shutdown(websocketpp::transport::asio::socket::shutdown_handler handler) {
    asio::error_code ec;
    auto& socket = get_socket();
    socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec) {
      handler(ec);
      return;
    }
    drain(std::make_shared<Drain>(std::move(handler)));
  }

 private:
  struct Drain {
    explicit Drain(websocketpp::transport::asio::socket::shutdown_handler h) : handler(std::move(h)) {}
    websocketpp::transport::asio::socket::shutdown_handler handler;
    std::array<char, 16 * 1024> buffer{};
    std::size_t read = 0;
  };

  // Reads until the peer's FIN (or an error, or the bound), then the handler. The
  // transport's timer cancels the read if the peer takes too long; its handler then
  // ignores ours.
  void drain(std::shared_ptr<Drain> d) {
    auto& socket = get_socket();
    socket.async_read_some(asio::buffer(d->buffer), [this, d](const asio::error_code& ec, std::size_t n) {
      d->read += n;
      if (!ec && d->read < kDrainBytes) {
        drain(d);
        return;
      }
      asio::error_code ignored;
      get_socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      // The peer closed (eof): a clean end, as a plain shutdown would report.
      d->handler(ec == asio::error::eof ? asio::error_code() : ec);
    });
  }
};

class DrainingSocketEndpoint : public websocketpp::transport::asio::basic_socket::endpoint {
 public:
  using type = DrainingSocketEndpoint;
  using socket_con_type = DrainingSocketConnection;
  using socket_con_ptr = socket_con_type::ptr;

 protected:
  websocketpp::lib::error_code init(socket_con_ptr scon) {
    return websocketpp::transport::asio::basic_socket::endpoint::init(scon);
  }
};

}  // namespace musterd
