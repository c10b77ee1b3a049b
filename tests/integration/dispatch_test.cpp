// Issue "Dispatch engine and shift roster" at process level: the real musterd and
// muster on 127.0.0.1, the way a lead and volunteers use them. The server's time comes
// from a clock file (`musterd serve --clock-file F`), so minutes and hours pass by
// writing the file: the server re-reads it within 100 ms and its housekeeping runs the
// timers every second, so every wait here is bounded by ~10 s and no test sleeps long.
// Exact counts of what the server made on its own are read from its log.db.
//
//   1. offer dispatch: fewest active tasks first, decline and time-out move the offer on,
//      a late accept is a conflict naming the new offeree; area and skill are honoured
//   2. nobody left: the lead receives task.escalated (live, in `muster watch`)
//   3. the last seat of a shift, taken by two volunteers offline: one wins
//   4. `roster gaps --json`, exactly, with a shift crossing midnight and an early check-out
//   5. a shift reminder is delivered once per volunteer, across a restart and to a client
//      that was offline when it was made
//   6. a notice to three buildings: exact roll-up, re-sent to the one missing, escalated
//      to her building's lead only
//   7. `musterd policy` and a policy.json with a typo

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "muster/store/sqlite.hpp"
#include "muster_fixture.hpp"
#include "test_clock.hpp"

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::contains;
using mt::describe;
using mt::parse_json;
using mt::run_json;
using mt::sync;

using mt::ClockFile;
using mt::kDay;
using mt::kHour;
using mt::kMinute;
using mt::kSecond;
using mt::kShanghai;
using mt::Ms;
using mt::real_now;
using mt::round_hour_ahead;
using mt::shanghai_input;
using mt::shanghai_midnight;
using mt::shanghai_short;
using mt::shanghai_text;
using mt::utc_text;

const std::string kYili = "gulou/antai/yili";

// Long enough for the server to have re-read the clock file (100 ms) and run its
// timers (every second) at least once since: for checks that something did NOT happen.
void let_timers_run() { std::this_thread::sleep_for(1500ms); }
// Long enough for the next op to be decided at the clock file's new time.
void let_clock_reread() { std::this_thread::sleep_for(300ms); }

// One row of the server's log.db `events` table.
struct Logged {
  std::string scope;
  json frame;  // the event frame: kind, actor, body, ...
  json body() const { return frame.value("body", json::object()); }
};

// The events of `kind` in the server's log, in gseq order (read-only; the server may be running).
std::vector<Logged> logged(const mt::ServerFixture& server, const std::string& kind) {
  muster::store::OpenOptions options;
  options.read_only = true;
  auto db = muster::store::Db::open(server.data_dir() + "/log.db", options);
  auto s = db.prepare("SELECT scope, frame FROM events WHERE kind = ?1 ORDER BY gseq");
  s.bind(1, kind);
  std::vector<Logged> out;
  while (s.step()) out.push_back({s.text(0), json::parse(s.text(1))});
  return out;
}

std::vector<std::string> scopes_of(const std::vector<Logged>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.scope);
  return out;
}

// Waits (10 s at most) until the log holds at least n events of `kind`; then the caller
// checks the exact count.
bool wait_logged(const mt::ServerFixture& server, const std::string& kind, std::size_t n) {
  return mt::wait_until([&] { return logged(server, kind).size() >= n; }, 10s, 100ms);
}

// A changing command that must be queued; its id.
std::string queued(mt::ClientFixture& c, std::vector<std::string> args) {
  auto r = c.run(args);
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  CHECK(contains(r.out, "queued"));
  return mt::queued_id(r);
}

// The events a client receives in `muster watch --timeout S` (replay of what it missed,
// then live), those of `kind` only unless kind is empty.
std::vector<json> watch(mt::ClientFixture& c, const std::string& kind, const std::string& seconds = "1.5") {
  auto r = c.run({"watch", "--timeout", seconds});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  std::vector<json> out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), ("watch printed a line that is not JSON: " + line));
    if (kind.empty() || j.value("kind", "") == kind) out.push_back(std::move(j));
  }
  return out;
}

std::vector<std::string> signup_names(const json& shift) {
  std::vector<std::string> out;
  for (const auto& s : shift["signups"]) out.push_back(s["user"].get<std::string>());
  return out;
}

// The one shift with this id in `roster list --json`.
json shift_in(mt::ClientFixture& c, const std::string& id) {
  auto list = run_json(c, {"roster", "list"});
  for (const auto& s : list) {
    if (s["id"] == id) return s;
  }
  FAIL("shift " << id << " not in " << list.dump());
  return {};
}

