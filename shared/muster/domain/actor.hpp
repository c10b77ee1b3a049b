// Who acts: users, their roles and home area, and the scopes they may see (SPEC §2).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muster::domain {

enum class Role : unsigned { admin = 1, coordinator = 2, lead = 4, volunteer = 8, hotline = 16, plugin = 32 };

std::string_view to_string(Role role);
std::optional<Role> role_from_string(std::string_view text);
const std::vector<Role>& all_roles();

// A set of roles as bit flags.
class Roles {
 public:
  Roles() = default;
  Roles(std::initializer_list<Role> roles) {
    for (Role r : roles) add(r);
  }
  void add(Role r) { bits_ |= static_cast<unsigned>(r); }
  bool has(Role r) const { return (bits_ & static_cast<unsigned>(r)) != 0; }
  bool empty() const { return bits_ == 0; }
  std::vector<std::string> names() const;
  // Parses "lead,volunteer"; nullopt on an unknown role or an empty list.
  static std::optional<Roles> parse(std::string_view comma_separated);
  std::string to_string() const;  // "lead,volunteer"
  bool operator==(const Roles& o) const { return bits_ == o.bits_; }

 private:
  unsigned bits_ = 0;
};

struct Actor {
  std::string name;
  Roles roles;
  std::string area;  // home area path, e.g. "gulou/antai/yili"
};

// --- Area paths: "gulou", "gulou/antai", "gulou/antai/yili/b3" ---

// Non-empty segments separated by '/', each without whitespace or control characters;
// at most 16 levels and 256 bytes.
bool valid_area_path(std::string_view path);
// True if `ancestor` equals `path` or is one of its ancestors ("gulou" of "gulou/antai").
bool area_contains(std::string_view ancestor, std::string_view path);
// "gulou/antai/yili" -> {"gulou", "gulou/antai", "gulou/antai/yili"}.
std::vector<std::string> area_lineage(std::string_view path);
std::string_view area_parent(std::string_view path);  // "" for a top-level area
// Whether someone living in `viewer_area` is told the display name of someone living in
// `other_area` (the welcome's `people`, a plugin's init): the people above them, and
// those at, below or beside their area (the same parent area and below).
bool shares_neighbourhood(std::string_view viewer_area, std::string_view other_area);

// --- Scopes: "area:<path>", "user:<name>", "role:<name>" ---

std::string area_scope(std::string_view path);
std::string user_scope(std::string_view name);
std::string role_scope(std::string_view role);
bool valid_scope(std::string_view scope);

// User names: 1-64 characters of [a-z0-9._-], starting with a letter or digit.
bool valid_user_name(std::string_view name);

// Leads, coordinators and admins see and manage their home area and every area below
// it; admins manage every area.
bool is_manager(const Actor& actor);
// May `actor` create tasks and post notices in `area`?
bool manages(const Actor& actor, std::string_view area);

// Can `actor` see events of `scope`? Their inbox; their home area and its ancestors;
// for managers and plugins also every descendant area; the role scopes of their roles.
bool can_see(const Actor& actor, std::string_view scope);

// The concrete visible scopes of `actor`, given every known area path.
std::vector<std::string> visible_scopes(const Actor& actor, const std::vector<std::string>& known_areas);

}  // namespace muster::domain
