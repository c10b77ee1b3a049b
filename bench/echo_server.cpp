// The memory figure's peer: a bare WebSocket++ echo server built from the same headers
// and configuration as musterd's endpoint (standalone Asio, no TLS, no
// permessage-deflate, same frame limit and backlog), with GET /healthz.
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <asio/signal_set.hpp>

#include <iostream>

#include "bench.hpp"

namespace bench {

int cmd_echo_server(const muster::Args& a) {
  using Server = websocketpp::server<websocketpp::config::asio>;
  const std::string listen = a.get_or("listen", "127.0.0.1:0");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen takes HOST:PORT");
  std::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) throw std::runtime_error("bad address " + listen);
  const auto port = static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));

  asio::io_context io;
  Server ep;
  ep.clear_access_channels(websocketpp::log::alevel::all);
  ep.clear_error_channels(websocketpp::log::elevel::all);
  ep.init_asio(&io, ec);
  if (ec) throw std::runtime_error("asio: " + ec.message());
  ep.set_reuse_addr(true);
  ep.set_listen_backlog(4096);
  ep.set_max_message_size(256 * 1024);
  ep.set_message_handler([&ep](websocketpp::connection_hdl h, const Server::message_ptr& m) {
    std::error_code e;
    ep.send(h, m->get_payload(), m->get_opcode(), e);
  });
  ep.set_http_handler([&ep](websocketpp::connection_hdl h) {
    auto con = ep.get_con_from_hdl(h);
    con->set_status(websocketpp::http::status_code::ok);
    con->set_body("ok\n");
  });
  ep.listen(asio::ip::tcp::endpoint(address, port), ec);
  if (!ec) ep.start_accept(ec);
  if (ec) throw std::runtime_error("cannot listen on " + listen + ": " + ec.message());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) {
    std::error_code ignored;
    ep.stop_listening(ignored);
    io.stop();
  });
  std::cerr << "echo-server: listening on " << listen << '\n';
  io.run();
  return 0;
}

}  // namespace bench
