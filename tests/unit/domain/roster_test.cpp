// The checkpoint roster (SPEC §3 Roster): shifts at a post, sign-up up to the seats,
// withdraw, swaps, check-in and check-out, and coverage gaps.
//
// Each test drives the reducer the way the server does: apply_shift_op decides an op
// against the current book at a given time, and the drafts it returns are numbered
// and folded back. Expected values are written out by hand.
#include "muster/domain/roster.hpp"

#include <doctest/doctest.h>

#include "event_numbering.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/domain/policy.hpp"

using namespace muster::domain;
using muster::Errc;
using muster::format_utc;
using muster::UnixMs;

namespace {

constexpr UnixMs kNow = 1795420800000;  // 2026-11-23T08:00:00Z, a Monday
constexpr UnixMs kSecond = 1000;
constexpr UnixMs kMinute = 60 * kSecond;

const Actor li{"li", Roles{Role::lead}, "gulou/antai"};            // street lead
const Actor yan{"yan", Roles{Role::lead}, "gulou/antai/yili"};     // community lead, below li
const Actor wang{"wang", Roles{Role::lead}, "gulou/gaolou"};       // lead of the next street
const Actor zhou{"zhou", Roles{Role::coordinator}, "gulou"};       // district coordinator
const Actor root{"root", Roles{Role::admin}, "gulou"};
const Actor bob{"bob", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor carol{"carol", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor erin{"erin", Roles{Role::volunteer}, "gulou/antai/yili/b3"};  // volunteer of building b3
const Actor dave{"dave", Roles{Role::volunteer}, "gulou/gaolou"};  // volunteer of the next street
const Actor hana{"hana", Roles{Role::hotline}, "gulou/antai/yili"};

class FakeDirectory final : public Directory {
 public:
  FakeDirectory() {
    for (const Actor* a : {&li, &yan, &wang, &zhou, &root, &bob, &carol, &erin, &dave, &hana}) {
      users_.emplace(a->name, *a);
    }
  }
  std::optional<bool> area_exists(std::string_view path) const override { return areas_.count(std::string(path)) > 0; }
  std::optional<std::optional<Actor>> find_user(std::string_view name) const override {
    auto it = users_.find(std::string(name));
    if (it == users_.end()) return std::make_optional(std::optional<Actor>{});
    return std::make_optional(std::make_optional(it->second));
  }

 private:
  std::set<std::string> areas_{"gulou", "gulou/antai", "gulou/antai/yili", "gulou/antai/yili/b3", "gulou/gaolou"};
  std::map<std::string, Actor> users_;
};

using Outcome = muster::Result<std::vector<Draft>>;

std::string code_of(const Outcome& r) { return r ? "ok" : std::string(muster::to_string(r.error().code)); }
std::string message_of(const Outcome& r) { return r ? std::string() : r.error().message; }

UnixMs utc(const std::string& text) {
  auto t = muster::parse_utc(text);
  REQUIRE_MESSAGE(t.has_value(), text);
  return *t;
}

std::string op_id(int n) {
  std::string digits = std::to_string(n);
  return "01JDSHIFTOP" + std::string(15 - digits.size(), '0') + digits;  // 26 characters, like a ULID
}

// A server in miniature: decides ops at `now` and folds the accepted drafts as
// numbered events.
struct World {
  FakeDirectory server_directory;
  const Directory* directory = &server_directory;
  const Policy* policy = nullptr;
  ShiftBook shifts;
  std::vector<Event> log;
  muster_test::EventNumbering numbering;
  int ops = 0;
  UnixMs now = kNow;

  Outcome run(const Actor& who, const std::string& kind, Json body) {
    return run_op(who, Op{OpId(op_id(++ops)), kind, std::move(body)});
  }

  Outcome run_op(const Actor& who, const Op& op) {
    Context ctx{who, now, *directory, policy};
    Outcome r = apply_shift_op(shifts, op, ctx);
    if (r) {
      for (const Draft& d : *r) {
        Event e = numbering.number(d, op.id, who.name, now);
        fold_shift_event(shifts, e);
        log.push_back(e);
      }
    }
    return r;
  }

  Outcome act(const Actor& who, const std::string& kind, const std::string& id, Json extra = Json::object()) {
    extra["shift"] = id;
    return run(who, kind, std::move(extra));
  }

  std::string add(const std::string& post, const std::string& area, const std::string& start, const std::string& end,
                  int seats, const Actor& who = li) {
    Outcome r =
        run(who, "shift.add", Json{{"post", post}, {"area", area}, {"start", start}, {"end", end}, {"seats", seats}});
    REQUIRE_MESSAGE(r.ok(), message_of(r));
    return log.back().body["id"].get<std::string>();
  }
  // North gate, Tuesday 08:00-16:00, two seats.
  std::string day_shift(int seats = 2) {
    return add("north gate", "gulou/antai/yili", "2026-11-24T08:00:00Z", "2026-11-24T16:00:00Z", seats);
  }

  void sign_up(const Actor& who, const std::string& id) {
    Outcome r = act(who, "shift.signup", id);
    REQUIRE_MESSAGE(r.ok(), (who.name + ": " + message_of(r)));
  }
  void must(const Actor& who, const std::string& kind, const std::string& id, Json extra = Json::object()) {
    Outcome r = act(who, kind, id, std::move(extra));
    REQUIRE_MESSAGE(r.ok(), (who.name + " " + kind + ": " + message_of(r)));
  }
  // Asks for a swap and returns its id.
  std::string swap(const Actor& from, const std::string& id, const std::string& to) {
    must(from, "shift.swap", id, Json{{"to", to}});
    return log.back().body["swap"].get<std::string>();
  }

  const Shift& shift(const std::string& id) const {
    auto it = shifts.find(id);
    REQUIRE(it != shifts.end());
    return it->second;
  }
  std::vector<std::string> holders(const std::string& id) const {
    std::vector<std::string> out;
    for (const Signup& su : shift(id).signups) out.push_back(su.user);
    return out;
  }
};

Event event(std::string kind, std::string actor, Json body) {
  Event e;
  e.scope = "area:gulou/antai/yili";
  e.seq = 99;
  e.gseq = 99;
  e.kind = std::move(kind);
  e.actor = std::move(actor);
  e.at = "2026-11-24T09:00:00Z";
  e.body = std::move(body);
  return e;
}

Json good_add() {
  return Json{{"post", "north gate"},
              {"area", "gulou/antai/yili"},
              {"start", "2026-11-24T08:00:00Z"},
              {"end", "2026-11-24T16:00:00Z"},
              {"seats", 2}};
}

// A gap as text, to compare whole lists at once.
using GapRow = std::tuple<std::string, std::string, std::string, int>;  // post, from, to, missing
std::vector<GapRow> rows(const std::vector<Gap>& gaps) {
  std::vector<GapRow> out;
  for (const Gap& g : gaps) out.emplace_back(g.post, format_utc(g.from), format_utc(g.to), g.missing);
  return out;
}

}  // namespace

// ======================================================================= names

TEST_CASE("the shift op kinds") {
  for (const char* k : {"shift.add", "shift.signup", "shift.withdraw", "shift.swap", "shift.swap_accept",
                        "shift.swap_decline", "shift.checkin", "shift.checkout"}) {
    CAPTURE(k);
    CHECK(is_shift_op(k));
  }
  CHECK_FALSE(is_shift_op("shift.added"));     // an event kind
  CHECK_FALSE(is_shift_op("shift.reminder"));  // the server's own event, never an op
  CHECK_FALSE(is_shift_op("shift.gap"));
  CHECK_FALSE(is_shift_op("task.claim"));
  CHECK_FALSE(is_shift_op(""));
}

TEST_CASE("op kinds outside the roster are invalid, including the server's own events") {
  World w;
  auto id = w.day_shift();
  for (const char* k :
       {"shift.explode", "shift.added", "shift.reminder", "shift.gap", "shift.gap_offer", "task.claim"}) {
    CAPTURE(k);
    Outcome r = w.act(bob, k, id, Json{{"user", "bob"}});
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == std::string("unknown op kind '") + k + "'");
  }
  CHECK(w.log.size() == 1);
}

TEST_CASE("free_seats and signup_of") {
  Shift s;
  s.seats = 2;
  CHECK(s.free_seats() == 2);
  CHECK(s.signup_of("bob") == nullptr);
  s.signups.push_back(Signup{"bob", "2026-11-23T08:00:00Z", "", false, ""});
  CHECK(s.free_seats() == 1);
  REQUIRE(s.signup_of("bob") != nullptr);
  CHECK(s.signup_of("bob")->at == "2026-11-23T08:00:00Z");
  CHECK(s.signup_of("carol") == nullptr);
  s.signups.push_back(Signup{"carol", "", "", false, ""});
  s.signups.push_back(Signup{"erin", "", "", false, ""});  // over-full: never below 0
  CHECK(s.free_seats() == 0);
}

// ======================================================================= add

TEST_CASE("a lead adds a shift crossing midnight: one shift.added with the whole shift, in the area's scope") {
  World w;
  const Op op{OpId(op_id(1)), "shift.add",
              Json{{"post", "north gate"},
                   {"area", "gulou/antai/yili"},
                   {"start", "2026-11-23T22:00:00Z"},
                   {"end", "2026-11-24T06:00:00Z"},
                   {"seats", 2}}};
  Context ctx{li, kNow, w.server_directory};
  Outcome r = apply_shift_op(w.shifts, op, ctx);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  const Draft& d = r->front();
  CHECK(d.scope == "area:gulou/antai/yili");
  CHECK(d.kind == "shift.added");
  CHECK(d.body == Json{{"id", op.id},
                       {"post", "north gate"},
                       {"area", "gulou/antai/yili"},
                       {"start", "2026-11-23T22:00:00Z"},
                       {"end", "2026-11-24T06:00:00Z"},
                       {"seats", 2},
                       {"created_by", "li"},
                       {"created_at", "2026-11-23T08:00:00Z"},
                       {"signups", Json::array()},
                       {"swaps", Json::array()},
                       {"reminded", Json::array()},
                       {"gap_escalated", false}});
  CHECK(w.shifts.empty());  // deciding changes nothing; folding does

  REQUIRE(w.run_op(li, op).ok());
  const Shift& s = w.shift(op.id.str());
  CHECK(s.id == op.id.str());
  CHECK(s.post == "north gate");
  CHECK(s.area == "gulou/antai/yili");
  CHECK(s.start == 1795471200000);  // 2026-11-23T22:00:00Z
  CHECK(s.end == 1795500000000);    // 2026-11-24T06:00:00Z
  CHECK(s.seats == 2);
  CHECK(s.created_by == "li");
  CHECK(s.created_at == "2026-11-23T08:00:00Z");
  CHECK(s.signups.empty());
  CHECK(s.swaps.empty());
  CHECK(s.reminded.empty());
  CHECK_FALSE(s.gap_escalated);
  CHECK(s.free_seats() == 2);
}

TEST_CASE("add normalises times to UTC whole seconds, as JSON carries them") {
  World w;
  Json body = good_add();
  body["start"] = "2026-11-24T16:00:00.750+08:00";
  body["end"] = "2026-11-24 16:00";
  REQUIRE(w.run(li, "shift.add", body).ok());
  CHECK(w.log.back().body["start"] == "2026-11-24T08:00:00Z");
  CHECK(w.log.back().body["end"] == "2026-11-24T16:00:00Z");
  const Shift& s = w.shift(w.log.back().op.str());
  CHECK(s.start == 1795507200000);  // 2026-11-24T08:00:00Z, the .750 dropped
  CHECK(s.end == 1795536000000);
  CHECK(shift_from_json(to_json(s))->start == s.start);
}

TEST_CASE("add accepts fields at their limits") {
  World w;
  Json body = good_add();
  body["post"] = std::string(100, 'p');
  body["seats"] = 1000;
  body["start"] = "2026-11-24T00:00:00Z";
  body["end"] = "2026-12-01T00:00:00Z";  // exactly 7 days
  CHECK(code_of(w.run(li, "shift.add", body)) == "ok");
  body["seats"] = 1;
  body["post"] = "门";
  body["end"] = "2026-11-24T00:00:01Z";  // one second
  CHECK(code_of(w.run(li, "shift.add", body)) == "ok");
  CHECK(w.shifts.size() == 2);
}

TEST_CASE("add rejects malformed bodies as invalid, naming the problem, and changes nothing") {
  World w;
  struct Case {
    const char* key;
    Json value;  // null: the key is removed
    std::string message;
  };
  const std::vector<Case> cases{
      {"post", nullptr, "missing field 'post'"},
      {"post", 5, "field 'post' must be a string"},
      {"post", "", "post must not be empty"},
      {"post", std::string(101, 'p'), "field 'post' is longer than 100 bytes"},
      {"area", nullptr, "missing field 'area'"},
      {"area", "gulou//yili", "invalid area path 'gulou//yili'"},
      {"area", Json::array({"gulou"}), "field 'area' must be a string"},
      {"start", nullptr, "missing field 'start'"},
      {"start", "tomorrow", "start is not a valid time: 'tomorrow'"},
      {"start", 1795507200000, "field 'start' must be a string"},
      {"end", nullptr, "missing field 'end'"},
      {"end", "2026-11-31T08:00:00Z", "end is not a valid time: '2026-11-31T08:00:00Z'"},
      {"end", "2026-11-24T08:00:00Z", "end must be after start"},
      {"end", "2026-11-24T07:59:59Z", "end must be after start"},
      {"end", "2026-11-24T08:00:00.500Z", "end must be after start"},  // the same whole second
      {"end", "2026-12-01T08:00:01Z", "a shift may be at most 7 days long"},
      {"seats", nullptr, "missing field 'seats'"},
      {"seats", 0, "seats must be between 1 and 1000"},
      {"seats", -1, "seats must be between 1 and 1000"},
      {"seats", 1001, "seats must be between 1 and 1000"},
      {"seats", Json(18446744073709551615ULL), "seats must be between 1 and 1000"},
      {"seats", 2.5, "field 'seats' must be a whole number"},
      {"seats", 2.0, "field 'seats' must be a whole number"},
      {"seats", "2", "field 'seats' must be a whole number"},
      {"seats", true, "field 'seats' must be a whole number"},
  };
  for (const Case& c : cases) {
    Json body = good_add();
    if (c.value.is_null()) {
      body.erase(c.key);
    } else {
      body[c.key] = c.value;
    }
    CAPTURE(body.dump());
    Outcome r = w.run(li, "shift.add", body);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == c.message);
  }
  CHECK(code_of(w.run(li, "shift.add", Json::array())) == "invalid");
  CHECK(message_of(w.run(li, "shift.add", Json("x"))) == "op body must be an object");
  CHECK(w.shifts.empty());
  CHECK(w.log.empty());
}

