// The household registry file of `musterd import households FILE.csv` (SPEC §3):
//
//   area,household,address,members[,phone]
//   gulou/antai/yili/b3,b3-502,"3栋502室, 东单元",3,13800000000
//
// Read with muster::CsvReader (muster/base/csv.hpp); this file adds the columns' checks.
// RFC 4180 with the header row above, exactly (the phone column is optional): fields
// separated by commas; a field in double quotes may hold commas, line breaks and "" for
// a quote; lines end in LF or CRLF. The text must be UTF-8 (a leading BOM is dropped).
// Empty lines are skipped. Strict: the first problem rejects the whole file, reported
// with the line it is on (for a row: the line the row starts on), so an import is
// all or nothing.
//
// Pure: no files, no database. Thread: any.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace musterd {

struct HouseholdRow {
  int line = 0;  // where the row starts
  std::string area;
  std::string household;
  std::string address;  // 1-200 bytes
  int members = 0;      // 0-99
  std::string phone;    // 0-32 bytes; empty when the file has no phone column
};

struct HouseholdCsv {
  std::vector<HouseholdRow> rows;  // in file order; household ids are unique
  bool has_phone = false;          // the header has the phone column
  int error_line = 0;              // 0 when the file is good
  std::string error;               // e.g. "expected 4 fields (area,household,address,members), found 3"

  bool ok() const { return error_line == 0; }
};

HouseholdCsv parse_household_csv(std::string_view text);

}  // namespace musterd
