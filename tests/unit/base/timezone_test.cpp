#include "muster/base/timezone.hpp"

#include <doctest/doctest.h>
#include <unistd.h>  // getpid

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using muster::Errc;
using muster::format_local;
using muster::format_local_short;
using muster::parse_time;
using muster::UnixMs;
using muster::Zone;

namespace {

constexpr std::int32_t kHour = 3600;
constexpr UnixMs kMinuteMs = 60 * 1000;
constexpr UnixMs kHourMs = 3600 * 1000;

// An instant written as RFC 3339, so the expected values below read as times.
UnixMs utc(const char* text) {
  const std::optional<UnixMs> t = muster::parse_utc(text);
  REQUIRE(t.has_value());
  return *t;
}

Zone load(const char* name) {
  auto zone = Zone::load(name);
  REQUIRE_MESSAGE(zone.ok(), zone.error().message);
  return *zone;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("Zone::utc and Zone::fixed need no files") {
  const Zone zone = Zone::utc();
  CHECK(zone.name() == "UTC");
  CHECK(zone.offset_at(0) == 0);
  CHECK(zone.offset_at(utc("2026-07-01T12:00:00Z")) == 0);
  CHECK(zone.from_local(utc("2026-07-01T12:00:00Z")) == utc("2026-07-01T12:00:00Z"));

  const Zone plus8 = Zone::fixed("+08:00", 8 * kHour);
  CHECK(plus8.name() == "+08:00");
  CHECK(plus8.offset_at(utc("1900-01-01T00:00:00Z")) == 8 * kHour);
  CHECK(plus8.from_local(utc("2026-11-25T08:00:00Z")) == utc("2026-11-25T00:00:00Z"));
}

TEST_CASE("Asia/Shanghai is +08:00 now and had daylight time in 1988") {
  const Zone zone = load("Asia/Shanghai");
  CHECK(zone.name() == "Asia/Shanghai");
  CHECK(zone.offset_at(utc("2026-11-23T08:00:00Z")) == 8 * kHour);
  CHECK(zone.offset_at(utc("2026-07-01T00:00:00Z")) == 8 * kHour);  // no DST today
  CHECK(zone.offset_at(utc("2060-07-01T00:00:00Z")) == 8 * kHour);  // the rule after 1991: "CST-8"
  // 1988: CDT from Sun 17 April 02:00 local to Sun 11 September 02:00 local.
  CHECK(zone.offset_at(utc("1988-04-16T17:59:59Z")) == 8 * kHour);
  CHECK(zone.offset_at(utc("1988-04-16T18:00:00Z")) == 9 * kHour);
  CHECK(zone.offset_at(utc("1988-07-01T00:00:00Z")) == 9 * kHour);
  CHECK(zone.offset_at(utc("1988-09-10T16:59:59Z")) == 9 * kHour);
  CHECK(zone.offset_at(utc("1988-09-10T17:00:00Z")) == 8 * kHour);
  CHECK(zone.offset_at(utc("1992-07-01T00:00:00Z")) == 8 * kHour);  // DST ended after 1991
  // Before standard time: local mean time, +08:05:43.
  CHECK(zone.offset_at(utc("1900-01-01T00:00:00Z")) == 8 * kHour + 5 * 60 + 43);
}

TEST_CASE("Europe/Berlin switches on the last Sundays of March and October") {
  const Zone zone = load("Europe/Berlin");
  SUBCASE("2026, from the transition table") {
    CHECK(zone.offset_at(utc("2026-01-15T12:00:00Z")) == 1 * kHour);
    CHECK(zone.offset_at(utc("2026-03-29T00:59:59Z")) == 1 * kHour);
    CHECK(zone.offset_at(utc("2026-03-29T01:00:00Z")) == 2 * kHour);
    CHECK(zone.offset_at(utc("2026-03-29T01:00:00Z") - 1) == 1 * kHour);  // milliseconds count
    CHECK(zone.offset_at(utc("2026-10-25T00:59:59Z")) == 2 * kHour);
    CHECK(zone.offset_at(utc("2026-10-25T01:00:00Z")) == 1 * kHour);
  }
  SUBCASE("2040, after the file's last transition (2037): the rule CET-1CEST,M3.5.0,M10.5.0/3") {
    CHECK(zone.offset_at(utc("2040-01-15T12:00:00Z")) == 1 * kHour);
    CHECK(zone.offset_at(utc("2040-03-25T00:59:59Z")) == 1 * kHour);
    CHECK(zone.offset_at(utc("2040-03-25T01:00:00Z")) == 2 * kHour);
    CHECK(zone.offset_at(utc("2040-10-28T00:59:59Z")) == 2 * kHour);
    CHECK(zone.offset_at(utc("2040-10-28T01:00:00Z")) == 1 * kHour);
    CHECK(zone.offset_at(utc("2040-12-31T23:30:00Z")) == 1 * kHour);
    // 2400 is a leap year with March 26 the last Sunday.
    CHECK(zone.offset_at(utc("2400-03-26T00:59:59Z")) == 1 * kHour);
    CHECK(zone.offset_at(utc("2400-03-26T01:00:00Z")) == 2 * kHour);
  }
}

TEST_CASE("America/New_York: second Sunday of March to first Sunday of November") {
  const Zone zone = load("America/New_York");
  CHECK(zone.offset_at(utc("2026-03-08T06:59:59Z")) == -5 * kHour);
  CHECK(zone.offset_at(utc("2026-03-08T07:00:00Z")) == -4 * kHour);
  CHECK(zone.offset_at(utc("2026-11-01T05:59:59Z")) == -4 * kHour);
  CHECK(zone.offset_at(utc("2026-11-01T06:00:00Z")) == -5 * kHour);
  CHECK(zone.offset_at(utc("2050-03-13T06:59:59Z")) == -5 * kHour);
  CHECK(zone.offset_at(utc("2050-03-13T07:00:00Z")) == -4 * kHour);
  CHECK(zone.offset_at(utc("2050-11-06T05:59:59Z")) == -4 * kHour);
  CHECK(zone.offset_at(utc("2050-11-06T06:00:00Z")) == -5 * kHour);
}

TEST_CASE("UTC from the tz database") {
  for (const char* name : {"UTC", "Etc/UTC"}) {
    CAPTURE(name);
    const Zone zone = load(name);
    CHECK(zone.offset_at(utc("2026-07-01T00:00:00Z")) == 0);
    CHECK(zone.offset_at(utc("1950-07-01T00:00:00Z")) == 0);
    CHECK(zone.offset_at(utc("2100-07-01T00:00:00Z")) == 0);
  }
}

TEST_CASE("Zone is copyable and copies share nothing mutable") {
  const Zone berlin = load("Europe/Berlin");
  Zone copy = berlin;
  CHECK(copy.name() == "Europe/Berlin");
  CHECK(copy.offset_at(utc("2040-07-01T00:00:00Z")) == 2 * kHour);
  copy = Zone::utc();
  CHECK(copy.offset_at(utc("2040-07-01T00:00:00Z")) == 0);
  CHECK(berlin.offset_at(utc("2040-07-01T00:00:00Z")) == 2 * kHour);
}

TEST_CASE(
    "from_local: a gap reads with the offset before it, an overlap takes the earlier instant") {
  SUBCASE("Europe/Berlin 2026 (transitions) and 2040 (rule)") {
    const Zone zone = load("Europe/Berlin");
    // Spring forward: 02:00-03:00 local does not exist.
    CHECK(zone.from_local(utc("2026-03-29T01:59:59Z")) == utc("2026-03-29T00:59:59Z"));
    CHECK(zone.from_local(utc("2026-03-29T02:00:00Z")) == utc("2026-03-29T01:00:00Z"));
    CHECK(zone.from_local(utc("2026-03-29T02:30:00Z")) == utc("2026-03-29T01:30:00Z"));
    CHECK(zone.from_local(utc("2026-03-29T03:00:00Z")) == utc("2026-03-29T01:00:00Z"));
    CHECK(zone.from_local(utc("2026-03-29T03:30:00Z")) == utc("2026-03-29T01:30:00Z"));
    // Fall back: 02:00-03:00 local happens twice.
    CHECK(zone.from_local(utc("2026-10-25T01:59:59Z")) == utc("2026-10-24T23:59:59Z"));
    CHECK(zone.from_local(utc("2026-10-25T02:00:00Z")) == utc("2026-10-25T00:00:00Z"));
    CHECK(zone.from_local(utc("2026-10-25T02:30:00Z")) == utc("2026-10-25T00:30:00Z"));
    CHECK(zone.from_local(utc("2026-10-25T02:59:59Z")) == utc("2026-10-25T00:59:59Z"));
    CHECK(zone.from_local(utc("2026-10-25T03:00:00Z")) == utc("2026-10-25T02:00:00Z"));
    CHECK(zone.from_local(utc("2026-10-25T02:30:00Z") + 250) == utc("2026-10-25T00:30:00Z") + 250);

    CHECK(zone.from_local(utc("2040-03-25T02:30:00Z")) == utc("2040-03-25T01:30:00Z"));
    CHECK(zone.from_local(utc("2040-10-28T02:30:00Z")) == utc("2040-10-28T00:30:00Z"));
    CHECK(zone.from_local(utc("2040-07-01T12:00:00Z")) == utc("2040-07-01T10:00:00Z"));
  }
  SUBCASE("America/New_York") {
    const Zone zone = load("America/New_York");
    // 02:30 does not exist; read as EST it is 03:30 EDT.
    CHECK(zone.from_local(utc("2026-03-08T02:30:00Z")) == utc("2026-03-08T07:30:00Z"));
    CHECK(zone.from_local(utc("2026-11-01T01:30:00Z")) == utc("2026-11-01T05:30:00Z"));  // EDT
    CHECK(zone.from_local(utc("2026-11-01T02:00:00Z")) == utc("2026-11-01T07:00:00Z"));
  }
  SUBCASE("Asia/Shanghai 1988") {
    const Zone zone = load("Asia/Shanghai");
    CHECK(zone.from_local(utc("1988-04-17T02:30:00Z")) == utc("1988-04-16T18:30:00Z"));
    CHECK(zone.from_local(utc("1988-09-11T01:30:00Z")) == utc("1988-09-10T16:30:00Z"));
    CHECK(zone.from_local(utc("2026-11-25T08:00:00Z")) == utc("2026-11-25T00:00:00Z"));
  }
  SUBCASE("every quarter hour of a year reads back to itself or its earlier twin") {
    for (const char* name : {"Europe/Berlin", "America/New_York", "Australia/Sydney"}) {
      CAPTURE(name);
      const Zone zone = load(name);
      for (const UnixMs from : {utc("2026-01-01T00:00:00Z"), utc("2045-01-01T00:00:00Z")}) {
        for (UnixMs t = from; t < from + 366 * 24 * kHourMs; t += 15 * kMinuteMs) {
          const UnixMs local = t + zone.offset_at(t) * UnixMs{1000};
          const UnixMs back = zone.from_local(local);
          CAPTURE(t);
          CHECK(back + zone.offset_at(back) * UnixMs{1000} == local);
          CHECK(back <= t);
          CHECK(t - back <= kHourMs);
        }
      }
    }
  }
}

TEST_CASE("format_local and format_local_short show the zone's wall clock") {
  const UnixMs meeting = utc("2026-11-23T08:00:00Z");
  const Zone shanghai = load("Asia/Shanghai");
  CHECK(format_local(meeting, shanghai) == "2026-11-23T16:00:00+08:00");
  CHECK(format_local(meeting + 999, shanghai) == "2026-11-23T16:00:00+08:00");
  CHECK(format_local_short(meeting, shanghai) == "2026-11-23 16:00");
  CHECK(format_local(meeting, Zone::utc()) == "2026-11-23T08:00:00+00:00");
  CHECK(format_local_short(meeting, Zone::utc()) == "2026-11-23 08:00");
  CHECK(format_local(meeting, load("America/New_York")) == "2026-11-23T03:00:00-05:00");
  CHECK(format_local_short(meeting, load("America/New_York")) == "2026-11-23 03:00");
  CHECK(format_local(utc("2040-07-01T10:00:00Z"), load("Europe/Berlin")) ==
        "2040-07-01T12:00:00+02:00");
  CHECK(format_local(meeting, Zone::fixed("IST", 5 * kHour + 30 * 60)) ==
        "2026-11-23T13:30:00+05:30");
  CHECK(format_local(meeting, Zone::fixed("NST", -(3 * kHour + 30 * 60))) ==
        "2026-11-23T04:30:00-03:30");
  CHECK(format_local(-1, shanghai) == "1970-01-01T07:59:59+08:00");
  CHECK(format_local_short(utc("2026-12-31T16:00:00Z"), shanghai) == "2027-01-01 00:00");
  // Local mean time +08:05:43 has no RFC 3339 form: the offset is shown rounded to
  // +08:06 and the wall clock read with it, so the text still names the instant.
  const UnixMs lmt = utc("1900-01-01T00:00:00Z");
  CHECK(format_local(lmt, shanghai) == "1900-01-01T08:06:00+08:06");
  CHECK(parse_time(format_local(lmt, shanghai), shanghai) == lmt);
}

TEST_CASE("parse_time reads zoned RFC 3339 and local times") {
  const Zone shanghai = load("Asia/Shanghai");
  const UnixMs eight_local = utc("2026-11-25T00:00:00Z");  // 08:00 in Shanghai
  CHECK(parse_time("2026-11-25T00:00:00Z", shanghai) == eight_local);
  CHECK(parse_time("2026-11-25t00:00:00z", shanghai) == eight_local);
  CHECK(parse_time("2026-11-25T08:00:00+08:00", shanghai) == eight_local);
  CHECK(parse_time("2026-11-24T19:00:00-05:00", shanghai) == eight_local);
  CHECK(parse_time("2026-11-25T08:00:00.250+08:00", shanghai) == eight_local + 250);
  CHECK(parse_time("2026-11-25T08:00", shanghai) == eight_local);
  CHECK(parse_time("2026-11-25T08:00:00", shanghai) == eight_local);
  CHECK(parse_time("2026-11-25t08:00:00", shanghai) == eight_local);
  CHECK(parse_time("2026-11-25 08:00", shanghai) == eight_local);  // local, unlike parse_utc
  CHECK(parse_time("2026-11-25 08:00:00", shanghai) == eight_local);
  CHECK(parse_time("2026-11-25 08:00:30", shanghai) == eight_local + 30000);
  CHECK(parse_time("2026-11-25", shanghai) == utc("2026-11-24T16:00:00Z"));
  CHECK(parse_time("2026-11-25 08:00", Zone::utc()) == utc("2026-11-25T08:00:00Z"));
  CHECK(parse_time("2024-02-29", Zone::utc()) == utc("2024-02-29T00:00:00Z"));

  const Zone berlin = load("Europe/Berlin");
  CHECK(parse_time("2026-07-01 12:00", berlin) == utc("2026-07-01T10:00:00Z"));
  CHECK(parse_time("2026-03-29 02:30", berlin) == utc("2026-03-29T01:30:00Z"));  // gap
  CHECK(parse_time("2026-10-25 02:30", berlin) == utc("2026-10-25T00:30:00Z"));  // overlap
  CHECK(parse_time("2026-10-25T02:30:00+01:00", berlin) == utc("2026-10-25T01:30:00Z"));

  for (const UnixMs t : {eight_local, utc("1988-07-01T00:00:00Z"), UnixMs{0}}) {
    CAPTURE(t);
    CHECK(parse_time(format_local(t, shanghai), shanghai) == t);
    CHECK(parse_time(format_local_short(t, shanghai), shanghai) == t);
  }
}

TEST_CASE("parse_time rejects anything else") {
  const Zone shanghai = load("Asia/Shanghai");
  const char* bad[] = {
      "",
      "garbage",
      "now",
      "2026-11-25T08",
      "2026-11-25T8:00",
      "2026-11-25 8:00",
      "2026-11-25 08",
      "2026-11-25T0800",
      "2026-11-25X08:00",
      "2026-11-25_08:00:00",
      "2026-11-25T24:00",
      "2026-11-25T08:60",
      "2026-11-25T08:00:60",
      "2026-13-01",
      "2026-00-01",
      "2026-02-29",
      "2026-11-31",
      "2026-11-00",
      "2026-1-25",
      "26-11-25",
      "2026/11/25",
      "20261125",
      " 2026-11-25",
      "2026-11-25 ",
      "2026-11-25 08:00 ",
      "2026-11-25T08:00:00.5",  // a fraction needs a zone
      "2026-11-25 08:00Z",
      "2026-11-25 08:00:00Z",
      "2026-11-25T08:00Z",
      "2026-11-25T08:00:00+0800",
      "2026-11-25T08:00:00 +08:00",
      "2026-11-25T08:00:00+24:00",
      "2026-11-25T08:00:00Asia/Shanghai",
      "２０２６-11-25",
  };
  for (const char* text : bad) {
    CAPTURE(text);
    CHECK_FALSE(parse_time(text, shanghai).has_value());
  }
}

TEST_CASE("Zone::load refuses names that are not zone names") {
  for (const char* name : {"", "../etc/passwd", "/etc/passwd", "Asia/../../etc/passwd", "..",
                           "Asia/Shanghai\n", "Asia\\Shanghai"}) {
    CAPTURE(name);
    const auto zone = Zone::load(name);
    REQUIRE_FALSE(zone.ok());
    CHECK(zone.error().code == Errc::invalid);
  }
  CHECK_FALSE(Zone::load(std::string_view("UTC\0/x", 6)).ok());
}

TEST_CASE("Zone::load reports a missing zone as not_found") {
  for (const char* name : {"Mars/Olympus_Mons", "Asia", "Asia/Shanghai/x"}) {
    CAPTURE(name);
    const auto zone = Zone::load(name);
    REQUIRE_FALSE(zone.ok());
    CHECK(zone.error().code == Errc::not_found);
    CHECK(zone.error().message.find(name) != std::string::npos);
  }
}


TEST_CASE("after the last transition: each zone's own rule, in both hemispheres") {
  // Debian's zone files list transitions up to 2037; later years follow the rule on
  // the file's last line. Expected instants computed independently (Python's zoneinfo).
  SUBCASE("Australia/Sydney: daylight time from October to April") {
    const Zone zone = load("Australia/Sydney");
    CHECK(zone.offset_at(utc("2040-01-15T00:00:00Z")) == 11 * kHour);
    CHECK(zone.offset_at(utc("2040-03-31T15:59:59Z")) == 11 * kHour);
    CHECK(zone.offset_at(utc("2040-03-31T16:00:00Z")) == 10 * kHour);
    CHECK(zone.offset_at(utc("2040-10-06T15:59:59Z")) == 10 * kHour);
    CHECK(zone.offset_at(utc("2040-10-06T16:00:00Z")) == 11 * kHour);
    CHECK(zone.offset_at(utc("2040-12-31T23:00:00Z")) == 11 * kHour);
    // 2040-04-01 02:30 happens twice (AEDT, then AEST); 2040-10-07 02:30 never.
    CHECK(zone.from_local(utc("2040-04-01T02:30:00Z")) == utc("2040-03-31T15:30:00Z"));
    CHECK(zone.from_local(utc("2040-10-07T02:30:00Z")) == utc("2040-10-06T16:30:00Z"));
  }
  SUBCASE("Europe/Dublin: winter time is the negative saving (IST-1GMT0)") {
    const Zone zone = load("Europe/Dublin");
    CHECK(zone.offset_at(utc("2040-01-15T00:00:00Z")) == 0);
    CHECK(zone.offset_at(utc("2040-03-25T00:59:59Z")) == 0);
    CHECK(zone.offset_at(utc("2040-03-25T01:00:00Z")) == kHour);
    CHECK(zone.offset_at(utc("2040-10-28T00:59:59Z")) == kHour);
    CHECK(zone.offset_at(utc("2040-10-28T01:00:00Z")) == 0);
    CHECK(zone.from_local(utc("2040-10-28T01:30:00Z")) == utc("2040-10-28T00:30:00Z"));
    CHECK(zone.from_local(utc("2040-03-25T01:30:00Z")) == utc("2040-03-25T01:30:00Z"));
  }
  SUBCASE("Asia/Jerusalem: a switch at 26:00, the Friday before the last Sunday") {
    const Zone zone = load("Asia/Jerusalem");
    CHECK(zone.offset_at(utc("2040-03-22T23:59:59Z")) == 2 * kHour);
    CHECK(zone.offset_at(utc("2040-03-23T00:00:00Z")) == 3 * kHour);
    CHECK(zone.offset_at(utc("2040-10-27T22:59:59Z")) == 3 * kHour);
    CHECK(zone.offset_at(utc("2040-10-27T23:00:00Z")) == 2 * kHour);
  }
}

TEST_CASE("America/Nuuk switches at 23:00 on the eve of the last Sunday of March") {
  // Its rule's switch time is "-1" hours; within the file's transitions (to 2037).
  const Zone zone = load("America/Nuuk");
  CHECK(zone.offset_at(utc("2026-03-29T00:59:59Z")) == -2 * kHour);
  CHECK(zone.offset_at(utc("2026-03-29T01:00:00Z")) == -1 * kHour);
  CHECK(zone.offset_at(utc("2026-10-25T00:59:59Z")) == -1 * kHour);
  CHECK(zone.offset_at(utc("2026-10-25T01:00:00Z")) == -2 * kHour);
  CHECK(zone.from_local(utc("2026-03-28T23:30:00Z")) == utc("2026-03-29T01:30:00Z"));  // a gap
}

TEST_CASE("a zone answers for any instant, however far out") {
  for (const char* name : {"Europe/Berlin", "Asia/Shanghai", "America/New_York", "UTC"}) {
    CAPTURE(name);
    const Zone zone = load(name);
    for (const UnixMs t : {UnixMs{-9000000000000000}, UnixMs{-4000000000000}, UnixMs{0},
                           utc("2026-03-29T01:00:00Z"), UnixMs{9000000000000000}}) {
      CAPTURE(t);
      const std::int32_t offset = zone.offset_at(t);
      CHECK(offset > -26 * kHour);
      CHECK(offset < 26 * kHour);
      CHECK(zone.from_local(t + offset * UnixMs{1000}) == t);
      (void)format_local(t, zone);
    }
  }
}

TEST_CASE("Zone::load reads $TZDIR, and refuses a zone there the date library would not read") {
  // The library reads /usr/share/zoneinfo only; load checks $TZDIR itself.
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("muster-tzdir-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "Asia");
  std::filesystem::create_directories(dir / "Europe");
  const std::filesystem::path system = "/usr/share/zoneinfo";
  std::filesystem::copy_file(system / "Asia" / "Shanghai", dir / "Asia" / "Shanghai");
  // Berlin's rules under Paris's name: not what the library would read for Paris.
  std::filesystem::copy_file(system / "Europe" / "Berlin", dir / "Europe" / "Paris");
  std::ofstream(dir / "Europe" / "Text", std::ios::binary) << "not a zone\n";
  {
    const ScopedEnv tzdir("TZDIR", dir.string());
    CHECK(Zone::database_dir() == dir.string());
    const Zone shanghai = load("Asia/Shanghai");
    CHECK(shanghai.offset_at(utc("2026-11-23T08:00:00Z")) == 8 * kHour);
    CHECK(shanghai.offset_at(utc("1988-07-01T00:00:00Z")) == 9 * kHour);

    const auto berlin = Zone::load("Europe/Berlin");  // in the system's database, not in $TZDIR
    REQUIRE_FALSE(berlin.ok());
    CHECK(berlin.error().code == Errc::not_found);
    CHECK(berlin.error().message.find("Europe/Berlin") != std::string::npos);
    CHECK(berlin.error().message.find(dir.string()) != std::string::npos);

    const auto paris = Zone::load("Europe/Paris");
    REQUIRE_FALSE(paris.ok());
    CHECK(paris.error().code == Errc::unavailable);
    CHECK(paris.error().message.find("differs") != std::string::npos);

    const auto text = Zone::load("Europe/Text");
    REQUIRE_FALSE(text.ok());
    CHECK(text.error().code == Errc::not_found);
    CHECK(text.error().message.find("TZif") != std::string::npos);
  }
  {
    const ScopedEnv tzdir("TZDIR", (dir / "Asia").string());  // an empty database
    std::filesystem::remove(dir / "Asia" / "Shanghai");
    for (const char* name : {"Asia/Shanghai", "UTC", "Europe/Berlin"}) {
      CAPTURE(name);
      const auto zone = Zone::load(name);
      REQUIRE_FALSE(zone.ok());
      CHECK(zone.error().code == Errc::not_found);
      CHECK(zone.error().message.find((dir / "Asia").string()) != std::string::npos);
    }
    // UTC and fixed offsets need no database.
    CHECK(Zone::utc().offset_at(utc("2026-11-23T08:00:00Z")) == 0);
  }
  {
    const ScopedEnv tzdir("TZDIR", "");
    CHECK(Zone::database_dir() == "/usr/share/zoneinfo");
    CHECK(Zone::load("Asia/Shanghai").ok());
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("every zone in the system's database loads and answers") {
  int loaded = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator("/usr/share/zoneinfo")) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().string().substr(std::string("/usr/share/zoneinfo/").size());
    if (name.rfind("posix", 0) == 0 || name.rfind("right/", 0) == 0 || name == "Factory") continue;
    if (read_file(entry.path()).rfind("TZif", 0) != 0) continue;  // zone.tab, tzdata.zi, ...
    CAPTURE(name);
    const auto zone = Zone::load(name);
    REQUIRE_MESSAGE(zone.ok(), zone.error().message);
    ++loaded;
    for (const UnixMs t : {utc("1950-06-01T00:00:00Z"), utc("2026-06-01T00:00:00Z"),
                           utc("2050-06-01T00:00:00Z")}) {
      const std::int32_t offset = zone->offset_at(t);
      CHECK(offset > -26 * kHour);
      CHECK(offset < 26 * kHour);
    }
  }
  CHECK(loaded > 300);
}
