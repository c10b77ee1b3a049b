// Head-counts (SPEC §3): the registry as events, rounds over an area, marks (the later
// wins, every one kept), tallies kept by the fold, and close turning every household
// still missing into exactly one doorknock task.
//
// Each test drives the shared State the way the server does: apply() decides an op at a
// given time, and the drafts are numbered and folded back with fold(). Expected values
// are written out by hand.
#include "muster/domain/headcount.hpp"

#include <doctest/doctest.h>

#include "event_numbering.hpp"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/domain/policy.hpp"
#include "muster/domain/state.hpp"

using namespace muster::domain;
using muster::Errc;
using muster::format_utc;
using muster::UnixMs;

namespace {

constexpr UnixMs kNow = 1795420800000;  // 2026-11-23T08:00:00Z
constexpr UnixMs kMinute = 60 * 1000;

const std::string kYili = "gulou/antai/yili";
const std::string kB1 = "gulou/antai/yili/b1";
const std::string kB2 = "gulou/antai/yili/b2";
const std::string kB3 = "gulou/antai/yili/b3";

const Actor li{"li", Roles{Role::lead}, "gulou/antai"};           // street lead
const Actor yan{"yan", Roles{Role::lead}, kYili};                 // community lead
const Actor wang{"wang", Roles{Role::lead}, "gulou/gaolou"};      // lead of the next street
const Actor zhou{"zhou", Roles{Role::coordinator}, "gulou"};
const Actor bob{"bob", Roles{Role::volunteer}, kB1};              // volunteer of b1
const Actor carol{"carol", Roles{Role::volunteer}, kB1};          // another of b1
const Actor erin{"erin", Roles{Role::volunteer}, kB3};            // volunteer of b3
const Actor dave{"dave", Roles{Role::volunteer}, "gulou/gaolou"};
const Actor hana{"hana", Roles{Role::hotline}, kB1};

class FakeDirectory final : public Directory {
 public:
  std::optional<bool> area_exists(std::string_view path) const override { return areas_.count(std::string(path)) > 0; }
  std::optional<std::optional<Actor>> find_user(std::string_view) const override {
    return std::make_optional(std::optional<Actor>{});
  }

 private:
  std::set<std::string> areas_{"gulou",        "gulou/antai",     kYili, kB1, kB2, kB3, "gulou/antai/yili/b4",
                               "gulou/gaolou", "gulou/gaolou/g1"};
};

using Outcome = muster::Result<std::vector<Draft>>;

std::string code_of(const Outcome& r) { return r ? "ok" : std::string(muster::to_string(r.error().code)); }
std::string message_of(const Outcome& r) { return r ? std::string() : r.error().message; }

std::string op_id(int n) {
  std::string digits = std::to_string(n);
  return "01JDHEADCNT" + std::string(15 - digits.size(), '0') + digits;  // 26 characters, like a ULID
}

// A server in miniature: decides ops at `now`, folds the accepted drafts as numbered
// events, and publishes the registry as the Engine does.
struct World {
  FakeDirectory server_directory;
  const Directory* directory = &server_directory;
  const Policy* policy = nullptr;
  State state;
  std::vector<Event> log;
  muster_test::EventNumbering numbering;
  int ops = 0;
  UnixMs now = kNow;

  Event number(const Draft& d, const OpId& op, const std::string& actor) {
    return numbering.number(d, op, actor, now);
  }
  Event number(const Draft& d, const std::string& op, const std::string& actor) {
    return numbering.number(d, op, actor, now);
  }

  Outcome run(const Actor& who, const std::string& kind, Json body) {
    const Op op{OpId(op_id(++ops)), kind, std::move(body)};
    Outcome r = apply(state, op, Context{who, now, *directory, policy});
    if (r) {
      for (const Draft& d : *r) {
        Event e = number(d, op.id, who.name);
        fold(state, e);
        log.push_back(e);
      }
    }
    return r;
  }

  // household.registered, as the Engine's tick publishes it.
  void household(const std::string& id, const std::string& area, const std::string& address, int members) {
    Household h{id, area, address, members, format_utc(now)};
    Event e = number(Draft{area_scope(area), "household.registered", to_json(h)}, "01JDTICK" + std::to_string(numbering.gseq),
                     "musterd");
    fold(state, e);
    log.push_back(e);
  }

  // Nine households in three buildings of yili, and one in the next street.
  void registry() {
    household("b1-101", kB1, "1栋101", 3);
    household("b1-102", kB1, "1栋102", 2);
    household("b1-201", kB1, "1栋201", 4);
    household("b2-101", kB2, "2栋101", 1);
    household("b2-102", kB2, "2栋102", 2);
    household("b3-501", kB3, "3栋501", 3);
    household("b3-502", kB3, "3栋502", 2);
    household("b3-601", kB3, "3栋601", 5);
    household("b3-602", kB3, "3栋602", 1);
    household("g1-101", "gulou/gaolou/g1", "高楼1栋101", 2);
  }

