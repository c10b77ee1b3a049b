// A blocking WebSocket connection for the command-line client, over WebSocket++ and
// standalone Asio; wss:// over Asio's OpenSSL stream (transports/tls.hpp). The Asio loop runs only inside connect/receive, on the calling
// thread: no background threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "muster/base/result.hpp"
#include "muster_client/connection.hpp"

namespace muster::client {

class WsConnection final : public Connection {
 public:
  // url is ws://HOST:PORT[/path] or wss://HOST:PORT[/path]; over wss:// the server's
  // certificate must verify against ca_file (PEM), or the system's store if it is "".
  WsConnection(std::string url, std::string ca_file = "");
  ~WsConnection() override;
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;
  class Impl;  // ws_connection.cpp: one for ws://, one for wss://

  // Opens the connection. A close with 1008 (policy: authentication failed) is
  // reported as Errc::forbidden; a certificate that does not verify as
  // Errc::unavailable naming the problem ("certificate verify failed: ...").
  Status connect(std::chrono::milliseconds timeout) override;
  Status send(const std::string& text) override;
  Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout) override;
  // Sends a normal close and waits briefly for it to complete.
  void close() override;

  int close_code() const;
  std::string close_reason() const;

 private:
  std::string url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muster::client
