// The client's local database (SPEC §2): identity, the outbox of unacknowledged ops,
// the replica of what the server decided, the cursors, the rejections, and the view a
// user sees: the replica with the outbox applied on top.
#include "muster/sync/client_store.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "loopback.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/state.hpp"

using muster::Errc;
using muster::domain::Event;
using muster::domain::Json;
using muster::domain::Op;
using muster::domain::OpId;
using muster::domain::State;
using muster::sync::ClientStore;
using muster::sync::Identity;
using muster::sync::Rejection;
using muster_test::ulid;

namespace {

constexpr muster::UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z

Identity identity_of(const std::string& user, std::vector<std::string> roles, const std::string& area) {
  Identity id;
  id.server = "ws://127.0.0.1:7777";
  id.user = user;
  id.device = user + "-phone";
  id.token = "tok-" + user;
  id.roles = std::move(roles);
  id.area = area;
  id.scopes = {"user:" + user, "area:gulou"};
  return id;
}

Op create_op(const std::string& id, const std::string& area, const std::string& title = "carry water") {
  return Op{OpId(id), "task.create", Json{{"kind", "errand"}, {"title", title}, {"area", area}, {"dispatch", "claim"}}};
}

// A task as the server would have decided it, folded into `state` and saved in the
// replica, as the sync session does with an event.
void server_event(ClientStore& store, State& state, const std::string& kind, const std::string& actor, Json body,
                  const std::string& scope = "area:gulou/antai/yili") {
  Event e;
  e.scope = scope;
  e.kind = kind;
  e.actor = actor;
  e.at = "2026-11-23T07:00:00Z";
  e.body = std::move(body);
  auto ref = muster::domain::fold(state, e);
  REQUIRE_FALSE(ref.first.empty());
  store.save_object(state, ref);
}

Json replica_task(const std::string& id, const std::string& area, const std::string& creator) {
  muster::domain::Task t;
  t.id = muster::domain::TaskId(id);
  t.kind = "errand";
  t.title = "carry water";
  t.area = area;
  t.creator = creator;
  t.created_at = t.updated_at = "2026-11-23T07:00:00Z";
  t.updated_by = creator;
  return muster::domain::to_json(t);
}

std::string state_of(const State& s, const std::string& task) {
  auto it = s.tasks.find(muster::domain::TaskId(task));
  return it == s.tasks.end() ? "absent" : std::string(muster::domain::to_string(it->second.state));
}

}  // namespace

TEST_CASE("the outbox keeps ops in the order they were made, until each is removed") {
  auto store = ClientStore::open_memory();
  CHECK(store.outbox().empty());
  CHECK(store.outbox_size() == 0);

  const std::string a = ulid(1), b = ulid(2), c = ulid(3);
  store.enqueue(create_op(b, "gulou/antai", "second made, first queued"), kStart);
  store.enqueue(Op{OpId(a), "task.claim", Json{{"task", b}, {"note", "我来"}}}, kStart + 1000);
  store.enqueue(Op{OpId(c), "notice.ack", Json{{"notice", a}}}, kStart + 2000);
  CHECK(store.outbox_size() == 3);

  auto box = store.outbox();
  REQUIRE(box.size() == 3);
  CHECK(box[0].op.id.str() == b);  // queue order, not id order
  CHECK(box[1].op.id.str() == a);
  CHECK(box[2].op.id.str() == c);
  CHECK(box[0].n < box[1].n);
  CHECK(box[1].n < box[2].n);
  CHECK(box[0].op.kind == "task.create");
  CHECK(box[0].op.body == create_op(b, "gulou/antai", "second made, first queued").body);
  CHECK(box[1].op.body["note"] == "我来");
  CHECK(box[1].created == "2026-11-23T08:00:01Z");

  store.remove_from_outbox(OpId(a));
  store.remove_from_outbox(OpId(ulid(99)));  // unknown: nothing happens
  box = store.outbox();
  REQUIRE(box.size() == 2);
  CHECK(box[0].op.id.str() == b);
  CHECK(box[1].op.id.str() == c);
  CHECK(store.outbox_size() == 2);

  // Queue order survives removals: a new op goes to the end.
  store.enqueue(create_op(ulid(4), "gulou/antai"), kStart + 3000);
  box = store.outbox();
  REQUIRE(box.size() == 3);
  CHECK(box[2].op.id.str() == ulid(4));
}

