// The registry file of `musterd import households`: RFC 4180, strict, every problem
// reported with its line and the exact message the admin will read.
#include "musterd/core/household_csv.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using musterd::HouseholdCsv;
using musterd::HouseholdRow;
using musterd::parse_household_csv;

namespace {

const std::string kHeader = "area,household,address,members\n";
const std::string kHeaderPhone = "area,household,address,members,phone\n";

// The problem as the command prints it after the file name: "LINE: message".
std::string problem(const std::string& text) {
  const HouseholdCsv csv = parse_household_csv(text);
  if (csv.ok()) return "ok";
  CHECK(csv.rows.empty());
  return std::to_string(csv.error_line) + ": " + csv.error;
}

HouseholdCsv good(const std::string& text) {
  HouseholdCsv csv = parse_household_csv(text);
  REQUIRE_MESSAGE(csv.ok(), (std::to_string(csv.error_line) + ": " + csv.error));
  return csv;
}

}  // namespace

TEST_CASE("a registry of three buildings, with and without phones") {
  auto csv = good(kHeader +
                  "gulou/antai/yili/b1,b1-101,1栋101,3\n"
                  "gulou/antai/yili/b2,b2-101,2栋101,0\n"
                  "gulou/antai/yili/b3,b3-502,3栋502,99\n");
  CHECK_FALSE(csv.has_phone);
  REQUIRE(csv.rows.size() == 3);
  CHECK(csv.rows[0].line == 2);
  CHECK(csv.rows[0].area == "gulou/antai/yili/b1");
  CHECK(csv.rows[0].household == "b1-101");
  CHECK(csv.rows[0].address == "1栋101");
  CHECK(csv.rows[0].members == 3);
  CHECK(csv.rows[0].phone.empty());
  CHECK(csv.rows[1].members == 0);
  CHECK(csv.rows[2].members == 99);
  CHECK(csv.rows[2].line == 4);

  auto phones = good(kHeaderPhone + "gulou/antai/yili/b3,b3-502,3栋502,3,13800000000\ngulou/antai/yili/b3,b3-601,3栋601,1,\n");
  CHECK(phones.has_phone);
  REQUIRE(phones.rows.size() == 2);
  CHECK(phones.rows[0].phone == "13800000000");
  CHECK(phones.rows[1].phone.empty());
}

TEST_CASE("RFC 4180 quoting: commas, quotes and line breaks inside quotes; CRLF or LF") {
  auto csv = good("area,household,address,members\r\n"
                  "gulou/antai/yili/b3,b3-502,\"3栋502, 东单元\",3\r\n"
                  "\"gulou/antai/yili/b3\",\"b3-601\",\"the \"\"blue\"\" door\",\"2\"\r\n"
                  "gulou/antai/yili/b3,b3-602,\"3栋602\n(back stairs)\",1\n"
                  "gulou/antai/yili/b3,b3-701,7,1");  // no line break at the end
  REQUIRE(csv.rows.size() == 4);
  CHECK(csv.rows[0].address == "3栋502, 东单元");
  CHECK(csv.rows[1].area == "gulou/antai/yili/b3");
  CHECK(csv.rows[1].address == "the \"blue\" door");
  CHECK(csv.rows[1].members == 2);
  CHECK(csv.rows[2].address == "3栋602\n(back stairs)");
  CHECK(csv.rows[2].line == 4);
  CHECK(csv.rows[3].line == 6);  // the line break inside quotes is a line of the file
  CHECK(csv.rows[3].address == "7");
}

TEST_CASE("a UTF-8 byte order mark is dropped; empty lines are skipped") {
  auto csv = good("\xEF\xBB\xBF" + kHeader + "\ngulou/b1,h1,addr,1\n\r\n\ngulou/b1,h2,addr,2\n\n");
  REQUIRE(csv.rows.size() == 2);
  CHECK(csv.rows[0].line == 3);
  CHECK(csv.rows[1].line == 6);
  CHECK(good(kHeader).rows.empty());  // a header alone is an empty registry, not an error
}

TEST_CASE("the header must be exactly area,household,address,members[,phone]") {
  CHECK(problem("") == "1: the file is empty: expected the header area,household,address,members[,phone]");
  CHECK(problem("\n\n") == "1: the file is empty: expected the header area,household,address,members[,phone]");
  CHECK(problem("household,area,address,members\n") ==
        "1: the header must be area,household,address,members[,phone], not 'household,area,address,members'");
  CHECK(problem("area,household,address\n") ==
        "1: the header must be area,household,address,members[,phone], not 'area,household,address'");
  CHECK(problem("Area,Household,Address,Members\n") ==
        "1: the header must be area,household,address,members[,phone], not 'Area,Household,Address,Members'");
  CHECK(problem("area,household,address,members,phone,notes\n") ==
        "1: the header must be area,household,address,members[,phone], not 'area,household,address,members,phone,notes'");
  CHECK(problem("area, household, address, members\n") ==
        "1: the header must be area,household,address,members[,phone], not 'area, household, address, members'");
  CHECK(problem("\"area\",\"household\",\"address\",\"members\"\n") == "ok");  // quoted names are the same names
}

