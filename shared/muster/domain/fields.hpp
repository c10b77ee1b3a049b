// Strict reading of op bodies: each accessor checks presence, type and size and
// remembers the first problem, so a reducer reads all fields, then checks ok() once.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "muster/base/result.hpp"

namespace muster::domain {

class Fields {
 public:
  explicit Fields(const nlohmann::json& body) : body_(body) {}

  std::optional<std::string> required_string(const char* name, std::size_t max_bytes) {
    auto v = optional_string(name, max_bytes);
    if (!v && !error_) fail(std::string("missing field '") + name + "'");
    return v;
  }

  // Absent or null -> nullopt. Present with another type, or too long -> error.
  std::optional<std::string> optional_string(const char* name, std::size_t max_bytes) {
    if (!body_.is_object()) {
      fail("body must be an object");
      return std::nullopt;
    }
    auto it = body_.find(name);
    if (it == body_.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      fail(std::string("field '") + name + "' must be a string");
      return std::nullopt;
    }
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > max_bytes) {
      fail(std::string("field '") + name + "' is longer than " + std::to_string(max_bytes) + " bytes");
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> optional_bool(const char* name) {
    auto it = body_.find(name);
    if (it == body_.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) {
      fail(std::string("field '") + name + "' must be true or false");
      return std::nullopt;
    }
    return it->get<bool>();
  }

  bool ok() const { return !error_; }
  Error error() const { return *error_; }

 private:
  void fail(std::string message) {
    if (!error_) error_ = make_error(Errc::invalid, std::move(message));
  }
  const nlohmann::json& body_;
  std::optional<Error> error_;
};

}  // namespace muster::domain
