#include "muster/base/timezone.hpp"

#include <date/ptz.h>
#include <date/tz.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <utility>

#include "muster/base/civil.hpp"

// The database must be the operating system's: a build of the library that can
// download one (HAS_REMOTE_API) would fetch it from the network at run time.
static_assert(USE_OS_TZDB == 1 && HAS_REMOTE_API == 0 && AUTO_DOWNLOAD == 0,
              "muster needs date/tz built with USE_OS_TZDB=1, HAS_REMOTE_API=0, AUTO_DOWNLOAD=0");

namespace muster {

using civil::days_from_civil;
using civil::floor_div;
using civil::kMsPerSecond;
using civil::kSecondsPerDay;

namespace {

constexpr const char* kSystemDir = "/usr/share/zoneinfo";  // the only one the library reads
// Real zone files are a few kilobytes; the cap keeps a huge file under $TZDIR
// from being read into memory.
constexpr std::uintmax_t kMaxTzifBytes = 1 << 20;
// No zone is 26 h or more from UTC (RFC 8536 §3.2), so a local time lies within 26 h
// of every instant that shows it.
constexpr std::chrono::hours kMaxOffset{26};
constexpr std::int64_t kSecondsPerHour = 3600;
// The library's calendar ends at the years -32767 and 32767: instants beyond the years
// -30000 and 30000 are answered as at those, far from any transition.
constexpr std::int64_t kFirstSecond = days_from_civil(-30000, 1, 1) * kSecondsPerDay;
constexpr std::int64_t kLastSecond = days_from_civil(30000, 1, 1) * kSecondsPerDay;

std::chrono::seconds clamped_seconds(std::int64_t s) {
  return std::chrono::seconds{s < kFirstSecond ? kFirstSecond : s > kLastSecond ? kLastSecond : s};
}

// The whole file, or nullopt with `why` set.
std::optional<std::string> read_zone_file(const std::filesystem::path& path, std::string& why) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    why = "no such zone file";
    return std::nullopt;
  }
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxTzifBytes) {
    why = ec ? "cannot read " + path.string() : "file too large to be TZif";
    return std::nullopt;
  }
  std::ifstream file(path, std::ios::binary);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!file || !file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    why = "cannot read " + path.string();
    return std::nullopt;
  }
  return bytes;
}

// The POSIX TZ string on the last line of a TZif file of version 2 or later (RFC 8536
// §3.3), empty if there is none. The library has already accepted the file, so the
// line is only looked for, not checked.
std::string tz_string_of(std::string_view bytes) {
  if (bytes.size() < 6 || bytes[4] < '2' || bytes.back() != '\n') return {};
  const std::size_t start = bytes.rfind('\n', bytes.size() - 2);
  if (start == std::string_view::npos) return {};
  const std::string_view line = bytes.substr(start + 1, bytes.size() - start - 2);
  for (const char c : line) {
    if (c < ' ' || c > '~') return {};
  }
  return std::string(line);
}

// The library's messages end with a newline; a message of ours goes on one line.
std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

}  // namespace

struct Zone::Rules {
  // Owned by the library's database, which lives as long as the process.
  const date::time_zone* zone = nullptr;
  // The last transition in the zone's file: after it, `after_table` decides when set.
  date::sys_seconds table_end;
  std::optional<Posix::time_zone> after_table;
};

Zone Zone::utc() { return fixed("UTC", 0); }

Zone Zone::fixed(std::string name, std::int32_t offset_seconds) {
  Zone zone;
  zone.name_ = std::move(name);
  zone.fixed_offset_ = offset_seconds;
  return zone;
}

std::string Zone::database_dir() {
  const char* tzdir = std::getenv("TZDIR");
  return tzdir != nullptr && *tzdir != '\0' ? tzdir : kSystemDir;
}

Result<Zone> Zone::load(std::string_view name) {
  const auto invalid = [&](std::string_view why) {
    return make_error(Errc::invalid,
                      "bad time zone name '" + std::string(name) + "': " + std::string(why));
  };
  if (name.empty()) return invalid("empty");
  if (name.size() > 255) return invalid("too long");
  if (name.front() == '/') return invalid("absolute path");
  if (name.find("..") != std::string_view::npos) return invalid("contains \"..\"");
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '/' || c == '_' || c == '-' || c == '+' || c == '.';
    if (!ok) return invalid("unexpected character");
  }

  const std::filesystem::path dir = database_dir();
  const bool from_env = dir != kSystemDir;
  const std::string where = dir.string() + (from_env ? " ($TZDIR)" : "");
  const auto not_found = [&](const std::string& why) {
    return make_error(Errc::not_found,
                      "no time zone '" + std::string(name) + "' in " + where + ": " + why);
  };

  std::string why;
  const std::optional<std::string> bytes = read_zone_file(dir / std::string(name), why);
  if (!bytes) return not_found(why);
  if (bytes->compare(0, 4, "TZif") != 0) return not_found("not a TZif file");

  std::error_code ec;
  if (from_env && !std::filesystem::equivalent(dir, kSystemDir, ec)) {
    // The library cannot be pointed at $TZDIR; it may answer only if it would read the
    // very same file.
    std::string system_why;
    const auto system_bytes = read_zone_file(std::filesystem::path(kSystemDir) / std::string(name),
                                             system_why);
    if (system_bytes != bytes) {
      return make_error(Errc::unavailable,
                        "time zone '" + std::string(name) + "' in " + where +
                            " cannot be used: the date library reads " + kSystemDir +
                            " only, where this zone " +
                            (system_bytes ? "differs" : "is missing (" + system_why + ")"));
    }
  }

  auto rules = std::make_shared<Rules>();
  try {
    rules->zone = date::locate_zone(name);
    // Reading the last period loads the file now, so that no later lookup can throw.
    rules->table_end =
        rules->zone->get_info(date::sys_seconds{clamped_seconds(kLastSecond)}).begin;
  } catch (const std::exception& e) {
    return make_error(Errc::unavailable, "time zone '" + std::string(name) + "' in " + where +
                                             " cannot be used: the date library, which reads " +
                                             kSystemDir + ", says: " + one_line(e.what()));
  }
  if (const std::string rule = tz_string_of(*bytes); !rule.empty()) {
    try {
      rules->after_table.emplace(rule);
    } catch (const std::exception&) {
      // A rule ptz.h cannot read (see the header): the last offset stays.
    }
  }

  Zone zone;
  zone.name_ = std::string(name);
  zone.rules_ = std::move(rules);
  return zone;
}

