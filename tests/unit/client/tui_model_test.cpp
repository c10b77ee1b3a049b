// muster tui's model without a terminal (client/muster_client/tui/model.hpp): the frames
// at 80x24 and 120x40 (every line exactly as wide as the screen, columns aligned by
// display width with CJK, fullwidth, emoji and combining marks), the keys and the
// actions they return, the filter, the prompt for `D`, the bell.
#include "muster_client/tui/model.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/base/utf8.hpp"

namespace tui = muster::client::tui;
namespace domain = muster::domain;
using muster::display_width;
using muster::format_utc;
using muster::UnixMs;

namespace {

const UnixMs kNow = 1'800'000'000'000;  // any instant: the model is handed its time
const std::string kYili = "gulou/antai/yili";
// Chinese, a fullwidth name, an emoji and か + U+3099 (a combining mark).
const std::string kTitles[] = {"代买 白菜2斤 鸡蛋10个", "送药 🚑 给 ＷＡＮＧ 阿姨", "か\u3099 取快递 ＡＢＣ（急）"};

domain::Task task(const std::string& id, const std::string& title, domain::TaskState state) {
  domain::Task t;
  t.id = domain::TaskId(id);
  t.kind = "errand";
  t.title = title;
  t.area = kYili + "/３号楼";
  t.creator = "lin";
  t.state = state;
  t.created_at = format_utc(kNow - 60000);
  return t;
}

tui::Snapshot snapshot(const std::string& user = "chen", domain::Roles roles = {domain::Role::volunteer}) {
  tui::Snapshot s;
  s.user = user;
  s.actor = domain::Actor{user, roles, kYili};
  s.now = kNow;
  s.link.link = tui::Link::online;
  s.link.zone = "Asia/Shanghai";
  s.link.last_sync = kNow;
  s.local_time = [](UnixMs t) { return format_utc(t + 8 * 3600 * 1000).substr(0, 16).replace(10, 1, " "); };
  auto offer = task("01JOFFER00000000000000AAAA", kTitles[0], domain::TaskState::offered);
  offer.offered_to = user;
  offer.offer_expires = format_utc(kNow + 272000);
  s.state.tasks[offer.id] = offer;
  auto held = task("01JHELD000000000000000BBBB", kTitles[1], domain::TaskState::accepted);
  held.assignee = user;
  s.state.tasks[held.id] = held;
  auto open = task("01JOPEN000000000000000CCCC", kTitles[2], domain::TaskState::open);
  s.state.tasks[open.id] = open;
  domain::InboxItem i1{"offer", offer.id.str(), offer.title, offer.area, offer.offer_expires,
                       "muster task accept " + offer.id.str(), format_utc(kNow - 28000), "", "high", {}};
  domain::InboxItem i2{"task", held.id.str(), held.title, held.area, "", "muster task start " + held.id.str(),
                       format_utc(kNow - 50000), "", "accepted", {}};
  domain::InboxItem i3{"escalation", open.id.str(), open.title, open.area, "", "muster inbox ack " + open.id.str(),
                       format_utc(kNow - 10000), "", "unaccepted:1", {"alert-1"}};
  s.inbox = {i1, i2, i3};
  domain::Notice n;
  n.id = "01JNOTICE0000000000000DDDD";
  n.area = kYili;
  n.text = "明早8点 核酸采样 🚑";
  n.ack_required = true;
  n.author = "lin";
  n.posted_at = format_utc(kNow - 3600000);
  s.state.notices[n.id] = n;
  return s;
}

void check_frame(const tui::Frame& f, int width, int height) {
  REQUIRE(static_cast<int>(f.lines.size()) == height);
  for (const auto& line : f.lines) {
    CHECK_MESSAGE(display_width(line.text) == static_cast<std::size_t>(width), line.text);
  }
}

std::string text(const tui::Frame& f) {
  std::string out;
  for (const auto& l : f.lines) out += l.text + "\n";
  return out;
}

// The display column where `needle` starts in `line` (npos if absent).
std::size_t column_of(const std::string& line, const std::string& needle) {
  const auto at = line.find(needle);
  return at == std::string::npos ? std::string::npos : display_width(line.substr(0, at));
}

void type(tui::Model& m, const std::string& s) {
  for (char32_t c : muster::decode_utf8(s)) (void)m.key(static_cast<std::int32_t>(c));
}

}  // namespace

