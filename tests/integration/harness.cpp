#include "harness.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <websocketpp/base64/base64.hpp>
#include <websocketpp/sha1/sha1.hpp>

extern char** environ;

namespace muster::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string errno_text(const std::string& what, int err) { return what + ": " + std::strerror(err); }

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string tail(const std::string& text, std::size_t max_chars = 2000) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

sockaddr_in loopback_address(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Milliseconds left until deadline, clamped to [0, INT_MAX] for poll().
int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
}

// poll() for events on fd until deadline; true if ready.
bool poll_until(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    int ms = remaining_ms(deadline);
    int rc = ::poll(&pfd, 1, ms);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// Decodes a chunked body; nullopt if malformed or incomplete.
std::optional<std::string> decode_chunked(const std::string& raw) {
  std::string body;
  std::size_t pos = 0;
  for (;;) {
    auto line_end = raw.find("\r\n", pos);
    if (line_end == std::string::npos) return std::nullopt;
    std::size_t size = 0;
    try {
      size = std::stoul(raw.substr(pos, line_end - pos), nullptr, 16);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    pos = line_end + 2;
    if (size == 0) return body;
    if (raw.size() < pos + size + 2) return std::nullopt;
    body.append(raw, pos, size);
    pos += size + 2;
  }
}

// Parses the status line and headers (everything before the blank line);
// the body is left empty.
std::optional<HttpResponse> parse_head(const std::string& raw) {
  auto header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) return std::nullopt;
  std::istringstream head(raw.substr(0, header_end));
  std::string status_line;
  std::getline(head, status_line);
  std::istringstream status_stream(status_line);
  std::string version;
  HttpResponse response;
  status_stream >> version >> response.status;
  if (!status_stream || version.rfind("HTTP/", 0) != 0) return std::nullopt;
  std::string line;
  while (std::getline(head, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    response.headers[to_lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return response;
}

// Parses a complete response (read up to EOF or Content-Length).
std::optional<HttpResponse> parse_response(const std::string& raw) {
  auto response = parse_head(raw);
  if (!response) return std::nullopt;
  std::string body = raw.substr(raw.find("\r\n\r\n") + 4);
  auto encoding = response->headers.find("transfer-encoding");
  if (encoding != response->headers.end() && to_lower(encoding->second).find("chunked") != std::string::npos) {
    auto decoded = decode_chunked(body);
    if (!decoded) return std::nullopt;
    body = std::move(*decoded);
  } else if (auto length = response->headers.find("content-length"); length != response->headers.end()) {
    std::size_t expected = 0;
    try {
      expected = std::stoul(length->second);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (body.size() < expected) return std::nullopt;
    body.resize(expected);
  }
  response->body = std::move(body);
  return response;
}

// True once raw holds a full response according to its Content-Length.
bool complete_by_length(const std::string& raw) {
  auto header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) return false;
  std::string head = to_lower(raw.substr(0, header_end));
  auto pos = head.find("\r\ncontent-length:");
  if (pos == std::string::npos) return false;
  try {
    std::size_t expected = std::stoul(head.substr(pos + 17));
    return raw.size() - header_end - 4 >= expected;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

// ---------------------------------------------------------------- TempDir

TempDir::TempDir(const std::string& prefix) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string base = (tmpdir != nullptr && *tmpdir != '\0') ? tmpdir : "/tmp";
  std::string templ = base + "/" + prefix + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error(errno_text("mkdtemp " + templ, errno));
  path_ = templ;
}

TempDir::~TempDir() { remove(); }

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
  path_.clear();
}

// ---------------------------------------------------------------- free_port

int free_port() {
  static std::mutex mutex;
  static std::set<int> issued;
  std::lock_guard<std::mutex> lock(mutex);
  for (int attempt = 0; attempt < 100; ++attempt) {
    Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.get() < 0) throw std::runtime_error(errno_text("free_port: socket", errno));
    sockaddr_in addr = loopback_address(0);
    if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error(errno_text("free_port: bind", errno));
    }
    socklen_t len = sizeof addr;
    if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error(errno_text("free_port: getsockname", errno));
    }
    int port = ntohs(addr.sin_port);
    if (issued.insert(port).second) return port;
  }
  throw std::runtime_error("free_port: no fresh port after 100 attempts");
}

// ---------------------------------------------------------------- Process

Process::Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
                 const std::optional<std::string>& stdin_text)
    : argv_(std::move(argv)), dir_(std::make_unique<TempDir>("muster-proc-")) {
  if (argv_.empty()) throw std::invalid_argument("Process: empty argv");
  out_path_ = dir_->path() + "/stdout";
  err_path_ = dir_->path() + "/stderr";
  write_file(out_path_, "");
  write_file(err_path_, "");
  std::string stdin_path = "/dev/null";
  if (stdin_text) {
    stdin_path = dir_->path() + "/stdin";
    write_file(stdin_path, *stdin_text);
  }

  // Environment: inherited entries, overridden or extended by env.
  std::vector<std::string> env_entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text(*entry);
    auto eq = text.find('=');
    if (eq != std::string::npos && env.count(text.substr(0, eq)) != 0) continue;
    env_entries.push_back(std::move(text));
  }
  for (const auto& [key, value] : env) env_entries.push_back(key + "=" + value);

  std::vector<std::string> args = argv_;  // posix_spawnp wants mutable char*
  std::vector<char*> arg_ptrs;
  for (auto& arg : args) arg_ptrs.push_back(arg.data());
  arg_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (auto& entry : env_entries) env_ptrs.push_back(entry.data());
  env_ptrs.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path_.c_str(), O_WRONLY | O_APPEND, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path_.c_str(), O_WRONLY | O_APPEND, 0);

  // The child starts with no blocked signals and default dispositions,
  // whatever the test process did to its own.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty_set;
  sigemptyset(&empty_set);
  posix_spawnattr_setsigmask(&attr, &empty_set);
  sigset_t default_set;
  sigfillset(&default_set);
  sigdelset(&default_set, SIGKILL);
  sigdelset(&default_set, SIGSTOP);
  posix_spawnattr_setsigdefault(&attr, &default_set);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, arg_ptrs[0], &actions, &attr, arg_ptrs.data(), env_ptrs.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(errno_text("cannot spawn " + describe(), rc));
  pid_ = pid;
}

