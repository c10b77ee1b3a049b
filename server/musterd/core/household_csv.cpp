#include "musterd/core/household_csv.hpp"

#include <map>
#include <optional>

#include "muster/base/csv.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/headcount.hpp"

namespace musterd {

namespace domain = muster::domain;

namespace {

constexpr std::size_t kMaxAddressBytes = 200;
constexpr std::size_t kMaxPhoneBytes = 32;
constexpr std::string_view kColumns = "area,household,address,members";

std::string join(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) out += (out.empty() ? "" : ",") + f;
  return out;
}

std::optional<int> members_of(const std::string& text) {
  if (text.empty() || text.size() > 2) return std::nullopt;
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The row's problem, or "".
std::string check_row(const muster::CsvRecord& r, bool has_phone, HouseholdRow& row) {
  const std::size_t want = has_phone ? 5 : 4;
  if (r.fields.size() != want) {
    return "expected " + std::to_string(want) + " fields (" + std::string(kColumns) + (has_phone ? ",phone" : "") +
           "), found " + std::to_string(r.fields.size());
  }
  row.line = r.line;
  row.area = r.fields[0];
  row.household = r.fields[1];
  row.address = r.fields[2];
  if (has_phone) row.phone = r.fields[4];
  if (!domain::valid_area_path(row.area)) return "invalid area path '" + row.area + "'";
  if (!domain::valid_household_id(row.household)) {
    return "invalid household id '" + row.household + "' (1-32 characters of A-Z a-z 0-9 . _ -)";
  }
  auto members = members_of(r.fields[3]);
  if (!members) return "members must be a whole number from 0 to 99, not '" + r.fields[3] + "'";
  row.members = *members;
  if (row.address.empty()) return "address must not be empty";
  if (row.address.size() > kMaxAddressBytes) {
    return "address is longer than " + std::to_string(kMaxAddressBytes) + " bytes";
  }
  if (row.phone.size() > kMaxPhoneBytes) return "phone is longer than " + std::to_string(kMaxPhoneBytes) + " bytes";
  return {};
}

}  // namespace

HouseholdCsv parse_household_csv(std::string_view text) {
  HouseholdCsv out;
  auto fail = [&](int line, std::string message) {
    out.rows.clear();
    out.error_line = line;
    out.error = std::move(message);
    return out;
  };
  muster::CsvReader reader(text);
  auto header = reader.next();
  if (!header) {
    if (const auto& p = reader.problem()) return fail(p->line, p->message);
    return fail(1, "the file is empty: expected the header " + std::string(kColumns) + "[,phone]");
  }
  const std::string names = join(header->fields);
  if (names == std::string(kColumns) + ",phone") {
    out.has_phone = true;
  } else if (names != kColumns) {
    return fail(header->line, "the header must be " + std::string(kColumns) + "[,phone], not '" + names + "'");
  }

  std::map<std::string, int> first_line;  // household -> the line it was first on
  while (auto record = reader.next()) {
    HouseholdRow row;
    if (auto problem = check_row(*record, out.has_phone, row); !problem.empty()) return fail(record->line, problem);
    auto [it, fresh] = first_line.emplace(row.household, row.line);
    if (!fresh) {
      return fail(row.line, "household " + row.household + " appears twice (first on line " +
                                std::to_string(it->second) + ")");
    }
    out.rows.push_back(std::move(row));
  }
  if (const auto& p = reader.problem()) return fail(p->line, p->message);
  return out;
}

}  // namespace musterd
