// WebSocket++'s socket policies with a gentler end: a close that ends the TCP
// connection half-closes it (FIN after our close frame) and reads and discards what the
// peer still sends, until it closes its side or stops sending (kQuietFor), up to
// kDrainBytes, within the transport's socket-shutdown timeout
// (config::timeout_socket_shutdown, 5 s), and only then closes.
//
// Why: WebSocket++ 0.8.2 answers a frame over the size limit with close 1009 and then
// shuts the socket down both ways while the client is still sending that frame; the
// kernel answers the unread bytes with a TCP reset, and the reset makes the client drop
// the close frame it had not read yet, so it saw 1006 instead of 1009. WebSocket++ has
// no setting for this; its socket policies are the place it is meant to be changed
// (transport/asio/security/none.hpp, tls.hpp), so these derive from WebSocket++'s and
// replace only async_shutdown, which the transport calls by name.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>

#include <asio/steady_timer.hpp>
#include <websocketpp/transport/asio/security/none.hpp>
#include <websocketpp/transport/asio/security/tls.hpp>

namespace musterd {

namespace draining {

using ShutdownHandler = websocketpp::transport::asio::socket::shutdown_handler;

// What a closing peer may still send us before we stop reading it: a frame just over
// the largest --max-frame anyone sets, and then some.
constexpr std::size_t kDrainBytes = 80 * 1024 * 1024;

// A peer that has sent nothing for this long is not sending the rest of a frame: it waits
// for us to close (or is gone).
constexpr std::chrono::milliseconds kQuietFor{500};

struct Drain {
  Drain(asio::ip::tcp::socket& s, ShutdownHandler h)
      : socket(s), handler(std::move(h)), quiet(s.get_executor()) {}
  asio::ip::tcp::socket& socket;  // the connection's, alive while its handler is held
  ShutdownHandler handler;
  asio::steady_timer quiet;
  bool went_quiet = false;
  std::array<char, 16 * 1024> buffer{};
  std::size_t read = 0;
};

// Reads until the peer's FIN, an error, the byte bound or kQuietFor without a byte, then
// the handler. The transport's own timer cancels the read if all this takes longer than
// its socket-shutdown timeout; its handler then ignores ours.
inline void drain(std::shared_ptr<Drain> d) {
  d->quiet.expires_after(kQuietFor);
  d->quiet.async_wait([d](const asio::error_code& ec) {
    if (ec) return;  // a read came first
    d->went_quiet = true;
    asio::error_code ignored;
    d->socket.cancel(ignored);
  });
  d->socket.async_read_some(asio::buffer(d->buffer), [d](const asio::error_code& ec, std::size_t n) {
    d->quiet.cancel();
    d->read += n;
    if (!ec && d->read < kDrainBytes) {
      drain(d);
      return;
    }
    asio::error_code ignored;
    d->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    // The peer closed (eof) or went quiet: a clean end, as a plain shutdown would report.
    const bool clean = ec == asio::error::eof || (d->went_quiet && ec == asio::error::operation_aborted);
    d->handler(clean ? asio::error_code() : ec);
  });
}

// FIN after what we sent, then drain.
inline void half_close_and_drain(asio::ip::tcp::socket& socket, ShutdownHandler handler) {
  asio::error_code ec;
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    handler(ec);
    return;
  }
  drain(std::make_shared<Drain>(socket, std::move(handler)));
}

}  // namespace draining

// ws://
class DrainingSocketConnection : public websocketpp::transport::asio::basic_socket::connection {
 public:
  using type = DrainingSocketConnection;
  using ptr = std::shared_ptr<type>;

  void async_shutdown(draining::ShutdownHandler handler) { draining::half_close_and_drain(get_socket(), std::move(handler)); }
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

// wss://: the TLS session ends as before (close_notify, and the peer's awaited) when the
// peer has nothing more on the way. When it is still sending (bytes arrive within
// kStillSending: it is in the middle of a frame we refused), waiting for its close_notify
// behind them fails and resets it; then the connection half-closes under TLS and drains
// as for ws://. The peer has our close frame; it sees the end of the stream without a
// close_notify after it.
constexpr std::chrono::milliseconds kStillSending{100};

class DrainingTlsConnection : public websocketpp::transport::asio::tls_socket::connection {
 public:
  using type = DrainingTlsConnection;
  using ptr = std::shared_ptr<type>;

  void async_shutdown(draining::ShutdownHandler handler) {
    struct Choice {
      Choice(asio::ip::tcp::socket& s, draining::ShutdownHandler h) : tcp(s), handler(std::move(h)), timer(s.get_executor()) {}
      asio::ip::tcp::socket& tcp;
      draining::ShutdownHandler handler;
      asio::steady_timer timer;
      bool decided = false;
    };
    auto c = std::make_shared<Choice>(get_next_layer(), std::move(handler));
    c->timer.expires_after(kStillSending);
    c->timer.async_wait([this, c](const asio::error_code& ec) {
      if (ec || c->decided) return;
      c->decided = true;
      asio::error_code ignored;
      c->tcp.cancel(ignored);  // the wait for bytes
      websocketpp::transport::asio::tls_socket::connection::async_shutdown(std::move(c->handler));
    });
    c->tcp.async_wait(asio::socket_base::wait_read, [c](const asio::error_code& ec) {
      if (c->decided) return;
      c->decided = true;
      c->timer.cancel();
      if (ec) {
        c->handler(ec);
        return;
      }
      draining::half_close_and_drain(c->tcp, std::move(c->handler));
    });
  }
};

class DrainingTlsEndpoint : public websocketpp::transport::asio::tls_socket::endpoint {
 public:
  using type = DrainingTlsEndpoint;
  using socket_con_type = DrainingTlsConnection;
  using socket_con_ptr = socket_con_type::ptr;

 protected:
  websocketpp::lib::error_code init(socket_con_ptr scon) {
    return websocketpp::transport::asio::tls_socket::endpoint::init(scon);
  }
};

}  // namespace musterd
