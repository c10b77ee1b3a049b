#include "muster/base/timer_wheel.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

using muster::TimerWheel;
using muster::UnixMs;
using Keys = std::vector<std::string>;

namespace {
constexpr UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z
constexpr UnixMs kSecond = 1000;
constexpr UnixMs kDay = 86400 * kSecond;
}  // namespace

TEST_CASE("TimerWheel returns due keys ordered by deadline, then key") {
  TimerWheel wheel(kStart);
  wheel.schedule("c", kStart + 5 * kSecond);
  wheel.schedule("b", kStart + 2 * kSecond);
  wheel.schedule("a", kStart + 5 * kSecond);
  wheel.schedule("d", kStart + 2 * kSecond + 1);
  wheel.schedule("late", kStart + 10 * kSecond);
  CHECK(wheel.size() == 5);

  CHECK(wheel.advance(kStart + 1999).empty());
  CHECK(wheel.advance(kStart + 5 * kSecond) == Keys{"b", "d", "a", "c"});
  CHECK(wheel.size() == 1);
  CHECK_FALSE(wheel.contains("a"));
  CHECK(wheel.contains("late"));
  CHECK(wheel.advance(kStart + 9 * kSecond).empty());
  CHECK(wheel.advance(kStart + 10 * kSecond) == Keys{"late"});
  CHECK(wheel.size() == 0);
}

TEST_CASE("TimerWheel is exact to the millisecond inside a tick") {
  TimerWheel wheel(kStart, 1000, 8);
  wheel.schedule("k", kStart + 3 * kSecond + 500);
  CHECK(wheel.advance(kStart + 3 * kSecond + 499).empty());  // same tick, not yet due
  CHECK(wheel.contains("k"));
  CHECK(wheel.advance(kStart + 3 * kSecond + 500) == Keys{"k"});
}

TEST_CASE("TimerWheel schedule replaces the earlier deadline") {
  TimerWheel wheel(kStart);
  wheel.schedule("offer", kStart + 10 * kSecond);
  wheel.schedule("offer", kStart + 3 * kSecond);
  CHECK(wheel.size() == 1);
  CHECK(wheel.deadline("offer") == kStart + 3 * kSecond);
  CHECK(wheel.advance(kStart + 3 * kSecond) == Keys{"offer"});
  CHECK(wheel.advance(kStart + 20 * kSecond).empty());  // the old deadline is gone too

  wheel.schedule("offer", kStart + 30 * kSecond);
  wheel.schedule("offer", kStart + 40 * kSecond);  // later this time
  CHECK(wheel.advance(kStart + 35 * kSecond).empty());
  CHECK(wheel.advance(kStart + 40 * kSecond) == Keys{"offer"});
}

TEST_CASE("TimerWheel cancel removes a key; cancelling an unknown key does nothing") {
  TimerWheel wheel(kStart);
  wheel.schedule("a", kStart + kSecond);
  wheel.schedule("b", kStart + kSecond);
  wheel.cancel("a");
  wheel.cancel("never-scheduled");
  CHECK(wheel.size() == 1);
  CHECK_FALSE(wheel.contains("a"));
  CHECK(wheel.deadline("a") == std::nullopt);
  CHECK(wheel.advance(kStart + kSecond) == Keys{"b"});
  wheel.cancel("b");  // already fired
  CHECK(wheel.size() == 0);
}

TEST_CASE("TimerWheel holds deadlines many turns away in their slot until their turn") {
  // 8 slots of 1 s: one turn is 8 s.
  TimerWheel wheel(kStart, 1000, 8);
  wheel.schedule("turn0", kStart + 3 * kSecond);
  wheel.schedule("turn1", kStart + 11 * kSecond);  // same slot, next turn
  wheel.schedule("turn5", kStart + 43 * kSecond);  // same slot, five turns on
  for (UnixMs t = kStart; t < kStart + 3 * kSecond; t += 250) CHECK(wheel.advance(t).empty());
  CHECK(wheel.advance(kStart + 3 * kSecond) == Keys{"turn0"});
  for (UnixMs t = kStart + 4 * kSecond; t < kStart + 11 * kSecond; t += kSecond) {
    CHECK(wheel.advance(t).empty());
  }
  CHECK(wheel.advance(kStart + 11 * kSecond) == Keys{"turn1"});
  for (UnixMs t = kStart + 12 * kSecond; t < kStart + 43 * kSecond; t += kSecond) {
    CHECK(wheel.advance(t).empty());
  }
  CHECK(wheel.advance(kStart + 43 * kSecond) == Keys{"turn5"});
}