  std::string open(const Actor& who = yan, const std::string& area = kYili) {
    Outcome r = run(who, "headcount.open", Json{{"area", area}, {"title", "全员核酸 第1轮"}});
    REQUIRE_MESSAGE(r.ok(), message_of(r));
    return log.back().body["id"].get<std::string>();
  }

  Outcome mark(const Actor& who, const std::string& round, const std::string& household, const std::string& status,
               Json people = nullptr) {
    Json body{{"round", round}, {"household", household}, {"status", status}};
    if (!people.is_null()) body["people"] = people;
    return run(who, "headcount.mark", std::move(body));
  }
  void must_mark(const Actor& who, const std::string& round, const std::string& household, const std::string& status,
                 int people = 0) {
    Outcome r = mark(who, round, household, status, people);
    REQUIRE_MESSAGE(r.ok(), (who.name + " " + household + ": " + message_of(r)));
  }

  const Round& round(const std::string& id) const {
    auto it = state.headcount.rounds.find(id);
    REQUIRE(it != state.headcount.rounds.end());
    return it->second;
  }
  Json status(const std::string& id, bool missing = false, const Actor* viewer = nullptr) const {
    return round_status(state.headcount, round(id), missing, viewer);
  }
};

Json building(const std::string& area, int expected, int counted, int people) {
  return Json{{"area", area}, {"expected", expected}, {"counted", counted}, {"missing", expected - counted},
              {"people", people}};
}

}  // namespace

// ======================================================================= names and JSON

TEST_CASE("the head-count op kinds") {
  for (const char* k : {"headcount.open", "headcount.mark", "headcount.close"}) {
    CAPTURE(k);
    CHECK(is_headcount_op(k));
    CHECK(is_known_op(k));
  }
  for (const char* k : {"headcount.opened", "headcount.marked", "headcount.closed", "household.registered",
                        "household.updated", "household.import", "headcount", ""}) {
    CAPTURE(k);
    CHECK_FALSE(is_headcount_op(k));
  }
}

TEST_CASE("op kinds the reducer does not know are invalid") {
  HeadcountBooks books;
  const Op op{OpId(op_id(1)), "headcount.explode", Json::object()};
  FakeDirectory dir;
  auto r = apply_headcount_op(books, op, Context{yan, kNow, dir});
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "unknown op kind 'headcount.explode'");
  auto not_object = apply_headcount_op(books, Op{OpId(op_id(2)), "headcount.open", Json::array()}, Context{yan, kNow, dir});
  CHECK(message_of(not_object) == "op body must be an object");
}

TEST_CASE("household ids: 1-32 characters of A-Z a-z 0-9 . _ -") {
  for (const char* ok : {"b3-502", "B3.502", "x", "a_b", "0", "12345678901234567890123456789012"}) {
    CAPTURE(ok);
    CHECK(valid_household_id(ok));
  }
  for (const char* bad : {"", "b3 502", "b3/502", "3栋502", "123456789012345678901234567890123", "a:b", "a,b", "a#b"}) {
    CAPTURE(bad);
    CHECK_FALSE(valid_household_id(bad));
  }
}

TEST_CASE("mark statuses by name") {
  for (const char* s : {"done", "absent", "exempt", "moved"}) {
    auto st = mark_status_from_string(s);
    REQUIRE(st);
    CHECK(to_string(*st) == s);
  }
  CHECK_FALSE(mark_status_from_string("Done"));
  CHECK_FALSE(mark_status_from_string(""));
  CHECK_FALSE(mark_status_from_string("missing"));
}

