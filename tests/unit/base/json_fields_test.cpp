// The one strict reader of a JSON object's fields (muster/base/json_fields.hpp), in its
// three wordings.
#include "muster/base/json_fields.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using muster::FieldWording;
using muster::JsonFields;
using Json = nlohmann::json;

namespace {

// The first problem of reading `j` with `read`, or "ok".
template <class F>
std::string problem(const Json& j, FieldWording wording, F read) {
  JsonFields f(j, std::move(wording));
  read(f);
  return f.ok() ? std::string("ok") : f.error().message;
}

}  // namespace

TEST_CASE("present fields of the right type are read") {
  const Json j = {{"s", "代买"},       {"n", 42},  {"neg", -7},         {"b", false},
                  {"o", {{"x", 1}}}, {"l", {"a", "b"}}, {"nothing", nullptr}};
  JsonFields f(j, FieldWording::frame("test"));
  CHECK(f.required_string("s") == std::optional<std::string>("代买"));
  CHECK(f.optional_string("s", 6) == std::optional<std::string>("代买"));  // bytes, not characters
  CHECK(f.required_int("n") == std::optional<std::int64_t>(42));
  CHECK(f.required_int("neg", -7, -7) == std::optional<std::int64_t>(-7));
  CHECK(f.required_bool("b") == std::optional<bool>(false));
  REQUIRE(f.required_object("o") != nullptr);
  CHECK((*f.required_object("o"))["x"] == 1);
  CHECK(f.required_strings("l") == std::optional<std::vector<std::string>>({"a", "b"}));
  REQUIRE(f.value("nothing") != nullptr);
  CHECK(f.value("nothing")->is_null());
  CHECK(f.value("absent") == nullptr);
  // Absent or null optional fields are no problem.
  CHECK_FALSE(f.optional_string("absent").has_value());
  CHECK_FALSE(f.optional_string("nothing").has_value());
  CHECK_FALSE(f.optional_int("nothing").has_value());
  CHECK_FALSE(f.optional_bool("absent").has_value());
  CHECK(f.optional_object("nothing") == nullptr);
  CHECK_FALSE(f.optional_strings("absent").has_value());
  CHECK(f.ok());
}

TEST_CASE("frame wording: for programs; null is a value of the wrong type") {
  const auto frame = FieldWording::frame("hello");
  const Json j = {{"s", 7}, {"null", nullptr}, {"f", 1.5}, {"o", Json::array()}, {"l", {"a", 1}}};
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_string("absent"); }) == "hello: field 'absent' is missing");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_string("s"); }) == "hello: field 's' must be a string");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_string("null"); }) == "hello: field 'null' must be a string");
  CHECK(problem(j, frame, [](JsonFields& f) { f.optional_string("s"); }) == "hello: field 's' must be a string");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_int("f"); }) == "hello: field 'f' must be an integer");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_int("null"); }) == "hello: field 'null' must be an integer");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_int("s", 0, 5); }) ==
        "hello: field 's' must be an integer from 0 to 5");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_bool("s"); }) == "hello: field 's' must be true or false");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_object("o"); }) == "hello: field 'o' must be an object");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_object("null"); }) == "hello: field 'null' must be an object");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_strings("l"); }) ==
        "hello: field 'l' must be an array of strings");
  CHECK(problem(j, frame, [](JsonFields& f) { f.required_strings("s"); }) ==
        "hello: field 's' must be an array of strings");
  CHECK(problem(j, frame, [](JsonFields& f) { f.fail("cursors", "must map scopes to non-negative integers"); }) ==
        "hello: field 'cursors' must map scopes to non-negative integers");
}