std::int32_t Zone::offset_at(UnixMs t) const {
  if (!rules_) return fixed_offset_;
  const date::sys_seconds s{clamped_seconds(floor_div(t, kMsPerSecond))};
  const std::chrono::seconds offset = rules_->after_table && s > rules_->table_end
                                          ? rules_->after_table->get_info(s).offset
                                          : rules_->zone->get_info(s).offset;
  return static_cast<std::int32_t>(offset.count());
}

UnixMs Zone::from_local(UnixMs local_as_utc) const {
  if (!rules_) return local_as_utc - fixed_offset_ * kMsPerSecond;
  const std::int64_t local = floor_div(local_as_utc, kMsPerSecond);
  const std::int64_t millis = local_as_utc - local * kMsPerSecond;
  const date::local_seconds l{clamped_seconds(local)};
  // For 26 h after the last transition the file's last offset still holds (no zone
  // switches twice in a day), so the rule is needed only beyond.
  const bool after_table =
      rules_->after_table &&
      l - kMaxOffset > date::local_seconds{rules_->table_end.time_since_epoch()};
  const date::local_info info =
      after_table ? rules_->after_table->get_info(l) : rules_->zone->get_info(l);
  // `first` is the period before a gap, and the earlier of an overlap's two: in a gap
  // the time is read with the offset before it (02:30 becomes 03:30), in an overlap
  // the earlier instant is taken.
  return (local - info.first.offset.count()) * kMsPerSecond + millis;
}

namespace {

// RFC 3339 offsets have whole minutes; the local time shown is read with the
// rounded offset, so the text still names the exact instant (this only matters for
// local mean time before ~1900, e.g. Shanghai's +08:05:43).
std::int64_t shown_offset(UnixMs t, const Zone& zone) {
  const std::int64_t offset = zone.offset_at(t);
  const std::int64_t minutes = offset >= 0 ? (offset + 30) / 60 : -((-offset + 30) / 60);
  return minutes * 60;
}

}  // namespace

std::string format_local(UnixMs t, const Zone& zone) {
  const std::int64_t offset = shown_offset(t, zone);
  std::string text = format_utc(t + offset * kMsPerSecond);
  text.pop_back();  // the 'Z'
  const std::int64_t magnitude = offset < 0 ? -offset : offset;
  const auto hours = static_cast<int>(magnitude / kSecondsPerHour);
  const auto minutes = static_cast<int>(magnitude / 60 % 60);
  text += offset < 0 ? '-' : '+';
  text += static_cast<char>('0' + hours / 10);
  text += static_cast<char>('0' + hours % 10);
  text += ':';
  text += static_cast<char>('0' + minutes / 10);
  text += static_cast<char>('0' + minutes % 10);
  return text;
}

std::string format_local_short(UnixMs t, const Zone& zone) {
  const std::string text = format_utc(t + shown_offset(t, zone) * kMsPerSecond);
  const std::size_t tee = text.find('T');
  return text.substr(0, tee) + ' ' + text.substr(tee + 1, 5);
}

std::optional<UnixMs> parse_time(std::string_view text, const Zone& zone) {
  // The local forms are rewritten as the UTC form parse_utc reads, so both share
  // one validation of fields; the zone then moves the result. No zoned RFC 3339
  // text is this short ("YYYY-MM-DDTHH:MM:SSZ" has 20 characters), and parse_utc's
  // own "YYYY-MM-DD HH:MM" must mean local time here, not UTC.
  std::string utc_form;
  if (text.size() == 10) {
    utc_form = std::string(text) + "T00:00:00Z";
  } else if (text.size() == 16 || text.size() == 19) {
    const char separator = text[10];
    if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
    utc_form = std::string(text.substr(0, 10)) + 'T' + std::string(text.substr(11)) +
               (text.size() == 16 ? ":00Z" : "Z");
  } else {
    return parse_utc(text);
  }
  const std::optional<UnixMs> local = parse_utc(utc_form);
  if (!local) return std::nullopt;
  return zone.from_local(*local);
}

}  // namespace muster