TEST_CASE("households, rounds and marks survive JSON, as the client's replica stores them") {
  Household h{"b3-502", kB3, "3栋502, 东单元", 3, "2026-11-23T08:00:00Z"};
  CHECK(to_json(h) == Json{{"id", "b3-502"}, {"area", kB3}, {"address", "3栋502, 东单元"}, {"members", 3},
                           {"registered_at", "2026-11-23T08:00:00Z"}});
  auto h2 = household_from_json(to_json(h));
  REQUIRE(h2);
  CHECK(to_json(*h2) == to_json(h));
  CHECK_FALSE(household_from_json(Json{{"id", "b3 502"}, {"area", kB3}}));
  CHECK_FALSE(household_from_json(Json{{"id", "b3-502"}, {"area", "/bad"}}));
  CHECK_FALSE(household_from_json(Json{{"id", "b3-502"}, {"area", kB3}, {"members", -1}}));
  CHECK_FALSE(household_from_json(Json::array()));

  Round r;
  r.id = op_id(1);
  r.area = kYili;
  r.title = "全员核酸";
  r.closes = "2026-11-23T12:00:00Z";
  r.opened_by = "yan";
  r.opened_at = "2026-11-23T08:00:00Z";
  r.expected = {{kB1, 3}, {kB3, 4}};
  r.tallies[kB1] = Round::Tally{2, 5};
  const Json rj = to_json(r);
  CHECK(rj == Json{{"id", op_id(1)}, {"area", kYili}, {"title", "全员核酸"}, {"closes", "2026-11-23T12:00:00Z"},
                   {"opened_by", "yan"}, {"opened_at", "2026-11-23T08:00:00Z"}, {"closed", false},
                   {"closed_by", ""}, {"closed_at", ""}, {"expected", {{kB1, 3}, {kB3, 4}}}});
  auto r2 = round_from_json(rj);
  REQUIRE(r2);
  CHECK(to_json(*r2) == rj);
  CHECK(r2->tallies.empty());  // not in JSON: rebuilt from the marks
  CHECK_FALSE(round_from_json(Json{{"id", "x"}, {"area", kYili}, {"expected", {{kB1, -1}}}}));

  Mark m{op_id(1), "b1-101", kB1, MarkEntry{MarkStatus::absent, 0, "carol", "2026-11-23T09:00:00Z", OpId(op_id(3))},
         {MarkEntry{MarkStatus::done, 3, "bob", "2026-11-23T08:30:00Z", OpId(op_id(2))},
          MarkEntry{MarkStatus::absent, 0, "carol", "2026-11-23T09:00:00Z", OpId(op_id(3))}}};
  const Json mj = to_json(m);
  CHECK(mj["status"] == "absent");
  CHECK(mj["by"] == "carol");
  CHECK(mj["history"].size() == 2);
  CHECK(mj["history"][0] == Json{{"status", "done"}, {"people", 3}, {"by", "bob"}, {"at", "2026-11-23T08:30:00Z"},
                                 {"op", op_id(2)}});
  auto m2 = mark_from_json(mj);
  REQUIRE(m2);
  CHECK(to_json(*m2) == mj);
  CHECK(m2->latest.by == "carol");
  CHECK_FALSE(mark_from_json(Json{{"round", "r"}, {"household", "h"}, {"area", kB1}, {"history", Json::array()}}));
  CHECK(mark_key("R", "b1-101") == "R/b1-101");
}

// ======================================================================= open

TEST_CASE("a lead opens a round: headcount.opened in the round's area with the expected households by building") {
  World w;
  w.registry();
  w.now += kMinute;
  Outcome r = w.run(yan, "headcount.open",
                    Json{{"area", kYili}, {"title", "全员核酸 第1轮"}, {"closes", "2026-11-23T20:00:00+08:00"}});
  REQUIRE_MESSAGE(r.ok(), message_of(r));
  REQUIRE(r->size() == 1);
  CHECK(r->front().scope == "area:gulou/antai/yili");
  CHECK(r->front().kind == "headcount.opened");
  CHECK(r->front().body == Json{{"id", op_id(1)},
                                {"area", kYili},
                                {"title", "全员核酸 第1轮"},
                                {"closes", "2026-11-23T12:00:00Z"},
                                {"opened_by", "yan"},
                                {"opened_at", "2026-11-23T08:01:00Z"},
                                {"closed", false},
                                {"closed_by", ""},
                                {"closed_at", ""},
                                {"expected", {{kB1, 3}, {kB2, 2}, {kB3, 4}}}});
  const Round& round = w.round(op_id(1));
  CHECK(round.expected.size() == 3);
  CHECK(w.status(round.id) == Json{{"round", round.id},
                                   {"area", kYili},
                                   {"title", "全员核酸 第1轮"},
                                   {"closed", false},
                                   {"expected", 9},
                                   {"counted", 0},
                                   {"missing", 9},
                                   {"people", 0},
                                   {"by_building", {building(kB1, 3, 0, 0), building(kB2, 2, 0, 0),
                                                    building(kB3, 4, 0, 0)}}});
}

TEST_CASE("a round over one building, or over the whole street, expects the households below it") {
  World w;
  w.registry();
  auto b3 = w.open(yan, kB3);
  CHECK(w.round(b3).expected == std::map<std::string, int>{{kB3, 4}});
  auto street = w.open(li, "gulou/antai");
  CHECK(w.round(street).expected == std::map<std::string, int>{{kB1, 3}, {kB2, 2}, {kB3, 4}});
  auto district = w.open(zhou, "gulou");
  CHECK(w.round(district).expected.at("gulou/gaolou/g1") == 1);
}

