#include "musterd/core/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace musterd {

namespace domain = muster::domain;

namespace {
constexpr muster::UnixMs kMinute = 60 * 1000;
}

TokenBucket::TokenBucket(std::int64_t per_minute, std::int64_t burst, muster::UnixMs now)
    : per_ms_(static_cast<double>(std::max<std::int64_t>(per_minute, 1)) / kMinute),
      burst_(static_cast<double>(std::max<std::int64_t>(burst, 1))),
      tokens_(burst_),
      last_(now) {}

void TokenBucket::refill(muster::UnixMs now) {
  if (now <= last_) return;  // the clock went back: no refill until it passes `last_` again
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now - last_) * per_ms_);
  last_ = now;
}

muster::UnixMs TokenBucket::wait_for(std::int64_t cost, muster::UnixMs now) {
  refill(now);
  const double need = std::min(static_cast<double>(cost), burst_);
  if (tokens_ >= need) return 0;
  // Rounded up: after this long the tokens are there.
  return std::max<muster::UnixMs>(1, static_cast<muster::UnixMs>(std::ceil((need - tokens_) / per_ms_)));
}

void TokenBucket::take(std::int64_t cost) { tokens_ -= std::min(static_cast<double>(cost), burst_); }

const domain::Budget& budget_for(const domain::LimitsPolicy& limits, const domain::Roles& roles) {
  if (roles.has(domain::Role::plugin)) return limits.plugin;
  if (roles.has(domain::Role::lead) || roles.has(domain::Role::coordinator) || roles.has(domain::Role::admin)) {
    return limits.lead;
  }
  return limits.volunteer;
}

muster::UnixMs RateLimiter::admit(const std::string& user, const domain::Roles& roles, std::int64_t bytes,
                                  muster::UnixMs now) {
  const domain::Budget& budget = budget_for(limits_, roles);
  auto it = users_.find(user);
  if (it == users_.end() || it->second.budget != &budget) {
    // New, or given another role since: start from a full bucket of the new budget.
    Buckets b;
    b.budget = &budget;
    b.ops = TokenBucket(budget.ops_per_minute, budget.op_burst, now);
    b.bytes = TokenBucket(budget.kib_per_minute * 1024, budget.kib_burst * 1024, now);
    it = users_.insert_or_assign(user, b).first;
  }
  Buckets& b = it->second;
  // One op token's worth of time: how long a refused burst keeps the door shut.
  const muster::UnixMs one_op = std::max<muster::UnixMs>(1, (kMinute + budget.ops_per_minute - 1) /
                                                                 std::max<std::int64_t>(budget.ops_per_minute, 1));
  if (now < b.blocked_until) {
    b.blocked_until = std::max(b.blocked_until, now + one_op);
    return b.blocked_until - now;
  }
  const muster::UnixMs wait = std::max(b.ops.wait_for(1, now), b.bytes.wait_for(bytes, now));
  if (wait > 0) {
    b.blocked_until = now + std::max(wait, one_op);
    return b.blocked_until - now;
  }
  b.ops.take(1);
  b.bytes.take(bytes);
  return 0;
}

}  // namespace musterd
