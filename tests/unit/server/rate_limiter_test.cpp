#include "musterd/core/rate_limiter.hpp"

#include <doctest/doctest.h>

#include <string>

#include "muster/domain/policy.hpp"

using musterd::budget_for;
using musterd::RateLimiter;
using musterd::TokenBucket;
using muster::UnixMs;
namespace domain = muster::domain;

namespace {
constexpr UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z
constexpr UnixMs kSecond = 1000;
}  // namespace

TEST_CASE("a token bucket starts full, empties, and refills at its rate") {
  TokenBucket b(60, 3, kStart);  // one a second, three at once
  for (int i = 0; i < 3; ++i) {
    CHECK(b.wait_for(1, kStart) == 0);
    b.take(1);
  }
  // Empty: the next token comes in one second.
  CHECK(b.wait_for(1, kStart) == kSecond);
  CHECK(b.wait_for(1, kStart + 400) == 600);
  CHECK(b.wait_for(1, kStart + kSecond) == 0);
  b.take(1);
  // Two tokens need two seconds from empty.
  CHECK(b.wait_for(2, kStart + kSecond) == 2 * kSecond);
  // Never more than the burst, however long it was left alone.
  CHECK(b.wait_for(1, kStart + 3600 * kSecond) == 0);
  CHECK(b.tokens() == doctest::Approx(3));
}

TEST_CASE("a token bucket: a cost above the burst fits a full bucket; a clock that goes back refills nothing") {
  TokenBucket b(60, 10, kStart);
  CHECK(b.wait_for(50, kStart) == 0);  // counted as 10
  b.take(50);
  CHECK(b.tokens() == doctest::Approx(0));
  CHECK(b.wait_for(1, kStart - 3600 * kSecond) == kSecond);  // back an hour: still empty
  CHECK(b.wait_for(1, kStart + kSecond) == 0);
}

TEST_CASE("a token bucket with a slow rate keeps fractions of a token") {
  TokenBucket b(1, 1, kStart);  // one a minute
  b.take(1);
  for (int s = 1; s < 60; ++s) CHECK(b.wait_for(1, kStart + s * kSecond) > 0);
  CHECK(b.wait_for(1, kStart + 60 * kSecond) == 0);
}

TEST_CASE("budgets by role: plugin over lead over volunteer") {
  const domain::LimitsPolicy limits;
  CHECK(&budget_for(limits, {domain::Role::volunteer}) == &limits.volunteer);
  CHECK(&budget_for(limits, {domain::Role::hotline}) == &limits.volunteer);
  CHECK(&budget_for(limits, {domain::Role::lead}) == &limits.lead);
  CHECK(&budget_for(limits, {domain::Role::coordinator, domain::Role::volunteer}) == &limits.lead);
  CHECK(&budget_for(limits, {domain::Role::admin}) == &limits.lead);
  CHECK(&budget_for(limits, {domain::Role::plugin, domain::Role::lead}) == &limits.plugin);
  // The defaults: a bridge carries many residents, a lead more than a volunteer.
  CHECK(limits.plugin.ops_per_minute > limits.lead.ops_per_minute);
  CHECK(limits.lead.ops_per_minute > limits.volunteer.ops_per_minute);
  CHECK(limits.volunteer.op_burst >= 100);
}

TEST_CASE("the rate limiter meters each user apart, by ops and by bytes, and takes nothing from a refused op") {
  domain::LimitsPolicy limits;
  limits.volunteer = domain::Budget{60, 5, 1, 4};  // 5 ops at once, 4 KiB at once, 1 KiB a minute
  RateLimiter limiter(limits);
  const domain::Roles volunteer{domain::Role::volunteer};
  // Ops: five small ones go, the sixth waits a second.
  for (int i = 0; i < 5; ++i) CHECK(limiter.admit("wang", volunteer, 10, kStart) == 0);
  CHECK(limiter.admit("wang", volunteer, 10, kStart) == kSecond);
  // Someone else is not affected.
  CHECK(limiter.admit("bob", volunteer, 10, kStart) == 0);
  // Bytes: bob's 4 KiB are nearly gone after one big op; the next big one waits for
  // the bytes (1 KiB a minute) though an op token is there.
  CHECK(limiter.admit("bob", volunteer, 4000, kStart) == 0);
  const UnixMs wait = limiter.admit("bob", volunteer, 2048, kStart);
  CHECK(wait > 50 * kSecond);
  // What comes after a refused op waits too (so it cannot overtake it), even a small op.
  CHECK(limiter.admit("bob", volunteer, 10, kStart + 1) > 0);
  // After the wait the big one goes: the refusals took nothing.
  CHECK(limiter.admit("bob", volunteer, 2048, kStart + wait + 2 * kSecond) == 0);
}

