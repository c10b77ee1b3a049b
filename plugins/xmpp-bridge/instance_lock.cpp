#include "xmpp-bridge/instance_lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace xmpp_bridge {

namespace {

using SteadyClock = std::chrono::steady_clock;

struct flock whole_file(short type) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = 0;
  l.l_len = 0;
  return l;
}

bool try_lock(int fd) {
  struct flock l = whole_file(F_WRLCK);
  return ::fcntl(fd, F_SETLK, &l) == 0;
}

// The pid holding the lock, or 0 if nobody does now.
pid_t holder(int fd) {
  struct flock l = whole_file(F_WRLCK);
  if (::fcntl(fd, F_GETLK, &l) != 0 || l.l_type == F_UNLCK) return 0;
  return l.l_pid;
}

bool wait_for(int fd, std::chrono::milliseconds patience) {
  const auto deadline = SteadyClock::now() + patience;
  while (SteadyClock::now() < deadline) {
    if (try_lock(fd)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return try_lock(fd);
}

}  // namespace

muster::Result<InstanceLock> InstanceLock::take(const std::string& path, std::chrono::milliseconds patience,
                                                const std::function<void(const std::string&)>& log) {
  // POSIX record locks (not flock): F_GETLK names the holder's pid. They are released
  // when this process closes any descriptor of the file, so it is opened only here.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return muster::make_error(muster::Errc::unavailable, "cannot open " + path + ": " + std::strerror(errno));
  bool locked = try_lock(fd);
  for (int sig : {SIGTERM, SIGKILL}) {
    if (locked) break;
    const pid_t pid = holder(fd);
    if (pid > 0 && pid != ::getpid()) {
      log(std::string("another bridge instance (pid ") + std::to_string(pid) + ") serves " + path + ": " +
          (sig == SIGTERM ? "asking it to hand over" : "it did not leave; killing it"));
      ::kill(pid, sig);
    }
    locked = wait_for(fd, patience);
  }
  if (!locked) {
    ::close(fd);
    return muster::make_error(muster::Errc::unavailable, "another bridge instance keeps " + path + " locked");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    log("cannot write the pid into " + path + ": " + std::strerror(errno));
  }
  return InstanceLock(fd);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace xmpp_bridge