Process::~Process() { kill_and_reap(); }

Process::Process(Process&& other) noexcept
    : argv_(std::move(other.argv_)),
      dir_(std::move(other.dir_)),
      out_path_(std::move(other.out_path_)),
      err_path_(std::move(other.err_path_)),
      pid_(std::exchange(other.pid_, -1)),
      exit_code_(std::exchange(other.exit_code_, std::nullopt)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    argv_ = std::move(other.argv_);
    dir_ = std::move(other.dir_);
    out_path_ = std::move(other.out_path_);
    err_path_ = std::move(other.err_path_);
    pid_ = std::exchange(other.pid_, -1);
    exit_code_ = std::exchange(other.exit_code_, std::nullopt);
  }
  return *this;
}

bool Process::try_reap(bool block) {
  if (exit_code_) return true;
  if (pid_ <= 0) return false;
  for (;;) {
    int status = 0;
    pid_t rc = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (rc == pid_) {
      exit_code_ = decode_wait_status(status);
      return true;
    }
    if (rc == 0) return false;
    if (errno == EINTR) continue;
    // ECHILD: reaped elsewhere (e.g. SIGCHLD ignored); the status is lost.
    exit_code_ = -1;
    return true;
  }
}

void Process::kill_and_reap() noexcept {
  if (pid_ <= 0 || exit_code_) return;
  ::kill(pid_, SIGKILL);
  try_reap(true);
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto step = 1ms;
  while (!try_reap(false)) {
    auto now = Clock::now();
    if (now >= deadline) {
      kill_and_reap();
      throw TimeoutError(describe() + " (pid " + std::to_string(pid_) + ") did not exit within " +
                         std::to_string(timeout.count()) + " ms; killed with SIGKILL.\n--- stdout:\n" +
                         tail(out()) + "\n--- stderr:\n" + tail(err()));
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(step, deadline - now));
    step = std::min(step * 2, std::chrono::milliseconds(10));
  }
  return *exit_code_;
}

