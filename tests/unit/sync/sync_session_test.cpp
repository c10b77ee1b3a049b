// The client's sync conversation (SPEC §2, §4) as a pure state machine: fed server
// frames, it folds events into the replica, advances cursors only over contiguous
// seqs, asks for a backfill on a gap, and drops ops from the outbox only on the
// server's answer.
//
// Three kinds of test: hand-built server frames for each rule; a real Engine behind
// an in-process LoopbackServer, so client and server agree by construction; and, as
// TDLib does for its queue (test/tqueue.cpp), a randomized model test with cut
// connections, lost frames, client crashes, server restarts and storage faults,
// after which every client must agree with the server exactly.
#include "muster/sync/sync_session.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "loopback.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/state.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/store/sqlite.hpp"

using muster::Errc;
using muster::domain::Event;
using muster::domain::Json;
using muster::domain::Op;
using muster::domain::OpId;
using muster::domain::Role;
using muster::domain::Roles;
using muster::domain::State;
using muster::sync::ClientStore;
using muster::sync::Credentials;
using muster::sync::Identity;
using muster::sync::SyncReport;
using muster::sync::SyncSession;
using muster_test::LoopbackServer;
using muster_test::TempDir;
using muster_test::ulid;
using musterd::UserRecord;
namespace protocol = muster::protocol;

namespace {

constexpr muster::UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z
const std::string kYili = "area:gulou/antai/yili";

// ---------------------------------------------------------------- frame helpers

template <class F>
F client_frame(const std::string& text) {
  auto r = protocol::decode_client_frame(text);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  const F* f = std::get_if<F>(&*r);
  REQUIRE(f != nullptr);
  return *f;
}

std::string welcome(const std::string& user = "bob", std::vector<std::string> roles = {"volunteer"},
                    const std::string& area = "gulou/antai/yili") {
  protocol::Welcome w{
      user, std::move(roles), area, "tok-" + user, {"user:" + user, "area:gulou", "area:gulou/antai", "area:" + area}};
  return protocol::encode(protocol::ServerFrame{w});
}

std::string caught_up() { return protocol::encode(protocol::ServerFrame{protocol::CaughtUp{}}); }

std::string ack_ok(const std::string& id) {
  return protocol::encode(protocol::ServerFrame{protocol::Ack{OpId(id), true, {}, nullptr}});
}

std::string ack_error(const std::string& id, Errc code, const std::string& message, Json state = nullptr) {
  return protocol::encode(
      protocol::ServerFrame{protocol::Ack{OpId(id), false, muster::make_error(code, message), std::move(state)}});
}

Json created_body(const std::string& id, const std::string& area = "gulou/antai/yili",
                  const std::string& creator = "li") {
  muster::domain::Task t;
  t.id = muster::domain::TaskId(id);
  t.kind = "errand";
  t.title = "buy rice for 2-301";
  t.area = area;
  t.creator = creator;
  t.created_at = t.updated_at = "2026-11-23T07:00:00Z";
  t.updated_by = creator;
  return muster::domain::to_json(t);
}

std::string event(const std::string& scope, std::int64_t seq, const std::string& kind, const std::string& actor,
                  Json body, const std::string& op = "01J00000000000000000000000") {
  Event e;
  e.scope = scope;
  e.seq = seq;
  e.gseq = 1000 + seq;
  e.id = ulid(static_cast<std::uint64_t>(5000 + seq));
  e.op = OpId(op);
  e.kind = kind;
  e.actor = actor;
  e.at = "2026-11-23T08:00:00Z";
  e.body = std::move(body);
  return protocol::encode(protocol::ServerFrame{protocol::EventFrame{e}});
}

std::vector<std::string> feed(SyncSession& s, const std::string& frame) {
  auto r = s.on_frame(frame);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  return *r;
}

std::string state_of(const State& s, const std::string& task) {
  auto it = s.tasks.find(muster::domain::TaskId(task));
  return it == s.tasks.end() ? "absent" : std::string(muster::domain::to_string(it->second.state));
}

Json tasks_json(const muster::domain::TaskBook& tasks) {
  Json out = Json::object();
  for (const auto& [id, t] : tasks) out[id.str()] = muster::domain::to_json(t);
  return out;
}

// The tasks of the server's state that `user` can see.
Json visible_tasks(LoopbackServer& server, const std::string& user) {
  const auto* rec = server.engine().directory().user(user);
  REQUIRE(rec != nullptr);
  muster::domain::TaskBook out;
  for (const auto& [id, t] : server.engine().state().tasks) {
    if (muster::domain::can_see(rec->actor(), muster::domain::area_scope(t.area))) out.emplace(id, t);
  }
  return tasks_json(out);
}

Identity fresh_identity(const std::string& user) {
  Identity id;
  id.server = "ws://127.0.0.1:7777";
  id.user = user;
  id.device = user + "-phone";
  return id;
}

// A session on an in-memory store of `user`, not yet started.
struct Offline {
  muster::ManualClock clock{kStart};
  ClientStore store = ClientStore::open_memory();
  std::unique_ptr<SyncSession> session;

  explicit Offline(const std::string& user = "bob") { restart(user); }
  void restart(const std::string& user = "bob") {
    session.reset();
    session = std::make_unique<SyncSession>(store, fresh_identity(user), Credentials{"pw"}, clock);
  }
  std::string enqueue(std::uint64_t n, const std::string& kind, Json body) {
    store.enqueue(Op{OpId(ulid(n)), kind, std::move(body)}, clock.now_ms());
    return ulid(n);
  }
  std::vector<std::string> outbox_ids() {
    std::vector<std::string> out;
    for (const auto& e : store.outbox()) out.push_back(e.op.id.str());
    return out;
  }
};

// ---------------------------------------------------------------- a device on a loopback

// One client device: its home (client.db) and, while connected, a SyncSession. Frames
// move one at a time, when the test says so.
class Device {
 public:
  Device(std::string home, std::string user, std::string device, const muster::Clock& clock)
      : home_(std::move(home)), user_(std::move(user)), device_(std::move(device)), clock_(clock) {
    open();
  }

  const std::string& user() const { return user_; }
  const std::string& device() const { return device_; }
  ClientStore& store() { return *store_; }
  bool online() const { return session_ != nullptr; }
  SyncSession& session() { return *session_; }
  // Totals over every session so far.
  const SyncReport& totals() const { return totals_; }
  int frames_moved() const { return moved_; }

  // A user acts. A live client in this process first commits the session's pending
  // replica writes: the outbox row is its own durable transaction.
  void enqueue(const Op& op) {
    if (online()) session_->commit();
    store_->enqueue(op, clock_.now_ms());
  }

  // A live client notices new ops and sends them.
  void push_new_ops() {
    if (online() && session_->welcomed()) append(session_->push_new_ops());
  }

  // Opens a connection and says hello: with the password until a token is stored.
  void connect(LoopbackServer& server) {
    REQUIRE_FALSE(online());
    Identity id;
    Credentials credentials;
    if (auto stored = store_->identity(); stored && !stored->token.empty()) {
      id = *stored;
    } else {
      id = fresh_identity(user_);
      id.device = device_;
      credentials.password = muster_test::password_of(user_);
    }
    session_ = std::make_unique<SyncSession>(*store_, id, credentials, clock_);
    conn_ = server.connect();
    to_server_.clear();
    moved_ = 0;
    append(session_->start());
  }