TEST_CASE("bad quotes, with the line they are on") {
  CHECK(problem(kHeader + "gulou/b1,h1,\"3栋502,3\n") == "2: quoted field is not closed (a \" is missing)");
  CHECK(problem(kHeader + "gulou/b1,h1,a,1\ngulou/b1,h2,\"open\nstill open\nand more,2\n") ==
        "3: quoted field is not closed (a \" is missing)");
  CHECK(problem(kHeader + "gulou/b1,h1,a,1\ngulou/b1,h2,3\"栋502,2\n") ==
        "3: quote inside an unquoted field (quote the whole field and write \"\" for a quote)");
  CHECK(problem(kHeader + "gulou/b1,h1,\"3栋\"502,2\n") ==
        "2: unexpected text after a closing quote (write \"\" for a quote inside quotes)");
  CHECK(problem(kHeader + "gulou/b1,h1,\"a\nb\"x,2\n") ==
        "3: unexpected text after a closing quote (write \"\" for a quote inside quotes)");
  CHECK(problem("area,household,address,members\rgulou/b1,h1,a,1\n") == "1: carriage return without a line feed");
  CHECK(problem(kHeader + "gulou/b1,h1,a,1\r") == "2: carriage return without a line feed");
}

TEST_CASE("missing and extra columns") {
  CHECK(problem(kHeader + "gulou/b1,h1,addr,1\ngulou/b1,h2,2\n") ==
        "3: expected 4 fields (area,household,address,members), found 3");
  CHECK(problem(kHeader + "gulou/b1,h1,addr,1,13800000000\n") ==
        "2: expected 4 fields (area,household,address,members), found 5");
  CHECK(problem(kHeaderPhone + "gulou/b1,h1,addr,1\n") ==
        "2: expected 5 fields (area,household,address,members,phone), found 4");
  CHECK(problem(kHeader + "   \n") == "2: expected 4 fields (area,household,address,members), found 1");
  CHECK(problem(kHeader + "gulou/b1,h1,addr,1,\n") ==
        "2: expected 4 fields (area,household,address,members), found 5");  // a trailing comma is a field
}

TEST_CASE("a household twice in the file names both lines") {
  CHECK(problem(kHeader + "gulou/b1,h1,a,1\ngulou/b2,h2,b,2\ngulou/b2,h1,c,3\n") ==
        "4: household h1 appears twice (first on line 2)");
  // Ids are case-sensitive: these are two households.
  CHECK(problem(kHeader + "gulou/b1,h1,a,1\ngulou/b1,H1,a,1\n") == "ok");
}

TEST_CASE("fields: area path, household id, members 0-99, address and phone sizes") {
  CHECK(problem(kHeader + "gulou//b1,h1,a,1\n") == "2: invalid area path 'gulou//b1'");
  CHECK(problem(kHeader + ",h1,a,1\n") == "2: invalid area path ''");
  CHECK(problem(kHeader + "gulou/b 1,h1,a,1\n") == "2: invalid area path 'gulou/b 1'");
  CHECK(problem(kHeader + "gulou/b1,h 1,a,1\n") ==
        "2: invalid household id 'h 1' (1-32 characters of A-Z a-z 0-9 . _ -)");
  CHECK(problem(kHeader + "gulou/b1,3栋502,a,1\n") ==
        "2: invalid household id '3栋502' (1-32 characters of A-Z a-z 0-9 . _ -)");
  CHECK(problem(kHeader + "gulou/b1," + std::string(33, 'h') + ",a,1\n") ==
        "2: invalid household id '" + std::string(33, 'h') + "' (1-32 characters of A-Z a-z 0-9 . _ -)");
  CHECK(problem(kHeader + "gulou/b1,,a,1\n") == "2: invalid household id '' (1-32 characters of A-Z a-z 0-9 . _ -)");
  for (const char* bad : {"100", "-1", "", " 3", "3 ", "three", "1.5", "+3", "0x1"}) {
    CAPTURE(bad);
    CHECK(problem(kHeader + "gulou/b1,h1,a," + bad + "\n") ==
          std::string("2: members must be a whole number from 0 to 99, not '") + bad + "'");
  }
  CHECK(problem(kHeader + "gulou/b1,h1,a,07\n") == "ok");
  CHECK(problem(kHeader + "gulou/b1,h1,,1\n") == "2: address must not be empty");
  CHECK(problem(kHeader + "gulou/b1,h1," + std::string(201, 'a') + ",1\n") == "2: address is longer than 200 bytes");
  CHECK(problem(kHeader + "gulou/b1,h1," + std::string(200, 'a') + ",1\n") == "ok");
  CHECK(problem(kHeaderPhone + "gulou/b1,h1,a,1," + std::string(33, '1') + "\n") == "2: phone is longer than 32 bytes");
  CHECK(problem(kHeaderPhone + "gulou/b1,h1,a,1," + std::string(32, '1') + "\n") == "ok");
}

TEST_CASE("text that is not UTF-8 is refused with its line") {
  CHECK(problem(kHeader + "gulou/b1,h1,a,1\ngulou/b1,h2,\xB5\xD8\xD6\xB7,1\n") == "3: invalid UTF-8");  // GBK
  CHECK(problem("area,household\xFF,address,members\n") == "1: invalid UTF-8");
  CHECK(problem(kHeader + "gulou/b1,h1,\"a\n\xC3\",1\n") == "3: invalid UTF-8");
}

TEST_CASE("the first problem wins, and a bad file yields no rows") {
  const HouseholdCsv csv = parse_household_csv(kHeader + "gulou/b1,h1,a,1\ngulou/b1,h1,a,1\ngulou/b1,h3,\"a,1\n");
  CHECK_FALSE(csv.ok());
  CHECK(csv.error_line == 3);
  CHECK(csv.rows.empty());
}
