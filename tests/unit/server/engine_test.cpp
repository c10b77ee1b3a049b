// The server's decision core (SPEC §2): Engine::commit decides a batch of ops with the
// shared reducers, numbers the events per scope (gap-free seq) and globally (gseq),
// records every decided op in log.db for idempotency and audit, and keeps nothing of
// a batch whose transaction fails. Each test runs on a fresh temp dir holding a real
// directory.db and log.db; time comes from a ManualClock.
#include "musterd/core/engine.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster/base/utf8.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/store/sqlite.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/log_store.hpp"
#include "engine_fixture.hpp"

namespace {

using namespace engine_fixture;

// The row the ops table holds for `id`: what the audit shows.
struct OpRow {
  std::string actor, device, kind, ack, at;
  bool ok = false;
};
std::optional<OpRow> op_row(LogStore& log, const std::string& id) {
  auto s = log.db().prepare("SELECT actor, device, kind, ok, ack, at FROM ops WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  OpRow row{s.text(0), s.text(1), s.text(2), s.text(4), s.text(5), s.int64(3) != 0};
  s.reset();
  return row;
}

std::string task_state(const Engine& engine, const std::string& id) {
  auto it = engine.state().tasks.find(muster::domain::TaskId(id));
  return it == engine.state().tasks.end() ? "absent" : std::string(muster::domain::to_string(it->second.state));
}

Json tasks_json(const Engine& engine) {
  Json out = Json::object();
  for (const auto& [id, t] : engine.state().tasks) out[id.str()] = muster::domain::to_json(t);
  return out;
}

}  // namespace

TEST_CASE("accepted ops append events numbered gap-free per scope and increasing globally") {
  Fixture f;
  const std::string a = f.id(), b = f.id(), c = f.id(), claim = f.id();
  Batch first = f.commit({sub("li", a, "task.create", create_body("gulou/antai/yili"), 7),
                          sub("li", b, "task.create", create_body("gulou/antai/yili"), 7),
                          sub("li", c, "task.create", create_body("gulou/antai"), 7)});
  f.clock.advance(60000);
  Batch second = f.commit({sub("bob", claim, "task.claim", Json{{"task", a}, {"note", "on my way"}}, 9)});

  for (const auto* batch : {&first, &second}) {
    for (const auto& d : batch->decisions) {
      CHECK(d.ok);
      CHECK(d.fresh);
      auto ack = decode_ack(d.ack);
      CHECK(ack.ok);
      CHECK(ack.id == d.op_id);
      CHECK_FALSE(ack.error.has_value());
    }
  }
  CHECK(first.decisions[0].origin == 7);
  CHECK(second.decisions[0].origin == 9);
  CHECK(second.decisions[0].op_id.str() == claim);

  std::vector<muster::domain::Event> events;
  for (const auto* batch : {&first, &second}) {
    for (const auto& del : batch->events) {
      // The frame is what every recipient gets: it must decode to the very event.
      auto decoded = protocol::decode_server_frame(del.frame);
      REQUIRE(decoded.ok());
      const auto* ev = std::get_if<protocol::EventFrame>(&*decoded);
      REQUIRE(ev != nullptr);
      CHECK(ev->event.scope == del.event.scope);
      CHECK(ev->event.seq == del.event.seq);
      CHECK(ev->event.gseq == del.event.gseq);
      CHECK(ev->event.id == del.event.id);
      CHECK(ev->event.op == del.event.op);
      CHECK(ev->event.kind == del.event.kind);
      CHECK(ev->event.actor == del.event.actor);
      CHECK(ev->event.at == del.event.at);
      CHECK(ev->event.body == del.event.body);
      CHECK(muster::is_ulid(del.event.id));
      events.push_back(del.event);
    }
  }
  REQUIRE(events.size() == 4);
  CHECK(events[0].scope == kYili);
  CHECK(events[0].seq == 1);
  CHECK(events[1].scope == kYili);
  CHECK(events[1].seq == 2);
  CHECK(events[2].scope == kAntai);
  CHECK(events[2].seq == 1);
  CHECK(events[3].scope == kYili);
  CHECK(events[3].seq == 3);
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].gseq == static_cast<std::int64_t>(i + 1));
  std::set<std::string> event_ids;
  for (const auto& e : events) event_ids.insert(e.id);
  CHECK(event_ids.size() == 4);

  CHECK(events[0].kind == "task.created");
  CHECK(events[0].op.str() == a);
  CHECK(events[0].actor == "li");
  CHECK(events[0].at == "2026-11-23T08:00:00Z");
  CHECK(events[3].kind == "task.claimed");
  CHECK(events[3].op.str() == claim);
  CHECK(events[3].actor == "bob");
  CHECK(events[3].at == "2026-11-23T08:01:00Z");
  CHECK(events[3].body == Json{{"task", a}, {"note", "on my way"}});

  CHECK(f.engine->head(kYili) == 3);
  CHECK(f.engine->head(kAntai) == 1);
  CHECK(f.engine->head("area:gulou") == 0);
  CHECK(f.engine->last_gseq() == 4);
  CHECK(task_state(*f.engine, a) == "accepted");
  CHECK(f.engine->state().tasks.at(muster::domain::TaskId(a)).assignee == "bob");
  CHECK(task_state(*f.engine, b) == "open");

  // The log holds the same frames, in seq order per scope.
  auto yili = f.log->read_scope(kYili, 0, 100);
  REQUIRE(yili.size() == 3);
  CHECK(yili[0].second == first.events[0].frame);
  CHECK(yili[1].second == first.events[1].frame);
  CHECK(yili[2].second == second.events[0].frame);
  CHECK(f.log->read_scope(kYili, 2, 100).size() == 1);
  CHECK(f.log->count_events() == 4);

  // Every op is recorded with its answer.
  for (const auto& [id, user, kind] : {std::tuple{a, "li", "task.create"}, std::tuple{claim, "bob", "task.claim"}}) {
    auto row = op_row(*f.log, id);
    REQUIRE(row.has_value());
    CHECK(row->actor == user);
    CHECK(row->device == std::string(user) + "-phone");
    CHECK(row->kind == kind);
    CHECK(row->ok);
  }
  CHECK(op_row(*f.log, claim)->ack == second.decisions[0].ack);
  CHECK(op_row(*f.log, claim)->at == "2026-11-23T08:01:00Z");
  CHECK(f.ops_rows() == 4);
}

