#include "muster/base/timezone.hpp"

#include <doctest/doctest.h>
#include <unistd.h>  // getpid

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
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

void put_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// A TZif file with the given transitions (`offsets[indices[i]]` from `times[i]`),
// one designation "ZZZ" and the footer. Version 0 writes only the 32-bit block.
// Nothing is checked, so tests can build broken files on purpose.
struct TzifSpec {
  std::vector<std::int64_t> times;
  std::vector<std::uint8_t> indices;
  std::vector<std::int32_t> offsets{0};
  std::string footer;
  char version = '2';
  std::uint32_t leap_count = 0;
};

std::string make_tzif(const TzifSpec& spec) {
  const auto header = [](std::string& out, char version, std::uint32_t leaps, std::size_t times,
                         std::size_t types, std::size_t chars) {
    out += "TZif";
    out += version;
    out += std::string(15, '\0');
    for (const std::uint64_t count :
         {std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{leaps}, std::uint64_t{times},
          std::uint64_t{types}, std::uint64_t{chars}}) {
      put_be(out, count, 4);
    }
  };
  const auto data = [&](std::string& out, int time_size) {
    for (const std::int64_t t : spec.times) put_be(out, static_cast<std::uint64_t>(t), time_size);
    for (const std::uint8_t index : spec.indices) out += static_cast<char>(index);
    for (const std::int32_t offset : spec.offsets) {
      put_be(out, static_cast<std::uint32_t>(offset), 4);
      out += '\0';  // isdst
      out += '\0';  // designation index
    }
    out += std::string("ZZZ\0", 4);
    for (std::uint32_t i = 0; i < spec.leap_count; ++i) {
      put_be(out, static_cast<std::uint64_t>(78796800 + i), time_size);
      put_be(out, i + 1, 4);
    }
  };
  std::string out;
  if (spec.version == 0) {
    header(out, 0, spec.leap_count, spec.times.size(), spec.offsets.size(), 4);
    data(out, 4);
    return out;
  }
  // A minimal version 1 block, as `zic -b slim` writes.
  header(out, spec.version, 0, 0, 1, 1);
  out += std::string(7, '\0');
  header(out, spec.version, spec.leap_count, spec.times.size(), spec.offsets.size(), 4);
  data(out, 8);
  out += '\n' + spec.footer + '\n';
  return out;
}

