// parse_limited (muster/base/json_parse.hpp): too deep or too large JSON is refused
// before a value is built, so nothing later recurses 100,000 levels down.
#include "muster/base/json_parse.hpp"

#include <doctest/doctest.h>

#include <string>

using muster::json_depth;
using muster::parse_limited;
using Json = nlohmann::json;

namespace {

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string nested_objects(std::size_t depth) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += "{\"a\":";
  text += "1";
  return text + std::string(depth, '}');
}

std::string error_of(const muster::Result<Json>& r) { return r ? std::string("ok") : r.error().message; }

}  // namespace

TEST_CASE("json_depth counts brackets outside strings") {
  CHECK(json_depth("1", 10) == 0);
  CHECK(json_depth("\"[[[\"", 10) == 0);
  CHECK(json_depth("[]", 10) == 1);
  CHECK(json_depth(R"({"a":[1,{"b":[]}],"c":{}})", 10) == 4);
  CHECK(json_depth(R"(["]\"[[", [[]]])", 10) == 3);  // an escaped quote does not end the string
  CHECK(json_depth(R"(["\\", [[]]])", 10) == 3);     // an escaped backslash does not escape the quote
  CHECK(json_depth(nested_arrays(100000), 64) == 65);  // stops counting once past the limit
}

TEST_CASE("100,000 nested arrays or objects are refused, naming the limit") {
  CHECK(error_of(parse_limited(nested_arrays(100000), 64, 1 << 20)) ==
        "JSON text is nested deeper than the limit of 64 levels");
  CHECK(error_of(parse_limited(nested_objects(100000), 64, 1 << 20, "frame")) ==
        "frame is nested deeper than the limit of 64 levels");
  // Unclosed, as an attacker would not bother to close them.
  CHECK(error_of(parse_limited(std::string(100000, '['), 64, 1 << 20)) ==
        "JSON text is nested deeper than the limit of 64 levels");
}

TEST_CASE("nested up to the limit is fine, and the value can be copied and written out") {
  auto arrays = parse_limited(nested_arrays(64), 64, 1 << 20);
  REQUIRE(arrays);
  const Json copy = *arrays;
  CHECK(copy.dump() == nested_arrays(64));
  CHECK(error_of(parse_limited(nested_arrays(65), 64, 1 << 20)) ==
        "JSON text is nested deeper than the limit of 64 levels");

  auto objects = parse_limited(nested_objects(10), 10, 1 << 20);
  REQUIRE(objects);
  CHECK(objects->dump() == nested_objects(10));

  // Brackets inside strings are text, however many.
  auto text = parse_limited("{\"t\":\"" + std::string(10000, '[') + "\\\"" + std::string(10000, '{') + "\"}", 1, 1 << 20);
  REQUIRE(text);
  CHECK((*text)["t"].get<std::string>().size() == 20001);
}

TEST_CASE("the size limit, UTF-8 and JSON are checked in that order") {
  CHECK(error_of(parse_limited("[1,2,3]", 4, 7)) == "ok");
  CHECK(error_of(parse_limited("[1,2,3] ", 4, 7, "line")) == "line is larger than the limit of 7 bytes");
  CHECK(error_of(parse_limited("[\"\xFF\"]", 4, 100, "line")) == "line is not valid UTF-8");
  CHECK(error_of(parse_limited("[[[\xFF", 1, 100, "line")) == "line is not valid UTF-8");
  CHECK(error_of(parse_limited("[[[", 1, 100, "line")) == "line is nested deeper than the limit of 1 levels");
  CHECK(error_of(parse_limited("[[", 2, 100, "line")) == "line is not valid JSON");
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1}{}", "nul", "'x'", "[1] x"}) {
    CAPTURE(bad);
    CHECK(error_of(parse_limited(bad, 8, 100)) == "JSON text is not valid JSON");
  }
  auto scalar = parse_limited(" \"代买\" ", 0, 100);
  REQUIRE(scalar);
  CHECK(*scalar == "代买");
}
