// The hotline's call log (SPEC §3 Hotline): the reducer of hotline.log and the fold of
// hotline.* events. The reducer must never put the notes in an event, must refuse
// anyone without the hotline role before looking at anything else, and a follow-up
// must become a task that carries the brief and the area and nothing more.
#include "muster/domain/hotline.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/domain/policy.hpp"
#include "muster/domain/state.hpp"
#include "muster/domain/task.hpp"

using namespace muster::domain;
using muster::Errc;
using muster::UnixMs;

namespace {

constexpr UnixMs kNow = 1795420800000;  // 2026-11-23T08:00:00Z
constexpr UnixMs kMinute = 60 * 1000;

const std::string kNotes = "来电者说他三天没有睡觉，担心失业，想和女儿说话。";
const std::string kBrief = "回访：询问是否已联系社区医生";

const Actor hana{"hana", Roles{Role::hotline}, "gulou/antai/yili"};
const Actor mei{"mei", Roles{Role::hotline, Role::lead}, "gulou/antai"};
const Actor bob{"bob", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor li{"li", Roles{Role::lead}, "gulou/antai"};
const Actor root{"root", Roles{Role::admin}, "gulou"};

class FakeDirectory final : public Directory {
 public:
  std::optional<bool> area_exists(std::string_view path) const override { return areas_.count(std::string(path)) > 0; }
  std::optional<std::optional<Actor>> find_user(std::string_view) const override { return std::nullopt; }

 private:
  std::set<std::string> areas_{"gulou", "gulou/antai", "gulou/antai/yili", "gulou/antai/yili/b3", "gulou/gaolou"};
};

const FakeDirectory kDirectory;
const UnknownDirectory kUnknown;

using Outcome = muster::Result<std::vector<Draft>>;

std::string code_of(const Outcome& r) { return r ? "ok" : std::string(muster::to_string(r.error().code)); }
std::string message_of(const Outcome& r) { return r ? std::string() : r.error().message; }

Json call_body() {
  return Json{{"started", "2026-11-23T07:40:00Z"}, {"duration", 25}, {"category", "焦虑"}, {"risk", 2},
              {"notes", kNotes}};
}

Op log_op(Json body, const std::string& id = "01JDHOTLINE000000000000001") { return Op{OpId(id), "hotline.log", std::move(body)}; }

Outcome decide(const Actor& actor, const Op& op, const CallBook& calls = {}, const Policy* policy = nullptr,
               const Directory& directory = kDirectory) {
  return apply_hotline_op(calls, op, Context{actor, kNow, directory, policy});
}

Event as_event(const Draft& d, std::int64_t seq, const std::string& actor = "hana",
               const std::string& op = "01JDHOTLINE000000000000001") {
  Event e;
  e.scope = d.scope;
  e.seq = seq;
  e.gseq = seq;
  e.id = "01JDEVENT" + std::string(16, '0') + std::to_string(seq % 10);
  e.op = OpId(op);
  e.kind = d.kind;
  e.actor = actor;
  e.at = muster::format_utc(kNow);
  e.body = d.body;
  return e;
}

std::set<std::string> keys_of(const Json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) {
    (void)v;
    out.insert(k);
  }
  return out;
}

}  // namespace