// The line of `muster task list` (text) that shows task `id`.
std::string task_line(mt::ClientFixture& c, const std::string& id) {
  auto r = c.run({"task", "list"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(id, 0) == 0) return line;
  }
  FAIL("task " << id << " not in:\n" << r.out);
  return {};
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("dispatch: an errand is offered to the least busy volunteer, moves on at a decline and a time-out") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("bob", "volunteer", kYili);
    server.add_user("carol", "volunteer", kYili);
    server.add_user("dan", "volunteer", kYili);
    server.add_user("dave", "volunteer", "gulou/gaolou");  // a sibling compound
    auto skills = server.admin({"user", "skills", "bob", "driver"});
    REQUIRE_MESSAGE(skills.code == 0, describe(skills));
    const Ms t0 = round_hour_ahead(24);
    ClockFile clock(t0);
    server.start(clock.serve_args());

    mt::ClientFixture lead("lin"), bob("bob"), carol("carol"), dan("dan"), dave("dave");
    lead.login(server, "lin");
    bob.login(server, "bob");
    carol.login(server, "carol");
    dan.login(server, "dan");
    dave.login(server, "dave");

    // bob holds two tasks, carol one, dan none.
    std::vector<std::string> busy;
    for (int i = 0; i < 3; ++i) {
      busy.push_back(queued(lead, {"task", "new", "generic", "--title", "搬运物资 " + std::to_string(i), "--area", kYili,
                                   "--dispatch", "claim"}));
    }
    REQUIRE(sync(lead, "lin") == 0);
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(sync(carol, "carol") == 0);
    queued(bob, {"task", "claim", busy[0]});
    queued(bob, {"task", "claim", busy[1]});
    queued(carol, {"task", "claim", busy[2]});
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(sync(carol, "carol") == 0);

    // A driver's errand goes to bob although he is the busiest: the only driver. When he
    // declines, nobody else qualifies and the lead hears of it.
    const std::string drive = queued(lead, {"task", "new", "errand", "--title", "送药 需开车", "--area", kYili,
                                            "--skill", "driver"});
    REQUIRE(sync(lead, "lin") == 0);
    REQUIRE(sync(bob, "bob") == 0);
    auto d = run_json(bob, {"task", "show", drive});
    CHECK(d["state"] == "offered");
    CHECK(d["dispatch"] == "offer");
    CHECK(d["skill"] == "driver");
    CHECK(d["offered_to"] == "bob");
    queued(bob, {"task", "decline", drive});
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(sync(lead, "lin") == 0);
    d = run_json(lead, {"task", "show", drive});
    CHECK(d["state"] == "open");
    CHECK(d["offered"] == json::array({"bob"}));
    CHECK(d["escalated"] == json::array({"no_candidate"}));

    // The errand: no --dispatch, the default policy offers errands.
    const std::string errand =
        queued(lead, {"task", "new", "errand", "--title", "代买 白菜2斤 鸡蛋10个", "--area", kYili, "--detail",
                      "address=3栋502"});
    REQUIRE(sync(lead, "lin") == 0);
    for (auto* c : {&bob, &carol, &dan}) REQUIRE(sync(*c, "volunteer") == 0);

    auto t = run_json(dan, {"task", "show", errand});
    CHECK(t["state"] == "offered");
    CHECK(t["dispatch"] == "offer");
    CHECK(t["offered_to"] == "dan");
    CHECK(t["offer_expires"] == utc_text(t0 + 5 * kMinute));
    CHECK(t["assignee"] == "");
    CHECK(run_json(bob, {"task", "show", errand})["offered_to"] == "dan");
    // Only the offeree may accept.
    auto steal = bob.run({"task", "accept", errand});
    CHECK_MESSAGE(steal.code == 2, describe(steal));
    CHECK_MESSAGE(contains(steal.err, "conflict"), describe(steal));

    // dan declines: carol has fewer tasks than bob.
    queued(dan, {"task", "decline", errand});
    REQUIRE(sync(dan, "dan") == 0);
    REQUIRE(sync(carol, "carol") == 0);
    t = run_json(carol, {"task", "show", errand});
    CHECK(t["state"] == "offered");
    CHECK(t["offered_to"] == "carol");
    CHECK(t["offered"] == json::array({"dan", "carol"}));

    // The offer waits its five minutes...
    clock.set(t0 + 5 * kMinute - kSecond);
    let_timers_run();
    CHECK(logged(server, "task.offer_expired").empty());
    // ...then moves on to bob, with nobody doing anything.
    clock.set(t0 + 5 * kMinute + kSecond);
    REQUIRE(wait_logged(server, "task.offer_expired", 1));
    const auto expired = logged(server, "task.offer_expired");
    REQUIRE(expired.size() == 1);
    CHECK(expired[0].body()["task"] == errand);
    CHECK(expired[0].body()["to"] == "carol");
    REQUIRE(sync(bob, "bob") == 0);
    t = run_json(bob, {"task", "show", errand});
    CHECK(t["state"] == "offered");
    CHECK(t["offered_to"] == "bob");
    CHECK(t["offer_expires"] == utc_text(t0 + 10 * kMinute + kSecond));

    // carol, who has not synced since, still sees it offered to her and accepts offline:
    // queued, and rejected on sync with a conflict naming bob; her view rolls back.
    CHECK(run_json(carol, {"task", "show", errand})["offered_to"] == "carol");
    queued(carol, {"task", "accept", errand});
    auto late = carol.run({"sync", "--timeout", "15"});
    CHECK_MESSAGE(late.code == 2, describe(late));
    CHECK_MESSAGE(contains(late.out + late.err, "conflict"), describe(late));
    CHECK_MESSAGE(contains(late.out + late.err, "offered to bob"), describe(late));
    t = run_json(carol, {"task", "show", errand});
    CHECK(t["state"] == "offered");
    CHECK(t["offered_to"] == "bob");
    CHECK(t["assignee"] == "");
    CHECK(t["pending"] == false);

    // bob accepts; the lead's task list shows him holding it since then (local time).
    queued(bob, {"task", "accept", errand});
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(sync(lead, "lin") == 0);
    const std::string row = task_line(lead, errand);
    CHECK_MESSAGE(contains(row, "accepted"), row);
    CHECK_MESSAGE(contains(row, " bob "), row);
    CHECK_MESSAGE(contains(row, shanghai_short(t0 + 5 * kMinute + kSecond)), row);
    CHECK_MESSAGE(contains(task_line(lead, busy[0]), " bob "), task_line(lead, busy[0]));

    queued(bob, {"task", "start", errand});
    queued(bob, {"task", "done", errand, "--note", "已送到"});
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(sync(lead, "lin") == 0);
    t = run_json(lead, {"task", "show", errand});
    CHECK(t["state"] == "done");
    CHECK(t["assignee"] == "bob");
    CHECK(t["offered_to"] == "");
    CHECK(t["note"] == "已送到");
    CHECK(t["offered"] == json::array({"dan", "carol", "bob"}));
    CHECK(t["escalated"] == json::array());

    // Every offer the server made, in order; dave, outside the area, was never asked
    // and never even sees the errand.
    std::vector<std::string> offers;
    for (const auto& e : logged(server, "task.offered")) {
      offers.push_back(e.body()["task"].get<std::string>() == drive ? "drive:" + e.body()["to"].get<std::string>()
                                                                   : e.body()["to"].get<std::string>());
      CHECK(e.scope == "area:" + kYili);
    }
    CHECK(offers == std::vector<std::string>{"drive:bob", "dan", "carol", "bob"});
    REQUIRE(sync(dave, "dave") == 0);
    CHECK(run_json(dave, {"task", "list"}) == json::array());
    // The only escalation is the driver's errand's, to the lead.
    const auto escalated = logged(server, "task.escalated");
    REQUIRE(escalated.size() == 1);
    CHECK(escalated[0].scope == "user:lin");
    CHECK(escalated[0].body()["task"] == drive);
  }

  TEST_CASE("dispatch: when every volunteer has declined, the lead receives task.escalated live") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("amy", "volunteer", kYili);
    server.add_user("ben", "volunteer", kYili);
    server.add_user("dave", "volunteer", "gulou/gaolou");
    const Ms t0 = round_hour_ahead(24);
    ClockFile clock(t0);
    server.start(clock.serve_args());

    mt::ClientFixture lead("lin"), amy("amy"), ben("ben");
    lead.login(server, "lin");
    amy.login(server, "amy");
    ben.login(server, "ben");

    const std::string errand = queued(lead, {"task", "new", "errand", "--title", "代买 米5斤", "--area", kYili});
    REQUIRE(sync(lead, "lin") == 0);

    // The lead's terminal watches live from here on.
    mt::Process watching({mt::binary_path("muster"), "--home", lead.home(), "watch", "--timeout", "30"});
    auto escalations = [&] {
      std::vector<json> out;
      std::istringstream in(watching.out());
      std::string line;
      while (std::getline(in, line)) {
        auto j = json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("kind", "") == "task.escalated") out.push_back(j);
      }
      return out;
    };

    REQUIRE(sync(amy, "amy") == 0);
    CHECK(run_json(amy, {"task", "show", errand})["offered_to"] == "amy");  // equal load: by name
    queued(amy, {"task", "decline", errand});
    REQUIRE(sync(amy, "amy") == 0);
    REQUIRE(sync(ben, "ben") == 0);
    CHECK(run_json(ben, {"task", "show", errand})["offered_to"] == "ben");
    CHECK(escalations().empty());
    queued(ben, {"task", "decline", errand});
    REQUIRE(sync(ben, "ben") == 0);

    REQUIRE_MESSAGE(mt::wait_until([&] { return !escalations().empty(); }, 10s, 50ms), watching.out());
    auto got = escalations();
    REQUIRE(got.size() == 1);
    CHECK(got[0]["scope"] == "user:lin");
    CHECK(got[0]["actor"] == "musterd");
    CHECK(got[0]["body"]["task"] == errand);
    CHECK(got[0]["body"]["stage"] == "no_candidate");
    CHECK(got[0]["body"]["offered"] == json::array({"amy", "ben"}));

    // Still nobody takes it: 30 minutes after creation the first escalation step
    // reaches the lead too, made by the server's timers and delivered live.
    clock.set(t0 + 30 * kMinute);
    REQUIRE_MESSAGE(mt::wait_until([&] { return escalations().size() >= 2; }, 10s, 50ms), watching.out());
    got = escalations();
    REQUIRE(got.size() == 2);
    CHECK(got[1]["scope"] == "user:lin");
    CHECK(got[1]["body"]["stage"] == "unaccepted:1");
    watching.terminate(5s);

    REQUIRE(sync(lead, "lin") == 0);
    auto t = run_json(lead, {"task", "show", errand});
    CHECK(t["state"] == "open");
    CHECK(t["offered_to"] == "");
    CHECK(t["offered"] == json::array({"amy", "ben"}));
    CHECK(t["escalated"] == json::array({"no_candidate", "unaccepted:1"}));
    // Only the lead was told, once per stage.
    CHECK(scopes_of(logged(server, "task.escalated")) == std::vector<std::string>{"user:lin", "user:lin"});
    CHECK(watch(amy, "task.escalated").empty());
  }

  TEST_CASE("dispatch: two volunteers take the last seat of a shift offline; the first to sync wins") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("amy", "volunteer", kYili);
    server.add_user("ben", "volunteer", kYili);
    server.add_user("cai", "volunteer", kYili);
    server.start();

    mt::ClientFixture lead("lin"), amy("amy"), ben("ben"), cai("cai");
    lead.login(server, "lin");
    amy.login(server, "amy");
    ben.login(server, "ben");
    cai.login(server, "cai");

    const Ms start = shanghai_midnight(real_now() + 2 * kDay) + 8 * kHour;  // 08:00 the day after tomorrow
    auto added = lead.run({"roster", "add", "--post", "north gate", "--area", kYili, "--start", shanghai_input(start),
                           "--end", shanghai_input(start + 8 * kHour), "--seats", "2"});
    REQUIRE_MESSAGE(added.code == 0, describe(added));
    const std::string shift = mt::queued_id(added);
    REQUIRE(sync(lead, "lin") == 0);

    REQUIRE(sync(amy, "amy") == 0);
    queued(amy, {"roster", "signup", shift});
    REQUIRE(sync(amy, "amy") == 0);
    for (auto* c : {&ben, &cai}) {
      REQUIRE(sync(*c, "volunteer") == 0);
      auto s = shift_in(*c, shift);
      CHECK(s["free"] == 1);
      CHECK(s["start"] == shanghai_text(start));
    }

    server.stop();
    for (auto [c, name] : {std::pair{&ben, "ben"}, std::pair{&cai, "cai"}}) {
      auto r = c->run({"roster", "signup", shift});
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      CHECK(contains(r.out, "queued"));
      auto s = shift_in(*c, shift);
      CHECK(signup_names(s) == std::vector<std::string>{"amy", name});
      CHECK(s["pending"] == true);
    }

    server.start();
    REQUIRE(sync(ben, "ben") == 0);
    auto lost = cai.run({"sync", "--timeout", "15"});
    CHECK_MESSAGE(lost.code == 2, describe(lost));
    CHECK_MESSAGE(contains(lost.out + lost.err, "conflict"), describe(lost));
    CHECK_MESSAGE(contains(lost.out + lost.err, "shift full: 2/2 seats taken by amy, ben"), describe(lost));

    REQUIRE(sync(lead, "lin") == 0);
    for (auto* c : {&ben, &cai, &lead}) {
      auto s = shift_in(*c, shift);
      CHECK(signup_names(s) == std::vector<std::string>{"amy", "ben"});
      CHECK(s["free"] == 0);
      CHECK(s["pending"] == false);
    }
    CHECK(run_json(cai, {"status"})["pending"] == 0);
    CHECK(logged(server, "shift.signed_up").size() == 2);
  }

  TEST_CASE("dispatch: roster gaps, exactly, with a shift crossing midnight and an early check-out") {
    mt::ServerFixture server;
    server.add_user("li", "lead", "gulou");
    server.add_user("bob", "volunteer", kYili);
    server.add_user("carol", "volunteer", kYili);
    server.add_user("dan", "volunteer", kYili);
    auto gaolou = server.admin({"area", "add", "gulou/gaolou"});
    REQUIRE_MESSAGE(gaolou.code == 0, describe(gaolou));
    // The server's time is the next full hour; carol's shift has begun by then, so she
    // can check in (the client checks that against the real time, which is at most an
    // hour earlier) and check out early.
    const Ms h = round_hour_ahead(0);
    ClockFile clock(h);
    server.start(clock.serve_args());

    mt::ClientFixture lead("li"), bob("bob"), carol("carol"), dan("dan");
    lead.login(server, "li");
    bob.login(server, "bob");
    carol.login(server, "carol");
    dan.login(server, "dan");

    // d: midnight (Shanghai) of the day after the server's day.
    const Ms d = shanghai_midnight(h + kDay);
    auto add = [&](const std::string& post, const std::string& area, const std::string& start, const std::string& end,
                   int seats) {
      return queued(lead, {"roster", "add", "--post", post, "--area", area, "--start", start, "--end", end, "--seats",
                           std::to_string(seats)});
    };
    // Now until early tomorrow, in UTC: two seats, carol leaves after 30 minutes.
    const std::string early = add("north gate", kYili, utc_text(h - kHour), utc_text(h + 7 * kHour), 2);
    // Crossing midnight, in Shanghai local time: three seats, one taken.
    const std::string night =
        add("south gate", kYili, shanghai_input(d + 22 * kHour), shanghai_input(d + kDay + 6 * kHour), 3);
    // Fully covered.
    const std::string covered = add("north gate", kYili, shanghai_input(d + 14 * kHour), shanghai_input(d + 22 * kHour), 1);
    // Nobody yet; runs past the end of the range asked for.
    const std::string morning =
        add("north gate", kYili, shanghai_input(d + kDay + 8 * kHour), shanghai_input(d + kDay + 16 * kHour), 1);
    // Outside the range, and outside the area.
    add("north gate", kYili, shanghai_input(d + 2 * kDay + 8 * kHour), shanghai_input(d + 2 * kDay + 16 * kHour), 1);
    add("east gate", "gulou/gaolou", shanghai_input(d + 14 * kHour), shanghai_input(d + 22 * kHour), 2);
    REQUIRE(sync(lead, "li") == 0);

    for (auto* c : {&bob, &carol, &dan}) REQUIRE(sync(*c, "volunteer") == 0);
    queued(bob, {"roster", "signup", early});
    queued(carol, {"roster", "signup", early});
    queued(dan, {"roster", "signup", night});
    queued(dan, {"roster", "signup", covered});
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(sync(dan, "dan") == 0);
    REQUIRE(sync(carol, "carol") == 0);
    queued(carol, {"roster", "checkin", early});
    REQUIRE(sync(carol, "carol") == 0);
    clock.set(h + 30 * kMinute);
    let_clock_reread();
    queued(carol, {"roster", "checkout", early});
    REQUIRE(sync(carol, "carol") == 0);
    REQUIRE(sync(lead, "li") == 0);

    // Local times given without an offset were read in Asia/Shanghai: the server holds UTC.
    int found = 0;
    for (const auto& e : logged(server, "shift.added")) {
      if (e.body()["id"] != night) continue;
      ++found;
      const std::string start = e.body()["start"], end = e.body()["end"];
      CHECK(start == utc_text(d + 22 * kHour));
      CHECK(start.substr(10) == "T14:00:00Z");
      CHECK(end == utc_text(d + kDay + 6 * kHour));
      CHECK(end.substr(10) == "T22:00:00Z");
    }
    CHECK(found == 1);
    auto s = shift_in(lead, early);
    CHECK(s["signups"][1]["user"] == "carol");
    CHECK(s["signups"][1]["checkin_at"] == utc_text(h));
    CHECK(s["signups"][1]["late"] == true);
    CHECK(s["signups"][1]["checkout_at"] == utc_text(h + 30 * kMinute));

    const std::string from = shanghai_input(h - 2 * kHour);
    const std::string to = shanghai_input(d + kDay + 10 * kHour);
    auto gaps = run_json(lead, {"roster", "gaps", "--area", kYili, "--from", from, "--to", to});
    const json expected = json::array({
        {{"shift", early}, {"post", "north gate"}, {"area", kYili}, {"from", shanghai_text(h + 30 * kMinute)},
         {"to", shanghai_text(h + 7 * kHour)}, {"missing", 1}},
        {{"shift", night}, {"post", "south gate"}, {"area", kYili}, {"from", shanghai_text(d + 22 * kHour)},
         {"to", shanghai_text(d + kDay + 6 * kHour)}, {"missing", 2}},
        {{"shift", morning}, {"post", "north gate"}, {"area", kYili}, {"from", shanghai_text(d + kDay + 8 * kHour)},
         {"to", shanghai_text(d + kDay + 10 * kHour)}, {"missing", 1}},
    });
    CHECK_MESSAGE(gaps == expected, (gaps.dump(1) + "\nexpected:\n" + expected.dump(1)));
    // The crossing-midnight shift is shown as local times across the date line.
    CHECK(shanghai_text(d + 22 * kHour).substr(11) == "22:00:00+08:00");
    CHECK(shanghai_text(d + kDay + 6 * kHour).substr(11) == "06:00:00+08:00");

    // A volunteer's client sees the same gaps; a range inside the night shift is clipped.
    REQUIRE(sync(bob, "bob") == 0);
    CHECK(run_json(bob, {"roster", "gaps", "--area", kYili, "--from", from, "--to", to}) == gaps);
    auto night_only = run_json(bob, {"roster", "gaps", "--area", kYili, "--from", shanghai_input(d + kDay),
                                     "--to", shanghai_input(d + kDay + 2 * kHour)});
    CHECK(night_only == json::array({{{"shift", night}, {"post", "south gate"}, {"area", kYili},
                                      {"from", shanghai_text(d + kDay)}, {"to", shanghai_text(d + kDay + 2 * kHour)},
                                      {"missing", 2}}}));
  }

  TEST_CASE("dispatch: a shift reminder is delivered once per volunteer, also after a restart to one who was offline") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("xu", "volunteer", kYili);
    server.add_user("yan", "volunteer", kYili);
    const Ms t0 = round_hour_ahead(24);
    ClockFile clock(t0);
    server.start(clock.serve_args());

    mt::ClientFixture lead("lin"), x("xu"), y("yan");
    lead.login(server, "lin");
    x.login(server, "xu");
    y.login(server, "yan");

    const Ms start = t0 + 90 * kMinute;
    const std::string shift = queued(lead, {"roster", "add", "--post", "north gate", "--area", kYili, "--start",
                                            utc_text(start), "--end", utc_text(start + 8 * kHour), "--seats", "2"});
    REQUIRE(sync(lead, "lin") == 0);
    for (auto [c, name] : {std::pair{&x, "xu"}, std::pair{&y, "yan"}}) {
      REQUIRE(sync(*c, name) == 0);
      queued(*c, {"roster", "signup", shift});
      REQUIRE(sync(*c, name) == 0);
    }

    // Not yet: a reminder goes one hour before the start.
    clock.set(start - kHour - kSecond);
    let_timers_run();
    CHECK(logged(server, "shift.reminder").empty());

    // yan stays offline from here on. At start - 1h, each gets one reminder.
    clock.set(start - kHour + kSecond);
    REQUIRE(wait_logged(server, "shift.reminder", 2));
    auto xs = watch(x, "shift.reminder");
    REQUIRE(xs.size() == 1);
    CHECK(xs[0]["scope"] == "user:xu");
    CHECK(xs[0]["body"]["shift"] == shift);
    CHECK(xs[0]["body"]["user"] == "xu");
    CHECK(xs[0]["body"]["start"] == utc_text(start));

    // A restart does not remind anyone again.
    server.stop();
    server.start(clock.serve_args());
    let_timers_run();
    CHECK(watch(x, "shift.reminder").empty());

    // yan comes back later and gets hers, once.
    auto ys = watch(y, "shift.reminder");
    REQUIRE(ys.size() == 1);
    CHECK(ys[0]["scope"] == "user:yan");
    CHECK(ys[0]["body"]["shift"] == shift);
    CHECK(ys[0]["body"]["user"] == "yan");

    // Exactly one per (shift, user) in the server's log, each in the volunteer's inbox.
    const auto reminders = logged(server, "shift.reminder");
    std::multiset<std::string> per_user;
    for (const auto& e : reminders) {
      CHECK(e.body()["shift"] == shift);
      per_user.insert(e.body()["user"].get<std::string>() + "@" + e.scope);
    }
    CHECK(per_user == std::multiset<std::string>{"xu@user:xu", "yan@user:yan"});
    // The shift was added within the gap window (two hours) with both seats free: that
    // gap was escalated to the lead and offered to the free volunteers, once, not again
    // after the restart.
    CHECK(scopes_of(logged(server, "shift.gap")) == std::vector<std::string>{"user:lin"});
    CHECK(scopes_of(logged(server, "shift.gap_offer")) == std::vector<std::string>{"user:xu", "user:yan"});
  }

  TEST_CASE("dispatch: an urgent notice to three buildings rolls up exactly, is re-sent and escalated to the lagging one") {
    mt::ServerFixture server;
    const std::vector<std::string> buildings{"b1", "b2", "b3"};
    // Ten users in one `musterd user import` (one password hash instead of ten).
    std::vector<std::string> people;
    std::string users = "zhou,coordinator," + kYili + ",password123\n";
    for (const auto& b : buildings) {
      for (const std::string& name : {"lead-" + b, b + "-x", b + "-y"}) {
        users += name + "," + (name.rfind("lead-", 0) == 0 ? "lead" : "volunteer") + "," + kYili + "/" + b +
                 ",password123\n";
        people.push_back(name);
      }
    }
    mt::TempDir import_dir("muster-import-");
    const std::string import_file = import_dir.path() + "/users.csv";
    std::ofstream(import_file) << users;
    auto imported = server.admin({"user", "import", import_file, "--create-area"});
    REQUIRE_MESSAGE(imported.code == 0, describe(imported));
    {
      std::ofstream policy(server.data_dir() + "/policy.json");
      policy << R"({"notices": {"resend_after": "10m", "escalate_after": "20m"}})";
    }
    const Ms t0 = round_hour_ahead(24);
    ClockFile clock(t0);
    server.start(clock.serve_args());

    mt::ClientFixture coordinator("zhou");
    coordinator.login(server, "zhou");
    std::map<std::string, std::unique_ptr<mt::ClientFixture>> clients;
    for (const auto& name : people) {
      clients[name] = std::make_unique<mt::ClientFixture>(name);
      clients[name]->login(server, name);
    }

    const std::string notice = queued(coordinator, {"notice", "post", "--area", kYili, "--text", "今晚8点核酸 请确认",
                                                    "--ack", "--priority", "urgent"});
    REQUIRE(sync(coordinator, "zhou") == 0);
    for (const auto& name : people) {
      auto& c = *clients[name];
      REQUIRE(sync(c, name) == 0);
      if (name == "b2-y") continue;
      queued(c, {"notice", "ack", notice});
      REQUIRE(sync(c, name) == 0);
    }

    auto by_building = run_json(coordinator, {"notice", "status", notice, "--by", "building"});
    CHECK(by_building["recipients"] == 9);
    CHECK(by_building["acked"] == 8);
    CHECK(by_building["by_area"] == json::parse(R"([
      {"area":"gulou/antai/yili/b1","recipients":3,"acked":3,"missing":[]},
      {"area":"gulou/antai/yili/b2","recipients":3,"acked":2,"missing":["b2-y"]},
      {"area":"gulou/antai/yili/b3","recipients":3,"acked":3,"missing":[]}])"));
    auto lagging = run_json(coordinator, {"notice", "status", notice, "--by", "area", "--missing"});
    CHECK(lagging["by_area"] ==
          json::parse(R"([{"area":"gulou/antai/yili/b2","recipients":3,"acked":2,"missing":["b2-y"]}])"));
    auto text = coordinator.run({"notice", "status", notice, "--by", "building"});
    CHECK_MESSAGE(contains(text.out, "8/9 acknowledged, 1 missing"), describe(text));

    // policy.json says 10 minutes: the default (30) would not re-send yet.
    clock.set(t0 + 10 * kMinute);
    REQUIRE(wait_logged(server, "notice.resent", 1));
    const auto resent = logged(server, "notice.resent");
    CHECK(scopes_of(resent) == std::vector<std::string>{"user:b2-y"});
    CHECK(resent[0].body()["notice"] == notice);
    CHECK(logged(server, "notice.escalated").empty());
    auto got = watch(*clients["b2-y"], "notice.resent");
    REQUIRE(got.size() == 1);
    CHECK(got[0]["body"]["notice"] == notice);
    auto list = clients["b2-y"]->run({"notice", "list"});
    CHECK_MESSAGE(contains(list.out, "[please acknowledge] [sent again]"), describe(list));

    clock.set(t0 + 20 * kMinute);
    REQUIRE(wait_logged(server, "notice.escalated", 1));
    const auto escalated = logged(server, "notice.escalated");
    CHECK(scopes_of(escalated) == std::vector<std::string>{"user:lead-b2"});
    CHECK(escalated[0].body()["areas"] == json::array({"gulou/antai/yili/b2"}));
    CHECK(escalated[0].body()["missing"] == json::array({"b2-y"}));
    got = watch(*clients["lead-b2"], "notice.escalated");
    REQUIRE(got.size() == 1);
    CHECK(got[0]["body"]["notice"] == notice);
    CHECK(logged(server, "notice.resent").size() == 1);
  }

  TEST_CASE("dispatch: musterd policy prints the defaults; a typo in policy.json stops serve with its name") {
    mt::ServerFixture server;
    auto shown = server.admin({"policy"});
    REQUIRE_MESSAGE(shown.code == 0, describe(shown));
    CHECK(parse_json(shown) == json::parse(R"({
      "limits": {
        "volunteer": {"ops_per_minute": 120, "op_burst": 300, "kib_per_minute": 512, "kib_burst": 1024},
        "lead": {"ops_per_minute": 600, "op_burst": 2000, "kib_per_minute": 2048, "kib_burst": 4096},
        "plugin": {"ops_per_minute": 6000, "op_burst": 5000, "kib_per_minute": 16384, "kib_burst": 16384}},
      "notices": {"escalate_after": "1h", "resend_after": "30m"},
      "roster": {"checkin_early": "2h", "gap_window": "2h", "late_after": "5m", "reminder_before": "1h"},
      "tasks": {
        "default": {"dispatch": "claim", "escalate_after": ["30m", "2h"], "offer_timeout": "5m",
                    "urgent_escalate_after": ["10m", "30m"]},
        "errand": {"dispatch": "offer", "escalate_after": ["30m", "2h"], "offer_timeout": "5m",
                   "urgent_escalate_after": ["10m", "30m"]}},
      "timezone": "Asia/Shanghai"})"));

    // A setting in policy.json shows through.
    {
      std::ofstream policy(server.data_dir() + "/policy.json");
      policy << R"({"tasks": {"errand": {"offer_timeout": "2m"}}, "roster": {"reminder_before": "90m"}})";
    }
    shown = server.admin({"policy"});
    REQUIRE_MESSAGE(shown.code == 0, describe(shown));
    auto p = parse_json(shown);
    CHECK(p["tasks"]["errand"]["offer_timeout"] == "2m");
    CHECK(p["tasks"]["default"]["offer_timeout"] == "5m");
    CHECK(p["roster"]["reminder_before"] == "1h30m");

    // A typo: serve refuses to start and says which key.
    {
      std::ofstream policy(server.data_dir() + "/policy.json", std::ios::trunc);
      policy << R"({"tasks": {"errand": {"offer_timout": "2m"}}})";
    }
    const int port = mt::free_port();
    auto serve = mt::run({mt::binary_path("musterd"), "serve", "--data", server.data_dir(), "--listen",
                          "127.0.0.1:" + std::to_string(port)},
                         {}, std::nullopt, 10s);
    CHECK_MESSAGE(serve.code != 0, describe(serve));
    CHECK_MESSAGE(contains(serve.err, "unknown setting 'offer_timout'"), describe(serve));
    CHECK_MESSAGE(contains(serve.err, "policy.json"), describe(serve));
    auto policy_cmd = server.admin({"policy"});
    CHECK_MESSAGE(policy_cmd.code != 0, describe(policy_cmd));
    CHECK_MESSAGE(contains(policy_cmd.err, "offer_timout"), describe(policy_cmd));

    // A budget of nothing is refused too, naming it.
    {
      std::ofstream policy(server.data_dir() + "/policy.json", std::ios::trunc);
      policy << R"({"limits": {"volunteer": {"ops_per_minute": 0}}})";
    }
    auto zero = server.admin({"policy"});
    CHECK_MESSAGE(zero.code != 0, describe(zero));
    CHECK_MESSAGE(contains(zero.err, "limits.volunteer.ops_per_minute"), describe(zero));
  }
}