TEST_CASE("TimerWheel jumps days in one advance") {
  TimerWheel wheel(kStart, 1000, 16);
  wheel.schedule("hour", kStart + 3600 * kSecond);
  wheel.schedule("day", kStart + kDay);
  wheel.schedule("week", kStart + 7 * kDay);
  wheel.schedule("day-and-a-bit", kStart + kDay + 1);
  CHECK(wheel.advance(kStart + 3 * kDay) == Keys{"hour", "day", "day-and-a-bit"});
  CHECK(wheel.deadline("week") == kStart + 7 * kDay);
  CHECK(wheel.advance(kStart + 7 * kDay - 1).empty());
  CHECK(wheel.advance(kStart + 365 * kDay) == Keys{"week"});
  // After the jump the wheel still works tick by tick.
  wheel.schedule("next", kStart + 365 * kDay + 2 * kSecond);
  CHECK(wheel.advance(kStart + 365 * kDay + kSecond).empty());
  CHECK(wheel.advance(kStart + 365 * kDay + 2 * kSecond) == Keys{"next"});
}

TEST_CASE("TimerWheel: deadlines in the past are due at the next advance") {
  TimerWheel wheel(kStart, 1000, 8);
  CHECK(wheel.advance(kStart + 100 * kSecond).empty());
  wheel.schedule("just-passed", kStart + 100 * kSecond);
  wheel.schedule("long-ago", kStart - 50 * kDay);
  wheel.schedule("epoch", 0);
  wheel.schedule("minimum", std::numeric_limits<UnixMs>::min());
  CHECK(wheel.size() == 4);
  // Even an advance to the same instant delivers them.
  CHECK(wheel.advance(kStart + 100 * kSecond) ==
        Keys{"minimum", "epoch", "long-ago", "just-passed"});
  CHECK(wheel.size() == 0);
}

TEST_CASE("TimerWheel: time never goes back") {
  TimerWheel wheel(kStart, 1000, 8);
  wheel.schedule("a", kStart + 5 * kSecond);
  CHECK(wheel.advance(kStart + 10 * kSecond) == Keys{"a"});
  wheel.schedule("b", kStart + 12 * kSecond);
  wheel.schedule("past", kStart + kSecond);
  CHECK(wheel.advance(kStart + 2 * kSecond).empty());  // earlier than the last advance
  CHECK(wheel.advance(kStart - kDay).empty());         // and before the start
  CHECK(wheel.size() == 2);
  CHECK(wheel.advance(kStart + 12 * kSecond) == Keys{"past", "b"});
}

TEST_CASE("TimerWheel before its first advance: start is the current time") {
  TimerWheel wheel(kStart, 1000, 8);
  wheel.schedule("at-start", kStart);
  wheel.schedule("before-start", kStart - kSecond);
  CHECK(wheel.advance(kStart - 1).empty());
  CHECK(wheel.advance(kStart) == Keys{"before-start", "at-start"});
}

TEST_CASE("TimerWheel with one slot and a 1 ms tick") {
  TimerWheel wheel(0, 1, 1);
  wheel.schedule("b", 7);
  wheel.schedule("a", 3);
  CHECK(wheel.advance(2).empty());
  CHECK(wheel.advance(3) == Keys{"a"});
  CHECK(wheel.advance(100) == Keys{"b"});
}

TEST_CASE("TimerWheel::next_deadline is the earliest deadline held, past ones included") {
  TimerWheel wheel(kStart);
  CHECK(wheel.next_deadline() == std::nullopt);
  wheel.schedule("late", kStart + 90 * kSecond);
  wheel.schedule("soon", kStart + 5 * kSecond);
  CHECK(wheel.next_deadline() == kStart + 5 * kSecond);
  wheel.schedule("soon", kStart + 100 * kSecond);  // moved later: "late" is next now
  CHECK(wheel.next_deadline() == kStart + 90 * kSecond);
  wheel.schedule("past", kStart - kSecond);
  CHECK(wheel.next_deadline() == kStart - kSecond);
  CHECK(wheel.advance(kStart) == Keys{"past"});
  CHECK(wheel.next_deadline() == kStart + 90 * kSecond);
  wheel.cancel("late");
  CHECK(wheel.next_deadline() == kStart + 100 * kSecond);
  CHECK(wheel.advance(kStart + 100 * kSecond) == Keys{"soon"});
  CHECK(wheel.next_deadline() == std::nullopt);
}