TEST_CASE("the same op id again gets the byte-identical ack and appends nothing") {
  Fixture f;
  const std::string create = f.id(), claim = f.id();
  Decision created = f.one(sub("li", create, "task.create", create_body("gulou/antai/yili")));
  REQUIRE(created.ok);

  SUBCASE("in a later batch") {
    f.clock.advance(3600000);
    // The stored answer wins even if the resent body differs (the client cannot
    // change what it asked for by resending).
    Batch again = f.commit({sub("li", create, "task.create", create_body("gulou/antai/yili", "another title"), 42)});
    REQUIRE(again.decisions.size() == 1);
    CHECK(again.decisions[0].ack == created.ack);
    CHECK(again.decisions[0].ok);
    CHECK_FALSE(again.decisions[0].fresh);
    CHECK(again.decisions[0].origin == 42);
    CHECK(again.events.empty());
    CHECK(f.log->count_events() == 1);
    CHECK(f.engine->last_gseq() == 1);
    CHECK(f.engine->head(kYili) == 1);
    CHECK(f.engine->state().tasks.at(muster::domain::TaskId(create)).title == "buy medicine for 3-502");
    CHECK(f.ops_rows() == 1);
  }

  SUBCASE("twice inside one batch") {
    Batch b = f.commit({sub("bob", claim, "task.claim", Json{{"task", create}}, 1),
                        sub("bob", claim, "task.claim", Json{{"task", create}}, 2)});
    REQUIRE(b.decisions.size() == 2);
    CHECK(b.decisions[0].ok);
    CHECK(b.decisions[0].fresh);
    CHECK(b.decisions[1].ok);
    CHECK_FALSE(b.decisions[1].fresh);
    CHECK(b.decisions[1].ack == b.decisions[0].ack);
    CHECK(b.decisions[0].origin == 1);
    CHECK(b.decisions[1].origin == 2);  // each copy goes back where it came from
    CHECK(b.events.size() == 1);
    CHECK(f.log->count_events() == 2);
    CHECK(f.engine->last_gseq() == 2);
    CHECK(f.ops_rows() == 2);
  }

  SUBCASE("a rejected op, inside one batch and later") {
    const std::string bad = f.id();
    Batch b = f.commit({sub("carol", bad, "task.claim", Json{{"task", "01JNOSUCHTASK0000000000000"}}),
                        sub("carol", bad, "task.claim", Json{{"task", "01JNOSUCHTASK0000000000000"}})});
    CHECK(code_of(b.decisions[0]) == "not_found");
    CHECK(b.decisions[0].fresh);
    CHECK_FALSE(b.decisions[1].fresh);
    CHECK(b.decisions[1].ack == b.decisions[0].ack);
    f.clock.advance(1000);
    Decision later = f.one(sub("carol", bad, "task.claim", Json{{"task", "01JNOSUCHTASK0000000000000"}}));
    CHECK(later.ack == b.decisions[0].ack);
    CHECK_FALSE(later.ok);
    CHECK_FALSE(later.fresh);
    CHECK(f.ops_rows() == 2);
    CHECK(f.log->count_events() == 1);
  }
}

