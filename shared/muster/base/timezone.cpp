#include "muster/base/timezone.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <utility>

#include "muster/base/civil.hpp"

namespace muster {

using civil::civil_from_days;
using civil::days_from_civil;
using civil::floor_div;
using civil::kMsPerSecond;
using civil::kSecondsPerDay;

namespace {

constexpr std::int64_t kSecondsPerHour = 3600;
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
// RFC 8536 §3.2 asks for UT offsets from -24:59:59 to +25:59:59; anything beyond
// ±26 h is a corrupt file, not a place on Earth.
constexpr std::int64_t kMaxOffset = 26 * kSecondsPerHour - 1;
// Real zone files are a few kilobytes; the cap keeps a huge file under $TZDIR
// from being read into memory.
constexpr std::size_t kMaxTzifBytes = 1 << 20;

// A bounds-checked big-endian reader over the bytes of a TZif file.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  std::size_t remaining() const { return bytes_.size() - pos_; }

  bool skip(std::uint64_t count) {
    if (count > remaining()) return false;
    pos_ += static_cast<std::size_t>(count);
    return true;
  }

  bool bytes(std::size_t count, std::string_view& out) {
    if (count > remaining()) return false;
    out = bytes_.substr(pos_, count);
    pos_ += count;
    return true;
  }

  bool u8(std::uint8_t& out) {
    if (remaining() < 1) return false;
    out = static_cast<std::uint8_t>(bytes_[pos_++]);
    return true;
  }

  bool u32(std::uint32_t& out) {
    std::uint64_t value = 0;
    if (!big_endian(4, value)) return false;
    out = static_cast<std::uint32_t>(value);
    return true;
  }

  // A two's-complement signed integer of 4 or 8 bytes.
  bool signed_int(std::size_t size, std::int64_t& out) {
    std::uint64_t value = 0;
    if (!big_endian(size, value)) return false;
    if (size == 4) {
      out = static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
    } else {
      out = static_cast<std::int64_t>(value);
    }
    return true;
  }

 private:
  bool big_endian(std::size_t size, std::uint64_t& out) {
    if (remaining() < size) return false;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i) {
      value = (value << 8) | static_cast<std::uint8_t>(bytes_[pos_ + i]);
    }
    pos_ += size;
    out = value;
    return true;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
};

struct TzifHeader {
  char version = 0;
  std::uint32_t isutcnt = 0;
  std::uint32_t isstdcnt = 0;
  std::uint32_t leapcnt = 0;
  std::uint32_t timecnt = 0;
  std::uint32_t typecnt = 0;
  std::uint32_t charcnt = 0;

