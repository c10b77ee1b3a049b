#include "muster/base/json_fields.hpp"

namespace muster {

using Json = nlohmann::json;

FieldWording FieldWording::frame(std::string_view frame) {
  FieldWording w;
  w.before_ = std::string(frame) + ": field '";
  w.after_ = "'";
  w.not_object_ = std::string(frame) + " must be a JSON object";
  return w;
}

FieldWording FieldWording::body() {
  FieldWording w;
  w.before_ = "field '";
  w.after_ = "'";
  w.not_object_ = "body must be an object";
  w.missing_first_ = true;
  w.for_people_ = true;
  return w;
}

FieldWording FieldWording::config(std::string_view what) {
  FieldWording w;
  w.before_ = std::string(what) + ": \"";
  w.after_ = "\"";
  w.not_object_ = std::string(what) + " must be a JSON object";
  w.for_people_ = true;
  return w;
}

std::string FieldWording::field(std::string_view name) const { return before_ + std::string(name) + after_; }

std::string FieldWording::missing(std::string_view name) const {
  return missing_first_ ? "missing " + field(name) : field(name) + " is missing";
}

JsonFields::JsonFields(const Json& object, FieldWording wording) : object_(object), wording_(std::move(wording)) {}

void JsonFields::fail_message(std::string message) {
  if (!error_) error_ = make_error(Errc::invalid, std::move(message));
}

void JsonFields::fail(const char* name, std::string_view problem) {
  fail_message(wording_.field(name) + " " + std::string(problem));
}

const Json* JsonFields::value(const char* name) const {
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(name);
  return it == object_.end() ? nullptr : &*it;
}

const Json* JsonFields::find(const char* name, bool required) {
  if (!object_.is_object()) {
    fail_message(wording_.not_object());
    return nullptr;
  }
  const Json* v = value(name);
  // A null optional field is an absent one in every wording; a null required field
  // is missing for people and a value of the wrong type for programs.
  if (v && v->is_null() && (!required || wording_.for_people())) v = nullptr;
  if (!v && required) fail_message(wording_.missing(name));
  return v;
}

namespace {

std::optional<std::string> read_string(JsonFields& f, const Json* v, const char* name, std::size_t max_bytes) {
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    f.fail(name, "must be a string");
    return std::nullopt;
  }
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    f.fail(name, "is longer than " + std::to_string(max_bytes) + " bytes");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> read_bool(JsonFields& f, const Json* v, const char* name) {
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    f.fail(name, "must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

const Json* read_object(JsonFields& f, const Json* v, const char* name) {
  if (v && !v->is_object()) {
    f.fail(name, "must be an object");
    return nullptr;
  }
  return v;
}

std::optional<std::vector<std::string>> read_strings(JsonFields& f, const Json* v, const char* name) {
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  bool strings = v->is_array();
  for (std::size_t i = 0; strings && i < v->size(); ++i) {
    strings = (*v)[i].is_string();
    if (strings) out.push_back((*v)[i].get<std::string>());
  }
  if (!strings) {
    f.fail(name, "must be an array of strings");
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string JsonFields::int_wanted(std::int64_t min, std::int64_t max) const {
  const std::string noun = wording_.for_people() ? "a whole number" : "an integer";
  if (min == kMinInt && max == kMaxInt) return noun + " that fits in 64 bits";
  if (min == 0 && max == kMaxInt) return wording_.for_people() ? "a non-negative whole number" : "a non-negative integer";
  if (max == kMaxInt) return noun + " of at least " + std::to_string(min);
  if (min == kMinInt) return noun + " of at most " + std::to_string(max);
  return noun + " from " + std::to_string(min) + " to " + std::to_string(max);
}

std::optional<std::int64_t> JsonFields::read_int(const Json* v, const char* name, std::int64_t min, std::int64_t max) {
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    // Programs hear what is wrong first, then the range; people hear the range at once.
    const bool any = min == kMinInt && max == kMaxInt;
    if (wording_.for_people() && !any) {
      fail(name, "must be " + int_wanted(min, max));
    } else {
      fail(name, wording_.for_people() ? "must be a whole number" : "must be an integer");
    }
    return std::nullopt;
  }
  // Non-negative numbers are stored unsigned: read them as such, so 2^64-1 is out of
  // range rather than -1.
  bool fits = true;
  std::int64_t n = 0;
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    fits = u <= static_cast<std::uint64_t>(kMaxInt);
    if (fits) n = static_cast<std::int64_t>(u);
  } else {
    n = v->get<std::int64_t>();
  }
  if (!fits || n < min || n > max) {
    fail(name, "must be " + int_wanted(min, max));
    return std::nullopt;
  }
  return n;
}

std::optional<std::int64_t> JsonFields::required_int(const char* name, std::int64_t min, std::int64_t max) {
  return read_int(find(name, true), name, min, max);
}

std::optional<std::int64_t> JsonFields::optional_int(const char* name, std::int64_t min, std::int64_t max) {
  return read_int(find(name, false), name, min, max);
}

std::optional<std::string> JsonFields::required_string(const char* name, std::size_t max_bytes) {
  return read_string(*this, find(name, true), name, max_bytes);
}

std::optional<std::string> JsonFields::optional_string(const char* name, std::size_t max_bytes) {
  return read_string(*this, find(name, false), name, max_bytes);
}

std::optional<bool> JsonFields::required_bool(const char* name) { return read_bool(*this, find(name, true), name); }

std::optional<bool> JsonFields::optional_bool(const char* name) { return read_bool(*this, find(name, false), name); }

const Json* JsonFields::required_object(const char* name) { return read_object(*this, find(name, true), name); }

const Json* JsonFields::optional_object(const char* name) { return read_object(*this, find(name, false), name); }

std::optional<std::vector<std::string>> JsonFields::required_strings(const char* name) {
  return read_strings(*this, find(name, true), name);
}

std::optional<std::vector<std::string>> JsonFields::optional_strings(const char* name) {
  return read_strings(*this, find(name, false), name);
}

}  // namespace muster
