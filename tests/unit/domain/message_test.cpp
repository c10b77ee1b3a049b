// Messages (SPEC §3): direct (user to user) and area chat; and the routing of ops and
// events to the reducer of each object (domain/state.hpp).
#include "muster/domain/message.hpp"

#include <doctest/doctest.h>

#include <set>
#include <utility>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster/domain/state.hpp"

using namespace muster::domain;
using muster::format_utc;
using muster::UnixMs;

namespace {

constexpr UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z

const Actor zhou{"zhou", Roles{Role::coordinator}, "gulou"};
const Actor li{"li", Roles{Role::lead}, "gulou/antai"};
const Actor bob{"bob", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor carol{"carol", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor dave{"dave", Roles{Role::volunteer}, "gulou/gaolou"};

class FakeDirectory final : public Directory {
 public:
  std::optional<bool> area_exists(std::string_view path) const override { return areas_.count(std::string(path)) > 0; }
  std::optional<std::optional<Actor>> find_user(std::string_view name) const override {
    for (const Actor* a : {&zhou, &li, &bob, &carol, &dave}) {
      if (a->name == name) return std::make_optional(std::make_optional(*a));
    }
    return std::make_optional(std::optional<Actor>{});
  }

 private:
  std::set<std::string> areas_{"gulou", "gulou/antai", "gulou/antai/yili", "gulou/antai/yili/b3", "gulou/gaolou"};
};

using Outcome = muster::Result<std::vector<Draft>>;

std::string code_of(const Outcome& r) { return r ? "ok" : std::string(muster::to_string(r.error().code)); }
std::string message_of(const Outcome& r) { return r ? std::string() : r.error().message; }

std::vector<std::string> scopes_of(const std::vector<Draft>& drafts) {
  std::vector<std::string> out;
  for (const auto& d : drafts) out.push_back(d.scope);
  return out;
}

int op_counter = 0;

// Decides one message op as `who` at kStart.
Outcome send(const Actor& who, Json body, const Directory& directory, const MessageBook& book = {}) {
  Context ctx{who, kStart, directory};
  return apply_message_op(book, Op{OpId("01JDMSG" + std::to_string(++op_counter)), "message.send", std::move(body)}, ctx);
}
Outcome send(const Actor& who, Json body) {
  FakeDirectory directory;
  return send(who, std::move(body), directory);
}

Event numbered(const Draft& d, const OpId& op, const std::string& actor, std::int64_t seq) {
  Event e;
  e.scope = d.scope;
  e.seq = seq;
  e.gseq = seq;
  e.op = op;
  e.kind = d.kind;
  e.actor = actor;
  e.at = "2026-11-23T08:00:00Z";
  e.body = d.body;
  return e;
}

}  // namespace

TEST_CASE("the message op kind") {
  CHECK(is_message_op("message.send"));
  CHECK_FALSE(is_message_op("message.sent"));
  CHECK_FALSE(is_message_op("message.delete"));
  CHECK_FALSE(is_message_op("task.create"));
}

// ======================================================================= direct

TEST_CASE("a direct message is one event in the recipient's inbox and one in the sender's") {
  FakeDirectory directory;
  Context ctx{bob, kStart, directory};
  const Op op{OpId("01JDMSG000000000000000000A"), "message.send", Json{{"to", "carol"}, {"text", "我到3栋楼下了"}}};
  Outcome r = apply_message_op({}, op, ctx);
  REQUIRE(r.ok());
  CHECK(scopes_of(*r) == std::vector<std::string>{"user:carol", "user:bob"});
  // sent_at is the sender's clock: the time in the op id its device made.
  const Json expected{{"id", op.id}, {"from", "bob"}, {"to", "carol"}, {"text", "我到3栋楼下了"},
                      {"sent_at", format_utc(muster::ulid_time_ms(op.id.view()))}};
  for (const Draft& d : *r) {
    CAPTURE(d.scope);
    CHECK(d.kind == "message.sent");
    CHECK(d.body == expected);
  }
}

TEST_CASE("a message to oneself is one event") {
  Outcome r = send(bob, Json{{"to", "bob"}, {"text", "note to self: buy masks"}});
  REQUIRE(r.ok());
  CHECK(scopes_of(*r) == std::vector<std::string>{"user:bob"});
}

TEST_CASE("direct messages cross areas: anyone may write to any known user") {
  CHECK(code_of(send(bob, Json{{"to", "dave"}, {"text", "hi"}})) == "ok");   // another street
  CHECK(code_of(send(bob, Json{{"to", "zhou"}, {"text", "hi"}})) == "ok");   // the coordinator
  CHECK(code_of(send(zhou, Json{{"to", "bob"}, {"text", "hi"}})) == "ok");
}

TEST_CASE("an unknown user is not_found via the server's directory; a client cannot tell") {
  Outcome r = send(bob, Json{{"to", "ghost"}, {"text", "hello?"}});
  CHECK(code_of(r) == "not_found");
  CHECK(message_of(r) == "no user ghost");

  UnknownDirectory client_view;
  Outcome optimistic = send(bob, Json{{"to", "ghost"}, {"text", "hello?"}}, client_view);
  REQUIRE(optimistic.ok());
  CHECK(scopes_of(*optimistic) == std::vector<std::string>{"user:ghost", "user:bob"});
}

// ======================================================================= area chat

TEST_CASE("an area message is one event in the area's scope") {
  Outcome r = send(bob, Json{{"to", "area:gulou/antai/yili"}, {"text", "谁有多余的口罩?"}});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().scope == "area:gulou/antai/yili");
  CHECK(r->front().kind == "message.sent");
  CHECK(r->front().body["to"] == "area:gulou/antai/yili");
  CHECK(r->front().body["from"] == "bob");
}

TEST_CASE("one may write to every area one can see: home, ancestors, and below for managers") {
  CHECK(code_of(send(bob, Json{{"to", "area:gulou/antai"}, {"text", "t"}})) == "ok");
  CHECK(code_of(send(bob, Json{{"to", "area:gulou"}, {"text", "t"}})) == "ok");
  CHECK(code_of(send(li, Json{{"to", "area:gulou/antai/yili/b3"}, {"text", "t"}})) == "ok");
  CHECK(code_of(send(zhou, Json{{"to", "area:gulou/gaolou"}, {"text", "t"}})) == "ok");
}

TEST_CASE("writing to an area one cannot see is forbidden") {
  Outcome beside = send(bob, Json{{"to", "area:gulou/gaolou"}, {"text", "t"}});
  CHECK(code_of(beside) == "forbidden");
  CHECK(message_of(beside) == "bob may not write to area:gulou/gaolou");
  CHECK(code_of(send(bob, Json{{"to", "area:gulou/antai/yili/b3"}, {"text", "t"}})) == "forbidden");  // below home
  CHECK(code_of(send(li, Json{{"to", "area:gulou/gaolou"}, {"text", "t"}})) == "forbidden");
}

TEST_CASE("an unknown area is invalid on the server, accepted by a client's optimistic view") {
  Outcome r = send(zhou, Json{{"to", "area:gulou/nowhere"}, {"text", "t"}});
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "unknown area 'gulou/nowhere'");

