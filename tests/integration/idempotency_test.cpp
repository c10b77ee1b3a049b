// SPEC test 3 over raw WebSocket to a real musterd on 127.0.0.1: an op id seen
// before gets the byte-identical ack and changes nothing, on the same connection,
// after reconnecting with the device token, sent twice in one group commit, and
// after the server was killed with SIGKILL and restarted. Also the replay a client
// gets from its cursors and from a backfill.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "muster/base/ulid.hpp"
#include "frames.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kHome = "gulou/antai";           // lin's home: lin leads it and everything below
constexpr const char* kArea = "gulou/antai/yili";      // bob's home
constexpr const char* kAreaScope = "area:gulou/antai/yili";
constexpr const char* kHomeScope = "area:gulou/antai";
constexpr const char* kPassword = "password123";

using mt::Frame;
using mt::left_until;
using mt::new_id;
using mt::next_frame;

// Reads until `count` acks for op `id` arrived: the acks in order, and every other
// frame (events and the rest) that came before the last of them.
struct Answers {
  std::vector<Frame> acks;
  std::vector<Frame> events;
  std::vector<Frame> other;
};

std::optional<Answers> until_acks(mt::RawWs& ws, const std::string& id, std::size_t count,
                                  std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  Answers a;
  while (a.acks.size() < count) {
    auto left = left_until(deadline);
    if (left.count() == 0) return std::nullopt;
    auto f = next_frame(ws, left);
    if (!f) return std::nullopt;
    if (f->type() == "ack" && f->str("id") == id) {
      a.acks.push_back(std::move(*f));
    } else {
      (f->type() == "event" ? a.events : a.other).push_back(std::move(*f));
    }
  }
  return a;
}

struct Answer {
  Frame ack;
  std::vector<Frame> events;
  std::vector<Frame> other;
};

std::optional<Answer> until_ack(mt::RawWs& ws, const std::string& id, std::chrono::milliseconds timeout = 10s) {
  auto a = until_acks(ws, id, 1, timeout);
  if (!a) return std::nullopt;
  return Answer{std::move(a->acks[0]), std::move(a->events), std::move(a->other)};
}

std::vector<Frame> made_by(const std::vector<Frame>& frames, const std::string& op) {
  std::vector<Frame> out;
  for (const auto& f : frames) {
    if (f.str("op") == op) out.push_back(f);
  }
  return out;
}

// Sends a ping and reads up to the pong; returns what came before it, nullopt if no pong.
std::optional<std::vector<Frame>> ping(mt::RawWs& ws, std::chrono::milliseconds timeout = 5s) {
  if (!ws.send_text(R"({"t":"ping"})")) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  std::vector<Frame> before;
  while (true) {
    auto left = left_until(deadline);
    if (left.count() == 0) return std::nullopt;
    auto f = next_frame(ws, left);
    if (!f) return std::nullopt;
    if (f->type() == "pong") return before;
    before.push_back(std::move(*f));
  }
}

// True if a ping is answered with a pong and nothing came before it.
bool quiet(mt::RawWs& ws) {
  auto before = ping(ws);
  if (!before) return false;
  std::string text;
  for (const auto& f : *before) text += f.raw + "\n";
  CHECK_MESSAGE(before->empty(), "unexpected frames:\n" << text);
  return before->empty();
}

json hello(const std::string& user, const std::string& password, const std::string& device,
           const json& cursors = json::object()) {
  return {{"t", "hello"}, {"v", 1}, {"user", user}, {"password", password}, {"device", device}, {"cursors", cursors}};
}

json hello_token(const std::string& user, const std::string& token, const std::string& device,
                 const json& cursors = json::object()) {
  return {{"t", "hello"}, {"v", 1}, {"user", user}, {"token", token}, {"device", device}, {"cursors", cursors}};
}

std::string op_frame(const std::string& id, const std::string& kind, const json& body) {
  return json{{"t", "op"}, {"id", id}, {"kind", kind}, {"body", body}}.dump();
}

std::string ok_ack(const std::string& id) { return json{{"t", "ack"}, {"id", id}, {"ok", true}}.dump(); }

json create_body(const std::string& title, const std::string& area = kArea) {
  return {{"kind", "errand"}, {"title", title}, {"area", area}, {"dispatch", "claim"}, {"details", {{"address", "b3-502"}}}};
}

struct Session {
  mt::RawWs ws;
  Frame welcome;
  std::vector<Frame> replay;  // events between welcome and caught_up
};