bool Process::running() { return pid_ > 0 && !try_reap(false); }

void Process::kill(int sig) {
  // Only while unreaped: after waitpid the pid may belong to someone else.
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

int Process::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  kill(SIGTERM);
  try {
    return wait(grace);
  } catch (const TimeoutError&) {
    return exit_code_.value_or(-1);  // wait() already killed and reaped it
  }
}

std::string Process::out() const { return out_path_.empty() ? std::string() : read_file(out_path_); }

std::string Process::err() const { return err_path_.empty() ? std::string() : read_file(err_path_); }

std::string Process::describe() const {
  std::string text;
  for (const auto& arg : argv_) {
    if (!text.empty()) text += ' ';
    text += arg.find_first_of(" \t'\"") == std::string::npos ? arg : "'" + arg + "'";
  }
  return "[" + text + "]";
}

RunResult run(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
              const std::optional<std::string>& stdin_text, std::chrono::milliseconds timeout) {
  Process process(std::move(argv), env, stdin_text);
  RunResult result;
  result.code = process.wait(timeout);
  result.out = process.out();
  result.err = process.err();
  return result;
}

// ---------------------------------------------------------------- wait_until

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    auto now = Clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(step, deadline - now));
  }
}

// ---------------------------------------------------------------- HTTP

namespace {

// A non-blocking TCP socket connected to 127.0.0.1:port before deadline, or -1.
int connect_loopback(int port, Clock::time_point deadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = loopback_address(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (errno == EINPROGRESS && poll_until(fd, POLLOUT, deadline)) {
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error == 0) return fd;
  }
  ::close(fd);
  return -1;
}

// Writes all of data to a non-blocking socket before deadline.
bool send_all_until(int fd, const std::string& data, Clock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!poll_until(fd, POLLOUT, deadline)) return false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

// Reads from a non-blocking socket into raw until done(raw), EOF or deadline.
// False only on timeout.
bool read_until(int fd, std::string& raw, const std::function<bool(const std::string&)>& done,
                Clock::time_point deadline) {
  char buffer[16384];
  while (!done(raw)) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      raw.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!poll_until(fd, POLLIN, deadline)) return false;
    } else if (errno != EINTR) {
      return true;  // a reset after a complete response still counts
    }
  }
  return true;
}

}  // namespace

std::optional<HttpResponse> http_request(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Fd sock(connect_loopback(port, deadline));
  if (sock.get() < 0) return std::nullopt;
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUser-Agent: muster-test-harness\r\nConnection: close\r\n\r\n";
  if (!send_all_until(sock.get(), request, deadline)) return std::nullopt;
  std::string raw;
  if (!read_until(sock.get(), raw, complete_by_length, deadline)) return std::nullopt;
  return parse_response(raw);
}

std::optional<std::string> http_get(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto response = http_request(port, path, timeout);
  if (!response || response->status != 200) return std::nullopt;
  return std::move(response->body);
}

std::optional<std::string> http_raw(int port, const std::string& method, const std::string& path,
                                    std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Fd sock(connect_loopback(port, deadline));
  if (sock.get() < 0) return std::nullopt;
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUser-Agent: muster-test-harness\r\nConnection: close\r\n\r\n";
  if (!send_all_until(sock.get(), request, deadline)) return std::nullopt;
  std::string raw;
  if (!read_until(sock.get(), raw, [](const std::string&) { return false; }, deadline)) return std::nullopt;
  return raw;
}

int http_status(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto response = http_request(port, path, timeout);
  return response ? response->status : -1;
}

// ---------------------------------------------------------------- RawWs

namespace {

constexpr std::size_t kMaxIncomingMessage = 64u * 1024u * 1024u;
constexpr int kOpContinuation = 0x0;
constexpr int kOpText = 0x1;
constexpr int kOpBinary = 0x2;
constexpr int kOpClose = 0x8;
constexpr int kOpPing = 0x9;
constexpr int kOpPong = 0xA;
constexpr int kCloseNoStatus = 1005;
constexpr int kCloseAbnormal = 1006;

std::mt19937& random_engine() {
  thread_local std::mt19937 engine{std::random_device{}()};
  return engine;
}

std::string random_bytes(std::size_t count) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string bytes(count, '\0');
  for (auto& b : bytes) b = static_cast<char>(byte(random_engine()));
  return bytes;
}