TEST_CASE("unknown fields are ignored; a null field counts as absent") {
  World w;
  Json body = good_add();
  body["colour"] = "red";
  CHECK(code_of(w.run(li, "shift.add", body)) == "ok");
  body["seats"] = nullptr;
  CHECK(message_of(w.run(li, "shift.add", body)) == "missing field 'seats'");
}

TEST_CASE("managers add shifts in their home area and below, never above or beside") {
  World w;
  auto in = [](const std::string& area) {
    Json b = good_add();
    b["area"] = area;
    return b;
  };
  CHECK(code_of(w.run(li, "shift.add", in("gulou/antai"))) == "ok");
  CHECK(code_of(w.run(li, "shift.add", in("gulou/antai/yili/b3"))) == "ok");
  CHECK(code_of(w.run(yan, "shift.add", in("gulou/antai/yili"))) == "ok");
  CHECK(code_of(w.run(zhou, "shift.add", in("gulou/gaolou"))) == "ok");
  CHECK(code_of(w.run(root, "shift.add", in("gulou/antai"))) == "ok");

  Outcome up = w.run(yan, "shift.add", in("gulou/antai"));
  CHECK(code_of(up) == "forbidden");
  CHECK(message_of(up) == "yan may not add shifts in gulou/antai");
  CHECK(code_of(w.run(wang, "shift.add", in("gulou/antai/yili"))) == "forbidden");
  Outcome vol = w.run(bob, "shift.add", in("gulou/antai/yili"));
  CHECK(code_of(vol) == "forbidden");
  CHECK(message_of(vol) == "bob may not add shifts in gulou/antai/yili");
  CHECK(code_of(w.run(hana, "shift.add", in("gulou/antai/yili"))) == "forbidden");
  CHECK(w.shifts.size() == 5);
}

TEST_CASE("the server's directory rejects unknown areas; the client's view skips that check") {
  World w;
  Json body = good_add();
  body["area"] = "gulou/antai/nowhere";
  Outcome r = w.run(li, "shift.add", body);
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "unknown area 'gulou/antai/nowhere'");
  CHECK(code_of(w.run(wang, "shift.add", body)) == "forbidden");  // permission first: no probing

  UnknownDirectory client_view;
  w.directory = &client_view;
  CHECK(code_of(w.run(li, "shift.add", body)) == "ok");
  CHECK(code_of(w.run(bob, "shift.add", good_add())) == "forbidden");  // roles still apply
}

TEST_CASE("an add op replayed after its shift exists is a conflict, not a second shift") {
  World w;
  const Op op{OpId(op_id(7)), "shift.add", good_add()};
  REQUIRE(w.run_op(li, op).ok());
  Outcome again = w.run_op(li, op);
  CHECK(code_of(again) == "conflict");
  CHECK(message_of(again) == "shift " + op.id.str() + " already exists");
  CHECK(w.shifts.size() == 1);
}

// ======================================================================= sign-up

TEST_CASE("a volunteer signs up: shift.signed_up in the area's scope, a seat in arrival order") {
  World w;
  auto id = w.day_shift();
  w.now = utc("2026-11-23T09:30:00Z");
  Outcome r = w.act(bob, "shift.signup", id);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().scope == "area:gulou/antai/yili");
  CHECK(r->front().kind == "shift.signed_up");
  CHECK(r->front().body == Json{{"shift", id}});
  w.now = utc("2026-11-23T10:00:00Z");
  w.sign_up(yan, id);  // leads may take a seat too

  CHECK(w.holders(id) == std::vector<std::string>{"bob", "yan"});
  const Signup* b = w.shift(id).signup_of("bob");
  REQUIRE(b != nullptr);
  CHECK(b->at == "2026-11-23T09:30:00Z");
  CHECK(b->checkin_at.empty());
  CHECK_FALSE(b->late);
  CHECK(b->checkout_at.empty());
  CHECK(w.shift(id).signup_of("yan")->at == "2026-11-23T10:00:00Z");
  CHECK(w.shift(id).free_seats() == 0);
}

TEST_CASE("volunteers below a street see and sign up for the street's shifts") {
  World w;
  auto street = w.add("clinic queue", "gulou/antai", "2026-11-24T09:00:00Z", "2026-11-24T12:00:00Z", 3);
  CHECK(code_of(w.act(bob, "shift.signup", street)) == "ok");  // bob lives below the street
  CHECK(code_of(w.act(erin, "shift.signup", street)) == "ok");
}

TEST_CASE("only volunteers and leads sign up") {
  World w;
  auto id = w.day_shift();
  for (const Actor* a : {&hana, &zhou, &root}) {
    CAPTURE(a->name);
    Outcome r = w.act(*a, "shift.signup", id);
    CHECK(code_of(r) == "forbidden");
    CHECK(message_of(r) == "only volunteers and leads sign up for shifts");
  }
  CHECK(w.shift(id).signups.empty());
}

