// Time in muster: milliseconds since the Unix epoch, UTC, behind a Clock interface
// so the core is tested with a manual clock and never sleeps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace muster {

using UnixMs = std::int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  UnixMs now_ms() const override;
};

// A clock that moves only when told to. For tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixMs start) : now_(start) {}
  UnixMs now_ms() const override { return now_; }
  void set(UnixMs t) { now_ = t; }
  void advance(UnixMs delta) { now_ += delta; }

 private:
  UnixMs now_;
};

// "2026-11-23T08:00:00Z" (seconds precision, always UTC).
std::string format_utc(UnixMs t);

// Parses RFC 3339 / ISO 8601 timestamps: "2026-11-23T08:00:00Z", with optional
// fractional seconds ("…:00.250Z") and numeric offsets ("…T16:00:00+08:00").
// Also accepts "2026-11-23 08:00" (space separator, minutes precision, UTC).
// Returns nullopt for anything else, including out-of-range fields.
std::optional<UnixMs> parse_utc(std::string_view text);

}  // namespace muster