std::string close_payload(int code, const std::string& reason) {
  std::string payload;
  payload.push_back(static_cast<char>((code >> 8) & 0xFF));
  payload.push_back(static_cast<char>(code & 0xFF));
  return payload + reason;
}

struct WsFrame {
  bool fin = true;
  int opcode = 0;
  std::string payload;
};

enum class ParseResult { frame, need_more, error };

// Parses the server frame starting at pos; advances pos past it on success.
// Server frames must be unmasked and use no RSV bits.
ParseResult parse_frame(const std::string& buffer, std::size_t& pos, WsFrame& frame) {
  auto byte_at = [&](std::size_t i) { return static_cast<unsigned char>(buffer[pos + i]); };
  std::size_t available = buffer.size() - pos;
  if (available < 2) return ParseResult::need_more;
  unsigned char b0 = byte_at(0);
  unsigned char b1 = byte_at(1);
  if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0) return ParseResult::error;
  std::size_t header = 2;
  std::uint64_t length = b1 & 0x7F;
  if (length == 126 || length == 127) {
    std::size_t extra = length == 126 ? 2 : 8;
    if (available < header + extra) return ParseResult::need_more;
    length = 0;
    for (std::size_t i = 0; i < extra; ++i) length = (length << 8) | byte_at(header + i);
    header += extra;
  }
  if (length > kMaxIncomingMessage) return ParseResult::error;
  if (available < header + length) return ParseResult::need_more;
  frame.fin = (b0 & 0x80) != 0;
  frame.opcode = b0 & 0x0F;
  frame.payload.assign(buffer, pos + header, static_cast<std::size_t>(length));
  pos += header + static_cast<std::size_t>(length);
  return ParseResult::frame;
}

}  // namespace

std::string ws_frame(int opcode, const std::string& payload, bool fin, bool masked) {
  std::string frame;
  frame.push_back(static_cast<char>((fin ? 0x80 : 0x00) | (opcode & 0x0F)));
  const int mask_bit = masked ? 0x80 : 0x00;
  const std::uint64_t size = payload.size();
  if (size < 126) {
    frame.push_back(static_cast<char>(mask_bit | static_cast<int>(size)));
  } else if (size <= 0xFFFF) {
    frame.push_back(static_cast<char>(mask_bit | 126));
    for (int shift = 8; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((size >> shift) & 0xFF));
  } else {
    frame.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((size >> shift) & 0xFF));
  }
  if (!masked) return frame + payload;
  const std::string key = random_bytes(4);
  frame += key;
  frame.reserve(frame.size() + payload.size());
  for (std::size_t i = 0; i < payload.size(); ++i) frame.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return frame;
}

struct RawWs::Impl {
  enum class State { idle, connecting, open, closed };

  int fd = -1;
  std::thread reader;
  std::thread writer;

  mutable std::mutex mutex;
  std::condition_variable cv;        // state, messages, reader_done, outgoing drained
  std::condition_variable write_cv;  // outgoing queued, stopping
  State state = State::idle;
  int handshake_status = 0;
  int close_code = 0;
  std::string close_reason;
  bool close_sent = false;
  bool write_failed = false;
  bool writing = false;
  bool reader_done = false;
  bool stopping = false;
  std::deque<std::string> messages;
  std::deque<std::string> outgoing;

  ~Impl() { stop(); }

  // Caller holds the lock.
  void mark_closed(int code, std::string reason = {}) {
    if (state == State::closed) return;
    state = State::closed;
    close_code = code;
    close_reason = std::move(reason);
    cv.notify_all();
  }

  // Caller holds the lock.
  bool enqueue(std::string bytes) {
    if (state != State::open || close_sent || write_failed) return false;
    outgoing.push_back(std::move(bytes));
    write_cv.notify_one();
    return true;
  }