TEST_CASE("identity, config, cursors and rejections round-trip") {
  auto store = ClientStore::open_memory();
  CHECK_FALSE(store.identity().has_value());
  CHECK(store.config("last_sync").empty());

  const Identity id = identity_of("bob", {"volunteer", "hotline"}, "gulou/antai/yili");
  store.save_identity(id);
  auto back = store.identity();
  REQUIRE(back.has_value());
  CHECK(back->server == id.server);
  CHECK(back->user == "bob");
  CHECK(back->device == "bob-phone");
  CHECK(back->token == "tok-bob");
  CHECK(back->roles == id.roles);
  CHECK(back->area == "gulou/antai/yili");
  CHECK(back->scopes == id.scopes);
  auto actor = back->actor();
  CHECK(actor.name == "bob");
  CHECK(actor.roles.has(muster::domain::Role::volunteer));
  CHECK(actor.roles.has(muster::domain::Role::hotline));
  CHECK_FALSE(actor.roles.has(muster::domain::Role::lead));
  CHECK(actor.area == "gulou/antai/yili");

  store.set_config("last_sync", "2026-11-23T08:00:00Z");
  store.set_config("last_sync", "2026-11-23T09:00:00Z");
  CHECK(store.config("last_sync") == "2026-11-23T09:00:00Z");

  CHECK(store.cursors().empty());
  store.save_cursor("area:gulou", 12);
  store.save_cursor("user:bob", 3);
  store.save_cursor("area:gulou", 13);
  CHECK(store.cursors() == muster::protocol::Cursors{{"area:gulou", 13}, {"user:bob", 3}});

  store.record_rejection(
      Rejection{OpId(ulid(1)), "task.claim", muster::make_error(Errc::conflict, "taken by carol"), "2026-11-23T08:00:00Z"});
  store.record_rejection(
      Rejection{OpId(ulid(2)), "task.create", muster::make_error(Errc::forbidden, "not a lead"), "2026-11-23T08:05:00Z"});
  auto rejected = store.rejections(10);
  REQUIRE(rejected.size() == 2);
  CHECK(rejected[0].op_id.str() == ulid(2));  // newest first
  CHECK(rejected[0].kind == "task.create");
  CHECK(rejected[0].error.code == Errc::forbidden);
  CHECK(rejected[0].error.message == "not a lead");
  CHECK(rejected[1].op_id.str() == ulid(1));
  CHECK(rejected[1].error.code == Errc::conflict);
  CHECK(rejected[1].at == "2026-11-23T08:00:00Z");
  CHECK(store.rejections(1).size() == 1);
}

