#include "muster/base/time.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <optional>

using muster::format_utc;
using muster::parse_utc;
using muster::UnixMs;

namespace {
constexpr UnixMs kMeeting = 1795420800000;  // 2026-11-23T08:00:00Z (checked with `date -u`)
}

TEST_CASE("format_utc renders known instants") {
  CHECK(format_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(format_utc(kMeeting) == "2026-11-23T08:00:00Z");
  CHECK(format_utc(kMeeting + 999) == "2026-11-23T08:00:00Z");  // milliseconds are dropped
  CHECK(format_utc(kMeeting + 1000) == "2026-11-23T08:00:01Z");
  CHECK(format_utc(951782400000) == "2000-02-29T00:00:00Z");    // 400-year leap day
  CHECK(format_utc(951868800000) == "2000-03-01T00:00:00Z");
  CHECK(format_utc(4107542400000) == "2100-03-01T00:00:00Z");   // 2100 is not a leap year
  CHECK(format_utc(253402300799000) == "9999-12-31T23:59:59Z");
}

TEST_CASE("format_utc floors instants before the epoch") {
  CHECK(format_utc(-1) == "1969-12-31T23:59:59Z");
  CHECK(format_utc(-1000) == "1969-12-31T23:59:59Z");
  CHECK(format_utc(-1001) == "1969-12-31T23:59:58Z");
  CHECK(format_utc(-2208988800000) == "1900-01-01T00:00:00Z");
}

TEST_CASE("parse_utc reads RFC 3339 timestamps") {
  CHECK(parse_utc("1970-01-01T00:00:00Z") == UnixMs{0});
  CHECK(parse_utc("2026-11-23T08:00:00Z") == kMeeting);
  CHECK(parse_utc("2026-11-23t08:00:00z") == kMeeting);
  CHECK(parse_utc("2026-11-23T08:00:00.250Z") == kMeeting + 250);
  CHECK(parse_utc("2026-11-23T08:00:00.5Z") == kMeeting + 500);
  CHECK(parse_utc("2026-11-23T08:00:00.123999Z") == kMeeting + 123);  // truncated, not rounded
  CHECK(parse_utc("2026-11-23T16:00:00+08:00") == kMeeting);
  CHECK(parse_utc("2026-11-23T03:30:00-04:30") == kMeeting);
  CHECK(parse_utc("2026-11-24T00:00:00.750+16:00") == kMeeting + 750);
  CHECK(parse_utc("2024-02-29T12:34:56Z") == UnixMs{1709210096000});
  CHECK(parse_utc("1969-12-31T23:59:59Z") == UnixMs{-1000});
}

TEST_CASE("parse_utc reads the short minutes form as UTC") {
  CHECK(parse_utc("2026-11-23 08:00") == kMeeting);
  CHECK(parse_utc("2026-11-23 08:07") == kMeeting + 7 * 60 * 1000);
}

TEST_CASE("parse_utc inverts format_utc") {
  for (UnixMs t : {UnixMs{0}, kMeeting, UnixMs{-2208988800000}, UnixMs{951782400000},
                   UnixMs{253402300799000}, UnixMs{1234567890000}}) {
    CAPTURE(t);
    CHECK(parse_utc(format_utc(t)) == t);
  }
}

TEST_CASE("parse_utc rejects anything else") {
  const char* bad[] = {
      "",
      "garbage",
      "2026-13-01T00:00:00Z",       // month 13
      "2026-00-10T00:00:00Z",       // month 0
      "2026-02-30T00:00:00Z",       // Feb 30
      "2026-02-29T00:00:00Z",       // 2026 is not a leap year
      "2100-02-29T00:00:00Z",       // nor is 2100
      "2026-11-00T00:00:00Z",       // day 0
      "2026-04-31T00:00:00Z",       // April has 30 days
      "2026-11-23T24:00:00Z",
      "2026-11-23T08:60:00Z",
      "2026-11-23T08:00:60Z",       // leap seconds have no Unix time
      "2026-11-23T08:00:00",        // no zone
      "2026-11-23",                 // no time
      "2026-11-23T08:00Z",          // no seconds in the T form
      "2026-11-23T08:00:00.Z",      // empty fraction
      "2026-11-23T08:00:00+0800",   // offset without colon
      "2026-11-23T08:00:00+08",
      "2026-11-23T08:00:00+24:00",
      "2026-11-23T08:00:00+08:60",
      "2026-11-23T08:00:00Z ",      // trailing space
      " 2026-11-23T08:00:00Z",      // leading space
      "2026-11-23 08",
      "2026-11-23 8:00",
      "2026-11-23 08:00Z",
      "2026-1-23T08:00:00Z",
      "26-11-23T08:00:00Z",
      "2026/11/23T08:00:00Z",
      "2026-11-23X08:00:00Z",
      "２０２６-11-23T08:00:00Z",   // fullwidth digits
  };
  for (const char* text : bad) {
    CAPTURE(text);
    CHECK_FALSE(parse_utc(text).has_value());
  }
}

TEST_CASE("SystemClock follows the wall clock") {
  muster::SystemClock clock;
  const UnixMs now = clock.now_ms();
  const UnixMs c_now = static_cast<UnixMs>(std::time(nullptr)) * 1000;
  CHECK(now > 1704067200000);  // after 2024-01-01
  CHECK(now - c_now < 5000);
  CHECK(c_now - now < 5000);
}

TEST_CASE("ManualClock moves only when told") {
  muster::ManualClock clock(kMeeting);
  CHECK(clock.now_ms() == kMeeting);
  clock.advance(250);
  CHECK(clock.now_ms() == kMeeting + 250);
  clock.set(0);
  CHECK(clock.now_ms() == 0);
}
