#pragma once

// Harness for integration tests: real processes and sockets on 127.0.0.1.
//
// Everything here is independent of doctest: failures surface as exceptions
// (std::runtime_error and subclasses) or as return values the test checks.
// Every wait is bounded by an explicit timeout.

#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/types.h>

namespace muster::testing {

using namespace std::chrono_literals;

// A fresh directory (mkdtemp under $TMPDIR, else /tmp), removed recursively on
// destruction. Movable; a moved-from TempDir owns nothing.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "muster-test-");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  void remove() noexcept;

  std::string path_;
};

// A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read it,
// close). Never returns the same port twice within one test process.
int free_port();

// Thrown by Process::wait when the process outlives its timeout (it has been
// killed with SIGKILL and reaped by then).
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A child process started with posix_spawnp (PATH lookup).
//  * env entries are added to (or override) the inherited environment;
//  * stdin is the given text followed by EOF, or /dev/null without text;
//  * stdout and stderr go to files in a private temp directory, so output of
//    any size never blocks the child; out()/err() may be read at any time.
// Exit codes follow the shell convention: the exit status if the process
// exited, 128 + signal number if a signal killed it.
// The destructor SIGKILLs a still-running child and reaps it.
class Process {
 public:
  explicit Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {},
                   const std::optional<std::string>& stdin_text = std::nullopt);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits for exit and returns the exit code. On timeout: SIGKILL, reap, throw TimeoutError.
  int wait(std::chrono::milliseconds timeout);
  // True until the child has exited (reaps it as a side effect when it has).
  bool running();
  // Sends sig to the child if it has not been reaped yet.
  void kill(int sig = SIGKILL);
  // SIGTERM, wait up to grace, then SIGKILL. Returns the exit code (143 for a plain SIGTERM death).
  int terminate(std::chrono::milliseconds grace = 5s);
  // Exit code once the child has been reaped.
  std::optional<int> exit_code() const { return exit_code_; }

  std::string out() const;
  std::string err() const;
  pid_t pid() const { return pid_; }
  // The command line, for messages.
  std::string describe() const;

 private:
  bool try_reap(bool block);
  void kill_and_reap() noexcept;

  std::vector<std::string> argv_;
  std::unique_ptr<TempDir> dir_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Spawn, wait (TimeoutError after timeout), collect output.
RunResult run(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {},
              const std::optional<std::string>& stdin_text = std::nullopt,
              std::chrono::milliseconds timeout = 30s);

// Polls pred every step until it returns true (-> true) or timeout elapses (-> false).
// pred is evaluated at least once, and once more at the deadline.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = 20ms);

struct HttpResponse {
  int status = -1;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// GET http://127.0.0.1:port<path> (HTTP/1.1, Connection: close) over a plain
// socket, everything within timeout. nullopt on connect/IO failure, timeout or
// an unparsable response.
std::optional<HttpResponse> http_request(int port, const std::string& path,
                                         std::chrono::milliseconds timeout = 2s);
// The body on status 200, nullopt otherwise.
std::optional<std::string> http_get(int port, const std::string& path,
                                    std::chrono::milliseconds timeout = 2s);
// Everything the server sends (head and body, raw) to `method` path until it closes the
// connection; nullopt on connect/IO failure or timeout.
std::optional<std::string> http_raw(int port, const std::string& method, const std::string& path,
                                    std::chrono::milliseconds timeout = 2s);
// The status code, or -1 on failure.
int http_status(int port, const std::string& path, std::chrono::milliseconds timeout = 2s);

// A synchronous WebSocket client for raw-protocol tests: its own minimal
// RFC 6455 implementation over a loopback TCP socket, with a reader and a
// writer thread. It is deliberately not built on WebSocket++'s client, which
// terminates the connection on a write error and so drops a close frame the
// server sent before resetting (e.g. 1009 while the client is still writing an
// oversized message); here a failed write never stops reading.
//  * One connection per object; no extensions (no permessage-deflate).
//  * Incoming text and binary messages (fragments reassembled) are queued in
//    arrival order; incoming messages are capped at 64 MiB. Nothing limits
//    what is sent, so tests can send oversized messages.
//  * Pings are answered with pongs; a close frame from the server is answered
//    with a close frame echoing its code.
//  * send_raw() and ws_frame() let tests put malformed frames on the wire.
// All methods are safe to call from the test thread; every wait is bounded.
class RawWs {
 public:
  RawWs();
  ~RawWs();
  RawWs(const RawWs&) = delete;
  RawWs& operator=(const RawWs&) = delete;

  // Connects to ws://127.0.0.1:<port><path>; true once the server answered the
  // handshake with a valid 101. False on failure or timeout. Only the first
  // call on an object may succeed.
  bool connect(int port, std::chrono::milliseconds timeout = 3s, const std::string& path = "/");
  // HTTP status of the handshake response (101 on success, e.g. 404 when
  // refused); 0 if none was received.
  int handshake_status() const;
  // True if the message was queued for sending on an open connection (not
  // after a close frame was sent or a write failed).
  bool send_text(const std::string& payload);
  bool send_binary(const std::string& payload);
  // Queues bytes as they are, e.g. frames built with ws_frame().
  bool send_raw(const std::string& bytes);
  // Next received message; nullopt on timeout, or at once when closed and drained.
  std::optional<std::string> recv(std::chrono::milliseconds timeout = 3s);
  // A close frame was received, or the connection ended, failed or was abandoned.
  bool closed() const;
  // 0 until closed; then the code from the server's close frame, 1005 if it
  // had none, 1006 if the connection ended without a (valid) close frame.
  int close_code() const;
  std::string close_reason() const;
  bool wait_closed(std::chrono::milliseconds timeout);
  // Sends a close frame (if open) and waits up to 3 s for the server's.
  void close(int code = 1000, const std::string& reason = "");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One WebSocket frame as a client sends it: FIN bit, opcode (0 continuation,
// 1 text, 2 binary, 8 close, 9 ping, 10 pong, or anything else for negative
// tests), payload masked with a random key unless masked is false. Flip bits
// of the first byte afterwards to set RSV1-3.
std::string ws_frame(int opcode, const std::string& payload, bool fin = true, bool masked = true);

// Directory of the built programs (musterd, muster), from $MUSTER_BIN_DIR.
// Throws std::runtime_error if it is unset or empty.
std::string binary_dir();
// binary_dir() + "/" + name.
std::string binary_path(const std::string& name);

}  // namespace muster::testing