TEST_CASE("an op id already used by another user is refused and changes nothing") {
  Fixture f;
  const std::string create = f.id(), claim = f.id();
  REQUIRE(f.one(sub("li", create, "task.create", create_body("gulou/antai/yili"))).ok);
  Decision bobs = f.one(sub("bob", claim, "task.claim", Json{{"task", create}}));
  REQUIRE(bobs.ok);

  Decision carols = f.one(sub("carol", claim, "task.claim", Json{{"task", create}}));
  CHECK_FALSE(carols.ok);
  CHECK(code_of(carols) == "invalid");
  CHECK(message_of(carols).find("another user") != std::string::npos);
  CHECK(carols.ack != bobs.ack);
  CHECK(f.log->count_events() == 2);
  CHECK(f.engine->state().tasks.at(muster::domain::TaskId(create)).assignee == "bob");
  auto row = op_row(*f.log, claim);
  REQUIRE(row.has_value());
  CHECK(row->actor == "bob");  // the record still belongs to its owner
  CHECK(row->ack == bobs.ack);

  // Inside one batch too: the second user's copy does not get the first user's answer.
  const std::string fresh = f.id();
  Batch b = f.commit({sub("li", fresh, "task.create", create_body("gulou/antai")),
                      sub("erin", fresh, "task.create", create_body("gulou/antai"))});
  CHECK(b.decisions[0].ok);
  CHECK(code_of(b.decisions[1]) == "invalid");
  CHECK(b.events.size() == 1);

  // The owner still gets the original answer.
  CHECK(f.one(sub("bob", claim, "task.claim", Json{{"task", create}})).ack == bobs.ack);
}

TEST_CASE("an op id that is not a ULID is invalid and is not recorded") {
  Fixture f;
  for (const std::string id :
       {"not-a-ulid", "", "01j0000000000000000000000a", "81J00000000000000000000000", "01J000000000000000000000001"}) {
    CAPTURE(id);
    Decision d = f.one(sub("li", id, "task.create", create_body("gulou/antai")));
    CHECK_FALSE(d.ok);
    CHECK(code_of(d) == "invalid");
    CHECK(message_of(d).find("ULID") != std::string::npos);
    CHECK(decode_ack(d.ack).id.str() == id);
  }
  CHECK(f.log->count_events() == 0);
  CHECK(f.ops_rows() == 0);
  CHECK(f.engine->state().tasks.empty());
  CHECK(f.engine->last_gseq() == 0);
}