TEST_CASE("tui model: every screen's frame is exactly the terminal's size, at 80x24 and 120x40") {
  for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
    tui::Model m;
    m.update(snapshot("lin", {domain::Role::lead, domain::Role::hotline}));
    for (std::size_t i = 0; i < m.screens().size(); ++i) {
      check_frame(m.frame(w, h), w, h);
      (void)m.key(tui::kTab);
    }
    (void)m.key('?');
    check_frame(m.frame(w, h), w, h);
  }
}

TEST_CASE("tui model: the inbox lists offers first with a live countdown; columns align by display width") {
  for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
    tui::Model m;
    m.update(snapshot());
    const auto f = m.frame(w, h);
    const std::string all = text(f);
    CHECK_MESSAGE(all.find("⏱ 4:32 left") != std::string::npos, all);
    CHECK(f.lines[0].text.find("[Inbox 3]") != std::string::npos);
    // Header, then the three rows: AREA and WHEN start at the same column in each.
    const std::size_t area = column_of(f.lines[1].text, "AREA");
    const std::size_t when = column_of(f.lines[1].text, "WHEN");
    for (int row = 2; row <= 4; ++row) {
      CHECK_MESSAGE(column_of(f.lines[static_cast<std::size_t>(row)].text, w >= 120 ? "gulou" : "…") == area, f.lines[row].text);
    }
    CHECK(column_of(f.lines[2].text, "⏱") == when);
    CHECK(f.lines[2].style == tui::Style::focus);
    // The status bar: user, link, ops waiting, last sync, the server's zone.
    const std::string status = f.lines.back().text;
    CHECK_MESSAGE(status.find("chen · online · 0 ops waiting · synced") != std::string::npos, status);
    CHECK(status.find("Asia/Shanghai") != std::string::npos);
  }
  // A second later the countdown moved.
  tui::Model m;
  auto s = snapshot();
  s.now += 1000;
  m.update(s);
  CHECK(text(m.frame(80, 24)).find("⏱ 4:31 left") != std::string::npos);
}

TEST_CASE("tui model: a accepts, d declines the focused offer; D asks for a note; k acknowledges") {
  tui::Model m;
  m.update(snapshot());
  auto a = m.key('a');
  CHECK(a.kind == tui::Action::Kind::queue);
  CHECK(a.op_kind == "task.accept");
  CHECK(a.body == domain::Json{{"task", "01JOFFER00000000000000AAAA"}});
  a = m.key('d');
  CHECK(a.op_kind == "task.decline");
  (void)m.key(tui::kDown);  // the held task
  a = m.key('s');
  CHECK(a.op_kind == "task.start");
  CHECK(a.body["task"] == "01JHELD000000000000000BBBB");
  a = m.key('D');
  CHECK(a.kind == tui::Action::Kind::none);
  CHECK(m.frame(80, 24).cursor_column > 0);
  type(m, "交给 王阿姨 了");
  (void)m.key(tui::kBackspace);
  a = m.key(tui::kEnter);
  CHECK(a.op_kind == "task.done");
  CHECK(a.body == domain::Json{{"task", "01JHELD000000000000000BBBB"}, {"note", "交给 王阿姨 "}});
  // Esc cancels the prompt and nothing is asked for.
  (void)m.key('D');
  type(m, "x");
  CHECK(m.key(tui::kEscape).kind == tui::Action::Kind::none);
  CHECK(m.frame(80, 24).cursor_column == -1);
  // The escalation: k dismisses its alerts.
  (void)m.key(tui::kDown);
  a = m.key('k');
  CHECK(a.kind == tui::Action::Kind::ack_alerts);
  CHECK(a.alerts == std::vector<std::string>{"alert-1"});
  // On the Notices screen k acknowledges the focused notice; c claims on Tasks.
  m.show(tui::Screen::notices);
  a = m.key('k');
  CHECK(a.op_kind == "notice.ack");
  CHECK(a.body == domain::Json{{"notice", "01JNOTICE0000000000000DDDD"}});
  m.show(tui::Screen::tasks);
  (void)m.key(tui::kEnd);
  a = m.key('c');
  CHECK(a.op_kind == "task.claim");
  CHECK(m.key('q').kind == tui::Action::Kind::quit);
}

