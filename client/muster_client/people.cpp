#include "muster_client/people.hpp"

#include <nlohmann/json.hpp>

namespace muster::client {

People People::from_json(const std::string& text) {
  std::map<std::string, std::string> names;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_object()) {
    for (const auto& [user, display] : j.items()) {
      if (display.is_string()) names[user] = display.get<std::string>();
    }
  }
  return People(std::move(names));
}

std::string People::person(const std::string& user) const {
  auto it = names_.find(user);
  if (it == names_.end() || it->second.empty() || it->second == user) return user;
  return it->second + " (" + user + ")";
}

}  // namespace muster::client
