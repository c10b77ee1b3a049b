#include "muster/base/ulid.hpp"

#include <sodium.h>

#include <array>
#include <cstddef>
#include <stdexcept>

namespace muster {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kUlidLength = 26;
constexpr std::size_t kTimeChars = 10;        // 48 bits of time in 10 * 5 bits
constexpr std::size_t kRandomBytes = 10;      // 80 bits of randomness
constexpr std::int64_t kMaxTimeMs = (std::int64_t{1} << 48) - 1;

// Only upper-case Crockford digits are accepted: ids are compared as strings
// (ORDER BY id in SQLite), so one spelling per id is what keeps sorting correct.
constexpr std::array<signed char, 256> make_decode_table() {
  std::array<signed char, 256> table{};
  for (auto& entry : table) entry = -1;
  for (int i = 0; i < 32; ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<signed char>(i);
  }
  return table;
}

constexpr std::array<signed char, 256> kDecode = make_decode_table();

int decode_char(char c) { return kDecode[static_cast<unsigned char>(c)]; }

void ensure_sodium() {
  // sodium_init() is idempotent but not free; the static makes later calls a branch.
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised");
}

// Big-endian +1 over the random part. Returns true when it wrapped to zero.
bool increment(unsigned char (&random)[kRandomBytes]) {
  for (std::size_t i = kRandomBytes; i-- > 0;) {
    if (++random[i] != 0) return false;
  }
  return true;
}

std::string encode(std::int64_t ms, const unsigned char (&random)[kRandomBytes]) {
  std::string out(kUlidLength, '0');
  auto time = static_cast<std::uint64_t>(ms);
  for (std::size_t i = kTimeChars; i-- > 0;) {
    out[i] = kAlphabet[time & 31U];
    time >>= 5;
  }
  // 80 bits split into two 40-bit halves, each exactly 8 base32 digits, so no digit
  // straddles a byte boundary we would have to track.
  for (std::size_t half = 0; half < 2; ++half) {
    std::uint64_t bits = 0;
    for (std::size_t b = 0; b < 5; ++b) bits = (bits << 8) | random[half * 5 + b];
    const std::size_t first = kTimeChars + half * 8;
    for (std::size_t i = 8; i-- > 0;) {
      out[first + i] = kAlphabet[bits & 31U];
      bits >>= 5;
    }
  }
  return out;
}

}  // namespace

UlidGenerator::UlidGenerator() {
  ensure_sodium();
  randombytes_buf(last_random_, sizeof last_random_);
}

std::string UlidGenerator::next(std::int64_t unix_ms) {
  if (unix_ms < 0 || unix_ms > kMaxTimeMs) {
    throw std::out_of_range("ULID time must fit in 48 bits of unsigned milliseconds");
  }
  if (unix_ms > last_ms_) {
    last_ms_ = unix_ms;
    randombytes_buf(last_random_, sizeof last_random_);
  } else if (increment(last_random_)) {
    // Same (or an earlier) millisecond: we stay on last_ms_ so a clock stepping back
    // never reorders ids. Exhausting the random part moves us into the next
    // millisecond, which is still greater than everything issued so far.
    if (last_ms_ == kMaxTimeMs) throw std::overflow_error("ULID space exhausted");
    ++last_ms_;
    randombytes_buf(last_random_, sizeof last_random_);
  }
  return encode(last_ms_, last_random_);
}

bool is_ulid(std::string_view text) {
  if (text.size() != kUlidLength) return false;
  // 26 digits carry 130 bits; the top two must be zero for a 128-bit value.
  if (text[0] < '0' || text[0] > '7') return false;
  for (char c : text) {
    if (decode_char(c) < 0) return false;
  }
  return true;
}

std::int64_t ulid_time_ms(std::string_view ulid) {
  if (!is_ulid(ulid)) return -1;
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < kTimeChars; ++i) ms = (ms << 5) | decode_char(ulid[i]);
  return ms;
}

}  // namespace muster