  bool enqueue_locked(std::string bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    return enqueue(std::move(bytes));
  }

  bool wait_closed(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, timeout, [this] { return state == State::closed; });
  }

  void start(std::string initial) {
    reader = std::thread([this, initial = std::move(initial)]() mutable { read_loop(std::move(initial)); });
    writer = std::thread([this] { write_loop(); });
  }

  // Lets queued frames (e.g. our close reply) go out and the server end the
  // connection, within bounds; then tears everything down.
  void stop() {
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait_for(lock, 1s, [this] { return (outgoing.empty() && !writing) || write_failed || fd < 0; });
      cv.wait_for(lock, 1s, [this] { return reader_done || fd < 0; });
      stopping = true;
      mark_closed(kCloseAbnormal);
    }
    write_cv.notify_all();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes a blocked recv or send
    if (reader.joinable()) reader.join();
    if (writer.joinable()) writer.join();
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  void write_loop() {
    for (;;) {
      std::string bytes;
      {
        std::unique_lock<std::mutex> lock(mutex);
        write_cv.wait(lock, [this] { return stopping || !outgoing.empty(); });
        if (stopping) return;
        bytes = std::move(outgoing.front());
        outgoing.pop_front();
        writing = true;
      }
      bool ok = send_all(bytes);
      std::lock_guard<std::mutex> lock(mutex);
      writing = false;
      if (!ok) {
        // Keep reading: the server may have sent a close frame before resetting.
        write_failed = true;
        outgoing.clear();
      }
      cv.notify_all();
    }
  }

  bool send_all(const std::string& bytes) const {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return false;
      }
    }
    return true;
  }

  void read_loop(std::string buffer) {
    std::string fragmented;
    bool in_fragmented = false;
    std::vector<char> chunk(65536);
    bool ok = true;
    while (ok) {
      std::size_t pos = 0;
      WsFrame frame;
      ParseResult result = ParseResult::need_more;
      while (ok && (result = parse_frame(buffer, pos, frame)) == ParseResult::frame) {
        ok = handle_frame(frame, fragmented, in_fragmented);
      }
      buffer.erase(0, pos);
      if (!ok || result == ParseResult::error) break;
      ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
      if (n > 0) {
        buffer.append(chunk.data(), static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;  // EOF, reset or shutdown
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    mark_closed(kCloseAbnormal);  // no-op if a close frame came first
    reader_done = true;
    cv.notify_all();
  }

  // False on a protocol violation by the server.
  bool handle_frame(WsFrame& frame, std::string& fragmented, bool& in_fragmented) {
    switch (frame.opcode) {
      case kOpText:
      case kOpBinary:
        if (in_fragmented) return false;
        if (frame.fin) return deliver(std::move(frame.payload));
        fragmented = std::move(frame.payload);
        in_fragmented = true;
        return true;
      case kOpContinuation:
        if (!in_fragmented || fragmented.size() + frame.payload.size() > kMaxIncomingMessage) return false;
        fragmented += frame.payload;
        if (!frame.fin) return true;
        in_fragmented = false;
        return deliver(std::move(fragmented));
      case kOpClose: {
        if (!frame.fin || frame.payload.size() == 1 || frame.payload.size() > 125) return false;
        int code = kCloseNoStatus;
        std::string reason;
        if (frame.payload.size() >= 2) {
          code = (static_cast<unsigned char>(frame.payload[0]) << 8) | static_cast<unsigned char>(frame.payload[1]);
          reason = frame.payload.substr(2);
        }
        std::lock_guard<std::mutex> lock(mutex);
        if (!close_sent && !write_failed) {
          outgoing.push_back(ws_frame(kOpClose, code == kCloseNoStatus ? std::string() : close_payload(code, "")));
          close_sent = true;
          write_cv.notify_one();
        }
        mark_closed(code, std::move(reason));
        return true;  // keep reading until the server ends the TCP connection
      }
      case kOpPing: {
        if (!frame.fin || frame.payload.size() > 125) return false;
        enqueue_locked(ws_frame(kOpPong, frame.payload));
        return true;
      }
      case kOpPong:
        return frame.fin && frame.payload.size() <= 125;
      default:
        return false;
    }
  }

  bool deliver(std::string message) {
    std::lock_guard<std::mutex> lock(mutex);
    messages.push_back(std::move(message));
    cv.notify_all();
    return true;
  }
};

RawWs::RawWs() : impl_(std::make_unique<Impl>()) {}

RawWs::~RawWs() { close(); }

bool RawWs::connect(int port, std::chrono::milliseconds timeout, const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->state != Impl::State::idle) return false;
    impl_->state = Impl::State::connecting;
  }
  auto fail = [this](int fd) {
    if (fd >= 0) ::close(fd);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->reader_done = true;
    impl_->mark_closed(0);
    return false;
  };

  auto deadline = Clock::now() + timeout;
  int fd = connect_loopback(port, deadline);
  if (fd < 0) return fail(fd);

  const std::string key = websocketpp::base64_encode(random_bytes(16));
  std::string request = "GET " + (path.empty() || path[0] != '/' ? "/" + path : path) +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                        "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: muster-test-harness\r\n\r\n";
  if (!send_all_until(fd, request, deadline)) return fail(fd);

  std::string raw;
  auto headers_done = [](const std::string& text) { return text.find("\r\n\r\n") != std::string::npos; };
  if (!read_until(fd, raw, headers_done, deadline) || !headers_done(raw)) return fail(fd);
  auto header_end = raw.find("\r\n\r\n");
  auto response = parse_head(raw);
  if (!response) return fail(fd);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->handshake_status = response->status;
  }

  unsigned char digest[20];
  const std::string accept_source = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  websocketpp::sha1::calc(accept_source.data(), accept_source.size(), digest);
  const std::string expected_accept = websocketpp::base64_encode(digest, sizeof digest);
  auto header = [&](const char* name) {
    auto it = response->headers.find(name);
    return it == response->headers.end() ? std::string() : it->second;
  };
  if (response->status != 101 || to_lower(header("upgrade")) != "websocket" ||
      header("sec-websocket-accept") != expected_accept) {
    return fail(fd);
  }

  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) return fail(fd);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->fd = fd;
    impl_->state = Impl::State::open;
  }
  impl_->start(raw.substr(header_end + 4));
  return true;
}

