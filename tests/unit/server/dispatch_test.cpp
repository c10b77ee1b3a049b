// The server's own moves (issue: dispatch engine): offer dispatch picks the best
// volunteer and moves on at a decline or a time-out, escalations reach the right
// leads once per stage, urgent notices are re-sent and escalated, shifts are reminded
// and their gaps escalated. Time is a ManualClock; a "restart" is a new Engine on the
// same files, as after kill -9 (every stage is in the log, nothing only in memory).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "musterd/core/dispatcher.hpp"

using namespace engine_fixture;
using muster::UnixMs;

namespace {

constexpr UnixMs kMinute = 60 * 1000;

// The grid of these tests:
//   gulou/antai            li (lead), erin (volunteer)
//   gulou/antai/yili       lin (lead), bob, carol (driver), dan (volunteers)
//   gulou/gaolou           dave (volunteer)
struct Dispatch : Fixture {
  Dispatch() : Fixture(Fixture::Empty{}) {
    add("li", Roles{Role::lead}, "gulou/antai");
    add("erin", Roles{Role::volunteer}, "gulou/antai");
    add("lin", Roles{Role::lead}, "gulou/antai/yili");
    add("bob", Roles{Role::volunteer}, "gulou/antai/yili");
    add("carol", Roles{Role::volunteer}, "gulou/antai/yili", false, {"driver"});
    add("dan", Roles{Role::volunteer}, "gulou/antai/yili");
    add("dave", Roles{Role::volunteer}, "gulou/gaolou");
    open();
  }