TEST_CASE("tui model: Tab goes round the screens; Hotline only for hotline operators; ? lists every key") {
  tui::Model volunteer;
  volunteer.update(snapshot());
  CHECK(volunteer.screens() == std::vector<tui::Screen>{tui::Screen::inbox, tui::Screen::tasks, tui::Screen::roster,
                                                        tui::Screen::notices, tui::Screen::headcount,
                                                        tui::Screen::compose});
  tui::Model op;
  op.update(snapshot("hu", {domain::Role::hotline}));
  CHECK(op.screens().size() == 7);
  for (tui::Screen want : op.screens()) {
    CHECK(op.screen() == want);
    (void)op.key(tui::kTab);
  }
  CHECK(op.screen() == tui::Screen::inbox);
  (void)op.key(tui::kBackTab);
  CHECK(op.screen() == tui::Screen::compose);
  (void)op.key('?');
  const std::string help = text(op.frame(80, 24));
  for (const char* k : {" a ", " d ", " s ", " D ", " k ", " c ", " n ", " / ", " Tab ", " ? ", " q ", " Esc "}) {
    CHECK_MESSAGE(help.find(std::string("  ") + (k + 1)) != std::string::npos, k);
  }
  CHECK(op.key('x').kind == tui::Action::Kind::none);  // any key closes it
  CHECK(!op.help_open());
}

TEST_CASE("tui model: / filters the tasks by state, area, mine and words; a misspelt state is refused") {
  tui::Model m;
  m.update(snapshot());
  (void)m.key('/');
  CHECK(m.screen() == tui::Screen::tasks);
  type(m, "opne");
  (void)m.key(tui::kEnter);
  CHECK(m.message().find("no task state 'opne'") != std::string::npos);
  CHECK(m.task_filter().state.empty());
  (void)m.key('/');
  type(m, "offered mine area:gulou/antai");
  (void)m.key(tui::kEnter);
  CHECK(m.task_filter().state == "offered");
  CHECK(m.task_filter().mine);
  CHECK(m.task_filter().area == "gulou/antai");
  const std::string all = text(m.frame(120, 40));
  CHECK(all.find("AAAA") != std::string::npos);
  CHECK(all.find("BBBB") == std::string::npos);
  // The detail pane: the focused task's history and state.
  CHECK(all.find("id 01JOFFER00000000000000AAAA") != std::string::npos);
  CHECK(all.find("created  ") != std::string::npos);
  (void)m.key('/');
  type(m, "all");
  (void)m.key(tui::kEnter);
  CHECK(text(m.frame(80, 24)).find("BBBB") != std::string::npos);
}

TEST_CASE("tui model: a queued change is marked * until the server confirms it") {
  tui::Model m;
  auto s = snapshot();
  s.pending.insert("01JHELD000000000000000BBBB");
  s.link.link = tui::Link::offline;
  s.link.offline_since = kNow - 120000;
  s.link.waiting = 1;
  m.update(s);
  auto f = m.frame(80, 24);
  CHECK(f.lines[3].text.find("* ") != std::string::npos);
  CHECK(text(f).find("* not yet confirmed by the server") != std::string::npos);
  CHECK(f.lines.back().text.find("offline since ") != std::string::npos);
  CHECK(f.lines.back().text.find("1 op waiting") != std::string::npos);
  s.pending.clear();
  s.link.link = tui::Link::online;
  s.link.waiting = 0;
  m.update(s);
  f = m.frame(80, 24);
  CHECK(text(f).find("not yet confirmed") == std::string::npos);
}

TEST_CASE("tui model: the bell rings for a new offer or escalation, not for what was there at the start") {
  tui::Model m;
  auto s = snapshot();
  CHECK_FALSE(m.update(s));
  CHECK_FALSE(m.update(s));
  auto next = s;
  next.inbox.push_back(domain::InboxItem{"offer", "01JNEW0000000000000000EEEE", "新的", kYili, format_utc(kNow + 300000),
                                         "muster task accept 01JNEW0000000000000000EEEE", format_utc(kNow), "", "", {}});
  CHECK(m.update(next));
  CHECK_FALSE(m.update(next));
  // The next escalation stage of the same task rings again.
  next.inbox[2].detail = "unaccepted:2";
  CHECK(m.update(next));
}