TEST_CASE("a shift that does not exist or lies outside the actor's areas is not_found") {
  World w;
  auto id = w.day_shift();
  auto b3 = w.add("b3 door", "gulou/antai/yili/b3", "2026-11-24T08:00:00Z", "2026-11-24T16:00:00Z", 1);
  Outcome none = w.act(bob, "shift.signup", "01JDNOSUCHSHIFT");
  CHECK(code_of(none) == "not_found");
  CHECK(message_of(none) == "no shift 01JDNOSUCHSHIFT");
  Outcome beside = w.act(dave, "shift.signup", id);
  CHECK(code_of(beside) == "not_found");
  CHECK(message_of(beside) == "no shift " + id);
  CHECK(code_of(w.act(bob, "shift.signup", b3)) == "not_found");  // a volunteer does not see below home
  for (const char* k : {"shift.withdraw", "shift.swap", "shift.swap_accept", "shift.swap_decline", "shift.checkin",
                        "shift.checkout"}) {
    CAPTURE(k);
    CHECK(code_of(w.act(dave, k, id, Json{{"to", "bob"}, {"swap", "x"}})) == "not_found");
    CHECK(code_of(w.act(bob, k, "nope", Json{{"to", "carol"}, {"swap", "x"}})) == "not_found");
  }
}

TEST_CASE("transition ops need a shift id, and swaps their other fields, as strings") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  struct Case {
    const char* kind;
    Json body;
    std::string message;
  };
  const std::vector<Case> cases{
      {"shift.signup", Json::object(), "missing field 'shift'"},
      {"shift.signup", Json{{"shift", 5}}, "field 'shift' must be a string"},
      {"shift.withdraw", Json{{"shift", std::string(65, 'x')}}, "field 'shift' is longer than 64 bytes"},
      {"shift.checkin", Json{{"shift", nullptr}}, "missing field 'shift'"},
      {"shift.swap", Json{{"shift", id}}, "missing field 'to'"},
      {"shift.swap", Json{{"shift", id}, {"to", 7}}, "field 'to' must be a string"},
      {"shift.swap", Json{{"shift", id}, {"to", "Carol!"}}, "invalid user name 'Carol!'"},
      {"shift.swap_accept", Json{{"shift", id}}, "missing field 'swap'"},
      {"shift.swap_decline", Json{{"shift", id}, {"swap", false}}, "field 'swap' must be a string"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.kind);
    CAPTURE(c.body.dump());
    Outcome r = w.run(bob, c.kind, c.body);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == c.message);
  }
  CHECK(message_of(w.run(bob, "shift.signup", Json::array({id}))) == "op body must be an object");
  CHECK(w.log.size() == 2);
}

TEST_CASE("sign-up is open until the shift ends, even after it started") {
  World w;
  auto id = w.day_shift();
  w.now = utc("2026-11-24T15:59:59Z");
  CHECK(code_of(w.act(bob, "shift.signup", id)) == "ok");
  w.now = utc("2026-11-24T16:00:00Z");
  Outcome late = w.act(carol, "shift.signup", id);
  CHECK(code_of(late) == "conflict");
  CHECK(message_of(late) == "shift ended at 2026-11-24T16:00:00Z");
  CHECK(w.holders(id) == std::vector<std::string>{"bob"});
}

TEST_CASE("signing up twice is a conflict") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  Outcome r = w.act(bob, "shift.signup", id);
  CHECK(code_of(r) == "conflict");
  CHECK(message_of(r) == "bob is already signed up to this shift");
  CHECK(w.shift(id).signups.size() == 1);
}

TEST_CASE("a full shift is a conflict that names who holds the seats") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.sign_up(carol, id);
  Outcome r = w.act(erin, "shift.signup", id);
  CHECK(code_of(r) == "conflict");
  CHECK(message_of(r) == "shift full: 2/2 seats taken by bob, carol");
  CHECK(w.holders(id) == std::vector<std::string>{"bob", "carol"});
}

TEST_CASE("a sign-up overlapping another of the user's shifts is a conflict naming its post and time") {
  World w;
  auto day = w.day_shift();  // 08:00-16:00
  auto south = w.add("south gate", "gulou/antai/yili", "2026-11-24T12:00:00Z", "2026-11-24T20:00:00Z", 2);
  auto evening = w.add("north gate", "gulou/antai/yili", "2026-11-24T16:00:00Z", "2026-11-25T00:00:00Z", 2);
  auto night = w.add("north gate", "gulou/antai/yili", "2026-11-23T22:00:00Z", "2026-11-24T08:00:00Z", 2);
  const Actor b3_volunteer{"fang", Roles{Role::volunteer}, "gulou/antai/yili/b3"};
  w.sign_up(b3_volunteer, south);
  Outcome r = w.act(b3_volunteer, "shift.signup", day);
  CHECK(code_of(r) == "conflict");
  CHECK(message_of(r) ==
        "fang is already on south gate from 2026-11-24T12:00:00Z to 2026-11-24T20:00:00Z, which overlaps this shift");
  CHECK(code_of(w.act(b3_volunteer, "shift.signup", evening)) == "conflict");

  // Back-to-back shifts do not overlap: one ends when the next starts.
  w.sign_up(bob, day);
  CHECK(code_of(w.act(bob, "shift.signup", evening)) == "ok");
  CHECK(code_of(w.act(bob, "shift.signup", night)) == "ok");
  CHECK(code_of(w.act(bob, "shift.signup", south)) == "conflict");  // overlaps two; names the earlier
  CHECK(message_of(w.act(bob, "shift.signup", south)) ==
        "bob is already on north gate from 2026-11-24T08:00:00Z to 2026-11-24T16:00:00Z, which overlaps this shift");
}

TEST_CASE("a shift the user withdrew from or checked out of no longer blocks an overlapping sign-up") {
  World w;
  auto day = w.day_shift();
  auto south = w.add("south gate", "gulou/antai/yili", "2026-11-24T12:00:00Z", "2026-11-24T20:00:00Z", 2);
  w.sign_up(bob, day);
  w.sign_up(carol, day);
  w.must(bob, "shift.withdraw", day);
  CHECK(code_of(w.act(bob, "shift.signup", south)) == "ok");

  w.now = utc("2026-11-24T07:50:00Z");
  w.must(carol, "shift.checkin", day);
  CHECK(code_of(w.act(carol, "shift.signup", south)) == "conflict");  // checked in, still on it
  w.now = utc("2026-11-24T11:00:00Z");
  w.must(carol, "shift.checkout", day);
  CHECK(code_of(w.act(carol, "shift.signup", south)) == "ok");
}

TEST_CASE("two volunteers sign up offline for the last seat: the first to arrive wins, the second gets a conflict") {
  World server;
  auto id = server.day_shift();
  server.now = utc("2026-11-23T09:00:00Z");
  server.sign_up(bob, id);

  // Both phones folded the log so far, then went offline; each decides with what it knows.
  ShiftBook carol_phone;
  ShiftBook erin_phone;
  for (const Event& e : server.log) {
    fold_shift_event(carol_phone, e);
    fold_shift_event(erin_phone, e);
  }
  UnknownDirectory client_view;
  const Op carol_op{OpId(op_id(900)), "shift.signup", Json{{"shift", id}}};  // made first
  const Op erin_op{OpId(op_id(901)), "shift.signup", Json{{"shift", id}}};
  Outcome carol_local = apply_shift_op(carol_phone, carol_op, Context{carol, utc("2026-11-23T10:00:00Z"), client_view});
  Outcome erin_local = apply_shift_op(erin_phone, erin_op, Context{erin, utc("2026-11-23T10:05:00Z"), client_view});
  CHECK(code_of(carol_local) == "ok");  // optimistic: each phone sees one free seat
  CHECK(code_of(erin_local) == "ok");

  // The same full-shift rule runs on the phone: a phone that already knows the
  // seat is gone refuses locally, without the server.
  ShiftBook late_phone = carol_phone;
  Event taken = server.log.back();
  taken.actor = "erin";
  fold_shift_event(late_phone, taken);
  CHECK(code_of(apply_shift_op(late_phone, carol_op, Context{carol, utc("2026-11-23T10:00:00Z"), client_view})) ==
        "conflict");

  // Erin's phone reconnects first.
  server.now = utc("2026-11-23T11:00:00Z");
  CHECK(code_of(server.run_op(erin, erin_op)) == "ok");
  server.now = utc("2026-11-23T11:01:00Z");
  Outcome lost = server.run_op(carol, carol_op);
  CHECK(code_of(lost) == "conflict");
  CHECK(message_of(lost) == "shift full: 2/2 seats taken by bob, erin");
  CHECK(server.holders(id) == std::vector<std::string>{"bob", "erin"});

  // Carol's phone drops its optimistic change and rebuilds from the server's log.
  ShiftBook rebuilt;
  for (const Event& e : server.log) fold_shift_event(rebuilt, e);
  CHECK(to_json(rebuilt.at(id)) == to_json(server.shift(id)));
  CHECK(rebuilt.at(id).signup_of("carol") == nullptr);
}

// ======================================================================= withdraw

TEST_CASE("withdraw frees the seat; the user may sign up again") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.sign_up(carol, id);
  Outcome r = w.act(bob, "shift.withdraw", id);
  REQUIRE(r.ok());
  CHECK(r->front().kind == "shift.withdrawn");
  CHECK(r->front().scope == "area:gulou/antai/yili");
  CHECK(r->front().body == Json{{"shift", id}});
  CHECK(w.holders(id) == std::vector<std::string>{"carol"});
  CHECK(w.shift(id).free_seats() == 1);
  w.sign_up(erin, id);
  CHECK(code_of(w.act(bob, "shift.signup", id)) == "conflict");  // erin took it
}

TEST_CASE("withdraw needs a seat not checked in, before the shift ends") {
  World w;
  auto id = w.day_shift();
  Outcome none = w.act(bob, "shift.withdraw", id);
  CHECK(code_of(none) == "conflict");
  CHECK(message_of(none) == "bob is not signed up to shift " + id);

  w.sign_up(bob, id);
  w.sign_up(carol, id);
  w.now = utc("2026-11-24T07:55:00Z");
  w.must(bob, "shift.checkin", id);
  Outcome in = w.act(bob, "shift.withdraw", id);
  CHECK(code_of(in) == "conflict");
  CHECK(message_of(in) == "bob checked in at 2026-11-24T07:55:00Z");

  w.now = utc("2026-11-24T16:00:00Z");
  Outcome over = w.act(carol, "shift.withdraw", id);  // a no-show stays on record
  CHECK(code_of(over) == "conflict");
  CHECK(message_of(over) == "shift ended at 2026-11-24T16:00:00Z");
  CHECK(w.holders(id) == std::vector<std::string>{"bob", "carol"});
}