TEST_CASE("the expected rule: under the round's area and registered no later than it opened") {
  World w;
  w.registry();
  w.now += kMinute;
  auto id = w.open();
  const Round& r = w.round(id);
  const Household& b1 = w.state.headcount.households.at("b1-101");
  CHECK(round_expects(r, b1));
  CHECK_FALSE(round_expects(r, w.state.headcount.households.at("g1-101")));  // another street
  Household same_second{"b1-301", kB1, "1栋301", 2, r.opened_at};
  CHECK(round_expects(r, same_second));
  Household later{"b1-302", kB1, "1栋302", 2, format_utc(w.now + 1000)};
  CHECK_FALSE(round_expects(r, later));
  Household unknown_time{"b1-303", kB1, "1栋303", 2, ""};
  CHECK(round_expects(r, unknown_time));
  Household parent_area{"y-1", kYili, "物业", 0, r.opened_at};  // the area itself counts, not only buildings
  CHECK(round_expects(r, parent_area));
  Household sibling_prefix{"y2-1", "gulou/antai/yili2", "x", 0, r.opened_at};  // a prefix is not an ancestor
  CHECK_FALSE(round_expects(r, sibling_prefix));

  // A household registered after the round opened is not expected, and cannot be marked in it.
  w.now += kMinute;
  w.household("b2-201", kB2, "2栋201", 2);
  CHECK(w.round(id).expected.at(kB2) == 2);
  Outcome late = w.mark(yan, id, "b2-201", "done", 2);
  CHECK(code_of(late) == "invalid");
  CHECK(message_of(late) == "household b2-201 was registered after the round opened");
  // The next round expects it.
  auto next = w.open();
  CHECK(w.round(next).expected.at(kB2) == 3);
}

TEST_CASE("open: malformed bodies are invalid, naming the problem") {
  World w;
  w.registry();
  struct Case {
    Json body;
    std::string message;
  };
  const std::vector<Case> cases{
      {Json{{"title", "t"}}, "missing field 'area'"},
      {Json{{"area", kYili}}, "missing field 'title'"},
      {Json{{"area", 3}, {"title", "t"}}, "field 'area' must be a string"},
      {Json{{"area", kYili}, {"title", ""}}, "title must not be empty"},
      {Json{{"area", kYili}, {"title", std::string(401, 'x')}}, "field 'title' is longer than 400 bytes"},
      {Json{{"area", "gulou//antai"}, {"title", "t"}}, "invalid area path 'gulou//antai'"},
      {Json{{"area", kYili}, {"title", "t"}, {"closes", "tomorrow"}}, "closes is not a valid time: 'tomorrow'"},
      {Json{{"area", "gulou/nowhere"}, {"title", "t"}}, "unknown area 'gulou/nowhere'"},
      {Json{{"area", "gulou/antai/yili/b4"}, {"title", "t"}}, "no household is registered in gulou/antai/yili/b4"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body.dump());
    Outcome r = w.run(zhou, "headcount.open", c.body);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == c.message);
  }
  CHECK(w.state.headcount.rounds.empty());
}

TEST_CASE("open: managers of the area only") {
  World w;
  w.registry();
  for (const Actor* a : {&bob, &hana, &wang}) {
    CAPTURE(a->name);
    Outcome r = w.run(*a, "headcount.open", Json{{"area", kYili}, {"title", "t"}});
    CHECK(code_of(r) == "forbidden");
    CHECK(message_of(r) == a->name + " may not open head-counts in " + kYili);
  }
  // A community lead cannot open a round over the street above.
  CHECK(code_of(w.run(yan, "headcount.open", Json{{"area", "gulou/antai"}, {"title", "t"}})) == "forbidden");
  CHECK(w.state.headcount.rounds.empty());
}

TEST_CASE("open on a client: no directory to ask, the replica's households decide") {
  World w;
  w.registry();
  UnknownDirectory unknown;
  w.directory = &unknown;
  Outcome r = w.run(yan, "headcount.open", Json{{"area", "gulou/antai/yili/b9"}, {"title", "t"}});
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "no household is registered in gulou/antai/yili/b9");
  CHECK(w.run(yan, "headcount.open", Json{{"area", kB3}, {"title", "t"}}).ok());
}

TEST_CASE("an open op replayed after its round exists is a conflict") {
  World w;
  w.registry();
  auto id = w.open();
  FakeDirectory dir;
  auto again = apply(w.state, Op{OpId(id), "headcount.open", Json{{"area", kYili}, {"title", "t"}}}, Context{yan, kNow, dir});
  CHECK(code_of(again) == "conflict");
  CHECK(message_of(again) == "round " + id + " already exists");
}

// ======================================================================= mark

