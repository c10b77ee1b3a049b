#include "muster/domain/actor.hpp"

#include <algorithm>

#include "muster/base/utf8.hpp"
#include "muster/domain/limits.hpp"

namespace muster::domain {

namespace {
constexpr int kMaxAreaDepth = 16;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::admin: return "admin";
    case Role::coordinator: return "coordinator";
    case Role::lead: return "lead";
    case Role::volunteer: return "volunteer";
    case Role::hotline: return "hotline";
    case Role::plugin: return "plugin";
  }
  return "";
}

const std::vector<Role>& all_roles() {
  static const std::vector<Role> roles{Role::admin, Role::coordinator, Role::lead,
                                       Role::volunteer, Role::hotline, Role::plugin};
  return roles;
}

std::optional<Role> role_from_string(std::string_view text) {
  for (Role r : all_roles()) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

std::vector<std::string> Roles::names() const {
  std::vector<std::string> out;
  for (Role r : all_roles()) {
    if (has(r)) out.emplace_back(domain::to_string(r));
  }
  return out;
}

std::string Roles::to_string() const {
  std::string out;
  for (const auto& n : names()) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

std::optional<Roles> Roles::parse(std::string_view text) {
  Roles roles;
  if (text.empty()) return std::nullopt;
  for (;;) {  // every item, including one after a trailing comma, must be a role
    auto comma = text.find(',');
    auto role = role_from_string(text.substr(0, comma));
    if (!role) return std::nullopt;
    roles.add(*role);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return roles;
}

bool valid_area_path(std::string_view path) {
  if (path.empty() || path.size() > kMaxAreaBytes || !valid_utf8(path)) return false;
  int depth = 1;
  char prev = '/';
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/') {
      if (prev == '/') return false;
      ++depth;
    } else if (u <= 0x20 || u == 0x7f || c == ':') {
      return false;
    }
    prev = c;
  }
  return prev != '/' && depth <= kMaxAreaDepth;
}

bool area_contains(std::string_view ancestor, std::string_view path) {
  if (!starts_with(path, ancestor)) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

bool shares_neighbourhood(std::string_view viewer_area, std::string_view other_area) {
  if (area_contains(other_area, viewer_area)) return true;
  const std::string_view parent = area_parent(viewer_area);
  return area_contains(parent.empty() ? viewer_area : parent, other_area);
}

std::vector<std::string> area_lineage(std::string_view path) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') out.emplace_back(path.substr(0, i));
  }
  return out;
}

std::string_view area_parent(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

std::string area_scope(std::string_view path) { return "area:" + std::string(path); }
std::string user_scope(std::string_view name) { return "user:" + std::string(name); }
std::string role_scope(std::string_view role) { return "role:" + std::string(role); }

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'; };
  if (!std::all_of(name.begin(), name.end(), ok)) return false;
  return name.front() != '.' && name.front() != '_' && name.front() != '-';
}

bool valid_scope(std::string_view scope) {
  if (starts_with(scope, "area:")) return valid_area_path(scope.substr(5));
  if (starts_with(scope, "user:")) return valid_user_name(scope.substr(5));
  if (starts_with(scope, "role:")) return role_from_string(scope.substr(5)).has_value();
  return false;
}

bool is_manager(const Actor& actor) {
  return actor.roles.has(Role::lead) || actor.roles.has(Role::coordinator) || actor.roles.has(Role::admin);
}

bool manages(const Actor& actor, std::string_view area) {
  if (actor.roles.has(Role::admin)) return true;
  return is_manager(actor) && area_contains(actor.area, area);
}

bool can_see(const Actor& actor, std::string_view scope) {
  if (starts_with(scope, "user:")) return scope.substr(5) == actor.name;
  if (starts_with(scope, "role:")) {
    auto role = role_from_string(scope.substr(5));
    return role && actor.roles.has(*role);
  }
  if (starts_with(scope, "area:")) {
    auto area = scope.substr(5);
    // A plugin serves its area and every area below it (the buildings of a compound).
    return area_contains(area, actor.area) || manages(actor, area) ||
           (actor.roles.has(Role::plugin) && area_contains(actor.area, area));
  }
  return false;
}

std::vector<std::string> visible_scopes(const Actor& actor, const std::vector<std::string>& known_areas) {
  std::vector<std::string> out{user_scope(actor.name)};
  for (const auto& a : area_lineage(actor.area)) out.push_back(area_scope(a));
  if (is_manager(actor) || actor.roles.has(Role::plugin)) {
    for (const auto& a : known_areas) {
      if (!area_contains(a, actor.area) && can_see(actor, area_scope(a))) out.push_back(area_scope(a));
    }
  }
  for (const auto& r : actor.roles.names()) out.push_back(role_scope(r));
  return out;
}

}  // namespace muster::domain