  // Moves one frame to the server. False if there was none (or the line is gone).
  bool send_one(LoopbackServer& server) {
    if (!line_up(server) || to_server_.empty()) return false;
    std::string frame = std::move(to_server_.front());
    to_server_.pop_front();
    server.receive(conn_, frame);
    ++moved_;
    return true;
  }

  // Moves one frame to the client; with `lose_event`, an event frame is lost on the way.
  bool receive_one(LoopbackServer& server, bool lose_event = false) {
    if (!line_up(server)) return false;
    auto& q = server.to_client(conn_);
    if (q.empty()) return false;
    std::string frame = std::move(q.front());
    q.pop_front();
    ++moved_;
    if (lose_event && frame.find("\"t\":\"event\"") != std::string::npos) {
      ++lost_;
      return true;
    }
    append(feed(*session_, frame));
    return true;
  }

  bool idle(LoopbackServer& server) {
    return !online() || !server.connected(conn_) || (to_server_.empty() && server.to_client(conn_).empty());
  }

  // A clean goodbye: the closing cursor frame, then the line closes.
  void close(LoopbackServer& server) {
    REQUIRE(online());
    const std::string last = session_->finish();
    if (server.connected(conn_)) {
      server.receive(conn_, last);
      server.disconnect(conn_);
    }
    end_session();
  }

  // The line drops: the process lives on and commits what it has (as the CLI's
  // driver does), but every frame in flight is lost.
  void cut(LoopbackServer& server) {
    if (!online()) return;
    session_->commit();
    server.disconnect(conn_);
    end_session();
  }

  // The process dies: the session goes without committing, the database is closed
  // and opened again from its file.
  void crash(LoopbackServer& server) {
    if (online()) {
      server.disconnect(conn_);
      end_session();
    }
    store_.reset();
    open();
  }

  // Syncs with nothing lost until the session is done; returns its report.
  SyncReport sync(LoopbackServer& server) {
    if (!online()) connect(server);
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      while (send_one(server)) moved = true;
      if (server.pending_ops() > 0) {
        server.flush();
        moved = true;
      }
      while (receive_one(server)) moved = true;
      REQUIRE(online());
      if (session_->done() && idle(server)) {
        SyncReport report = session_->report();
        close(server);
        return report;
      }
      REQUIRE_MESSAGE(moved, "the sync of " << device_ << " is stuck");
    }
    FAIL("the sync of " << device_ << " does not end");
    return {};
  }

  int lost() const { return lost_; }

 private:
  void open() {
    store_.emplace(ClientStore::open(home_));
    muster_test::unsynced(store_->db());
  }
  bool line_up(LoopbackServer& server) {
    if (!online()) return false;
    if (!server.connected(conn_)) {  // the server went away
      cut(server);
      return false;
    }
    return true;
  }
  void append(const std::vector<std::string>& frames) {
    for (const auto& f : frames) to_server_.push_back(f);
  }
  void end_session() {
    const SyncReport& r = session_->report();
    totals_.pushed += r.pushed;
    totals_.accepted += r.accepted;
    totals_.deferred += r.deferred;
    totals_.events += r.events;
    totals_.backfills += r.backfills;
    totals_.rejected.insert(totals_.rejected.end(), r.rejected.begin(), r.rejected.end());
    session_.reset();
    to_server_.clear();
  }

  std::string home_;
  std::string user_;
  std::string device_;
  const muster::Clock& clock_;
  std::optional<ClientStore> store_;
  std::unique_ptr<SyncSession> session_;
  LoopbackServer::ConnId conn_ = 0;
  std::deque<std::string> to_server_;
  SyncReport totals_;
  int moved_ = 0;
  int lost_ = 0;
};

// The grid of the loopback tests:
//   gulou/antai          li (lead)
//   gulou/antai/yili     bob (volunteer)
//   gulou/antai/xinhua   carol (volunteer)
std::vector<UserRecord> grid_users() {
  return {UserRecord{"li", "", Roles{Role::lead}, "gulou/antai", "", "", false},
          UserRecord{"bob", "", Roles{Role::volunteer}, "gulou/antai/yili", "", "", false},
          UserRecord{"carol", "", Roles{Role::volunteer}, "gulou/antai/xinhua", "", "", false},
          UserRecord{"dora", "", Roles{Role::volunteer}, "gulou/antai/yili", "", "", false}};
}

Op create(const std::string& id, const std::string& area, const std::string& title = "deliver vegetables") {
  return Op{OpId(id), "task.create", Json{{"kind", "errand"}, {"title", title}, {"area", area}, {"dispatch", "claim"}}};
}
Op on_task(const std::string& id, const std::string& kind, const std::string& task) {
  return Op{OpId(id), kind, Json{{"task", task}}};
}

// Every check of "the client agrees with the server", for one synced device.
void check_agrees(Device& d, LoopbackServer& server) {
  CAPTURE(d.device());
  CHECK(d.store().outbox_size() == 0);
  const Json replica = tasks_json(d.store().load_state().tasks);
  CHECK(replica == visible_tasks(server, d.user()));
  CHECK(tasks_json(d.store().view().tasks) == replica);
  const auto* rec = server.engine().directory().user(d.user());
  REQUIRE(rec != nullptr);
  const auto scopes = muster::domain::visible_scopes(rec->actor(), server.engine().directory().areas());
  const auto cursors = d.store().cursors();
  for (const auto& scope : scopes) {
    CAPTURE(scope);
    auto it = cursors.find(scope);
    CHECK((it == cursors.end() ? 0 : it->second) == server.engine().head(scope));
  }
  for (const auto& [scope, seq] : cursors) {
    CAPTURE(scope);
    CHECK(std::find(scopes.begin(), scopes.end(), scope) != scopes.end());
  }
}

std::int64_t count(LoopbackServer& server, const std::string& sql, const std::string& arg = {}) {
  auto s = server.log().db().prepare(sql);
  if (!arg.empty()) s.bind(1, arg);
  REQUIRE(s.step());
  auto n = s.int64(0);
  s.reset();
  return n;
}

}  // namespace

// ================================================================ hand-built frames

TEST_CASE("hello carries the password on first login, later the token, and the stored cursors") {
  muster::ManualClock clock{kStart};
  auto store = ClientStore::open_memory();
  store.save_cursor("area:gulou", 12);
  store.save_cursor(kYili, 3);

  SyncSession first(store, fresh_identity("bob"), Credentials{"s3cret"}, clock);
  auto frames = first.start();
  REQUIRE(frames.size() == 1);
  auto hello = client_frame<protocol::Hello>(frames[0]);
  CHECK(hello.v == protocol::kProtocolVersion);
  CHECK(hello.user == "bob");
  CHECK(hello.device == "bob-phone");
  CHECK(hello.password == std::optional<std::string>("s3cret"));
  CHECK_FALSE(hello.token.has_value());
  CHECK(hello.cursors == protocol::Cursors{{"area:gulou", 12}, {kYili, 3}});

  Identity known = fresh_identity("bob");
  known.token = "tok-bob";
  SyncSession later(store, known, Credentials{}, clock);
  auto hello2 = client_frame<protocol::Hello>(later.start().at(0));
  CHECK(hello2.token == std::optional<std::string>("tok-bob"));
  CHECK_FALSE(hello2.password.has_value());
  CHECK(hello2.cursors == hello.cursors);
}

