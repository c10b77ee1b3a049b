// Strict reading of a JSON object's fields: the one reader behind the frame and plugin
// line decoders, the reducers' op bodies (domain/fields.hpp) and plugin configs. Each
// accessor checks presence and type (and size or range where asked) and remembers the
// first problem, so a reader reads every field it needs, then checks ok() once. Fields
// it is not asked about are ignored.
//
// Every message names the field, in one of three wordings:
//
//   FieldWording::frame("hello")   hello: field 'v' is missing
//                                  hello: field 'v' must be an integer
//   FieldWording::body()           missing field 'title'
//                                  field 'title' must be a string
//   FieldWording::config("config") config: "port" is missing
//                                  config: "port" must be a whole number from 0 to 65535
//
// The frame wording is for programs: null is a value like any other (a required string
// that is null "must be a string"), and a number of the wrong type "must be an integer"
// whatever its range; only a number out of range hears the range. The body and config
// wordings are for people: a null field counts as absent, and a number's message states
// the range it must be in, if it has one, whatever was wrong.
//
// Optional fields that are absent (or null) read as nullopt / nullptr and are no problem.
// A later problem never replaces the first; accessors keep answering after a problem.
//
// Pure. Thread: any; one reader is used by one thread. The object must outlive the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "muster/base/result.hpp"

namespace muster {

class FieldWording {
 public:
  static FieldWording frame(std::string_view frame);  // "hello: field 'v' ..."
  static FieldWording body();                         // "field 'title' ...", "missing field 'title'"
  static FieldWording config(std::string_view what);  // "config: \"port\" ..."

  std::string field(std::string_view name) const;    // "hello: field 'v'"
  std::string missing(std::string_view name) const;  // "hello: field 'v' is missing"
  const std::string& not_object() const { return not_object_; }  // "body must be an object"
  bool for_people() const { return for_people_; }

 private:
  std::string before_;  // put before the name
  std::string after_;   // and after it
  std::string not_object_;
  bool missing_first_ = false;
  bool for_people_ = false;
};

class JsonFields {
 public:
  static constexpr std::size_t kAnySize = std::numeric_limits<std::size_t>::max();
  static constexpr std::int64_t kMinInt = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();

  // A reader of `object`; if it is not a JSON object, the first read reports that.
  JsonFields(const nlohmann::json& object, FieldWording wording);

  // Strings of at most `max_bytes` bytes ("is longer than N bytes").
  std::optional<std::string> required_string(const char* name, std::size_t max_bytes = kAnySize);
  std::optional<std::string> optional_string(const char* name, std::size_t max_bytes = kAnySize);

  // Integers (JSON numbers without a fraction or an exponent) from min to max; an
  // unsigned number above the int64 range is out of range, never wrapped.
  std::optional<std::int64_t> required_int(const char* name, std::int64_t min = kMinInt, std::int64_t max = kMaxInt);
  std::optional<std::int64_t> optional_int(const char* name, std::int64_t min = kMinInt, std::int64_t max = kMaxInt);

  std::optional<bool> required_bool(const char* name);  // "must be true or false"
  std::optional<bool> optional_bool(const char* name);

  // Objects and arrays of strings. The pointers point into the object being read;
  // nullptr when absent or on a problem.
  const nlohmann::json* required_object(const char* name);
  const nlohmann::json* optional_object(const char* name);
  std::optional<std::vector<std::string>> required_strings(const char* name);  // "must be an array of strings"
  std::optional<std::vector<std::string>> optional_strings(const char* name);

  // The field as it is, of any type (null included); nullptr when absent.
  const nlohmann::json* value(const char* name) const;

  // Records a problem of the field that only the caller can judge, worded like the
  // others: fail("cursors", "must map scopes to non-negative integers").
  void fail(const char* name, std::string_view problem);

  bool ok() const { return !error_; }
  const Error& error() const { return *error_; }  // Errc::invalid; only when !ok()

 private:
  // The field's value, or nullptr when it is absent (or, in the people's wordings,
  // null) and counts as missing for a required field.
  const nlohmann::json* find(const char* name, bool required);
  std::optional<std::int64_t> read_int(const nlohmann::json* v, const char* name, std::int64_t min, std::int64_t max);
  std::string int_wanted(std::int64_t min, std::int64_t max) const;
  void fail_message(std::string message);

  const nlohmann::json& object_;
  FieldWording wording_;
  std::optional<Error> error_;
};

}  // namespace muster