TEST_CASE("a volunteer marks a household of their building: headcount.marked in the household's area") {
  World w;
  w.registry();
  auto id = w.open();
  w.now += kMinute;
  Outcome r = w.mark(bob, id, "b1-101", "done", 3);
  REQUIRE_MESSAGE(r.ok(), message_of(r));
  REQUIRE(r->size() == 1);
  CHECK(r->front().scope == "area:gulou/antai/yili/b1");
  CHECK(r->front().kind == "headcount.marked");
  CHECK(r->front().body ==
        Json{{"round", id}, {"household", "b1-101"}, {"area", kB1}, {"status", "done"}, {"people", 3}});
  const Mark& m = w.state.headcount.marks.at(mark_key(id, "b1-101"));
  CHECK(m.latest.status == MarkStatus::done);
  CHECK(m.latest.people == 3);
  CHECK(m.latest.by == "bob");
  CHECK(m.latest.at == "2026-11-23T08:01:00Z");
  CHECK(m.history.size() == 1);
  CHECK(w.round(id).tallies.at(kB1).counted == 1);
  CHECK(w.round(id).tallies.at(kB1).people == 3);

  // people defaults to 0; every status counts the household.
  REQUIRE(w.mark(bob, id, "b1-102", "absent").ok());
  CHECK(w.log.back().body["people"] == 0);
  REQUIRE(w.mark(erin, id, "b3-501", "exempt").ok());
  REQUIRE(w.mark(yan, id, "b2-101", "moved", 0).ok());  // a lead marks too
  CHECK(w.status(id)["counted"] == 4);
  CHECK(w.status(id)["missing"] == 5);
  CHECK(w.status(id)["people"] == 3);
}

TEST_CASE("mark: malformed bodies are invalid, naming the problem") {
  World w;
  w.registry();
  auto id = w.open();
  struct Case {
    Json body;
    std::string message;
  };
  const std::vector<Case> cases{
      {Json{{"household", "b1-101"}, {"status", "done"}}, "missing field 'round'"},
      {Json{{"round", id}, {"status", "done"}}, "missing field 'household'"},
      {Json{{"round", id}, {"household", "b1-101"}}, "missing field 'status'"},
      {Json{{"round", id}, {"household", "b1-101"}, {"status", "counted"}},
       "status must be done, absent, exempt or moved"},
      {Json{{"round", id}, {"household", "b1-101"}, {"status", "done"}, {"people", 51}},
       "people must be a whole number from 0 to 50"},
      {Json{{"round", id}, {"household", "b1-101"}, {"status", "done"}, {"people", -1}},
       "people must be a whole number from 0 to 50"},
      {Json{{"round", id}, {"household", "b1-101"}, {"status", "done"}, {"people", 2.5}},
       "people must be a whole number from 0 to 50"},
      {Json{{"round", id}, {"household", "b1-101"}, {"status", "done"}, {"people", "3"}},
       "people must be a whole number from 0 to 50"},
      {Json{{"round", id}, {"household", "b1-101"}, {"status", "done"}, {"people", 18446744073709551615ULL}},
       "people must be a whole number from 0 to 50"},
      {Json{{"round", id}, {"household", "b1 101"}, {"status", "done"}}, "invalid household id 'b1 101'"},
      {Json{{"round", id}, {"household", std::string(65, 'x')}, {"status", "done"}},
       "field 'household' is longer than 64 bytes"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body.dump());
    Outcome r = w.run(bob, "headcount.mark", c.body);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == c.message);
  }
  // At the limits.
  CHECK(w.mark(bob, id, "b1-101", "done", 50).ok());
  CHECK(w.mark(bob, id, "b1-101", "done", 0).ok());
  CHECK(w.mark(bob, id, "b1-101", "done", nullptr).ok());  // null is absent
}

TEST_CASE("mark: rounds and households the actor cannot see are not_found; other roles are forbidden") {
  World w;
  w.registry();
  auto id = w.open();
  Outcome r = w.mark(bob, op_id(99), "b1-101", "done");
  CHECK(code_of(r) == "not_found");
  CHECK(message_of(r) == "no round " + op_id(99));
  r = w.mark(dave, id, "b1-101", "done");  // the round is in another street
  CHECK(code_of(r) == "not_found");
  CHECK(message_of(r) == "no round " + id);
  r = w.mark(bob, id, "b9-999", "done");
  CHECK(code_of(r) == "not_found");
  CHECK(message_of(r) == "no household b9-999");
  r = w.mark(bob, id, "b3-502", "done");  // bob lives in b1: b3's doors are not his
  CHECK(code_of(r) == "not_found");
  CHECK(message_of(r) == "no household b3-502");
  r = w.mark(hana, id, "b1-101", "done");
  CHECK(code_of(r) == "forbidden");
  CHECK(message_of(r) == "only volunteers and leads mark households");
  // A household outside the round's area.
  auto b3 = w.open(yan, kB3);
  r = w.mark(yan, b3, "b1-101", "done");
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "household b1-101 (" + kB1 + ") is not in the round's area " + kB3);
  CHECK(w.state.headcount.marks.empty());
}