TEST_CASE("after welcome the identity is saved and the outbox is pushed in order") {
  Offline c;
  const std::string a = c.enqueue(7, "task.claim", Json{{"task", ulid(1)}});
  const std::string b = c.enqueue(3, "task.start", Json{{"task", ulid(1)}});
  const std::string d = c.enqueue(9, "task.done", Json{{"task", ulid(1)}, {"note", "delivered"}});
  c.session->start();

  // What comes before the welcome (over MQTT: what the broker queued for an earlier
  // connection) is dropped: it neither ends the session nor counts as caught up.
  auto early = c.session->on_frame(caught_up());
  REQUIRE(early.ok());
  CHECK(early->empty());
  CHECK_FALSE(c.session->welcomed());
  CHECK_FALSE(c.session->done());
  CHECK(c.store.outbox_size() == 3);

  auto pushed = feed(*c.session, welcome());
  CHECK(c.session->welcomed());
  REQUIRE(pushed.size() == 3);
  const std::vector<std::string> order{a, b, d};
  for (std::size_t i = 0; i < 3; ++i) {
    auto op = client_frame<protocol::OpFrame>(pushed[i]).op;
    CHECK(op.id.str() == order[i]);
  }
  auto last = client_frame<protocol::OpFrame>(pushed[2]).op;
  CHECK(last.kind == "task.done");
  CHECK(last.body == Json{{"task", ulid(1)}, {"note", "delivered"}});
  CHECK(c.session->report().pushed == 3);
  CHECK(c.store.outbox_size() == 3);  // sent is not answered

  auto id = c.store.identity();
  REQUIRE(id.has_value());
  CHECK(id->token == "tok-bob");
  CHECK(id->roles == std::vector<std::string>{"volunteer"});
  CHECK(id->area == "gulou/antai/yili");
  CHECK(id->scopes.size() == 4);
  CHECK(c.session->identity().token == "tok-bob");

  // Ops made while the session is live are pushed once, without repeating the others.
  CHECK(c.session->push_new_ops().empty());
  const std::string e = c.enqueue(11, "task.cancel", Json{{"task", ulid(1)}});
  auto more = c.session->push_new_ops();
  REQUIRE(more.size() == 1);
  CHECK(client_frame<protocol::OpFrame>(more[0]).op.id.str() == e);
  CHECK(c.session->push_new_ops().empty());
}

TEST_CASE("events fold into the replica and advance the cursor only when contiguous; a gap asks one backfill") {
  Offline c;
  c.session->start();
  feed(*c.session, welcome());
  std::vector<Event> seen;
  c.session->on_event = [&](const Event& e) { seen.push_back(e); };

  const std::string t1 = ulid(1), t2 = ulid(2);
  CHECK(feed(*c.session, event(kYili, 1, "task.created", "li", created_body(t1))).empty());
  CHECK(state_of(c.session->state(), t1) == "open");

  // seq 3 before seq 2: not applied, and one backfill from the cursor + 1.
  auto asked = feed(*c.session, event(kYili, 3, "task.claimed", "bob", Json{{"task", t1}}));
  REQUIRE(asked.size() == 1);
  auto backfill = client_frame<protocol::Backfill>(asked[0]);
  CHECK(backfill.scope == kYili);
  CHECK(backfill.from == 2);
  CHECK(state_of(c.session->state(), t1) == "open");
  // More of the same gap while the backfill is pending ask nothing more.
  CHECK(feed(*c.session, event(kYili, 4, "task.started", "bob", Json{{"task", t1}})).empty());
  CHECK(c.session->report().backfills == 1);
  // Another scope is not held up by the gap.
  CHECK(feed(*c.session, event("area:gulou/antai", 1, "task.created", "li", created_body(t2, "gulou/antai"))).empty());
  CHECK(state_of(c.session->state(), t2) == "open");

  c.session->commit();
  CHECK(c.store.cursors() == protocol::Cursors{{kYili, 1}, {"area:gulou/antai", 1}});
  CHECK(state_of(c.store.load_state(), t1) == "open");
  CHECK_FALSE(c.session->done());

  // The backfill's answer: seq 2.. in order, then caught_up.
  feed(*c.session, event(kYili, 2, "task.created", "li", created_body(ulid(3))));
  feed(*c.session, event(kYili, 3, "task.claimed", "bob", Json{{"task", t1}}));
  feed(*c.session, event(kYili, 4, "task.started", "bob", Json{{"task", t1}}));
  feed(*c.session, caught_up());
  CHECK(c.session->done());
  CHECK(c.store.cursors() == protocol::Cursors{{kYili, 4}, {"area:gulou/antai", 1}});
  const State replica = c.store.load_state();
  CHECK(state_of(replica, t1) == "started");
  CHECK(replica.tasks.at(muster::domain::TaskId(t1)).assignee == "bob");
  CHECK(state_of(replica, ulid(3)) == "open");
  CHECK(c.session->report().events == 5);
  REQUIRE(seen.size() == 5);
  CHECK(seen[1].scope == "area:gulou/antai");
  CHECK(seen[2].seq == 2);
  CHECK(seen[4].kind == "task.started");

  auto closing = client_frame<protocol::CursorFrame>(c.session->finish());
  CHECK(closing.cursors.at(kYili) == 4);
  CHECK(closing.cursors.at("area:gulou/antai") == 1);
}

TEST_CASE("a duplicate event is ignored") {
  Offline c;
  c.session->start();
  feed(*c.session, welcome());
  const std::string t = ulid(1);
  feed(*c.session, event(kYili, 1, "task.created", "li", created_body(t)));
  feed(*c.session, event(kYili, 2, "task.claimed", "bob", Json{{"task", t}}));
  // The same seqs again (a replay overlapping live delivery): applying them would
  // change the holder or recreate the task.
  CHECK(feed(*c.session, event(kYili, 2, "task.claimed", "carol", Json{{"task", t}})).empty());
  CHECK(feed(*c.session, event(kYili, 1, "task.created", "li", created_body(t, "gulou/antai/yili", "zhou"))).empty());
  CHECK(c.session->report().events == 2);
  CHECK(c.session->report().backfills == 0);
  c.session->commit();
  const State replica = c.store.load_state();
  CHECK(replica.tasks.at(muster::domain::TaskId(t)).assignee == "bob");
  CHECK(replica.tasks.at(muster::domain::TaskId(t)).creator == "li");
  CHECK(c.store.cursors().at(kYili) == 2);
}

