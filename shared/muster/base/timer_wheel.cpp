#include "muster/base/timer_wheel.hpp"

#include <algorithm>
#include <utility>

#include "muster/base/civil.hpp"

namespace muster {

// Degenerate sizes are raised to 1 rather than rejected: a one-slot or 1 ms wheel
// is slow, not wrong, and a constructor that cannot fail keeps callers simple.
TimerWheel::TimerWheel(UnixMs start, UnixMs tick_ms, std::size_t slot_count)
    : start_(start),
      tick_ms_(std::max<UnixMs>(tick_ms, 1)),
      now_(start),
      current_(0),
      slots_(std::max<std::size_t>(slot_count, 1)) {}

std::int64_t TimerWheel::tick_of(UnixMs t) const {
  return civil::floor_div(t - start_, tick_ms_);  // callers pass t >= now_ >= start_
}

std::size_t TimerWheel::slot_for(UnixMs deadline) const {
  // Comparing with now_ first also keeps deadlines far in the past (or
  // INT64_MIN) out of the subtraction in tick_of.
  const std::int64_t tick = deadline <= now_ ? current_ : tick_of(deadline);
  return static_cast<std::size_t>(tick % static_cast<std::int64_t>(slots_.size()));
}

void TimerWheel::schedule(const std::string& key, UnixMs deadline) {
  const std::size_t slot = slot_for(deadline);
  auto [it, inserted] = index_.try_emplace(key, Entry{deadline, slot});
  if (!inserted) {
    slots_[it->second.slot].erase(key);
    order_.erase({it->second.deadline, key});
    it->second = Entry{deadline, slot};
  }
  slots_[slot][key] = deadline;
  order_.emplace(deadline, key);
}

void TimerWheel::cancel(const std::string& key) {
  const auto it = index_.find(key);
  if (it == index_.end()) return;
  slots_[it->second.slot].erase(key);
  order_.erase({it->second.deadline, key});
  index_.erase(it);
}

bool TimerWheel::contains(const std::string& key) const { return index_.count(key) != 0; }

std::size_t TimerWheel::size() const { return index_.size(); }

std::optional<UnixMs> TimerWheel::deadline(const std::string& key) const {
  const auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return it->second.deadline;
}

std::optional<UnixMs> TimerWheel::next_deadline() const {
  if (order_.empty()) return std::nullopt;
  return order_.begin()->first;
}

std::vector<std::string> TimerWheel::advance(UnixMs now) {
  if (now < now_) return {};
  const std::int64_t target = tick_of(now);
  const auto slot_count = static_cast<std::int64_t>(slots_.size());
  // The current tick is scanned again: it may hold deadlines later in the tick
  // than the last `now`, and deadlines scheduled in the past since then. Past one
  // turn every slot has been visited, so a long jump stops there.
  const std::int64_t ticks = std::min(target - current_ + 1, slot_count);

  std::vector<std::pair<UnixMs, std::string>> due;
  for (std::int64_t i = 0; i < ticks; ++i) {
    auto& slot = slots_[static_cast<std::size_t>((current_ + i) % slot_count)];
    // Entries of a later turn (deadline > now) stay where they are.
    for (auto it = slot.begin(); it != slot.end();) {
      if (it->second <= now) {
        index_.erase(it->first);
        order_.erase({it->second, it->first});
        due.emplace_back(it->second, it->first);
        it = slot.erase(it);
      } else {
        ++it;
      }
    }
  }
  now_ = now;
  current_ = target;

  std::sort(due.begin(), due.end());
  std::vector<std::string> keys;
  keys.reserve(due.size());
  for (auto& entry : due) keys.push_back(std::move(entry.second));
  return keys;
}

}  // namespace muster