TEST_CASE("two volunteers mark one household: the later mark wins, both are in the history") {
  World w;
  w.registry();
  auto id = w.open();
  w.now += kMinute;
  w.must_mark(bob, id, "b1-201", "absent", 0);
  w.now += kMinute;
  w.must_mark(carol, id, "b1-201", "done", 4);
  const Mark& m = w.state.headcount.marks.at(mark_key(id, "b1-201"));
  CHECK(m.latest.status == MarkStatus::done);
  CHECK(m.latest.by == "carol");
  CHECK(m.latest.people == 4);
  REQUIRE(m.history.size() == 2);
  CHECK(m.history[0].by == "bob");
  CHECK(m.history[0].status == MarkStatus::absent);
  CHECK(m.history[0].at == "2026-11-23T08:01:00Z");
  CHECK(m.history[1].by == "carol");
  CHECK(m.history[1].at == "2026-11-23T08:02:00Z");
  CHECK(m.history[0].op != m.history[1].op);
  // Counted once; people from the latest mark.
  CHECK(w.round(id).tallies.at(kB1).counted == 1);
  CHECK(w.round(id).tallies.at(kB1).people == 4);
  w.must_mark(bob, id, "b1-201", "done", 3);
  CHECK(w.round(id).tallies.at(kB1).counted == 1);
  CHECK(w.round(id).tallies.at(kB1).people == 3);
  CHECK(w.state.headcount.marks.at(mark_key(id, "b1-201")).history.size() == 3);
}

TEST_CASE("folding the same mark event twice changes nothing more") {
  World w;
  w.registry();
  auto id = w.open();
  w.must_mark(bob, id, "b1-101", "done", 3);
  const Event e = w.log.back();
  CHECK(fold(w.state, e) == ObjectRef{"mark", mark_key(id, "b1-101")});
  CHECK(w.state.headcount.marks.at(mark_key(id, "b1-101")).history.size() == 1);
  CHECK(w.round(id).tallies.at(kB1).counted == 1);
  CHECK(w.round(id).tallies.at(kB1).people == 3);
}

TEST_CASE("marks that arrive before their round count once it arrives") {
  World w;
  w.registry();
  auto id = w.open();
  w.must_mark(bob, id, "b1-101", "done", 3);
  w.must_mark(erin, id, "b3-501", "done", 2);
  // A replica that reads the buildings' scopes before the round's.
  State replica;
  for (const Event& e : w.log) {
    if (e.kind != "headcount.opened") fold(replica, e);
  }
  CHECK(replica.headcount.marks.size() == 2);
  for (const Event& e : w.log) {
    if (e.kind == "headcount.opened") fold(replica, e);
  }
  const Round& r = replica.headcount.rounds.at(id);
  CHECK(r.tallies.at(kB1).counted == 1);
  CHECK(r.tallies.at(kB3).people == 2);
  CHECK(round_status(replica.headcount, r, false) == w.status(id));
}

TEST_CASE("fold ignores what it cannot read") {
  HeadcountBooks books;
  Event e;
  e.kind = "headcount.marked";
  e.body = Json{{"round", "R"}, {"household", "h"}, {"area", kB1}, {"status", "lost"}};
  CHECK(fold_headcount_event(books, e) == std::pair<std::string, std::string>{});
  e.kind = "headcount.closed";
  e.body = Json{{"round", "nope"}};
  CHECK(fold_headcount_event(books, e) == std::pair<std::string, std::string>{});
  e.kind = "household.registered";
  e.body = Json{{"id", ""}};
  CHECK(fold_headcount_event(books, e) == std::pair<std::string, std::string>{});
  e.kind = "headcount.unknown";
  CHECK(fold_headcount_event(books, e) == std::pair<std::string, std::string>{});
  CHECK(books.marks.empty());
  CHECK(books.households.empty());
}

TEST_CASE("household.updated changes the row and keeps when it was first registered") {
  World w;
  w.registry();
  const std::string first = w.state.headcount.households.at("b1-101").registered_at;
  w.now += kMinute;
  Household h{"b1-101", kB2, "2栋105", 4, ""};
  Event e = w.number(Draft{area_scope(kB2), "household.updated", to_json(h)}, "01JDTICKX", "musterd");
  CHECK(fold(w.state, e) == ObjectRef{"household", "b1-101"});
  const Household& now = w.state.headcount.households.at("b1-101");
  CHECK(now.area == kB2);
  CHECK(now.address == "2栋105");
  CHECK(now.members == 4);
  CHECK(now.registered_at == first);
}

// ======================================================================= tallies

