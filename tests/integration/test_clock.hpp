// Times for tests that move the server's clock or type local times: milliseconds since
// the epoch (UTC), text in the forms the programs read and print, and the server's
// clock file (`musterd serve --clock-file F`).
//
// Asia/Shanghai has kept +08:00 all year since 1991: its local times are computed here
// by hand, independently of the product's time zone code.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "muster_fixture.hpp"

namespace muster::testing {

using Ms = std::int64_t;  // UTC milliseconds
constexpr Ms kSecond = 1000;
constexpr Ms kMinute = 60 * kSecond;
constexpr Ms kHour = 60 * kMinute;
constexpr Ms kDay = 24 * kHour;
constexpr Ms kShanghai = 8 * kHour;

inline Ms real_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The start of the hour after the real time, plus `hours`: a round time the file clock
// may be set to (it never goes back behind the real time it started at).
inline Ms round_hour_ahead(int hours) { return (real_now() / kHour + 1 + hours) * kHour; }

inline std::string strftime_utc(Ms t, const char* format) {
  const std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}
inline std::string utc_text(Ms t) { return strftime_utc(t, "%Y-%m-%dT%H:%M:%SZ"); }
inline std::string shanghai_text(Ms t) { return strftime_utc(t + kShanghai, "%Y-%m-%dT%H:%M:%S") + "+08:00"; }
// What a user types.
inline std::string shanghai_input(Ms t) { return strftime_utc(t + kShanghai, "%Y-%m-%dT%H:%M"); }
// A table column.
inline std::string shanghai_short(Ms t) { return strftime_utc(t + kShanghai, "%Y-%m-%d %H:%M"); }
// Local midnight in Shanghai of the day `t` falls on, as UTC.
inline Ms shanghai_midnight(Ms t) { return (t + kShanghai) / kDay * kDay - kShanghai; }

// The server's clock: `musterd serve --clock-file path()`. Written whole (a temp file
// renamed over it), so the server never reads half a time.
class ClockFile {
 public:
  explicit ClockFile(Ms start) : dir_("muster-clock-"), path_(dir_.path() + "/now") { set(start); }

  void set(Ms t) {
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << utc_text(t) << '\n';
      if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path_.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp);
    now_ = t;
  }
  void advance(Ms by) { set(now_ + by); }
  Ms now() const { return now_; }
  std::vector<std::string> serve_args() const { return {"--clock-file", path_}; }

 private:
  TempDir dir_;
  std::string path_;
  Ms now_ = 0;
};

}  // namespace muster::testing