TEST_CASE("the replica saves tasks, notices and messages and loads them back") {
  auto store = ClientStore::open_memory();
  State state;
  const std::string task = ulid(1), notice = ulid(2), early = ulid(3), message = ulid(4);
  server_event(store, state, "task.created", "li", replica_task(task, "gulou/antai/yili", "li"));
  server_event(store, state, "task.claimed", "bob", Json{{"task", task}, {"note", "on my way"}});
  muster::domain::Notice n;
  n.id = notice;
  n.area = "gulou/antai";
  n.text = "sampling at 9";
  n.author = "li";
  n.ack_required = true;
  server_event(store, state, "notice.posted", "li", muster::domain::to_json(n), "area:gulou/antai");
  server_event(store, state, "notice.acked", "bob", Json{{"notice", notice}}, "user:bob");
  // An acknowledgement that arrived before its notice (another scope) is kept too.
  server_event(store, state, "notice.acked", "bob", Json{{"notice", early}}, "user:bob");
  server_event(store, state, "message.sent", "li",
               Json{{"id", message}, {"from", "li"}, {"to", "bob"}, {"text", "thanks"}, {"sent_at", "x"}}, "user:bob");

  State loaded = store.load_state();
  REQUIRE(loaded.tasks.count(muster::domain::TaskId(task)) == 1);
  CHECK(muster::domain::to_json(loaded.tasks.at(muster::domain::TaskId(task))) == muster::domain::to_json(state.tasks.at(muster::domain::TaskId(task))));
  CHECK(loaded.tasks.at(muster::domain::TaskId(task)).assignee == "bob");
  CHECK(loaded.tasks.at(muster::domain::TaskId(task)).note == "on my way");
  REQUIRE(loaded.notices.count(notice) == 1);
  CHECK(loaded.notices.at(notice).text == "sampling at 9");
  CHECK(loaded.notices.at(notice).acked_by == std::set<std::string>{"bob"});
  REQUIRE(loaded.notices.count(early) == 1);
  CHECK(loaded.notices.at(early).area.empty());
  CHECK(loaded.notices.at(early).acked_by == std::set<std::string>{"bob"});
  REQUIRE(loaded.messages.count(message) == 1);
  CHECK(loaded.messages.at(message).text == "thanks");
  CHECK(loaded.messages.at(message).to == "bob");
}

TEST_CASE("reset_replica forgets the replica, cursors and rejections but keeps the outbox and identity") {
  auto store = ClientStore::open_memory();
  store.save_identity(identity_of("li", {"lead"}, "gulou/antai"));
  State state;
  server_event(store, state, "task.created", "li", replica_task(ulid(1), "gulou/antai", "li"));
  store.save_cursor("area:gulou/antai", 1);
  store.record_rejection(Rejection{OpId(ulid(2)), "task.claim", muster::make_error(Errc::forbidden, "no"), "t"});
  store.enqueue(create_op(ulid(3), "gulou/antai"), kStart);

  store.reset_replica();
  CHECK(store.load_state().tasks.empty());
  CHECK(store.cursors().empty());
  CHECK(store.rejections(10).empty());
  CHECK(store.outbox_size() == 1);
  CHECK(store.identity().has_value());
}

TEST_CASE("the view is the replica with the outbox applied on top, in queue order") {
  auto store = ClientStore::open_memory();
  // A street lead who also volunteers: can create, claim and start.
  store.save_identity(identity_of("li", {"lead", "volunteer"}, "gulou/antai"));
  State replica;
  const std::string old_task = ulid(1);
  server_event(store, replica, "task.created", "zhou", replica_task(old_task, "gulou/antai", "zhou"));

  const std::string fresh = ulid(10);
  store.enqueue(create_op(fresh, "gulou/antai/yili"), kStart);
  store.enqueue(Op{OpId(ulid(11)), "task.claim", Json{{"task", fresh}}}, kStart + 1000);
  store.enqueue(Op{OpId(ulid(12)), "task.start", Json{{"task", fresh}, {"note", "going"}}}, kStart + 2000);
  store.enqueue(Op{OpId(ulid(13)), "task.cancel", Json{{"task", old_task}}}, kStart + 3000);

  std::set<std::string> pending;
  State view = store.view(&pending);
  CHECK(state_of(view, fresh) == "started");
  CHECK(view.tasks.at(muster::domain::TaskId(fresh)).assignee == "li");
  CHECK(view.tasks.at(muster::domain::TaskId(fresh)).creator == "li");
  CHECK(view.tasks.at(muster::domain::TaskId(fresh)).note == "going");
  CHECK(view.tasks.at(muster::domain::TaskId(fresh)).created_at == "2026-11-23T08:00:00Z");
  CHECK(view.tasks.at(muster::domain::TaskId(fresh)).updated_at == "2026-11-23T08:00:02Z");
  CHECK(state_of(view, old_task) == "cancelled");
  CHECK(pending == std::set<std::string>{fresh, old_task});

  // The replica itself is untouched: only the server's decisions are in it.
  State stored = store.load_state();
  CHECK(state_of(stored, fresh) == "absent");
  CHECK(state_of(stored, old_task) == "open");
  CHECK(store.view().tasks.size() == 2);

  // Dropping an op (a rejection) rolls the view back; later ops that no longer apply
  // are skipped rather than invented.
  store.remove_from_outbox(OpId(ulid(10)));
  pending.clear();
  view = store.view(&pending);
  CHECK(state_of(view, fresh) == "absent");
  CHECK(state_of(view, old_task) == "cancelled");
  CHECK(pending == std::set<std::string>{old_task});
}

