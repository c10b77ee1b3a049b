// The login throttle's rules (server/musterd/core/login_throttle.hpp), with a given clock.

#include <doctest/doctest.h>

#include "musterd/core/login_throttle.hpp"

using musterd::LoginThrottle;
using namespace std::chrono_literals;

namespace {
const LoginThrottle::TimePoint t0 = LoginThrottle::TimePoint{} + 1000h;
}

TEST_CASE("throttle: three free failures, then waits that double up to the cap") {
  LoginThrottle t;
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(t.check("wang", "10.0.0.1", t0).has_value());
    t.failed("wang", "10.0.0.1", t0);
  }
  auto first = t.check("wang", "10.0.0.1", t0);
  REQUIRE(first.has_value());
  CHECK(first->why == LoginThrottle::Why::user_address);
  // A hello while waiting counts as one more failure: 2 s, then 4 s, …
  CHECK(first->wait >= 2000ms);
  CHECK(first->wait <= 2000ms);
  auto second = t.check("wang", "10.0.0.1", t0);
  REQUIRE(second.has_value());
  CHECK(second->wait >= 4000ms);
  std::chrono::milliseconds last{0};
  for (int i = 0; i < 40; ++i) last = t.check("wang", "10.0.0.1", t0)->wait;
  CHECK(last <= 15min);
  CHECK(last >= 15min);
  // Another address, and another name from this one, are not held up.
  CHECK_FALSE(t.check("wang", "10.0.0.2", t0).has_value());
  CHECK_FALSE(t.check("lin", "10.0.0.1", t0).has_value());
}

TEST_CASE("throttle: the wait ends; a success forgets the pair's failures") {
  LoginThrottle t;
  for (int i = 0; i < 3; ++i) t.failed("wang", "10.0.0.1", t0);
  CHECK(t.check("wang", "10.0.0.1", t0 + 500ms).has_value());
  // Past the wait (which the refused hello made 2 s from then).
  CHECK_FALSE(t.check("wang", "10.0.0.1", t0 + 3s).has_value());
  t.succeeded("wang", "10.0.0.1");
  t.failed("wang", "10.0.0.1", t0 + 4s);
  CHECK_FALSE(t.check("wang", "10.0.0.1", t0 + 4s).has_value());
  // An hour after the last failure they are forgotten.
  for (int i = 0; i < 5; ++i) t.failed("lin", "10.0.0.9", t0);
  CHECK(t.check("lin", "10.0.0.9", t0 + 1s).has_value());
  CHECK_FALSE(t.check("lin", "10.0.0.9", t0 + 2h).has_value());
}

TEST_CASE("throttle: one address trying many names is held up after 20 failures") {
  LoginThrottle t;
  for (int i = 0; i < 20; ++i) t.failed("name" + std::to_string(i), "10.0.0.7", t0);
  auto r = t.check("someone-else", "10.0.0.7", t0);
  REQUIRE(r.has_value());
  CHECK(r->why == LoginThrottle::Why::address);
  CHECK_FALSE(t.check("someone-else", "10.0.0.8", t0).has_value());
}

TEST_CASE("throttle: a name guessed from many addresses holds up only addresses that failed for it") {
  LoginThrottle t;
  for (int i = 0; i < 20; ++i) t.failed("wang", "10.1.0." + std::to_string(i), t0);
  auto guessed = t.check("wang", "10.1.0.3", t0);
  REQUIRE(guessed.has_value());
  CHECK(guessed->why == LoginThrottle::Why::user);
  // A clean record for the name: checked as usual, so the name cannot be locked out.
  CHECK_FALSE(t.check("wang", "192.168.1.5", t0).has_value());
  // Refused hellos do not extend the name's wait.
  const auto before = guessed->wait;
  for (int i = 0; i < 10; ++i) t.check("wang", "10.1.0.3", t0);
  auto again = t.check("wang", "10.1.0.4", t0);
  REQUIRE(again.has_value());
  CHECK(again->wait <= before);
}

TEST_CASE("throttle: the tables stay bounded") {
  musterd::LoginThrottlePolicy p;
  p.max_entries = 100;
  LoginThrottle t(p);
  for (int i = 0; i < 1000; ++i) t.failed("u" + std::to_string(i), "a" + std::to_string(i), t0 + std::chrono::milliseconds(i));
  CHECK(t.entries() <= 300);
}
