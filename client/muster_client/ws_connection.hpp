// A blocking WebSocket connection for the command-line client, over WebSocket++ and
// standalone Asio. The Asio loop runs only inside connect/receive, on the calling
// thread: no background threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "muster/base/result.hpp"

namespace muster::client {

class WsConnection {
 public:
  WsConnection();
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Opens ws://HOST:PORT[/path]. Errc::unavailable if the server cannot be reached
  // within `timeout`; Errc::invalid for a malformed URL.
  Status connect(const std::string& url, std::chrono::milliseconds timeout);

  Status send(const std::string& text);

  // The next frame, waiting at most `timeout`: nullopt if none came in time;
  // Errc::unavailable once the connection is closed (close_code() says why).
  Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout);

  // Sends a normal close and waits briefly for it to complete.
  void close();

  int close_code() const;
  std::string close_reason() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muster::client
