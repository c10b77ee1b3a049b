#include "muster/base/time.hpp"

#include <chrono>
#include <cstdio>

#include "muster/base/civil.hpp"

namespace muster {
namespace {

using civil::Civil;
using civil::civil_from_days;
using civil::days_from_civil;
using civil::days_in_month;
using civil::floor_div;
using civil::kMsPerSecond;
using civil::kSecondsPerDay;

// A cursor over the input that only ever accepts ASCII digits and exact
// characters, so nothing depends on the C locale (isdigit, strtol, sscanf).
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool digits(std::size_t count, unsigned& out) {
    if (text_.size() - pos_ < count) return false;
    unsigned value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    pos_ += count;
    out = value;
    return true;
  }

  bool is_digit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

  bool accept(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool accept_any(char a, char b) { return accept(a) || accept(b); }

  char take() { return text_[pos_++]; }  // caller checked is_digit()
  bool at_end() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

UnixMs SystemClock::now_ms() const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string format_utc(UnixMs t) {
  const std::int64_t seconds = floor_div(t, kMsPerSecond);
  const std::int64_t days = floor_div(seconds, kSecondsPerDay);
  const std::int64_t second_of_day = seconds - days * kSecondsPerDay;
  const Civil c = civil_from_days(days);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                static_cast<long long>(c.year), c.month, c.day,
                static_cast<long long>(second_of_day / 3600),
                static_cast<long long>(second_of_day / 60 % 60),
                static_cast<long long>(second_of_day % 60));
  return buffer;
}

std::optional<UnixMs> parse_utc(std::string_view text) {
  Cursor in(text);
  unsigned year = 0;
  unsigned month = 0;
  unsigned day = 0;
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  unsigned millis = 0;
  std::int64_t offset_minutes = 0;

  if (!in.digits(4, year) || !in.accept('-') || !in.digits(2, month) || !in.accept('-') ||
      !in.digits(2, day)) {
    return std::nullopt;
  }

  if (in.accept(' ')) {
    // The short form people type into the terminal client: minutes, always UTC.
    if (!in.digits(2, hour) || !in.accept(':') || !in.digits(2, minute)) return std::nullopt;
  } else if (in.accept_any('T', 't')) {  // RFC 3339 allows lower-case t and z
    if (!in.digits(2, hour) || !in.accept(':') || !in.digits(2, minute) || !in.accept(':') ||
        !in.digits(2, second)) {
      return std::nullopt;
    }
    if (in.accept('.')) {
      if (!in.is_digit()) return std::nullopt;
      // Any precision is accepted; beyond milliseconds it is truncated, which
      // keeps parse(format(x)) stable and never rounds into the next second.
      unsigned scale = 100;
      while (in.is_digit()) {
        const auto digit = static_cast<unsigned>(in.take() - '0');
        millis += digit * scale;
        scale /= 10;
      }
    }
    if (!in.accept_any('Z', 'z')) {
      std::int64_t sign = 0;
      if (in.accept('+')) {
        sign = 1;
      } else if (in.accept('-')) {
        sign = -1;
      } else {
        return std::nullopt;
      }
      unsigned offset_hours = 0;
      unsigned offset_mins = 0;
      if (!in.digits(2, offset_hours) || !in.accept(':') || !in.digits(2, offset_mins) ||
          offset_hours > 23 || offset_mins > 59) {
        return std::nullopt;
      }
      offset_minutes = sign * (offset_hours * 60 + offset_mins);
    }
  } else {
    return std::nullopt;
  }
  if (!in.at_end()) return std::nullopt;

  // Leap seconds (:60) are rejected: Unix time cannot represent them.
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }

  const std::int64_t days = days_from_civil(year, month, day);
  const std::int64_t seconds = days * kSecondsPerDay + hour * 3600 + minute * 60 + second;
  return seconds * kMsPerSecond + millis - offset_minutes * 60 * kMsPerSecond;
}

}  // namespace muster
