// Who may see and manage what (SPEC §2, §3): roles, area paths, scopes and the
// visibility rules every reducer and the server's delivery rely on.
#include "muster/domain/actor.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace muster::domain;

namespace {

// The grid used throughout: a district, a street, a community, two buildings,
// and a neighbouring street.
const std::vector<std::string> kAreas{
    "gulou", "gulou/antai", "gulou/antai/yili", "gulou/antai/yili/b3", "gulou/antai/yili/b4", "gulou/gaolou",
};

Actor volunteer_bob() { return Actor{"bob", Roles{Role::volunteer}, "gulou/antai/yili"}; }
Actor lead_li() { return Actor{"li", Roles{Role::lead}, "gulou/antai"}; }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

// ---------------------------------------------------------------- roles

TEST_CASE("roles have stable names that parse back") {
  CHECK(to_string(Role::admin) == "admin");
  CHECK(to_string(Role::coordinator) == "coordinator");
  CHECK(to_string(Role::lead) == "lead");
  CHECK(to_string(Role::volunteer) == "volunteer");
  CHECK(to_string(Role::hotline) == "hotline");
  CHECK(to_string(Role::plugin) == "plugin");
  CHECK(all_roles().size() == 6);
  for (Role r : all_roles()) {
    CAPTURE(std::string(to_string(r)));
    auto back = role_from_string(to_string(r));
    REQUIRE(back.has_value());
    CHECK(*back == r);
  }
}

TEST_CASE("role names are exact: case, whitespace and unknown names are rejected") {
  CHECK_FALSE(role_from_string("").has_value());
  CHECK_FALSE(role_from_string("Lead").has_value());
  CHECK_FALSE(role_from_string(" lead").has_value());
  CHECK_FALSE(role_from_string("resident").has_value());  // residents never log in (SPEC: chat bridge)
}

TEST_CASE("a Roles set holds any combination of roles") {
  Roles none;
  CHECK(none.empty());
  CHECK_FALSE(none.has(Role::volunteer));
  CHECK(none.names().empty());
  CHECK(none.to_string().empty());

  Roles r{Role::lead, Role::volunteer};
  CHECK_FALSE(r.empty());
  CHECK(r.has(Role::lead));
  CHECK(r.has(Role::volunteer));
  CHECK_FALSE(r.has(Role::admin));
  CHECK_FALSE(r.has(Role::hotline));

  r.add(Role::hotline);
  CHECK(r.has(Role::hotline));
  r.add(Role::hotline);  // adding twice is harmless
  CHECK(r.names() == std::vector<std::string>{"lead", "volunteer", "hotline"});
}

TEST_CASE("Roles render in a canonical order, whatever order they were given in") {
  CHECK(Roles{Role::volunteer, Role::lead}.to_string() == "lead,volunteer");
  CHECK(Roles{Role::plugin, Role::admin, Role::hotline}.to_string() == "admin,hotline,plugin");
  CHECK((Roles{Role::volunteer, Role::lead} == Roles{Role::lead, Role::volunteer}));
  CHECK_FALSE((Roles{Role::lead} == Roles{Role::lead, Role::volunteer}));
}

TEST_CASE("Roles::parse reads a comma-separated list") {
  auto one = Roles::parse("volunteer");
  REQUIRE(one.has_value());
  CHECK(*one == Roles{Role::volunteer});

  auto two = Roles::parse("volunteer,lead");
  REQUIRE(two.has_value());
  CHECK(*two == Roles{Role::lead, Role::volunteer});
  CHECK(two->to_string() == "lead,volunteer");

  auto all = Roles::parse("admin,coordinator,lead,volunteer,hotline,plugin");
  REQUIRE(all.has_value());
  for (Role r : all_roles()) CHECK(all->has(r));

  auto repeated = Roles::parse("lead,lead");
  REQUIRE(repeated.has_value());
  CHECK(*repeated == Roles{Role::lead});
}

TEST_CASE("Roles::parse rejects empty lists, empty items and unknown roles") {
  CHECK_FALSE(Roles::parse("").has_value());
  CHECK_FALSE(Roles::parse(",").has_value());
  CHECK_FALSE(Roles::parse(",lead").has_value());
  CHECK_FALSE(Roles::parse("lead,").has_value());
  CHECK_FALSE(Roles::parse("lead,,volunteer").has_value());
  CHECK_FALSE(Roles::parse("lead, volunteer").has_value());  // no whitespace
  CHECK_FALSE(Roles::parse("lead,boss").has_value());
  CHECK_FALSE(Roles::parse("LEAD").has_value());
}

// ---------------------------------------------------------------- area paths

TEST_CASE("valid_area_path accepts slash-separated segments, including Chinese names") {
  CHECK(valid_area_path("gulou"));
  CHECK(valid_area_path("gulou/antai"));
  CHECK(valid_area_path("gulou/antai/yili/b3"));
  CHECK(valid_area_path("鼓楼/安泰/怡丽/3栋"));
  CHECK(valid_area_path("north-gate_2.east"));
}

TEST_CASE("valid_area_path rejects empty segments, blanks, controls, colons and bad UTF-8") {
  CHECK_FALSE(valid_area_path(""));
  CHECK_FALSE(valid_area_path("/"));
  CHECK_FALSE(valid_area_path("/gulou"));
  CHECK_FALSE(valid_area_path("gulou/"));
  CHECK_FALSE(valid_area_path("gulou//antai"));
  CHECK_FALSE(valid_area_path("gu lou"));
  CHECK_FALSE(valid_area_path("gulou\tantai"));
  CHECK_FALSE(valid_area_path("gulou\n"));
  CHECK_FALSE(valid_area_path(std::string("gu\0lou", 6)));
  CHECK_FALSE(valid_area_path("gulou\x7f"));
  CHECK_FALSE(valid_area_path("area:gulou"));  // ':' would make scopes ambiguous
  CHECK_FALSE(valid_area_path("gulou/\xff"));
  CHECK_FALSE(valid_area_path("\xe9\xbc"));  // a Chinese character cut short
}

TEST_CASE("valid_area_path allows at most 16 levels") {
  std::string sixteen = "a";
  for (int i = 1; i < 16; ++i) sixteen += "/a";
  CHECK(valid_area_path(sixteen));
  CHECK_FALSE(valid_area_path(sixteen + "/a"));
}

TEST_CASE("valid_area_path allows at most 256 bytes") {
  CHECK(valid_area_path(std::string(256, 'x')));
  CHECK_FALSE(valid_area_path(std::string(257, 'x')));
  // Bytes, not characters: 85 Chinese characters are 255 bytes, 86 are 258.
  std::string chinese;
  for (int i = 0; i < 85; ++i) chinese += "楼";
  CHECK(valid_area_path(chinese));
  CHECK_FALSE(valid_area_path(chinese + "楼"));
}

TEST_CASE("area_contains: an area contains itself and everything below it, by whole segments") {
  CHECK(area_contains("gulou", "gulou"));
  CHECK(area_contains("gulou", "gulou/antai"));
  CHECK(area_contains("gulou", "gulou/antai/yili/b3"));
  CHECK(area_contains("gulou/antai", "gulou/antai/yili"));

  CHECK_FALSE(area_contains("gulou/antai", "gulou"));          // not upwards
  CHECK_FALSE(area_contains("gulou/antai", "gulou/gaolou"));   // not sideways
  CHECK_FALSE(area_contains("gulou", "gulouxi"));              // a prefix is not a parent
  CHECK_FALSE(area_contains("gulou/an", "gulou/antai"));
  CHECK_FALSE(area_contains("gulou/antai/yili/b3", "gulou/antai/yili/b4"));
}

TEST_CASE("area_lineage lists every ancestor from the top down, ending with the area itself") {
  CHECK(area_lineage("gulou") == std::vector<std::string>{"gulou"});
  CHECK(area_lineage("gulou/antai/yili") == std::vector<std::string>{"gulou", "gulou/antai", "gulou/antai/yili"});
  CHECK(area_lineage("鼓楼/安泰") == std::vector<std::string>{"鼓楼", "鼓楼/安泰"});
}

TEST_CASE("area_parent drops the last segment; top-level areas have no parent") {
  CHECK(area_parent("gulou/antai/yili") == "gulou/antai");
  CHECK(area_parent("gulou/antai") == "gulou");
  CHECK(area_parent("gulou").empty());
}

// ---------------------------------------------------------------- scopes and names

TEST_CASE("scope names are a prefix and a value") {
  CHECK(area_scope("gulou/antai") == "area:gulou/antai");
  CHECK(user_scope("bob") == "user:bob");
  CHECK(role_scope("hotline") == "role:hotline");
}

TEST_CASE("valid_scope checks the value behind each prefix") {
  CHECK(valid_scope("area:gulou/antai"));
  CHECK(valid_scope("area:鼓楼"));
  CHECK(valid_scope("user:bob"));
  CHECK(valid_scope("role:hotline"));
  CHECK(valid_scope("role:volunteer"));

  CHECK_FALSE(valid_scope(""));
  CHECK_FALSE(valid_scope("gulou"));
  CHECK_FALSE(valid_scope("area:"));
  CHECK_FALSE(valid_scope("area:gulou/"));
  CHECK_FALSE(valid_scope("user:"));
  CHECK_FALSE(valid_scope("user:Bob"));
  CHECK_FALSE(valid_scope("role:resident"));
  CHECK_FALSE(valid_scope("role:"));
  CHECK_FALSE(valid_scope("team:red"));
  CHECK_FALSE(valid_scope("AREA:gulou"));
}

TEST_CASE("user names are 1-64 of [a-z0-9._-], starting with a letter or digit") {
  CHECK(valid_user_name("bob"));
  CHECK(valid_user_name("li.wei"));
  CHECK(valid_user_name("volunteer_07"));
  CHECK(valid_user_name("xmpp-bridge"));
  CHECK(valid_user_name("7eleven"));
  CHECK(valid_user_name(std::string(64, 'a')));

  CHECK_FALSE(valid_user_name(""));
  CHECK_FALSE(valid_user_name(std::string(65, 'a')));
  CHECK_FALSE(valid_user_name("Bob"));
  CHECK_FALSE(valid_user_name("li wei"));
  CHECK_FALSE(valid_user_name("bob:1"));
  CHECK_FALSE(valid_user_name("a/b"));
  CHECK_FALSE(valid_user_name("李伟"));
  CHECK_FALSE(valid_user_name(".hidden"));
  CHECK_FALSE(valid_user_name("_bob"));
  CHECK_FALSE(valid_user_name("-bob"));
}

// ---------------------------------------------------------------- managing

TEST_CASE("leads, coordinators and admins are managers; volunteers, hotline and plugins are not") {
  CHECK(is_manager(Actor{"li", Roles{Role::lead}, "gulou"}));
  CHECK(is_manager(Actor{"zhou", Roles{Role::coordinator}, "gulou"}));
  CHECK(is_manager(Actor{"root", Roles{Role::admin}, "gulou"}));
  CHECK(is_manager(Actor{"mix", Roles{Role::volunteer, Role::lead}, "gulou"}));
  CHECK_FALSE(is_manager(Actor{"bob", Roles{Role::volunteer}, "gulou"}));
  CHECK_FALSE(is_manager(Actor{"hana", Roles{Role::hotline}, "gulou"}));
  CHECK_FALSE(is_manager(Actor{"bridge", Roles{Role::plugin}, "gulou"}));
  CHECK_FALSE(is_manager(Actor{"nobody", Roles{}, "gulou"}));
}

TEST_CASE("a manager manages their home area and every area below it, nothing above or beside") {
  const Actor li = lead_li();  // lead of gulou/antai
  CHECK(manages(li, "gulou/antai"));
  CHECK(manages(li, "gulou/antai/yili"));
  CHECK(manages(li, "gulou/antai/yili/b3"));
  CHECK_FALSE(manages(li, "gulou"));
  CHECK_FALSE(manages(li, "gulou/gaolou"));
  CHECK_FALSE(manages(li, "gulou/antaixi"));
}

TEST_CASE("non-managers manage nothing, not even their home area") {
  CHECK_FALSE(manages(volunteer_bob(), "gulou/antai/yili"));
  CHECK_FALSE(manages(Actor{"hana", Roles{Role::hotline}, "gulou"}, "gulou"));
}

// ---------------------------------------------------------------- can_see

TEST_CASE("everyone sees their own inbox and nobody else's") {
  CHECK(can_see(volunteer_bob(), "user:bob"));
  CHECK_FALSE(can_see(volunteer_bob(), "user:carol"));
  CHECK_FALSE(can_see(volunteer_bob(), "user:bobby"));
  CHECK(can_see(lead_li(), "user:li"));
  CHECK_FALSE(can_see(lead_li(), "user:bob"));  // managing an area does not open inboxes
}

TEST_CASE("a volunteer sees their home area and its ancestors (notices flow down), not below or beside") {
  const Actor bob = volunteer_bob();  // gulou/antai/yili
  CHECK(can_see(bob, "area:gulou/antai/yili"));
  CHECK(can_see(bob, "area:gulou/antai"));
  CHECK(can_see(bob, "area:gulou"));
  CHECK_FALSE(can_see(bob, "area:gulou/antai/yili/b3"));
  CHECK_FALSE(can_see(bob, "area:gulou/gaolou"));
  CHECK_FALSE(can_see(bob, "area:gulou/antai/yi"));
  CHECK_FALSE(can_see(bob, "area:"));
}

TEST_CASE("a manager also sees every area below their home area") {
  const Actor li = lead_li();  // gulou/antai
  CHECK(can_see(li, "area:gulou"));
  CHECK(can_see(li, "area:gulou/antai"));
  CHECK(can_see(li, "area:gulou/antai/yili"));
  CHECK(can_see(li, "area:gulou/antai/yili/b3"));
  CHECK_FALSE(can_see(li, "area:gulou/gaolou"));

  const Actor zhou{"zhou", Roles{Role::coordinator}, "gulou"};
  CHECK(can_see(zhou, "area:gulou/gaolou"));
  CHECK(can_see(zhou, "area:gulou/antai/yili/b4"));
}

TEST_CASE("a plugin sees its home area, its ancestors and every area below it, nothing beside") {
  const Actor bridge{"bridge", Roles{Role::plugin}, "gulou/antai/yili"};
  CHECK(can_see(bridge, "area:gulou"));
  CHECK(can_see(bridge, "area:gulou/antai"));
  CHECK(can_see(bridge, "area:gulou/antai/yili"));
  CHECK(can_see(bridge, "area:gulou/antai/yili/b3"));  // the buildings it serves
  CHECK_FALSE(can_see(bridge, "area:gulou/gaolou"));
  CHECK_FALSE(can_see(bridge, "area:gulou/antai/yilixi"));
  CHECK(can_see(bridge, "user:bridge"));
  CHECK(can_see(bridge, "role:plugin"));
  CHECK_FALSE(can_see(bridge, "user:bob"));
  CHECK_FALSE(manages(bridge, "gulou/antai/yili"));  // seeing is not managing
}

TEST_CASE("role scopes are visible to holders of that role only") {
  const Actor hana{"hana", Roles{Role::hotline, Role::volunteer}, "gulou"};
  CHECK(can_see(hana, "role:hotline"));
  CHECK(can_see(hana, "role:volunteer"));
  CHECK_FALSE(can_see(hana, "role:lead"));
  CHECK_FALSE(can_see(lead_li(), "role:hotline"));  // hotline notes stay with the hotline
  CHECK_FALSE(can_see(Actor{"root", Roles{Role::admin}, "gulou"}, "role:hotline"));
  CHECK_FALSE(can_see(hana, "role:resident"));
}

TEST_CASE("unknown scope kinds are never visible") {
  CHECK_FALSE(can_see(volunteer_bob(), "bob"));
  CHECK_FALSE(can_see(volunteer_bob(), "team:bob"));
  CHECK_FALSE(can_see(volunteer_bob(), ""));
}

// ---------------------------------------------------------------- visible_scopes

TEST_CASE("a volunteer's visible scopes: inbox, home lineage, roles") {
  auto scopes = visible_scopes(volunteer_bob(), kAreas);
  CHECK(scopes == std::vector<std::string>{"user:bob", "area:gulou", "area:gulou/antai", "area:gulou/antai/yili",
                                           "role:volunteer"});
}

TEST_CASE("a manager's visible scopes add every known area below the home area") {
  auto scopes = visible_scopes(lead_li(), kAreas);
  CHECK(scopes == std::vector<std::string>{"user:li", "area:gulou", "area:gulou/antai", "area:gulou/antai/yili",
                                           "area:gulou/antai/yili/b3", "area:gulou/antai/yili/b4", "role:lead"});
  CHECK_FALSE(contains(scopes, "area:gulou/gaolou"));
}

TEST_CASE("a plugin's visible scopes: inbox, home lineage, every known area below, its role") {
  auto scopes = visible_scopes(Actor{"bridge", Roles{Role::plugin}, "gulou/antai/yili"}, kAreas);
  CHECK(scopes == std::vector<std::string>{"user:bridge", "area:gulou", "area:gulou/antai", "area:gulou/antai/yili",
                                           "area:gulou/antai/yili/b3", "area:gulou/antai/yili/b4", "role:plugin"});
}

TEST_CASE("visible_scopes lists exactly the scopes can_see admits, each once") {
  const std::vector<Actor> actors{
      volunteer_bob(),
      lead_li(),
      Actor{"zhou", Roles{Role::coordinator, Role::volunteer}, "gulou"},
      Actor{"hana", Roles{Role::hotline}, "gulou/gaolou"},
      Actor{"root", Roles{Role::admin}, "gulou/antai/yili/b3"},
      Actor{"bridge", Roles{Role::plugin}, "gulou/antai/yili"},
  };
  std::vector<std::string> candidates{"user:bob", "user:li", "user:zhou", "user:hana", "user:root", "user:bridge"};
  for (const auto& a : kAreas) candidates.push_back(area_scope(a));
  for (Role r : all_roles()) candidates.push_back(role_scope(to_string(r)));

  for (const Actor& actor : actors) {
    CAPTURE(actor.name);
    auto scopes = visible_scopes(actor, kAreas);
    for (const auto& s : scopes) {
      CAPTURE(s);
      CHECK(can_see(actor, s));
      CHECK(std::count(scopes.begin(), scopes.end(), s) == 1);
    }
    for (const auto& s : candidates) {
      CAPTURE(s);
      CHECK(can_see(actor, s) == contains(scopes, s));
    }
  }
}

TEST_CASE("shares_neighbourhood: above, at, below and beside one's area; not the next compound") {
  using muster::domain::shares_neighbourhood;
  const std::string b3 = "gulou/antai/yili/b3";
  CHECK(shares_neighbourhood(b3, "gulou/antai/yili"));     // the lead
  CHECK(shares_neighbourhood(b3, "gulou/antai"));          // the coordinator
  CHECK(shares_neighbourhood(b3, "gulou"));                // the admin
  CHECK(shares_neighbourhood(b3, b3));                     // the same building
  CHECK(shares_neighbourhood(b3, "gulou/antai/yili/b5"));  // the next building
  CHECK_FALSE(shares_neighbourhood(b3, "gulou/antai/heping/b1"));
  CHECK_FALSE(shares_neighbourhood(b3, "gulou/antai/heping"));
  // A lead sees the compounds beside theirs; a top-level admin everyone below.
  CHECK(shares_neighbourhood("gulou/antai/yili", "gulou/antai/heping/b1"));
  CHECK(shares_neighbourhood("gulou", "gulou/antai/heping/b1"));
  CHECK_FALSE(shares_neighbourhood("gulou", "xicheng"));
  CHECK_FALSE(shares_neighbourhood("gulou/antai/heping/b1", "gulou/antai/hepingx"));  // a name, not a prefix
}