TEST_CASE("an ok ack removes the op from the outbox; an ack to an op not sent now is ignored") {
  Offline c;
  const std::string a = c.enqueue(1, "task.claim", Json{{"task", ulid(50)}});
  const std::string b = c.enqueue(2, "task.start", Json{{"task", ulid(50)}});
  c.session->start();
  feed(*c.session, welcome());
  CHECK(feed(*c.session, ack_ok(a)).empty());
  CHECK(c.outbox_ids() == std::vector<std::string>{b});
  CHECK(c.session->report().accepted == 1);
  CHECK(c.store.rejections(10).empty());

  // An answer that belongs to no op of this session changes nothing.
  const std::string late = c.enqueue(3, "task.done", Json{{"task", ulid(50)}});
  CHECK(feed(*c.session, ack_ok(late)).empty());
  CHECK(feed(*c.session, ack_error(late, Errc::conflict, "no")).empty());
  CHECK(c.outbox_ids() == std::vector<std::string>{b, late});
  CHECK(c.store.rejections(10).empty());
  // Nor does a second answer to an op already answered.
  CHECK(feed(*c.session, ack_ok(a)).empty());
  CHECK(c.session->report().accepted == 1);
}

TEST_CASE("a conflict ack removes the op, records the rejection, and the view rolls back") {
  Offline c;
  c.session->start();
  feed(*c.session, welcome());
  const std::string t = ulid(1);
  feed(*c.session, event(kYili, 1, "task.created", "li", created_body(t)));
  feed(*c.session, caught_up());
  c.session->commit();

  // Offline, bob claims: his view shows it at once.
  const std::string claim = c.enqueue(20, "task.claim", Json{{"task", t}});
  std::set<std::string> pending;
  State view = c.store.view(&pending);
  CHECK(state_of(view, t) == "accepted");
  CHECK(view.tasks.at(muster::domain::TaskId(t)).assignee == "bob");
  CHECK(pending.count(t) == 1);

  // Sync: carol's claim was first. The server sends her event, then our ack.
  c.restart();
  c.session->start();
  auto pushed = feed(*c.session, welcome());
  REQUIRE(pushed.size() == 1);
  feed(*c.session, event(kYili, 2, "task.claimed", "carol", Json{{"task", t}}, ulid(19)));
  Json current = created_body(t);
  current["state"] = "accepted";
  current["assignee"] = "carol";
  CHECK(feed(*c.session, ack_error(claim, Errc::conflict, "cannot claim: task is accepted by carol", current)).empty());
  feed(*c.session, caught_up());
  CHECK(c.session->done());

  CHECK(c.store.outbox_size() == 0);
  auto rejected = c.store.rejections(10);
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].op_id.str() == claim);
  CHECK(rejected[0].kind == "task.claim");
  CHECK(rejected[0].error.code == Errc::conflict);
  CHECK(rejected[0].error.message.find("carol") != std::string::npos);
  CHECK(rejected[0].at == "2026-11-23T08:00:00Z");
  REQUIRE(c.session->report().rejected.size() == 1);
  CHECK(c.session->report().rejected[0].op_id.str() == claim);
  CHECK(c.session->report().accepted == 0);

  pending.clear();
  view = c.store.view(&pending);
  CHECK(view.tasks.at(muster::domain::TaskId(t)).assignee == "carol");
  CHECK(pending.empty());
}

TEST_CASE("a rejection without the winner's event still rolls the view back to the replica") {
  Offline c;
  c.session->start();
  feed(*c.session, welcome());
  const std::string t = ulid(1);
  feed(*c.session, event(kYili, 1, "task.created", "li", created_body(t)));
  c.session->commit();  // the session's replica writes first; the outbox row is its own transaction
  const std::string start = c.enqueue(30, "task.start", Json{{"task", t}});
  const std::string claim = c.enqueue(31, "task.claim", Json{{"task", t}});
  feed(*c.session, caught_up());
  // A live client sends what was made after the welcome.
  REQUIRE(c.session->push_new_ops().size() == 2);
  CHECK(state_of(c.store.view(), t) == "accepted");  // the start is skipped, the claim applies

  feed(*c.session, ack_error(start, Errc::conflict, "cannot start: task is open"));
  feed(*c.session, ack_error(claim, Errc::forbidden, "bob is disabled"));
  CHECK(c.session->done());
  CHECK(c.store.outbox_size() == 0);
  CHECK(state_of(c.store.view(), t) == "open");
  CHECK(c.store.rejections(10).size() == 2);
}

TEST_CASE("an unavailable ack keeps the op queued for the next session") {
  Offline c;
  const std::string a = c.enqueue(1, "task.claim", Json{{"task", ulid(50)}});
  c.session->start();
  feed(*c.session, welcome());
  feed(*c.session, caught_up());
  CHECK_FALSE(c.session->done());
  feed(*c.session, ack_error(a, Errc::unavailable, "storage failed, nothing was saved"));
  CHECK(c.session->done());  // answered, though not decided
  CHECK(c.outbox_ids() == std::vector<std::string>{a});
  CHECK(c.store.rejections(10).empty());
  CHECK(c.session->report().deferred == 1);
  CHECK(c.session->report().rejected.empty());

  // The next session sends it again.
  c.restart();
  c.session->start();
  auto pushed = feed(*c.session, welcome());
  REQUIRE(pushed.size() == 1);
  CHECK(client_frame<protocol::OpFrame>(pushed[0]).op.id.str() == a);
  feed(*c.session, ack_ok(a));
  CHECK(c.store.outbox_size() == 0);
}

std::string ack_limited(const std::string& id, std::int64_t wait_ms) {
  muster::Error e = muster::make_error(Errc::rate_limited, "over the budget");
  e.retry_after_ms = wait_ms;
  return protocol::encode(protocol::ServerFrame{protocol::Ack{OpId(id), false, e, nullptr}});
}

TEST_CASE("rate_limited is \"later\": ops stay queued and go again one at a time after the wait, in order") {
  Offline c;
  const std::string a = c.enqueue(1, "message.send", Json{{"to", "li"}, {"text", "1"}});
  const std::string b = c.enqueue(2, "message.send", Json{{"to", "li"}, {"text", "2"}});
  const std::string d = c.enqueue(3, "message.send", Json{{"to", "li"}, {"text", "3"}});
  c.session->start();
  REQUIRE(feed(*c.session, welcome()).size() == 3);
  feed(*c.session, caught_up());
  feed(*c.session, ack_ok(a));
  feed(*c.session, ack_limited(b, 2000));
  feed(*c.session, ack_limited(d, 2000));
  // Not refused, not dropped, not done.
  CHECK(c.outbox_ids() == std::vector<std::string>{b, d});
  CHECK(c.store.rejections(10).empty());
  CHECK(c.session->report().rate_limited == 2);
  CHECK_FALSE(c.session->done());
  // Nothing before the wait is over, and a live client's outbox poll does not send them early.
  CHECK(c.session->resend_due().empty());
  CHECK(c.session->push_new_ops().empty());
  c.clock.advance(1999);
  CHECK(c.session->resend_due().empty());
  c.clock.advance(1);
  // Then the first, alone.
  auto again = c.session->resend_due();
  REQUIRE(again.size() == 1);
  CHECK(client_frame<protocol::OpFrame>(again[0]).op.id.str() == b);
  CHECK(c.session->resend_due().empty());  // one at a time
  // Limited again: it stays first, with the new wait.
  feed(*c.session, ack_limited(b, 500));
  c.clock.advance(499);
  CHECK(c.session->resend_due().empty());
  c.clock.advance(1);
  again = c.session->resend_due();
  REQUIRE(again.size() == 1);
  CHECK(client_frame<protocol::OpFrame>(again[0]).op.id.str() == b);
  feed(*c.session, ack_ok(b));
  // Accepted: the next goes at once.
  again = c.session->resend_due();
  REQUIRE(again.size() == 1);
  CHECK(client_frame<protocol::OpFrame>(again[0]).op.id.str() == d);
  feed(*c.session, ack_ok(d));
  CHECK(c.session->done());
  CHECK(c.store.outbox_size() == 0);
  CHECK(c.session->report().rejected.empty());
}

