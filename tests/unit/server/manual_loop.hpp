// A Loop (server/musterd/core/loop.hpp) that does nothing until the test says so:
// posted calls wait in a queue for run(), timers wait for fire_timers(), and offloaded
// work runs at once, on the test's thread. No threads, no sleeps.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "musterd/core/loop.hpp"

namespace muster_test {

class ManualLoop final : public musterd::Loop {
 public:
  void post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }
  void offload(std::function<void()> work, std::function<void()> done) override {
    work();
    done();
  }
  std::unique_ptr<musterd::LoopTimer> make_timer() override {
    auto timer = std::make_unique<Timer>();
    timers_.push_back(timer->state);
    return timer;
  }

  // Runs what was posted, and what that posts, until nothing is left. Returns how many.
  int run() {
    int n = 0;
    while (!posted_.empty()) {
      auto fn = std::move(posted_.front());
      posted_.pop_front();
      fn();
      ++n;
    }
    return n;
  }
  std::size_t posted() const { return posted_.size(); }

  // Fires every armed timer once (as if each one's delay had passed).
  void fire_timers() {
    std::vector<std::function<void()>> due;
    for (auto& weak : timers_) {
      if (auto state = weak.lock(); state && state->armed) {
        state->armed = false;
        due.push_back(state->fn);
      }
    }
    for (auto& fn : due) fn();
  }
  // The delay of the earliest armed timer, if any.
  std::optional<std::chrono::milliseconds> next_timer() const {
    std::optional<std::chrono::milliseconds> out;
    for (const auto& weak : timers_) {
      if (auto state = weak.lock(); state && state->armed && (!out || state->delay < *out)) out = state->delay;
    }
    return out;
  }

 private:
  struct TimerState {
    bool armed = false;
    std::chrono::milliseconds delay{0};
    std::function<void()> fn;
  };
  class Timer final : public musterd::LoopTimer {
   public:
    void arm(std::chrono::milliseconds delay, std::function<void()> fn) override {
      state->armed = true;
      state->delay = delay;
      state->fn = std::move(fn);
    }
    void cancel() override { state->armed = false; }
    std::shared_ptr<TimerState> state = std::make_shared<TimerState>();
  };

  std::deque<std::function<void()>> posted_;
  std::vector<std::weak_ptr<TimerState>> timers_;
};

}  // namespace muster_test
