// The inbox (muster/domain/inbox.hpp): what needs one person now, as a pure function of
// the folded state, the alerts received, the person's marks and the time. Each test
// folds the events the server would send, by hand, and checks each addressee's inbox,
// then that the item leaves when it is settled.
#include "muster/domain/inbox.hpp"

#include <doctest/doctest.h>

#include "event_numbering.hpp"

#include <string>
#include <vector>

#include "muster/base/time.hpp"

using namespace muster::domain;
using muster::format_utc;
using muster::UnixMs;

namespace {

constexpr UnixMs kSecond = 1000;
constexpr UnixMs kMinute = 60 * kSecond;
constexpr UnixMs kHour = 60 * kMinute;

// Whole minutes (shifts travel as whole seconds), relative to today.
const UnixMs kNow = muster::SystemClock().now_ms() / kMinute * kMinute;

const Actor lin{"lin", Roles{Role::lead}, "gulou/antai/yili"};
const Actor zhou{"zhou", Roles{Role::coordinator}, "gulou/antai"};
const Actor wang{"wang", Roles{Role::volunteer}, "gulou/antai/yili/b3"};
const Actor li{"li", Roles{Role::volunteer}, "gulou/antai/yili/b5"};
const Actor hu{"hu", Roles{Role::hotline, Role::lead}, "gulou/antai/yili"};
const std::string kYili = "gulou/antai/yili";

// Everything every party received, folded as the client folds it: the state and the alerts.
struct World {
  State state;
  AlertBook alerts;
  InboxMarks marks;
  muster_test::EventNumbering numbering;

  std::string deliver(const std::string& scope, const std::string& kind, const std::string& actor, UnixMs at,
                      Json body) {
    Event e = numbering.number(Draft{scope, kind, std::move(body)}, "01JOP" + std::to_string(numbering.gseq + 1),
                               actor, at);
    fold(state, e);
    fold_alert_event(alerts, e);
    return e.id;
  }
  std::vector<InboxItem> of(const Actor& who, UnixMs now) const { return inbox(state, alerts, who, now, marks); }
};

std::vector<std::string> kinds_of(const std::vector<InboxItem>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.kind);
  return out;
}

Task errand(const std::string& id, Dispatch dispatch, UnixMs at) {
  Task t;
  t.id = TaskId(id);
  t.kind = "errand";
  t.title = "代买 白菜2斤 鸡蛋10个";
  t.area = kYili;
  t.creator = "lin";
  t.dispatch = dispatch;
  t.priority = Priority::high;
  t.created_at = t.updated_at = t.since = format_utc(at);
  return t;
}

Json shift_body(const std::string& id, UnixMs start, int seats) {
  Shift s;
  s.id = id;
  s.post = "东门岗";
  s.area = kYili;
  s.start = start;
  s.end = start + 4 * kHour;
  s.seats = seats;
  s.created_by = "lin";
  s.created_at = format_utc(kNow);
  return to_json(s);
}

Json about_shift(const std::string& id, UnixMs start) {
  return Json{{"shift", id}, {"post", "东门岗"}, {"area", kYili}, {"start", format_utc(start)},
              {"end", format_utc(start + 4 * kHour)}};
}

}  // namespace

