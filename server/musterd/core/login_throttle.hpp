// Throttling of failed password logins (docs/protocol.md, "Logins"): exponential
// back-off after a few free failures, on three keys at once.
//
//   (user, address)  the guesser: 3 free failures, then 1 s, 2 s, 4 s … up to 15 min.
//                    A hello while this key waits is refused unchecked and counts as one
//                    more failure: a client that keeps trying while told to wait is guessing.
//   address          password spraying (many names, one address): 20 free failures.
//                    A hello it refuses counts as one more: it is the guesser's own address.
//   user             one name guessed from many addresses: 20 free failures. This key
//                    alone could lock a user out from anywhere (whoever knows the name
//                    could keep it locked), so it refuses only addresses that have failed
//                    for this name themselves; a client with a clean record for the name
//                    (the user at home, say) still has its password checked. Refused
//                    hellos do not grow it: nobody extends a wait that others share.
//
// A success forgets its (user, address) failures; failures are forgotten an hour after
// the last one. Unknown names are throttled like known ones, so the answers tell nothing
// about which names exist. An IPv6 address is keyed by its /64 (the adapter's choice of
// `address`), since one host holds a whole /64.
//
// Why hand-written: a few maps of counters; no Debian library does this for a custom
// protocol (fail2ban reads logs, after the fact).
//
// Thread: the server's loop thread. Pure: the time is given.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>

namespace musterd {

struct LoginThrottlePolicy {
  int free_per_user_address = 3;
  int free_per_address = 20;
  int free_per_user = 20;
  std::chrono::milliseconds first_wait{1000};
  std::chrono::milliseconds max_wait{15 * 60 * 1000};
  std::chrono::milliseconds forget_after{60 * 60 * 1000};
  std::size_t max_entries = 100000;  // per key kind; beyond, the oldest are forgotten
};

class LoginThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Which key refused a hello, for the message.
  enum class Why { user_address, address, user };
  struct Refusal {
    std::chrono::milliseconds wait;
    Why why;
  };

  explicit LoginThrottle(LoginThrottlePolicy policy = {}) : policy_(policy) {}

  // Before a password is checked: nullopt to go ahead, else how long to wait (the hello
  // is then answered rate_limited and its password is not checked).
  std::optional<Refusal> check(const std::string& user, const std::string& address, TimePoint now);
  // The password was wrong, or the name unknown or disabled.
  void failed(const std::string& user, const std::string& address, TimePoint now);
  void succeeded(const std::string& user, const std::string& address);

  std::size_t entries() const { return by_user_address_.size() + by_address_.size() + by_user_.size(); }

 private:
  struct Entry {
    int failures = 0;
    TimePoint locked_until{};
    TimePoint last{};
  };
  using Table = std::map<std::string, Entry>;

  std::chrono::milliseconds wait_after(int failures, int free) const;
  // One more failure on `entry` (locks it once past `free`).
  void count(Entry& entry, int free, TimePoint now) const;
  // The entry, or null; forgets it if it is old.
  Entry* find(Table& table, const std::string& key, TimePoint now);
  Entry& get(Table& table, const std::string& key, TimePoint now);

  LoginThrottlePolicy policy_;
  Table by_user_address_;
  Table by_address_;
  Table by_user_;
};

}  // namespace musterd