TEST_CASE("rejected ops append no event, are audited, and are answered identically when repeated") {
  Fixture f;
  const std::string task = f.id();
  REQUIRE(f.one(sub("li", task, "task.create", create_body("gulou/antai/yili"))).ok);
  REQUIRE(f.one(sub("bob", f.id(), "task.claim", Json{{"task", task}})).ok);
  f.clock.advance(5000);

  struct Case {
    const char* name;
    const char* user;
    const char* kind;
    Json body;
    const char* code;
  };
  const std::vector<Case> cases{
      {"a volunteer may not create tasks", "bob", "task.create", create_body("gulou/antai/yili"), "forbidden"},
      {"a lead outside the area may not either", "li", "task.create", create_body("gulou/gaolou"), "forbidden"},
      {"a claimed task cannot be claimed again", "carol", "task.claim", Json{{"task", task}}, "conflict"},
      {"only the holder starts it", "li", "task.start", Json{{"task", task}}, "forbidden"},
      {"no such task", "carol", "task.claim", Json{{"task", "01JZZZZZZZZZZZZZZZZZZZZZZZ"}}, "not_found"},
      {"a task outside one's areas is not found", "dave", "task.claim", Json{{"task", task}}, "not_found"},
      {"a missing title", "li", "task.create", Json{{"kind", "errand"}, {"area", "gulou/antai"}}, "invalid"},
      {"an unknown op kind", "li", "task.teleport", Json{{"task", task}}, "invalid"},
      {"an unknown area", "li", "task.create", create_body("gulou/antai/nowhere"), "invalid"},
  };
  const auto events_before = f.log->count_events();
  const auto gseq_before = f.engine->last_gseq();
  const Json state_before = tasks_json(*f.engine);
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string id = f.id();
    Decision d = f.one(sub(c.user, id, c.kind, c.body));
    CHECK_FALSE(d.ok);
    CHECK(d.fresh);
    CHECK(code_of(d) == c.code);
    CHECK(f.log->count_events() == events_before);
    CHECK(f.engine->last_gseq() == gseq_before);
    CHECK(tasks_json(*f.engine) == state_before);

    auto row = op_row(*f.log, id);
    REQUIRE(row.has_value());
    CHECK_FALSE(row->ok);
    CHECK(row->actor == c.user);
    CHECK(row->device == std::string(c.user) + "-phone");
    CHECK(row->kind == c.kind);
    CHECK(row->ack == d.ack);
    CHECK(row->at == "2026-11-23T08:00:05Z");

    // Later, even after the state changed under it, the answer is the stored one.
    Decision again = f.one(sub(c.user, id, c.kind, c.body));
    CHECK(again.ack == d.ack);
    CHECK_FALSE(again.ok);
    CHECK_FALSE(again.fresh);
  }
  CHECK(f.ops_rows() == static_cast<std::int64_t>(2 + cases.size()));
}

TEST_CASE("an oversized op kind or title is invalid, and the audit keeps only a bounded prefix") {
  Fixture f;
  const auto events_before = f.log->count_events();

  // 250 KB of an unknown kind (Chinese, so a byte cut could split a character).
  std::string huge_kind = "task.";
  while (huge_kind.size() < 250 * 1000) huge_kind += "派";
  const std::string kind_id = f.id();
  Decision d = f.one(sub("li", kind_id, huge_kind, create_body("gulou/antai/yili")));
  CHECK_FALSE(d.ok);
  CHECK(code_of(d) == "invalid");
  auto ack = decode_ack(d.ack);
  REQUIRE(ack.error.has_value());
  CHECK(ack.error->message == "op kind is longer than 64 bytes");
  CHECK(d.ack.size() < 1024);
  auto row = op_row(*f.log, kind_id);
  REQUIRE(row.has_value());
  CHECK_FALSE(row->ok);
  CHECK(row->kind.size() <= musterd::kMaxAuditFieldBytes);
  CHECK(row->kind.size() > 200);
  CHECK(muster::valid_utf8(row->kind));
  CHECK(huge_kind.compare(0, row->kind.size(), row->kind) == 0);
  CHECK(row->ack == d.ack);
  // Repeated, the same small answer.
  CHECK(f.one(sub("li", kind_id, huge_kind, create_body("gulou/antai/yili"))).ack == d.ack);

  // A kind exactly at the cap is looked up as usual (and unknown).
  const std::string at_cap = "task." + std::string(64 - 5, 'x');
  Decision cap = f.one(sub("li", f.id(), at_cap, Json{{"task", "x"}}));
  CHECK(code_of(cap) == "invalid");
  CHECK(decode_ack(cap.ack).error->message == "unknown op kind '" + at_cap + "'");

  // A 100 KB title.
  std::string title;
  while (title.size() < 100 * 1000) title += "买药";
  const std::string title_id = f.id();
  Decision t = f.one(sub("li", title_id, "task.create", create_body("gulou/antai/yili", title)));
  CHECK_FALSE(t.ok);
  CHECK(code_of(t) == "invalid");
  CHECK(decode_ack(t.ack).error->message == "field 'title' is longer than 400 bytes");
  CHECK(op_row(*f.log, title_id)->ack.size() < 1024);

  CHECK(f.log->count_events() == events_before);
  CHECK(f.engine->state().tasks.empty());
}

