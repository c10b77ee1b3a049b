// The household registry reader (server/musterd/household_csv.hpp) on arbitrary bytes.
// Promises checked: it never crashes or throws; a refused file has an error and the line
// of the problem (within the file) and no rows; an accepted file has rows that obey the
// header's limits with unique households, and writing those rows back as RFC 4180 (every
// field quoted) reads back to the same rows.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "muster/base/utf8.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/headcount.hpp"
#include "musterd/core/household_csv.hpp"

namespace {

std::string csv_field(std::string_view field) {
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string write_csv(const musterd::HouseholdCsv& csv) {
  std::string out = csv.has_phone ? "area,household,address,members,phone\r\n" : "area,household,address,members\n";
  for (const auto& r : csv.rows) {
    out += csv_field(r.area) + "," + csv_field(r.household) + "," + csv_field(r.address) + "," + std::to_string(r.members);
    if (csv.has_phone) out += "," + csv_field(r.phone);
    out += csv.has_phone ? "\r\n" : "\n";
  }
  return out;
}

std::string describe(const musterd::HouseholdRow& r) {
  return std::to_string(r.line) + ": [" + r.area + "] [" + r.household + "] [" + r.address + "] " +
         std::to_string(r.members) + " [" + r.phone + "]";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const musterd::HouseholdCsv csv = musterd::parse_household_csv(text);
  const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  if (!csv.ok()) {
    FUZZ_CHECK(csv.error_line >= 1 && csv.error_line <= lines, std::to_string(csv.error_line) + ": " + csv.error);
    FUZZ_CHECK(!csv.error.empty(), std::to_string(csv.error_line));
    FUZZ_CHECK(csv.rows.empty(), csv.error);
    return 0;
  }
  FUZZ_CHECK(csv.error.empty(), csv.error);
  std::set<std::string> households;
  int previous_line = 1;
  for (const auto& r : csv.rows) {
    FUZZ_CHECK(r.line > previous_line && r.line <= lines, describe(r));
    previous_line = r.line;
    FUZZ_CHECK(muster::domain::valid_area_path(r.area), describe(r));
    FUZZ_CHECK(muster::domain::valid_household_id(r.household), describe(r));
    FUZZ_CHECK(households.insert(r.household).second, describe(r));
    FUZZ_CHECK(!r.address.empty() && r.address.size() <= 200 && muster::valid_utf8(r.address), describe(r));
    FUZZ_CHECK(r.members >= 0 && r.members <= 99, describe(r));
    FUZZ_CHECK(r.phone.size() <= 32 && muster::valid_utf8(r.phone), describe(r));
    FUZZ_CHECK(csv.has_phone || r.phone.empty(), describe(r));
  }

  const std::string written = write_csv(csv);
  const musterd::HouseholdCsv again = musterd::parse_household_csv(written);
  FUZZ_CHECK(again.ok(), written + "\nrefused on line " + std::to_string(again.error_line) + ": " + again.error);
  FUZZ_CHECK(again.has_phone == csv.has_phone, written);
  FUZZ_CHECK(again.rows.size() == csv.rows.size(), written);
  for (std::size_t i = 0; i < csv.rows.size(); ++i) {
    const auto& a = csv.rows[i];
    const auto& b = again.rows[i];
    FUZZ_CHECK(a.area == b.area && a.household == b.household && a.address == b.address && a.members == b.members &&
                   a.phone == b.phone,
               describe(a) + "\nread back as\n" + describe(b));
  }
  return 0;
}
