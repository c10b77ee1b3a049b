// The server's event loop as the core sees it: one thread runs everything posted to
// it, in order. The core (Hub, Subscriber) is written against this interface only, so
// it knows nothing of Asio or libuv; the composition root hands it an AsioLoop
// (adapters/asio_loop.hpp) and unit tests a ManualLoop that runs what they say, when
// they say.
//
// Thread: every method is called on the loop thread, and every callback runs there.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace musterd {

// One deadline, re-armed as often as needed. Destroying it cancels it.
class LoopTimer {
 public:
  virtual ~LoopTimer() = default;
  // Calls `fn` on the loop after `delay`, replacing any earlier arming.
  virtual void arm(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // The armed call, if any, will not happen.
  virtual void cancel() = 0;
};

class Loop {
 public:
  virtual ~Loop() = default;
  // Runs `fn` on the loop soon, after what is already queued.
  virtual void post(std::function<void()> fn) = 0;
  // Runs `work` on a worker thread (for slow, self-contained work: argon2id), then
  // `done` on the loop. `work` must touch nothing the loop owns.
  virtual void offload(std::function<void()> work, std::function<void()> done) = 0;
  virtual std::unique_ptr<LoopTimer> make_timer() = 0;
};

}  // namespace musterd
