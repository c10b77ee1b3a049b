// The one CSV reader (muster/base/csv.hpp): RFC 4180, strict, every problem with its line.
#include "muster/base/csv.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using muster::CsvOptions;
using muster::CsvReader;
using muster::CsvRecord;

namespace {

using Rows = std::vector<std::vector<std::string>>;

struct Read {
  std::vector<CsvRecord> records;
  std::string problem;  // "LINE: message", or "" when the text was read to its end

  Rows rows() const {
    Rows out;
    for (const auto& r : records) out.push_back(r.fields);
    return out;
  }
  std::vector<int> lines() const {
    std::vector<int> out;
    for (const auto& r : records) out.push_back(r.line);
    return out;
  }
};

Read read(const std::string& text, CsvOptions options = {}) {
  CsvReader reader(text, options);
  Read out;
  while (auto r = reader.next()) out.records.push_back(std::move(*r));
  if (const auto& p = reader.problem()) out.problem = std::to_string(p->line) + ": " + p->message;
  CHECK_FALSE(reader.next().has_value());  // the end, or a problem, stays
  return out;
}

std::string problem(const std::string& text, CsvOptions options = {}) { return read(text, options).problem; }

}  // namespace

TEST_CASE("records of fields, each with the line it starts on") {
  auto r = read("a,b,c\n1,2,3\n");
  CHECK(r.problem.empty());
  CHECK(r.rows() == Rows{{"a", "b", "c"}, {"1", "2", "3"}});
  CHECK(r.lines() == std::vector<int>{1, 2});

  CHECK(read("").records.empty());
  CHECK(read("").problem.empty());
  CHECK(read("only").rows() == Rows{{"only"}});  // no line end at the end
}

TEST_CASE("quoted fields: commas, \"\" for a quote, line breaks, empty quotes") {
  auto r = read("name,display\r\n"
                "wang,\"Wang, Li\"\r\n"
                "\"zhao\",\"the \"\"blue\"\" door\"\r\n"
                "li,\"two\nlines\"\n"
                "chen,\"\"\n"
                "sun,\"a\r\nb\"\n");
  CHECK(r.problem.empty());
  CHECK(r.rows() == Rows{{"name", "display"},
                         {"wang", "Wang, Li"},
                         {"zhao", "the \"blue\" door"},
                         {"li", "two\nlines"},
                         {"chen", ""},
                         {"sun", "a\r\nb"}});  // a line break inside quotes is kept as written
  // A line break inside quotes is a line of the text: later records keep an editor's numbers.
  CHECK(r.lines() == std::vector<int>{1, 2, 3, 4, 6, 7});
}

TEST_CASE("fields are kept as written; a trailing comma is one more, empty field") {
  CHECK(read(" a , b \n").rows() == Rows{{" a ", " b "}});
  CHECK(read("a,\n").rows() == Rows{{"a", ""}});
  CHECK(read(",,\n").rows() == Rows{{"", "", ""}});
  CHECK(read("   \n").rows() == Rows{{"   "}});  // spaces are not an empty line
  CHECK(read("白菜,2斤\n").rows() == Rows{{"白菜", "2斤"}});
}

TEST_CASE("a byte order mark at the start is dropped; empty lines are skipped") {
  auto r = read("\xEF\xBB\xBF" "a,b\n\n1,2\r\n\r\n\n3,4\n\n");
  CHECK(r.problem.empty());
  CHECK(r.rows() == Rows{{"a", "b"}, {"1", "2"}, {"3", "4"}});
  CHECK(r.lines() == std::vector<int>{1, 3, 6});
  CHECK(read("a,\xEF\xBB\xBF" "b\n").rows() == Rows{{"a", "\xEF\xBB\xBF" "b"}});  // elsewhere it is text
  CHECK(read("\n\n\n").records.empty());
}

TEST_CASE("quote problems, each with its line") {
  CHECK(problem("a,b\n1,\"open\n2,3\n") == "2: quoted field is not closed (a \" is missing)");
  CHECK(problem("a,b\n1,x\"y\n") ==
        "2: quote inside an unquoted field (quote the whole field and write \"\" for a quote)");
  CHECK(problem("a,\"b\"c\n") == "1: unexpected text after a closing quote (write \"\" for a quote inside quotes)");
  CHECK(problem("a,\"b\nc\" d\n") == "2: unexpected text after a closing quote (write \"\" for a quote inside quotes)");
  CHECK(problem("a,\"b\" \n") == "1: unexpected text after a closing quote (write \"\" for a quote inside quotes)");
}