  UnknownDirectory client_view;
  CHECK(code_of(send(zhou, Json{{"to", "area:gulou/nowhere"}, {"text", "t"}}, client_view)) == "ok");
}

// ======================================================================= bad ops

TEST_CASE("message.send rejects malformed bodies as invalid, naming the problem") {
  struct Case {
    const char* what;
    Json body;
    const char* message;
  };
  const std::vector<Case> cases{
      {"body not an object", Json::array(), "body must be an object"},
      {"to missing", Json{{"text", "t"}}, "missing field 'to'"},
      {"to not a string", Json{{"to", Json::array({"carol"})}, {"text", "t"}}, "field 'to' must be a string"},
      {"to too long", Json{{"to", std::string(301, 'a')}, {"text", "t"}}, "field 'to' is longer than 300 bytes"},
      {"text missing", Json{{"to", "carol"}}, "missing field 'text'"},
      {"text empty", Json{{"to", "carol"}, {"text", ""}}, "text must not be empty"},
      {"text too long", Json{{"to", "carol"}, {"text", std::string(8001, 'x')}},
       "field 'text' is longer than 8000 bytes"},
      {"area path empty", Json{{"to", "area:"}, {"text", "t"}}, "invalid area path ''"},
      {"area path bad", Json{{"to", "area:gulou//antai"}, {"text", "t"}}, "invalid area path 'gulou//antai'"},
      {"not a user name", Json{{"to", "Carol"}, {"text", "t"}}, "'Carol' is neither a user nor area:PATH"},
      {"a role is not a target", Json{{"to", "role:hotline"}, {"text", "t"}},
       "'role:hotline' is neither a user nor area:PATH"},
      {"a user scope is not a target", Json{{"to", "user:carol"}, {"text", "t"}},
       "'user:carol' is neither a user nor area:PATH"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Outcome r = send(bob, c.body);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == c.message);
  }
  CHECK(code_of(send(bob, Json{{"to", "carol"}, {"text", std::string(8000, 'x')}})) == "ok");
}