TEST_CASE("tui model: compose sends the form's fields for the command line's checks; a lead starts on a task") {
  tui::Model m;
  m.update(snapshot("lin", {domain::Role::lead}));
  (void)m.key('n');
  CHECK(m.screen() == tui::Screen::compose);
  (void)m.key(tui::kDown);  // from Kind to Title
  (void)m.key(tui::kEnter);
  type(m, "代买 感冒药");
  (void)m.key(tui::kEnter);  // title set, focus on Area
  for (int i = 0; i < 10; ++i) (void)m.key(tui::kDown);
  auto a = m.key(tui::kEnter);
  CHECK(a.kind == tui::Action::Kind::queue);
  CHECK(a.op_kind == "task.create");
  CHECK(a.body["title"] == "代买 感冒药");
  CHECK(a.body["kind"] == "errand");
  CHECK(a.body["area"] == kYili);
  // A volunteer's compose is a message.
  tui::Model v;
  v.update(snapshot());
  (void)v.key('n');
  CHECK(text(v.frame(80, 24)).find("New message") != std::string::npos);
}

TEST_CASE("tui model: head-count bars per building; the roster marks a lead's gaps in the next 24 h") {
  auto s = snapshot("lin", {domain::Role::lead});
  domain::Round r;
  r.id = "01JROUND000000000000000FFF";
  r.area = kYili;
  r.title = "全员核酸 第3轮";
  r.opened_at = format_utc(kNow - 3600000);
  r.expected = {{kYili + "/b3", 10}, {kYili + "/b5", 4}};
  r.tallies[kYili + "/b3"] = domain::Round::Tally{5, 12};
  r.tallies[kYili + "/b5"] = domain::Round::Tally{4, 9};
  s.state.headcount.rounds[r.id] = r;
  domain::Shift gap;
  gap.id = "01JSHIFT000000000000000GGG";
  gap.post = "north gate";
  gap.area = kYili;
  gap.start = kNow + 3600000;
  gap.end = kNow + 7 * 3600000;
  gap.seats = 2;
  gap.signups.push_back(domain::Signup{"lin", format_utc(kNow), "", false, ""});
  s.state.shifts[gap.id] = gap;
  for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
    tui::Model m;
    m.update(s);
    m.show(tui::Screen::headcount);
    auto f = m.frame(w, h);
    check_frame(f, w, h);
    const std::string hc = text(f);
    CHECK_MESSAGE(hc.find("全员核酸 第3轮") != std::string::npos, hc);
    CHECK_MESSAGE(hc.find("9/14 counted, 21 people") != std::string::npos, hc);
    CHECK(hc.find("5/10") != std::string::npos);
    CHECK(hc.find("█") != std::string::npos);
    CHECK(hc.find("░") != std::string::npos);
    m.show(tui::Screen::roster);
    const std::string roster = text(m.frame(w, h));
    CHECK_MESSAGE(roster.find("north gate") != std::string::npos, roster);
    CHECK_MESSAGE(roster.find("GAP 1") != std::string::npos, roster);
    CHECK_MESSAGE(roster.find("signed up") != std::string::npos, roster);
  }
}

TEST_CASE("tui model: the hotline form never shows the notes, only how long they are") {
  tui::Model m;
  m.update(snapshot("hu", {domain::Role::hotline}));
  m.show(tui::Screen::hotline);
  // Down to Notes (started, minutes, category, risk, area, notes).
  for (int i = 0; i < 4; ++i) (void)m.key(tui::kDown);
  (void)m.key(tui::kEnter);
  type(m, "来电者情绪低落");
  CHECK(text(m.frame(80, 24)).find("情绪") == std::string::npos);  // the prompt shows stars
  (void)m.key(tui::kEnter);
  const std::string shown = text(m.frame(80, 24));
  CHECK(shown.find("情绪") == std::string::npos);
  CHECK_MESSAGE(shown.find("(14 columns typed)") != std::string::npos, shown);
  for (int i = 0; i < 3; ++i) (void)m.key(tui::kDown);
  auto a = m.key(tui::kEnter);
  CHECK(a.op_kind == "hotline.log");
  CHECK(a.body["notes"] == "来电者情绪低落");
  CHECK(a.what.find("情绪") == std::string::npos);
}

TEST_CASE("tui model: the focus follows its item when the list changes under it") {
  tui::Model m;
  auto s = snapshot();
  m.update(s);
  (void)m.key(tui::kDown);  // the held task, second
  // A new offer arrives first: the focus stays on the held task, now third.
  s.inbox.insert(s.inbox.begin(), domain::InboxItem{"offer", "01JNEW0000000000000000EEEE", "新的", kYili,
                                                    format_utc(kNow + 300000), "", format_utc(kNow), "", "", {}});
  m.update(s);
  CHECK(m.key('s').body["task"] == "01JHELD000000000000000BBBB");
}

