// Notices (SPEC §3): a manager's text to an area and everyone below it, optionally to
// be acknowledged. One `notice.posted` event in the area's scope reaches every
// recipient; each acknowledgement is one `notice.acked` event in the acknowledging
// user's inbox.
#include "muster/domain/notice.hpp"

#include <doctest/doctest.h>

#include "event_numbering.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "muster/base/time.hpp"

using namespace muster::domain;
using muster::format_utc;
using muster::UnixMs;

namespace {

constexpr UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z

const Actor zhou{"zhou", Roles{Role::coordinator}, "gulou"};      // district coordinator
const Actor li{"li", Roles{Role::lead}, "gulou/antai"};           // street lead
const Actor bob{"bob", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor carol{"carol", Roles{Role::volunteer}, "gulou/antai/yili"};
const Actor erin{"erin", Roles{Role::volunteer}, "gulou/antai"};
const Actor dave{"dave", Roles{Role::volunteer}, "gulou/gaolou"};
const Actor hana{"hana", Roles{Role::hotline}, "gulou/antai/yili"};

class FakeDirectory final : public Directory {
 public:
  std::optional<bool> area_exists(std::string_view path) const override { return areas_.count(std::string(path)) > 0; }
  std::optional<std::optional<Actor>> find_user(std::string_view name) const override {
    for (const Actor* a : {&zhou, &li, &bob, &carol, &erin, &dave, &hana}) {
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

// Decides notice ops like the server and folds the accepted drafts as numbered events.
struct World {
  FakeDirectory server_directory;
  const Directory* directory = &server_directory;
  NoticeBook notices;
  std::vector<Event> log;
  muster_test::EventNumbering numbering;
  int ops = 0;
  UnixMs now = kStart;

  Outcome run(const Actor& who, const std::string& kind, Json body) {
    return run_op(who, Op{OpId("01JDNOTICEOP" + std::to_string(++ops)), kind, std::move(body)});
  }
  Outcome run_op(const Actor& who, const Op& op) {
    Context ctx{who, now, *directory};
    Outcome r = apply_notice_op(notices, op, ctx);
    if (r) {
      for (const Draft& d : *r) {
        Event e = numbering.number(d, op.id, who.name, now);
        fold_notice_event(notices, e);
        log.push_back(e);
      }
    }
    now += 60 * 1000;
    return r;
  }
  std::string post(const Actor& who, const std::string& area, bool ack = true) {
    Outcome r = run(who, "notice.post", Json{{"area", area}, {"text", "核酸检测 明早8点 3栋楼下"}, {"ack", ack}});
    REQUIRE_MESSAGE(r.ok(), message_of(r));
    return log.back().body["id"].get<std::string>();
  }
  Outcome ack(const Actor& who, const std::string& id) { return run(who, "notice.ack", Json{{"notice", id}}); }
  const Notice& notice(const std::string& id) const {
    auto it = notices.find(id);
    REQUIRE(it != notices.end());
    return it->second;
  }
};

Json post_body(const std::string& area) { return Json{{"area", area}, {"text", "water cut 14:00-16:00"}}; }

Event event(std::string kind, std::string actor, Json body) {
  Event e;
  e.kind = std::move(kind);
  e.actor = std::move(actor);
  e.at = "2026-11-23T08:00:00Z";
  e.body = std::move(body);
  return e;
}

}  // namespace

TEST_CASE("the notice op kinds") {
  CHECK(is_notice_op("notice.post"));
  CHECK(is_notice_op("notice.ack"));
  CHECK_FALSE(is_notice_op("notice.posted"));
  CHECK_FALSE(is_notice_op("notice.status"));  // a query, not an op
  CHECK_FALSE(is_notice_op("task.create"));
}

// ======================================================================= post

TEST_CASE("a coordinator posts a notice: one notice.posted event in the area's scope") {
  World w;
  const Op op{OpId("01JDNOTICE000000000000000A"), "notice.post",
              Json{{"area", "gulou/antai"}, {"text", "核酸检测 明早8点"}, {"priority", "urgent"}, {"ack", true}}};
  Outcome r = w.run_op(zhou, op);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  const Draft& d = r->front();
  CHECK(d.scope == "area:gulou/antai");
  CHECK(d.kind == "notice.posted");
  CHECK(d.body == Json{{"id", op.id},
                       {"area", "gulou/antai"},
                       {"text", "核酸检测 明早8点"},
                       {"priority", "urgent"},
                       {"ack", true},
                       {"author", "zhou"},
                       {"posted_at", "2026-11-23T08:00:00Z"}});

  const Notice& n = w.notice(op.id.str());
  CHECK(n.id == op.id.str());
  CHECK(n.area == "gulou/antai");
  CHECK(n.priority == Priority::urgent);
  CHECK(n.ack_required);
  CHECK(n.author == "zhou");
  CHECK(n.acked_by.empty());
}

TEST_CASE("priority defaults to normal and acknowledgement to not required; null means absent") {
  World w;
  REQUIRE(w.run(li, "notice.post", post_body("gulou/antai/yili")).ok());
  REQUIRE(w.run(li, "notice.post", Json{{"area", "gulou/antai"}, {"text", "t"}, {"priority", nullptr}, {"ack", nullptr}})
              .ok());
  for (const auto& [id, n] : w.notices) {
    CAPTURE(id);
    CHECK(n.priority == Priority::normal);
    CHECK_FALSE(n.ack_required);
  }
  CHECK(w.notices.size() == 2);
}

TEST_CASE("notice.post rejects malformed bodies as invalid, naming the problem") {
  struct Case {
    const char* what;
    Json body;
    const char* message;
  };
  auto with = [](const char* key, Json value) {
    Json b = post_body("gulou/antai");
    b[key] = std::move(value);
    return b;
  };
  auto without = [](const char* key) {
    Json b = post_body("gulou/antai");
    b.erase(key);
    return b;
  };
  const std::vector<Case> cases{
      {"body not an object", Json::array({"gulou"}), "body must be an object"},
      {"area missing", without("area"), "missing field 'area'"},
      {"area not a string", with("area", 1), "field 'area' must be a string"},
      {"area not a path", with("area", "gulou/"), "invalid area path 'gulou/'"},
      {"text missing", without("text"), "missing field 'text'"},
      {"text empty", with("text", ""), "text must not be empty"},
      {"text too long", with("text", std::string(8001, 'x')), "field 'text' is longer than 8000 bytes"},
      {"priority unknown", with("priority", "critical"), "priority must be low, normal, high or urgent"},
      {"ack not a boolean", with("ack", "yes"), "field 'ack' must be true or false"},
      {"ack a number", with("ack", 1), "field 'ack' must be true or false"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    World w;
    Outcome r = w.run(zhou, "notice.post", c.body);
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == c.message);
    CHECK(w.notices.empty());
  }

  World w;
  CHECK(code_of(w.run(zhou, "notice.post", with("text", std::string(8000, 'x')))) == "ok");
}

TEST_CASE("only managers of the area post notices: their home area and below") {
  World w;
  CHECK(code_of(w.run(zhou, "notice.post", post_body("gulou"))) == "ok");
  CHECK(code_of(w.run(zhou, "notice.post", post_body("gulou/gaolou"))) == "ok");
  CHECK(code_of(w.run(li, "notice.post", post_body("gulou/antai"))) == "ok");
  CHECK(code_of(w.run(li, "notice.post", post_body("gulou/antai/yili/b3"))) == "ok");

  Outcome volunteer = w.run(bob, "notice.post", post_body("gulou/antai/yili"));
  CHECK(code_of(volunteer) == "forbidden");
  CHECK(message_of(volunteer) == "bob may not post notices to gulou/antai/yili");
  CHECK(code_of(w.run(hana, "notice.post", post_body("gulou/antai/yili"))) == "forbidden");

  Outcome above = w.run(li, "notice.post", post_body("gulou"));
  CHECK(code_of(above) == "forbidden");
  CHECK(message_of(above) == "li may not post notices to gulou");
  CHECK(code_of(w.run(li, "notice.post", post_body("gulou/gaolou"))) == "forbidden");
  CHECK(w.notices.size() == 4);
}

TEST_CASE("the server's directory rejects unknown areas; a client's optimistic view cannot tell") {
  World w;
  Outcome r = w.run(li, "notice.post", post_body("gulou/antai/nowhere"));
  CHECK(code_of(r) == "invalid");
  CHECK(message_of(r) == "unknown area 'gulou/antai/nowhere'");

  UnknownDirectory client_view;
  w.directory = &client_view;
  CHECK(code_of(w.run(li, "notice.post", post_body("gulou/antai/nowhere"))) == "ok");
  CHECK(code_of(w.run(bob, "notice.post", post_body("gulou/antai/yili"))) == "forbidden");
}

TEST_CASE("a post op replayed after its notice exists is a conflict") {
  World w;
  const Op op{OpId("01JDNOTICE000000000000000B"), "notice.post", post_body("gulou/antai")};
  REQUIRE(w.run_op(li, op).ok());
  Outcome again = w.run_op(li, op);
  CHECK(code_of(again) == "conflict");
  CHECK(message_of(again) == "notice 01JDNOTICE000000000000000B already exists");
  CHECK(w.log.size() == 1);
}

// ======================================================================= ack

TEST_CASE("a recipient acknowledges: one notice.acked event in their own inbox") {
  World w;
  auto id = w.post(li, "gulou/antai");
  Outcome r = w.ack(bob, id);  // bob lives below gulou/antai: the notice reached him
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK(r->front().scope == "user:bob");
  CHECK(r->front().kind == "notice.acked");
  CHECK(r->front().body == Json{{"notice", id}});
  CHECK(w.notice(id).acked_by == std::set<std::string>{"bob"});

  REQUIRE(w.ack(carol, id).ok());
  REQUIRE(w.ack(erin, id).ok());
  REQUIRE(w.ack(li, id).ok());  // the author may acknowledge too
  CHECK(w.notice(id).acked_by == std::set<std::string>{"bob", "carol", "erin", "li"});
  CHECK(w.numbering.seqs["user:carol"] == 1);
  CHECK(w.numbering.seqs["area:gulou/antai"] == 1);  // acknowledgements never touch the area's scope
}

TEST_CASE("managers above the notice's area see it and may acknowledge it") {
  World w;
  auto id = w.post(li, "gulou/antai/yili/b3");
  CHECK(code_of(w.ack(zhou, id)) == "ok");
  CHECK(code_of(w.ack(li, id)) == "ok");
}

TEST_CASE("a user who cannot see the notice gets not_found, as for an unknown notice") {
  World w;
  auto id = w.post(li, "gulou/antai/yili");
  Outcome beside = w.ack(dave, id);  // next street
  CHECK(code_of(beside) == "not_found");
  CHECK(message_of(beside) == "no notice " + id);
  CHECK(code_of(w.ack(erin, id)) == "not_found");  // a street volunteer is not told about a community notice

  Outcome unknown = w.ack(bob, "01JDNOSUCHNOTICE");
  CHECK(code_of(unknown) == "not_found");
  CHECK(message_of(unknown) == "no notice 01JDNOSUCHNOTICE");
  CHECK(w.notice(id).acked_by.empty());
}

TEST_CASE("a second acknowledgement is accepted and produces no event") {
  World w;
  auto id = w.post(li, "gulou/antai");
  REQUIRE(w.ack(bob, id).ok());
  auto events = w.log.size();
  Outcome again = w.ack(bob, id);
  REQUIRE(again.ok());
  CHECK(again->empty());
  CHECK(w.log.size() == events);
  CHECK(w.notice(id).acked_by == std::set<std::string>{"bob"});
}

TEST_CASE("notice.ack needs a notice id") {
  World w;
  Outcome missing = w.run(bob, "notice.ack", Json::object());
  CHECK(code_of(missing) == "invalid");
  CHECK(message_of(missing) == "missing field 'notice'");
  CHECK(message_of(w.run(bob, "notice.ack", Json{{"notice", 3}})) == "field 'notice' must be a string");
  CHECK(message_of(w.run(bob, "notice.ack", Json::array())) == "body must be an object");
}

TEST_CASE("other op kinds are invalid here") {
  World w;
  for (const char* kind : {"notice.delete", "notice.posted", "task.create", ""}) {
    CAPTURE(kind);
    Outcome r = w.run(li, kind, post_body("gulou/antai"));
    CHECK(code_of(r) == "invalid");
    CHECK(message_of(r) == std::string("unknown op kind '") + kind + "'");
  }
}

// ======================================================================= fold

TEST_CASE("an acknowledgement folded before its notice is kept when the notice arrives") {
  // The ack lives in the user's inbox scope, the notice in the area's: a replica may
  // receive them in either order.
  NoticeBook book;
  const Json posted{{"id", "n1"}, {"area", "gulou/antai"}, {"text", "停水通知"}, {"priority", "high"},
                    {"ack", true}, {"author", "li"}, {"posted_at", "2026-11-23T08:00:00Z"}};
  CHECK(fold_notice_event(book, event("notice.acked", "bob", Json{{"notice", "n1"}})) == "n1");
  CHECK(fold_notice_event(book, event("notice.posted", "li", posted)) == "n1");
  CHECK(fold_notice_event(book, event("notice.acked", "carol", Json{{"notice", "n1"}})) == "n1");

  REQUIRE(book.size() == 1);
  const Notice& n = book.at("n1");
  CHECK(n.id == "n1");
  CHECK(n.area == "gulou/antai");
  CHECK(n.text == "停水通知");
  CHECK(n.priority == Priority::high);
  CHECK(n.ack_required);
  CHECK(n.author == "li");
  CHECK(n.posted_at == "2026-11-23T08:00:00Z");
  CHECK(n.acked_by == std::set<std::string>{"bob", "carol"});

  // The notice again (a replay) keeps the acknowledgements too.
  CHECK(fold_notice_event(book, event("notice.posted", "li", posted)) == "n1");
  CHECK(book.at("n1").acked_by == std::set<std::string>{"bob", "carol"});
}

TEST_CASE("the same acknowledgement folded twice counts once") {
  NoticeBook book;
  auto acked = event("notice.acked", "bob", Json{{"notice", "n1"}});
  fold_notice_event(book, acked);
  fold_notice_event(book, acked);
  CHECK(book.at("n1").acked_by.size() == 1);
}

TEST_CASE("fold ignores unknown kinds and malformed events") {
  World w;
  auto id = w.post(li, "gulou/antai");
  REQUIRE(w.ack(bob, id).ok());
  const Json before = to_json(w.notice(id));
  const std::vector<Event> ignored{
      event("notice.deleted", "li", Json{{"notice", id}}),
      event("notice.acked", "carol", Json::object()),
      event("notice.acked", "carol", Json{{"notice", 5}}),
      event("notice.posted", "li", Json{{"id", "n2"}}),  // no area, no text
      event("notice.posted", "li", Json{{"id", "n2"}, {"area", "gulou"}, {"text", "t"}, {"priority", "critical"}}),
      event("notice.posted", "li", Json{{"id", "n2"}, {"area", "gulou"}, {"text", 5}}),
      event("task.created", "li", Json{{"notice", id}}),
  };
  for (const Event& e : ignored) {
    CAPTURE(e.kind);
    CAPTURE(e.body.dump());
    CHECK(fold_notice_event(w.notices, e).empty());
  }
  CHECK(w.notices.size() == 1);
  CHECK(to_json(w.notice(id)) == before);
  CHECK(w.notice(id).acked_by == std::set<std::string>{"bob"});
}

TEST_CASE("a replica folding the log reaches the server's view") {
  World w;
  auto a = w.post(zhou, "gulou");
  auto b = w.post(li, "gulou/antai/yili", false);
  REQUIRE(w.ack(bob, a).ok());
  REQUIRE(w.ack(carol, a).ok());
  REQUIRE(w.ack(bob, b).ok());

  // Delivered inbox first, then areas: a different order, the same result.
  NoticeBook replica;
  for (const Event& e : w.log) {
    if (e.kind == "notice.acked") fold_notice_event(replica, e);
  }
  for (const Event& e : w.log) {
    if (e.kind == "notice.posted") fold_notice_event(replica, e);
  }
  REQUIRE(replica.size() == 2);
  for (const auto& id : {a, b}) {
    CHECK(to_json(replica.at(id)) == to_json(w.notice(id)));
    CHECK(replica.at(id).acked_by == w.notice(id).acked_by);
  }
}

// ======================================================================= JSON

TEST_CASE("to_json and notice_from_json round-trip a notice") {
  Notice n;
  n.id = "01JDNOTICE0000000000000001";
  n.area = "鼓楼/安泰";
  n.text = "明天 08:00 全员核酸\n请带身份证";
  n.priority = Priority::urgent;
  n.ack_required = true;
  n.author = "zhou";
  n.posted_at = "2026-11-23T08:00:00Z";
  n.acked_by = {"bob"};

  const Json j = to_json(n);
  CHECK(j["priority"] == "urgent");
  CHECK(j["ack"] == true);
  CHECK_FALSE(j.contains("acked_by"));  // acknowledgements travel as their own events

  auto back = notice_from_json(Json::parse(j.dump()));
  REQUIRE(back.has_value());
  CHECK(back->id == n.id);
  CHECK(back->area == n.area);
  CHECK(back->text == n.text);
  CHECK(back->priority == n.priority);
  CHECK(back->ack_required == n.ack_required);
  CHECK(back->author == n.author);
  CHECK(back->posted_at == n.posted_at);
  CHECK(back->acked_by.empty());
  CHECK(to_json(*back) == j);
}

TEST_CASE("notice_from_json needs id, area and text, and rejects wrong types without throwing") {
  const Json minimal{{"id", "n1"}, {"area", "gulou"}, {"text", "t"}};
  auto n = notice_from_json(minimal);
  REQUIRE(n.has_value());
  CHECK(n->priority == Priority::normal);
  CHECK_FALSE(n->ack_required);

  for (const char* key : {"id", "area", "text"}) {
    CAPTURE(key);
    Json j = minimal;
    j.erase(key);
    CHECK_FALSE(notice_from_json(j).has_value());
  }
  auto with = [&](const char* key, Json value) {
    Json j = minimal;
    j[key] = std::move(value);
    return j;
  };
  CHECK_FALSE(notice_from_json(with("priority", "critical")).has_value());
  CHECK_FALSE(notice_from_json(with("ack", "yes")).has_value());
  CHECK_FALSE(notice_from_json(with("text", 5)).has_value());
  CHECK_FALSE(notice_from_json(Json::array()).has_value());
  CHECK_FALSE(notice_from_json(Json()).has_value());
}