TEST_CASE("a conflict ack carries the object's current state and names the holder") {
  Fixture f;
  const std::string task = f.id();
  REQUIRE(f.one(sub("li", task, "task.create", create_body("gulou/antai/yili"))).ok);
  REQUIRE(f.one(sub("bob", f.id(), "task.claim", Json{{"task", task}})).ok);

  Decision d = f.one(sub("carol", f.id(), "task.claim", Json{{"task", task}}));
  auto ack = decode_ack(d.ack);
  CHECK_FALSE(ack.ok);
  REQUIRE(ack.error.has_value());
  CHECK(ack.error->code == Errc::conflict);
  CHECK(ack.error->message.find("bob") != std::string::npos);
  REQUIRE(ack.state.is_object());
  CHECK(ack.state["id"] == task);
  CHECK(ack.state["state"] == "accepted");
  CHECK(ack.state["assignee"] == "bob");
  CHECK(ack.state == muster::domain::to_json(f.engine->state().tasks.at(muster::domain::TaskId(task))));

  // Other rejections carry no state.
  Decision forbidden = f.one(sub("carol", f.id(), "task.start", Json{{"task", task}}));
  CHECK(code_of(forbidden) == "forbidden");
  CHECK(decode_ack(forbidden.ack).state.is_null());
}

TEST_CASE("a disabled or unknown user's ops are forbidden") {
  Fixture f;
  const std::string task = f.id();
  REQUIRE(f.one(sub("li", task, "task.create", create_body("gulou/antai/yili"))).ok);

  Decision ghost = f.one(sub("ghost", f.id(), "task.claim", Json{{"task", task}}));
  CHECK(code_of(ghost) == "forbidden");
  CHECK(message_of(ghost).find("ghost") != std::string::npos);

  Decision nobody = f.one(sub("nobody", f.id(), "task.claim", Json{{"task", task}}));
  CHECK(code_of(nobody) == "forbidden");

  // Disabling takes effect with the next directory snapshot.
  const std::string before = f.id();
  Decision bob_before = f.one(sub("bob", before, "task.claim", Json{{"task", task}}));
  REQUIRE(bob_before.ok);
  REQUIRE(f.directory.set_disabled("bob", true).ok());
  f.engine->set_directory(f.directory.snapshot());
  Decision bob_after = f.one(sub("bob", f.id(), "task.start", Json{{"task", task}}));
  CHECK(code_of(bob_after) == "forbidden");
  CHECK(task_state(*f.engine, task) == "accepted");
  // What was decided before stays decided: the repeated op gets its stored answer.
  CHECK(f.one(sub("bob", before, "task.claim", Json{{"task", task}})).ack == bob_before.ack);
  CHECK(f.log->count_events() == 2);
}

TEST_CASE("two claims on one claim-dispatched task in one batch: the first wins") {
  Fixture f;
  const std::string task = f.id();
  REQUIRE(f.one(sub("li", task, "task.create", create_body("gulou/antai/yili"))).ok);
  CHECK(f.engine->state().tasks.at(muster::domain::TaskId(task)).dispatch == muster::domain::Dispatch::claim);

  const std::string carols = f.id(), bobs = f.id();
  Batch b = f.commit({sub("carol", carols, "task.claim", Json{{"task", task}}, 3),
                      sub("bob", bobs, "task.claim", Json{{"task", task}}, 4)});
  CHECK(b.decisions[0].ok);
  CHECK(b.decisions[0].origin == 3);
  CHECK_FALSE(b.decisions[1].ok);
  CHECK(b.decisions[1].origin == 4);
  CHECK(code_of(b.decisions[1]) == "conflict");
  CHECK(message_of(b.decisions[1]).find("carol") != std::string::npos);
  CHECK(decode_ack(b.decisions[1].ack).state["assignee"] == "carol");
  REQUIRE(b.events.size() == 1);
  CHECK(b.events[0].event.actor == "carol");
  CHECK(b.events[0].event.seq == 2);
  CHECK(f.engine->state().tasks.at(muster::domain::TaskId(task)).assignee == "carol");
  CHECK_FALSE(op_row(*f.log, bobs)->ok);
}

