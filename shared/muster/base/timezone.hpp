// Time zones: times are stored in UTC and shown in the server's configured zone
// (default Asia/Shanghai). A Zone is read from the system's tz database (TZif files,
// /usr/share/zoneinfo or $TZDIR) so daylight saving rules are right for any zone,
// without depending on the process's TZ environment.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"

namespace muster {

class Zone {
 public:
  // UTC, always available.
  static Zone utc();
  // A fixed offset from UTC, e.g. fixed("+08:00", 8 * 3600).
  static Zone fixed(std::string name, std::int32_t offset_seconds);
  // Loads NAME ("Asia/Shanghai", "UTC", "Europe/Berlin") from $TZDIR or
  // /usr/share/zoneinfo. Errors: invalid for a malformed name (empty, absolute,
  // containing ".."), not_found if there is no such zone file or it is not TZif.
  static Result<Zone> load(std::string_view name);
  // Parses the bytes of a TZif file (versions 1-3; the 64-bit block when present).
  static Result<Zone> from_tzif(std::string name, std::string_view bytes);

  const std::string& name() const { return name_; }

  // Offset from UTC (seconds) in effect at the UTC instant t.
  std::int32_t offset_at(UnixMs t) const;

  // The UTC instant of a local wall-clock time (milliseconds since the epoch as if
  // the local time were UTC). In a gap (spring forward) the time is read with the
  // offset before the gap; in an overlap (fall back) the earlier instant is chosen.
  UnixMs from_local(UnixMs local_as_utc) const;

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;  // UTC seconds, ascending
  std::vector<std::int32_t> offsets_;      // offset after each transition
  std::int32_t initial_offset_ = 0;        // before the first transition
  // Beyond the last transition the zone's TZ footer rule (e.g. "CET-1CEST,M3.5.0,M10.5.0/3")
  // decides; kept parsed here.
  struct Rule;
  std::shared_ptr<const Rule> rule_;
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