// ======================================================================= swaps

TEST_CASE("a swap request, accepted: the seat moves to `to` in the same place") {
  World w;
  auto id = w.day_shift();
  w.now = utc("2026-11-23T09:00:00Z");
  w.sign_up(bob, id);
  w.sign_up(erin, id);

  w.now = utc("2026-11-23T12:00:00Z");
  Outcome asked = w.act(bob, "shift.swap", id, Json{{"to", "carol"}});
  REQUIRE(asked.ok());
  REQUIRE(asked->size() == 1);
  const std::string swap = w.log.back().op.str();
  CHECK(asked->front().scope == "area:gulou/antai/yili");
  CHECK(asked->front().kind == "shift.swap_requested");
  CHECK(asked->front().body == Json{{"shift", id}, {"swap", swap}, {"from", "bob"}, {"to", "carol"}});
  REQUIRE(w.shift(id).swaps.size() == 1);
  CHECK(w.shift(id).swaps[0].id == swap);
  CHECK(w.shift(id).swaps[0].from == "bob");
  CHECK(w.shift(id).swaps[0].to == "carol");
  CHECK(w.shift(id).swaps[0].state == "pending");
  CHECK(w.holders(id) == std::vector<std::string>{"bob", "erin"});  // nothing moves yet

  w.now = utc("2026-11-23T13:00:00Z");
  Outcome accepted = w.act(carol, "shift.swap_accept", id, Json{{"swap", swap}});
  REQUIRE(accepted.ok());
  CHECK(accepted->front().scope == "area:gulou/antai/yili");
  CHECK(accepted->front().kind == "shift.swapped");
  CHECK(accepted->front().body == Json{{"shift", id}, {"swap", swap}, {"from", "bob"}, {"to", "carol"}});
  CHECK(w.holders(id) == std::vector<std::string>{"carol", "erin"});
  CHECK(w.shift(id).signup_of("carol")->at == "2026-11-23T13:00:00Z");
  CHECK(w.shift(id).swaps[0].state == "accepted");

  Outcome again = w.act(carol, "shift.swap_accept", id, Json{{"swap", swap}});
  CHECK(code_of(again) == "conflict");
  CHECK(message_of(again) == "swap is already accepted");
  CHECK(code_of(w.act(bob, "shift.withdraw", id)) == "conflict");  // bob has no seat now
  CHECK(code_of(w.act(carol, "shift.withdraw", id)) == "ok");
}

TEST_CASE("a swap request, declined: bob keeps the seat") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  auto swap = w.swap(bob, id, "carol");
  Outcome declined = w.act(carol, "shift.swap_decline", id, Json{{"swap", swap}});
  REQUIRE(declined.ok());
  CHECK(declined->front().kind == "shift.swap_declined");
  CHECK(declined->front().body == Json{{"shift", id}, {"swap", swap}, {"from", "bob"}, {"to", "carol"}});
  CHECK(w.shift(id).swaps[0].state == "declined");
  CHECK(w.holders(id) == std::vector<std::string>{"bob"});

  Outcome late = w.act(carol, "shift.swap_accept", id, Json{{"swap", swap}});
  CHECK(code_of(late) == "conflict");
  CHECK(message_of(late) == "swap is already declined");
  CHECK(message_of(w.act(carol, "shift.swap_decline", id, Json{{"swap", swap}})) == "swap is already declined");
  CHECK(code_of(w.act(bob, "shift.swap", id, Json{{"to", "carol"}})) == "ok");  // may ask again
}

TEST_CASE("accepting after `from` checked in, or withdrew, is a conflict; the seat stays") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.sign_up(erin, id);
  w.now = utc("2026-11-24T07:00:00Z");
  auto bobs = w.swap(bob, id, "carol");
  auto erins = w.swap(erin, id, "carol");

  w.now = utc("2026-11-24T07:50:00Z");
  w.must(bob, "shift.checkin", id);
  w.now = utc("2026-11-24T07:55:00Z");
  Outcome in = w.act(carol, "shift.swap_accept", id, Json{{"swap", bobs}});
  CHECK(code_of(in) == "conflict");
  CHECK(message_of(in) == "bob checked in at 2026-11-24T07:50:00Z");

  w.must(erin, "shift.withdraw", id);
  Outcome gone = w.act(carol, "shift.swap_accept", id, Json{{"swap", erins}});
  CHECK(code_of(gone) == "conflict");
  CHECK(message_of(gone) == "erin has withdrawn from this shift");
  CHECK(w.holders(id) == std::vector<std::string>{"bob"});
  CHECK(w.shift(id).swaps[0].state == "pending");
  // Declining a swap that can no longer happen is still allowed.
  CHECK(code_of(w.act(carol, "shift.swap_decline", id, Json{{"swap", erins}})) == "ok");
}

TEST_CASE("accepting is a conflict if `to` meanwhile took a seat or an overlapping shift, or the shift ended") {
  World w;
  auto id = w.day_shift(3);
  auto south = w.add("south gate", "gulou/antai/yili", "2026-11-24T12:00:00Z", "2026-11-24T20:00:00Z", 2);
  w.sign_up(bob, id);
  w.sign_up(erin, id);
  auto to_carol = w.swap(bob, id, "carol");
  auto to_yan = w.swap(erin, id, "yan");
  auto to_carol_too = w.swap(erin, id, "carol");

  w.sign_up(carol, south);
  Outcome overlap = w.act(carol, "shift.swap_accept", id, Json{{"swap", to_carol}});
  CHECK(code_of(overlap) == "conflict");
  CHECK(message_of(overlap) ==
        "carol is already on south gate from 2026-11-24T12:00:00Z to 2026-11-24T20:00:00Z, which overlaps this shift");
  w.must(carol, "shift.withdraw", south);
  w.must(carol, "shift.signup", id);
  Outcome seated = w.act(carol, "shift.swap_accept", id, Json{{"swap", to_carol_too}});
  CHECK(code_of(seated) == "conflict");
  CHECK(message_of(seated) == "carol is already signed up to this shift");

  w.now = utc("2026-11-24T16:00:00Z");
  Outcome over = w.act(yan, "shift.swap_accept", id, Json{{"swap", to_yan}});
  CHECK(code_of(over) == "conflict");
  CHECK(message_of(over) == "shift ended at 2026-11-24T16:00:00Z");
  CHECK(w.holders(id) == std::vector<std::string>{"bob", "erin", "carol"});
}

TEST_CASE("only `to` answers a swap; an unknown swap is not_found") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  auto swap = w.swap(bob, id, "carol");
  for (const Actor* a : {&bob, &yan, &li}) {
    CAPTURE(a->name);
    Outcome acc = w.act(*a, "shift.swap_accept", id, Json{{"swap", swap}});
    CHECK(code_of(acc) == "forbidden");
    CHECK(message_of(acc) == "only carol may accept this swap");
    CHECK(message_of(w.act(*a, "shift.swap_decline", id, Json{{"swap", swap}})) == "only carol may decline this swap");
  }
  Outcome none = w.act(carol, "shift.swap_accept", id, Json{{"swap", "01JDNOSUCHSWAP"}});
  CHECK(code_of(none) == "not_found");
  CHECK(message_of(none) == "no swap 01JDNOSUCHSWAP on shift " + id);
  CHECK(w.shift(id).swaps[0].state == "pending");
}

TEST_CASE("who may ask for a swap, and whom") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.sign_up(erin, id);

  Outcome not_mine = w.act(carol, "shift.swap", id, Json{{"to", "yan"}});
  CHECK(code_of(not_mine) == "conflict");
  CHECK(message_of(not_mine) == "carol is not signed up to shift " + id);
  Outcome self = w.act(bob, "shift.swap", id, Json{{"to", "bob"}});
  CHECK(code_of(self) == "invalid");
  CHECK(message_of(self) == "cannot swap a seat with oneself");
  Outcome seated = w.act(bob, "shift.swap", id, Json{{"to", "erin"}});
  CHECK(code_of(seated) == "conflict");
  CHECK(message_of(seated) == "erin is already signed up to this shift");
  Outcome unknown = w.act(bob, "shift.swap", id, Json{{"to", "zed"}});
  CHECK(code_of(unknown) == "invalid");
  CHECK(message_of(unknown) == "unknown user 'zed'");
  Outcome hotline = w.act(bob, "shift.swap", id, Json{{"to", "hana"}});
  CHECK(code_of(hotline) == "invalid");
  CHECK(message_of(hotline) == "hana is not a volunteer or lead");
  Outcome beside = w.act(bob, "shift.swap", id, Json{{"to", "dave"}});
  CHECK(code_of(beside) == "invalid");
  CHECK(message_of(beside) == "dave does not belong to area gulou/antai/yili");

  auto first = w.swap(bob, id, "carol");
  Outcome twice = w.act(bob, "shift.swap", id, Json{{"to", "carol"}});
  CHECK(code_of(twice) == "conflict");
  CHECK(message_of(twice) == "bob already asked carol to swap (" + first + ")");
  CHECK(code_of(w.act(bob, "shift.swap", id, Json{{"to", "yan"}})) == "ok");  // another person is fine

  w.now = utc("2026-11-24T07:59:00Z");
  w.must(erin, "shift.checkin", id);
  Outcome in = w.act(erin, "shift.swap", id, Json{{"to", "carol"}});
  CHECK(code_of(in) == "conflict");
  CHECK(message_of(in) == "erin checked in at 2026-11-24T07:59:00Z");
  w.now = utc("2026-11-24T16:00:00Z");
  CHECK(message_of(w.act(bob, "shift.swap", id, Json{{"to", "li"}})) == "shift ended at 2026-11-24T16:00:00Z");
  CHECK(w.shift(id).swaps.size() == 2);
}