TEST_CASE("inbox: an offer is there until it moves on, with its expiry and the command that accepts it") {
  World w;
  const std::string id = "01JTASKOFFER0000000000000A";
  w.deliver("area:" + kYili, "task.created", "lin", kNow, to_json(errand(id, Dispatch::offer, kNow)));
  w.deliver("area:" + kYili, "task.offered", "system", kNow,
            Json{{"task", id}, {"to", "wang"}, {"expires", format_utc(kNow + 5 * kMinute)}});

  auto mine = w.of(wang, kNow + kMinute);
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].kind == "offer");
  CHECK(mine[0].id == id);
  CHECK(mine[0].title == "代买 白菜2斤 鸡蛋10个");
  CHECK(mine[0].area == kYili);
  CHECK(mine[0].expires == format_utc(kNow + 5 * kMinute));
  CHECK(mine[0].action == "muster task accept " + id);
  CHECK(mine[0].at == format_utc(kNow));
  CHECK(w.of(li, kNow + kMinute).empty());
  CHECK(w.of(lin, kNow + kMinute).empty());  // the creator: nothing to do yet

  // At `expires` it leaves, before any event says so.
  CHECK(w.of(wang, kNow + 5 * kMinute).empty());

  // wang declines; the next offer goes to li and is in her inbox only.
  w.deliver("area:" + kYili, "task.declined", "wang", kNow + 2 * kMinute, Json{{"task", id}});
  w.deliver("area:" + kYili, "task.offered", "system", kNow + 2 * kMinute,
            Json{{"task", id}, {"to", "li"}, {"expires", format_utc(kNow + 7 * kMinute)}});
  CHECK(w.of(wang, kNow + 3 * kMinute).empty());
  auto hers = w.of(li, kNow + 3 * kMinute);
  REQUIRE(hers.size() == 1);
  CHECK(hers[0].kind == "offer");
  CHECK(hers[0].expires == format_utc(kNow + 7 * kMinute));

  // li accepts: the offer becomes her task (start it, then finish it), then leaves.
  w.deliver("area:" + kYili, "task.accepted", "li", kNow + 4 * kMinute, Json{{"task", id}});
  hers = w.of(li, kNow + 8 * kMinute);
  REQUIRE(hers.size() == 1);
  CHECK(hers[0].kind == "task");
  CHECK(hers[0].action == "muster task start " + id);
  w.deliver("area:" + kYili, "task.started", "li", kNow + 5 * kMinute, Json{{"task", id}});
  REQUIRE(w.of(li, kNow + 8 * kMinute).size() == 1);
  CHECK(w.of(li, kNow + 8 * kMinute)[0].action == "muster task done " + id);
  w.deliver("area:" + kYili, "task.done", "li", kNow + 6 * kMinute, Json{{"task", id}});
  CHECK(w.of(li, kNow + 8 * kMinute).empty());
}

TEST_CASE("inbox: a direct task offered to me has no expiry and stays until I answer") {
  World w;
  const std::string id = "01JTASKDIRECT000000000000B";
  Task t = errand(id, Dispatch::direct, kNow);
  t.state = TaskState::offered;
  t.offered_to = "wang";
  w.deliver("area:" + kYili, "task.created", "lin", kNow, to_json(t));
  auto mine = w.of(wang, kNow + 24 * kHour);
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].kind == "offer");
  CHECK(mine[0].expires.empty());
  w.deliver("area:" + kYili, "task.declined", "wang", kNow + kMinute, Json{{"task", id}});
  CHECK(w.of(wang, kNow + 2 * kMinute).empty());
}