TEST_CASE("tui model: when the list shrinks under the focus, keys act on the last item, as drawn") {
  tui::Model m;
  auto s = snapshot();
  m.update(s);
  (void)m.key(tui::kEnd);  // the escalation, third
  s.inbox.resize(2);       // settled elsewhere
  m.update(s);
  CHECK(m.frame(80, 24).lines[3].style == tui::Style::focus);
  CHECK(m.key('s').body["task"] == "01JHELD000000000000000BBBB");
}

TEST_CASE("tui model: people are shown as 王芳 (wang) wherever they appear; columns stay aligned") {
  const muster::client::People people(std::map<std::string, std::string>{{"wang", "王芳"}, {"lin", "林组长"}});
  for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
    auto s = snapshot("wang");
    s.people = people;
    tui::Model m;
    m.update(s);
    // The status bar names this user.
    const std::string status = m.frame(w, h).lines.back().text;
    if (w >= 120) {
      CHECK_MESSAGE(status.find(" 王芳 (wang) · online") == 0, status);
    } else {
      // No room for both the display name and the help hint: the user name alone.
      CHECK_MESSAGE(status.find(" wang · online") == 0, status);
    }
    CHECK_MESSAGE(status.find("? help  q quit") != std::string::npos, status);

    // Tasks: the holder column, "王芳 (wang)" and "→王芳 (wang)", and every title starting
    // where the header's TITLE does.
    m.show(tui::Screen::tasks);
    auto f = m.frame(w, h);
    check_frame(f, w, h);
    const std::string all = text(f);
    CHECK_MESSAGE(all.find("→王芳 (wang)") != std::string::npos, all);
    const auto& header = f.lines[2].text;
    const std::size_t holder = column_of(header, "HOLDER"), title = column_of(header, "TITLE");
    REQUIRE(title != std::string::npos);
    int rows = 0;
    for (std::size_t i = 3; i < f.lines.size(); ++i) {
      const auto& line = f.lines[i].text;
      if (line.rfind(" 00", 0) != 0) continue;  // a task's row starts with its short id
      for (const auto& t : kTitles) {
        if (line.find(t) == std::string::npos) continue;
        ++rows;
        CHECK_MESSAGE(column_of(line, t) == title, line);
        if (line.find("王芳") != std::string::npos) {
          const std::size_t at = column_of(line, line.find("→王芳") != std::string::npos ? "→王芳" : "王芳");
          CHECK_MESSAGE(at == holder, line);
        }
      }
    }
    CHECK(rows == 3);
    // The detail pane of the focused task: who holds it or was offered it, who made it.
    CHECK_MESSAGE(all.find("held by 王芳 (wang)") != std::string::npos, all);
    CHECK_MESSAGE(all.find("created  ") != std::string::npos, all);
    CHECK_MESSAGE(all.find(" by 林组长 (lin)") != std::string::npos, all);
    (void)m.key(tui::kDown);
    const std::string offered = text(m.frame(w, h));
    CHECK_MESSAGE(offered.find("offered to 王芳 (wang) until") != std::string::npos, offered);
  }
}