TEST_CASE("other op kinds are invalid here") {
  FakeDirectory directory;
  Context ctx{bob, kStart, directory};
  Outcome r = apply_message_op({}, Op{OpId("01JDMSGX"), "message.delete", Json{{"to", "carol"}, {"text", "t"}}}, ctx);
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "unknown op kind 'message.delete'");
}

TEST_CASE("a plugin may write only to those its grants list; a client that cannot tell lets it through") {
  const Actor bridge{"bridge", Roles{Role::plugin}, "gulou/antai/yili"};
  FakeDirectory directory;
  Grants grants{{"li", "area:gulou/antai/yili"}};
  auto as_bridge = [&](Json body, const Grants* g) {
    Context ctx{bridge, kStart, directory, nullptr, g};
    return apply_message_op({}, Op{OpId("01JDMSG" + std::to_string(++op_counter)), "message.send", std::move(body)}, ctx);
  };
  CHECK(code_of(as_bridge({{"to", "li"}, {"text", "new errand in b3"}}, &grants)) == "ok");
  CHECK(code_of(as_bridge({{"to", "area:gulou/antai/yili"}, {"text", "hello"}}, &grants)) == "ok");
  Outcome other = as_bridge({{"to", "bob"}, {"text", "hi"}}, &grants);
  CHECK(code_of(other) == "forbidden");
  CHECK(message_of(other) == "bridge is a plugin: it may send messages only to those its config lists in message_to");
  Grants none;
  CHECK(code_of(as_bridge({{"to", "li"}, {"text", "hi"}}, &none)) == "forbidden");
  CHECK(code_of(as_bridge({{"to", "bob"}, {"text", "hi"}}, nullptr)) == "ok");  // unknown grants: the server decides
  // Grants bind plugins only.
  Context lead{li, kStart, directory, nullptr, &none};
  CHECK(code_of(apply_message_op({}, Op{OpId("01JDMSGLEAD"), "message.send", {{"to", "bob"}, {"text", "hi"}}}, lead)) == "ok");
}

TEST_CASE("a send op replayed after its message exists is a conflict") {
  FakeDirectory directory;
  Context ctx{bob, kStart, directory};
  const Op op{OpId("01JDMSG000000000000000000B"), "message.send", Json{{"to", "carol"}, {"text", "t"}}};
  MessageBook book;
  Outcome first = apply_message_op(book, op, ctx);
  REQUIRE(first.ok());
  fold_message_event(book, numbered(first->front(), op.id, "bob", 1));
  Outcome again = apply_message_op(book, op, ctx);
  CHECK(code_of(again) == "conflict");
  CHECK(message_of(again) == "message 01JDMSG000000000000000000B already exists");
}

// ======================================================================= fold and JSON

TEST_CASE("both inbox copies of a direct message fold into one message") {
  FakeDirectory directory;
  Context ctx{bob, kStart, directory};
  const Op op{OpId("01JDMSG000000000000000000C"), "message.send", Json{{"to", "carol"}, {"text", "收到请回复"}}};
  Outcome r = apply_message_op({}, op, ctx);
  REQUIRE(r.ok());
  MessageBook book;
  std::int64_t seq = 0;
  for (const Draft& d : *r) CHECK(fold_message_event(book, numbered(d, op.id, "bob", ++seq)) == op.id.str());
  REQUIRE(book.size() == 1);
  const Message& m = book.at(op.id.str());
  CHECK(m.id == op.id.str());
  CHECK(m.from == "bob");
  CHECK(m.to == "carol");
  CHECK(m.text == "收到请回复");
  CHECK(m.sent_at == format_utc(muster::ulid_time_ms(op.id.view())));
  // The server's time and order come from the event, not the body.
  CHECK(m.received_at == "2026-11-23T08:00:00Z");
  CHECK(m.gseq == 2);
}