TEST_CASE("inbox: escalations reach the lead they were sent to, once per task, until someone takes it") {
  World w;
  const std::string id = "01JTASKESCALATE00000000000C";
  w.deliver("area:" + kYili, "task.created", "lin", kNow, to_json(errand(id, Dispatch::offer, kNow)));
  auto escalate = [&](const std::string& stage, UnixMs at) {
    return w.deliver("user:lin", "task.escalated", "system", at,
                     Json{{"task", id}, {"stage", stage}, {"title", "代买 白菜2斤 鸡蛋10个"}, {"area", kYili},
                          {"reason", "not accepted since " + format_utc(kNow)}, {"leads", Json::array({"lin"})}});
  };
  const std::string first = escalate("unaccepted:1", kNow + 10 * kMinute);
  const std::string second = escalate("unaccepted:2", kNow + 20 * kMinute);

  auto lead = w.of(lin, kNow + 21 * kMinute);
  REQUIRE(lead.size() == 1);
  CHECK(lead[0].kind == "escalation");
  CHECK(lead[0].id == id);
  CHECK(lead[0].detail == "unaccepted:2");
  CHECK(lead[0].at == format_utc(kNow + 20 * kMinute));
  CHECK(lead[0].action == "muster inbox ack " + id);
  CHECK(lead[0].alerts == std::vector<std::string>{first, second});
  CHECK(w.of(wang, kNow + 21 * kMinute).empty());
  CHECK(w.of(zhou, kNow + 21 * kMinute).empty());  // sent to lin, not to the area

  SUBCASE("dismissed; a later stage brings it back") {
    w.marks.acked_alerts = {first, second};
    CHECK(w.of(lin, kNow + 21 * kMinute).empty());
    const std::string third = escalate("unaccepted:3", kNow + 30 * kMinute);
    lead = w.of(lin, kNow + 31 * kMinute);
    REQUIRE(lead.size() == 1);
    CHECK(lead[0].detail == "unaccepted:3");
    CHECK(lead[0].alerts == std::vector<std::string>{third});
  }
  SUBCASE("settled: a volunteer claims it") {
    w.deliver("area:" + kYili, "task.claimed", "wang", kNow + 22 * kMinute, Json{{"task", id}});
    CHECK(w.of(lin, kNow + 23 * kMinute).empty());
    CHECK(kinds_of(w.of(wang, kNow + 23 * kMinute)) == std::vector<std::string>{"task"});
  }
  SUBCASE("an overdue escalation stays until the task is finished") {
    w.deliver("area:" + kYili, "task.claimed", "wang", kNow + 22 * kMinute, Json{{"task", id}});
    w.deliver("user:lin", "task.escalated", "system", kNow + 40 * kMinute,
              Json{{"task", id}, {"stage", "overdue"}, {"title", "代买"}, {"area", kYili}, {"reason", "overdue"},
                   {"leads", Json::array({"lin"})}});
    REQUIRE(kinds_of(w.of(lin, kNow + 41 * kMinute)) == std::vector<std::string>{"escalation"});
    w.deliver("area:" + kYili, "task.done", "wang", kNow + 42 * kMinute, Json{{"task", id}});
    CHECK(w.of(lin, kNow + 43 * kMinute).empty());
  }
}

TEST_CASE("inbox: an escalation nobody leads stays in the area, for those who manage it") {
  World w;
  const std::string id = "01JTASKNOLEAD0000000000000D";
  w.deliver("area:" + kYili, "task.created", "lin", kNow, to_json(errand(id, Dispatch::offer, kNow)));
  w.deliver("area:" + kYili, "task.escalated", "system", kNow + kMinute,
            Json{{"task", id}, {"stage", "no_candidate"}, {"title", "代买"}, {"area", kYili}, {"reason", "nobody"},
                 {"leads", Json::array()}});
  CHECK(kinds_of(w.of(zhou, kNow + 2 * kMinute)) == std::vector<std::string>{"escalation"});
  CHECK(kinds_of(w.of(lin, kNow + 2 * kMinute)) == std::vector<std::string>{"escalation"});
  CHECK(w.of(wang, kNow + 2 * kMinute).empty());
}