void read_greeting(Session& s) {
  auto w = next_frame(s.ws, 10s);
  REQUIRE_MESSAGE(w.has_value(), "no welcome; close code " << s.ws.close_code() << " " << s.ws.close_reason());
  REQUIRE_MESSAGE(w->type() == "welcome", w->raw);
  s.welcome = std::move(*w);
  while (true) {
    auto f = next_frame(s.ws, 10s);
    REQUIRE_MESSAGE(f.has_value(), "no caught_up after the welcome");
    if (f->type() == "caught_up") break;
    REQUIRE_MESSAGE(f->type() == "event", f->raw);
    s.replay.push_back(std::move(*f));
  }
}

std::unique_ptr<Session> login(int port, const json& hello_frame) {
  auto s = std::make_unique<Session>();
  REQUIRE(s->ws.connect(port));
  REQUIRE(s->ws.send_text(hello_frame.dump()));
  read_greeting(*s);
  return s;
}

// A server with lin (lead of gulou/antai) and bob (volunteer in gulou/antai/yili).
struct World {
  mt::ServerFixture server;

  World() {
    server.add_user("lin", "lead", kHome);
    server.add_user("bob", "volunteer", kArea);
    server.start();
  }

  int port() const { return server.port(); }

  double metric(const std::string& name) const {
    auto v = server.metric(name);
    REQUIRE_MESSAGE(v.has_value(), "metric " << name << " missing");
    return *v;
  }
};

// Per scope, the seqs of the events in `frames`, in the order they came.
std::map<std::string, std::vector<std::int64_t>> seqs_by_scope(const std::vector<Frame>& frames) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const auto& f : frames) out[f.str("scope")].push_back(f.j.value("seq", std::int64_t{-1}));
  return out;
}

std::vector<std::int64_t> one_to(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

}  // namespace

