// Id<Tag>: a string that names one kind of thing, so that a user name cannot be passed
// where a task id is expected. Made only explicitly (TaskId("01J…")), read back only
// explicitly (.str(), .view()); ids of one kind compare, order and hash like their
// strings, and go to and from JSON as plain strings. The tags live with the domain
// (muster/domain/ids.hpp).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace muster {

template <typename Tag>
class Id {
 public:
  Id() = default;
  explicit Id(std::string value) : value_(std::move(value)) {}

  const std::string& str() const { return value_; }
  std::string_view view() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend bool operator==(const Id& a, const Id& b) { return a.value_ == b.value_; }
  friend bool operator!=(const Id& a, const Id& b) { return a.value_ != b.value_; }
  friend bool operator<(const Id& a, const Id& b) { return a.value_ < b.value_; }
  friend bool operator>(const Id& a, const Id& b) { return b.value_ < a.value_; }
  friend bool operator<=(const Id& a, const Id& b) { return !(b.value_ < a.value_); }
  friend bool operator>=(const Id& a, const Id& b) { return !(a.value_ < b.value_); }
  friend std::ostream& operator<<(std::ostream& out, const Id& id) { return out << id.value_; }

 private:
  std::string value_;
};

template <typename Tag>
void to_json(nlohmann::json& j, const Id<Tag>& id) {
  j = id.str();
}

// Throws nlohmann::json::type_error for anything but a string, as get<std::string>() does.
template <typename Tag>
void from_json(const nlohmann::json& j, Id<Tag>& id) {
  id = Id<Tag>(j.get<std::string>());
}

}  // namespace muster

namespace std {
template <typename Tag>
struct hash<muster::Id<Tag>> {
  std::size_t operator()(const muster::Id<Tag>& id) const noexcept { return std::hash<std::string_view>()(id.view()); }
};
}  // namespace std
