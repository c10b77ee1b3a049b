// The task state machine (SPEC §3), as the server decides it and every party folds it:
//
//   open ──claim──▶ accepted ──start──▶ started ──done──▶ done
//    │  ▲                │                 │
//  offer│ decline        └──────fail───────┴──▶ failed
//    ▼  │
//   offered ──accept──▶ accepted
//   (any non-final state) ──cancel──▶ cancelled
//
// Each test drives the reducer the way the server does: apply_task_op decides an op
// against the current book, and the drafts it returns are numbered and folded back.
#include "muster/domain/task.hpp"

#include <doctest/doctest.h>

#include "event_numbering.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "muster/base/time.hpp"

using namespace muster::domain;
using muster::Errc;
using muster::format_utc;
using muster::UnixMs;

namespace {

constexpr UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z
constexpr UnixMs kMinute = 60 * 1000;

const Actor li{"li", Roles{Role::lead}, "gulou/antai"};                 // street lead
const Actor yan{"yan", Roles{Role::lead}, "gulou/antai/yili"};          // community lead, below li
const Actor wang{"wang", Roles{Role::lead}, "gulou/gaolou"};            // lead of the next street
const Actor zhou{"zhou", Roles{Role::coordinator}, "gulou"};            // district coordinator
const Actor root{"root", Roles{Role::admin}, "gulou"};
const Actor bob{"bob", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor carol{"carol", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor erin{"erin", Roles{Role::volunteer}, "gulou/antai"};        // volunteer of the street
const Actor dave{"dave", Roles{Role::volunteer}, "gulou/gaolou"};       // volunteer of the next street
const Actor hana{"hana", Roles{Role::hotline}, "gulou/antai/yili"};
const Actor bridge{"bridge", Roles{Role::plugin}, "gulou/antai/yili"};

// The server's view of who and where: knows the grid and the people above.
class FakeDirectory final : public Directory {
 public:
  FakeDirectory() {
    for (const Actor* a : {&li, &yan, &wang, &zhou, &root, &bob, &carol, &erin, &dave, &hana, &bridge}) {
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

// "ok", or the error code as an ack would carry it.
std::string code_of(const Outcome& r) { return r ? "ok" : std::string(muster::to_string(r.error().code)); }
std::string message_of(const Outcome& r) { return r ? std::string() : r.error().message; }

std::string op_id(int n) {
  std::string digits = std::to_string(n);
  return "01JDTASKOP" + std::string(16 - digits.size(), '0') + digits;  // 26 characters, like a ULID
}

// A server in miniature: decides ops with apply_task_op and folds the accepted drafts
// as numbered events (per-scope seq, global gseq, actor and time filled in).
struct World {
  FakeDirectory server_directory;
  const Directory* directory = &server_directory;
  TaskBook tasks;
  std::vector<Event> log;
  muster_test::EventNumbering numbering;
  int ops = 0;
  UnixMs now = kStart;

  Outcome run(const Actor& who, const std::string& kind, Json body) {
    return run_op(who, Op{OpId(op_id(++ops)), kind, std::move(body)});
  }

  Outcome run_op(const Actor& who, const Op& op) {
    now += kMinute;
    Context ctx{who, now, *directory};
    Outcome r = apply_task_op(tasks, op, ctx);
    if (r) {
      for (const Draft& d : *r) {
        Event e = numbering.number(d, op.id, who.name, now);
        fold_task_event(tasks, e);
        log.push_back(e);
      }
    }
    return r;
  }

  // A task on a transition op: {"task": id} plus extra fields.
  Outcome act(const Actor& who, const std::string& kind, const std::string& id, Json extra = Json::object()) {
    extra["task"] = id;
    return run(who, kind, std::move(extra));
  }

  // Creates a task that must be accepted; returns its id.
  std::string create(const Actor& who, Json body) {
    Outcome r = run(who, "task.create", std::move(body));
    REQUIRE_MESSAGE(r.ok(), message_of(r));
    return log.back().body["id"].get<std::string>();
  }
  std::string claim_task(const std::string& area = "gulou/antai/yili") {
    return create(li, Json{{"kind", "errand"}, {"title", "buy rice for 3-502"}, {"area", area}});
  }
  std::string direct_task(const std::string& assignee = "bob") {
    return create(li, Json{{"kind", "errand"}, {"title", "medicine for 3-502"}, {"area", "gulou/antai/yili"},
                           {"assignee", assignee}});
  }

  // Drives a task to `state` for bob: open, offered, accepted, started, done, failed, cancelled.
  std::string task_in(const std::string& state) {
    std::string id = state == "offered" ? direct_task("bob") : claim_task();
    if (state == "accepted" || state == "started" || state == "done" || state == "failed") {
      REQUIRE(act(bob, "task.claim", id).ok());
    }
    if (state == "started") REQUIRE(act(bob, "task.start", id).ok());
    if (state == "done") REQUIRE(act(bob, "task.done", id).ok());
    if (state == "failed") REQUIRE(act(bob, "task.fail", id).ok());
    if (state == "cancelled") REQUIRE(act(li, "task.cancel", id).ok());
    REQUIRE(state_of(id) == state);
    return id;
  }

  const Task& task(const std::string& id) const {
    auto it = tasks.find(muster::domain::TaskId(id));
    REQUIRE(it != tasks.end());
    return it->second;
  }
  std::string state_of(const std::string& id) const { return std::string(to_string(task(id).state)); }
};

const std::vector<std::string> kAllStates{"open", "offered", "accepted", "started", "done", "failed", "cancelled"};

Json errand(const std::string& area) { return Json{{"kind", "errand"}, {"title", "buy rice"}, {"area", area}}; }

}  // namespace

// ======================================================================= names

TEST_CASE("task states, dispatch modes and priorities have names that parse back") {
  for (auto s : {TaskState::open, TaskState::offered, TaskState::accepted, TaskState::started, TaskState::done,
                 TaskState::failed, TaskState::cancelled}) {
    CHECK(task_state_from_string(to_string(s)) == s);
  }
  CHECK(to_string(TaskState::cancelled) == "cancelled");
  CHECK(to_string(Dispatch::direct) == "direct");
  CHECK(to_string(Dispatch::offer) == "offer");
  CHECK(to_string(Dispatch::claim) == "claim");
  for (auto d : {Dispatch::direct, Dispatch::offer, Dispatch::claim}) CHECK(dispatch_from_string(to_string(d)) == d);
  CHECK(to_string(Priority::low) == "low");
  CHECK(to_string(Priority::urgent) == "urgent");
  for (auto p : {Priority::low, Priority::normal, Priority::high, Priority::urgent}) {
    CHECK(priority_from_string(to_string(p)) == p);
  }
  CHECK_FALSE(task_state_from_string("declined").has_value());  // declining returns a task to open
  CHECK_FALSE(task_state_from_string("Open").has_value());
  CHECK_FALSE(dispatch_from_string("broadcast").has_value());
  CHECK_FALSE(priority_from_string("critical").has_value());
}

TEST_CASE("done, failed and cancelled are final; every other state is not") {
  CHECK(is_final(TaskState::done));
  CHECK(is_final(TaskState::failed));
  CHECK(is_final(TaskState::cancelled));
  CHECK_FALSE(is_final(TaskState::open));
  CHECK_FALSE(is_final(TaskState::offered));
  CHECK_FALSE(is_final(TaskState::accepted));
  CHECK_FALSE(is_final(TaskState::started));
}

TEST_CASE("the task kinds of SPEC §3") {
  for (const char* k : {"errand", "sampling", "doorknock", "hotline_followup", "generic"}) {
    CAPTURE(k);
    CHECK(valid_task_kind(k));
  }
  CHECK_FALSE(valid_task_kind(""));
  CHECK_FALSE(valid_task_kind("Errand"));
  CHECK_FALSE(valid_task_kind("shopping"));
}

TEST_CASE("the task op kinds") {
  for (const char* k : {"task.create", "task.claim", "task.accept", "task.decline", "task.start", "task.done",
                        "task.fail", "task.cancel"}) {
    CAPTURE(k);
    CHECK(is_task_op(k));
  }
  CHECK_FALSE(is_task_op("task.offer"));
  CHECK_FALSE(is_task_op("task.created"));  // an event kind, not an op
  CHECK_FALSE(is_task_op("notice.post"));
  CHECK_FALSE(is_task_op(""));
}

// ======================================================================= create

TEST_CASE("a lead creates a claim task: one task.created event in the area's scope, state open") {
  World w;
  const Op op{OpId(op_id(1)), "task.create", Json{{"kind", "errand"}, {"title", "代买 白菜2斤 鸡蛋10个"}, {"area", "gulou/antai/yili"}}};
  Context ctx{li, kStart, w.server_directory};
  Outcome r = apply_task_op(w.tasks, op, ctx);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  const Draft& d = r->front();
  CHECK(d.scope == "area:gulou/antai/yili");
  CHECK(d.kind == "task.created");
  CHECK(d.body["id"] == op.id.str());  // a task's id is the id of the op that created it
  CHECK(d.body["kind"] == "errand");
  CHECK(d.body["title"] == "代买 白菜2斤 鸡蛋10个");
  CHECK(d.body["area"] == "gulou/antai/yili");
  CHECK(d.body["creator"] == "li");
  CHECK(d.body["state"] == "open");
  CHECK(d.body["dispatch"] == "claim");
  CHECK(d.body["priority"] == "normal");
  CHECK(d.body["assignee"] == "");
  CHECK(d.body["offered_to"] == "");
  CHECK(d.body["due"] == "");
  CHECK(d.body["details"] == Json::object());
  CHECK(d.body["created_at"] == "2026-11-23T08:00:00Z");
  CHECK(d.body["updated_at"] == "2026-11-23T08:00:00Z");
  CHECK(d.body["updated_by"] == "li");
  CHECK(w.tasks.empty());  // deciding changes nothing; folding does
}

TEST_CASE("a created task is folded into the book as the event describes it") {
  World w;
  std::string id = w.claim_task();
  const Task& t = w.task(id);
  CHECK(t.id.str() == id);
  CHECK(t.kind == "errand");
  CHECK(t.area == "gulou/antai/yili");
  CHECK(t.creator == "li");
  CHECK(t.state == TaskState::open);
  CHECK(t.dispatch == Dispatch::claim);
  CHECK(t.assignee.empty());
  CHECK(t.offered_to.empty());
  REQUIRE(w.log.size() == 1);
  CHECK(w.log[0].scope == "area:gulou/antai/yili");
  CHECK(w.log[0].seq == 1);
}

TEST_CASE("direct dispatch offers the task to the assignee; an assignee implies direct") {
  World w;
  SUBCASE("dispatch given") {
    w.create(li, Json{{"kind", "doorknock"}, {"title", "visit 3-502"}, {"area", "gulou/antai/yili"},
                      {"assignee", "bob"}, {"dispatch", "direct"}});
  }
  SUBCASE("dispatch implied by the assignee") {
    w.create(li, Json{{"kind", "doorknock"}, {"title", "visit 3-502"}, {"area", "gulou/antai/yili"},
                      {"assignee", "bob"}});
  }
  const Task& t = w.tasks.begin()->second;
  CHECK(t.state == TaskState::offered);
  CHECK(t.dispatch == Dispatch::direct);
  CHECK(t.offered_to == "bob");
  CHECK(t.assignee.empty());  // nobody holds it until bob accepts
}

TEST_CASE("explicit claim dispatch without an assignee opens the task to the area") {
  World w;
  auto id = w.create(li, Json{{"kind", "sampling"}, {"title", "count b3"}, {"area", "gulou/antai/yili/b3"},
                              {"dispatch", "claim"}});
  CHECK(w.task(id).state == TaskState::open);
  CHECK(w.task(id).dispatch == Dispatch::claim);
}

TEST_CASE("create keeps priority, details and the due time, normalised to UTC") {
  World w;
  SUBCASE("due with an offset") {
    auto id = w.create(li, Json{{"kind", "errand"},
                                {"title", "medicine"},
                                {"area", "gulou/antai/yili"},
                                {"priority", "urgent"},
                                {"due", "2026-11-23T18:30:00+08:00"},
                                {"details", {{"items", "布洛芬 1盒"}, {"address", "3栋502"}, {"budget", "40"}}}});
    const Task& t = w.task(id);
    CHECK(t.priority == Priority::urgent);
    CHECK(t.due == "2026-11-23T10:30:00Z");
    CHECK(t.details == std::map<std::string, std::string>{{"items", "布洛芬 1盒"}, {"address", "3栋502"}, {"budget", "40"}});
  }
  SUBCASE("due as the command line writes it") {
    auto id = w.create(li, Json{{"kind", "errand"}, {"title", "medicine"}, {"area", "gulou/antai/yili"},
                                {"priority", "low"}, {"due", "2026-11-24 09:15"}});
    CHECK(w.task(id).priority == Priority::low);
    CHECK(w.task(id).due == "2026-11-24T09:15:00Z");
  }
  SUBCASE("null means absent") {
    auto id = w.create(li, Json{{"kind", "errand"}, {"title", "medicine"}, {"area", "gulou/antai/yili"},
                                {"priority", nullptr}, {"due", nullptr}, {"assignee", nullptr},
                                {"dispatch", nullptr}, {"details", nullptr}});
    CHECK(w.task(id).priority == Priority::normal);
    CHECK(w.task(id).due.empty());
    CHECK(w.task(id).details.empty());
    CHECK(w.task(id).state == TaskState::open);
  }
}

TEST_CASE("create accepts fields at their size limits") {
  World w;
  Json details = Json::object();
  for (int i = 0; i < 32; ++i) details["k" + std::to_string(i)] = std::string(1000, 'v');
  details[std::string(64, 'k')] = "long key";
  details.erase("k0");  // 32 in all
  auto id = w.create(li, Json{{"kind", "generic"}, {"title", std::string(400, 't')}, {"area", "gulou/antai/yili"},
                              {"details", details}});
  CHECK(w.task(id).title.size() == 400);
  CHECK(w.task(id).details.size() == 32);
}

TEST_CASE("create rejects malformed bodies as invalid, naming the problem") {
  struct Case {
    const char* what;
    Json body;
    const char* message;
  };
  Json many = Json::object();
  for (int i = 0; i < 33; ++i) many["k" + std::to_string(i)] = "v";
  auto with = [](const char* key, Json value) {
    Json b = errand("gulou/antai/yili");
    b[key] = std::move(value);
    return b;
  };
  auto without = [](const char* key) {
    Json b = errand("gulou/antai/yili");
    b.erase(key);
    return b;
  };
  const std::vector<Case> cases{
      {"body is not an object", Json::array({"errand"}), "op body must be an object"},
      {"body is a string", Json("errand"), "op body must be an object"},
      {"kind missing", without("kind"), "missing field 'kind'"},
      {"kind not a string", with("kind", 5), "field 'kind' must be a string"},
      {"kind unknown", with("kind", "shopping"), "unknown task kind 'shopping'"},
      {"title missing", without("title"), "missing field 'title'"},
      {"title empty", with("title", ""), "title must not be empty"},
      {"title too long", with("title", std::string(401, 't')), "field 'title' is longer than 400 bytes"},
      {"area missing", without("area"), "missing field 'area'"},
      {"area not a path", with("area", "gulou//antai"), "invalid area path 'gulou//antai'"},
      {"area empty", with("area", ""), "invalid area path ''"},
      {"assignee not a string", with("assignee", Json::array({"bob"})), "field 'assignee' must be a string"},
      {"dispatch unknown", with("dispatch", "broadcast"), "dispatch must be direct, offer or claim"},
      {"skill of two words", with("skill", "first aid"), "skill must be one word"},
      {"skill empty", with("skill", ""), "skill must be one word"},
      {"direct without assignee", with("dispatch", "direct"), "direct dispatch needs an assignee"},
      {"priority unknown", with("priority", "asap"), "priority must be low, normal, high or urgent"},
      {"priority a number", with("priority", 3), "field 'priority' must be a string"},
      {"due not a time", with("due", "tomorrow"), "due is not a valid time: 'tomorrow'"},
      {"due in a local format", with("due", "23/11/2026 08:00"), "due is not a valid time: '23/11/2026 08:00'"},
      {"details an array", with("details", Json::array({"a=b"})), "details must be an object of strings"},
      {"details a string", with("details", "a=b"), "details must be an object of strings"},
      {"detail not a string", with("details", Json{{"budget", 40}}), "details must map short keys to strings"},
      {"detail key empty", with("details", Json{{"", "x"}}), "details must map short keys to strings"},
      {"detail key too long", with("details", Json{{std::string(65, 'k'), "x"}}),
       "details must map short keys to strings"},
      {"detail value too long", with("details", Json{{"items", std::string(1001, 'x')}}),
       "details must map short keys to strings"},
      {"too many details", with("details", many), "too many details"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    World w;
    Outcome r = w.run(li, "task.create", c.body);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == c.message);
    CHECK(w.tasks.empty());
  }

  SUBCASE("claim dispatch takes no assignee") {
    World w;
    Json b = errand("gulou/antai/yili");
    b["dispatch"] = "claim";
    b["assignee"] = "bob";
    Outcome r = w.run(li, "task.create", b);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == "claim dispatch takes no assignee");
  }
}

TEST_CASE("volunteers and hotline operators may not create tasks") {
  for (const Actor* a : {&bob, &hana}) {
    CAPTURE(a->name);
    World w;
    Outcome r = w.run(*a, "task.create", errand("gulou/antai/yili"));
    CHECK(code_of(r) == "forbidden");
    CHECK(message_of(r) == a->name + " may not create tasks in gulou/antai/yili");
  }
}

TEST_CASE("a plugin creates errand tasks in its home area and below, nothing else and nowhere else") {
  World w;
  CHECK(code_of(w.run(bridge, "task.create", errand("gulou/antai/yili"))) == "ok");
  CHECK(code_of(w.run(bridge, "task.create", errand("gulou/antai/yili/b3"))) == "ok");
  Outcome above = w.run(bridge, "task.create", errand("gulou/antai"));
  CHECK(code_of(above) == "forbidden");
  CHECK(message_of(above) == "bridge may not create tasks in gulou/antai");
  CHECK(code_of(w.run(bridge, "task.create", errand("gulou/gaolou"))) == "forbidden");
  for (const char* kind : {"sampling", "doorknock", "hotline_followup", "generic"}) {
    CAPTURE(kind);
    Json body = errand("gulou/antai/yili");
    body["kind"] = kind;
    Outcome r = w.run(bridge, "task.create", body);
    CHECK(code_of(r) == "forbidden");
    CHECK(message_of(r) == "bridge is a plugin: it may create only errand tasks");
  }
}

TEST_CASE("a plugin may cancel the tasks it created, and no others") {
  World w;
  const std::string mine = w.create(bridge, errand("gulou/antai/yili/b3"));
  const std::string theirs = w.claim_task();
  CHECK(code_of(w.act(bridge, "task.cancel", theirs)) == "forbidden");
  CHECK(code_of(w.act(bridge, "task.claim", theirs)) == "forbidden");  // plugins are not volunteers
  CHECK(code_of(w.act(bridge, "task.cancel", mine)) == "ok");
  CHECK(w.tasks.at(muster::domain::TaskId(mine)).state == TaskState::cancelled);
}

TEST_CASE("managers create tasks in their home area and below, never above or beside") {
  World w;
  CHECK(code_of(w.run(li, "task.create", errand("gulou/antai"))) == "ok");
  CHECK(code_of(w.run(li, "task.create", errand("gulou/antai/yili"))) == "ok");
  CHECK(code_of(w.run(li, "task.create", errand("gulou/antai/yili/b3"))) == "ok");
  CHECK(code_of(w.run(zhou, "task.create", errand("gulou/gaolou"))) == "ok");  // coordinator of the district
  CHECK(code_of(w.run(root, "task.create", errand("gulou"))) == "ok");         // admin

  Outcome above = w.run(li, "task.create", errand("gulou"));
  CHECK(code_of(above) == "forbidden");
  CHECK(message_of(above) == "li may not create tasks in gulou");
  CHECK(code_of(w.run(li, "task.create", errand("gulou/gaolou"))) == "forbidden");
  CHECK(code_of(w.run(yan, "task.create", errand("gulou/antai"))) == "forbidden");
  CHECK(w.tasks.size() == 5);
}

TEST_CASE("the server's directory rejects unknown areas and unknown assignees") {
  World w;
  Outcome area = w.run(li, "task.create", errand("gulou/antai/nowhere"));
  CHECK(code_of(area) == "invalid");
  CHECK(message_of(area) == "unknown area 'gulou/antai/nowhere'");

  Json b = errand("gulou/antai/yili");
  b["assignee"] = "ghost";
  Outcome user = w.run(li, "task.create", b);
  CHECK(code_of(user) == "invalid");
  CHECK(message_of(user) == "unknown user 'ghost'");
  CHECK(w.tasks.empty());
}

TEST_CASE("permission is checked before the directory: no probing for areas outside one's own") {
  World w;
  Outcome r = w.run(li, "task.create", errand("gulou/secret"));
  CHECK(code_of(r) == "forbidden");
}

TEST_CASE("an assignee must be able to see the task's area") {
  World w;
  auto assign = [&](const char* who, const char* area) {
    Json b = errand(area);
    b["assignee"] = who;
    return w.run(li, "task.create", b);
  };
  Outcome beside = assign("dave", "gulou/antai/yili");  // dave lives in gulou/gaolou
  CHECK(code_of(beside) == "invalid");
  CHECK(message_of(beside) == "dave does not belong to area gulou/antai/yili");
  // A volunteer of the street does not see the communities below it.
  CHECK(code_of(assign("erin", "gulou/antai/yili")) == "invalid");
  // A community volunteer sees the street above: a street task may go to bob.
  CHECK(code_of(assign("bob", "gulou/antai")) == "ok");
  CHECK(code_of(assign("erin", "gulou/antai")) == "ok");
}

TEST_CASE("an UnknownDirectory (the client's optimistic view) skips directory checks, not role checks") {
  World w;
  UnknownDirectory client_view;
  w.directory = &client_view;

  CHECK(code_of(w.run(li, "task.create", errand("gulou/antai/nowhere"))) == "ok");
  Json ghost = errand("gulou/antai/yili");
  ghost["assignee"] = "ghost";
  CHECK(code_of(w.run(li, "task.create", ghost)) == "ok");
  Json beside = errand("gulou/antai/yili");
  beside["assignee"] = "dave";
  CHECK(code_of(w.run(li, "task.create", beside)) == "ok");

  CHECK(code_of(w.run(bob, "task.create", errand("gulou/antai/yili"))) == "forbidden");
  CHECK(code_of(w.run(li, "task.create", errand("gulou"))) == "forbidden");
  CHECK(code_of(w.run(li, "task.create", errand("gulou//x"))) == "invalid");
  CHECK(w.tasks.size() == 3);
}

TEST_CASE("a create op replayed after its task exists is a conflict, not a second task") {
  World w;
  const Op op{OpId(op_id(99)), "task.create", errand("gulou/antai/yili")};
  REQUIRE(w.run_op(li, op).ok());
  Outcome again = w.run_op(li, op);
  CHECK(code_of(again) == "conflict");
  CHECK(message_of(again) == "task " + op.id.str() + " already exists");
  CHECK(w.tasks.size() == 1);
  CHECK(w.log.size() == 1);
}

// ======================================================================= claim

TEST_CASE("the first volunteer to claim an open task holds it") {
  World w;
  auto id = w.claim_task();
  Outcome r = w.act(bob, "task.claim", id);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().scope == "area:gulou/antai/yili");
  CHECK(r->front().kind == "task.claimed");
  CHECK(r->front().body == Json{{"task", id}});

  const Task& t = w.task(id);
  CHECK(t.state == TaskState::accepted);
  CHECK(t.assignee == "bob");
  CHECK(t.updated_by == "bob");
  CHECK(t.updated_at == w.log.back().at);
  CHECK(t.updated_at != t.created_at);
  CHECK(w.log.back().seq == 2);  // the task's events share its area's sequence
}

TEST_CASE("a second claim is a conflict whose message names the holder") {
  World w;
  auto id = w.claim_task();
  REQUIRE(w.act(bob, "task.claim", id).ok());
  Outcome late = w.act(carol, "task.claim", id);
  CHECK(code_of(late) == "conflict");
  CHECK(message_of(late) == "cannot claim: task is accepted by bob");
  CHECK(w.task(id).assignee == "bob");

  Outcome again = w.act(bob, "task.claim", id);  // claiming one's own task again
  CHECK(code_of(again) == "conflict");
  CHECK(message_of(again) == "cannot claim: task is accepted by bob");
}

TEST_CASE("only volunteers claim tasks") {
  World w;
  auto id = w.claim_task();
  for (const Actor* a : {&li, &yan, &zhou, &root, &hana, &bridge}) {
    CAPTURE(a->name);
    Outcome r = w.act(*a, "task.claim", id);
    CHECK(code_of(r) == "forbidden");
    CHECK(message_of(r) == "only volunteers claim tasks");
  }
  CHECK(w.state_of(id) == "open");

  const Actor lead_and_volunteer{"mia", Roles{Role::lead, Role::volunteer}, "gulou/antai/yili"};
  CHECK(code_of(w.act(lead_and_volunteer, "task.claim", id)) == "ok");
}

TEST_CASE("claim needs an open task") {
  World w;
  SUBCASE("offered to someone else") {
    auto id = w.direct_task("bob");
    Outcome r = w.act(carol, "task.claim", id);
    CHECK(code_of(r) == "conflict");
    CHECK(message_of(r) == "cannot claim: task is offered to bob");
  }
  SUBCASE("offered to the claimant, who must accept instead") {
    auto id = w.direct_task("bob");
    CHECK(code_of(w.act(bob, "task.claim", id)) == "conflict");
  }
  SUBCASE("started") {
    auto id = w.task_in("started");
    Outcome r = w.act(carol, "task.claim", id);
    CHECK(code_of(r) == "conflict");
    CHECK(message_of(r) == "cannot claim: task is started by bob");
  }
  SUBCASE("done") {
    auto id = w.task_in("done");
    CHECK(message_of(w.act(carol, "task.claim", id)) == "cannot claim: task is done by bob");
  }
  SUBCASE("failed") {
    auto id = w.task_in("failed");
    CHECK(message_of(w.act(carol, "task.claim", id)) == "cannot claim: task is failed by bob");
  }
  SUBCASE("cancelled") {
    auto id = w.task_in("cancelled");
    Outcome r = w.act(carol, "task.claim", id);
    CHECK(code_of(r) == "conflict");
    CHECK(message_of(r) == "cannot claim: task is cancelled");
  }
}

TEST_CASE("volunteers below a street see and claim the street's tasks") {
  World w;
  auto id = w.claim_task("gulou/antai");
  CHECK(code_of(w.act(bob, "task.claim", id)) == "ok");
}

// ======================================================================= accept / decline

TEST_CASE("the assignee accepts an offered task and holds it") {
  World w;
  auto id = w.direct_task("bob");
  Outcome r = w.act(bob, "task.accept", id);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().kind == "task.accepted");
  CHECK(r->front().scope == "area:gulou/antai/yili");
  const Task& t = w.task(id);
  CHECK(t.state == TaskState::accepted);
  CHECK(t.assignee == "bob");
  CHECK(t.offered_to.empty());
}

TEST_CASE("nobody but the offered user may accept or decline; they get a conflict naming the offer") {
  World w;
  auto id = w.direct_task("bob");
  for (const Actor* a : {&carol, &li, &zhou}) {
    CAPTURE(a->name);
    Outcome accept = w.act(*a, "task.accept", id);
    CHECK(code_of(accept) == "conflict");
    CHECK(message_of(accept) == "cannot accept: task is offered to bob");
    Outcome decline = w.act(*a, "task.decline", id);
    CHECK(code_of(decline) == "conflict");
    CHECK(message_of(decline) == "cannot decline: task is offered to bob");
  }
  CHECK(w.state_of(id) == "offered");
  CHECK(w.task(id).offered_to == "bob");
}

TEST_CASE("decline returns the task to open and records who declined") {
  World w;
  auto id = w.direct_task("bob");
  Outcome r = w.act(bob, "task.decline", id, Json{{"note", "I am in quarantine"}});
  REQUIRE(r.ok());
  CHECK(r->front().kind == "task.declined");
  CHECK(r->front().body == Json{{"task", id}, {"note", "I am in quarantine"}});

  const Task& t = w.task(id);
  CHECK(t.state == TaskState::open);
  CHECK(t.offered_to.empty());
  CHECK(t.assignee.empty());
  CHECK(t.declined_by == std::vector<std::string>{"bob"});
  CHECK(t.note == "I am in quarantine");

  // Back to open: any volunteer of the area may now claim it, bob included.
  CHECK(code_of(w.act(carol, "task.claim", id)) == "ok");
  CHECK(w.task(id).assignee == "carol");
  CHECK(w.task(id).declined_by == std::vector<std::string>{"bob"});
}

TEST_CASE("accept and decline need a pending offer") {
  World w;
  SUBCASE("an open claim task has no offer") {
    auto id = w.claim_task();
    CHECK(message_of(w.act(bob, "task.accept", id)) == "cannot accept: task is open");
    CHECK(message_of(w.act(bob, "task.decline", id)) == "cannot decline: task is open");
  }
  SUBCASE("accepting twice") {
    auto id = w.direct_task("bob");
    REQUIRE(w.act(bob, "task.accept", id).ok());
    Outcome r = w.act(bob, "task.accept", id);
    CHECK(code_of(r) == "conflict");
    CHECK(message_of(r) == "cannot accept: task is accepted by bob");
    CHECK(message_of(w.act(bob, "task.decline", id)) == "cannot decline: task is accepted by bob");
  }
  SUBCASE("declining twice") {
    auto id = w.direct_task("bob");
    REQUIRE(w.act(bob, "task.decline", id).ok());
    CHECK(code_of(w.act(bob, "task.decline", id)) == "conflict");
    CHECK(code_of(w.act(bob, "task.accept", id)) == "conflict");  // too late to change one's mind
  }
  SUBCASE("final states") {
    for (const char* s : {"done", "failed", "cancelled"}) {
      CAPTURE(s);
      auto id = w.task_in(s);
      CHECK(code_of(w.act(bob, "task.accept", id)) == "conflict");
      CHECK(code_of(w.act(bob, "task.decline", id)) == "conflict");
    }
  }
}

// ======================================================================= start

TEST_CASE("the holder starts an accepted task") {
  World w;
  auto id = w.task_in("accepted");
  Outcome r = w.act(bob, "task.start", id);
  REQUIRE(r.ok());
  CHECK(r->front().kind == "task.started");
  CHECK(w.state_of(id) == "started");
  CHECK(w.task(id).assignee == "bob");
}

TEST_CASE("only the holder may start a task") {
  World w;
  auto id = w.task_in("accepted");
  for (const Actor* a : {&carol, &li, &zhou}) {
    CAPTURE(a->name);
    Outcome r = w.act(*a, "task.start", id);
    CHECK(code_of(r) == "forbidden");
    CHECK(message_of(r) == "only bob may start this task");
  }
  CHECK(w.state_of(id) == "accepted");
}

TEST_CASE("start needs an accepted task") {
  for (const std::string& s : kAllStates) {
    if (s == "accepted") continue;
    CAPTURE(s);
    World w;
    auto id = w.task_in(s);
    Outcome r = w.act(bob, "task.start", id);
    CHECK(code_of(r) == "conflict");
    CHECK(message_of(r).rfind("cannot start: task is " + s, 0) == 0);
  }
}

// ======================================================================= done

TEST_CASE("the holder finishes a task, started or straight from accepted") {
  for (const char* from : {"accepted", "started"}) {
    CAPTURE(from);
    World w;
    auto id = w.task_in(from);
    Outcome r = w.act(bob, "task.done", id, Json{{"note", "left at the door, receipt 38.50"}});
    REQUIRE(r.ok());
    CHECK(r->front().kind == "task.done");
    CHECK(r->front().body["note"] == "left at the door, receipt 38.50");
    CHECK(w.state_of(id) == "done");
    CHECK(w.task(id).assignee == "bob");
    CHECK(w.task(id).note == "left at the door, receipt 38.50");
  }
}

TEST_CASE("only the holder may finish a task, not even the lead") {
  for (const char* from : {"accepted", "started"}) {
    CAPTURE(from);
    World w;
    auto id = w.task_in(from);
    for (const Actor* a : {&carol, &li}) {
      Outcome r = w.act(*a, "task.done", id);
      CHECK(code_of(r) == "forbidden");
      CHECK(message_of(r) == "only bob may finish this task");
    }
    CHECK(w.state_of(id) == from);
  }
}

TEST_CASE("done needs an accepted or started task") {
  for (const char* s : {"open", "offered", "done", "failed", "cancelled"}) {
    CAPTURE(s);
    World w;
    auto id = w.task_in(s);
    Outcome r = w.act(bob, "task.done", id);
    CHECK(code_of(r) == "conflict");
    CHECK(message_of(r).rfind(std::string("cannot finish: task is ") + s, 0) == 0);
  }
}

// ======================================================================= fail

TEST_CASE("the holder fails a task, started or accepted") {
  for (const char* from : {"accepted", "started"}) {
    CAPTURE(from);
    World w;
    auto id = w.task_in(from);
    Outcome r = w.act(bob, "task.fail", id, Json{{"note", "shop closed"}});
    REQUIRE(r.ok());
    CHECK(r->front().kind == "task.failed");
    CHECK(w.state_of(id) == "failed");
    CHECK(w.task(id).note == "shop closed");
  }
}

TEST_CASE("a lead of the task's area may fail a held task; other people may not") {
  World w;
  for (const Actor* manager : {&li, &yan, &zhou}) {
    CAPTURE(manager->name);
    auto id = w.task_in("started");
    CHECK(code_of(w.act(*manager, "task.fail", id)) == "ok");
    CHECK(w.state_of(id) == "failed");
    CHECK(w.task(id).updated_by == manager->name);
    CHECK(w.task(id).assignee == "bob");  // the record keeps who held it
  }

  auto id = w.task_in("started");
  Outcome other = w.act(carol, "task.fail", id);
  CHECK(code_of(other) == "forbidden");
  CHECK(message_of(other) == "only the holder or a lead of gulou/antai/yili may fail this task");
}

TEST_CASE("a lead of a community may not fail its street's tasks, which it can see") {
  World w;
  auto id = w.claim_task("gulou/antai");
  REQUIRE(w.act(bob, "task.claim", id).ok());
  Outcome r = w.act(yan, "task.fail", id);  // yan leads gulou/antai/yili, below the task's area
  CHECK(code_of(r) == "forbidden");
  CHECK(message_of(r) == "only the holder or a lead of gulou/antai may fail this task");
}

TEST_CASE("fail needs an accepted or started task") {
  for (const char* s : {"open", "offered", "done", "failed", "cancelled"}) {
    CAPTURE(s);
    World w;
    auto id = w.task_in(s);
    for (const Actor* a : {&bob, &li}) {
      Outcome r = w.act(*a, "task.fail", id);
      CHECK(code_of(r) == "conflict");
      CHECK(message_of(r).rfind(std::string("cannot fail: task is ") + s, 0) == 0);
    }
  }
}

// ======================================================================= cancel

TEST_CASE("the creator cancels a task in any non-final state") {
  for (const char* s : {"open", "offered", "accepted", "started"}) {
    CAPTURE(s);
    World w;
    auto id = w.task_in(s);
    Outcome r = w.act(li, "task.cancel", id, Json{{"note", "resident went to hospital"}});
    REQUIRE(r.ok());
    CHECK(r->front().kind == "task.cancelled");
    CHECK(r->front().scope == "area:gulou/antai/yili");
    const Task& t = w.task(id);
    CHECK(t.state == TaskState::cancelled);
    CHECK(t.offered_to.empty());  // a cancelled offer is no longer pending
    CHECK(t.note == "resident went to hospital");
  }
}

TEST_CASE("a manager of the area may cancel a task someone else created") {
  for (const Actor* manager : {&yan, &zhou, &root}) {
    CAPTURE(manager->name);
    World w;
    auto id = w.task_in("accepted");  // created by li
    CHECK(code_of(w.act(*manager, "task.cancel", id)) == "ok");
    CHECK(w.state_of(id) == "cancelled");
  }
}

TEST_CASE("a volunteer may not cancel someone else's task, not even the one they hold") {
  World w;
  auto id = w.task_in("accepted");
  for (const Actor* a : {&bob, &carol, &hana}) {
    CAPTURE(a->name);
    Outcome r = w.act(*a, "task.cancel", id);
    CHECK(code_of(r) == "forbidden");
    CHECK(message_of(r) == "only the creator or a lead of gulou/antai/yili may cancel this task");
  }
  CHECK(w.state_of(id) == "accepted");
}

TEST_CASE("the creator may cancel even outside the areas they manage now") {
  World w;
  auto id = w.create(yan, errand("gulou/antai/yili"));
  const Actor moved_yan{"yan", Roles{Role::lead}, "gulou/antai/yili/b3"};  // yan moved down a level
  CHECK(code_of(w.act(moved_yan, "task.cancel", id)) == "ok");
}

TEST_CASE("a lead of a community may not cancel its street's tasks, which it can see") {
  World w;
  auto id = w.claim_task("gulou/antai");  // created by li, the street lead
  Outcome r = w.act(yan, "task.cancel", id);  // yan leads gulou/antai/yili, below the task's area
  CHECK(code_of(r) == "forbidden");
  CHECK(message_of(r) == "only the creator or a lead of gulou/antai may cancel this task");
  CHECK(w.state_of(id) == "open");
}

TEST_CASE("final tasks cannot be cancelled") {
  World w;
  auto done = w.task_in("done");
  Outcome r = w.act(li, "task.cancel", done);
  CHECK(code_of(r) == "conflict");
  CHECK(message_of(r) == "cannot cancel: task is done by bob");
  CHECK(message_of(w.act(li, "task.cancel", w.task_in("failed"))) == "cannot cancel: task is failed by bob");
  CHECK(message_of(w.act(li, "task.cancel", w.task_in("cancelled"))) == "cannot cancel: task is cancelled");
}

// ======================================================================= the whole matrix

TEST_CASE("every op from every state by the right person: what is legal") {
  // The state diagram, from the holder's (bob's) and the creator's (li's) side.
  struct Move {
    const char* op;
    const Actor* who;
    std::set<std::string> legal_from;
    const char* to;
  };
  const std::vector<Move> moves{
      {"task.claim", &carol, {"open"}, "accepted"},
      {"task.accept", &bob, {"offered"}, "accepted"},
      {"task.decline", &bob, {"offered"}, "open"},
      {"task.start", &bob, {"accepted"}, "started"},
      {"task.done", &bob, {"accepted", "started"}, "done"},
      {"task.fail", &bob, {"accepted", "started"}, "failed"},
      {"task.cancel", &li, {"open", "offered", "accepted", "started"}, "cancelled"},
  };
  for (const Move& m : moves) {
    for (const std::string& from : kAllStates) {
      CAPTURE(m.op);
      CAPTURE(from);
      World w;
      auto id = w.task_in(from);
      auto events_before = w.log.size();
      Outcome r = w.act(*m.who, m.op, id);
      if (m.legal_from.count(from)) {
        CHECK(code_of(r) == "ok");
        CHECK(w.state_of(id) == m.to);
        CHECK(w.log.size() == events_before + 1);
      } else {
        CHECK(code_of(r) == "conflict");
        CHECK(w.state_of(id) == from);
        CHECK(w.log.size() == events_before);
      }
    }
  }
}

// ======================================================================= not found and bad bodies

TEST_CASE("an unknown task id is not_found for every transition") {
  for (const char* kind : {"task.claim", "task.accept", "task.decline", "task.start", "task.done", "task.fail",
                           "task.cancel"}) {
    CAPTURE(kind);
    World w;
    w.claim_task();
    Outcome r = w.act(kind == std::string("task.claim") ? bob : li, kind, "01JDNOSUCHTASK");
    CHECK(code_of(r) == "not_found");
    CHECK(message_of(r) == "no task 01JDNOSUCHTASK");
  }
}

TEST_CASE("a task outside the actor's visible areas is not_found, never forbidden") {
  World w;
  auto yili = w.claim_task("gulou/antai/yili");
  auto b3 = w.claim_task("gulou/antai/yili/b3");

  Outcome beside = w.act(dave, "task.claim", yili);  // dave lives on the next street
  CHECK(code_of(beside) == "not_found");
  CHECK(message_of(beside) == "no task " + yili);
  CHECK(code_of(w.act(wang, "task.cancel", yili)) == "not_found");  // a lead of the next street
  CHECK(code_of(w.act(bob, "task.claim", b3)) == "not_found");      // volunteers do not see below home
  CHECK(code_of(w.act(erin, "task.claim", yili)) == "not_found");

  REQUIRE(w.act(bob, "task.claim", yili).ok());
  CHECK(code_of(w.act(dave, "task.done", yili)) == "not_found");
  CHECK(w.state_of(yili) == "accepted");
}

TEST_CASE("transition ops need a task id and take an optional string note") {
  World w;
  auto id = w.claim_task();
  auto run = [&](Json body) { return w.run(bob, "task.claim", std::move(body)); };

  Outcome missing = run(Json::object());
  CHECK(code_of(missing) == "invalid");
  CHECK(message_of(missing) == "missing field 'task'");
  CHECK(message_of(run(Json{{"task", 7}})) == "field 'task' must be a string");
  CHECK(message_of(run(Json{{"task", std::string(65, '0')}})) == "field 'task' is longer than 64 bytes");
  CHECK(message_of(run(Json{{"task", id}, {"note", 5}})) == "field 'note' must be a string");
  CHECK(message_of(run(Json{{"task", id}, {"note", std::string(2001, 'n')}})) ==
        "field 'note' is longer than 2000 bytes");
  CHECK(message_of(w.run(bob, "task.claim", Json::array())) == "op body must be an object");
  CHECK(w.state_of(id) == "open");

  CHECK(code_of(run(Json{{"task", id}, {"note", std::string(2000, 'n')}})) == "ok");
  CHECK(w.task(id).note.size() == 2000);
}

TEST_CASE("op kinds outside the task machine are invalid") {
  World w;
  auto id = w.claim_task();
  for (const char* kind : {"task.offer", "task.created", "task.reopen", "notice.post", ""}) {
    CAPTURE(kind);
    Outcome r = w.act(bob, kind, id);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == std::string("unknown op kind '") + kind + "'");
  }
}

TEST_CASE("a note is carried by the event and becomes the task's last note; no note, no key") {
  World w;
  auto id = w.direct_task("bob");
  Outcome accept = w.act(bob, "task.accept", id);
  REQUIRE(accept.ok());
  CHECK_FALSE(accept->front().body.contains("note"));
  CHECK(w.task(id).note.empty());

  REQUIRE(w.act(bob, "task.start", id, Json{{"note", "on my way"}}).ok());
  CHECK(w.task(id).note == "on my way");
  REQUIRE(w.act(bob, "task.done", id).ok());
  CHECK(w.task(id).note == "on my way");  // an event without a note keeps the last one
}

// ======================================================================= whole stories

TEST_CASE("an errand offered, declined, claimed, started and done: one numbered event per step") {
  World w;
  auto id = w.direct_task("bob");
  REQUIRE(w.act(bob, "task.decline", id).ok());
  REQUIRE(w.act(carol, "task.claim", id).ok());
  REQUIRE(w.act(carol, "task.start", id).ok());
  REQUIRE(w.act(carol, "task.done", id, Json{{"note", "delivered"}}).ok());

  std::vector<std::string> kinds;
  for (const Event& e : w.log) {
    kinds.push_back(e.kind);
    CHECK(e.scope == "area:gulou/antai/yili");
    CHECK(e.seq == static_cast<std::int64_t>(kinds.size()));
  }
  CHECK(kinds == std::vector<std::string>{"task.created", "task.declined", "task.claimed", "task.started", "task.done"});

  const Task& t = w.task(id);
  CHECK(t.state == TaskState::done);
  CHECK(t.assignee == "carol");
  CHECK(t.declined_by == std::vector<std::string>{"bob"});
  CHECK(t.creator == "li");
  CHECK(t.updated_by == "carol");
  CHECK(t.updated_at == "2026-11-23T08:05:00Z");
  CHECK(t.created_at == "2026-11-23T08:01:00Z");
}

TEST_CASE("two volunteers claim while offline: the first to arrive wins, the second learns who") {
  World w;
  auto id = w.claim_task();
  const Op carol_claim{OpId(op_id(500)), "task.claim", Json{{"task", id}}};
  const Op bob_claim{OpId(op_id(400)), "task.claim", Json{{"task", id}}};  // made earlier, arrives later
  CHECK(code_of(w.run_op(carol, carol_claim)) == "ok");
  Outcome lost = w.run_op(bob, bob_claim);
  CHECK(code_of(lost) == "conflict");
  CHECK(message_of(lost) == "cannot claim: task is accepted by carol");
  CHECK(w.task(id).assignee == "carol");
}

// ======================================================================= fold

TEST_CASE("fold is total: unknown kinds, unknown tasks and malformed events change nothing") {
  World w;
  auto id = w.task_in("accepted");
  const Json before = to_json(w.task(id));

  auto event = [&](std::string kind, Json body) {
    Event e;
    e.scope = "area:gulou/antai/yili";
    e.seq = 99;
    e.gseq = 99;
    e.kind = std::move(kind);
    e.actor = "mallory";
    e.at = "2027-01-01T00:00:00Z";
    e.body = std::move(body);
    return e;
  };
  const std::vector<Event> ignored{
      event("task.exploded", Json{{"task", id}}),
      event("task.claimed", Json{{"task", "01JDNOSUCHTASK"}}),
      event("task.done", Json::object()),
      event("task.done", Json{{"task", 42}}),
      event("task.done", Json::array({id})),
      event("task.created", Json{{"id", "x"}}),                     // not a whole task
      event("task.created", Json{{"task", id}}),
      event("notice.posted", Json{{"task", id}}),
      event("", Json{{"task", id}}),
  };
  for (const Event& e : ignored) {
    CAPTURE(e.kind);
    CAPTURE(e.body.dump());
    CHECK(fold_task_event(w.tasks, e).empty());
    CHECK(w.tasks.size() == 1);
    CHECK(to_json(w.task(id)) == before);
  }
}

TEST_CASE("fold returns the id of the task it touched") {
  World w;
  auto id = w.claim_task();
  Event e = w.log.back();
  CHECK(fold_task_event(w.tasks, e).str() == id);
  Event claimed;
  claimed.kind = "task.claimed";
  claimed.actor = "bob";
  claimed.at = "2026-11-23T09:00:00Z";
  claimed.body = Json{{"task", id}};
  CHECK(fold_task_event(w.tasks, claimed).str() == id);
}

TEST_CASE("folding an event twice changes nothing more") {
  World w;
  auto id = w.direct_task("bob");
  REQUIRE(w.act(bob, "task.decline", id).ok());
  const Event declined = w.log.back();
  const Json once = to_json(w.task(id));
  CHECK(fold_task_event(w.tasks, declined).str() == id);
  CHECK(to_json(w.task(id)) == once);
  CHECK(w.task(id).declined_by.size() == 1);

  const Event created = w.log.front();
  TaskBook replay;
  fold_task_event(replay, created);
  fold_task_event(replay, created);
  fold_task_event(replay, declined);
  fold_task_event(replay, declined);
  CHECK(to_json(replay.at(TaskId(id))) == to_json(w.task(id)));
}

TEST_CASE("a replica folding the same log reaches the same book as the server") {
  World w;
  auto a = w.task_in("done");
  auto b = w.task_in("cancelled");
  auto c = w.direct_task("carol");
  REQUIRE(w.act(carol, "task.accept", c).ok());
  REQUIRE(w.act(li, "task.fail", c, Json{{"note", "carol fell ill"}}).ok());

  TaskBook replica;
  for (const Event& e : w.log) fold_task_event(replica, e);
  REQUIRE(replica.size() == w.tasks.size());
  for (const auto& id : {a, b, c}) CHECK(to_json(replica.at(TaskId(id))) == to_json(w.task(id)));
}

// ======================================================================= JSON

TEST_CASE("to_json and task_from_json round-trip every field") {
  Task t;
  t.id = TaskId("01JDTASK0000000000000000001");
  t.kind = "hotline_followup";
  t.title = "回访 3栋502";
  t.area = "gulou/antai/yili/b3";
  t.creator = "li";
  t.state = TaskState::failed;
  t.dispatch = Dispatch::direct;
  t.priority = Priority::high;
  t.assignee = "bob";
  t.offered_to = "";
  t.declined_by = {"carol", "erin"};
  t.due = "2026-11-24T02:00:00Z";
  t.details = {{"brief", "call back"}, {"phone", "138"}};
  t.note = "no answer";
  t.created_at = "2026-11-23T08:00:00Z";
  t.updated_at = "2026-11-23T09:00:00Z";
  t.updated_by = "bob";

  const Json j = to_json(t);
  CHECK(j["state"] == "failed");
  CHECK(j["dispatch"] == "direct");
  CHECK(j["priority"] == "high");
  CHECK(j["declined_by"] == Json::array({"carol", "erin"}));
  CHECK(j["details"] == Json{{"brief", "call back"}, {"phone", "138"}});

  auto back = task_from_json(j);
  REQUIRE(back.has_value());
  CHECK(back->id == t.id);
  CHECK(back->kind == t.kind);
  CHECK(back->title == t.title);
  CHECK(back->area == t.area);
  CHECK(back->creator == t.creator);
  CHECK(back->state == t.state);
  CHECK(back->dispatch == t.dispatch);
  CHECK(back->priority == t.priority);
  CHECK(back->assignee == t.assignee);
  CHECK(back->offered_to == t.offered_to);
  CHECK(back->declined_by == t.declined_by);
  CHECK(back->due == t.due);
  CHECK(back->details == t.details);
  CHECK(back->note == t.note);
  CHECK(back->created_at == t.created_at);
  CHECK(back->updated_at == t.updated_at);
  CHECK(back->updated_by == t.updated_by);
  CHECK(to_json(*back) == j);
  CHECK(task_from_json(Json::parse(j.dump())).has_value());  // survives the wire too
}

TEST_CASE("every state, dispatch and priority survives the JSON round trip") {
  for (const std::string& s : kAllStates) {
    Task t;
    t.id = TaskId("x");
    t.kind = "generic";
    t.title = "t";
    t.area = "gulou";
    t.state = *task_state_from_string(s);
    auto back = task_from_json(to_json(t));
    REQUIRE(back.has_value());
    CHECK(back->state == t.state);
  }
  for (auto d : {Dispatch::direct, Dispatch::offer, Dispatch::claim}) {
    Task t;
    t.dispatch = d;
    CHECK(task_from_json(to_json(t))->dispatch == d);
  }
  for (auto p : {Priority::low, Priority::normal, Priority::high, Priority::urgent}) {
    Task t;
    t.priority = p;
    CHECK(task_from_json(to_json(t))->priority == p);
  }
}

TEST_CASE("task_from_json needs id, kind, title, area and state; the rest defaults") {
  const Json minimal{{"id", "t1"}, {"kind", "generic"}, {"title", "x"}, {"area", "gulou"}, {"state", "open"}};
  auto t = task_from_json(minimal);
  REQUIRE(t.has_value());
  CHECK(t->dispatch == Dispatch::claim);
  CHECK(t->priority == Priority::normal);
  CHECK(t->assignee.empty());
  CHECK(t->declined_by.empty());
  CHECK(t->details.empty());

  for (const char* key : {"id", "kind", "title", "area", "state"}) {
    CAPTURE(key);
    Json j = minimal;
    j.erase(key);
    CHECK_FALSE(task_from_json(j).has_value());
  }
}

TEST_CASE("task_from_json rejects what is not a task, without throwing") {
  const Json good{{"id", "t1"}, {"kind", "generic"}, {"title", "x"}, {"area", "gulou"}, {"state", "open"}};
  auto with = [&](const char* key, Json value) {
    Json j = good;
    j[key] = std::move(value);
    return j;
  };
  CHECK_FALSE(task_from_json(Json()).has_value());
  CHECK_FALSE(task_from_json(Json::array()).has_value());
  CHECK_FALSE(task_from_json(Json("task")).has_value());
  CHECK_FALSE(task_from_json(with("state", "declined")).has_value());
  CHECK_FALSE(task_from_json(with("dispatch", "broadcast")).has_value());
  CHECK_FALSE(task_from_json(with("priority", "critical")).has_value());
  CHECK_FALSE(task_from_json(with("title", 5)).has_value());
  CHECK_FALSE(task_from_json(with("assignee", 5)).has_value());
  CHECK_FALSE(task_from_json(with("declined_by", "bob")).has_value());
  CHECK_FALSE(task_from_json(with("details", Json{{"budget", 40}})).has_value());
}