TEST_CASE("an outbox op the replica has overtaken is skipped in the view") {
  auto store = ClientStore::open_memory();
  store.save_identity(identity_of("bob", {"volunteer"}, "gulou/antai/yili"));
  State replica;
  const std::string task = ulid(1);
  server_event(store, replica, "task.created", "li", replica_task(task, "gulou/antai/yili", "li"));
  store.enqueue(Op{OpId(ulid(2)), "task.claim", Json{{"task", task}}}, kStart);
  CHECK(store.view().tasks.at(muster::domain::TaskId(task)).assignee == "bob");

  // Carol's claim reached the server first; the replica learns it before the ack.
  server_event(store, replica, "task.claimed", "carol", Json{{"task", task}});
  State view = store.view();
  CHECK(state_of(view, task) == "accepted");
  CHECK(view.tasks.at(muster::domain::TaskId(task)).assignee == "carol");
}

TEST_CASE("without an identity the view is the replica alone") {
  auto store = ClientStore::open_memory();
  store.enqueue(create_op(ulid(1), "gulou/antai"), kStart);
  CHECK(store.view().tasks.empty());
}

TEST_CASE("the store is durable across reopening its file") {
  muster_test::TempDir home;
  {
    auto store = ClientStore::open(home.sub("home"));
    store.save_identity(identity_of("bob", {"volunteer"}, "gulou/antai/yili"));
    State state;
    server_event(store, state, "task.created", "li", replica_task(ulid(1), "gulou/antai/yili", "li"));
    store.save_cursor("area:gulou/antai/yili", 1);
    store.enqueue(Op{OpId(ulid(2)), "task.claim", Json{{"task", ulid(1)}}}, kStart);
  }
  auto store = ClientStore::open(home.sub("home"));
  REQUIRE(store.identity().has_value());
  CHECK(store.identity()->token == "tok-bob");
  CHECK(store.cursors() == muster::protocol::Cursors{{"area:gulou/antai/yili", 1}});
  CHECK(store.outbox_size() == 1);
  CHECK(state_of(store.load_state(), ulid(1)) == "open");
  CHECK(state_of(store.view(), ulid(1)) == "accepted");
}

TEST_CASE("a hotline call's notes leave no trace in the home's files once the server confirmed it") {
  const std::string notes = "来电者说他三天没有睡觉，担心失业，想和女儿说话。";
  muster_test::TempDir home;
  auto raw_home = [&] {
    std::string out;
    for (const auto& entry : std::filesystem::directory_iterator(home.sub("home"))) {
      std::ifstream in(entry.path(), std::ios::binary);
      out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return out;
  };
  auto store = ClientStore::open(home.sub("home"));
  store.save_identity(identity_of("hana", {"hotline"}, "gulou/antai/yili"));
  const Op call{OpId(ulid(7)), "hotline.log",
                Json{{"started", "2026-11-23T07:40:00Z"}, {"duration", 20}, {"category", "焦虑"}, {"risk", 2},
                     {"notes", notes}}};
  store.enqueue(call, kStart);
  // Queued (offline): the operator's own outbox holds them until the server confirms.
  CHECK(raw_home().find(notes) != std::string::npos);
  // The optimistic view shows the call, without its notes.
  auto view = store.view();
  REQUIRE(view.calls.count(ulid(7)));
  CHECK(view.calls.at(ulid(7)).has_notes);

  store.remove_from_outbox(OpId(ulid(7)));
  store.scrub();
  CHECK(store.outbox_size() == 0);
  CHECK(raw_home().find(notes) == std::string::npos);
}
