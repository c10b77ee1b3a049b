// ULIDs: 26-character, Crockford base32, time-sortable, globally unique ids.
// Every op, task, notice and message id in muster is a ULID made by the client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace muster {

// Makes ULIDs. Ids made by one generator are strictly increasing, also within the
// same millisecond (the random part is incremented, as the ULID spec's monotonic mode).
// Not thread-safe: one generator per thread.
class UlidGenerator {
 public:
  UlidGenerator();  // seeded from the OS's random source (libsodium randombytes)
  // Throws std::out_of_range unless 0 <= unix_ms < 2^48.
  std::string next(std::int64_t unix_ms);

 private:
  std::int64_t last_ms_ = -1;
  unsigned char last_random_[10] = {};
};

// True if `text` is a well-formed ULID (26 characters of Crockford base32, upper case,
// first character 0-7).
bool is_ulid(std::string_view text);

// The millisecond timestamp encoded in a well-formed ULID; -1 if `ulid` is not one.
std::int64_t ulid_time_ms(std::string_view ulid);

}  // namespace muster