TEST_CASE("a rate_limited op left when the session ends is sent by the next one") {
  Offline c;
  const std::string a = c.enqueue(1, "message.send", Json{{"to", "li"}, {"text", "1"}});
  c.session->start();
  feed(*c.session, welcome());
  feed(*c.session, caught_up());
  feed(*c.session, ack_limited(a, 60000));
  c.restart();
  c.session->start();
  auto pushed = feed(*c.session, welcome());
  REQUIRE(pushed.size() == 1);
  CHECK(client_frame<protocol::OpFrame>(pushed[0]).op.id.str() == a);
}

TEST_CASE("done() only once caught up and every pushed op is answered") {
  SUBCASE("acks before caught_up") {
    Offline c;
    const std::string a = c.enqueue(1, "task.claim", Json{{"task", ulid(50)}});
    const std::string b = c.enqueue(2, "task.claim", Json{{"task", ulid(51)}});
    c.session->start();
    CHECK_FALSE(c.session->done());
    feed(*c.session, welcome());
    CHECK_FALSE(c.session->done());
    feed(*c.session, ack_ok(a));
    CHECK_FALSE(c.session->done());
    feed(*c.session, ack_ok(b));
    CHECK_FALSE(c.session->done());
    feed(*c.session, caught_up());
    CHECK(c.session->done());
  }
  SUBCASE("caught_up before the acks") {
    Offline c;
    const std::string a = c.enqueue(1, "task.claim", Json{{"task", ulid(50)}});
    const std::string b = c.enqueue(2, "task.claim", Json{{"task", ulid(51)}});
    c.session->start();
    feed(*c.session, welcome());
    feed(*c.session, caught_up());
    CHECK_FALSE(c.session->done());
    feed(*c.session, ack_error(b, Errc::not_found, "no task"));
    CHECK_FALSE(c.session->done());
    feed(*c.session, ack_ok(a));
    CHECK(c.session->done());
  }
  SUBCASE("an empty outbox: caught_up is enough") {
    Offline c;
    c.session->start();
    feed(*c.session, welcome());
    CHECK_FALSE(c.session->done());
    feed(*c.session, caught_up());
    CHECK(c.session->done());
    // A gap reopens the conversation until the backfill is answered.
    feed(*c.session, event(kYili, 2, "task.created", "li", created_body(ulid(1))));
    CHECK_FALSE(c.session->done());
    feed(*c.session, event(kYili, 1, "task.created", "li", created_body(ulid(2))));
    feed(*c.session, event(kYili, 2, "task.created", "li", created_body(ulid(1))));
    feed(*c.session, caught_up());
    CHECK(c.session->done());
  }
}

TEST_CASE("server errors end the session; nonsense is invalid; pong and results are harmless") {
  Offline c;
  c.session->start();
  // A refused hello is answered before any welcome: it is a refusal, with the server's words.
  auto refused = c.session->on_frame(
      protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{"unauthorized", "bad password"}}));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::forbidden);
  CHECK(refused.error().message.find("bad password") != std::string::npos);
  auto malformed = c.session->on_frame(
      protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{"bad_frame", "hello: field 'v' is missing"}}));
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().code == Errc::invalid);
  CHECK(malformed.error().message.find("field 'v' is missing") != std::string::npos);

  auto garbage = c.session->on_frame("{\"t\":\"welcome\"");
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == Errc::invalid);

  feed(*c.session, welcome());
  auto limited =
      c.session->on_frame(protocol::encode(protocol::ServerFrame{protocol::ErrorFrame{"rate_limited", "slow down"}}));
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.error().code == Errc::invalid);

  CHECK(feed(*c.session, protocol::encode(protocol::ServerFrame{protocol::Pong{}})).empty());
  std::optional<protocol::QueryResult> got;
  c.session->on_result = [&](const protocol::QueryResult& r) { got = r; };
  protocol::QueryResult r;
  r.id = "q1";
  r.body = Json{{"acked", 3}};
  CHECK(feed(*c.session, protocol::encode(protocol::ServerFrame{r})).empty());
  REQUIRE(got.has_value());
  CHECK(got->id == "q1");
  CHECK(got->body["acked"] == 3);
}

TEST_CASE("a crash keeps the replica and cursors together, and never an answered op without its events") {
  TempDir home;
  muster::ManualClock clock{kStart};
  const std::string t = ulid(1), claim = ulid(2);
  {
    auto store = ClientStore::open(home.sub("bob"));
    store.enqueue(Op{OpId(claim), "task.claim", Json{{"task", t}}}, kStart);
    SyncSession s(store, fresh_identity("bob"), Credentials{"pw"}, clock);
    s.start();
    feed(s, welcome());
    feed(s, event(kYili, 1, "task.created", "li", created_body(t)));
    feed(s, event(kYili, 2, "task.claimed", "bob", Json{{"task", t}}, claim));
    // The process dies before the ack: nothing of the events is kept (they were not
    // committed), so the replica and the cursors still agree, and the op is queued.
  }
  {
    auto store = ClientStore::open(home.sub("bob"));
    CHECK(store.cursors().empty());
    CHECK(store.load_state().tasks.empty());
    CHECK(store.outbox_size() == 1);
    CHECK(store.identity().has_value());  // the welcome was saved at once

    SyncSession s(store, *store.identity(), Credentials{}, clock);
    s.start();
    feed(s, welcome());
    feed(s, event(kYili, 1, "task.created", "li", created_body(t)));
    feed(s, event(kYili, 2, "task.claimed", "bob", Json{{"task", t}}, claim));
    feed(s, ack_ok(claim));
    // Dies right after the ack: the events it answered were made durable first.
  }
  auto store = ClientStore::open(home.sub("bob"));
  CHECK(store.outbox_size() == 0);
  CHECK(store.cursors() == protocol::Cursors{{kYili, 2}});
  CHECK(state_of(store.load_state(), t) == "accepted");
  CHECK(store.load_state().tasks.at(muster::domain::TaskId(t)).assignee == "bob");
}

// ================================================================ against the real engine