TEST_CASE("messages are shown in the server's order of receipt, not the senders' clocks") {
  // Op ids carry the sender's clock: 2090, 2026 and 1971 here. The server received them
  // in the order future, now, past (gseq 1, 2, 3), the last two in the same second.
  const std::string future = muster::UlidGenerator().next(kStart + 64LL * 365 * 86400000);
  const std::string now = muster::UlidGenerator().next(kStart);
  const std::string past = muster::UlidGenerator().next(kStart - 55LL * 365 * 86400000);
  MessageBook book;
  std::int64_t gseq = 0;
  for (const auto& [id, at] : std::vector<std::pair<std::string, std::string>>{
           {future, "2026-11-23T08:00:00Z"}, {now, "2026-11-23T08:00:01Z"}, {past, "2026-11-23T08:00:01Z"}}) {
    Event e;
    e.kind = "message.sent";
    e.gseq = ++gseq;
    e.at = at;
    e.body = to_json(Message{id, "bob", "carol", "t", format_utc(muster::ulid_time_ms(id)), "", 0});
    fold_message_event(book, e);
  }
  // One still queued on this device (not numbered): last, whatever its clock says.
  Event queued;
  queued.kind = "message.sent";
  queued.at = "2026-11-23T07:00:00Z";
  const std::string mine = muster::UlidGenerator().next(kStart - 3600000);
  queued.body = to_json(Message{mine, "carol", "bob", "t", queued.at, "", 0});
  fold_message_event(book, queued);

  std::vector<std::string> order;
  for (const Message* m : in_server_order(book)) order.push_back(m->id);
  CHECK(order == std::vector<std::string>{future, now, past, mine});
  CHECK(book.at(future).sent_at.rfind("2090-", 0) == 0);
  CHECK(book.at(past).sent_at.rfind("1971-", 0) == 0);
  CHECK(book.at(future).received_at == "2026-11-23T08:00:00Z");
  CHECK(book.at(mine).received_at.empty());
  CHECK(book.at(mine).gseq == 0);
  // The book itself stays keyed by id (what the replica stores by), not an order to show.
  CHECK(book.begin()->first == past);
}

TEST_CASE("a body cannot claim the server's time or order: they come from the event") {
  MessageBook book;
  Event e;
  e.kind = "message.sent";
  e.gseq = 7;
  e.at = "2026-11-23T08:00:00Z";
  e.body = to_json(Message{"01JDMSG000000000000000000E", "bob", "carol", "t", "", "2001-01-01T00:00:00Z", 1});
  fold_message_event(book, e);
  CHECK(book.begin()->second.received_at == "2026-11-23T08:00:00Z");
  CHECK(book.begin()->second.gseq == 7);
}

TEST_CASE("fold ignores unknown kinds and malformed messages") {
  MessageBook book;
  Event e;
  e.kind = "message.deleted";
  e.body = to_json(Message{"m1", "bob", "carol", "t", "", "", 0});
  CHECK(fold_message_event(book, e).empty());
  e.kind = "message.sent";
  e.body = Json{{"id", "m1"}, {"from", "bob"}, {"text", "t"}};  // no recipient
  CHECK(fold_message_event(book, e).empty());
  e.body = Json{{"id", "m1"}, {"from", "bob"}, {"to", "carol"}, {"text", 5}};
  CHECK(fold_message_event(book, e).empty());
  e.body = Json::array();
  CHECK(fold_message_event(book, e).empty());
  CHECK(book.empty());
}

TEST_CASE("to_json and message_from_json round-trip a message") {
  const Message m{"01JDMSG000000000000000000D", "li", "area:鼓楼/安泰", "今晚 20:00 开会\t请准时", "2026-11-23T08:00:00Z",
                  "2026-11-23T08:00:02Z", 42};
  const Json j = to_json(m);
  auto back = message_from_json(Json::parse(j.dump()));
  REQUIRE(back.has_value());
  CHECK(back->id == m.id);
  CHECK(back->from == m.from);
  CHECK(back->to == m.to);
  CHECK(back->text == m.text);
  CHECK(back->sent_at == m.sent_at);
  CHECK(back->received_at == m.received_at);
  CHECK(back->gseq == 42);
  CHECK(to_json(*back) == j);

  Json no_time = j;
  no_time.erase("sent_at");
  REQUIRE(message_from_json(no_time).has_value());
  CHECK(message_from_json(no_time)->sent_at.empty());
  for (const char* key : {"id", "from", "to", "text"}) {
    CAPTURE(key);
    Json missing = j;
    missing.erase(key);
    CHECK_FALSE(message_from_json(missing).has_value());
  }
  CHECK_FALSE(message_from_json(Json("text")).has_value());
}

