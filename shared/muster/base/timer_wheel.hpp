// A hashed timing wheel: the server's one place for deadlines (offer time-outs,
// escalations, reminders). It holds keys, not callbacks: advance() returns the keys
// that are due and the caller decides what they mean. Pure: time comes in as an
// argument, so tests drive it with any clock.
//
// Each key has at most one deadline; schedule() replaces it. Slots are `tick_ms`
// wide; a deadline further away than one turn of the wheel waits in its slot for
// the right turn (its `rounds`), so any deadline works with a fixed slot count.
// Deadlines in the past are due on the next advance(). next_deadline() tells the
// earliest, so a loop sleeps until then instead of ticking (libuv's uv__next_timeout).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "muster/base/time.hpp"

namespace muster {

class TimerWheel {
 public:
  // `start`: the time of the wheel's first tick. slot_count >= 1, tick_ms >= 1.
  explicit TimerWheel(UnixMs start, UnixMs tick_ms = 1000, std::size_t slot_count = 512);

  // Sets the deadline of `key` (replacing any earlier one).
  void schedule(const std::string& key, UnixMs deadline);
  void cancel(const std::string& key);
  bool contains(const std::string& key) const;
  std::size_t size() const;
  // The deadline of `key`, or nullopt.
  std::optional<UnixMs> deadline(const std::string& key) const;
  // The earliest deadline held (possibly in the past), or nullopt when empty.
  std::optional<UnixMs> next_deadline() const;

  // Moves the wheel to `now` and returns every key whose deadline is <= now, ordered
  // by deadline then key, and removes them. Time never goes back: a `now` earlier
  // than the last one returns nothing. Cost: the slots passed (at most one turn)
  // plus the entries in them, so a jump of days costs one turn, not days of ticks.
  std::vector<std::string> advance(UnixMs now);

 private:
  struct Entry {
    UnixMs deadline;
    std::size_t slot;
  };

  std::int64_t tick_of(UnixMs t) const;
  // The slot a deadline waits in: its own tick's, or the current one if it is due.
  std::size_t slot_for(UnixMs deadline) const;

  UnixMs start_;
  UnixMs tick_ms_;
  UnixMs now_;            // the last advance() (`start` before the first)
  std::int64_t current_;  // tick of now_: scanned again by the next advance()
  std::vector<std::unordered_map<std::string, UnixMs>> slots_;  // key -> deadline
  std::unordered_map<std::string, Entry> index_;
  std::set<std::pair<UnixMs, std::string>> order_;  // every entry, earliest first
};

}  // namespace muster
