// One bridge instance at a time per state file, and the handover between two.
//
// When musterd stops, its bridge keeps serving residents (their requests queue in the
// state file). When musterd starts again it spawns a new instance, which must take
// over without losing or duplicating a request:
//   1. the new instance tries the lock (a POSIX record lock on STATE.lock); the old one
//      holds it, so the new one reads the holder's pid from the lock and sends it
//      SIGTERM;
//   2. the old one goes unavailable in XMPP (the server stops routing residents'
//      messages to it: they wait in the server's offline storage), keeps reading for a
//      moment to commit what was already on its way, and exits: the lock is released;
//   3. the new one takes the lock, and only then opens the state file and logs in to
//      XMPP (with the same resource), where it receives the messages that waited, and
//      submits the queued requests with the ULIDs they were given when they arrived.
// A request is committed before the resident is answered, and its op id is fixed at
// that moment, so whichever instance submits it, musterd makes one task of it.
//
// Thread: the bridge's one thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "muster/base/result.hpp"

namespace xmpp_bridge {

class InstanceLock {
 public:
  // Takes the lock on `path` (created if missing) and writes this process's pid into
  // it. If another instance holds it: SIGTERM to the holder, wait up to `patience`;
  // then SIGKILL and wait as long again. Errors: unavailable.
  static muster::Result<InstanceLock> take(const std::string& path, std::chrono::milliseconds patience,
                                           const std::function<void(const std::string&)>& log);

  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&&) = delete;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  ~InstanceLock();  // releases it

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace xmpp_bridge