int RawWs::handshake_status() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->handshake_status;
}

bool RawWs::send_text(const std::string& payload) { return impl_->enqueue_locked(ws_frame(kOpText, payload)); }

bool RawWs::send_binary(const std::string& payload) { return impl_->enqueue_locked(ws_frame(kOpBinary, payload)); }

bool RawWs::send_raw(const std::string& bytes) { return impl_->enqueue_locked(bytes); }

std::optional<std::string> RawWs::recv(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->cv.wait_for(lock, timeout,
                     [this] { return !impl_->messages.empty() || impl_->state == Impl::State::closed; });
  if (impl_->messages.empty()) return std::nullopt;
  std::string message = std::move(impl_->messages.front());
  impl_->messages.pop_front();
  return message;
}

bool RawWs::closed() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->state == Impl::State::closed;
}

int RawWs::close_code() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->close_code;
}

std::string RawWs::close_reason() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->close_reason;
}

bool RawWs::wait_closed(std::chrono::milliseconds timeout) { return impl_->wait_closed(timeout); }

void RawWs::close(int code, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->state != Impl::State::open) return;
    if (impl_->enqueue(ws_frame(kOpClose, close_payload(code, reason)))) impl_->close_sent = true;
  }
  if (!impl_->wait_closed(3s)) impl_->stop();
}

// ---------------------------------------------------------------- binaries

std::string binary_dir() {
  const char* dir = std::getenv("MUSTER_BIN_DIR");
  if (dir == nullptr || *dir == '\0') {
    throw std::runtime_error("MUSTER_BIN_DIR is not set; run the integration tests through ctest");
  }
  return dir;
}

std::string binary_path(const std::string& name) { return binary_dir() + "/" + name; }

}  // namespace muster::testing
