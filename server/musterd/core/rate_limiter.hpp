// Fair use: each user's ops are metered by two token buckets (ops and bytes), with the
// budget of their kind of account from the policy (domain::LimitsPolicy). An op that
// does not fit is not taken at all: the caller answers it `rate_limited` with the wait,
// and the client sends it again after that wait (it stays in its outbox).
//
// Hand-written: a token bucket is a few lines of arithmetic on an injected clock, and
// the server core must stay free of threads and timers (no library's limiter runs on
// "now" given by the caller). Thread: the server's loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "muster/base/time.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/policy.hpp"

namespace musterd {

// A bucket of up to `burst` tokens refilled at `per_minute` tokens a minute, starting
// full. Fractions of a token are kept, so a slow rate still refills.
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(std::int64_t per_minute, std::int64_t burst, muster::UnixMs now);

  // How long until `cost` tokens are there (0: now). A cost above the burst counts as
  // the burst, so it fits into a full bucket.
  muster::UnixMs wait_for(std::int64_t cost, muster::UnixMs now);
  // Takes `cost` tokens; call only when wait_for(cost, now) is 0.
  void take(std::int64_t cost);
  double tokens() const { return tokens_; }

 private:
  void refill(muster::UnixMs now);
  double per_ms_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  muster::UnixMs last_ = 0;
};

// The budget for an account with these roles: plugin over lead over volunteer.
const muster::domain::Budget& budget_for(const muster::domain::LimitsPolicy& limits,
                                         const muster::domain::Roles& roles);

class RateLimiter {
 public:
  explicit RateLimiter(muster::domain::LimitsPolicy limits) : limits_(limits) {}

  // Meters one op of `bytes` bytes by `user`: 0 if it may go (its tokens are taken),
  // else the milliseconds to wait before it would fit (nothing is taken).
  //
  // Once an op is refused, the user's later ops are refused too until the wait is over,
  // and each one that comes meanwhile moves the end on by at least the time one op
  // token takes to refill. So a refill does not let a later op of a burst in ahead of
  // an earlier refused one (a client's outbox is in order: a claim must not overtake
  // the task it claims), and a client that ignores the wait gets nothing at all.
  muster::UnixMs admit(const std::string& user, const muster::domain::Roles& roles, std::int64_t bytes,
                       muster::UnixMs now);

 private:
  struct Buckets {
    const muster::domain::Budget* budget = nullptr;  // the budget they were made for
    TokenBucket ops;
    TokenBucket bytes;
    muster::UnixMs blocked_until = 0;  // refused until then (see admit)
  };
  muster::domain::LimitsPolicy limits_;
  // One entry per user who sent an op: bounded by the directory.
  std::unordered_map<std::string, Buckets> users_;
};

}  // namespace musterd