TEST_SUITE("idempotency") {
  TEST_CASE("the same op id again gets the byte-identical ack and changes nothing, also across kill -9") {
    World w;
    auto lin = login(w.port(), hello("lin", kPassword, "lin-desk"));
    const std::string token = lin->welcome.str("token");
    REQUIRE_FALSE(token.empty());
    CHECK(lin->replay.empty());
    auto bob = login(w.port(), hello("bob", kPassword, "bob-phone"));  // watches the area

    const std::string x = new_id();
    const std::string frame = op_frame(x, "task.create", create_body("buy rice"));

    // First time: the event, then the ack.
    REQUIRE(lin->ws.send_text(frame));
    auto first = until_ack(lin->ws, x);
    REQUIRE(first.has_value());
    const std::string ack = first->ack.raw;
    CHECK(ack == ok_ack(x));
    REQUIRE(first->events.size() == 1);
    Frame created = first->events[0];
    CHECK(created.str("scope") == kAreaScope);
    CHECK(created.j["seq"] == 1);
    CHECK(created.j["gseq"] == 1);
    CHECK(created.str("op") == x);
    CHECK(created.str("kind") == "task.created");
    CHECK(created.str("actor") == "lin");
    CHECK(created.j["body"]["id"] == x);
    CHECK(created.j["body"]["state"] == "open");
    CHECK(first->other.empty());
    {
      auto seen = ping(bob->ws);
      REQUIRE(seen.has_value());
      REQUIRE(seen->size() == 1);
      CHECK((*seen)[0].raw == created.raw);
    }
    CHECK(w.metric("muster_last_gseq") == 1);
    CHECK(w.metric("muster_ops_accepted_total") == 1);
    CHECK(w.metric("muster_ops_repeated_total") == 0);

    SUBCASE("again on the same connection") {
      REQUIRE(lin->ws.send_text(frame));
      auto again = until_ack(lin->ws, x);
      REQUIRE(again.has_value());
      CHECK(again->ack.raw == ack);
      CHECK(again->events.empty());
      CHECK(again->other.empty());
      CHECK(quiet(lin->ws));
      CHECK(quiet(bob->ws));
      CHECK(w.metric("muster_last_gseq") == 1);
      CHECK(w.metric("muster_log_events") == 1);
      CHECK(w.metric("muster_ops_accepted_total") == 1);
      CHECK(w.metric("muster_ops_repeated_total") == 1);
    }

    SUBCASE("again after reconnecting with the token, cursors at the head") {
      lin->ws.close();
      auto lin2 = login(w.port(), hello_token("lin", token, "lin-desk", {{kAreaScope, 1}}));
      CHECK(lin2->welcome.str("token") == token);
      CHECK(lin2->replay.empty());
      REQUIRE(lin2->ws.send_text(frame));
      auto again = until_ack(lin2->ws, x);
      REQUIRE(again.has_value());
      CHECK(again->ack.raw == ack);
      CHECK(again->events.empty());
      CHECK(quiet(lin2->ws));
      CHECK(quiet(bob->ws));
      CHECK(w.metric("muster_last_gseq") == 1);
      CHECK(w.metric("muster_ops_repeated_total") == 1);
    }

    SUBCASE("kill -9 right after an ack: the op, its event and the answer are durable") {
      const std::string z = new_id();
      const std::string frame_z = op_frame(z, "task.create", create_body("buy eggs"));
      REQUIRE(lin->ws.send_text(frame_z));
      auto az = until_ack(lin->ws, z);
      REQUIRE(az.has_value());
      w.server.kill9();  // at once: nothing after the ack may be needed for durability
      CHECK(az->ack.raw == ok_ack(z));
      REQUIRE(az->events.size() == 1);
      Frame created_z = az->events[0];
      CHECK(created_z.j["seq"] == 2);
      CHECK(created_z.j["gseq"] == 2);
      CHECK(lin->ws.wait_closed(5s));

      w.server.start();
      // The device token survived too; the replay from seq 1 has the event as it was sent.
      auto lin2 = login(w.port(), hello_token("lin", token, "lin-desk", {{kAreaScope, 1}}));
      REQUIRE(lin2->replay.size() == 1);
      CHECK(lin2->replay[0].raw == created_z.raw);
      CHECK(w.metric("muster_last_gseq") == 2);
      CHECK(w.metric("muster_log_events") == 2);

      for (const auto& [id, f, expected] : {std::tuple{z, frame_z, az->ack.raw}, std::tuple{x, frame, ack}}) {
        CAPTURE(id);
        REQUIRE(lin2->ws.send_text(f));
        auto again = until_ack(lin2->ws, id);
        REQUIRE(again.has_value());
        CHECK(again->ack.raw == expected);
        CHECK(again->events.empty());
      }
      CHECK(quiet(lin2->ws));
      CHECK(w.metric("muster_last_gseq") == 2);
      CHECK(w.metric("muster_ops_accepted_total") == 0);  // this process accepted nothing
      CHECK(w.metric("muster_ops_repeated_total") == 2);

      // The sequences carry on where they were.
      const std::string y = new_id();
      REQUIRE(lin2->ws.send_text(op_frame(y, "task.create", create_body("buy salt"))));
      auto ay = until_ack(lin2->ws, y);
      REQUIRE(ay.has_value());
      CHECK(ay->ack.raw == ok_ack(y));
      REQUIRE(ay->events.size() == 1);
      CHECK(ay->events[0].j["seq"] == 3);
      CHECK(ay->events[0].j["gseq"] == 3);
    }
  }

  TEST_CASE("two identical op frames back to back: one effect, two identical acks") {
    World w;
    auto lin = login(w.port(), hello("lin", kPassword, "lin-desk"));
    auto bob = login(w.port(), hello("bob", kPassword, "bob-phone"));

    SUBCASE("in one write: the same group commit") {
      const double commits = w.metric("muster_commits_total");
      const std::string y = new_id();
      const std::string frame = op_frame(y, "task.create", create_body("buy rice"));
      // Both frames in one TCP write: the server reads them together and decides them
      // in one commit, so this exercises the repeat inside a batch.
      REQUIRE(lin->ws.send_raw(mt::ws_frame(1, frame) + mt::ws_frame(1, frame)));
      auto both = until_acks(lin->ws, y, 2);
      REQUIRE(both.has_value());
      CHECK(both->acks[0].raw == ok_ack(y));
      CHECK(both->acks[1].raw == both->acks[0].raw);
      CHECK(made_by(both->events, y).size() == 1);
      CHECK(both->events.size() == 1);
      CHECK(w.metric("muster_commits_total") == commits + 1);
      CHECK(w.metric("muster_commit_ops_total") == 2);
      CHECK(w.metric("muster_ops_accepted_total") == 1);
      CHECK(w.metric("muster_ops_repeated_total") == 1);
      CHECK(w.metric("muster_last_gseq") == 1);
      auto seen = ping(bob->ws);
      REQUIRE(seen.has_value());
      CHECK(made_by(*seen, y).size() == 1);
      CHECK(seen->size() == 1);
    }

    SUBCASE("as two messages without waiting") {
      const std::string y = new_id();
      const std::string frame = op_frame(y, "task.create", create_body("buy rice"));
      REQUIRE(lin->ws.send_text(frame));
      REQUIRE(lin->ws.send_text(frame));
      auto both = until_acks(lin->ws, y, 2);
      REQUIRE(both.has_value());
      CHECK(both->acks[0].raw == ok_ack(y));
      CHECK(both->acks[1].raw == both->acks[0].raw);
      CHECK(both->events.size() == 1);
      CHECK(w.metric("muster_ops_accepted_total") == 1);
      CHECK(w.metric("muster_ops_repeated_total") == 1);
      CHECK(w.metric("muster_last_gseq") == 1);
      CHECK(quiet(lin->ws));
      auto seen = ping(bob->ws);
      REQUIRE(seen.has_value());
      CHECK(seen->size() == 1);
    }

    SUBCASE("ten copies in one write") {
      const std::string y = new_id();
      const std::string frame = mt::ws_frame(1, op_frame(y, "task.create", create_body("buy rice")));
      std::string ten;
      for (int i = 0; i < 10; ++i) ten += frame;
      REQUIRE(lin->ws.send_raw(ten));
      auto all = until_acks(lin->ws, y, 10);
      REQUIRE(all.has_value());
      for (const auto& a : all->acks) CHECK(a.raw == ok_ack(y));
      CHECK(all->events.size() == 1);
      CHECK(w.metric("muster_ops_accepted_total") == 1);
      CHECK(w.metric("muster_ops_repeated_total") == 9);
      CHECK(w.metric("muster_last_gseq") == 1);
      CHECK(quiet(lin->ws));
    }
  }

  TEST_CASE("a rejected op repeated gets the same rejection; an id another user used is invalid") {
    World w;
    auto lin = login(w.port(), hello("lin", kPassword, "lin-desk"));
    auto bob = login(w.port(), hello("bob", kPassword, "bob-phone"));

    const std::string task = new_id();
    REQUIRE(lin->ws.send_text(op_frame(task, "task.create", create_body("buy rice"))));
    auto created = until_ack(lin->ws, task);
    REQUIRE(created.has_value());
    REQUIRE(created->ack.raw == ok_ack(task));
    {
      auto seen = ping(bob->ws);  // bob got the task.created event
      REQUIRE(seen.has_value());
      REQUIRE(seen->size() == 1);
    }
    const double gseq = w.metric("muster_last_gseq");
    REQUIRE(gseq == 1);

    SUBCASE("a rejection is recorded and repeated byte for byte") {
      const std::string r = new_id();
      const std::string frame = op_frame(r, "task.claim", {{"task", new_id()}});  // no such task
      REQUIRE(bob->ws.send_text(frame));
      auto first = until_ack(bob->ws, r);
      REQUIRE(first.has_value());
      CHECK(first->ack.j["ok"] == false);
      CHECK(first->ack.j["error"]["code"] == "not_found");
      REQUIRE(bob->ws.send_text(frame));
      auto again = until_ack(bob->ws, r);
      REQUIRE(again.has_value());
      CHECK(again->ack.raw == first->ack.raw);
      CHECK(again->events.empty());
      CHECK(w.metric("muster_ops_rejected_total") == 1);
      CHECK(w.metric("muster_ops_repeated_total") == 1);
      CHECK(w.metric("muster_last_gseq") == gseq);
    }

    SUBCASE("the id of lin's op, sent by bob, is invalid and changes nothing") {
      // Bob "claims" with the id of lin's create: not a repeat of his, not a new op.
      const std::string frame = op_frame(task, "task.claim", {{"task", task}});
      for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        REQUIRE(bob->ws.send_text(frame));
        auto a = until_ack(bob->ws, task);
        REQUIRE(a.has_value());
        INFO("ack: " << a->ack.raw);
        CHECK(a->ack.j["ok"] == false);
        CHECK(a->ack.j["error"]["code"] == "invalid");
        CHECK(a->events.empty());
      }
      CHECK(w.metric("muster_last_gseq") == gseq);
      CHECK(quiet(lin->ws));
      // lin's record is untouched: her repeat still gets her ack, and the task is still open.
      REQUIRE(lin->ws.send_text(op_frame(task, "task.create", create_body("buy rice"))));
      auto again = until_ack(lin->ws, task);
      REQUIRE(again.has_value());
      CHECK(again->ack.raw == ok_ack(task));
      const std::string claim = new_id();
      REQUIRE(bob->ws.send_text(op_frame(claim, "task.claim", {{"task", task}})));
      auto c = until_ack(bob->ws, claim);
      REQUIRE(c.has_value());
      CHECK(c->ack.raw == ok_ack(claim));
      CHECK(made_by(c->events, claim).size() == 1);
    }

    SUBCASE("one id from two users at the same moment: exactly one of them is decided") {
      // Sent together, the two ops often share a group commit; either way the second
      // to be decided must be refused as invalid, never given the first one's answer.
      for (int round = 0; round < 5; ++round) {
        CAPTURE(round);
        const std::string id = new_id();
        const std::string lin_frame = mt::ws_frame(1, op_frame(id, "task.create", create_body("round")));
        const std::string bob_frame = mt::ws_frame(1, op_frame(id, "task.claim", {{"task", task}}));
        const double before = w.metric("muster_last_gseq");
        REQUIRE(lin->ws.send_raw(lin_frame));
        REQUIRE(bob->ws.send_raw(bob_frame));
        auto la = until_ack(lin->ws, id);
        auto ba = until_ack(bob->ws, id);
        REQUIRE(la.has_value());
        REQUIRE(ba.has_value());
        INFO("lin: " << la->ack.raw << "\nbob: " << ba->ack.raw);
        const bool lin_ok = la->ack.j["ok"] == true;
        const bool bob_ok = ba->ack.j["ok"] == true;
        CHECK(lin_ok != bob_ok);
        const Frame& refused = lin_ok ? ba->ack : la->ack;
        CHECK(refused.j.value("error", json::object()).value("code", "") == "invalid");
        // Exactly one effect, by the user who was told ok.
        auto made = made_by(lin_ok ? la->events : ba->events, id);
        REQUIRE(made.size() == 1);
        CHECK(made[0].str("actor") == (lin_ok ? "lin" : "bob"));
        CHECK(w.metric("muster_last_gseq") == before + 1);
        CHECK(quiet(lin->ws));
        CHECK(quiet(bob->ws));
        if (bob_ok) break;  // the task is claimed now; the next rounds would be conflicts
        // lin's op was decided first, so bob had its event before his ack.
        CHECK(made_by(ba->events, id).size() == 1);
      }
    }
  }

  TEST_CASE("replay from cursors and backfill: per scope in seq order, then caught_up") {
    World w;
    auto lin = login(w.port(), hello("lin", kPassword, "lin-desk"));
    auto bob = login(w.port(), hello("bob", kPassword, "bob-phone"));

    // Events in several scopes: area:gulou/antai/yili (4), area:gulou/antai (2),
    // user:bob and user:lin (a direct message lands in both inboxes).
    std::vector<Frame> live;  // as lin received them
    auto act = [&](const std::string& kind, const json& body) {
      const std::string id = new_id();
      REQUIRE(lin->ws.send_text(op_frame(id, kind, body)));
      auto a = until_ack(lin->ws, id);
      REQUIRE(a.has_value());
      REQUIRE_MESSAGE(a->ack.raw == ok_ack(id), a->ack.raw);
      for (auto& e : a->events) live.push_back(e);
      return id;
    };
    act("task.create", create_body("one"));
    act("task.create", create_body("two", kHome));
    act("message.send", {{"to", "bob"}, {"text", "hello bob"}});
    act("task.create", create_body("three"));
    act("task.create", create_body("four"));
    act("message.send", {{"to", std::string("area:") + kHome}, {"text", "all hands"}});
    act("task.create", create_body("five"));

    // lin saw every event except bob's inbox copy... and her own inbox copy is in user:lin.
    const auto live_seqs = seqs_by_scope(live);
    CHECK(live_seqs.at(kAreaScope) == one_to(4));
    CHECK(live_seqs.at(kHomeScope) == one_to(2));
    CHECK(live_seqs.at("user:lin") == one_to(1));
    CHECK(live_seqs.count("user:bob") == 0);
    CHECK(live.size() == 7);
    CHECK(w.metric("muster_last_gseq") == 8);  // 7 seen by lin + bob's inbox copy

    SUBCASE("cursors {}: everything visible, per scope 1..n, byte-identical to the live frames") {
      auto lin2 = login(w.port(), hello("lin", kPassword, "lin-tablet"));
      const auto seqs = seqs_by_scope(lin2->replay);
      CHECK(seqs == live_seqs);
      CHECK(lin2->replay.size() == live.size());
      // Each replayed frame is the frame lin got live.
      for (const auto& f : lin2->replay) {
        CAPTURE(f.raw);
        CHECK(std::any_of(live.begin(), live.end(), [&](const Frame& l) { return l.raw == f.raw; }));
      }
      // gseq grows within each scope.
      std::map<std::string, std::int64_t> last;
      for (const auto& f : lin2->replay) {
        const auto g = f.j.value("gseq", std::int64_t{0});
        CHECK(g > last[f.str("scope")]);
        last[f.str("scope")] = g;
      }

      // bob: his area and its ancestors, and his inbox; not lin's inbox.
      auto bob2 = login(w.port(), hello("bob", kPassword, "bob-tablet"));
      const auto bob_seqs = seqs_by_scope(bob2->replay);
      CHECK(bob_seqs.at(kAreaScope) == one_to(4));
      CHECK(bob_seqs.at(kHomeScope) == one_to(2));
      CHECK(bob_seqs.at("user:bob") == one_to(1));
      CHECK(bob_seqs.count("user:lin") == 0);
      CHECK(bob2->replay.size() == 7);
    }

    SUBCASE("cursors at n-1: only the last event of each scope") {
      const json cursors{{kAreaScope, 3}, {kHomeScope, 1}, {"user:lin", 0}};
      auto lin2 = login(w.port(), hello("lin", kPassword, "lin-tablet", cursors));
      const auto seqs = seqs_by_scope(lin2->replay);
      CHECK(seqs.at(kAreaScope) == std::vector<std::int64_t>{4});
      CHECK(seqs.at(kHomeScope) == std::vector<std::int64_t>{2});
      CHECK(seqs.at("user:lin") == std::vector<std::int64_t>{1});
      CHECK(lin2->replay.size() == 3);

      // Cursors at the head: nothing to replay.
      const json at_head{{kAreaScope, 4}, {kHomeScope, 2}, {"user:lin", 1}};
      auto lin3 = login(w.port(), hello("lin", kPassword, "lin-laptop", at_head));
      CHECK(lin3->replay.empty());
    }

    SUBCASE("backfill from 2 replays seq 2..n of that scope, then caught_up") {
      REQUIRE(quiet(lin->ws));
      REQUIRE(lin->ws.send_text(json{{"t", "backfill"}, {"scope", kAreaScope}, {"from", 2}}.dump()));
      std::vector<Frame> got;
      std::optional<Frame> f;
      while ((f = next_frame(lin->ws)) && f->type() == "event") got.push_back(*f);
      REQUIRE(f.has_value());
      CHECK(f->type() == "caught_up");
      CHECK(seqs_by_scope(got) == std::map<std::string, std::vector<std::int64_t>>{{kAreaScope, {2, 3, 4}}});
      for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        const auto& l = made_by(live, got[i].str("op"));
        REQUIRE(l.size() == 1);
        CHECK(got[i].raw == l[0].raw);
      }
      CHECK(quiet(lin->ws));

      // From 0: the whole scope; past the head: nothing but caught_up.
      REQUIRE(lin->ws.send_text(json{{"t", "backfill"}, {"scope", kHomeScope}, {"from", 0}}.dump()));
      got.clear();
      while ((f = next_frame(lin->ws)) && f->type() == "event") got.push_back(*f);
      REQUIRE(f.has_value());
      CHECK(f->type() == "caught_up");
      CHECK(seqs_by_scope(got) == std::map<std::string, std::vector<std::int64_t>>{{kHomeScope, {1, 2}}});

      REQUIRE(lin->ws.send_text(json{{"t", "backfill"}, {"scope", kAreaScope}, {"from", 9}}.dump()));
      f = next_frame(lin->ws);
      REQUIRE(f.has_value());
      CHECK(f->type() == "caught_up");

      // Live delivery goes on after a backfill.
      const std::string id = act("task.create", create_body("six"));
      auto mine = made_by(live, id);
      REQUIRE(mine.size() == 1);
      CHECK(mine[0].j["seq"] == 5);
    }
  }
}