  // Commits one op that must be accepted; returns its events.
  std::vector<muster::domain::Event> ok(const std::string& user, const std::string& kind, Json body,
                                        std::string id = {}) {
    if (id.empty()) id = this->id();
    auto batch = commit({sub(user, id, kind, std::move(body))});
    REQUIRE_MESSAGE(code_of(batch.decisions.at(0)) == "ok", message_of(batch.decisions.at(0)));
    return events_of(batch);
  }
  std::vector<muster::domain::Event> tick() {
    auto r = engine->tick();
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
    CHECK(r->decisions.empty());
    return events_of(*r);
  }
  static std::vector<muster::domain::Event> events_of(const Batch& b) {
    std::vector<muster::domain::Event> out;
    for (const auto& d : b.events) out.push_back(d.event);
    return out;
  }
  std::string offer_task(const std::string& title, Json extra = Json::object()) {
    Json body{{"kind", "errand"}, {"title", title}, {"area", "gulou/antai/yili"}};
    body.update(extra);
    const std::string task = id();
    ok("lin", "task.create", body, task);
    return task;
  }
  const muster::domain::Task& task(const std::string& id) const { return engine->state().tasks.at(muster::domain::TaskId(id)); }
  std::int64_t logged(const std::string& kind) {
    auto s = log->db().prepare("SELECT count(*) FROM events WHERE kind = ?1");
    s.bind(1, kind);
    REQUIRE(s.step());
    auto n = s.int64(0);
    s.reset();
    return n;
  }
};

// "kind scope → to" lines, for readable expectations.
std::vector<std::string> story(const std::vector<muster::domain::Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    std::string line = e.kind + " " + e.scope;
    if (e.body.contains("to")) line += " to " + e.body["to"].get<std::string>();
    if (e.body.contains("stage")) line += " " + e.body["stage"].get<std::string>();
    out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("an offer goes to the fewest active tasks, moves on at a decline and a time-out, then escalates") {
  Dispatch f;
  // bob holds two tasks, carol one, dan none.
  for (const char* who : {"bob", "bob", "carol"}) {
    const std::string t = f.id();
    f.ok("lin", "task.create", create_body("gulou/antai/yili", std::string("busy ") + who), t);
    f.ok(who, "task.claim", Json{{"task", t}});
  }

  const std::string task = f.id();
  auto created = f.ok("lin", "task.create", Json{{"kind", "errand"}, {"title", "代买 白菜2斤"}, {"area", "gulou/antai/yili"}},
                      task);
  CHECK(story(created) == std::vector<std::string>{"task.created area:gulou/antai/yili",
                                                   "task.offered area:gulou/antai/yili to dan"});
  CHECK(f.task(task).state == muster::domain::TaskState::offered);
  CHECK(f.task(task).offer_expires == "2026-11-23T08:05:00Z");
  CHECK(created.at(1).actor == "musterd");
  CHECK(created.at(1).op.str() == task);  // caused by the create

  // A decline moves it on in the same commit: carol has fewer tasks than bob.
  auto declined = f.ok("dan", "task.decline", Json{{"task", task}});
  CHECK(story(declined) == std::vector<std::string>{"task.declined area:gulou/antai/yili",
                                                    "task.offered area:gulou/antai/yili to carol"});

  // Not yet: the offer waits its five minutes.
  f.clock.advance(5 * kMinute - 1000);
  CHECK(f.tick().empty());
  f.clock.advance(1000);
  CHECK(story(f.tick()) == std::vector<std::string>{"task.offer_expired area:gulou/antai/yili to carol",
                                                    "task.offered area:gulou/antai/yili to bob"});

  // bob declines: nobody in yili is left, so erin, one level up, is next. She does not
  // see yili's scope, so the offer also reaches her inbox with the task's state.
  auto to_erin = f.ok("bob", "task.decline", Json{{"task", task}});
  CHECK(story(to_erin) == std::vector<std::string>{"task.declined area:gulou/antai/yili",
                                                   "task.offered area:gulou/antai/yili to erin",
                                                   "task.offered user:erin to erin"});
  CHECK(to_erin.at(2).body["snapshot"]["offered_to"] == "erin");

  // erin may decline although the area is not hers; then nobody is left (dave lives
  // elsewhere and is never asked): the lead of the task's area hears of it.
  auto exhausted = f.ok("erin", "task.decline", Json{{"task", task}});
  CHECK(story(exhausted) == std::vector<std::string>{"task.declined area:gulou/antai/yili",
                                                     "task.declined user:erin",
                                                     "task.escalated user:lin no_candidate"});
  CHECK(f.task(task).offered == std::vector<std::string>{"dan", "carol", "bob", "erin"});
  CHECK(f.task(task).state == muster::domain::TaskState::open);
  CHECK(f.task(task).escalated.count("no_candidate") == 1);

  // Nothing more happens on its own until the escalation steps (30 min from creation).
  f.clock.advance(10 * kMinute);
  CHECK(f.tick().empty());
}

TEST_CASE("candidates: never outside the area unless on duty there; a required skill is honoured") {
  Dispatch f;
  SUBCASE("a skill narrows the offer to those who have it") {
    const std::string task = f.offer_task("送药 需开车", Json{{"skill", "driver"}});
    CHECK(f.task(task).offered_to == "carol");
    auto r = f.ok("carol", "task.decline", Json{{"task", task}});
    CHECK(story(r).back() == "task.escalated user:lin no_candidate");
    CHECK(f.task(task).offered == std::vector<std::string>{"carol"});
  }
  SUBCASE("on duty at the compound's gate counts as in the area") {
    // Each of bob, carol and dan gets one task on offer (equal load: by name).
    const std::string a = f.offer_task("a");
    const std::string b = f.offer_task("b");
    const std::string c = f.offer_task("c");
    CHECK(std::vector<std::string>{f.task(a).offered_to, f.task(b).offered_to, f.task(c).offered_to} ==
          std::vector<std::string>{"bob", "carol", "dan"});
    SUBCASE("off duty, erin lives one level up: the nearer volunteers come first, busy or not") {
      CHECK(f.task(f.offer_task("d")).offered_to == "bob");
    }
    SUBCASE("on duty at the gate of gulou/antai, erin is as near as they are and less busy") {
      const std::string shift = f.id();
      f.ok("li", "shift.add",
           Json{{"post", "north gate"}, {"area", "gulou/antai"}, {"start", "2026-11-23T07:00:00Z"},
                {"end", "2026-11-23T15:00:00Z"}, {"seats", 2}},
           shift);
      f.ok("erin", "shift.signup", Json{{"shift", shift}});
      CHECK(f.task(f.offer_task("d")).offered_to == "erin");
    }
  }
  SUBCASE("nobody outside the area is ever offered the task") {
    const std::string task = f.offer_task("代买 鸡蛋10个");
    for (int i = 0; i < 6 && f.task(task).state == muster::domain::TaskState::offered; ++i) {
      f.ok(f.task(task).offered_to, "task.decline", Json{{"task", task}});
    }
    CHECK(f.task(task).offered == std::vector<std::string>{"bob", "carol", "dan", "erin"});
    CHECK(std::find(f.task(task).offered.begin(), f.task(task).offered.end(), "dave") == f.task(task).offered.end());
  }
}

TEST_CASE("a late accept after the offer moved on is a conflict naming the new offeree") {
  Dispatch f;
  const std::string task = f.offer_task("代买 米");
  const std::string first = f.task(task).offered_to;
  f.clock.advance(5 * kMinute);
  f.tick();
  const std::string second = f.task(task).offered_to;
  REQUIRE(second != first);
  auto late = f.one(sub(first, f.id(), "task.accept", Json{{"task", task}}));
  CHECK(code_of(late) == "conflict");
  CHECK(message_of(late) == "cannot accept: task is offered to " + second);
  auto accepted = f.ok(second, "task.accept", Json{{"task", task}});
  CHECK(story(accepted) == std::vector<std::string>{"task.accepted area:gulou/antai/yili"});
  // Accepted: no more time-outs or escalations of an unaccepted task.
  f.clock.advance(24 * 60 * kMinute);
  CHECK(f.tick().empty());
}

TEST_CASE("escalation stages reach the area's leads, then the leads above, once each; urgent ones sooner") {
  Dispatch f;
  f.policy.default_task.escalate_after = {30 * kMinute, 120 * kMinute};
  f.policy.default_task.urgent_escalate_after = {10 * kMinute, 30 * kMinute};
  f.reopen();
  const std::string normal = f.id();
  f.ok("lin", "task.create", create_body("gulou/antai/yili", "搬运物资"), normal);
  const std::string urgent = f.id();
  Json body = create_body("gulou/antai/yili", "送药 急");
  body["priority"] = "urgent";
  f.ok("lin", "task.create", body, urgent);

  f.clock.advance(10 * kMinute);
  CHECK(story(f.tick()) == std::vector<std::string>{"task.escalated user:lin unaccepted:1"});
  f.clock.advance(20 * kMinute);  // 30 min: normal's first stage, urgent's second
  auto at30 = story(f.tick());
  std::sort(at30.begin(), at30.end());
  CHECK(at30 == std::vector<std::string>{"task.escalated user:li unaccepted:2", "task.escalated user:lin unaccepted:1"});
  CHECK(f.task(urgent).escalated == std::set<std::string>{"unaccepted:1", "unaccepted:2"});
  f.clock.advance(60 * kMinute);
  CHECK(f.tick().empty());
  f.clock.advance(30 * kMinute);  // 120 min
  CHECK(story(f.tick()) == std::vector<std::string>{"task.escalated user:li unaccepted:2"});
  f.clock.advance(24 * 60 * kMinute);
  CHECK(f.tick().empty());
  CHECK(f.logged("task.escalated") == 4);
}

TEST_CASE("an overdue task escalates once, even when it was accepted") {
  Dispatch f;
  const std::string task = f.id();
  Json body = create_body("gulou/antai/yili", "送药 布洛芬");
  body["due"] = "2026-11-23T09:00:00Z";
  f.ok("lin", "task.create", body, task);
  f.ok("bob", "task.claim", Json{{"task", task}});
  f.clock.set(muster::parse_utc("2026-11-23T08:59:59Z").value());
  CHECK(f.tick().empty());
  f.clock.set(muster::parse_utc("2026-11-23T09:00:00Z").value());
  CHECK(story(f.tick()) == std::vector<std::string>{"task.escalated user:lin overdue"});
  f.clock.advance(60 * kMinute);
  CHECK(f.tick().empty());
  f.ok("bob", "task.done", Json{{"task", task}});
  CHECK(f.logged("task.escalated") == 1);
}

TEST_CASE("a restart in the middle of an offer time-out neither loses nor repeats the offer or the escalation") {
  Dispatch f;
  f.policy.tasks["errand"].escalate_after = {12 * kMinute};
  f.reopen();
  const std::string task = f.offer_task("代买 白菜");
  const std::string first = f.task(task).offered_to;

  f.clock.advance(3 * kMinute);
  f.reopen();  // like kill -9: only the files survive
  CHECK(f.task(task).offered_to == first);
  CHECK(f.engine->timers() >= 1);
  f.clock.advance(2 * kMinute);
  auto moved = story(f.tick());
  REQUIRE(moved.size() == 2);
  CHECK(moved[0] == "task.offer_expired area:gulou/antai/yili to " + first);
  const std::string second = f.task(task).offered_to;
  CHECK(second != first);

  f.reopen();
  CHECK(f.tick().empty());  // the expiry was recorded: not made again
  CHECK(f.task(task).offered_to == second);

  // The server is down past both the next expiry and the escalation step: on start,
  // each happens exactly once.
  f.clock.advance(20 * kMinute);
  f.reopen();
  auto after = story(f.tick());
  CHECK(std::count(after.begin(), after.end(), "task.offer_expired area:gulou/antai/yili to " + second) == 1);
  CHECK(std::count(after.begin(), after.end(), "task.escalated user:lin unaccepted:1") == 1);
  f.reopen();
  CHECK(f.tick().empty());
  CHECK(f.logged("task.escalated") == 1);
  CHECK(f.logged("task.offer_expired") == 2);
}

TEST_CASE("a reminder reaches each signed-up volunteer once, also those who sign up late, across restarts") {
  Dispatch f;
  f.policy.roster.gap_window = 30 * kMinute;  // the gap has its own test
  f.reopen();
  const std::string shift = f.id();
  f.ok("lin", "shift.add",
       Json{{"post", "north gate"}, {"area", "gulou/antai/yili"}, {"start", "2026-11-23T12:00:00Z"},
            {"end", "2026-11-23T20:00:00Z"}, {"seats", 3}},
       shift);
  f.ok("bob", "shift.signup", Json{{"shift", shift}});
  f.ok("carol", "shift.signup", Json{{"shift", shift}});
  f.clock.set(muster::parse_utc("2026-11-23T10:59:59Z").value());
  CHECK(f.tick().empty());
  f.clock.set(muster::parse_utc("2026-11-23T11:00:00Z").value());  // one hour before
  auto reminders = story(f.tick());
  std::sort(reminders.begin(), reminders.end());
  CHECK(reminders == std::vector<std::string>{"shift.reminder user:bob", "shift.reminder user:carol"});
  f.reopen();
  CHECK(f.tick().empty());
  // dan signs up after the reminder time: reminded at once, with his sign-up.
  auto late = story(f.ok("dan", "shift.signup", Json{{"shift", shift}}));
  CHECK(late == std::vector<std::string>{"shift.signed_up area:gulou/antai/yili", "shift.reminder user:dan"});
  f.clock.advance(60 * kMinute);
  CHECK(f.tick().empty());
  CHECK(f.logged("shift.reminder") == 3);
}

TEST_CASE("a gap of a shift about to start is escalated to the area's leads and offered to free volunteers") {
  Dispatch f;
  const std::string busy = f.id();
  f.ok("lin", "shift.add",
       Json{{"post", "south gate"}, {"area", "gulou/antai/yili"}, {"start", "2026-11-23T11:00:00Z"},
            {"end", "2026-11-23T13:00:00Z"}, {"seats", 1}},
       busy);
  f.ok("dan", "shift.signup", Json{{"shift", busy}});
  const std::string shift = f.id();
  f.ok("lin", "shift.add",
       Json{{"post", "north gate"}, {"area", "gulou/antai/yili"}, {"start", "2026-11-23T12:00:00Z"},
            {"end", "2026-11-23T20:00:00Z"}, {"seats", 2}},
       shift);
  f.ok("bob", "shift.signup", Json{{"shift", shift}});
  f.clock.set(muster::parse_utc("2026-11-23T10:00:00Z").value());  // two hours before
  auto moves = story(f.tick());
  std::sort(moves.begin(), moves.end());
  // dan is on the overlapping south gate shift, bob already has a seat; dave and erin
  // live outside yili.
  CHECK(moves == std::vector<std::string>{"shift.gap user:lin", "shift.gap_offer user:carol",
                                          "shift.reminder user:dan"});
  CHECK(f.engine->state().shifts.at(shift).gap_escalated);
  f.reopen();
  f.clock.advance(30 * kMinute);
  CHECK(f.tick().empty());
}

TEST_CASE("an urgent notice is re-sent to those who have not acknowledged, then escalated to the lagging building's lead") {
  Fixture f{Fixture::Empty{}};
  f.add("zhou", Roles{Role::coordinator}, "gulou/antai/yili");
  // Three buildings, each with its lead and two residents.
  for (const char* b : {"b1", "b2", "b3"}) {
    const std::string area = std::string("gulou/antai/yili/") + b;
    f.add(std::string("lead-") + b, Roles{Role::lead}, area);
    f.add(std::string(b) + "-x", Roles{Role::volunteer}, area);
    f.add(std::string(b) + "-y", Roles{Role::volunteer}, area);
  }
  f.policy.notices.resend_after = 30 * kMinute;
  f.policy.notices.escalate_after = 60 * kMinute;
  f.open();
  const std::string notice = f.id();
  auto posted = f.one(sub("zhou", notice, "notice.post",
                          Json{{"area", "gulou/antai/yili"}, {"text", "今晚8点核酸 请确认"}, {"ack", true},
                               {"priority", "urgent"}}));
  REQUIRE(code_of(posted) == "ok");
  for (const char* who : {"lead-b1", "b1-x", "b1-y", "lead-b2", "b2-x", "lead-b3", "b3-x", "b3-y"}) {
    REQUIRE(code_of(f.one(sub(who, f.id(), "notice.ack", Json{{"notice", notice}}))) == "ok");
  }

  auto status = f.engine->query("zhou", protocol::Query{"q1", "notice.status", Json{{"notice", notice}, {"by", "building"}}});
  REQUIRE(status.ok);
  CHECK(status.body["recipients"] == 9);
  CHECK(status.body["acked"] == 8);
  CHECK(status.body["by_area"] == Json::parse(R"([
    {"area":"gulou/antai/yili/b1","recipients":3,"acked":3,"missing":[]},
    {"area":"gulou/antai/yili/b2","recipients":3,"acked":2,"missing":["b2-y"]},
    {"area":"gulou/antai/yili/b3","recipients":3,"acked":3,"missing":[]}])"));
  auto lagging = f.engine->query("zhou", protocol::Query{"q2", "notice.status",
                                                         Json{{"notice", notice}, {"by", "area"}, {"missing", true}}});
  REQUIRE(lagging.ok);
  CHECK(lagging.body["by_area"] == Json::parse(R"([{"area":"gulou/antai/yili/b2","recipients":3,"acked":2,"missing":["b2-y"]}])"));

  auto tick = [&] {
    auto r = f.engine->tick();
    REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const auto& d : r->events) out.push_back(d.event.kind + " " + d.event.scope);
    return out;
  };
  f.clock.advance(30 * kMinute - 1000);
  CHECK(tick().empty());
  f.clock.advance(1000);
  CHECK(tick() == std::vector<std::string>{"notice.resent user:b2-y"});
  f.reopen();
  f.clock.advance(30 * kMinute);
  CHECK(tick() == std::vector<std::string>{"notice.escalated user:lead-b2"});
  f.clock.advance(60 * kMinute);
  CHECK(tick().empty());
}

TEST_CASE("a notice that everyone acknowledged is not chased") {
  Fixture f;  // the engine test grid: li leads gulou/antai
  const std::string notice = f.id();
  REQUIRE(code_of(f.one(sub("li", notice, "notice.post",
                            Json{{"area", "gulou/antai/yili"}, {"text", "停水通知"}, {"ack", true}, {"priority", "urgent"}})))
          == "ok");
  for (const char* who : {"bob", "carol", "hana"}) {
    REQUIRE(code_of(f.one(sub(who, f.id(), "notice.ack", Json{{"notice", notice}}))) == "ok");
  }
  f.clock.advance(3 * 60 * kMinute);
  auto r = f.engine->tick();
  REQUIRE(r.ok());
  CHECK(r->events.empty());
}

TEST_CASE("policy: defaults, JSON round trip and clear errors") {
  using muster::domain::Policy;
  const Policy d = Policy::defaults();
  CHECK(d.for_kind("errand").dispatch == muster::domain::Dispatch::offer);
  CHECK(d.for_kind("generic").dispatch == muster::domain::Dispatch::claim);
  CHECK(d.timezone == "Asia/Shanghai");
  auto round = Policy::from_json(d.to_json());
  REQUIRE(round.ok());
  CHECK(round->to_json() == d.to_json());

  auto custom = Policy::from_json(Json::parse(R"({
    "timezone": "Europe/Berlin",
    "tasks": {"default": {"offer_timeout": "2m", "escalate_after": ["15m", "1h"]},
              "doorknock": {"dispatch": "offer", "urgent_escalate_after": ["5m"]}},
    "notices": {"resend_after": "20m", "escalate_after": "45m"},
    "roster": {"reminder_before": "90m", "gap_window": "3h"}})"));
  REQUIRE_MESSAGE(custom.ok(), (custom.ok() ? std::string() : custom.error().message));
  CHECK(custom->for_kind("generic").offer_timeout == 2 * kMinute);
  CHECK(custom->for_kind("errand").offer_timeout == 2 * kMinute);  // the default applies under the kind's dispatch
  CHECK(custom->for_kind("errand").dispatch == muster::domain::Dispatch::offer);
  CHECK(custom->for_kind("doorknock").dispatch == muster::domain::Dispatch::offer);
  CHECK(custom->for_kind("doorknock").escalate_after == std::vector<UnixMs>{15 * kMinute, 60 * kMinute});
  CHECK(custom->for_kind("doorknock").urgent_escalate_after == std::vector<UnixMs>{5 * kMinute});
  CHECK(custom->roster.reminder_before == 90 * kMinute);

  struct Bad {
    const char* json;
    const char* message;
  };
  for (const Bad& b : {Bad{R"({"tasks": {"errand": {"dispatch": "direct"}}})",
                           "policy: tasks.errand.dispatch: must be \"offer\" or \"claim\""},
                       Bad{R"({"tasks": {"shopping": {}}})", "policy: tasks: unknown task kind 'shopping'"},
                       Bad{R"({"tasks": {"errand": {"offer_timout": "5m"}}})",
                           "policy: tasks.errand: unknown setting 'offer_timout'"},
                       Bad{R"({"notices": {"resend_after": "soon"}})",
                           "policy: notices.resend_after: 'soon' is not a duration (try 90s, 5m, 2h, 1d, 1h30m)"},
                       Bad{R"({"notices": {"resend_after": "2h"}})",
                           "policy: notices: escalate_after must be later than resend_after"},
                       Bad{R"({"tasks": {"default": {"escalate_after": ["1h", "30m"]}}})",
                           "policy: tasks.default.escalate_after: steps must grow"},
                       Bad{R"([1,2])", "policy: policy: must be an object"}}) {
    CAPTURE(b.json);
    auto r = Policy::from_json(Json::parse(b.json));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == b.message);
  }
  CHECK(muster::domain::parse_duration("1h30m") == 90 * kMinute);
  CHECK(muster::domain::parse_duration("90s") == 90 * 1000);
  CHECK_FALSE(muster::domain::parse_duration("0s"));
  CHECK_FALSE(muster::domain::parse_duration("5"));
  CHECK_FALSE(muster::domain::parse_duration("m"));
  CHECK(muster::domain::format_duration(90 * 1000) == "1m30s");
}