TEST_CASE("the client's view cannot check the person asked; accept still checks the one who answers") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  UnknownDirectory client_view;
  w.directory = &client_view;
  CHECK(code_of(w.act(bob, "shift.swap", id, Json{{"to", "zed"}})) == "ok");
  auto swap = w.swap(bob, id, "hana");
  Outcome r = w.act(hana, "shift.swap_accept", id, Json{{"swap", swap}});
  CHECK(code_of(r) == "forbidden");
  CHECK(message_of(r) == "only volunteers and leads take shifts");
  CHECK(w.holders(id) == std::vector<std::string>{"bob"});
}

// ======================================================================= check-in and check-out

TEST_CASE("check-in opens two hours before start by default and is late after five minutes") {
  World w;
  auto id = w.day_shift(5);  // 08:00-16:00
  for (const Actor* a : {&bob, &carol, &erin, &yan, &li}) w.sign_up(*a, id);

  w.now = utc("2026-11-24T05:59:59Z");
  Outcome early = w.act(bob, "shift.checkin", id);
  CHECK(code_of(early) == "conflict");
  CHECK(message_of(early) == "check-in opens at 2026-11-24T06:00:00Z");

  w.now = utc("2026-11-24T06:00:00Z");
  Outcome r = w.act(bob, "shift.checkin", id);
  REQUIRE(r.ok());
  CHECK(r->front().scope == "area:gulou/antai/yili");
  CHECK(r->front().kind == "shift.checked_in");
  CHECK(r->front().body == Json{{"shift", id}, {"late", false}});
  w.now = utc("2026-11-24T08:05:00Z");
  w.must(carol, "shift.checkin", id);
  w.now = utc("2026-11-24T08:05:01Z");
  w.must(erin, "shift.checkin", id);
  CHECK(w.log.back().body == Json{{"shift", id}, {"late", true}});
  w.now = utc("2026-11-24T15:59:59Z");
  w.must(yan, "shift.checkin", id);
  w.now = utc("2026-11-24T16:00:00Z");
  Outcome over = w.act(li, "shift.checkin", id);
  CHECK(code_of(over) == "conflict");
  CHECK(message_of(over) == "shift ended at 2026-11-24T16:00:00Z");

  const Shift& s = w.shift(id);
  CHECK(s.signup_of("bob")->checkin_at == "2026-11-24T06:00:00Z");
  CHECK_FALSE(s.signup_of("bob")->late);
  CHECK(s.signup_of("carol")->checkin_at == "2026-11-24T08:05:00Z");
  CHECK_FALSE(s.signup_of("carol")->late);
  CHECK(s.signup_of("erin")->checkin_at == "2026-11-24T08:05:01Z");
  CHECK(s.signup_of("erin")->late);
  CHECK(s.signup_of("yan")->late);
  CHECK(s.signup_of("li")->checkin_at.empty());
}

TEST_CASE("the server's policy moves the check-in window and the late mark") {
  Policy policy;
  policy.roster.checkin_early = 30 * kMinute;
  policy.roster.late_after = 0;
  World w;
  w.policy = &policy;
  auto id = w.day_shift(3);
  for (const Actor* a : {&bob, &carol, &erin}) w.sign_up(*a, id);

  w.now = utc("2026-11-24T07:29:59Z");
  Outcome early = w.act(bob, "shift.checkin", id);
  CHECK(code_of(early) == "conflict");
  CHECK(message_of(early) == "check-in opens at 2026-11-24T07:30:00Z");
  w.now = utc("2026-11-24T07:30:00Z");
  w.must(bob, "shift.checkin", id);
  w.now = utc("2026-11-24T08:00:00Z");
  w.must(carol, "shift.checkin", id);
  w.now = utc("2026-11-24T08:00:01Z");
  w.must(erin, "shift.checkin", id);
  CHECK_FALSE(w.shift(id).signup_of("bob")->late);
  CHECK_FALSE(w.shift(id).signup_of("carol")->late);
  CHECK(w.shift(id).signup_of("erin")->late);

  // A phone that does not know the policy decides with the defaults: 08:03 is on time
  // there, late on the server, and the server's event is what everyone folds.
  World phone;
  auto other = phone.day_shift();
  phone.sign_up(bob, other);
  phone.now = utc("2026-11-24T08:03:00Z");
  phone.must(bob, "shift.checkin", other);
  CHECK(phone.log.back().body["late"] == false);
  phone.policy = &policy;
  phone.must(carol, "shift.signup", other);
  phone.must(carol, "shift.checkin", other);
  CHECK(phone.log.back().body["late"] == true);
}

TEST_CASE("check-in needs a seat and happens once") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.now = utc("2026-11-24T07:45:00Z");
  Outcome none = w.act(carol, "shift.checkin", id);
  CHECK(code_of(none) == "conflict");
  CHECK(message_of(none) == "carol is not signed up to shift " + id);
  w.must(bob, "shift.checkin", id);
  w.now = utc("2026-11-24T07:46:00Z");
  Outcome twice = w.act(bob, "shift.checkin", id);
  CHECK(code_of(twice) == "conflict");
  CHECK(message_of(twice) == "bob checked in at 2026-11-24T07:45:00Z");
  CHECK(w.shift(id).signup_of("bob")->checkin_at == "2026-11-24T07:45:00Z");
}

TEST_CASE("check-out needs a check-in, happens once, and is allowed after the end") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.sign_up(carol, id);
  w.now = utc("2026-11-24T07:50:00Z");
  Outcome not_in = w.act(bob, "shift.checkout", id);
  CHECK(code_of(not_in) == "conflict");
  CHECK(message_of(not_in) == "bob has not checked in");
  Outcome no_seat = w.act(erin, "shift.checkout", id);
  CHECK(code_of(no_seat) == "conflict");
  CHECK(message_of(no_seat) == "erin is not signed up to shift " + id);

  w.must(bob, "shift.checkin", id);
  w.must(carol, "shift.checkin", id);
  w.now = utc("2026-11-24T12:00:00Z");
  Outcome r = w.act(bob, "shift.checkout", id);
  REQUIRE(r.ok());
  CHECK(r->front().scope == "area:gulou/antai/yili");
  CHECK(r->front().kind == "shift.checked_out");
  CHECK(r->front().body == Json{{"shift", id}});
  CHECK(w.shift(id).signup_of("bob")->checkout_at == "2026-11-24T12:00:00Z");
  w.now = utc("2026-11-24T12:01:00Z");
  Outcome twice = w.act(bob, "shift.checkout", id);
  CHECK(code_of(twice) == "conflict");
  CHECK(message_of(twice) == "bob checked out at 2026-11-24T12:00:00Z");
  CHECK(code_of(w.act(bob, "shift.checkin", id)) == "conflict");  // no second check-in

  w.now = utc("2026-11-24T16:20:00Z");  // carol forgot, and checks out later
  w.must(carol, "shift.checkout", id);
  CHECK(w.shift(id).signup_of("carol")->checkout_at == "2026-11-24T16:20:00Z");
  CHECK(w.holders(id) == std::vector<std::string>{"bob", "carol"});  // the record stays
}

// ======================================================================= fold

TEST_CASE("the server's own events: reminders and gap escalations") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  Event reminder = event("shift.reminder", "", Json{{"shift", id}, {"user", "bob"}});
  reminder.scope = "user:bob";
  CHECK(fold_shift_event(w.shifts, reminder) == id);
  CHECK(fold_shift_event(w.shifts, reminder) == id);
  CHECK(fold_shift_event(w.shifts, event("shift.reminder", "", Json{{"shift", id}, {"user", "carol"}})) == id);
  CHECK(w.shift(id).reminded == std::set<std::string>{"bob", "carol"});
  CHECK_FALSE(w.shift(id).gap_escalated);

  const Json gap{{"shift", id}, {"missing", 1}, {"leads", Json::array({"yan"})}};
  CHECK(fold_shift_event(w.shifts, event("shift.gap", "", gap)) == id);
  CHECK(w.shift(id).gap_escalated);

  World other;
  auto id2 = other.day_shift();
  CHECK(fold_shift_event(other.shifts, event("shift.gap_offer", "", Json{{"shift", id2}, {"missing", 2}})) == id2);
  CHECK(other.shift(id2).gap_escalated);
  CHECK(other.shift(id2).signups.empty());  // an offer is not a seat
}

TEST_CASE("fold is total: unknown kinds, unknown shifts and malformed events change nothing") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.swap(bob, id, "carol");
  const Json before = to_json(w.shift(id));
  Json not_whole = before;
  not_whole.erase("seats");
  not_whole["id"] = "01JDOTHER";
  Json backwards = before;
  backwards["id"] = "01JDOTHER2";
  backwards["end"] = backwards["start"];

  const std::vector<Event> ignored{
      event("shift.exploded", "bob", Json{{"shift", id}}),
      event("shift.signed_up", "carol", Json{{"shift", "01JDNOSUCHSHIFT"}}),
      event("shift.signed_up", "carol", Json::object()),
      event("shift.signed_up", "carol", Json{{"shift", 42}}),
      event("shift.signed_up", "carol", Json::array({id})),
      event("shift.signed_up", "carol", Json()),
      event("shift.added", "li", Json{{"id", "x"}}),
      event("shift.added", "li", not_whole),
      event("shift.added", "li", backwards),
      event("shift.swapped", "carol", Json{{"shift", id}}),
      event("shift.swapped", "carol", Json{{"shift", id}, {"swap", 5}, {"from", "bob"}, {"to", "carol"}}),
      event("shift.reminder", "", Json{{"shift", id}}),
      event("shift.reminder", "", Json{{"shift", "01JDNOSUCHSHIFT"}, {"user", "bob"}}),
      event("task.claimed", "carol", Json{{"shift", id}}),
      event("", "carol", Json{{"shift", id}}),
  };
  for (const Event& e : ignored) {
    CAPTURE(e.kind);
    CAPTURE(e.body.dump());
    CHECK(fold_shift_event(w.shifts, e).empty());
    CHECK(w.shifts.size() == 1);
    CHECK(to_json(w.shift(id)) == before);
  }
  // Known kinds by someone without a seat touch the shift but change nothing.
  for (const char* k : {"shift.withdrawn", "shift.checked_in", "shift.checked_out"}) {
    CAPTURE(k);
    CHECK(fold_shift_event(w.shifts, event(k, "mallory", Json{{"shift", id}, {"late", true}})) == id);
    CHECK(to_json(w.shift(id)) == before);
  }
}