TEST_CASE("tui model: notices show their author and a roll-up its missing people by display name") {
  const muster::client::People people(std::map<std::string, std::string>{{"wang", "王芳"}, {"lin", "林组长"}});
  for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
    auto s = snapshot("lin", {domain::Role::lead});
    s.people = people;
    domain::Notice mine;
    mine.id = "01JNOTICE0000000000000EEEE";
    mine.area = kYili;
    mine.text = "下午停水";
    mine.author = "wang";
    mine.posted_at = format_utc(kNow - 1800000);
    s.state.notices[mine.id] = mine;
    // The same roll-up for either notice: whichever has the focus shows it.
    const domain::Json rollup{
        {"recipients", 2},
        {"acked", 1},
        {"by_area", {{{"area", kYili + "/b3"}, {"recipients", 2}, {"acked", 1}, {"missing", {"wang"}}}}}};
    s.rollups["01JNOTICE0000000000000DDDD"] = rollup;
    s.rollups[mine.id] = rollup;
    tui::Model m;
    m.update(s);
    m.show(tui::Screen::notices);
    auto f = m.frame(w, h);
    check_frame(f, w, h);
    // Both authors' names, and the notices' texts in one column after them.
    std::size_t lin_row = 0, wang_row = 0;
    for (std::size_t i = 0; i < f.lines.size(); ++i) {
      if (f.lines[i].text.find("林组长 (lin)") != std::string::npos && f.lines[i].text.find("明早8点") != std::string::npos) {
        lin_row = i;
      }
      if (f.lines[i].text.find("王芳 (wang)") != std::string::npos && f.lines[i].text.find("下午停水") != std::string::npos) {
        wang_row = i;
      }
    }
    REQUIRE_MESSAGE(lin_row != 0, text(f));
    REQUIRE_MESSAGE(wang_row != 0, text(f));
    CHECK(column_of(f.lines[lin_row].text, "林组长") == column_of(f.lines[wang_row].text, "王芳"));
    CHECK(column_of(f.lines[lin_row].text, "明早8点") == column_of(f.lines[wang_row].text, "下午停水"));
    // The focused notice's roll-up names who has not acknowledged yet.
    const std::string all = text(f);
    CHECK_MESSAGE(all.find("acknowledged 1/2") != std::string::npos, all);
    CHECK_MESSAGE(all.find("1/2     王芳 (wang)") != std::string::npos, all);
  }
}

TEST_CASE("people: display name beside the user name; a user without one, or a bad store, by user name") {
  const auto p = muster::client::People::from_json(R"({"wang":"王芳","li":"李强","chen":"chen","lin":""})");
  CHECK(p.person("wang") == "王芳 (wang)");
  CHECK(p.person("li") == "李强 (li)");
  CHECK(p.person("chen") == "chen");  // the same as the user name: said once
  CHECK(p.person("lin") == "lin");    // empty: none
  CHECK(p.person("zhao") == "zhao");
  CHECK(p.person("area:gulou/antai") == "area:gulou/antai");
  CHECK(muster::client::People::from_json("").person("wang") == "wang");
  CHECK(muster::client::People::from_json("[1,2]").person("wang") == "wang");
  CHECK(muster::client::People::from_json(R"({"wang":7})").person("wang") == "wang");
}

TEST_CASE("tui model: a message in the inbox says who wrote it; the roster who signed up, as far as fits") {
  const muster::client::People people(std::map<std::string, std::string>{{"wang", "王芳"}, {"lin", "林组长"}});
  auto s = snapshot("lin", {domain::Role::lead});
  s.people = people;
  domain::Message msg;
  msg.id = "01JMSG00000000000000000HHH";
  msg.from = "wang";
  msg.to = "lin";
  msg.text = "白菜已送到3栋502";
  msg.sent_at = format_utc(kNow - 5000);
  s.state.messages[msg.id] = msg;
  s.inbox.push_back(domain::InboxItem{"message", msg.id, msg.text, "", "", "muster msg list", msg.sent_at, "",
                                      "from wang", {}});
  domain::Shift gate;
  gate.id = "01JSHIFT000000000000000GGG";
  gate.post = "north gate";
  gate.area = kYili;
  gate.start = kNow + 3600000;
  gate.end = kNow + 7 * 3600000;
  gate.seats = 3;
  gate.signups.push_back(domain::Signup{"wang", format_utc(kNow), "", false, ""});
  gate.signups.push_back(domain::Signup{"lin", format_utc(kNow), "", false, ""});
  s.state.shifts[gate.id] = gate;
  for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
    tui::Model m;
    m.update(s);
    auto f = m.frame(w, h);
    check_frame(f, w, h);
    const std::string inbox = text(f);
    CHECK_MESSAGE(inbox.find("王芳 (wang): 白菜已送到3栋502") != std::string::npos, inbox);
    m.show(tui::Screen::roster);
    f = m.frame(w, h);
    check_frame(f, w, h);
    const std::string roster = text(f);
    CHECK_MESSAGE(roster.find("GAP 1") != std::string::npos, roster);
    if (w >= 120) {
      CHECK_MESSAGE(roster.find("王芳 (wang) 林组长 (lin)") != std::string::npos, roster);
    } else {
      // No room for a whole name beside the post and area: a mark that there are some.
      CHECK_MESSAGE(roster.find("GAP 1       …") != std::string::npos, roster);
      CHECK(roster.find("(wa") == std::string::npos);
    }
  }
}