TEST_CASE("offline ops of three users converge: every client agrees with the engine") {
  TempDir dir;
  muster::ManualClock clock{kStart};
  LoopbackServer server(dir.sub("server"), clock, grid_users(), {"gulou/antai/yili", "gulou/antai/xinhua"});
  Device li(dir.sub("li"), "li", "li-phone", clock);
  Device bob(dir.sub("bob"), "bob", "bob-phone", clock);
  Device carol(dir.sub("carol"), "carol", "carol-phone", clock);
  for (Device* d : {&li, &bob, &carol}) {
    auto r = d->sync(server);  // login
    CHECK(r.caught_up);
    REQUIRE(d->store().identity().has_value());
    CHECK_FALSE(d->store().identity()->token.empty());
  }

  // The lead creates three tasks while offline.
  const std::string t_yili = ulid(1), t_xinhua = ulid(2), t_street = ulid(3);
  li.enqueue(create(t_yili, "gulou/antai/yili"));
  li.enqueue(create(t_xinhua, "gulou/antai/xinhua"));
  li.enqueue(create(t_street, "gulou/antai"));
  CHECK(li.store().view().tasks.size() == 3);
  CHECK(li.store().load_state().tasks.empty());
  clock.advance(60000);
  auto r = li.sync(server);
  CHECK(r.accepted == 3);
  CHECK(r.pushed == 3);
  CHECK(r.events == 3);
  CHECK(li.store().outbox_size() == 0);
  CHECK(li.store().load_state().tasks.size() == 3);

  bob.sync(server);
  carol.sync(server);
  CHECK(bob.store().load_state().tasks.count(muster::domain::TaskId(t_yili)) == 1);
  CHECK(bob.store().load_state().tasks.count(muster::domain::TaskId(t_street)) == 1);
  CHECK(bob.store().load_state().tasks.count(muster::domain::TaskId(t_xinhua)) == 0);  // another community
  CHECK(carol.store().load_state().tasks.count(muster::domain::TaskId(t_xinhua)) == 1);

  // Offline again: bob claims two and starts one; carol claims hers and the street's.
  bob.enqueue(on_task(ulid(10), "task.claim", t_yili));
  bob.enqueue(on_task(ulid(11), "task.start", t_yili));
  bob.enqueue(on_task(ulid(12), "task.claim", t_street));
  carol.enqueue(on_task(ulid(20), "task.claim", t_xinhua));
  carol.enqueue(on_task(ulid(21), "task.claim", t_street));
  CHECK(state_of(carol.store().view(), t_street) == "accepted");
  clock.advance(60000);

  r = bob.sync(server);
  CHECK(r.accepted == 3);
  CHECK(r.rejected.empty());
  r = carol.sync(server);
  CHECK(r.accepted == 1);
  REQUIRE(r.rejected.size() == 1);
  CHECK(r.rejected[0].op_id.str() == ulid(21));
  CHECK(r.rejected[0].error.code == Errc::conflict);
  CHECK(r.rejected[0].error.message.find("bob") != std::string::npos);
  CHECK(carol.store().view().tasks.at(muster::domain::TaskId(t_street)).assignee == "bob");  // rolled back to the server's word

  for (Device* d : {&li, &bob, &carol}) d->sync(server);
  for (Device* d : {&li, &bob, &carol}) check_agrees(*d, server);
  CHECK(state_of(li.store().load_state(), t_yili) == "started");
  CHECK(li.store().load_state().tasks.at(muster::domain::TaskId(t_xinhua)).assignee == "carol");
}

TEST_CASE("two offline claims: the first to arrive wins, the other client rolls back and learns the holder") {
  TempDir dir;
  muster::ManualClock clock{kStart};
  LoopbackServer server(dir.sub("server"), clock, grid_users());
  Device li(dir.sub("li"), "li", "li-phone", clock);
  Device bob(dir.sub("bob"), "bob", "bob-phone", clock);
  Device dora(dir.sub("dora"), "dora", "dora-phone", clock);
  const std::string t = ulid(1);
  li.enqueue(create(t, "gulou/antai/yili"));
  li.sync(server);
  bob.sync(server);
  dora.sync(server);

  bob.enqueue(on_task(ulid(2), "task.claim", t));
  dora.enqueue(on_task(ulid(3), "task.claim", t));
  CHECK(bob.store().view().tasks.at(muster::domain::TaskId(t)).assignee == "bob");
  CHECK(dora.store().view().tasks.at(muster::domain::TaskId(t)).assignee == "dora");

  // Both online at once: dora's op reaches the server first, in the same batch.
  bob.connect(server);
  dora.connect(server);
  for (Device* d : {&bob, &dora}) {
    while (d->send_one(server)) {
    }
    while (d->receive_one(server)) {
    }
  }
  for (Device* d : {&dora, &bob}) {  // dora's op first
    while (d->send_one(server)) {
    }
  }
  CHECK(server.pending_ops() == 2);
  server.flush();
  for (Device* d : {&bob, &dora}) {
    while (d->receive_one(server)) {
    }
    CHECK(d->session().done());
    d->close(server);
  }
  CHECK(dora.store().outbox_size() == 0);
  CHECK(dora.store().rejections(10).empty());
  CHECK(bob.store().outbox_size() == 0);
  auto rejected = bob.store().rejections(10);
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].op_id.str() == ulid(2));
  CHECK(rejected[0].error.code == Errc::conflict);
  CHECK(rejected[0].error.message.find("dora") != std::string::npos);
  // Bob got dora's event live, before his ack: his view shows her as the holder.
  CHECK(bob.store().view().tasks.at(muster::domain::TaskId(t)).assignee == "dora");
  CHECK(bob.store().load_state().tasks.at(muster::domain::TaskId(t)).assignee == "dora");
  li.sync(server);
  for (Device* d : {&li, &bob, &dora}) check_agrees(*d, server);
}

TEST_CASE("a wrong password is refused before any welcome, and nothing is saved") {
  TempDir dir;
  muster::ManualClock clock{kStart};
  LoopbackServer server(dir.sub("server"), clock, grid_users());
  auto store = ClientStore::open(dir.sub("bob"));
  store.enqueue(on_task(ulid(1), "task.claim", ulid(2)), kStart);
  SyncSession s(store, fresh_identity("bob"), Credentials{"not-his-password"}, clock);
  auto conn = server.connect();
  server.receive(conn, s.start().at(0));
  REQUIRE(server.to_client(conn).size() == 1);
  auto r = s.on_frame(server.to_client(conn).front());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::forbidden);
  CHECK_FALSE(s.welcomed());
  CHECK_FALSE(store.identity().has_value());
  CHECK(store.outbox_size() == 1);
  CHECK(server.pending_ops() == 0);
}

TEST_CASE("a lost ack: the op is sent again, answered from the log, and applied once") {
  TempDir dir;
  muster::ManualClock clock{kStart};
  LoopbackServer server(dir.sub("server"), clock, grid_users());
  Device li(dir.sub("li"), "li", "li-phone", clock);
  Device bob(dir.sub("bob"), "bob", "bob-phone", clock);
  const std::string t = ulid(1), claim = ulid(2);
  li.enqueue(create(t, "gulou/antai/yili"));
  li.sync(server);
  bob.sync(server);

  bob.enqueue(on_task(claim, "task.claim", t));
  bob.connect(server);
  while (bob.send_one(server) || bob.receive_one(server)) {
  }
  server.flush();     // decided and durable; the event and the ack are on their way...
  bob.crash(server);  // ...and never arrive
  CHECK(bob.store().outbox_size() == 1);
  CHECK(bob.store().load_state().tasks.at(muster::domain::TaskId(t)).state == muster::domain::TaskState::open);
  CHECK(bob.store().view().tasks.at(muster::domain::TaskId(t)).assignee == "bob");

  auto r = bob.sync(server);
  CHECK(r.accepted == 1);  // the stored answer
  CHECK(r.events == 1);    // the claim, replayed from the cursor
  CHECK(count(server, "SELECT count(*) FROM events WHERE op = ?1", claim) == 1);
  CHECK(count(server, "SELECT count(*) FROM ops WHERE id = ?1", claim) == 1);
  check_agrees(bob, server);
  CHECK(bob.store().load_state().tasks.at(muster::domain::TaskId(t)).assignee == "bob");
}