TEST_CASE("folding an event twice changes nothing more") {
  World w;
  auto id = w.day_shift(3);
  w.sign_up(bob, id);
  w.sign_up(erin, id);
  w.sign_up(yan, id);
  auto swap = w.swap(bob, id, "carol");
  w.must(carol, "shift.swap_accept", id, Json{{"swap", swap}});
  auto declined = w.swap(erin, id, "li");
  w.must(li, "shift.swap_decline", id, Json{{"swap", declined}});
  w.must(yan, "shift.withdraw", id);
  w.now = utc("2026-11-24T07:50:00Z");
  w.must(carol, "shift.checkin", id);
  w.now = utc("2026-11-24T08:30:00Z");
  w.must(erin, "shift.checkin", id);
  w.now = utc("2026-11-24T12:00:00Z");
  w.must(carol, "shift.checkout", id);
  const Event reminder = event("shift.reminder", "", Json{{"shift", id}, {"user", "erin"}});
  const Event gap = event("shift.gap", "", Json{{"shift", id}, {"missing", 1}, {"leads", Json::array({"yan"})}});
  fold_shift_event(w.shifts, reminder);
  fold_shift_event(w.shifts, gap);
  const Json once = to_json(w.shift(id));
  CHECK(once["signups"] == Json::array({Json{{"user", "carol"},
                                             {"at", "2026-11-23T08:00:00Z"},
                                             {"checkin_at", "2026-11-24T07:50:00Z"},
                                             {"late", false},
                                             {"checkout_at", "2026-11-24T12:00:00Z"}},
                                        Json{{"user", "erin"},
                                             {"at", "2026-11-23T08:00:00Z"},
                                             {"checkin_at", "2026-11-24T08:30:00Z"},
                                             {"late", true},
                                             {"checkout_at", ""}}}));

  // The latest events delivered again (a reconnect's overlap) change nothing.
  CHECK(fold_shift_event(w.shifts, w.log.back()) == id);
  fold_shift_event(w.shifts, reminder);
  fold_shift_event(w.shifts, gap);
  CHECK(to_json(w.shift(id)) == once);

  ShiftBook replay;
  for (const Event& e : w.log) {
    fold_shift_event(replay, e);
    fold_shift_event(replay, e);
  }
  fold_shift_event(replay, reminder);
  fold_shift_event(replay, gap);
  CHECK(to_json(replay.at(id)) == once);
}

TEST_CASE("a shift.swapped never gives anyone two seats") {
  World w;
  auto id = w.day_shift();
  w.sign_up(bob, id);
  w.sign_up(carol, id);
  // Not something the server decides, but a fold must stay sane with it.
  const Json body{{"shift", id}, {"swap", "01JDSWAPX"}, {"from", "bob"}, {"to", "carol"}};
  CHECK(fold_shift_event(w.shifts, event("shift.swapped", "carol", body)) == id);
  CHECK(w.holders(id) == std::vector<std::string>{"bob", "carol"});
  REQUIRE(w.shift(id).swaps.size() == 1);
  CHECK(w.shift(id).swaps[0].state == "accepted");
}

TEST_CASE("a replayed shift.added does not wipe the seats taken since") {
  World w;
  auto id = w.day_shift();
  const Event added = w.log.front();
  w.sign_up(bob, id);
  CHECK(fold_shift_event(w.shifts, added) == id);
  CHECK(w.holders(id) == std::vector<std::string>{"bob"});
}

TEST_CASE("a replica folding the same log reaches the same book as the server") {
  World w;
  auto a = w.day_shift();
  auto b = w.add("south gate", "gulou/antai/yili", "2026-11-24T16:00:00Z", "2026-11-25T00:00:00Z", 1);
  w.sign_up(bob, a);
  w.sign_up(carol, a);
  w.sign_up(bob, b);
  auto swap = w.swap(carol, a, "erin");
  w.must(erin, "shift.swap_accept", a, Json{{"swap", swap}});
  w.now = utc("2026-11-24T08:10:00Z");
  w.must(bob, "shift.checkin", a);

  ShiftBook replica;
  for (const Event& e : w.log) fold_shift_event(replica, e);
  REQUIRE(replica.size() == 2);
  for (const auto& id : {a, b}) CHECK(to_json(replica.at(id)) == to_json(w.shift(id)));
}

// ======================================================================= JSON

TEST_CASE("to_json and shift_from_json round-trip every field") {
  Shift s;
  s.id = "01JDSHIFT00000000000000001";
  s.post = "北门 north gate";
  s.area = "gulou/antai/yili/b3";
  s.start = 1795471200000;  // 2026-11-23T22:00:00Z
  s.end = 1795500000000;    // 2026-11-24T06:00:00Z
  s.seats = 3;
  s.created_by = "li";
  s.created_at = "2026-11-20T10:00:00Z";
  s.signups = {Signup{"carol", "2026-11-21T09:00:00Z", "2026-11-23T22:07:00Z", true, "2026-11-24T03:00:00Z"},
               Signup{"bob", "2026-11-21T10:00:00Z", "2026-11-23T21:50:00Z", false, ""},
               Signup{"erin", "2026-11-22T10:00:00Z", "", false, ""}};
  s.swaps = {Swap{"01JDSWAP1", "dave", "carol", "accepted"}, Swap{"01JDSWAP2", "erin", "fang", "declined"},
             Swap{"01JDSWAP3", "erin", "gao", "pending"}};
  s.reminded = {"erin", "bob"};
  s.gap_escalated = true;

  const Json j = to_json(s);
  CHECK(j == Json{{"id", "01JDSHIFT00000000000000001"},
                  {"post", "北门 north gate"},
                  {"area", "gulou/antai/yili/b3"},
                  {"start", "2026-11-23T22:00:00Z"},
                  {"end", "2026-11-24T06:00:00Z"},
                  {"seats", 3},
                  {"created_by", "li"},
                  {"created_at", "2026-11-20T10:00:00Z"},
                  {"signups", Json::array({Json{{"user", "carol"},
                                                {"at", "2026-11-21T09:00:00Z"},
                                                {"checkin_at", "2026-11-23T22:07:00Z"},
                                                {"late", true},
                                                {"checkout_at", "2026-11-24T03:00:00Z"}},
                                           Json{{"user", "bob"},
                                                {"at", "2026-11-21T10:00:00Z"},
                                                {"checkin_at", "2026-11-23T21:50:00Z"},
                                                {"late", false},
                                                {"checkout_at", ""}},
                                           Json{{"user", "erin"},
                                                {"at", "2026-11-22T10:00:00Z"},
                                                {"checkin_at", ""},
                                                {"late", false},
                                                {"checkout_at", ""}}})},
                  {"swaps",
                   Json::array({Json{{"id", "01JDSWAP1"}, {"from", "dave"}, {"to", "carol"}, {"state", "accepted"}},
                                Json{{"id", "01JDSWAP2"}, {"from", "erin"}, {"to", "fang"}, {"state", "declined"}},
                                Json{{"id", "01JDSWAP3"}, {"from", "erin"}, {"to", "gao"}, {"state", "pending"}}})},
                  {"reminded", Json::array({"bob", "erin"})},
                  {"gap_escalated", true}});

  auto back = shift_from_json(Json::parse(j.dump()));
  REQUIRE(back.has_value());
  CHECK(back->id == s.id);
  CHECK(back->post == s.post);
  CHECK(back->area == s.area);
  CHECK(back->start == s.start);
  CHECK(back->end == s.end);
  CHECK(back->seats == 3);
  CHECK(back->created_by == "li");
  CHECK(back->created_at == "2026-11-20T10:00:00Z");
  REQUIRE(back->signups.size() == 3);
  CHECK(back->signups[0].user == "carol");
  CHECK(back->signups[0].at == "2026-11-21T09:00:00Z");
  CHECK(back->signups[0].checkin_at == "2026-11-23T22:07:00Z");
  CHECK(back->signups[0].late);
  CHECK(back->signups[0].checkout_at == "2026-11-24T03:00:00Z");
  CHECK(back->signups[1].user == "bob");
  CHECK_FALSE(back->signups[1].late);
  CHECK(back->signups[2].user == "erin");
  REQUIRE(back->swaps.size() == 3);
  CHECK(back->swaps[0].id == "01JDSWAP1");
  CHECK(back->swaps[0].from == "dave");
  CHECK(back->swaps[0].to == "carol");
  CHECK(back->swaps[0].state == "accepted");
  CHECK(back->swaps[1].state == "declined");
  CHECK(back->swaps[2].state == "pending");
  CHECK(back->reminded == std::set<std::string>{"bob", "erin"});
  CHECK(back->gap_escalated);
  CHECK(to_json(*back) == j);
}

TEST_CASE("shift_from_json needs id, post, area, start, end and seats; the rest defaults") {
  const Json minimal{{"id", "s1"},
                     {"post", "gate"},
                     {"area", "gulou"},
                     {"start", "2026-11-24T08:00:00Z"},
                     {"end", "2026-11-24T16:00:00Z"},
                     {"seats", 1}};
  auto s = shift_from_json(minimal);
  REQUIRE(s.has_value());
  CHECK(s->signups.empty());
  CHECK(s->swaps.empty());
  CHECK(s->reminded.empty());
  CHECK_FALSE(s->gap_escalated);
  CHECK(s->created_by.empty());
  for (const char* key : {"id", "post", "area", "start", "end", "seats"}) {
    CAPTURE(key);
    Json j = minimal;
    j.erase(key);
    CHECK_FALSE(shift_from_json(j).has_value());
  }
}