TEST_CASE("a reopened engine has the same state, heads and last gseq, and numbers on without gaps") {
  Fixture f;
  const std::string a = f.id(), b = f.id(), claim = f.id(), rejected = f.id(), notice = f.id();
  f.commit({sub("li", a, "task.create", create_body("gulou/antai/yili")),
            sub("li", b, "task.create", create_body("gulou/antai"))});
  f.commit({sub("bob", claim, "task.claim", Json{{"task", a}}), sub("carol", rejected, "task.claim", Json{{"task", a}}),
            sub("li", notice, "notice.post", Json{{"area", "gulou/antai"}, {"text", "masks"}, {"ack", true}})});
  REQUIRE(f.one(sub("bob", f.id(), "notice.ack", Json{{"notice", notice}})).ok);
  Decision start = f.one(sub("bob", f.id(), "task.start", Json{{"task", a}}));
  REQUIRE(start.ok);

  const Json tasks = tasks_json(*f.engine);
  const auto acked = f.engine->state().notices.at(notice).acked_by;
  const std::vector<std::string> scopes{kYili, kAntai, "area:gulou", "user:bob", "user:li"};
  std::map<std::string, std::int64_t> heads;
  for (const auto& s : scopes) heads[s] = f.engine->head(s);
  const auto gseq = f.engine->last_gseq();
  REQUIRE(gseq == 6);
  REQUIRE(heads[kYili] == 3);
  REQUIRE(heads["user:bob"] == 1);

  f.reopen();
  CHECK(tasks_json(*f.engine) == tasks);
  CHECK(f.engine->state().notices.at(notice).acked_by == acked);
  CHECK(f.engine->state().notices.at(notice).text == "masks");
  for (const auto& s : scopes) {
    CAPTURE(s);
    CHECK(f.engine->head(s) == heads[s]);
  }
  CHECK(f.engine->last_gseq() == gseq);

  // Idempotency survives the restart, for accepted and rejected ops alike.
  Decision start_again = f.one(sub("bob", start.op_id.str(), "task.start", Json{{"task", a}}));
  CHECK(start_again.ack == start.ack);
  CHECK_FALSE(start_again.fresh);
  CHECK_FALSE(f.one(sub("carol", rejected, "task.claim", Json{{"task", a}})).fresh);
  CHECK(f.engine->last_gseq() == gseq);

  Batch next = f.commit(
      {sub("bob", f.id(), "task.done", Json{{"task", a}}), sub("li", f.id(), "task.cancel", Json{{"task", b}})});
  REQUIRE(next.events.size() == 2);
  CHECK(next.events[0].event.scope == kYili);
  CHECK(next.events[0].event.seq == heads[kYili] + 1);
  CHECK(next.events[0].event.gseq == gseq + 1);
  CHECK(next.events[1].event.scope == kAntai);
  CHECK(next.events[1].event.seq == heads[kAntai] + 1);
  CHECK(next.events[1].event.gseq == gseq + 2);
  CHECK(task_state(*f.engine, a) == "done");
  CHECK(task_state(*f.engine, b) == "cancelled");
}

TEST_CASE("a storage failure keeps nothing of the batch, reloads the state, and a retry numbers without gaps") {
  Fixture f;
  const std::string a = f.id();
  REQUIRE(f.one(sub("li", a, "task.create", create_body("gulou/antai/yili"))).ok);
  const Json tasks_before = tasks_json(*f.engine);

  // A second connection plants a fault: the first insert of a cancellation fails, as
  // a full disk would, after other ops of the same batch have written their rows.
  muster::store::OpenOptions options;
  options.busy_timeout_ms = 100;
  auto saboteur = muster::store::Db::open((std::filesystem::path(f.dir.path()) / "log.db").string(), options);
  saboteur.exec(
      "CREATE TRIGGER disk_full BEFORE INSERT ON events WHEN NEW.kind = 'task.cancelled' "
      "BEGIN SELECT RAISE(ABORT, 'disk full'); END;");

  const std::string b = f.id(), claim = f.id(), miss = f.id(), cancel = f.id();
  const std::vector<Submission> batch{
      sub("li", b, "task.create", create_body("gulou/antai/yili")),
      sub("bob", claim, "task.claim", Json{{"task", a}}),
      sub("carol", miss, "task.claim", Json{{"task", "01JZZZZZZZZZZZZZZZZZZZZZZZ"}}),
      sub("li", cancel, "task.cancel", Json{{"task", b}}),
  };
  auto failed = f.engine->commit(batch);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::unavailable);
  CHECK(failed.error().message.find("disk full") != std::string::npos);

  // Nothing of the batch is in the log...
  CHECK(f.log->count_events() == 1);
  CHECK(f.ops_rows() == 1);
  for (const auto& id : {b, claim, miss, cancel}) CHECK_FALSE(op_row(*f.log, id).has_value());
  // ...nor in memory: the state, heads and gseq are what the log says.
  CHECK(tasks_json(*f.engine) == tasks_before);
  CHECK(task_state(*f.engine, b) == "absent");
  CHECK(task_state(*f.engine, a) == "open");
  CHECK(f.engine->head(kYili) == 1);
  CHECK(f.engine->last_gseq() == 1);

  saboteur.exec("DROP TRIGGER disk_full");
  Batch retried = f.commit(batch);
  for (const auto& d : retried.decisions) CHECK(d.fresh);
  CHECK(retried.decisions[0].ok);
  CHECK(retried.decisions[1].ok);
  CHECK(code_of(retried.decisions[2]) == "not_found");
  CHECK(retried.decisions[3].ok);
  REQUIRE(retried.events.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(retried.events[i].event.scope == kYili);
    CHECK(retried.events[i].event.seq == static_cast<std::int64_t>(i + 2));
    CHECK(retried.events[i].event.gseq == static_cast<std::int64_t>(i + 2));
  }
  CHECK(task_state(*f.engine, a) == "accepted");
  CHECK(task_state(*f.engine, b) == "cancelled");
  CHECK(f.log->count_events() == 4);
  CHECK(f.ops_rows() == 5);

  // What memory holds after the retry is what the log holds.
  const Json tasks_after = tasks_json(*f.engine);
  f.reopen();
  CHECK(tasks_json(*f.engine) == tasks_after);
  CHECK(f.engine->last_gseq() == 4);
}

