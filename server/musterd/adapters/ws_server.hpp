// The WebSocket transport: WebSocket++ on standalone Asio, plus GET /healthz and
// GET /metrics on the same port, as ws:// or, given a certificate and key, as wss://
// (TLS 1.2 or later over Asio's OpenSSL stream; one code path, a template over
// WebSocket++'s two configs). Each connection is one Subscriber (core/subscriber.hpp)
// with this adapter as its port: it decodes frames, hands them over, and sends what
// the Subscriber gives it. No rule of the protocol lives here; what does:
//   - the frame size limit (WebSocket++ closes with 1009 beyond it);
//   - the Origin allow-list for browsers;
//   - the hello deadline: a connection that has not logged in within
//     hello_timeout_ms is closed with 1008;
//   - connections waiting to log in (from the TCP accept to the welcome), per source
//     address and in all: beyond either limit the oldest of them is closed (1013, or
//     at once if it has not finished its handshake), a password being checked last.
//     A flood of silent connections so costs the flooder its own oldest, never the
//     logins of others;
//   - accept: its own loop (not WebSocket++'s, which tries again at once and spins at
//     100% CPU while out of descriptors): when accept fails it sheds the oldest
//     connections waiting to log in and waits (10 ms, doubling to 1 s) before the next;
//   - /metrics: a bearer token if given; or only on a separate loopback listener;
//   - the send window, read from WebSocket++'s buffered amount; WebSocket++ tells no
//     one when it drains, so a session waiting for room looks again: every 2 ms while
//     the peer reads, less often (up to every 250 ms) while it does not.
//
// Thread: the Asio loop thread, with the Hub.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "muster/base/result.hpp"
#include "musterd/core/hub.hpp"

namespace musterd {

struct WsOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_frame_bytes = 256 * 1024;        // larger frames close the connection with 1009
  std::size_t max_send_buffer = 16 * 1024 * 1024;  // live events wait in the log beyond this
  std::vector<std::string> allowed_origins;        // browsers' Origin header must be one of these
  int hello_timeout_ms = 10000;                    // log in within this or be closed (1008)
  // PEM files: the certificate chain (the server's first) and its private key. Both
  // given: wss:// and https:// only. Neither: plain ws://, on a loopback address unless
  // insecure_listen (a TLS proxy in front, say).
  std::string tls_cert;
  std::string tls_key;
  bool insecure_listen = false;
  // Connections not logged in yet: beyond these the oldest are closed (1013).
  int max_unauthenticated = 1000;
  int max_unauthenticated_per_address = 50;  // an IPv4 address, an IPv6 /64
  // Non-empty: GET /metrics wants "Authorization: Bearer <token>" (401 otherwise);
  // /healthz stays open.
  std::string metrics_token;
  // Set: /metrics and /healthz are (also) served over plain HTTP on this loopback
  // address, and /metrics no longer on the main port.
  std::string metrics_host;
  std::uint16_t metrics_port = 0;
};

class WsServer {
 public:
  WsServer(asio::io_context& io, Hub& hub, WsOptions options);
  ~WsServer();
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  // Binds and starts accepting. Errors: invalid (the certificate or key does not load or
  // they do not match; plain ws:// on an address other than loopback without
  // insecure_listen), unavailable (the address is bad or taken).
  muster::Status listen();
  // "ws" or "wss".
  const char* scheme() const;
  // Stops accepting; the Hub ends the sessions.
  void stop();

  class Impl;  // ws_server.cpp: one endpoint type for ws://, one for wss://

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace musterd
