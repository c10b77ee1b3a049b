// Time zones: times are stored in UTC and shown in the server's configured zone
// (default Asia/Shanghai), without depending on the process's TZ environment.
//
// Zones come from the system's tz database through Howard Hinnant's date/tz library
// (Debian's libhowardhinnant-date-dev, the library C++20's <chrono> time zones were
// standardised from). It is used instead of a TZif parser of muster's own because it is
// maintained against every tzdata release and tested far beyond what muster could test;
// Debian builds it to read the OS database in /usr/share/zoneinfo (USE_OS_TZDB), so it
// never downloads anything (timezone.cpp refuses to compile against a build that could).
//
// Two things the library does not do are done here, in a few lines each:
//  - $TZDIR. The library reads /usr/share/zoneinfo only, a path fixed when it was built.
//    load() therefore looks in $TZDIR itself: a zone missing there is not found, and a
//    zone whose file there differs from /usr/share/zoneinfo's is refused rather than
//    silently answered from the other file.
//  - Dates after the last transition in the file (2037 in Debian's files). The library
//    keeps the last offset forever; the zone's rule for every later year is the POSIX TZ
//    string on the file's last line (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"), read with the
//    same library's date/ptz.h. ptz.h 3.0.1 cannot read a rule whose switch time is
//    negative (RFC 8536's extension): America/Nuuk, Godthab and Scoresbysund
//    ("M3.5.0/-1") keep their last offset after 2037.
//
// A Zone is immutable; copies share it. Safe to use from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"

namespace muster {

class Zone {
 public:
  // UTC, always available.
  static Zone utc();
  // A fixed offset from UTC, e.g. fixed("+08:00", 8 * 3600).
  static Zone fixed(std::string name, std::int32_t offset_seconds);
  // Loads NAME ("Asia/Shanghai", "UTC", "Europe/Berlin") from the tz database.
  // Errors: invalid for a malformed name (empty, absolute, containing ".."); not_found
  // if database_dir() has no such zone file (or it is not TZif); unavailable if the
  // date library cannot read the zone from /usr/share/zoneinfo, or $TZDIR's file
  // differs from the one there. Every message names the zone and the directory.
  static Result<Zone> load(std::string_view name);
  // Where load() looks for zones: $TZDIR if it is set and not empty, else
  // /usr/share/zoneinfo.
  static std::string database_dir();

  const std::string& name() const { return name_; }

  // Offset from UTC (seconds) in effect at the UTC instant t.
  std::int32_t offset_at(UnixMs t) const;

  // The UTC instant of a local wall-clock time (milliseconds since the epoch as if
  // the local time were UTC). In a gap (spring forward) the time is read with the
  // offset before the gap; in an overlap (fall back) the earlier instant is chosen.
  UnixMs from_local(UnixMs local_as_utc) const;

 private:
  struct Rules;  // the library's zone and the rule after its last transition

  std::string name_;
  std::int32_t fixed_offset_ = 0;       // when rules_ is null
  std::shared_ptr<const Rules> rules_;  // null for utc() and fixed()
};

// "2026-11-25T08:00:00+08:00": the instant in the zone's local time with its offset
// ("Z" is never used, even for UTC: "+00:00").
std::string format_local(UnixMs t, const Zone& zone);
// "2026-11-25 08:00": short form for tables.
std::string format_local_short(UnixMs t, const Zone& zone);

// Parses a time a user typed: RFC 3339 with "Z" or an offset (as parse_utc), or a local
// time in `zone`: "2026-11-25T08:00", "2026-11-25T08:00:00", "2026-11-25 08:00",
// "2026-11-25 08:00:00", or a bare date "2026-11-25" (local midnight).
std::optional<UnixMs> parse_time(std::string_view text, const Zone& zone);

}  // namespace muster