TEST_CASE("TimerWheel is copyable") {
  TimerWheel wheel(kStart, 1000, 8);
  wheel.schedule("a", kStart + kSecond);
  TimerWheel copy = wheel;
  CHECK(wheel.advance(kStart + kSecond) == Keys{"a"});
  CHECK(copy.contains("a"));
  CHECK(copy.advance(kStart + kSecond) == Keys{"a"});
}

namespace {

// The model: key -> deadline, plus a multimap ordered by (deadline, key).
struct Model {
  std::map<std::string, UnixMs> deadlines;
  std::multimap<UnixMs, std::string> by_deadline;
  UnixMs now;

  void remove(const std::string& key) {
    const auto it = deadlines.find(key);
    if (it == deadlines.end()) return;
    auto [first, last] = by_deadline.equal_range(it->second);
    for (auto d = first; d != last; ++d) {
      if (d->second == key) {
        by_deadline.erase(d);
        break;
      }
    }
    deadlines.erase(it);
  }
  void schedule(const std::string& key, UnixMs deadline) {
    remove(key);
    deadlines[key] = deadline;
    by_deadline.emplace(deadline, key);
  }
  Keys advance(UnixMs to) {
    if (to < now) return {};
    now = to;
    std::vector<std::pair<UnixMs, std::string>> due;
    for (auto it = by_deadline.begin(); it != by_deadline.end() && it->first <= to;) {
      due.emplace_back(it->first, it->second);
      deadlines.erase(it->second);
      it = by_deadline.erase(it);
    }
    std::sort(due.begin(), due.end());
    Keys keys;
    for (auto& d : due) keys.push_back(d.second);
    return keys;
  }
};

void run_model(std::uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  const auto below = [&](std::uint64_t n) { return rng() % n; };
  const UnixMs tick = 1 + static_cast<UnixMs>(below(50));
  const std::size_t slots = 1 + static_cast<std::size_t>(below(32));
  TimerWheel wheel(kStart, tick, slots);
  Model model{{}, {}, kStart};
  UnixMs now = kStart;
  for (int step = 0; step < steps; ++step) {
    CAPTURE(step);
    const std::string key = "k" + std::to_string(below(40));
    const std::uint64_t op = below(100);
    if (op < 45) {
      // Deadlines from a little in the past to several turns ahead, some on equal times.
      const UnixMs span = tick * static_cast<UnixMs>(slots) * 4;
      const UnixMs deadline =
          now - span / 4 + static_cast<UnixMs>(below(static_cast<std::uint64_t>(span)));
      wheel.schedule(key, deadline - deadline % 7);
      model.schedule(key, deadline - deadline % 7);
    } else if (op < 60) {
      wheel.cancel(key);
      model.remove(key);
    } else if (op < 95) {
      // Mostly small steps, sometimes a jump of many turns, sometimes back in time.
      const std::uint64_t kind = below(10);
      UnixMs to = now + static_cast<UnixMs>(below(static_cast<std::uint64_t>(tick * 3)));
      if (kind == 0) {
        to = now + static_cast<UnixMs>(below(static_cast<std::uint64_t>(tick) * slots * 20));
      }
      if (kind == 1) to = now - static_cast<UnixMs>(below(static_cast<std::uint64_t>(tick) * 5));
      REQUIRE(wheel.advance(to) == model.advance(to));
      now = std::max(now, to);
    } else {
      REQUIRE(wheel.contains(key) == (model.deadlines.count(key) != 0));
    }
    REQUIRE(wheel.size() == model.deadlines.size());
    REQUIRE(wheel.next_deadline() ==
            (model.by_deadline.empty() ? std::nullopt : std::optional<UnixMs>(model.by_deadline.begin()->first)));
    if (model.deadlines.count(key) != 0) {
      REQUIRE(wheel.deadline(key) == model.deadlines[key]);
    } else {
      REQUIRE(wheel.deadline(key) == std::nullopt);
    }
  }
  REQUIRE(wheel.advance(std::numeric_limits<UnixMs>::max()) ==
          model.advance(std::numeric_limits<UnixMs>::max()));
  REQUIRE(wheel.size() == 0);
}

}  // namespace

TEST_CASE("TimerWheel matches a multimap model under random operations") {
  std::uint64_t seed = 1;
  if (const char* env = std::getenv("MUSTER_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  for (int run = 0; run < 50; ++run) {
    const std::uint64_t s = seed + static_cast<std::uint64_t>(run);
    CAPTURE(s);
    run_model(s, 2000);
  }
}