TEST_CASE("the rate limiter gives a user whose role changed the new budget") {
  domain::LimitsPolicy limits;
  limits.volunteer = domain::Budget{60, 1, 1024, 1024};
  limits.lead = domain::Budget{60, 100, 1024, 1024};
  RateLimiter limiter(limits);
  CHECK(limiter.admit("wang", {domain::Role::volunteer}, 10, kStart) == 0);
  CHECK(limiter.admit("wang", {domain::Role::volunteer}, 10, kStart) > 0);
  CHECK(limiter.admit("wang", {domain::Role::lead}, 10, kStart) == 0);
  CHECK(limiter.admit("wang", {domain::Role::lead}, 10, kStart) == 0);
}

TEST_CASE("policy: limits are read, checked and written back") {
  auto p = domain::Policy::from_json(nlohmann::json::parse(
      R"({"limits": {"volunteer": {"ops_per_minute": 30, "op_burst": 50}, "plugin": {"kib_burst": 65536}}})"));
  REQUIRE(p.ok());
  CHECK(p->limits.volunteer.ops_per_minute == 30);
  CHECK(p->limits.volunteer.op_burst == 50);
  CHECK(p->limits.volunteer.kib_per_minute == domain::LimitsPolicy{}.volunteer.kib_per_minute);
  CHECK(p->limits.plugin.kib_burst == 65536);
  CHECK(p->limits.lead.op_burst == domain::LimitsPolicy{}.lead.op_burst);
  auto back = domain::Policy::from_json(p->to_json());
  REQUIRE(back.ok());
  CHECK(back->limits.volunteer.op_burst == 50);

  for (const char* bad : {R"({"limits": {"volunteers": {}}})", R"({"limits": {"lead": {"ops_per_minute": 0}}})",
                          R"({"limits": {"lead": {"ops_per_minute": "10"}}})",
                          R"({"limits": {"lead": {"op_burst": 1.5}}})", R"({"limits": {"lead": {"burst": 10}}})",
                          R"({"limits": []})"}) {
    CAPTURE(bad);
    auto r = domain::Policy::from_json(nlohmann::json::parse(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("limits") != std::string::npos);
  }
}

TEST_CASE("the rate limiter keeps a refused burst in order, and shuts out a client that ignores the wait") {
  domain::LimitsPolicy limits;
  limits.volunteer = domain::Budget{60, 2, 1024, 1024};  // one op a second, two at once
  RateLimiter limiter(limits);
  const domain::Roles v{domain::Role::volunteer};
  CHECK(limiter.admit("wang", v, 10, kStart) == 0);
  CHECK(limiter.admit("wang", v, 10, kStart) == 0);
  CHECK(limiter.admit("wang", v, 10, kStart) == kSecond);  // op 3: refused
  // Op 4 comes when a token is back: still refused, or it would overtake op 3.
  CHECK(limiter.admit("wang", v, 10, kStart + kSecond - 1) == kSecond);
  // A client that waits what it was told after its last refusal gets in.
  CHECK(limiter.admit("wang", v, 10, kStart + 2 * kSecond - 1) == 0);
  // One that keeps sending every 100 ms gets nothing, however long it goes on.
  RateLimiter other(limits);
  CHECK(other.admit("bob", v, 10, kStart) == 0);
  CHECK(other.admit("bob", v, 10, kStart) == 0);
  int let_in = 0;
  for (int i = 1; i <= 600; ++i) let_in += other.admit("bob", v, 10, kStart + i * 100) == 0 ? 1 : 0;
  CHECK(let_in == 0);
}