TEST_CASE("tallies after many random marks equal a full recount (seeded)") {
  std::uint64_t seed = 7;
  if (const char* env = std::getenv("MUSTER_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  for (int run = 0; run < 5; ++run) {
    const std::uint64_t s = seed + static_cast<std::uint64_t>(run);
    CAPTURE(s);
    std::mt19937_64 rng(s);
    World w;
    std::vector<std::string> ids;
    const std::vector<std::string> buildings{kB1, kB2, kB3};
    for (int i = 0; i < 60; ++i) {
      const std::string b = buildings[static_cast<std::size_t>(i) % 3];
      const std::string id = "h" + std::to_string(i);
      w.household(id, b, "门 " + std::to_string(i), i % 6);
      ids.push_back(id);
    }
    const std::vector<std::string> rounds{w.open(), w.open(yan, kB2)};
    const std::vector<const Actor*> who{&yan, &li, &zhou};
    const std::vector<std::string> statuses{"done", "absent", "exempt", "moved"};
    for (int step = 0; step < 2000; ++step) {
      const auto& round = rounds[rng() % rounds.size()];
      const auto& h = ids[rng() % ids.size()];
      const int people = static_cast<int>(rng() % 51);
      Outcome r = w.mark(*who[rng() % who.size()], round, h, statuses[rng() % 4], people);
      // Marks of households outside round 2's building are refused; the rest go in.
      if (!r) CHECK(code_of(r) == "invalid");
      if (step % 400 == 0) {
        // A household that moves building keeps its marks where they were made.
        Household moved{ids[rng() % ids.size()], buildings[rng() % 3], "moved", 1, ""};
        fold(w.state, w.number(Draft{area_scope(moved.area), "household.updated", to_json(moved)}, "01JDTICKM", "musterd"));
      }
    }
    HeadcountBooks recount = w.state.headcount;
    rebuild_tallies(recount);
    for (const auto& id : rounds) {
      const Round& incremental = w.round(id);
      const Round& full = recount.rounds.at(id);
      std::map<std::string, std::pair<int, int>> a, b;
      for (const auto& [area, t] : incremental.tallies) {
        if (t.counted || t.people) a[area] = {t.counted, t.people};
      }
      for (const auto& [area, t] : full.tallies) b[area] = {t.counted, t.people};
      CHECK(a == b);
      CHECK(round_status(w.state.headcount, incremental, true) == round_status(recount, full, true));
    }
    // And a replica rebuilt from its stored objects (no tallies kept) agrees too.
    HeadcountBooks stored;
    for (const auto& [id, h] : w.state.headcount.households) stored.households[id] = *household_from_json(to_json(h));
    for (const auto& [id, r] : w.state.headcount.rounds) stored.rounds[id] = *round_from_json(to_json(r));
    for (const auto& [key, m] : w.state.headcount.marks) stored.marks[key] = *mark_from_json(to_json(m));
    rebuild_tallies(stored);
    for (const auto& id : rounds) {
      CHECK(round_status(stored, stored.rounds.at(id), true) == round_status(w.state.headcount, w.round(id), true));
    }
  }
}

// ======================================================================= status

TEST_CASE("status by building, exact, with the missing households") {
  World w;
  w.registry();
  auto id = w.open();
  w.must_mark(bob, id, "b1-101", "done", 3);
  w.must_mark(bob, id, "b1-102", "done", 2);
  w.must_mark(carol, id, "b1-201", "absent", 0);
  w.must_mark(erin, id, "b3-501", "done", 3);
  w.must_mark(erin, id, "b3-502", "exempt", 1);
  const Json s = w.status(id, true);
  CHECK(s == Json{{"round", id},
                  {"area", kYili},
                  {"title", "全员核酸 第1轮"},
                  {"closed", false},
                  {"expected", 9},
                  {"counted", 5},
                  {"missing", 4},
                  {"people", 9},
                  {"by_building", {building(kB1, 3, 3, 5), building(kB2, 2, 0, 0), building(kB3, 4, 2, 4)}},
                  {"missing_households",
                   {Json{{"household", "b2-101"}, {"area", kB2}, {"address", "2栋101"}},
                    Json{{"household", "b2-102"}, {"area", kB2}, {"address", "2栋102"}},
                    Json{{"household", "b3-601"}, {"area", kB3}, {"address", "3栋601"}},
                    Json{{"household", "b3-602"}, {"area", kB3}, {"address", "3栋602"}}}}});
  // A volunteer's replica holds its own building's marks: the status says so.
  const Json mine = w.status(id, true, &erin);
  CHECK(mine["partial"] == true);
  CHECK(mine["by_building"] == Json::array({building(kB3, 4, 2, 4)}));
  CHECK(mine["expected"] == 4);
  CHECK(mine["missing"] == 2);
  CHECK(mine["missing_households"].size() == 2);
  // A lead of the area sees it all.
  CHECK(w.status(id, true, &yan) == s);
  CHECK(w.status(id, true, &li) == s);
}

// ======================================================================= close

TEST_CASE("close: exactly one doorknock task per household still missing, in its building") {
  World w;
  w.registry();
  auto id = w.open();
  w.must_mark(bob, id, "b1-101", "done", 3);
  w.must_mark(bob, id, "b1-102", "absent");
  w.must_mark(carol, id, "b1-201", "done", 4);
  w.must_mark(erin, id, "b3-501", "moved");
  w.now += 30 * kMinute;
  const std::size_t before = w.log.size();
  Outcome r = w.run(yan, "headcount.close", Json{{"round", id}});
  REQUIRE_MESSAGE(r.ok(), message_of(r));
  const std::string close_id = op_id(w.ops);
  REQUIRE(r->size() == 6);
  CHECK(r->at(0).scope == "area:" + kYili);
  CHECK(r->at(0).kind == "headcount.closed");
  CHECK(r->at(0).body == Json{{"round", id}, {"missing", 5}});
  const std::vector<std::string> missing{"b2-101", "b2-102", "b3-502", "b3-601", "b3-602"};
  for (std::size_t i = 0; i < missing.size(); ++i) {
    const Draft& d = r->at(i + 1);
    CAPTURE(missing[i]);
    CHECK(d.kind == "task.created");
    const Household& h = w.state.headcount.households.at(missing[i]);
    CHECK(d.scope == area_scope(h.area));
    CHECK(d.body["id"] == close_id + "-" + missing[i]);
    CHECK(d.body["kind"] == "doorknock");
    CHECK(d.body["title"] == "上门核查 " + h.address);
    CHECK(d.body["area"] == h.area);
    CHECK(d.body["state"] == "open");
    CHECK(d.body["dispatch"] == "claim");
    CHECK(d.body["creator"] == "yan");
    CHECK(d.body["created_at"] == "2026-11-23T08:30:00Z");
    CHECK(d.body["details"] == Json{{"household", missing[i]}, {"address", h.address}, {"round", id}});
  }
  CHECK(w.log.size() == before + 6);
  // The tasks are real tasks: in the State, claimable by a volunteer of the building,
  // and their ids fit the task ops' 64-byte limit.
  CHECK(w.state.tasks.size() == 5);
  const std::string task = close_id + "-b3-502";
  REQUIRE(w.state.tasks.count(muster::domain::TaskId(task)));
  CHECK(w.state.tasks.at(muster::domain::TaskId(task)).state == TaskState::open);
  Outcome claim = w.run(erin, "task.claim", Json{{"task", task}});
  CHECK_MESSAGE(claim.ok(), message_of(claim));
  CHECK(w.state.tasks.at(muster::domain::TaskId(task)).assignee == "erin");
  std::string longest = close_id + "-" + std::string(32, 'x');
  CHECK(longest.size() <= 64);

  const Round& round = w.round(id);
  CHECK(round.closed);
  CHECK(round.closed_by == "yan");
  CHECK(round.closed_at == "2026-11-23T08:30:00Z");
  CHECK(w.status(id)["closed"] == true);

  // Closed: no more marks, no second close.
  Outcome late = w.mark(bob, id, "b2-101", "done");
  CHECK(code_of(late) == "not_found");  // bob cannot see b2 anyway
  late = w.mark(yan, id, "b2-101", "done");
  CHECK(code_of(late) == "conflict");
  CHECK(message_of(late) == "round " + id + " was closed at 2026-11-23T08:30:00Z by yan");
  Outcome again = w.run(yan, "headcount.close", Json{{"round", id}});
  CHECK(code_of(again) == "conflict");
  CHECK(w.state.tasks.size() == 5);
}

TEST_CASE("close with every household counted makes no task; the policy decides the tasks' dispatch") {
  World w;
  w.registry();
  auto all = w.open(yan, kB2);
  w.must_mark(yan, all, "b2-101", "done", 1);
  w.must_mark(yan, all, "b2-102", "done", 2);
  Outcome r = w.run(yan, "headcount.close", Json{{"round", all}});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().body == Json{{"round", all}, {"missing", 0}});

  Policy policy = Policy::defaults();
  policy.tasks["doorknock"].dispatch = Dispatch::offer;
  w.policy = &policy;
  auto next = w.open(yan, kB2);
  r = w.run(yan, "headcount.close", Json{{"round", next}});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  CHECK(r->at(1).body["dispatch"] == "offer");
  CHECK(r->at(2).body["dispatch"] == "offer");
}

TEST_CASE("close: managers of the round's area only; unknown rounds are not_found") {
  World w;
  w.registry();
  auto id = w.open();
  Outcome r = w.run(bob, "headcount.close", Json{{"round", id}});
  CHECK(code_of(r) == "forbidden");
  CHECK(message_of(r) == "bob may not close head-counts in " + kYili);
  r = w.run(wang, "headcount.close", Json{{"round", id}});
  CHECK(code_of(r) == "not_found");
  r = w.run(yan, "headcount.close", Json{{"round", op_id(99)}});
  CHECK(code_of(r) == "not_found");
  r = w.run(yan, "headcount.close", Json::object());
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "missing field 'round'");
  CHECK_FALSE(w.round(id).closed);
}