Zone from_footer(const std::string& footer) {
  TzifSpec spec;
  spec.footer = footer;
  auto zone = Zone::from_tzif("test", make_tzif(spec));
  REQUIRE_MESSAGE(zone.ok(), zone.error().message);
  return *zone;
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
  CHECK(zone.offset_at(utc("2060-07-01T00:00:00Z")) == 8 * kHour);  // footer "CST-8"
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
  SUBCASE("2040, beyond the table: the footer rule CET-1CEST,M3.5.0,M10.5.0/3") {
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
  SUBCASE("Europe/Berlin 2026 (table) and 2040 (footer)") {
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

TEST_CASE("Zone::load reads $TZDIR") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("muster-tzdir-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "Test");
  TzifSpec spec;
  spec.offsets = {5 * kHour};
  spec.footer = "<+05>-5";
  std::ofstream(dir / "Test" / "Five", std::ios::binary) << make_tzif(spec);
  std::ofstream(dir / "Test" / "Text", std::ios::binary) << "not a zone\n";
  {
    const ScopedEnv tzdir("TZDIR", dir.string());
    const auto five = Zone::load("Test/Five");
    REQUIRE_MESSAGE(five.ok(), five.error().message);
    CHECK(five->name() == "Test/Five");
    CHECK(five->offset_at(0) == 5 * kHour);

    const auto text = Zone::load("Test/Text");
    REQUIRE_FALSE(text.ok());
    CHECK(text.error().code == Errc::not_found);
    CHECK(text.error().message.find("TZif") != std::string::npos);

    const auto shanghai = Zone::load("Asia/Shanghai");  // not in this TZDIR
    REQUIRE_FALSE(shanghai.ok());
    CHECK(shanghai.error().code == Errc::not_found);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("from_tzif reads version 1 files (32-bit block, no footer)") {
  TzifSpec spec;
  spec.version = 0;
  spec.times = {-100000, 0, 1000000};
  spec.indices = {1, 2, 1};
  spec.offsets = {-3 * kHour, 1 * kHour, 2 * kHour};
  const auto zone = Zone::from_tzif("v1", make_tzif(spec));
  REQUIRE_MESSAGE(zone.ok(), zone.error().message);
  CHECK(zone->offset_at(-100001 * UnixMs{1000}) == -3 * kHour);  // before the first: type 0
  CHECK(zone->offset_at(-100000 * UnixMs{1000}) == 1 * kHour);
  CHECK(zone->offset_at(-1) == 1 * kHour);
  CHECK(zone->offset_at(0) == 2 * kHour);
  CHECK(zone->offset_at(1000000 * UnixMs{1000}) == 1 * kHour);
  CHECK(zone->offset_at(utc("2100-01-01T00:00:00Z")) == 1 * kHour);  // the last one stays
}

TEST_CASE("from_tzif: versions 2 and 3 use the 64-bit block, then the footer") {
  for (const char version : {'2', '3'}) {
    CAPTURE(version);
    TzifSpec spec;
    spec.version = version;
    spec.times = {-(std::int64_t{1} << 40), utc("2000-01-01T00:00:00Z") / 1000};
    spec.indices = {0, 1};
    spec.offsets = {0, 3 * kHour};
    spec.footer = "<+04>-4";  // differs from the table on purpose
    const auto zone = Zone::from_tzif("v" + std::string(1, version), make_tzif(spec));
    REQUIRE_MESSAGE(zone.ok(), zone.error().message);
    CHECK(zone->offset_at(utc("1999-12-31T23:59:59Z")) == 0);
    CHECK(zone->offset_at(utc("2000-01-01T00:00:00Z")) == 3 * kHour);  // the table's own instant
    CHECK(zone->offset_at(utc("2000-01-01T00:00:01Z")) == 4 * kHour);  // then the rule
    CHECK(zone->from_local(utc("2000-01-01T05:00:00Z")) == utc("2000-01-01T01:00:00Z"));
  }
  // An empty footer: the last transition's offset stays.
  TzifSpec spec;
  spec.times = {0};
  spec.indices = {1};
  spec.offsets = {0, 7 * kHour};
  const auto zone = Zone::from_tzif("no rule", make_tzif(spec));
  REQUIRE_MESSAGE(zone.ok(), zone.error().message);
  CHECK(zone->offset_at(utc("2200-01-01T00:00:00Z")) == 7 * kHour);
}

TEST_CASE("TZ footer rules: every date form, times and names") {
  SUBCASE("Mm.w.d with the default 02:00 and the implied +1 h") {
    const Zone zone = from_footer("EST5EDT,M3.2.0,M11.1.0");
    CHECK(zone.offset_at(utc("2026-03-08T06:59:59Z")) == -5 * kHour);
    CHECK(zone.offset_at(utc("2026-03-08T07:00:00Z")) == -4 * kHour);
    CHECK(zone.offset_at(utc("2026-11-01T05:59:59Z")) == -4 * kHour);
    CHECK(zone.offset_at(utc("2026-11-01T06:00:00Z")) == -5 * kHour);
  }
  SUBCASE("daylight time without dates follows the US rules") {
    const Zone zone = from_footer("EST5EDT");
    CHECK(zone.offset_at(utc("2026-03-08T07:00:00Z")) == -4 * kHour);
    CHECK(zone.offset_at(utc("2026-11-01T06:00:00Z")) == -5 * kHour);
  }
  SUBCASE("week 5 is the last such weekday, even in a four-week month") {
    // The last Sunday of February 2026 is the 22nd; of February 2032 (leap) the 29th.
    const Zone zone = from_footer("AAA0BBB,M2.5.0/0,M11.1.0/0");
    CHECK(zone.offset_at(utc("2026-02-21T23:59:59Z")) == 0);
    CHECK(zone.offset_at(utc("2026-02-22T00:00:00Z")) == kHour);
    CHECK(zone.offset_at(utc("2032-02-28T23:59:59Z")) == 0);
    CHECK(zone.offset_at(utc("2032-02-29T00:00:00Z")) == kHour);
  }
  SUBCASE("Jn never counts February 29") {
    const Zone zone = from_footer("AAA-2BBB,J60,J305");  // March 1 and November 1, 02:00
    for (const char* year : {"2027", "2028"}) {
      CAPTURE(year);
      CHECK(zone.offset_at(utc((std::string(year) + "-02-28T23:59:59Z").c_str())) == 2 * kHour);
      CHECK(zone.offset_at(utc((std::string(year) + "-03-01T00:00:00Z").c_str())) == 3 * kHour);
      CHECK(zone.offset_at(utc((std::string(year) + "-10-31T22:59:59Z").c_str())) == 3 * kHour);
      CHECK(zone.offset_at(utc((std::string(year) + "-10-31T23:00:00Z").c_str())) == 2 * kHour);
    }
  }
  SUBCASE("n counts February 29") {
    const Zone zone = from_footer("AAA-2BBB,59,304");  // day 59 is March 1, or February 29
    CHECK(zone.offset_at(utc("2027-02-28T23:59:59Z")) == 2 * kHour);
    CHECK(zone.offset_at(utc("2027-03-01T00:00:00Z")) == 3 * kHour);
    CHECK(zone.offset_at(utc("2028-02-28T23:59:59Z")) == 2 * kHour);
    CHECK(zone.offset_at(utc("2028-02-29T00:00:00Z")) == 3 * kHour);
  }
  SUBCASE("negative transition times and <...> names (America/Nuuk)") {
    const Zone zone = from_footer("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    // Saturday 23:00 local, the eve of the last Sunday of March.
    CHECK(zone.offset_at(utc("2026-03-29T00:59:59Z")) == -2 * kHour);
    CHECK(zone.offset_at(utc("2026-03-29T01:00:00Z")) == -1 * kHour);
    CHECK(zone.offset_at(utc("2026-10-25T00:59:59Z")) == -1 * kHour);
    CHECK(zone.offset_at(utc("2026-10-25T01:00:00Z")) == -2 * kHour);
    // The same answers as the real file, which has the same footer.
    const Zone nuuk = load("America/Nuuk");
    for (const char* t : {"2040-03-25T00:59:59Z", "2040-03-25T01:00:00Z", "2040-10-28T00:59:59Z",
                          "2040-10-28T01:00:00Z"}) {
      CAPTURE(t);
      CHECK(zone.offset_at(utc(t)) == nuuk.offset_at(utc(t)));
    }
  }
  SUBCASE("hours beyond 24: daylight time all year") {
    const Zone zone = from_footer("EST5EDT,0/0,J365/25");  // RFC 8536's example
    for (const char* t : {"2030-01-01T04:59:59Z", "2030-01-01T05:00:00Z", "2030-07-01T00:00:00Z",
                          "2030-12-31T23:59:59Z", "2031-01-01T05:00:00Z", "2032-12-31T12:00:00Z"}) {
      CAPTURE(t);
      CHECK(zone.offset_at(utc(t)) == -4 * kHour);
    }
    CHECK(zone.from_local(utc("2030-12-31T23:30:00Z")) == utc("2031-01-01T03:30:00Z"));
  }
  SUBCASE("explicit offsets with minutes and seconds, and /time with minutes") {
    const Zone zone = from_footer("<+0330>-3:30<+0430>-4:30:15,J79/24,J263/24:00:00");
    CHECK(zone.offset_at(utc("2026-01-01T00:00:00Z")) == 3 * kHour + 30 * 60);
    CHECK(zone.offset_at(utc("2026-07-01T00:00:00Z")) == 4 * kHour + 30 * 60 + 15);
  }
  SUBCASE("southern hemisphere and negative daylight saving") {
    const Zone sydney = from_footer("AEST-10AEDT,M10.1.0,M4.1.0/3");
    CHECK(sydney.offset_at(utc("2040-01-15T00:00:00Z")) == 11 * kHour);
    CHECK(sydney.offset_at(utc("2040-07-15T00:00:00Z")) == 10 * kHour);
    CHECK(sydney.offset_at(utc("2040-12-31T23:00:00Z")) == 11 * kHour);
    const Zone dublin = from_footer("IST-1GMT0,M10.5.0,M3.5.0/1");
    CHECK(dublin.offset_at(utc("2040-01-15T00:00:00Z")) == 0);
    CHECK(dublin.offset_at(utc("2040-07-15T00:00:00Z")) == kHour);
    CHECK(dublin.offset_at(utc("2040-03-25T00:59:59Z")) == 0);
    CHECK(dublin.offset_at(utc("2040-03-25T01:00:00Z")) == kHour);
    CHECK(dublin.offset_at(utc("2040-10-28T00:59:59Z")) == kHour);
    CHECK(dublin.offset_at(utc("2040-10-28T01:00:00Z")) == 0);
    CHECK(dublin.from_local(utc("2040-10-28T01:30:00Z")) == utc("2040-10-28T00:30:00Z"));
  }
}

TEST_CASE("from_tzif rejects bad TZ footers") {
  const char* bad[] = {
      "CET",     // no offset
      "CE-1",    // name too short
      "<+0>-1",  // <> name too short
      "<+08-8",  // unclosed <
      "CET-25",  // offset beyond 24 h
      "CET-1:60",
      "CET-1CEST,M3.5.0",  // one date
      "CET-1CEST,M3.5.0,",
      "CET-1CEST,M13.5.0,M10.5.0",  // month 13
      "CET-1CEST,M3.6.0,M10.5.0",   // week 6
      "CET-1CEST,M3.5.7,M10.5.0",   // weekday 7
      "CET-1CEST,M3.0.0,M10.5.0",   // week 0
      "CET-1CEST,J0,J365",          // J counts from 1
      "CET-1CEST,J366,J1",
      "CET-1CEST,366,1",
      "CET-1CEST,M3.5.0/168,M10.5.0",  // beyond 167 h
      "CET-1CEST,M3.5.0/x,M10.5.0",
      "CET-1CEST,M3.5.0,M10.5.0/3 ",
      "CET-1CEST,M3.5.0,M10.5.0,M1.1.1",
      "CET-1 ",
      "-1",
      "1CET",
  };
  for (const char* footer : bad) {
    CAPTURE(footer);
    TzifSpec spec;
    spec.footer = footer;
    const auto zone = Zone::from_tzif("bad", make_tzif(spec));
    REQUIRE_FALSE(zone.ok());
    CHECK(zone.error().code == Errc::invalid);
  }
}

TEST_CASE("from_tzif rejects malformed files with a message") {
  const auto rejected = [](const std::string& bytes, const char* what) {
    CAPTURE(what);
    const auto zone = Zone::from_tzif("broken", bytes);
    REQUIRE_FALSE(zone.ok());
    CHECK(zone.error().code == Errc::invalid);
    CHECK(zone.error().message.find("broken") != std::string::npos);
  };
  TzifSpec good;
  good.times = {0, 100};
  good.indices = {0, 1};
  good.offsets = {0, kHour};
  good.footer = "AAA-1";
  REQUIRE(Zone::from_tzif("good", make_tzif(good)).ok());

  rejected("", "empty");
  rejected("TZif", "header only");
  rejected("TZjf2" + make_tzif(good).substr(5), "bad magic");
  std::string v5 = make_tzif(good);
  v5[4] = '5';
  rejected(v5, "unknown version");

  TzifSpec spec = good;
  spec.times = {100, 0};
  rejected(make_tzif(spec), "transitions out of order");
  spec = good;
  spec.times = {100, 100};
  rejected(make_tzif(spec), "repeated transition");
  spec = good;
  spec.indices = {0, 2};
  rejected(make_tzif(spec), "type index out of range");
  spec = good;
  spec.offsets = {0, 100000};
  rejected(make_tzif(spec), "offset out of range");
  spec = good;
  spec.offsets = {};
  spec.times = {};
  spec.indices = {};
  rejected(make_tzif(spec), "no types");
  spec = good;
  spec.leap_count = 2;
  rejected(make_tzif(spec), "leap seconds");
  std::string no_footer = make_tzif(good);
  no_footer.pop_back();
  rejected(no_footer, "unterminated footer");
  no_footer.resize(no_footer.size() - good.footer.size() - 1);
  rejected(no_footer, "no footer");
}

TEST_CASE("from_tzif rejects every truncation of a real zone file") {
  for (const char* name : {"Europe/Berlin", "Asia/Shanghai"}) {
    CAPTURE(name);
    const std::string bytes = read_file(std::filesystem::path("/usr/share/zoneinfo") / name);
    REQUIRE(Zone::from_tzif(name, bytes).ok());
    for (std::size_t size = 0; size < bytes.size(); ++size) {
      CAPTURE(size);
      CHECK_FALSE(Zone::from_tzif(name, bytes.substr(0, size)).ok());
    }
  }
}

TEST_CASE("from_tzif survives garbled bytes") {
  const std::string bytes = read_file("/usr/share/zoneinfo/Europe/Berlin");
  std::mt19937_64 rng(20261125);
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string garbled = bytes;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) {
      garbled[rng() % garbled.size()] = static_cast<char>(rng() % 256);
    }
    const auto zone = Zone::from_tzif("garbled", garbled);
    if (!zone.ok()) continue;
    ++accepted;
    // Whatever was accepted must answer without crashing.
    for (const UnixMs t : {UnixMs{-4000000000000}, UnixMs{0}, utc("2026-03-29T01:00:00Z"),
                           utc("2040-10-28T01:00:00Z"), UnixMs{9000000000000000}}) {
      const std::int32_t offset = zone->offset_at(t);
      CHECK(offset > -26 * kHour);
      CHECK(offset < 26 * kHour);
      (void)zone->from_local(t);
      (void)format_local(t, *zone);
    }
  }
  MESSAGE(accepted << " of 3000 garbled files were still valid TZif");
}
