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

#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

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

// Parses a complete response (read up to EOF or Content-Length).
std::optional<HttpResponse> parse_response(const std::string& raw) {
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
  std::string body = raw.substr(header_end + 4);
  auto encoding = response.headers.find("transfer-encoding");
  if (encoding != response.headers.end() && to_lower(encoding->second).find("chunked") != std::string::npos) {
    auto decoded = decode_chunked(body);
    if (!decoded) return std::nullopt;
    body = std::move(*decoded);
  } else if (auto length = response.headers.find("content-length"); length != response.headers.end()) {
    std::size_t expected = 0;
    try {
      expected = std::stoul(length->second);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (body.size() < expected) return std::nullopt;
    body.resize(expected);
  }
  response.body = std::move(body);
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

std::optional<HttpResponse> http_request(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.get() < 0) return std::nullopt;

  sockaddr_in addr = loopback_address(port);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return std::nullopt;
    if (!poll_until(sock.get(), POLLOUT, deadline)) return std::nullopt;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      return std::nullopt;
    }
  }

  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUser-Agent: muster-test-harness\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(sock.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!poll_until(sock.get(), POLLOUT, deadline)) return std::nullopt;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return std::nullopt;
    }
  }

  std::string raw;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(sock.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      raw.append(buffer, static_cast<std::size_t>(n));
      if (complete_by_length(raw)) break;
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!poll_until(sock.get(), POLLIN, deadline)) return std::nullopt;
    } else if (errno != EINTR) {
      // A reset after a complete response still counts.
      break;
    }
  }
  return parse_response(raw);
}

std::optional<std::string> http_get(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto response = http_request(port, path, timeout);
  if (!response || response->status != 200) return std::nullopt;
  return std::move(response->body);
}

int http_status(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto response = http_request(port, path, timeout);
  return response ? response->status : -1;
}

// ---------------------------------------------------------------- RawWs

struct RawWs::Impl {
  using Client = websocketpp::client<websocketpp::config::asio_client>;
  enum class State { idle, connecting, open, closed };

  Client client;
  websocketpp::connection_hdl hdl;
  std::thread io_thread;

  mutable std::mutex mutex;
  std::condition_variable cv;
  State state = State::idle;
  std::deque<std::string> messages;
  int close_code = 0;
  std::string close_reason;
  bool init_ok = false;

  Impl() {
    client.clear_access_channels(websocketpp::log::alevel::all);
    client.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    client.init_asio(ec);
    init_ok = !ec;
    client.set_max_message_size(64u * 1024u * 1024u);

    client.set_open_handler([this](websocketpp::connection_hdl) { set_state(State::open); });
    client.set_fail_handler([this](websocketpp::connection_hdl) { set_state(State::closed); });
    client.set_close_handler([this](websocketpp::connection_hdl handle) {
      std::error_code error;
      auto con = client.get_con_from_hdl(std::move(handle), error);
      std::lock_guard<std::mutex> lock(mutex);
      if (con) {
        close_code = con->get_remote_close_code();
        close_reason = con->get_remote_close_reason();
      }
      state = State::closed;
      cv.notify_all();
    });
    client.set_message_handler([this](websocketpp::connection_hdl, Client::message_ptr msg) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(msg->get_payload());
      cv.notify_all();
    });
  }

  void set_state(State new_state) {
    std::lock_guard<std::mutex> lock(mutex);
    state = new_state;
    cv.notify_all();
  }

  State current_state() const {
    std::lock_guard<std::mutex> lock(mutex);
    return state;
  }

  bool send(const std::string& payload, websocketpp::frame::opcode::value op) {
    if (current_state() != State::open) return false;
    std::error_code ec;
    client.send(hdl, payload, op, ec);
    return !ec;
  }

  bool wait_closed(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, timeout, [this] { return state == State::closed; });
  }

  // Stops the io loop whatever the connection is doing, and marks it closed.
  void abandon() {
    client.stop();
    set_state(State::closed);
  }

  void run_io() {
    try {
      client.run();
    } catch (const std::exception&) {
      // A handler threw; the connection is unusable either way.
    }
    set_state(State::closed);
  }
};

RawWs::RawWs() : impl_(std::make_unique<Impl>()) {}

RawWs::~RawWs() {
  close();
  impl_->client.stop();
  if (impl_->io_thread.joinable()) impl_->io_thread.join();
}

bool RawWs::connect(int port, std::chrono::milliseconds timeout, const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->init_ok || impl_->state != Impl::State::idle) return false;
    impl_->state = Impl::State::connecting;
  }
  impl_->client.set_open_handshake_timeout(static_cast<long>(timeout.count()));
  std::error_code ec;
  std::string uri = "ws://127.0.0.1:" + std::to_string(port) + (path.empty() || path[0] != '/' ? "/" : "") + path;
  auto con = impl_->client.get_connection(uri, ec);
  if (ec || !con) {
    impl_->set_state(Impl::State::closed);
    return false;
  }
  impl_->hdl = con->get_handle();
  impl_->client.connect(con);
  impl_->io_thread = std::thread([impl = impl_.get()] { impl->run_io(); });

  std::unique_lock<std::mutex> lock(impl_->mutex);
  bool settled = impl_->cv.wait_for(lock, timeout, [this] { return impl_->state != Impl::State::connecting; });
  if (settled) return impl_->state == Impl::State::open;
  lock.unlock();
  impl_->abandon();
  return false;
}

bool RawWs::send_text(const std::string& payload) { return impl_->send(payload, websocketpp::frame::opcode::text); }

bool RawWs::send_binary(const std::string& payload) {
  return impl_->send(payload, websocketpp::frame::opcode::binary);
}

std::optional<std::string> RawWs::recv(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->cv.wait_for(lock, timeout,
                     [this] { return !impl_->messages.empty() || impl_->state == Impl::State::closed; });
  if (impl_->messages.empty()) return std::nullopt;
  std::string message = std::move(impl_->messages.front());
  impl_->messages.pop_front();
  return message;
}

bool RawWs::closed() const { return impl_->current_state() == Impl::State::closed; }

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
  Impl::State state = impl_->current_state();
  if (state == Impl::State::idle || state == Impl::State::closed) return;
  if (state == Impl::State::open) {
    std::error_code ec;
    impl_->client.close(impl_->hdl, static_cast<websocketpp::close::status::value>(code), reason, ec);
    if (!ec && impl_->wait_closed(3s)) return;
  }
  impl_->abandon();
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
