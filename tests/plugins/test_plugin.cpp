// muster-test-plugin: a tiny plugin for the plugin host's integration tests
// (tests/integration/plugin_host_test.cpp). Its config's "mode" says how it behaves:
//
//   echo     subscribes to config "scopes" (default: every scope init offers), appends
//            every line it is sent to config "out" (fsync'd), then acknowledges each
//            event with a cursor line; after caught_up submits config "ops" (each
//            {"id","kind","body"}) once per run.
//   garbage  subscribes to config "subscribe" (if given), writes lines that are not JSON,
//            not objects, of unknown types, not UTF-8, an op with a bad body and one line
//            over the size limit, then floods config "flood" log lines as fast as its
//            pipe takes them; it never reads its stdin again.
//   crash    exits with status 3 right after init.
//   relay    the test speaks for it: it appends every line it is sent to config "out"
//            (fsync'd) and writes to its stdout every line the test appends to the file
//            config "in" (the transport conformance suite drives a session this way).
//   lines    writes each string of config "lines" as a line (`\xff` in one stands for the
//            byte 0xff, for lines that are not UTF-8), then waits without reading.
//
// Every mode writes its pid to config "pid_file" (if given) and exits when its stdin
// reaches EOF (musterd stopped) or after config "max_seconds" (default 300): a test
// that fails cannot leave it behind.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool send(const json& j) { return write_all(STDOUT_FILENO, j.dump() + "\n"); }

// Reads one line from stdin; false on EOF.
bool read_line(std::string& buffer, std::string& line) {
  for (;;) {
    const auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    char chunk[65536];
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

void append_out(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  write_all(fd, line + "\n");
  ::fsync(fd);
  ::close(fd);
}

// Waits without reading stdin until it is closed or the deadline passes.
void hang(SteadyClock::time_point deadline) {
  while (SteadyClock::now() < deadline) {
    pollfd pfd{STDIN_FILENO, 0, 0};
    if (::poll(&pfd, 1, 200) > 0 && (pfd.revents & (POLLHUP | POLLERR)) != 0) return;
  }
}

int run_garbage(const json& config, SteadyClock::time_point deadline) {
  const int flood = config.value("flood", 20000);
  if (config.contains("subscribe")) send(json{{"t", "subscribe"}, {"scopes", config["subscribe"]}});
  write_all(STDOUT_FILENO, "this is not json\n");
  write_all(STDOUT_FILENO, "[1,2,3]\n");
  write_all(STDOUT_FILENO, "{\"t\":\"teleport\"}\n");
  write_all(STDOUT_FILENO, "{\"t\":\"op\",\"id\":\"01KBADBADBADBADBADBADBADBA\",\"kind\":\"task.create\",\"body\":7}\n");
  write_all(STDOUT_FILENO, "{\"t\":\"log\",\"message\":\"" + std::string(100 * 1024, 'x') + "\"}\n");
  write_all(STDOUT_FILENO, "\xff\xfe not utf-8\n");
  for (int i = 0; i < flood && SteadyClock::now() < deadline; ++i) {
    if (!send(json{{"t", "log"}, {"level", "debug"}, {"message", "flood " + std::to_string(i)}})) return 0;
  }
  send(json{{"t", "log"}, {"level", "info"}, {"message", "flood done"}});
  hang(deadline);
  return 0;
}

int run_lines(const json& config, SteadyClock::time_point deadline) {
  for (const auto& item : config.value("lines", json::array())) {
    std::string line = item.get<std::string>();
    for (auto at = line.find("\\xff"); at != std::string::npos; at = line.find("\\xff", at + 1)) {
      line.replace(at, 4, "\xff");
    }
    write_all(STDOUT_FILENO, line + "\n");
  }
  hang(deadline);
  return 0;
}

int run_echo(const json& config, const json& init, std::string& buffer, SteadyClock::time_point deadline) {
  const std::string out = config.value("out", "");
  json scopes = config.contains("scopes") ? config["scopes"] : init["scopes"];
  send(json{{"t", "subscribe"}, {"scopes", scopes}});
  bool ops_sent = false;
  std::string line;
  while (SteadyClock::now() < deadline && read_line(buffer, line)) {
    append_out(out, line);
    auto j = json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    const std::string t = j.value("t", "");
    if (t == "event") {
      send(json{{"t", "cursor"}, {"cursors", {{j["scope"].get<std::string>(), j["seq"].get<std::int64_t>()}}}});
    } else if (t == "caught_up" && !ops_sent) {
      ops_sent = true;
      for (const auto& op : config.value("ops", json::array())) {
        send(json{{"t", "op"}, {"id", op["id"]}, {"kind", op["kind"]}, {"body", op["body"]}});
      }
      if (config.contains("subscribe_after")) send(json{{"t", "subscribe"}, {"scopes", config["subscribe_after"]}});
    }
  }
  return 0;
}

int run_relay(const json& config, std::string& buffer, SteadyClock::time_point deadline) {
  const std::string out = config.value("out", "");
  const std::string in_path = config.value("in", "");
  std::string pending;  // of the in file: read, not yet a whole line
  off_t offset = 0;
  // What arrived before this loop (after init) is in `buffer` already.
  std::string line;
  while (SteadyClock::now() < deadline) {
    for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n')) {
      append_out(out, buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
    const int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in >= 0) {
      char chunk[65536];
      ssize_t n;
      while ((n = ::pread(in, chunk, sizeof chunk, offset)) > 0) {
        pending.append(chunk, static_cast<std::size_t>(n));
        offset += n;
      }
      ::close(in);
      const auto last = pending.rfind('\n');
      if (last != std::string::npos) {
        if (!write_all(STDOUT_FILENO, pending.substr(0, last + 1))) return 0;
        pending.erase(0, last + 1);
      }
    }
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    if (::poll(&pfd, 1, 10) > 0) {
      char chunk[65536];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n <= 0) return 0;  // musterd stopped
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
  }
  return 0;
}

}  // namespace

int main() {
  std::string buffer, line;
  if (!read_line(buffer, line)) return 1;
  const json init = json::parse(line, nullptr, false);
  if (!init.is_object() || init.value("t", "") != "init") {
    std::cerr << "test plugin: the first line is not init: " << line << '\n';
    return 2;
  }
  const json config = init["config"];
  const std::string mode = config.value("mode", "echo");
  const auto deadline = SteadyClock::now() + std::chrono::seconds(config.value("max_seconds", 300));
  if (config.contains("pid_file")) {
    std::ofstream(config["pid_file"].get<std::string>()) << ::getpid() << '\n';
  }
  append_out(config.value("out", ""), line);
  std::cerr << "test plugin: " << mode << " mode, pid " << ::getpid() << std::endl;
  if (mode == "crash") return 3;
  if (mode == "garbage") return run_garbage(config, deadline);
  if (mode == "relay") return run_relay(config, buffer, deadline);
  if (mode == "lines") return run_lines(config, deadline);
  return run_echo(config, init, buffer, deadline);
}