TEST_CASE("inbox: a shift reminder until check-in; a gap to the lead and gap offers to the free, until filled") {
  World w;
  const std::string id = "01JSHIFT000000000000000000E";
  const UnixMs start = kNow + 2 * kHour;
  w.deliver("area:" + kYili, "shift.added", "lin", kNow, shift_body(id, start, 2));
  w.deliver("area:" + kYili, "shift.signed_up", "wang", kNow, Json{{"shift", id}});
  Json reminder = about_shift(id, start);
  reminder["user"] = "wang";
  w.deliver("user:wang", "shift.reminder", "system", start - kHour, reminder);
  Json gap = about_shift(id, start);
  gap["missing"] = 1;
  gap["leads"] = Json::array({"lin"});
  w.deliver("user:lin", "shift.gap", "system", start - kHour, gap);
  w.deliver("user:li", "shift.gap_offer", "system", start - kHour, gap);

  const UnixMs now = start - kHour + kMinute;
  auto his = w.of(wang, now);
  REQUIRE(his.size() == 1);
  CHECK(his[0].kind == "reminder");
  CHECK(his[0].id == id);
  CHECK(his[0].title == "东门岗");
  CHECK(his[0].due == format_utc(start));
  CHECK(his[0].action == "muster roster checkin " + id);
  auto lead = w.of(lin, now);
  REQUIRE(lead.size() == 1);
  CHECK(lead[0].kind == "gap");
  CHECK(lead[0].detail == "1 of 2 seats free");
  CHECK(lead[0].action == "muster inbox ack " + id);
  auto hers = w.of(li, now);
  REQUIRE(hers.size() == 1);
  CHECK(hers[0].kind == "gap_offer");
  CHECK(hers[0].action == "muster roster signup " + id);

  SUBCASE("li takes the seat: the gap and her offer are settled") {
    w.deliver("area:" + kYili, "shift.signed_up", "li", now, Json{{"shift", id}});
    CHECK(w.of(lin, now).empty());
    CHECK(w.of(li, now).empty());
  }
  SUBCASE("wang checks in: his reminder is settled") {
    w.deliver("area:" + kYili, "shift.checked_in", "wang", start - 5 * kMinute, Json{{"shift", id}, {"late", false}});
    CHECK(w.of(wang, start).empty());
  }
  SUBCASE("the shift ends: all three leave") {
    const UnixMs after = start + 4 * kHour;
    CHECK(w.of(wang, after).empty());
    CHECK(w.of(lin, after).empty());
    CHECK(w.of(li, after).empty());
  }
}

TEST_CASE("inbox: a notice waits for my acknowledgement, says when it was sent again, leaves when acked") {
  World w;
  Notice n;
  n.id = "01JNOTICE00000000000000000F";
  n.area = "gulou/antai";
  n.text = "今晚8点全员核酸";
  n.priority = Priority::urgent;
  n.ack_required = true;
  n.author = "zhou";
  n.posted_at = format_utc(kNow);
  w.deliver("area:gulou/antai", "notice.posted", "zhou", kNow, to_json(n));

  auto his = w.of(wang, kNow + kMinute);
  REQUIRE(his.size() == 1);
  CHECK(his[0].kind == "notice");
  CHECK(his[0].action == "muster notice ack " + n.id);
  CHECK(his[0].detail == "urgent, from zhou");
  CHECK(inbox(w.state, w.alerts, wang, kNow + kMinute, w.marks, [](const std::string& u) { return "<" + u + ">"; })[0]
            .detail == "urgent, from <zhou>");
  CHECK(w.of(zhou, kNow + kMinute).empty());  // the author

  w.deliver("user:wang", "notice.resent", "system", kNow + 30 * kMinute,
            Json{{"notice", n.id}, {"text", n.text}, {"area", n.area}, {"posted_at", n.posted_at}});
  his = w.of(wang, kNow + 31 * kMinute);
  REQUIRE(his.size() == 1);  // one item, not two
  CHECK(his[0].detail == "urgent, from zhou, sent again");
  CHECK(w.of(li, kNow + 31 * kMinute).size() == 1);

  w.deliver("user:wang", "notice.acked", "wang", kNow + 32 * kMinute, Json{{"notice", n.id}});
  CHECK(w.of(wang, kNow + 33 * kMinute).empty());
  CHECK(w.of(li, kNow + 33 * kMinute).size() == 1);
}

TEST_CASE("inbox: direct messages until read; area chat and my own are not items") {
  World w;
  Message m{"01JMSG0000000000000000000G", "lin", "wang", "明早7点到东门", format_utc(kNow), "", 0};
  w.deliver("user:wang", "message.sent", "lin", kNow, to_json(m));
  Message chat{"01JMSG0000000000000000000H", "lin", "area:" + kYili, "大家辛苦了", format_utc(kNow), "", 0};
  w.deliver("area:" + kYili, "message.sent", "lin", kNow, to_json(chat));

  auto his = w.of(wang, kNow);
  REQUIRE(his.size() == 1);
  CHECK(his[0].kind == "message");
  CHECK(his[0].title == "明早7点到东门");
  CHECK(his[0].detail == "from lin");
  CHECK(his[0].action == "muster msg list");
  // For a screen, the reader's way of showing people; the user name stays for --json.
  const auto shown = inbox(w.state, w.alerts, wang, kNow, w.marks,
                           [](const std::string& user) { return user == "lin" ? "林组长 (lin)" : user; });
  REQUIRE(shown.size() == 1);
  CHECK(shown[0].detail == "from 林组长 (lin)");
  CHECK(w.of(lin, kNow).empty());
  w.marks.read_messages.insert(m.id);
  CHECK(w.of(wang, kNow).empty());
}

