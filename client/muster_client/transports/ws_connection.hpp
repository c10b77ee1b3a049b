// A blocking WebSocket connection for the command-line client, over WebSocket++ and
// standalone Asio. The Asio loop runs only inside connect/receive, on the calling
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
  explicit WsConnection(std::string url);
  ~WsConnection() override;
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Opens ws://HOST:PORT[/path]. A close with 1008 (policy: authentication failed)
  // is reported as Errc::forbidden.
  Status connect(std::chrono::milliseconds timeout) override;
  Status send(const std::string& text) override;
  Result<std::optional<std::string>> receive(std::chrono::milliseconds timeout) override;
  // Sends a normal close and waits briefly for it to complete.
  void close() override;

  int close_code() const;
  std::string close_reason() const;

 private:
  class Impl;
  std::string url_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muster::client
