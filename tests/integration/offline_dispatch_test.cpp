// SPEC §2/§6 test 1: a lead dispatches while the server is down; the op waits in the
// outbox, is sent on the next sync, and reaches exactly the volunteers whose areas
// see it (never a sibling area). Drives the real musterd and muster on 127.0.0.1.

#include <stdexcept>
#include <string>
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
using mt::sync;

const std::string kTitle = "代买 白菜2斤 鸡蛋10个";
const std::string kAddress = "3栋502";

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("offline_dispatch: a task created offline reaches its area after sync, and only its area") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.add_user("zhao", "volunteer", "gulou/xinjie");
    server.start();

    mt::ClientFixture lead("lin"), yili("wang"), xinjie("zhao");
    lead.login(server, "lin");
    yili.login(server, "wang");
    xinjie.login(server, "zhao");

    server.stop();
    REQUIRE_FALSE(server.running());

    // Offline: the command succeeds at once with the op id.
    auto created = lead.run({"task", "new", "errand", "--title", kTitle, "--area", "gulou/antai/yili", "--dispatch",
                             "claim", "--detail", "address=" + kAddress});
    REQUIRE_MESSAGE(created.code == 0, describe(created));
    CHECK(contains(created.out, "queued"));
    const std::string id = mt::queued_id(created);

    // Nothing to talk to: sync says "unreachable" and the op stays queued.
    auto offline_sync = lead.run({"sync", "--timeout", "5"});
    CHECK_MESSAGE(offline_sync.code == 3, describe(offline_sync));

    auto st = run_json(lead, {"status"});
    CHECK(st["online"] == false);
    CHECK(st["pending"] == 1);
    CHECK(st["user"] == "lin");

    // The lead's own view shows the task optimistically, marked pending.
    auto mine = run_json(lead, {"task", "show", id});
    CHECK(mine["state"] == "open");
    CHECK(mine["pending"] == true);
    CHECK(mine["title"] == kTitle);

    server.start();
    CHECK(sync(lead, "lead") == 0);
    st = run_json(lead, {"status"});
    CHECK(st["pending"] == 0);
    CHECK(st["online"] == true);

    // The volunteer of the task's area sees it, byte-exact.
    REQUIRE(sync(yili, "yili") == 0);
    auto seen = run_json(yili, {"task", "show", id});
    CHECK(seen["id"] == id);
    CHECK(seen["kind"] == "errand");
    CHECK(seen["title"].get<std::string>() == kTitle);
    CHECK(seen["area"] == "gulou/antai/yili");
    CHECK(seen["state"] == "open");
    CHECK(seen["dispatch"] == "claim");
    CHECK(seen["creator"] == "lin");
    CHECK(seen["assignee"] == "");
    CHECK(seen["pending"] == false);
    CHECK(seen["details"]["address"].get<std::string>() == kAddress);
    auto yili_list = run_json(yili, {"task", "list"});
    REQUIRE(yili_list.is_array());
    CHECK(yili_list.size() == 1);

    // The sibling area never receives it.
    REQUIRE(sync(xinjie, "xinjie") == 0);
    auto none = run_json(xinjie, {"task", "list"});
    CHECK(none == json::array());
    auto missing = xinjie.run({"task", "show", id});
    CHECK_MESSAGE(missing.code != 0, describe(missing));
    CHECK(contains(missing.out + missing.err, "not found"));
  }

  TEST_CASE("offline_dispatch: a direct task offered offline is accepted, started and done offline") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.add_user("zhao", "volunteer", "gulou/antai/yili");
    server.start();

    mt::ClientFixture lead("lin"), vol("wang"), other("zhao");
    lead.login(server, "lin");
    vol.login(server, "wang");
    other.login(server, "zhao");
    server.stop();

    auto created = lead.run({"task", "new", "errand", "--title", kTitle, "--area", "gulou/antai/yili", "--assignee",
                             "wang", "--priority", "high"});
    REQUIRE_MESSAGE(created.code == 0, describe(created));
    const std::string id = mt::queued_id(created);
    auto local = run_json(lead, {"task", "show", id});
    CHECK(local["state"] == "offered");
    CHECK(local["dispatch"] == "direct");
    CHECK(local["offered_to"] == "wang");

    server.start();
    REQUIRE(sync(lead, "lead") == 0);
    REQUIRE(sync(vol, "wang") == 0);
    REQUIRE(sync(other, "zhao") == 0);

    auto offered = run_json(vol, {"task", "show", id});
    CHECK(offered["state"] == "offered");
    CHECK(offered["offered_to"] == "wang");
    CHECK(offered["assignee"] == "");
    CHECK(offered["priority"] == "high");
    CHECK(offered["pending"] == false);

    // Someone else in the area may not take a task offered to wang.
    auto steal = other.run({"task", "accept", id});
    CHECK_MESSAGE(steal.code == 2, describe(steal));
    CHECK(contains(steal.err, "conflict"));

    // wang works through it while offline; each step is queued and shown at once.
    server.stop();
    for (const char* verb : {"accept", "start", "done"}) {
      auto r = vol.run({"task", verb, id, "--note", std::string("step ") + verb});
      CHECK_MESSAGE(r.code == 0, (std::string(verb) + ": " + describe(r)));
      CHECK(contains(r.out, "queued"));
    }
    auto optimistic = run_json(vol, {"task", "show", id});
    CHECK(optimistic["state"] == "done");
    CHECK(optimistic["assignee"] == "wang");
    CHECK(optimistic["pending"] == true);
    CHECK(run_json(vol, {"status"})["pending"] == 3);
    CHECK(vol.run({"sync", "--timeout", "5"}).code == 3);
    CHECK(run_json(vol, {"status"})["pending"] == 3);

    server.start();
    REQUIRE(sync(vol, "wang") == 0);
    CHECK(run_json(vol, {"status"})["pending"] == 0);
    auto confirmed = run_json(vol, {"task", "show", id});
    CHECK(confirmed["state"] == "done");
    CHECK(confirmed["pending"] == false);

    REQUIRE(sync(lead, "lead") == 0);
    auto final_view = run_json(lead, {"task", "show", id});
    CHECK(final_view["state"] == "done");
    CHECK(final_view["assignee"] == "wang");
    CHECK(final_view["offered_to"] == "");
    CHECK(final_view["note"] == "step done");
    CHECK(final_view["updated_by"] == "wang");
  }
}
