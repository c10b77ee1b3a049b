// SPEC §3 test 5: a coordinator's notice flows down the grid to every user at or
// below its area (and their leads), never sideways or up; acknowledgements roll up
// into `notice status` with exact counts and the names still missing. Also: a
// direct message reaches its recipient and nobody else.

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;

namespace {

using mt::contains;
using mt::describe;
using mt::parse_json;
using mt::run_json;

const std::string kText = "明早7点核酸采样，请下楼";

void sync_ok(mt::ClientFixture& c, const std::string& who) {
  auto r = c.run({"sync", "--timeout", "15"});
  REQUIRE_MESSAGE(r.code == 0, (who + " sync: " + describe(r)));
}

std::set<std::string> names(const json& array) {
  std::set<std::string> out;
  for (const auto& n : array) out.insert(n.get<std::string>());
  return out;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("notice: an acknowledged notice reaches its area and below, and status counts who acked") {
    mt::ServerFixture server;
    server.add_user("chen", "coordinator", "gulou/antai");
    // Recipients: everyone at gulou/antai/yili and below, including its lead.
    server.add_user("sun", "lead", "gulou/antai/yili");
    server.add_user("qian", "volunteer", "gulou/antai/yili");
    server.add_user("wu", "volunteer", "gulou/antai/yili/b3");
    server.add_user("zhou", "volunteer", "gulou/antai/yili/b5");
    // Not recipients: a sibling area, and the parent area (notices flow down, not up).
    server.add_user("zhao", "volunteer", "gulou/xinjie");
    server.add_user("he", "volunteer", "gulou/antai");
    server.start();

    mt::ClientFixture coord("chen"), sun("sun"), qian("qian"), wu("wu"), zhou("zhou"), zhao("zhao"), he("he");
    coord.login(server, "chen");
    std::vector<std::pair<mt::ClientFixture*, std::string>> recipients{
        {&sun, "sun"}, {&qian, "qian"}, {&wu, "wu"}, {&zhou, "zhou"}};
    std::vector<std::pair<mt::ClientFixture*, std::string>> outsiders{{&zhao, "zhao"}, {&he, "he"}};
    for (auto& [c, name] : recipients) c->login(server, name);
    for (auto& [c, name] : outsiders) c->login(server, name);

    auto posted = coord.run({"notice", "post", "--area", "gulou/antai/yili", "--text", kText, "--ack", "--priority",
                             "urgent"});
    REQUIRE_MESSAGE(posted.code == 0, describe(posted));
    CHECK(contains(posted.out, "queued"));
    const std::string id = mt::queued_id(posted);
    sync_ok(coord, "chen");

    for (auto& [c, name] : recipients) {
      CAPTURE(name);
      sync_ok(*c, name);
      auto list = run_json(*c, {"notice", "list"});
      REQUIRE(list.size() == 1);
      CHECK(list[0]["id"] == id);
      CHECK(list[0]["text"].get<std::string>() == kText);
      CHECK(list[0]["area"] == "gulou/antai/yili");
      CHECK(list[0]["priority"] == "urgent");
      CHECK(list[0]["ack"] == true);
      CHECK(list[0]["author"] == "chen");
      CHECK(list[0]["acked"] == false);
    }
    for (auto& [c, name] : outsiders) {
      CAPTURE(name);
      sync_ok(*c, name);
      CHECK(run_json(*c, {"notice", "list"}) == json::array());
    }

    // Two recipients acknowledge (wu twice: the second changes nothing).
    for (auto* c : {&wu, &sun}) {
      auto ack = c->run({"notice", "ack", id});
      REQUIRE_MESSAGE(ack.code == 0, describe(ack));
      CHECK(contains(ack.out, "queued"));
    }
    sync_ok(wu, "wu");
    sync_ok(sun, "sun");
    auto again = wu.run({"notice", "ack", id});
    CHECK_MESSAGE(again.code == 0, describe(again));
    sync_ok(wu, "wu");
    auto wu_list = run_json(wu, {"notice", "list"});
    REQUIRE(wu_list.size() == 1);
    CHECK(wu_list[0]["acked"] == true);
    auto qian_list = run_json(qian, {"notice", "list"});
    REQUIRE(qian_list.size() == 1);
    CHECK(qian_list[0]["acked"] == false);

    // The coordinator sees exact counts and who is missing, rolled up by home area.
    auto st = run_json(coord, {"notice", "status", id});
    CHECK(st["notice"] == id);
    CHECK(st["text"].get<std::string>() == kText);
    CHECK(st["recipients"] == 4);
    CHECK(st["acked"] == 2);
    CHECK_MESSAGE((names(st["missing"]) == std::set<std::string>{"qian", "zhou"}), st.dump());
    std::map<std::string, json> by_area;
    for (const auto& a : st["by_area"]) by_area[a["area"].get<std::string>()] = a;
    CHECK(by_area.size() == 3);
    CHECK(by_area["gulou/antai/yili"]["recipients"] == 2);
    CHECK(by_area["gulou/antai/yili"]["acked"] == 1);
    CHECK_MESSAGE(names(by_area["gulou/antai/yili"]["missing"]) == std::set<std::string>{"qian"}, st.dump());
    CHECK(by_area["gulou/antai/yili/b3"]["recipients"] == 1);
    CHECK(by_area["gulou/antai/yili/b3"]["acked"] == 1);
    CHECK(by_area["gulou/antai/yili/b3"]["missing"] == json::array());
    CHECK(by_area["gulou/antai/yili/b5"]["recipients"] == 1);
    CHECK(by_area["gulou/antai/yili/b5"]["acked"] == 0);
    CHECK_MESSAGE(names(by_area["gulou/antai/yili/b5"]["missing"]) == std::set<std::string>{"zhou"}, st.dump());

    auto text = coord.run({"notice", "status", id});
    CHECK_MESSAGE(text.code == 0, describe(text));
    CHECK_MESSAGE(contains(text.out, "2/4 acknowledged, 2 missing"), text.out);

    // The area's lead may ask too, and gets the same answer.
    auto lead_st = run_json(sun, {"notice", "status", id});
    CHECK(lead_st["recipients"] == 4);
    CHECK(lead_st["acked"] == 2);

    // A volunteer may not; an outsider cannot even see the notice.
    auto forbidden = wu.run({"notice", "status", id});
    CHECK_MESSAGE(forbidden.code == 2, describe(forbidden));
    CHECK_MESSAGE(contains(forbidden.err, "forbidden"), describe(forbidden));
    auto unseen = zhao.run({"notice", "status", id});
    CHECK_MESSAGE(unseen.code == 2, describe(unseen));
    CHECK_MESSAGE(contains(unseen.err, "not_found"), describe(unseen));
  }

  TEST_CASE("notice: a direct message reaches its recipient and nobody else") {
    mt::ServerFixture server;
    server.add_user("chen", "coordinator", "gulou/antai");
    server.add_user("zhou", "volunteer", "gulou/antai/yili/b5");
    server.add_user("wu", "volunteer", "gulou/antai/yili/b5");
    server.start();

    mt::ClientFixture coord("chen"), zhou("zhou"), wu("wu");
    coord.login(server, "chen");
    zhou.login(server, "zhou");
    wu.login(server, "wu");

    auto sent = coord.run({"msg", "send", "--to", "zhou", "--text", "你好"});
    REQUIRE_MESSAGE(sent.code == 0, describe(sent));
    const std::string id = mt::queued_id(sent);
    sync_ok(coord, "chen");

    sync_ok(zhou, "zhou");
    auto inbox = run_json(zhou, {"msg", "list"});
    REQUIRE(inbox.size() == 1);
    CHECK(inbox[0]["id"] == id);
    CHECK(inbox[0]["from"] == "chen");
    CHECK(inbox[0]["to"] == "zhou");
    CHECK(inbox[0]["text"].get<std::string>() == "你好");
    CHECK(inbox[0]["sent_at"] != "");

    // The sender keeps a copy; a neighbour in the same building gets nothing.
    auto outbox = run_json(coord, {"msg", "list"});
    REQUIRE(outbox.size() == 1);
    CHECK(outbox[0]["id"] == id);
    sync_ok(wu, "wu");
    CHECK(run_json(wu, {"msg", "list"}) == json::array());

    // A reply comes back the same way.
    auto reply = zhou.run({"msg", "send", "--to", "chen", "--text", "收到，谢谢"});
    REQUIRE_MESSAGE(reply.code == 0, describe(reply));
    sync_ok(zhou, "zhou");
    sync_ok(coord, "chen");
    auto thread = run_json(coord, {"msg", "list"});
    REQUIRE(thread.size() == 2);
    std::set<std::string> texts;
    for (const auto& m : thread) texts.insert(m["text"].get<std::string>());
    CHECK_MESSAGE((texts == std::set<std::string>{"你好", "收到，谢谢"}), thread.dump());
  }
}