TEST_CASE("a storage failure on the server leaves the op queued; the next sync delivers it") {
  TempDir dir;
  muster::ManualClock clock{kStart};
  LoopbackServer server(dir.sub("server"), clock, grid_users());
  Device li(dir.sub("li"), "li", "li-phone", clock);
  li.sync(server);
  li.enqueue(create(ulid(1), "gulou/antai"));

  muster::store::OpenOptions options;
  options.busy_timeout_ms = 100;
  auto saboteur = muster::store::Db::open(server.log_path(), options);
  saboteur.exec("CREATE TRIGGER disk_full BEFORE INSERT ON ops BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  auto r = li.sync(server);
  CHECK(r.deferred == 1);
  CHECK(r.accepted == 0);
  CHECK(server.flushes_failed() == 1);
  CHECK(li.store().outbox_size() == 1);
  CHECK(li.store().view().tasks.count(muster::domain::TaskId(ulid(1))) == 1);  // still shown as pending

  saboteur.exec("DROP TRIGGER disk_full");
  r = li.sync(server);
  CHECK(r.accepted == 1);
  check_agrees(li, server);
}

// ================================================================ randomized model test

namespace {

struct ModelStats {
  int steps = 0;
  int ops = 0;
  int crashes = 0;
  int cuts = 0;
  int lost = 0;
  int restarts = 0;
  int faults = 0;
  int accepted = 0;
  int rejected = 0;
  int deferred = 0;
  int backfills = 0;
};

// The replica a device should hold given its cursors: exactly the server's events of
// each scope up to the cursor, folded. A replica ahead of or behind its cursors (a
// crash between the two) fails this.
void check_replica_matches_cursors(Device& d, LoopbackServer& server) {
  CAPTURE(d.device());
  State expected;
  for (const auto& [scope, seq] : d.store().cursors()) {
    CAPTURE(scope);
    CHECK(seq <= server.engine().head(scope));
    for (const auto& [n, frame] : server.log().read_scope(scope, 0, static_cast<int>(seq))) {
      auto decoded = protocol::decode_server_frame(frame);
      REQUIRE(decoded.ok());
      muster::domain::fold(expected, std::get<protocol::EventFrame>(*decoded).event);
    }
  }
  CHECK(tasks_json(d.store().load_state().tasks) == tasks_json(expected.tasks));
}

ModelStats run_model(std::uint64_t seed, int steps) {
  ModelStats stats;
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t n) { return static_cast<std::size_t>(rng() % n); };
  auto chance = [&](int percent) { return pick(100) < static_cast<std::size_t>(percent); };

  TempDir dir;
  muster::ManualClock clock{kStart};
  const std::vector<std::string> areas{"gulou/antai", "gulou/antai/yili", "gulou/antai/xinhua"};
  LoopbackServer server(dir.sub("server"), clock, grid_users(), areas);
  std::vector<std::unique_ptr<Device>> devices;
  devices.push_back(std::make_unique<Device>(dir.sub("li"), "li", "li-phone", clock));
  devices.push_back(std::make_unique<Device>(dir.sub("bob"), "bob", "bob-phone", clock));
  devices.push_back(std::make_unique<Device>(dir.sub("bob2"), "bob", "bob-tablet", clock));  // a second device
  devices.push_back(std::make_unique<Device>(dir.sub("carol"), "carol", "carol-phone", clock));
  for (auto& d : devices) d->sync(server);  // login

  std::vector<std::string> tasks;                     // every task the lead has proposed
  std::map<std::string, std::set<std::string>> made;  // device -> op ids enqueued there
  std::map<std::string, int> limit;                   // device -> frames before its line is cut
  std::uint64_t next_id = 1;

  // Mostly what a user would do given what their screen shows; sometimes anything
  // at all (a stale screen, another device's task, a task that does not exist).
  auto random_op = [&](Device& d) {
    const std::string id = ulid(next_id++);
    const bool lead = d.user() == "li";
    if (tasks.empty() || chance(lead ? 75 : 3)) {
      if (lead) tasks.push_back(id);
      return create(id, areas[pick(areas.size())], "task " + std::to_string(next_id));
    }
    static const char* kKinds[] = {"task.claim", "task.start", "task.done", "task.cancel"};
    if (chance(85)) {
      std::vector<Op> sensible;
      for (const auto& [task, t] : d.store().view().tasks) {
        if (lead && !muster::domain::is_final(t.state) && chance(30)) {
          sensible.push_back(on_task(id, "task.cancel", task.str()));
        }
        if (!lead && t.state == muster::domain::TaskState::open) sensible.push_back(on_task(id, "task.claim", task.str()));
        if (!lead && t.assignee == d.user() && t.state == muster::domain::TaskState::accepted) {
          sensible.push_back(on_task(id, "task.start", task.str()));
        }
        if (!lead && t.assignee == d.user() && t.state == muster::domain::TaskState::started) {
          sensible.push_back(on_task(id, "task.done", task.str()));
        }
      }
      if (!sensible.empty()) return sensible[pick(sensible.size())];
    }
    std::string task = chance(5) ? ulid(999999) : tasks[pick(tasks.size())];
    if (auto view = d.store().view(); !view.tasks.empty() && chance(50)) {
      task = std::next(view.tasks.begin(), static_cast<std::ptrdiff_t>(pick(view.tasks.size())))->first.str();
    }
    return on_task(id, kKinds[pick(4)], task);
  };

  // A device picked among those `fit` allows, or null if none is.
  auto any_device = [&](auto fit) -> Device* {
    std::vector<Device*> fitting;
    for (auto& dev : devices) {
      if (fit(*dev)) fitting.push_back(dev.get());
    }
    return fitting.empty() ? nullptr : fitting[pick(fitting.size())];
  };
  auto online = [](Device& dev) { return dev.online(); };
  auto everyone = [](Device&) { return true; };

  for (int step = 0; step < steps; ++step) {
    ++stats.steps;
    clock.advance(static_cast<muster::UnixMs>(500 + pick(5000)));
    const std::size_t action = pick(1000);
    if (action < 200) {  // a user acts, online or not
      Device& d = *any_device(everyone);
      Op op = random_op(d);
      made[d.device()].insert(op.id.str());
      d.enqueue(op);
      ++stats.ops;
      if (chance(50)) d.push_new_ops();
    } else if (action < 280) {  // a sync starts; its line will be cut after some frames
      if (Device* d = any_device([](Device& dev) { return !dev.online(); })) {
        d->connect(server);
        limit[d->device()] = 1 + static_cast<int>(pick(300));
      }
    } else if (action < 500) {
      if (Device* d = any_device(online)) d->send_one(server);
    } else if (action < 580) {
      server.flush();
    } else if (action < 920) {
      if (Device* d = any_device(online)) d->receive_one(server, chance(20));
    } else if (action < 940) {
      Device& d = *any_device(everyone);
      d.crash(server);
      ++stats.crashes;
      check_replica_matches_cursors(d, server);
    } else if (action < 965) {
      if (Device* d = any_device(online)) {
        d->cut(server);
        ++stats.cuts;
      }
    } else if (action < 970) {
      server.restart();
      ++stats.restarts;
    } else if (action < 985) {  // the disk is full for one commit
      if (server.pending_ops() > 0) {
        muster::store::OpenOptions options;
        options.busy_timeout_ms = 100;
        auto saboteur = muster::store::Db::open(server.log_path(), options);
        saboteur.exec("CREATE TRIGGER disk_full BEFORE INSERT ON ops BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
        // A batch that only repeats decided ops writes nothing and cannot fail.
        if (!server.flush()) ++stats.faults;
        saboteur.exec("DROP TRIGGER disk_full");
      }
    } else if (Device* d =
                   any_device([&](Device& dev) { return dev.online() && dev.session().done() && dev.idle(server); })) {
      d->close(server);
    }
    // Every line is cut once it has carried its share of frames; sometimes the client
    // process dies with it.
    for (auto& dev : devices) {
      if (dev->online() && dev->frames_moved() >= limit[dev->device()]) {
        if (chance(30)) {
          dev->crash(server);
          ++stats.crashes;
          check_replica_matches_cursors(*dev, server);
        } else {
          dev->cut(server);
          ++stats.cuts;
        }
      }
    }
  }

  // The network heals: everyone syncs cleanly, twice (the first round pushes every
  // outbox; the second brings everyone the others' results).
  for (auto& dev : devices) dev->cut(server);
  server.flush();
  for (int round = 0; round < 2; ++round) {
    for (auto& dev : devices) dev->sync(server);
  }

  std::set<std::string> all_ops;
  for (auto& dev : devices) {
    CAPTURE(dev->device());
    check_agrees(*dev, server);
    check_replica_matches_cursors(*dev, server);
    // Every op made on this device was decided exactly once, as this device's.
    const auto& mine = made[dev->device()];
    CHECK(count(server, "SELECT count(*) FROM ops WHERE device = ?1", dev->device()) ==
          static_cast<std::int64_t>(mine.size()));
    std::set<std::string> refused_here;
    for (const auto& id : mine) {
      CAPTURE(id);
      auto s = server.log().db().prepare("SELECT actor, ok FROM ops WHERE id = ?1");
      s.bind(1, id);
      REQUIRE(s.step());
      CHECK(s.text(0) == dev->user());
      if (s.int64(1) == 0) refused_here.insert(id);
      s.reset();
      all_ops.insert(id);
    }
    // ...and every refusal reached the user, once.
    std::set<std::string> recorded;
    for (const auto& r : dev->store().rejections(100000)) recorded.insert(r.op_id.str());
    CHECK(recorded == refused_here);
    stats.rejected += static_cast<int>(refused_here.size());
    stats.accepted += static_cast<int>(mine.size() - refused_here.size());
    stats.deferred += dev->totals().deferred;
    stats.backfills += dev->totals().backfills;
    stats.lost += dev->lost();
  }
  CHECK(count(server, "SELECT count(*) FROM ops") == static_cast<std::int64_t>(all_ops.size()));
  // No op applied twice: each accepted op has exactly its one event, a refused none.
  CHECK(count(server,
              "SELECT count(*) FROM ops o WHERE (SELECT count(*) FROM events e WHERE e.op = o.id) "
              "!= (CASE WHEN o.ok THEN 1 ELSE 0 END)") == 0);
  // What the server holds in memory is what its log says.
  const Json live = tasks_json(server.engine().state().tasks);
  const auto gseq = server.engine().last_gseq();
  server.restart();
  CHECK(tasks_json(server.engine().state().tasks) == live);
  CHECK(server.engine().last_gseq() == gseq);
  CHECK(count(server, "SELECT count(*) FROM events") == gseq);  // gseq has no gaps
  return stats;
}

}  // namespace

TEST_CASE("random ops, cut lines, lost frames and crashes: every client ends agreeing with the server") {
  std::uint64_t seed = 1;
  if (const char* env = std::getenv("MUSTER_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
  constexpr int kRuns = 4;
  constexpr int kSteps = 500;
  ModelStats total;
  for (int run = 0; run < kRuns; ++run) {
    const std::uint64_t s = seed + static_cast<std::uint64_t>(run);
    MESSAGE("model test seed " << s << " (rerun with MUSTER_TEST_SEED=" << s << ")");
    CAPTURE(s);
    ModelStats st = run_model(s, kSteps);
    for (auto [sum, part] :
         {std::pair{&total.ops, st.ops}, std::pair{&total.crashes, st.crashes}, std::pair{&total.cuts, st.cuts},
          std::pair{&total.lost, st.lost}, std::pair{&total.restarts, st.restarts}, std::pair{&total.faults, st.faults},
          std::pair{&total.rejected, st.rejected}, std::pair{&total.accepted, st.accepted},
          std::pair{&total.deferred, st.deferred}, std::pair{&total.backfills, st.backfills}}) {
      *sum += part;
    }
  }
  MESSAGE("ops " << total.ops << ", crashes " << total.crashes << ", cuts " << total.cuts << ", lost events "
                 << total.lost << ", backfills " << total.backfills << ", server restarts " << total.restarts
                 << ", storage faults " << total.faults << ", accepted " << total.accepted << ", rejected "
                 << total.rejected << ", deferred " << total.deferred);
  // The runs must have exercised what they claim to.
  CHECK(total.ops > 100);
  CHECK(total.crashes > 0);
  CHECK(total.cuts > 0);
  CHECK(total.accepted > 0);
  CHECK(total.rejected > 0);
}

TEST_CASE("the server's own events for this user are kept as alerts with the replica; marks are kept beside them") {
  Offline c;
  c.session->start();
  feed(*c.session, welcome());
  const std::string shift = ulid(7);
  Json reminder{{"shift", shift}, {"post", "north gate"}, {"area", "gulou/antai/yili"},
                {"start", "2026-11-23T10:00:00Z"}, {"end", "2026-11-23T18:00:00Z"}, {"user", "bob"}};
  feed(*c.session, event("user:bob", 1, "shift.reminder", "musterd", reminder));
  // An ordinary event is no alert.
  feed(*c.session, event(kYili, 1, "task.created", "li", created_body(ulid(8))));
  c.session->commit();

  auto alerts = c.store.alerts();
  REQUIRE(alerts.size() == 1);
  const auto& a = alerts.begin()->second;
  CHECK(a.id == ulid(5001));
  CHECK(a.kind == "shift.reminder");
  CHECK(a.scope == "user:bob");
  CHECK(a.body == reminder);

  c.store.mark("ack", {a.id});
  c.store.mark("read", {ulid(9), ulid(10)});
  c.store.mark("read", {ulid(9)});  // twice is once
  const auto marks = c.store.inbox_marks();
  CHECK(marks.acked_alerts == std::set<std::string>{a.id});
  CHECK(marks.read_messages == std::set<std::string>{ulid(9), ulid(10)});

  // Another user logging in here starts from nothing.
  c.store.reset_replica();
  CHECK(c.store.alerts().empty());
  CHECK(c.store.inbox_marks().read_messages.empty());
}