TEST_CASE("inbox: a hotline follow-up I created, while it is not finished; a high-risk call to the named leads") {
  World w;
  Task f;
  f.id = TaskId("01JCALL00000000000000000000-f");
  f.kind = "hotline_followup";
  f.title = "回访3栋";
  f.area = "gulou/antai/yili/b3";
  f.creator = "hu";
  f.created_at = f.updated_at = format_utc(kNow);
  w.deliver("area:gulou/antai/yili/b3", "task.created", "hu", kNow, to_json(f));
  w.deliver("role:hotline", "hotline.escalated", "system", kNow,
            Json{{"call", "01JCALL00000000000000000000"}, {"risk", 5}, {"area", "gulou/antai/yili/b3"},
                 {"category", "情绪"}, {"priority", "urgent"}, {"to", Json::array({"hu"})}});

  auto hers = w.of(hu, kNow);
  CHECK(kinds_of(hers) == std::vector<std::string>{"escalation", "followup"});
  CHECK(hers[0].detail == "risk 5");
  CHECK(hers[1].action == "muster task show " + f.id.str());
  CHECK(hers[1].detail == "open");
  CHECK(w.of(lin, kNow).empty());  // neither named nor the creator

  w.deliver("area:gulou/antai/yili/b3", "task.claimed", "wang", kNow + kMinute, Json{{"task", f.id}});
  CHECK(w.of(hu, kNow + kMinute)[1].detail == "accepted by wang");
  w.deliver("area:gulou/antai/yili/b3", "task.done", "wang", kNow + 2 * kMinute, Json{{"task", f.id}});
  CHECK(kinds_of(w.of(hu, kNow + 3 * kMinute)) == std::vector<std::string>{"escalation"});
}

TEST_CASE("inbox: items come ordered by kind, offers first, then by time") {
  World w;
  Message m{"01JMSG0000000000000000000J", "lin", "wang", "收到请回复", format_utc(kNow), "", 0};
  w.deliver("user:wang", "message.sent", "lin", kNow, to_json(m));
  const std::string id = "01JTASKORDER00000000000000K";
  w.deliver("area:" + kYili, "task.created", "lin", kNow, to_json(errand(id, Dispatch::offer, kNow)));
  w.deliver("area:" + kYili, "task.offered", "system", kNow + kMinute,
            Json{{"task", id}, {"to", "wang"}, {"expires", format_utc(kNow + 6 * kMinute)}});
  CHECK(kinds_of(w.of(wang, kNow + 2 * kMinute)) == std::vector<std::string>{"offer", "message"});
}

TEST_CASE("alerts: only the server's own person-addressed events are alerts, and they round-trip") {
  Event e;
  e.id = "01JEV";
  e.scope = "user:wang";
  e.kind = "shift.reminder";
  e.at = format_utc(kNow);
  e.body = Json{{"shift", "S1"}, {"user", "wang"}};
  auto a = alert_from_event(e);
  REQUIRE(a);
  CHECK(alert_object(*a) == "S1");
  auto back = alert_from_json(to_json(*a));
  REQUIRE(back);
  CHECK(back->kind == "shift.reminder");
  CHECK(back->body == e.body);
  CHECK(alert_is_for(*a, wang));
  CHECK_FALSE(alert_is_for(*a, li));
  e.kind = "shift.signed_up";
  CHECK_FALSE(alert_from_event(e));
  e.kind = "task.escalated";  // without its task
  CHECK_FALSE(alert_from_event(e));
}