TEST_CASE("shift_from_json rejects what is not a shift, without throwing") {
  const Json good{{"id", "s1"},
                  {"post", "gate"},
                  {"area", "gulou"},
                  {"start", "2026-11-24T08:00:00Z"},
                  {"end", "2026-11-24T16:00:00Z"},
                  {"seats", 2}};
  auto with = [&](const char* key, Json value) {
    Json j = good;
    j[key] = std::move(value);
    return j;
  };
  CHECK_FALSE(shift_from_json(Json()).has_value());
  CHECK_FALSE(shift_from_json(Json::array()).has_value());
  CHECK_FALSE(shift_from_json(Json("shift")).has_value());
  CHECK_FALSE(shift_from_json(with("start", "soon")).has_value());
  CHECK_FALSE(shift_from_json(with("start", 1795507200000)).has_value());
  CHECK_FALSE(shift_from_json(with("end", "2026-11-24T08:00:00Z")).has_value());
  CHECK_FALSE(shift_from_json(with("seats", 0)).has_value());
  CHECK_FALSE(shift_from_json(with("seats", 2.5)).has_value());
  CHECK_FALSE(shift_from_json(with("seats", "2")).has_value());
  CHECK_FALSE(shift_from_json(with("post", 5)).has_value());
  CHECK_FALSE(shift_from_json(with("signups", "bob")).has_value());
  CHECK_FALSE(shift_from_json(with("signups", Json::array({"bob"}))).has_value());
  CHECK_FALSE(shift_from_json(with("signups", Json::array({Json{{"at", "2026-11-24T08:00:00Z"}}}))).has_value());
  CHECK_FALSE(shift_from_json(with("signups", Json::array({Json{{"user", "bob"}, {"late", "yes"}}}))).has_value());
  CHECK_FALSE(shift_from_json(with("swaps", Json::array({Json{{"id", "w"}, {"from", "a"}}}))).has_value());
  CHECK_FALSE(
      shift_from_json(with("swaps", Json::array({Json{{"id", "w"}, {"from", "a"}, {"to", "b"}, {"state", "maybe"}}})))
          .has_value());
  CHECK_FALSE(shift_from_json(with("reminded", "bob")).has_value());
  CHECK_FALSE(shift_from_json(with("gap_escalated", "yes")).has_value());
  CHECK(shift_from_json(with("signups", Json::array({Json{{"user", "bob"}}}))).has_value());
}

// ======================================================================= on duty

TEST_CASE("on_duty: signed up to a shift running at t and not checked out by then") {
  World w;
  auto day = w.day_shift(3);  // Tue 08:00-16:00
  auto night = w.add("north gate", "gulou/antai/yili", "2026-11-24T22:00:00Z", "2026-11-25T06:00:00Z", 2);
  w.sign_up(bob, day);
  w.sign_up(bob, night);
  w.sign_up(carol, day);
  w.sign_up(erin, day);
  w.must(erin, "shift.withdraw", day);

  CHECK(on_duty(w.shifts, "bob", utc("2026-11-24T07:59:59Z")) == nullptr);
  CHECK(on_duty(w.shifts, "bob", utc("2026-11-24T08:00:00Z")) == &w.shift(day));
  CHECK(on_duty(w.shifts, "bob", utc("2026-11-24T15:59:59Z")) == &w.shift(day));
  CHECK(on_duty(w.shifts, "bob", utc("2026-11-24T16:00:00Z")) == nullptr);
  CHECK(on_duty(w.shifts, "bob", utc("2026-11-24T23:30:00Z")) == &w.shift(night));
  CHECK(on_duty(w.shifts, "bob", utc("2026-11-25T05:59:59Z")) == &w.shift(night));
  CHECK(on_duty(w.shifts, "bob", utc("2026-11-25T06:00:00Z")) == nullptr);
  CHECK(on_duty(w.shifts, "erin", utc("2026-11-24T10:00:00Z")) == nullptr);  // withdrew
  CHECK(on_duty(w.shifts, "dave", utc("2026-11-24T10:00:00Z")) == nullptr);
  CHECK(on_duty(ShiftBook{}, "bob", utc("2026-11-24T10:00:00Z")) == nullptr);

  w.now = utc("2026-11-24T07:55:00Z");
  w.must(carol, "shift.checkin", day);
  w.now = utc("2026-11-24T12:00:00Z");
  w.must(carol, "shift.checkout", day);
  CHECK(on_duty(w.shifts, "carol", utc("2026-11-24T11:59:59Z")) == &w.shift(day));
  CHECK(on_duty(w.shifts, "carol", utc("2026-11-24T12:00:00Z")) == nullptr);
  CHECK(on_duty(w.shifts, "carol", utc("2026-11-24T14:00:00Z")) == nullptr);
}

// ======================================================================= coverage gaps

TEST_CASE("an empty shift is one gap of all its seats, clipped to the range asked for") {
  World w;
  auto id = w.add("north gate", "gulou/antai/yili", "2026-11-23T22:00:00Z", "2026-11-24T06:00:00Z", 2);
  auto gaps = coverage_gaps(w.shifts, "gulou/antai/yili", utc("2026-11-23T00:00:00Z"), utc("2026-11-25T00:00:00Z"));
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].shift == id);
  CHECK(gaps[0].post == "north gate");
  CHECK(gaps[0].area == "gulou/antai/yili");
  CHECK(gaps[0].from == utc("2026-11-23T22:00:00Z"));
  CHECK(gaps[0].to == utc("2026-11-24T06:00:00Z"));
  CHECK(gaps[0].missing == 2);

  CHECK(rows(coverage_gaps(w.shifts, "gulou", utc("2026-11-24T00:00:00Z"), utc("2026-11-24T01:30:00Z"))) ==
        std::vector<GapRow>{{"north gate", "2026-11-24T00:00:00Z", "2026-11-24T01:30:00Z", 2}});
  CHECK(coverage_gaps(w.shifts, "gulou", utc("2026-11-24T06:00:00Z"), utc("2026-11-24T09:00:00Z")).empty());
  CHECK(coverage_gaps(w.shifts, "gulou", utc("2026-11-23T12:00:00Z"), utc("2026-11-23T22:00:00Z")).empty());
  CHECK(coverage_gaps(w.shifts, "gulou", utc("2026-11-24T02:00:00Z"), utc("2026-11-24T02:00:00Z")).empty());
  CHECK(coverage_gaps(w.shifts, "gulou", utc("2026-11-24T03:00:00Z"), utc("2026-11-24T02:00:00Z")).empty());
  CHECK(coverage_gaps(w.shifts, "gulou/gaolou", utc("2026-11-23T00:00:00Z"), utc("2026-11-25T00:00:00Z")).empty());
  CHECK(coverage_gaps(w.shifts, "gulou/antai/yili/b3", utc("2026-11-23T00:00:00Z"), utc("2026-11-25T00:00:00Z"))
            .empty());
  CHECK(coverage_gaps(w.shifts, "gulou/ant", utc("2026-11-23T00:00:00Z"), utc("2026-11-25T00:00:00Z")).empty());
}

TEST_CASE("each early check-out starts a new range with one more seat missing") {
  World w;
  auto id = w.day_shift(3);  // 08:00-16:00
  w.sign_up(bob, id);
  w.sign_up(carol, id);
  w.sign_up(erin, id);
  const UnixMs from = utc("2026-11-24T00:00:00Z");
  const UnixMs to = utc("2026-11-25T00:00:00Z");
  CHECK(coverage_gaps(w.shifts, "gulou", from, to).empty());

  w.now = utc("2026-11-24T07:55:00Z");
  for (const Actor* a : {&bob, &carol, &erin}) w.must(*a, "shift.checkin", id);
  w.now = utc("2026-11-24T10:00:00Z");
  w.must(bob, "shift.checkout", id);
  w.must(carol, "shift.checkout", id);  // same second: one change of count
  w.now = utc("2026-11-24T12:00:00Z");
  w.must(erin, "shift.checkout", id);
  CHECK(rows(coverage_gaps(w.shifts, "gulou", from, to)) ==
        std::vector<GapRow>{{"north gate", "2026-11-24T10:00:00Z", "2026-11-24T12:00:00Z", 2},
                            {"north gate", "2026-11-24T12:00:00Z", "2026-11-24T16:00:00Z", 3}});
  // Asking from inside a range clips it.
  CHECK(rows(coverage_gaps(w.shifts, "gulou", utc("2026-11-24T11:00:00Z"), utc("2026-11-24T13:00:00Z"))) ==
        std::vector<GapRow>{{"north gate", "2026-11-24T11:00:00Z", "2026-11-24T12:00:00Z", 2},
                            {"north gate", "2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z", 3}});
  CHECK(rows(coverage_gaps(w.shifts, "gulou", utc("2026-11-24T13:00:00Z"), to)) ==
        std::vector<GapRow>{{"north gate", "2026-11-24T13:00:00Z", "2026-11-24T16:00:00Z", 3}});
}

TEST_CASE("a sign-up covers the whole shift whenever it was made; a check-out before start covers nothing") {
  World w;
  auto id = w.day_shift(2);  // 08:00-16:00
  w.now = utc("2026-11-24T11:00:00Z");  // signed up mid-shift: still covers from 08:00
  w.sign_up(bob, id);
  w.now = utc("2026-11-24T07:00:00Z");
  w.sign_up(carol, id);
  w.must(carol, "shift.checkin", id);
  w.now = utc("2026-11-24T07:30:00Z");
  w.must(carol, "shift.checkout", id);
  CHECK(rows(coverage_gaps(w.shifts, "gulou/antai", utc("2026-11-24T00:00:00Z"), utc("2026-11-25T00:00:00Z"))) ==
        std::vector<GapRow>{{"north gate", "2026-11-24T08:00:00Z", "2026-11-24T16:00:00Z", 1}});
}