// ======================================================================= routing (state.hpp)

TEST_CASE("is_known_op covers the task, notice and message ops, and nothing else") {
  for (const char* k : {"task.create", "task.claim", "task.cancel", "notice.post", "notice.ack", "message.send"}) {
    CAPTURE(k);
    CHECK(is_known_op(k));
  }
  for (const char* k : {"task.created", "notice.posted", "message.sent", "roster.add", "", "task"}) {
    CAPTURE(k);
    CHECK_FALSE(is_known_op(k));
  }
}

TEST_CASE("apply routes each op to its object's reducer and fold routes each event back") {
  FakeDirectory directory;
  State state;
  std::int64_t gseq = 0;
  auto run = [&](const Actor& who, const std::string& id, const std::string& kind, Json body) {
    Context ctx{who, kStart, directory};
    const Op op{OpId(id), kind, std::move(body)};
    Outcome r = apply(state, op, ctx);
    std::vector<ObjectRef> touched;
    if (r) {
      for (const Draft& d : *r) touched.push_back(fold(state, numbered(d, op.id, who.name, ++gseq)));
    }
    return std::make_pair(code_of(r), touched);
  };

  auto task = run(li, "T1", "task.create", Json{{"kind", "errand"}, {"title", "rice"}, {"area", "gulou/antai/yili"}});
  CHECK(task.first == "ok");
  CHECK(task.second == std::vector<ObjectRef>{{"task", "T1"}});
  auto claim = run(bob, "C1", "task.claim", Json{{"task", "T1"}});
  CHECK(claim.second == std::vector<ObjectRef>{{"task", "T1"}});
  CHECK(state.tasks.at(muster::domain::TaskId("T1")).assignee == "bob");

  auto notice = run(li, "N1", "notice.post", Json{{"area", "gulou/antai"}, {"text", "t"}});
  CHECK(notice.second == std::vector<ObjectRef>{{"notice", "N1"}});
  auto ack = run(bob, "A1", "notice.ack", Json{{"notice", "N1"}});
  CHECK(ack.second == std::vector<ObjectRef>{{"notice", "N1"}});
  CHECK(state.notices.at("N1").acked_by == std::set<std::string>{"bob"});

  auto message = run(bob, "M1", "message.send", Json{{"to", "carol"}, {"text", "hi"}});
  CHECK(message.second == std::vector<ObjectRef>{{"message", "M1"}, {"message", "M1"}});
  CHECK(state.messages.size() == 1);

  CHECK(state.tasks.size() == 1);
  CHECK(state.notices.size() == 1);
}

TEST_CASE("apply rejects unknown op kinds and non-object bodies whatever the kind") {
  FakeDirectory directory;
  State state;
  Context ctx{li, kStart, directory};
  for (const char* kind : {"roster.add", "task.created", "hotline.delete", ""}) {
    CAPTURE(kind);
    Outcome r = apply(state, Op{OpId("X1"), kind, Json::object()}, ctx);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == std::string("unknown op kind '") + kind + "'");
  }
  for (const char* kind : {"task.create", "notice.post", "message.send", "roster.add"}) {
    CAPTURE(kind);
    for (const Json& body : {Json(), Json::array(), Json("x"), Json(1)}) {
      Outcome r = apply(state, Op{OpId("X2"), kind, body}, ctx);
      CHECK(code_of(r) == "invalid");
      CHECK(message_of(r) == "op body must be an object");
    }
  }
}

TEST_CASE("fold ignores events of unknown kinds and returns no object") {
  State state;
  Event e;
  e.actor = "bob";
  e.body = Json{{"task", "T1"}, {"notice", "N1"}, {"id", "M1"}};
  for (const char* kind : {"roster.added", "hotline.logged", "taskcreated", "", "task.exploded", "notice.deleted",
                           "message.deleted"}) {
    CAPTURE(kind);
    e.kind = kind;
    CHECK(fold(state, e) == ObjectRef{});
  }
  CHECK(state.tasks.empty());
  CHECK(state.notices.empty());
  CHECK(state.messages.empty());
}
