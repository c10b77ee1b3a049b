// Issue "the inbox" at process level: what the server decided reaches the person it is
// for, in `muster inbox --json`, and leaves it when settled. The real musterd (its time
// from a clock file, as in dispatch_test.cpp) and the real muster, one home per person.
//
//   1. an offer is in the offeree's inbox with its expiry; a decline and a time-out move
//      it on, out of that inbox and into the next volunteer's
//   2. with the clock past an escalation, a reminder and a gap, each addressee's inbox
//      holds exactly that item; acknowledging or settling it removes it; `status` counts

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "muster_fixture.hpp"
#include "test_clock.hpp"

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::contains;
using mt::describe;
using mt::run_json;
using mt::sync;

using mt::ClockFile;
using mt::kHour;
using mt::kMinute;
using mt::kSecond;
using mt::Ms;
using mt::round_hour_ahead;
using mt::utc_text;

const std::string kYili = "gulou/antai/yili";

std::string queued(mt::ClientFixture& c, std::vector<std::string> args) {
  auto r = c.run(args);
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  return mt::queued_id(r);
}

// `muster inbox --json` after a sync.
json inbox(mt::ClientFixture& c, const std::string& who) {
  REQUIRE(sync(c, who) == 0);
  return run_json(c, {"inbox"});
}

// The inbox as "kind id" strings, in its order.
std::vector<std::string> items(const json& box) {
  std::vector<std::string> out;
  for (const auto& i : box) out.push_back(i["kind"].get<std::string>() + " " + i["id"].get<std::string>());
  return out;
}