TEST_CASE("a carriage return must be followed by a line feed") {
  CHECK(problem("a,b\rc,d\n") == "1: carriage return without a line feed");
  CHECK(problem("a,b\n\r") == "2: carriage return without a line feed");
  CHECK(problem("a,b\nc,d\r") == "2: carriage return without a line feed");
}

TEST_CASE("invalid UTF-8 is reported at the line of the bad byte") {
  CHECK(problem("a,b\n\xB5\xD8,1\n") == "2: invalid UTF-8");  // GBK
  CHECK(problem("a\xFF,b\n") == "1: invalid UTF-8");
  CHECK(problem("a,\"b\n\xC3\",1\n") == "2: invalid UTF-8");  // inside a quoted field's second line
  CHECK(problem("a,b\n# \xFF\n", CsvOptions{64 * 1024, 256, 1000000, '#'}) == "2: invalid UTF-8");  // comments too
  CHECK(problem("a,b\n\"\xE4\xBB\n") == "2: invalid UTF-8");  // before the unclosed quote on the same line
}

TEST_CASE("a record comes before a problem on a later line, so the caller's checks run in order") {
  auto r = read("a,b\n1,2\n3,\"4\n");
  CHECK(r.rows() == Rows{{"a", "b"}, {"1", "2"}});
  CHECK(r.problem == "3: quoted field is not closed (a \" is missing)");

  auto bad_byte = read("a,b\n1,2\n\xFF\n");
  CHECK(bad_byte.rows() == Rows{{"a", "b"}, {"1", "2"}});
  CHECK(bad_byte.problem == "3: invalid UTF-8");

  // The record that holds a problem is not returned.
  CHECK(read("a,b\n1,x\"y\n").rows() == Rows{{"a", "b"}});
  CHECK(read("a,b\r").rows().empty());
}

TEST_CASE("the field size limit, with the line the field starts on") {
  CsvOptions options;
  options.max_field_bytes = 8;
  CHECK(read("12345678,\"12\"\"4567\"\n", options).problem.empty());  // "" is one byte of the field
  CHECK(problem("a\n123456789\n", options) == "2: a field larger than the limit of 8 bytes");
  CHECK(problem("a,\"1234\n56789\"\n", options) == "1: a field larger than the limit of 8 bytes");
  CHECK(problem(std::string(100000, 'x')) == "1: a field larger than the limit of 65536 bytes");  // the default
  CHECK(read(std::string(65536, 'x')).problem.empty());
}

TEST_CASE("the fields-per-record limit, with the line the record starts on") {
  CsvOptions options;
  options.max_fields = 3;
  CHECK(read("a,b,c\n", options).problem.empty());
  CHECK(problem("a,b,c\n\"1\n\",2,3,4\n", options) == "2: a record with more fields than the limit of 3");
  CHECK(problem("a,b,c,\n", options) == "1: a record with more fields than the limit of 3");
  std::string wide;
  for (int i = 0; i < 300; ++i) wide += "x,";
  CHECK(problem(wide) == "1: a record with more fields than the limit of 256");
}

TEST_CASE("the records limit counts records, not empty or comment lines") {
  CsvOptions options;
  options.max_records = 2;
  CHECK(read("h\n\n1\n\n", options).problem.empty());
  auto r = read("h\n1\n\n2\n", options);
  CHECK(r.rows() == Rows{{"h"}, {"1"}});
  CHECK(r.problem == "4: more records than the limit of 2");
  options.comment = '#';
  CHECK(read("# one\nh\n# two\n1\n", options).problem.empty());
}

TEST_CASE("comment lines only when asked for, and only where a record would start") {
  CHECK(read("# a,b\n1,2\n").rows() == Rows{{"# a", "b"}, {"1", "2"}});  // RFC 4180: a field like any other

  CsvOptions options;
  options.comment = '#';
  auto r = read("# name,roles,area,password\n1,#2\n  # not a comment\n\"a\n# still a\",b\n#last", options);
  CHECK(r.problem.empty());
  CHECK(r.rows() == Rows{{"1", "#2"}, {"  # not a comment"}, {"a\n# still a", "b"}});
  CHECK(r.lines() == std::vector<int>{2, 3, 4});
  CHECK(read("# a \"quoted\" word\nx\n", options).rows() == Rows{{"x"}});  // a comment is not CSV
}
