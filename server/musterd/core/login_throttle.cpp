#include "musterd/core/login_throttle.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace musterd {

namespace {
// Keys of unbounded names stay bounded (a name is at most 64 bytes; anything longer
// fails anyway).
std::string bounded(const std::string& s) { return s.size() <= 128 ? s : s.substr(0, 128); }
std::string pair_key(const std::string& user, const std::string& address) {
  return bounded(user) + '\n' + bounded(address);
}
}  // namespace

std::chrono::milliseconds LoginThrottle::wait_after(int failures, int free) const {
  if (failures < free) return std::chrono::milliseconds(0);
  const int doublings = std::min(failures - free, 30);
  const auto wait = policy_.first_wait * (std::int64_t{1} << doublings);
  return std::min(wait, policy_.max_wait);
}

void LoginThrottle::count(Entry& entry, int free, TimePoint now) const {
  ++entry.failures;
  entry.last = now;
  const auto wait = wait_after(entry.failures, free);
  if (wait.count() > 0) entry.locked_until = now + wait;
}

LoginThrottle::Entry* LoginThrottle::find(Table& table, const std::string& key, TimePoint now) {
  auto it = table.find(key);
  if (it == table.end()) return nullptr;
  if (now - it->second.last > policy_.forget_after && now >= it->second.locked_until) {
    table.erase(it);
    return nullptr;
  }
  return &it->second;
}

LoginThrottle::Entry& LoginThrottle::get(Table& table, const std::string& key, TimePoint now) {
  if (Entry* e = find(table, key, now)) return *e;
  if (table.size() >= policy_.max_entries) {
    // Forget what is old; if that is not enough, the half least recently failed.
    for (auto it = table.begin(); it != table.end();) {
      const bool old = now - it->second.last > policy_.forget_after && now >= it->second.locked_until;
      it = old ? table.erase(it) : std::next(it);
    }
    if (table.size() >= policy_.max_entries) {
      std::vector<TimePoint> lasts;
      lasts.reserve(table.size());
      for (const auto& [k, e] : table) lasts.push_back(e.last);
      auto middle = lasts.begin() + static_cast<std::ptrdiff_t>(lasts.size() / 2);
      std::nth_element(lasts.begin(), middle, lasts.end());
      const TimePoint cut = *middle;
      for (auto it = table.begin(); it != table.end();) it = it->second.last <= cut ? table.erase(it) : std::next(it);
    }
  }
  return table[key];
}

std::optional<LoginThrottle::Refusal> LoginThrottle::check(const std::string& user, const std::string& address,
                                                           TimePoint now) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  Entry* pair = find(by_user_address_, pair_key(user, address), now);
  Entry* from = find(by_address_, bounded(address), now);
  Entry* name = find(by_user_, bounded(user), now);
  std::optional<Refusal> refusal;
  auto refuse = [&](const Entry& e, Why why) {
    const auto wait = std::chrono::ceil<milliseconds>(e.locked_until - now);
    if (!refusal || wait > refusal->wait) refusal = Refusal{wait, why};
  };
  const bool pair_locked = pair && pair->locked_until > now;
  const bool from_locked = from && from->locked_until > now;
  // Only an address with failures of its own for this name waits for the name's lock.
  const bool name_locked = name && name->locked_until > now && pair && pair->failures > 0;
  if (!pair_locked && !from_locked && !name_locked) return std::nullopt;
  // Refused unchecked: one more failure for the guesser's own keys, not the name's.
  Entry& p = get(by_user_address_, pair_key(user, address), now);
  count(p, policy_.free_per_user_address, now);
  if (from_locked) {
    Entry& a = get(by_address_, bounded(address), now);
    count(a, policy_.free_per_address, now);
    refuse(a, Why::address);
  }
  if (p.locked_until > now) refuse(p, Why::user_address);
  if (name_locked) {
    if (Entry* n = find(by_user_, bounded(user), now)) refuse(*n, Why::user);
  }
  return refusal;
}

void LoginThrottle::failed(const std::string& user, const std::string& address, TimePoint now) {
  count(get(by_user_address_, pair_key(user, address), now), policy_.free_per_user_address, now);
  count(get(by_address_, bounded(address), now), policy_.free_per_address, now);
  count(get(by_user_, bounded(user), now), policy_.free_per_user, now);
}

void LoginThrottle::succeeded(const std::string& user, const std::string& address) {
  by_user_address_.erase(pair_key(user, address));
}

}  // namespace musterd