TEST_CASE("overlapping shifts at one post are independent; ties sort by post, then shift id") {
  World w;
  auto main_gate = w.add("south gate", "gulou/antai/yili", "2026-11-24T08:00:00Z", "2026-11-24T20:00:00Z", 1);
  auto extra_a = w.add("south gate", "gulou/antai/yili", "2026-11-24T12:00:00Z", "2026-11-24T16:00:00Z", 2);
  auto extra_b = w.add("south gate", "gulou/antai/yili", "2026-11-24T12:00:00Z", "2026-11-24T14:00:00Z", 1);
  auto clinic = w.add("clinic queue", "gulou/antai", "2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z", 1);
  w.sign_up(bob, main_gate);
  w.sign_up(carol, extra_a);
  REQUIRE(extra_a < extra_b);
  auto gaps = coverage_gaps(w.shifts, "gulou/antai", utc("2026-11-24T00:00:00Z"), utc("2026-11-25T00:00:00Z"));
  REQUIRE(gaps.size() == 3);
  CHECK(gaps[0].shift == clinic);
  CHECK(gaps[0].area == "gulou/antai");
  CHECK(gaps[1].shift == extra_a);
  CHECK(gaps[2].shift == extra_b);
  CHECK(rows(gaps) == std::vector<GapRow>{{"clinic queue", "2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z", 1},
                                          {"south gate", "2026-11-24T12:00:00Z", "2026-11-24T16:00:00Z", 1},
                                          {"south gate", "2026-11-24T12:00:00Z", "2026-11-24T14:00:00Z", 1}});
}

// The test 4: a realistic week at the checkpoints of one street, with the
// expected gaps worked out by hand.
//
//   north gate  (yili, 2 seats)  06-14, 14-22, 22-06 every day, plus last Sunday's night
//               filled by n0a/n0b (06-14), n1a/n1b (14-22), n2a/n2b (22-06), except:
//                 Sun 22 22:00 - Mon 06:00   n2a only        -> Mon 00:00-06:00 missing 1 (clipped)
//                 Mon 22:00 - Tue 06:00      n2a only        -> missing 1, across midnight
//                 Wed 14:00 - 22:00          nobody          -> missing 2
//                 Thu 06:00 - 14:00          n0b leaves 11:30 -> 11:30-14:00 missing 1
//                 Sun 22:00 - Mon 30 06:00   nobody          -> Sun 22:00-24:00 missing 2 (clipped)
//   south gate  (b3, 1 seat)     08-20 every day, s1; Friday nobody          -> missing 1
//               Tue 12-16 reinforcement, 2 seats, r1 only                      -> missing 1
//   clinic queue (antai)         Wed 14-17, 1 seat, nobody                     -> missing 1
//                                Sat 09-12, 3 seats, c1 and c2                 -> missing 1
//                                Sun 22 20:00-24:00, nobody: ends as the week starts
//   east gate   (gaolou)         Wed 14-22, nobody: another street
//   north gate                   Tue Dec 1 06-14, nobody: after the week
TEST_CASE("coverage gaps for a week with overlapping shifts and shifts crossing midnight") {
  World w;
  w.now = utc("2026-11-20T00:00:00Z");
  auto v = [](const char* name) { return Actor{name, Roles{Role::volunteer}, "gulou/antai/yili/b3"}; };
  const Actor n0a = v("n0a"), n0b = v("n0b"), n1a = v("n1a"), n1b = v("n1b"), n2a = v("n2a"), n2b = v("n2b");
  const Actor s1 = v("s1"), r1 = v("r1"), c1 = v("c1"), c2 = v("c2");
  const std::string yili = "gulou/antai/yili";
  const std::string b3 = "gulou/antai/yili/b3";

  auto last_night = w.add("north gate", yili, "2026-11-22T22:00:00Z", "2026-11-23T06:00:00Z", 2, zhou);
  w.sign_up(n2a, last_night);
  std::string thursday_morning;
  std::string monday_night;
  for (int d = 23; d <= 29; ++d) {
    const std::string day = "2026-11-" + std::to_string(d);
    const std::string next = "2026-11-" + std::to_string(d + 1);
    auto morning = w.add("north gate", yili, day + "T06:00:00Z", day + "T14:00:00Z", 2, zhou);
    auto afternoon = w.add("north gate", yili, day + "T14:00:00Z", day + "T22:00:00Z", 2, zhou);
    auto night = w.add("north gate", yili, day + "T22:00:00Z", next + "T06:00:00Z", 2, zhou);
    auto south = w.add("south gate", b3, day + "T08:00:00Z", day + "T20:00:00Z", 1, zhou);
    w.sign_up(n0a, morning);
    w.sign_up(n0b, morning);
    if (d != 25) {
      w.sign_up(n1a, afternoon);
      w.sign_up(n1b, afternoon);
    }
    if (d != 29) w.sign_up(n2a, night);
    if (d != 23 && d != 29) w.sign_up(n2b, night);
    if (d != 27) w.sign_up(s1, south);
    if (d == 26) thursday_morning = morning;
    if (d == 23) monday_night = night;
  }
  auto reinforcement = w.add("south gate", b3, "2026-11-24T12:00:00Z", "2026-11-24T16:00:00Z", 2, zhou);
  w.sign_up(r1, reinforcement);
  auto clinic_wed = w.add("clinic queue", "gulou/antai", "2026-11-25T14:00:00Z", "2026-11-25T17:00:00Z", 1, zhou);
  auto clinic_sat = w.add("clinic queue", "gulou/antai", "2026-11-28T09:00:00Z", "2026-11-28T12:00:00Z", 3, zhou);
  w.sign_up(c1, clinic_sat);
  w.sign_up(c2, clinic_sat);
  w.add("clinic queue", "gulou/antai", "2026-11-22T20:00:00Z", "2026-11-23T00:00:00Z", 1, zhou);
  w.add("east gate", "gulou/gaolou", "2026-11-25T14:00:00Z", "2026-11-25T22:00:00Z", 2, zhou);
  w.add("north gate", yili, "2026-12-01T06:00:00Z", "2026-12-01T14:00:00Z", 2, zhou);
  REQUIRE(w.shifts.size() == 1 + 7 * 4 + 1 + 2 + 3);

  w.now = utc("2026-11-26T05:55:00Z");
  w.must(n0a, "shift.checkin", thursday_morning);
  w.must(n0b, "shift.checkin", thursday_morning);
  w.now = utc("2026-11-26T11:30:00Z");
  w.must(n0b, "shift.checkout", thursday_morning);

  const UnixMs monday = utc("2026-11-23T00:00:00Z");
  const UnixMs next_monday = utc("2026-11-30T00:00:00Z");
  auto gaps = coverage_gaps(w.shifts, "gulou/antai", monday, next_monday);
  CHECK(rows(gaps) == std::vector<GapRow>{
                          {"north gate", "2026-11-23T00:00:00Z", "2026-11-23T06:00:00Z", 1},
                          {"north gate", "2026-11-23T22:00:00Z", "2026-11-24T06:00:00Z", 1},
                          {"south gate", "2026-11-24T12:00:00Z", "2026-11-24T16:00:00Z", 1},
                          {"clinic queue", "2026-11-25T14:00:00Z", "2026-11-25T17:00:00Z", 1},
                          {"north gate", "2026-11-25T14:00:00Z", "2026-11-25T22:00:00Z", 2},
                          {"north gate", "2026-11-26T11:30:00Z", "2026-11-26T14:00:00Z", 1},
                          {"south gate", "2026-11-27T08:00:00Z", "2026-11-27T20:00:00Z", 1},
                          {"clinic queue", "2026-11-28T09:00:00Z", "2026-11-28T12:00:00Z", 1},
                          {"north gate", "2026-11-29T22:00:00Z", "2026-11-30T00:00:00Z", 2},
                      });
  REQUIRE(gaps.size() == 9);
  CHECK(gaps[0].shift == last_night);
  CHECK(gaps[1].shift == monday_night);
  CHECK(gaps[2].shift == reinforcement);  // not the Tuesday south gate shift it overlaps, which s1 holds
  CHECK(gaps[2].area == b3);
  CHECK(gaps[3].shift == clinic_wed);
  CHECK(gaps[3].area == "gulou/antai");
  CHECK(gaps[5].shift == thursday_morning);
  CHECK(gaps[7].shift == clinic_sat);

  // The community alone: the street's clinic queue is above it.
  CHECK(rows(coverage_gaps(w.shifts, yili, monday, next_monday)) ==
        std::vector<GapRow>{
            {"north gate", "2026-11-23T00:00:00Z", "2026-11-23T06:00:00Z", 1},
            {"north gate", "2026-11-23T22:00:00Z", "2026-11-24T06:00:00Z", 1},
            {"south gate", "2026-11-24T12:00:00Z", "2026-11-24T16:00:00Z", 1},
            {"north gate", "2026-11-25T14:00:00Z", "2026-11-25T22:00:00Z", 2},
            {"north gate", "2026-11-26T11:30:00Z", "2026-11-26T14:00:00Z", 1},
            {"south gate", "2026-11-27T08:00:00Z", "2026-11-27T20:00:00Z", 1},
            {"north gate", "2026-11-29T22:00:00Z", "2026-11-30T00:00:00Z", 2},
        });
  // Monday evening to Tuesday morning: the night shift clipped at both ends.
  CHECK(rows(coverage_gaps(w.shifts, "gulou/antai", utc("2026-11-23T12:00:00Z"), utc("2026-11-24T01:00:00Z"))) ==
        std::vector<GapRow>{{"north gate", "2026-11-23T22:00:00Z", "2026-11-24T01:00:00Z", 1}});
  // Thursday only.
  CHECK(rows(coverage_gaps(w.shifts, "gulou/antai", utc("2026-11-26T00:00:00Z"), utc("2026-11-27T00:00:00Z"))) ==
        std::vector<GapRow>{{"north gate", "2026-11-26T11:30:00Z", "2026-11-26T14:00:00Z", 1}});
  // The whole district sees the next street's east gate too.
  CHECK(coverage_gaps(w.shifts, "gulou", monday, next_monday).size() == 10);
}