TEST_CASE("a log locked by another writer makes the commit unavailable, and changes nothing") {
  Fixture f;
  const std::string a = f.id();
  REQUIRE(f.one(sub("li", a, "task.create", create_body("gulou/antai/yili"))).ok);
  // The store waits 5 s for a lock by default; the test need not.
  f.log->db().set_busy_timeout(20);

  muster::store::OpenOptions options;
  options.busy_timeout_ms = 20;
  auto other = muster::store::Db::open((std::filesystem::path(f.dir.path()) / "log.db").string(), options);
  other.exec("BEGIN IMMEDIATE");
  const std::string claim = f.id();
  const std::vector<Submission> batch{sub("bob", claim, "task.claim", Json{{"task", a}})};
  auto failed = f.engine->commit(batch);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::unavailable);
  CHECK(task_state(*f.engine, a) == "open");
  CHECK(f.engine->last_gseq() == 1);
  other.exec("ROLLBACK");

  Batch retried = f.commit(batch);
  CHECK(retried.decisions[0].ok);
  CHECK(retried.decisions[0].fresh);
  REQUIRE(retried.events.size() == 1);
  CHECK(retried.events[0].event.seq == 2);
  CHECK(retried.events[0].event.gseq == 2);
}

TEST_CASE("notice.status counts recipients and acknowledgements per home area") {
  Fixture f;
  const std::string notice = f.id();
  REQUIRE(f.one(sub("li", notice, "notice.post",
                    Json{{"area", "gulou/antai"}, {"text", "sampling at 9"}, {"ack", true}, {"priority", "urgent"}}))
              .ok);
  for (const char* who : {"bob", "erin", "bridge", "li"}) {
    REQUIRE(f.one(sub(who, f.id(), "notice.ack", Json{{"notice", notice}})).ok);
  }
  // Acknowledging twice adds nothing.
  REQUIRE(f.one(sub("bob", f.id(), "notice.ack", Json{{"notice", notice}})).ok);
  CHECK(f.log->count_events() == 5);

  auto status = [&](const std::string& user, const std::string& id) {
    return f.engine->query(user, protocol::Query{"q1", "notice.status", Json{{"notice", id}}});
  };

  for (const char* asker : {"li", "zhou"}) {  // the author, and a manager above the area
    CAPTURE(asker);
    auto r = status(asker, notice);
    REQUIRE(r.ok);
    CHECK(r.id == "q1");
    const Json& body = r.body;
    CHECK(body["notice"] == notice);
    CHECK(body["area"] == "gulou/antai");
    CHECK(body["text"] == "sampling at 9");
    CHECK(body["ack"] == true);
    // Recipients: everyone whose home is gulou/antai or below, but the author (li),
    // the plugin (bridge) and the disabled (ghost); zhou, a coordinator above the
    // area, may read it but is not its audience; dave, of another street, does not see it.
    CHECK(body["recipients"] == 4);
    CHECK(body["acked"] == 2);
    CHECK(body["missing"] == Json{"carol", "hana"});
    Json expected = Json::array();
    expected.push_back({{"area", "gulou/antai"}, {"recipients", 1}, {"acked", 1}, {"missing", Json::array()}});
    expected.push_back({{"area", "gulou/antai/yili"}, {"recipients", 3}, {"acked", 1}, {"missing", {"carol", "hana"}}});
    CHECK(body["by_area"] == expected);
  }

  auto volunteer = status("bob", notice);
  CHECK_FALSE(volunteer.ok);
  REQUIRE(volunteer.error.has_value());
  CHECK(volunteer.error->code == Errc::forbidden);

  auto unknown = status("li", "01JZZZZZZZZZZZZZZZZZZZZZZZ");
  CHECK_FALSE(unknown.ok);
  REQUIRE(unknown.error.has_value());
  CHECK(unknown.error->code == Errc::not_found);

  auto outsider = status("dave", notice);  // cannot see it at all: it does not exist for him
  REQUIRE(outsider.error.has_value());
  CHECK(outsider.error->code == Errc::not_found);

  auto disabled = status("ghost", notice);
  REQUIRE(disabled.error.has_value());
  CHECK(disabled.error->code == Errc::forbidden);

  auto no_args = f.engine->query("li", protocol::Query{"q2", "notice.status", Json::object()});
  REQUIRE(no_args.error.has_value());
  CHECK(no_args.error->code == Errc::invalid);

  auto unknown_query = f.engine->query("li", protocol::Query{"q3", "task.gossip", Json::object()});
  REQUIRE(unknown_query.error.has_value());
  CHECK(unknown_query.error->code == Errc::invalid);
  CHECK(unknown_query.id == "q3");

  // The query reflects new acknowledgements at once.
  REQUIRE(f.one(sub("carol", f.id(), "notice.ack", Json{{"notice", notice}})).ok);
  CHECK(status("li", notice).body["acked"] == 3);
}

