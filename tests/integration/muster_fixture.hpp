// Fixtures for integration tests that drive the real programs: a musterd with its
// own data dir on a free loopback port, and muster clients each with their own home.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace muster::testing {

class ServerFixture {
 public:
  ServerFixture();  // `musterd init` in a fresh data dir; picks a free port
  ~ServerFixture();

  // `musterd user add` (throws if it fails).
  void add_user(const std::string& name, const std::string& roles, const std::string& area,
                const std::string& password = "password123");
  RunResult admin(std::vector<std::string> args, const std::optional<std::string>& stdin_text = std::nullopt);

  void start(std::vector<std::string> extra_args = {});  // serve; waits for /healthz (throws if not up in 10 s)
  void kill9();                                          // SIGKILL and reap
  void stop();                                           // SIGTERM and reap
  bool running();

  int port() const { return port_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return dir_.path(); }
  std::string log() const;  // the server's stderr so far
  // A metric's value from GET /metrics (nullopt if unreachable or absent).
  std::optional<double> metric(const std::string& name) const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> proc_;
  std::string past_logs_;
};

class ClientFixture {
 public:
  explicit ClientFixture(std::string name = "client");

  // `muster --home HOME ARGS...`
  RunResult run(std::vector<std::string> args, const std::optional<std::string>& stdin_text = std::nullopt,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // login with --password-stdin; throws unless it exits 0.
  void login(const ServerFixture& server, const std::string& user, const std::string& password = "password123");
  const std::string& home() const { return home_.path(); }

 private:
  std::string name_;
  TempDir home_;
};

// The id printed by a changing command ("<ULID> queued"); throws if there is none.
std::string queued_id(const RunResult& r);

}  // namespace muster::testing