TEST_CASE("frame wording: a wrong type first, then the range") {
  const auto frame = FieldWording::frame("backfill");
  auto from = [&](const Json& v) {
    return problem(Json{{"from", v}}, frame, [](JsonFields& f) { f.required_int("from", 0); });
  };
  CHECK(from(0) == "ok");
  CHECK(from(INT64_MAX) == "ok");
  CHECK(from("5") == "backfill: field 'from' must be an integer");
  CHECK(from(2.0) == "backfill: field 'from' must be an integer");
  CHECK(from(-1) == "backfill: field 'from' must be a non-negative integer");
  CHECK(from(Json(18446744073709551615ULL)) == "backfill: field 'from' must be a non-negative integer");
  CHECK(problem(Json{{"seq", Json(18446744073709551615ULL)}}, frame, [](JsonFields& f) { f.required_int("seq"); }) ==
        "backfill: field 'seq' must be an integer that fits in 64 bits");  // never wrapped to -1
  CHECK(problem(Json{{"n", 3}}, frame, [](JsonFields& f) { f.required_int("n", 5); }) ==
        "backfill: field 'n' must be an integer of at least 5");
  CHECK(problem(Json{{"n", 3}}, frame, [](JsonFields& f) { f.required_int("n", JsonFields::kMinInt, 2); }) ==
        "backfill: field 'n' must be an integer of at most 2");
}

TEST_CASE("body wording: for people; a null field is a missing one") {
  const auto body = FieldWording::body();
  const Json j = {{"title", std::string(401, 't')}, {"kind", 5}, {"null", nullptr}, {"ack", "yes"}, {"risk", 6}};
  CHECK(problem(j, body, [](JsonFields& f) { f.required_string("area", 256); }) == "missing field 'area'");
  CHECK(problem(j, body, [](JsonFields& f) { f.required_string("null", 256); }) == "missing field 'null'");
  CHECK(problem(j, body, [](JsonFields& f) { f.required_string("kind", 32); }) == "field 'kind' must be a string");
  CHECK(problem(j, body, [](JsonFields& f) { f.required_string("title", 400); }) ==
        "field 'title' is longer than 400 bytes");
  CHECK(problem(j, body, [](JsonFields& f) { f.optional_bool("ack"); }) == "field 'ack' must be true or false");
  CHECK(problem(j, body, [](JsonFields& f) { f.required_int("risk", 0, 5); }) ==
        "field 'risk' must be a whole number from 0 to 5");
  CHECK(problem(j, body, [](JsonFields& f) { f.required_int("ack", 0, 5); }) ==
        "field 'ack' must be a whole number from 0 to 5");
  CHECK(problem(j, body, [](JsonFields& f) { f.required_int("ack"); }) == "field 'ack' must be a whole number");
  CHECK(problem(j, body, [](JsonFields& f) { f.required_int("null", 0, 5); }) == "missing field 'null'");
  CHECK(problem(Json::array(), body, [](JsonFields& f) { f.optional_bool("ack"); }) == "body must be an object");
  CHECK(problem("text", body, [](JsonFields& f) { f.required_string("a"); }) == "body must be an object");
}

TEST_CASE("config wording: the key in double quotes") {
  const auto config = FieldWording::config("config");
  const Json j = {{"port", "5222"}, {"big", 70000}, {"jid", nullptr}};
  CHECK(problem(j, config, [](JsonFields& f) { f.required_string("jid"); }) == "config: \"jid\" is missing");
  CHECK(problem(j, config, [](JsonFields& f) { f.optional_int("port", 0, 65535); }) ==
        "config: \"port\" must be a whole number from 0 to 65535");
  CHECK(problem(j, config, [](JsonFields& f) { f.optional_int("big", 0, 65535); }) ==
        "config: \"big\" must be a whole number from 0 to 65535");
  CHECK(problem(j, config, [](JsonFields& f) { f.optional_string("port"); }) == "ok");
  CHECK(problem(Json::array(), config, [](JsonFields& f) { f.optional_string("port"); }) ==
        "config must be a JSON object");
}

TEST_CASE("the first problem is the one reported, and reading goes on after it") {
  const Json j = {{"id", 1}, {"kind", 2}, {"name", "n"}};
  JsonFields f(j, FieldWording::frame("op"));
  CHECK_FALSE(f.required_string("id").has_value());
  CHECK_FALSE(f.required_string("kind").has_value());
  CHECK(f.required_string("name") == std::optional<std::string>("n"));
  CHECK_FALSE(f.ok());
  CHECK(f.error().code == muster::Errc::invalid);
  CHECK(f.error().message == "op: field 'id' must be a string");
}