TEST_SUITE("hotline") {
  TEST_CASE("a hotline user logs a call: one event in role:hotline, with has_notes and never the notes") {
    auto r = decide(hana, log_op(call_body()));
    REQUIRE_MESSAGE(r.ok(), message_of(r));
    REQUIRE(r->size() == 1);
    const Draft& d = r->at(0);
    CHECK(d.scope == "role:hotline");
    CHECK(d.kind == "hotline.logged");
    CHECK(d.body.dump().find(kNotes) == std::string::npos);
    CHECK_FALSE(d.body.contains("notes"));
    CHECK(d.body == Json{{"id", "01JDHOTLINE000000000000001"},
                         {"operator", "hana"},
                         {"area", "gulou/antai/yili"},  // the operator's home area by default
                         {"started", "2026-11-23T07:40:00Z"},
                         {"duration", 25},
                         {"category", "焦虑"},
                         {"risk", 2},
                         {"has_notes", true},
                         {"notes_purged", false},
                         {"followup_task", ""},
                         {"logged_at", "2026-11-23T08:00:00Z"},
                         {"escalated", false}});
  }

  TEST_CASE("the call's area, its start in another offset, and calls without notes") {
    Json body = call_body();
    body["area"] = "gulou/gaolou";
    body["started"] = "2026-11-23T15:40:00+08:00";
    body.erase("notes");
    auto r = decide(hana, log_op(body));
    REQUIRE_MESSAGE(r.ok(), message_of(r));
    CHECK(r->at(0).body["area"] == "gulou/gaolou");
    CHECK(r->at(0).body["started"] == "2026-11-23T07:40:00Z");
    CHECK(r->at(0).body["has_notes"] == false);

    body["notes"] = "";  // empty notes are none
    auto empty = decide(hana, log_op(body));
    REQUIRE(empty.ok());
    CHECK(empty->at(0).body["has_notes"] == false);
  }

  TEST_CASE("a follow-up is a hotline_followup task of the hotline's scope with the brief and the area only") {
    Json body = call_body();
    body["area"] = "gulou/antai/yili/b3";
    body["followup"] = Json{{"brief", kBrief}};
    auto r = decide(hana, log_op(body));
    REQUIRE_MESSAGE(r.ok(), message_of(r));
    REQUIRE(r->size() == 2);
    CHECK(r->at(0).body["followup_task"] == "01JDHOTLINE000000000000001-f");
    const Draft& task = r->at(1);
    CHECK(task.scope == "role:hotline");  // not the area's: its volunteers do not learn of it
    CHECK(task.kind == "task.created");
    auto t = task_from_json(task.body);
    REQUIRE(t.has_value());
    CHECK(t->id.str() == "01JDHOTLINE000000000000001-f");
    CHECK(t->kind == "hotline_followup");
    CHECK(t->title == kBrief);
    CHECK(t->area == "gulou/antai/yili/b3");
    CHECK(t->state == TaskState::open);
    CHECK(t->dispatch == Dispatch::offer);
    CHECK(t->details == std::map<std::string, std::string>{{"brief", kBrief}, {"area", "gulou/antai/yili/b3"}});
    CHECK(t->assignee.empty());
    // Nothing of the call: not the notes, the category, the risk or when it was.
    const std::string text = task.body.dump();
    CHECK(text.find(kNotes) == std::string::npos);
    CHECK(text.find("焦虑") == std::string::npos);
    CHECK(text.find("07:40") == std::string::npos);
    CHECK(keys_of(task.body) == keys_of(to_json(Task{})));
  }

  TEST_CASE("the follow-up is offered whatever the policy says: nobody else sees it to claim it") {
    Policy policy = Policy::defaults();
    policy.tasks["hotline_followup"].dispatch = Dispatch::claim;
    Json body = call_body();
    body["followup"] = Json{{"brief", kBrief}};
    auto r = decide(hana, log_op(body), {}, &policy);
    REQUIRE(r.ok());
    CHECK(task_from_json(r->at(1).body)->dispatch == Dispatch::offer);
  }

  TEST_CASE("only hotline users log calls, checked before anything else (forbidden)") {
    for (const Actor* who : {&bob, &li, &root}) {
      CAPTURE(who->name);
      auto r = decide(*who, log_op(call_body()));
      CHECK(code_of(r) == "forbidden");
      CHECK(message_of(r).find(kNotes) == std::string::npos);
      // A malformed body from them is forbidden too: they learn nothing about the fields.
      CHECK(code_of(decide(*who, log_op(Json{{"notes", 42}}))) == "forbidden");
    }
    // With the role, whatever else the user is.
    CHECK(code_of(decide(mei, log_op(call_body()))) == "ok");
    // The client's optimistic view refuses it the same way.
    CHECK(code_of(decide(bob, log_op(call_body()), {}, nullptr, kUnknown)) == "forbidden");
  }

  TEST_CASE("malformed calls are invalid, and the message never repeats the notes") {
    struct Case {
      const char* what;
      Json body;
    };
    auto with = [](const char* key, Json value) {
      Json b = call_body();
      b[key] = std::move(value);
      return b;
    };
    auto without = [](const char* key) {
      Json b = call_body();
      b.erase(key);
      return b;
    };
    const std::vector<Case> cases{
        {"no started", without("started")},
        {"started not a time", with("started", "yesterday")},
        {"started a number", with("started", 1795420800)},
        {"started in the future", with("started", muster::format_utc(kNow + 61 * kMinute))},
        {"no duration", without("duration")},
        {"duration a string", with("duration", "25")},
        {"duration fractional", with("duration", 2.5)},
        {"duration negative", with("duration", -1)},
        {"duration over 600", with("duration", 601)},
        {"duration huge", with("duration", 18446744073709551615ULL)},
        {"no category", without("category")},
        {"empty category", with("category", "")},
        {"category over 64 bytes", with("category", std::string(65, 'x'))},
        {"no risk", without("risk")},
        {"risk 6", with("risk", 6)},
        {"risk -1", with("risk", -1)},
        {"risk a string", with("risk", "5")},
        {"notes not a string", with("notes", Json::array({kNotes}))},
        {"notes over 16 KiB", with("notes", std::string(kMaxNotesBytes + 1, 'n'))},
        {"bad area", with("area", "gulou//antai")},
        {"unknown area", with("area", "gulou/nowhere")},
        {"followup not an object", with("followup", kBrief)},
        {"followup without a brief", with("followup", Json::object())},
        {"followup with an empty brief", with("followup", Json{{"brief", ""}})},
        {"followup brief over 400 bytes", with("followup", Json{{"brief", std::string(401, 'b')}})},
        {"followup with notes", with("followup", Json{{"brief", kBrief}, {"notes", kNotes}})},
        {"followup with the caller", with("followup", Json{{"brief", kBrief}, {"caller", "王先生 138…"}})},
    };
    for (const auto& c : cases) {
      CAPTURE(c.what);
      auto r = decide(hana, log_op(c.body));
      CHECK(code_of(r) == "invalid");
      CHECK(message_of(r).find(kNotes) == std::string::npos);
    }
    // The limits themselves are fine.
    auto ok = [&](Json body) { return code_of(decide(hana, log_op(std::move(body)))) == "ok"; };
    CHECK(ok(with("notes", std::string(kMaxNotesBytes, 'n'))));
    CHECK(ok(with("duration", 600)));
    CHECK(ok(with("risk", 0)));
    CHECK(ok(with("started", muster::format_utc(kNow + 59 * kMinute))));
    // Not an object; an op kind the hotline does not know.
    CHECK(code_of(decide(hana, Op{OpId("01JDHOTLINE000000000000001"), "hotline.log", Json::array()})) == "invalid");
    CHECK(code_of(decide(hana, Op{OpId("01JDHOTLINE000000000000001"), "hotline.delete", Json::object()})) == "invalid");
    CHECK_FALSE(is_hotline_op("hotline.delete"));
    CHECK(is_hotline_op("hotline.log"));
    CHECK(is_known_op("hotline.log"));
  }

  TEST_CASE("a call id is logged once (conflict)") {
    CallBook calls;
    auto first = decide(hana, log_op(call_body()));
    REQUIRE(first.ok());
    fold_hotline_event(calls, as_event(first->at(0), 1));
    CHECK(code_of(decide(hana, log_op(call_body()), calls)) == "conflict");
  }

  TEST_CASE("the fold: logged, escalated, purged, and replays that change nothing more") {
    Json body = call_body();
    body["risk"] = 5;
    auto r = decide(hana, log_op(body));
    REQUIRE(r.ok());
    CallBook calls;
    const std::string id = "01JDHOTLINE000000000000001";
    CHECK(fold_hotline_event(calls, as_event(r->at(0), 1)) == id);
    REQUIRE(calls.count(id));
    CHECK(calls[id].risk == 5);
    CHECK(calls[id].operator_name == "hana");
    CHECK(calls[id].has_notes);
    CHECK_FALSE(calls[id].escalated);

    Draft escalated{"role:hotline", "hotline.escalated", Json{{"call", id}, {"risk", 5}, {"to", Json::array({"mei"})}}};
    CHECK(fold_hotline_event(calls, as_event(escalated, 2, "musterd")) == id);
    CHECK(calls[id].escalated);
    Draft purged{"role:hotline", "hotline.purged", Json{{"call", id}, {"older_than_days", 30}, {"before", "x"}}};
    CHECK(fold_hotline_event(calls, as_event(purged, 3, "musterd")) == id);
    CHECK(calls[id].notes_purged);
    CHECK(calls[id].has_notes);  // it had notes; they were deleted

    // The logged event again (a replay) keeps what later events recorded.
    CHECK(fold_hotline_event(calls, as_event(r->at(0), 1)) == id);
    CHECK(calls[id].escalated);
    CHECK(calls[id].notes_purged);

    // Unknown calls and kinds touch nothing.
    Draft stray{"role:hotline", "hotline.escalated", Json{{"call", "01JDNOSUCHCALL000000000000"}}};
    CHECK(fold_hotline_event(calls, as_event(stray, 4)).empty());
    Draft odd{"role:hotline", "hotline.unheard_of", Json{{"call", id}}};
    CHECK(fold_hotline_event(calls, as_event(odd, 5)).empty());
    CHECK(calls.size() == 1);

    // Through the State, the object touched is the call.
    State state;
    CHECK(fold(state, as_event(r->at(0), 1)) == ObjectRef{"call", id});
    CHECK(state.calls.count(id) == 1);
  }

  TEST_CASE("a call survives its JSON form; garbage is not a call") {
    Call c;
    c.id = "01JDHOTLINE000000000000009";
    c.operator_name = "hana";
    c.area = "gulou/antai/yili";
    c.started = "2026-11-23T07:40:00Z";
    c.duration_minutes = 12;
    c.category = "家庭";
    c.risk = 4;
    c.has_notes = true;
    c.notes_purged = true;
    c.followup_task = c.id + "-f";
    c.logged_at = "2026-11-23T08:00:00Z";
    c.escalated = true;
    auto back = call_from_json(to_json(c));
    REQUIRE(back.has_value());
    CHECK(to_json(*back) == to_json(c));
    CHECK_FALSE(call_from_json(Json::array()).has_value());
    CHECK_FALSE(call_from_json(Json{{"id", "x"}}).has_value());
    CHECK_FALSE(call_from_json(Json{{"id", 1}, {"operator", "h"}}).has_value());
  }
}
