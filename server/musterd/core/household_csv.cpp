#include "musterd/core/household_csv.hpp"

#include <map>
#include <optional>

#include "muster/base/utf8.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/headcount.hpp"

namespace musterd {

namespace domain = muster::domain;

namespace {

constexpr std::size_t kMaxAddressBytes = 200;
constexpr std::size_t kMaxPhoneBytes = 32;
constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kColumns = "area,household,address,members";

struct Record {
  int line = 0;
  std::vector<std::string> fields;
};

struct Problem {
  int line = 0;
  std::string message;
};

// Reads RFC 4180 records one at a time, counting lines (a line break inside quotes is
// still a line of the file, so later rows keep the numbers an editor shows).
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  // The next record; nullopt at the end of the text or on a problem (see problem()).
  std::optional<Record> next() {
    while (at_line_end()) skip_line_end();  // empty lines
    if (problem_ || pos_ >= text_.size()) return std::nullopt;
    Record r;
    r.line = line_;
    for (;;) {
      auto field = read_field();
      if (!field) return std::nullopt;
      r.fields.push_back(std::move(*field));
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size()) skip_line_end();  // read_field stops only at ',', a line end or the end
      return problem_ ? std::nullopt : std::optional<Record>(std::move(r));
    }
  }

  const std::optional<Problem>& problem() const { return problem_; }

 private:
  bool at_line_end() const {
    if (problem_ || pos_ >= text_.size()) return false;
    return text_[pos_] == '\n' || text_[pos_] == '\r';
  }

  void skip_line_end() {
    if (text_[pos_] == '\r') {
      if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '\n') {
        fail(line_, "carriage return without a line feed");
        return;
      }
      ++pos_;
    }
    ++pos_;
    ++line_;
  }

  void fail(int line, std::string message) {
    if (!problem_) problem_ = Problem{line, std::move(message)};
  }

  std::optional<std::string> read_field() {
    std::string out;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      const int opened = line_;
      ++pos_;
      for (;;) {
        if (pos_ >= text_.size()) {
          fail(opened, "quoted field is not closed (a \" is missing)");
          return std::nullopt;
        }
        const char c = text_[pos_++];
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            out += '"';
            ++pos_;
            continue;
          }
          break;
        }
        if (c == '\n') ++line_;
        out += c;
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
        fail(line_, "unexpected text after a closing quote (write \"\" for a quote inside quotes)");
        return std::nullopt;
      }
      return out;
    }
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ',' || c == '\n' || c == '\r') break;
      if (c == '"') {
        fail(line_, "quote inside an unquoted field (quote the whole field and write \"\" for a quote)");
        return std::nullopt;
      }
      out += c;
      ++pos_;
    }
    return out;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::optional<Problem> problem_;
};

// The line of the first byte sequence that is not UTF-8, or 0. A line feed is never
// part of a multi-byte sequence, so each line can be checked on its own.
int first_bad_utf8_line(std::string_view text) {
  int line = 1;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (!muster::valid_utf8(text.substr(0, nl))) return line;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
    ++line;
  }
  return 0;
}

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
std::string check_row(const Record& r, bool has_phone, HouseholdRow& row) {
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
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  if (int bad = first_bad_utf8_line(text)) return fail(bad, "invalid UTF-8");

  Reader reader(text);
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