// Syncs until the inbox holds `want` (the server's timers run every second), 15 s at most.
json wait_inbox(mt::ClientFixture& c, const std::string& who, const std::vector<std::string>& want) {
  json box;
  mt::wait_until([&] { return items(box = inbox(c, who)) == want; }, 15s, 200ms);
  return box;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("inbox: an offer waits in the offeree's inbox with its expiry, then moves on to the next one's") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("chen", "volunteer", kYili);
    server.add_user("li", "volunteer", kYili + "/b5");
    server.add_user("wang", "volunteer", kYili + "/b3");
    const Ms t0 = round_hour_ahead(24);
    ClockFile clock(t0);
    server.start(clock.serve_args());

    mt::ClientFixture lead("lin"), chen("chen"), li("li"), wang("wang");
    lead.login(server, "lin");
    chen.login(server, "chen");
    li.login(server, "li");
    wang.login(server, "wang");

    // A home that never logged in says so, rather than showing an empty inbox.
    mt::ClientFixture nobody("nobody");
    for (const std::vector<std::string>& args : {std::vector<std::string>{"inbox"}, {"task", "list"}, {"msg", "list"}}) {
      auto r = nobody.run(args);
      CHECK_MESSAGE(r.code == 1, describe(r));
      CHECK_MESSAGE(contains(r.err, "not logged in"), describe(r));
    }

    const std::string errand = queued(lead, {"task", "new", "errand", "--title", "代买 白菜2斤 鸡蛋10个", "--area",
                                             kYili, "--dispatch", "offer", "--priority", "high"});
    REQUIRE(sync(lead, "lin") == 0);

    // Equal load: the first by name, chen.
    auto box = inbox(chen, "chen");
    REQUIRE_MESSAGE(items(box) == std::vector<std::string>{"offer " + errand}, box.dump());
    CHECK(box[0]["title"] == "代买 白菜2斤 鸡蛋10个");
    CHECK(box[0]["area"] == kYili);
    CHECK(box[0]["expires"] == utc_text(t0 + 5 * kMinute));
    CHECK(box[0]["action"] == "muster task accept " + errand);
    CHECK(box[0]["at"] == utc_text(t0));
    CHECK(inbox(li, "li") == json::array());
    CHECK(inbox(wang, "wang") == json::array());
    CHECK(inbox(lead, "lin") == json::array());
    // The lead's task list shows the priority and until when the offer stands (in the
    // server's zone, Asia/Shanghai: +08:00).
    auto list = lead.run({"task", "list"});
    REQUIRE_MESSAGE(list.code == 0, describe(list));
    CHECK_MESSAGE(contains(list.out, " high "), list.out);
    CHECK_MESSAGE(contains(list.out, "offer to " + utc_text(t0 + 5 * kMinute + 8 * kHour).substr(5, 5) + " " +
                                         utc_text(t0 + 5 * kMinute + 8 * kHour).substr(11, 5)),
                  list.out);

    // The text form: the title, the expiry in the server's zone and the command.
    auto text = chen.run({"inbox"});
    REQUIRE_MESSAGE(text.code == 0, describe(text));
    CHECK_MESSAGE(contains(text.out, "代买 白菜2斤 鸡蛋10个"), text.out);
    CHECK_MESSAGE(contains(text.out, "muster task accept " + errand), text.out);
    CHECK_MESSAGE(contains(text.out, "1 item"), text.out);

    // chen declines: it leaves his inbox at once (the op is queued) and reaches li's.
    queued(chen, {"task", "decline", errand.substr(errand.size() - 6)});
    CHECK(run_json(chen, {"inbox"}) == json::array());
    REQUIRE(sync(chen, "chen") == 0);
    box = inbox(li, "li");
    REQUIRE_MESSAGE(items(box) == std::vector<std::string>{"offer " + errand}, box.dump());
    CHECK(box[0]["expires"] == utc_text(t0 + 5 * kMinute));

    // li lets it time out: the server moves it on to wang.
    clock.set(t0 + 5 * kMinute + kSecond);
    box = wait_inbox(wang, "wang", {"offer " + errand});
    REQUIRE_MESSAGE(items(box) == std::vector<std::string>{"offer " + errand}, box.dump());
    CHECK(box[0]["expires"] == utc_text(t0 + 10 * kMinute + kSecond));
    CHECK(inbox(li, "li") == json::array());
    CHECK(inbox(chen, "chen") == json::array());

    // wang accepts: now it is his task to start.
    queued(wang, {"task", "accept", errand});
    box = inbox(wang, "wang");
    REQUIRE_MESSAGE(items(box) == std::vector<std::string>{"task " + errand}, box.dump());
    CHECK(box[0]["action"] == "muster task start " + errand);
  }

  TEST_CASE("inbox: past an escalation, a reminder and a gap, each addressee holds exactly that item until settled") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("li", "volunteer", kYili + "/b5");
    server.add_user("wang", "volunteer", kYili + "/b3");
    const Ms t0 = round_hour_ahead(24);
    ClockFile clock(t0);
    server.start(clock.serve_args());

    mt::ClientFixture lead("lin"), li("li"), wang("wang");
    lead.login(server, "lin");
    li.login(server, "li");
    wang.login(server, "wang");

    // An errand first come, first served, and a shift three hours on with two seats, one
    // taken by wang.
    const std::string errand = queued(lead, {"task", "new", "errand", "--title", "代买 米5斤", "--area", kYili,
                                             "--dispatch", "claim"});
    const Ms start = t0 + 3 * kHour;
    const std::string shift = queued(lead, {"roster", "add", "--post", "东门岗", "--area", kYili, "--start",
                                            utc_text(start), "--end", utc_text(start + 4 * kHour), "--seats", "2"});
    REQUIRE(sync(lead, "lin") == 0);
    REQUIRE(sync(wang, "wang") == 0);
    queued(wang, {"roster", "signup", shift});
    REQUIRE(sync(wang, "wang") == 0);
    CHECK(inbox(lead, "lin") == json::array());
    CHECK(inbox(li, "li") == json::array());
    CHECK(inbox(wang, "wang") == json::array());

    // Two hours and a minute on: the errand was escalated (30 min, then 2 h), the gap
    // window (2 h before the start) and the reminder (1 h before) have passed.
    clock.set(start - kHour + kMinute);
    auto lin_box = wait_inbox(lead, "lin", {"escalation " + errand, "gap " + shift});
    REQUIRE_MESSAGE(items(lin_box) == std::vector<std::string>({"escalation " + errand, "gap " + shift}),
                    lin_box.dump());
    CHECK(lin_box[0]["title"] == "代买 米5斤");
    CHECK(lin_box[0]["action"] == "muster inbox ack " + errand);
    CHECK(lin_box[1]["title"] == "东门岗");
    CHECK(lin_box[1]["detail"] == "1 of 2 seats free");
    auto wang_box = wait_inbox(wang, "wang", {"reminder " + shift});
    REQUIRE_MESSAGE(items(wang_box) == std::vector<std::string>{"reminder " + shift}, wang_box.dump());
    CHECK(wang_box[0]["due"] == utc_text(start));
    CHECK(wang_box[0]["action"] == "muster roster checkin " + shift);
    auto li_box = wait_inbox(li, "li", {"gap_offer " + shift});
    REQUIRE_MESSAGE(items(li_box) == std::vector<std::string>{"gap_offer " + shift}, li_box.dump());
    CHECK(li_box[0]["action"] == "muster roster signup " + shift);

    // The lead's task list marks the escalated errand.
    auto list = lead.run({"task", "list"});
    REQUIRE_MESSAGE(list.code == 0, describe(list));
    CHECK_MESSAGE(contains(list.out, "open!"), list.out);
    CHECK_MESSAGE(contains(list.out, "! escalated"), list.out);

    auto status = lead.run({"status"});
    REQUIRE_MESSAGE(status.code == 0, describe(status));
    CHECK_MESSAGE(contains(status.out, "2 items in your inbox"), status.out);
    CHECK(run_json(lead, {"status"})["inbox"] == 2);

    // The lead acknowledges the escalation; it leaves his inbox, the gap stays.
    auto ack = lead.run({"inbox", "ack", errand.substr(errand.size() - 6)});
    REQUIRE_MESSAGE(ack.code == 0, describe(ack));
    CHECK(items(run_json(lead, {"inbox"})) == std::vector<std::string>{"gap " + shift});
    // Nothing else to acknowledge there; a reminder is settled by checking in.
    auto again = lead.run({"inbox", "ack", errand});
    CHECK_MESSAGE(again.code == 2, describe(again));

    // wang has seen his reminder (checking in would settle it too, but opens two hours
    // before the start by this machine's clock, a day behind the server's here), li takes
    // the free seat: his reminder, her gap offer and the lead's gap are settled.
    auto seen = wang.run({"inbox", "ack", shift});
    REQUIRE_MESSAGE(seen.code == 0, describe(seen));
    CHECK(contains(seen.out, "acknowledged reminder " + shift));
    CHECK(inbox(wang, "wang") == json::array());
    queued(li, {"roster", "signup", shift});
    // Her gap offer leaves; signed up within the hour, she is reminded at once.
    CHECK(items(wait_inbox(li, "li", {"reminder " + shift})) == std::vector<std::string>{"reminder " + shift});
    CHECK(inbox(lead, "lin") == json::array());

    // wang claims the errand: it is his task now; the lead's inbox stays empty.
    queued(wang, {"task", "claim", errand});
    CHECK(items(inbox(wang, "wang")) == std::vector<std::string>{"task " + errand});
    CHECK(inbox(lead, "lin") == json::array());
  }
}
