#include "xmpp-bridge/host_pipe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace xmpp_bridge {

namespace {
constexpr std::size_t kMaxPending = 16 * 1024 * 1024;  // a line longer than this is not musterd's
}

HostPipe::HostPipe() {
  const int flags = ::fcntl(STDOUT_FILENO, F_GETFL);
  if (flags >= 0) ::fcntl(STDOUT_FILENO, F_SETFL, flags | O_NONBLOCK);
}

bool HostPipe::fill(bool block) {
  if (closed_) return false;
  pollfd pfd{STDIN_FILENO, POLLIN, 0};
  const int rc = ::poll(&pfd, 1, block ? -1 : 0);
  if (rc < 0 && errno == EINTR) return false;
  if (rc <= 0) return false;
  char chunk[65536];
  const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return false;
  if (n <= 0 || in_.size() > kMaxPending) {
    closed_ = true;
    return false;
  }
  in_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> HostPipe::read_first_line() {
  for (;;) {
    const auto nl = in_.find('\n');
    if (nl != std::string::npos) {
      std::string line = in_.substr(0, nl);
      in_.erase(0, nl + 1);
      return line;
    }
    if (closed_) return std::nullopt;
    fill(true);
  }
}

std::vector<std::string> HostPipe::read_available() {
  while (fill(false)) {
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (auto nl = in_.find('\n'); nl != std::string::npos; nl = in_.find('\n', start)) {
    if (nl > start) lines.push_back(in_.substr(start, nl - start));
    start = nl + 1;
  }
  in_.erase(0, start);
  return lines;
}

void HostPipe::write(const std::vector<std::string>& lines) {
  if (closed_) return;
  for (const auto& line : lines) {
    out_ += line;
    out_ += '\n';
  }
  flush();
}

void HostPipe::flush() {
  while (!out_.empty() && !closed_) {
    const ssize_t n = ::write(STDOUT_FILENO, out_.data(), out_.size());
    if (n > 0) {
      out_.erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;  // musterd reads it later; the loop flushes again
    } else {
      closed_ = true;  // EPIPE: musterd is gone
      out_.clear();
    }
  }
}

}  // namespace xmpp_bridge