  std::uint64_t data_size(std::uint64_t time_size) const {
    return timecnt * time_size + timecnt + typecnt * std::uint64_t{6} + charcnt +
           leapcnt * (time_size + 4) + isstdcnt + isutcnt;
  }
};

// RFC 8536 §3.1. Returns an error text, empty on success.
std::string read_header(ByteReader& in, TzifHeader& header) {
  std::string_view magic;
  if (!in.bytes(4, magic) || magic != "TZif") return "not a TZif file (no \"TZif\" magic)";
  std::uint8_t version = 0;
  if (!in.u8(version)) return "truncated header";
  // Version 4 differs from 3 only in how leap-second tables may be truncated, and
  // leap seconds are refused below, so a newer tzdata's files still load.
  if (version != 0 && version != '2' && version != '3' && version != '4') {
    return "unsupported TZif version";
  }
  header.version = static_cast<char>(version);
  if (!in.skip(15) || !in.u32(header.isutcnt) || !in.u32(header.isstdcnt) ||
      !in.u32(header.leapcnt) || !in.u32(header.timecnt) || !in.u32(header.typecnt) ||
      !in.u32(header.charcnt)) {
    return "truncated header";
  }
  return {};
}

struct TzifData {
  std::vector<std::int64_t> transitions;
  std::vector<std::int32_t> offsets;
  std::int32_t initial_offset = 0;
};

// One data block (RFC 8536 §3.2), with the checks that keep a garbled file from
// producing nonsense: indices in range, transitions strictly ascending.
std::string read_data(ByteReader& in, const TzifHeader& header, std::size_t time_size,
                      TzifData& data) {
  if (in.remaining() < header.data_size(time_size)) return "truncated data block";
  if (header.typecnt == 0) return "no local time types";
  if (header.charcnt == 0) return "no time zone designations";
  if (header.isutcnt != 0 && header.isutcnt != header.typecnt) return "bad UT indicator count";
  if (header.isstdcnt != 0 && header.isstdcnt != header.typecnt) {
    return "bad standard/wall indicator count";
  }
  if (header.leapcnt != 0) {
    return "leap-second (\"right/\") zones are not supported: muster's times are Unix times";
  }

  data.transitions.resize(header.timecnt);
  for (auto& t : data.transitions) {
    (void)in.signed_int(time_size, t);  // sizes were checked above
  }
  for (std::size_t i = 1; i < data.transitions.size(); ++i) {
    if (data.transitions[i] <= data.transitions[i - 1]) return "transitions out of order";
  }
  std::vector<std::uint8_t> indices(header.timecnt);
  for (auto& index : indices) {
    (void)in.u8(index);
    if (index >= header.typecnt) return "transition names an unknown local time type";
  }
  std::vector<std::int32_t> type_offsets(header.typecnt);
  for (auto& type_offset : type_offsets) {
    std::int64_t offset = 0;
    std::uint8_t is_dst = 0;
    std::uint8_t designation = 0;
    (void)in.signed_int(4, offset);
    (void)in.u8(is_dst);
    (void)in.u8(designation);
    if (offset < -kMaxOffset || offset > kMaxOffset) return "UT offset out of range";
    if (is_dst > 1) return "bad DST indicator";
    if (designation >= header.charcnt) return "designation index out of range";
    type_offset = static_cast<std::int32_t>(offset);
  }
  std::string_view designations;
  (void)in.bytes(header.charcnt, designations);
  if (designations.back() != '\0') return "designations not NUL-terminated";
  (void)in.skip(std::uint64_t{header.isstdcnt} + header.isutcnt);

  data.offsets.clear();
  data.offsets.reserve(indices.size());
  for (const std::uint8_t index : indices) data.offsets.push_back(type_offsets[index]);
  data.initial_offset = type_offsets[0];
  return {};
}

// A cursor over a POSIX TZ string; digits and exact characters only, so nothing
// depends on the C locale.
class TzCursor {
 public:
  explicit TzCursor(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ == text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  bool accept(char c) {
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // 1 to `max_digits` decimal digits.
  bool number(std::size_t max_digits, std::int64_t& out) {
    std::size_t count = 0;
    std::int64_t value = 0;
    while (count < max_digits && is_digit(peek())) {
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
      ++count;
    }
    out = value;
    return count > 0;
  }

  // A zone abbreviation: three or more letters, or "<...>" holding three or more
  // letters, digits, '+' or '-' (e.g. "<+08>").
  bool name() {
    std::size_t count = 0;
    if (accept('<')) {
      while (is_alpha(peek()) || is_digit(peek()) || peek() == '+' || peek() == '-') {
        ++pos_;
        ++count;
      }
      return count >= 3 && accept('>');
    }
    while (is_alpha(peek())) {
      ++pos_;
      ++count;
    }
    return count >= 3;
  }

  // [+|-]hh[:mm[:ss]] in seconds, hours at most `max_hours`.
  bool duration(std::int64_t max_hours, std::int64_t& out) {
    std::int64_t sign = 1;
    if (accept('-')) {
      sign = -1;
    } else {
      accept('+');
    }
    std::int64_t hours = 0;
    std::int64_t minutes = 0;
    std::int64_t seconds = 0;
    if (!number(3, hours) || hours > max_hours) return false;
    if (accept(':')) {
      if (!number(2, minutes) || minutes > 59) return false;
      if (accept(':') && (!number(2, seconds) || seconds > 59)) return false;
    }
    out = sign * (hours * kSecondsPerHour + minutes * 60 + seconds);
    return true;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

// A POSIX TZ rule as in a TZif footer (RFC 8536 §3.3), e.g.
// "CET-1CEST,M3.5.0,M10.5.0/3": standard time, and optionally daylight time with the
// two dates that switch to and from it, every year.
struct Zone::Rule {
  struct Date {
    enum class Kind { julian_no_leap, julian_zero, month_week_day };
    Kind kind = Kind::month_week_day;
    std::int64_t day = 0;  // Jn: 1-365; n: 0-365
    unsigned month = 0;    // Mm.w.d: 1-12
    unsigned week = 0;     // 1-5, 5 = the last such weekday of the month
    unsigned weekday = 0;  // 0 = Sunday
    // Local time of day; RFC 8536 allows -167 h to 167 h.
    std::int64_t time = 2 * kSecondsPerHour;
  };

  struct Change {
    std::int64_t at;      // UTC seconds
    std::int32_t offset;  // in effect from `at`
  };

  std::int32_t std_offset = 0;
  bool has_dst = false;
  std::int32_t dst_offset = 0;
  Date start;  // to daylight time, in standard local time
  Date end;    // back to standard time, in daylight local time

  static std::optional<Rule> parse(std::string_view text) {
    TzCursor in(text);
    Rule rule;
    std::int64_t offset = 0;
    // POSIX offsets count west of Greenwich: "CET-1" is UTC+1.
    if (!in.name() || !in.duration(24, offset)) return std::nullopt;
    rule.std_offset = static_cast<std::int32_t>(-offset);
    if (in.at_end()) return rule;

    rule.has_dst = true;
    if (!in.name()) return std::nullopt;
    rule.dst_offset = rule.std_offset + static_cast<std::int32_t>(kSecondsPerHour);
    if (!in.at_end() && in.peek() != ',') {
      if (!in.duration(24, offset)) return std::nullopt;
      rule.dst_offset = static_cast<std::int32_t>(-offset);
    }
    if (in.at_end()) {
      // POSIX leaves the dates to the implementation; tzcode uses the US rules.
      TzCursor us(",M3.2.0,M11.1.0");
      (void)parse_dates(us, rule);
      return rule;
    }
    if (!parse_dates(in, rule) || !in.at_end()) return std::nullopt;
    return rule;
  }

  std::int32_t offset_at(std::int64_t t) const {
    if (!has_dst) return std_offset;
    const std::int64_t year = civil_from_days(floor_div(t + std_offset, kSecondsPerDay)).year;
    std::vector<Change> changes;
    for (std::int64_t y = year - 1; y <= year + 1; ++y) add_changes(y, changes);
    std::stable_sort(changes.begin(), changes.end(),
                     [](const Change& a, const Change& b) { return a.at < b.at; });
    std::int32_t offset = std_offset;
    for (const Change& change : changes) {
      if (change.at > t) break;
      offset = change.offset;
    }
    return offset;
  }

  // The year's two switches, start first; callers sort. When one year's end and
  // the next year's start fall on the same second ("EST5EDT,0/0,J365/25", daylight
  // time all year), the stable sort keeps the start last, so daylight time wins.
  void add_changes(std::int64_t year, std::vector<Change>& out) const {
    if (!has_dst) return;
    out.push_back({local_seconds(start, year) - std_offset, dst_offset});
    out.push_back({local_seconds(end, year) - dst_offset, std_offset});
  }

 private:
  static bool parse_dates(TzCursor& in, Rule& rule) {
    return in.accept(',') && parse_date(in, rule.start) && in.accept(',') &&
           parse_date(in, rule.end);
  }

  static bool parse_date(TzCursor& in, Date& date) {
    std::int64_t a = 0;
    std::int64_t b = 0;
    std::int64_t c = 0;
    if (in.accept('J')) {
      if (!in.number(3, a) || a < 1 || a > 365) return false;
      date.kind = Date::Kind::julian_no_leap;
      date.day = a;
    } else if (in.accept('M')) {
      if (!in.number(2, a) || a < 1 || a > 12 || !in.accept('.') || !in.number(1, b) || b < 1 ||
          b > 5 || !in.accept('.') || !in.number(1, c) || c > 6) {
        return false;
      }
      date.kind = Date::Kind::month_week_day;
      date.month = static_cast<unsigned>(a);
      date.week = static_cast<unsigned>(b);
      date.weekday = static_cast<unsigned>(c);
    } else {
      if (!in.number(3, a) || a > 365) return false;
      date.kind = Date::Kind::julian_zero;
      date.day = a;
    }
    date.time = 2 * kSecondsPerHour;
    if (in.accept('/')) return in.duration(167, date.time);
    return true;
  }

  // The date's wall-clock time in `year`, as seconds since the epoch read as UTC.
  static std::int64_t local_seconds(const Date& date, std::int64_t year) {
    const std::int64_t jan1 = days_from_civil(year, 1, 1);
    std::int64_t day = 0;
    switch (date.kind) {
      case Date::Kind::julian_no_leap:
        // Jn never counts February 29: J60 is March 1 in every year.
        day = jan1 + date.day - 1 + (civil::is_leap(year) && date.day >= 60 ? 1 : 0);
        break;
      case Date::Kind::julian_zero:
        day = jan1 + date.day;
        break;
      case Date::Kind::month_week_day: {
        const std::int64_t first = days_from_civil(year, date.month, 1);
        const unsigned first_weekday = civil::weekday_from_days(first);
        unsigned offset = (date.weekday + 7 - first_weekday) % 7 + (date.week - 1) * 7;
        const unsigned length = civil::days_in_month(year, date.month);
        while (offset >= length) offset -= 7;
        day = first + offset;
        break;
      }
    }
    return day * kSecondsPerDay + date.time;
  }
};

Zone Zone::utc() { return fixed("UTC", 0); }

Zone Zone::fixed(std::string name, std::int32_t offset_seconds) {
  Zone zone;
  zone.name_ = std::move(name);
  zone.initial_offset_ = offset_seconds;
  return zone;
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

  const char* tzdir = std::getenv("TZDIR");
  const std::filesystem::path dir =
      tzdir != nullptr && *tzdir != '\0' ? tzdir : "/usr/share/zoneinfo";
  const std::filesystem::path path = dir / std::string(name);
  const auto not_found = [&](std::string_view why) {
    return make_error(Errc::not_found, "no time zone '" + std::string(name) + "' in " +
                                           dir.string() + ": " + std::string(why));
  };

  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return not_found("no such zone file");
  std::ifstream file(path, std::ios::binary);
  if (!file) return not_found("cannot open " + path.string());
  std::string bytes;
  char buffer[4096];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    bytes.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (bytes.size() > kMaxTzifBytes) return not_found("file too large to be TZif");
  }
  if (file.bad()) return not_found("cannot read " + path.string());

  Result<Zone> zone = from_tzif(std::string(name), bytes);
  if (!zone) return not_found(zone.error().message);
  return zone;
}

Result<Zone> Zone::from_tzif(std::string name, std::string_view bytes) {
  const auto bad = [&](std::string_view why) {
    return make_error(Errc::invalid, "time zone '" + name + "': " + std::string(why));
  };
  ByteReader in(bytes);
  TzifHeader header;
  if (std::string why = read_header(in, header); !why.empty()) return bad(why);

  TzifData data;
  std::shared_ptr<const Rule> rule;
  if (header.version == 0) {
    if (std::string why = read_data(in, header, 4, data); !why.empty()) return bad(why);
  } else {
    // The version 1 block is for old readers; the 64-bit block after it is authoritative.
    if (!in.skip(header.data_size(4))) return bad("truncated data block");
    TzifHeader header64;
    if (std::string why = read_header(in, header64); !why.empty()) {
      return bad("second header: " + why);
    }
    if (std::string why = read_data(in, header64, 8, data); !why.empty()) return bad(why);

    std::string_view footer_start;
    if (!in.bytes(1, footer_start) || footer_start != "\n") return bad("missing TZ footer");
    std::string footer;
    std::string_view c;
    while (in.bytes(1, c) && c != "\n") footer += c;
    if (c != "\n") return bad("unterminated TZ footer");
    // An empty footer means no rule: the last transition's offset stays.
    if (!footer.empty()) {
      std::optional<Rule> parsed = Rule::parse(footer);
      if (!parsed) return bad("bad TZ rule in footer: \"" + footer + "\"");
      rule = std::make_shared<const Rule>(*parsed);
    }
  }

  Zone zone;
  zone.name_ = std::move(name);
  zone.transitions_ = std::move(data.transitions);
  zone.offsets_ = std::move(data.offsets);
  zone.initial_offset_ = data.initial_offset;
  zone.rule_ = std::move(rule);
  return zone;
}

std::int32_t Zone::offset_at(UnixMs t) const {
  const std::int64_t seconds = floor_div(t, kMsPerSecond);
  if (rule_ && (transitions_.empty() || seconds > transitions_.back())) {
    return rule_->offset_at(seconds);
  }
  const auto after = std::upper_bound(transitions_.begin(), transitions_.end(), seconds);
  if (after == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<std::size_t>(std::distance(transitions_.begin(), after)) - 1];
}

UnixMs Zone::from_local(UnixMs local_as_utc) const {
  const std::int64_t local = floor_div(local_as_utc, kMsPerSecond);
  const std::int64_t millis = local_as_utc - local * kMsPerSecond;

  // Offsets stay within ±26 h, so every instant that can show `local` lies within
  // two days of it. List the periods of constant offset over that window.
  const std::int64_t lo = local - 2 * kSecondsPerDay;
  const std::int64_t hi = local + 2 * kSecondsPerDay;
  std::vector<Rule::Change> changes;
  const auto first = std::upper_bound(transitions_.begin(), transitions_.end(), lo);
  for (auto it = first; it != transitions_.end() && *it <= hi; ++it) {
    changes.push_back(
        {*it, offsets_[static_cast<std::size_t>(std::distance(transitions_.begin(), it))]});
  }
  if (rule_) {
    // The rule governs every instant after the last transition (all of them if
    // there are none).
    const std::int64_t after = transitions_.empty() ? lo : std::max(lo, transitions_.back());
    std::vector<Rule::Change> rule_changes;
    if (!transitions_.empty() && transitions_.back() >= lo && transitions_.back() < hi) {
      const std::int64_t handover = transitions_.back() + 1;
      rule_changes.push_back({handover, rule_->offset_at(handover)});
    }
    const auto year_of = [](std::int64_t t) {
      return civil_from_days(floor_div(t, kSecondsPerDay)).year;
    };
    for (std::int64_t y = year_of(lo) - 1; y <= year_of(hi) + 1; ++y) {
      rule_->add_changes(y, rule_changes);
    }
    std::stable_sort(rule_changes.begin(), rule_changes.end(),
                     [](const Rule::Change& a, const Rule::Change& b) { return a.at < b.at; });
    for (const Rule::Change& change : rule_changes) {
      if (change.at > after && change.at <= hi) changes.push_back(change);
    }
  }

  std::vector<Rule::Change> periods{{kMin, offset_at(lo * kMsPerSecond)}};
  for (const Rule::Change& change : changes) {
    if (change.at == periods.back().at) {
      periods.back().offset = change.offset;
    } else if (change.offset != periods.back().offset) {
      periods.push_back(change);
    }
  }

  const auto to_ms = [&](std::int64_t seconds) { return seconds * kMsPerSecond + millis; };
  const auto end_of = [&](std::size_t i) {
    return i + 1 < periods.size() ? periods[i + 1].at : kMax;
  };
  // Periods are in order, so the first that contains its reading is the earliest
  // instant: in an overlap, the one before the clocks went back.
  for (std::size_t i = 0; i < periods.size(); ++i) {
    const std::int64_t t = local - periods[i].offset;
    if (t >= periods[i].at && t < end_of(i)) return to_ms(t);
  }
  // A gap: `local` is past the end of one period and before the start of the next;
  // reading it with the earlier offset lands after the jump (02:30 becomes 03:30).
  for (std::size_t i = 0; i + 1 < periods.size(); ++i) {
    if (local - periods[i].offset >= end_of(i) && local - periods[i + 1].offset < end_of(i)) {
      return to_ms(local - periods[i].offset);
    }
  }
  return to_ms(local - periods.back().offset);
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