TEST_CASE("a plugin account messages only those its grants list, and creates errands where it serves") {
  Fixture f;
  // Without grants (no plugin host configured it) it may message nobody.
  Decision before = f.one(sub("bridge", f.id(), "message.send", Json{{"to", "li"}, {"text", "new errand"}}));
  CHECK(code_of(before) == "forbidden");
  f.engine->set_grants("bridge", muster::domain::Grants{{"li"}});
  CHECK(f.one(sub("bridge", f.id(), "message.send", Json{{"to", "li"}, {"text", "new errand"}})).ok);
  CHECK(code_of(f.one(sub("bridge", f.id(), "message.send", Json{{"to", "bob"}, {"text", "hi"}}))) == "forbidden");
  // Grants bind plugin accounts only.
  CHECK(f.one(sub("bob", f.id(), "message.send", Json{{"to", "carol"}, {"text", "hi"}})).ok);

  CHECK(f.one(sub("bridge", f.id(), "task.create", create_body("gulou/antai/yili"))).ok);
  Json generic = create_body("gulou/antai/yili");
  generic["kind"] = "generic";
  CHECK(code_of(f.one(sub("bridge", f.id(), "task.create", generic))) == "forbidden");
  CHECK(code_of(f.one(sub("bridge", f.id(), "task.create", create_body("gulou/antai")))) == "forbidden");
}

TEST_CASE("messages live in the log only: the server's state holds none, after a commit or a reload") {
  Fixture f;
  const std::string m1 = f.id(), m2 = f.id(), again = m1;
  Batch b = f.commit({sub("li", m1, "message.send", Json{{"to", "bob"}, {"text", "到了吗"}}),
                      sub("bob", m2, "message.send", Json{{"to", "area:gulou/antai/yili"}, {"text", "到了"}})});
  REQUIRE(b.decisions.size() == 2);
  CHECK(b.decisions[0].ok);
  CHECK(b.decisions[1].ok);
  CHECK(b.events.size() == 3);  // bob's inbox, li's, the area
  CHECK(f.engine->state().messages.empty());
  // The same op again is still answered from the audit, not the state.
  Decision repeat = f.one(sub("li", again, "message.send", Json{{"to", "bob"}, {"text", "到了吗"}}));
  CHECK_FALSE(repeat.fresh);
  CHECK(repeat.ok);
  CHECK(f.count("SELECT count(*) FROM events WHERE kind = 'message.sent'") == 3);
  f.reopen();
  CHECK(f.engine->state().messages.empty());
  CHECK(f.count("SELECT count(*) FROM events WHERE kind = 'message.sent'") == 3);
}
