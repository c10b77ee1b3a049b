// SPEC §2 test 2: two volunteers claim the same task while the server is down. The
// first claim to arrive wins; the second is rejected with `conflict` naming the
// winner, and the loser's client rolls its optimistic view back. Also: a volunteer
// may not cancel a task, neither through the client nor by talking to the server.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "cli_helpers.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::contains;
using mt::describe;
using mt::parse_json;
using mt::run_json;

mt::RunResult sync(mt::ClientFixture& c) { return c.run({"sync", "--timeout", "15"}); }

// Reads frames until one satisfies pred (nullopt after `limit` frames or a silent timeout).
std::optional<json> recv_until(mt::RawWs& ws, const std::function<bool(const json&)>& pred, int limit = 100) {
  for (int i = 0; i < limit; ++i) {
    auto text = ws.recv(5s);
    if (!text) return std::nullopt;
    auto j = json::parse(*text, nullptr, false);
    if (!j.is_discarded() && pred(j)) return j;
  }
  return std::nullopt;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("claim_conflict: two offline claims, the first to arrive wins and the loser rolls back") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.add_user("li", "volunteer", "gulou/antai/yili");
    server.start();

    mt::ClientFixture lead("lin"), first("wang"), second("li");
    lead.login(server, "lin");
    first.login(server, "wang");
    second.login(server, "li");

    auto created = lead.run({"task", "new", "generic", "--title", "搬运物资到3栋", "--area", "gulou/antai/yili",
                             "--dispatch", "claim"});
    REQUIRE_MESSAGE(created.code == 0, describe(created));
    const std::string id = mt::queued_id(created);
    auto r = sync(lead);
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    for (auto* c : {&first, &second}) {
      r = sync(*c);
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      auto t = run_json(*c, {"task", "show", id});
      CHECK(t["state"] == "open");
      CHECK(t["dispatch"] == "claim");
    }

    server.stop();

    // Both claim while offline; each sees its own optimistic claim.
    for (auto [c, name] : {std::pair{&first, "wang"}, std::pair{&second, "li"}}) {
      auto claim = c->run({"task", "claim", id});
      REQUIRE_MESSAGE(claim.code == 0, describe(claim));
      CHECK(contains(claim.out, "queued"));
      auto list = run_json(*c, {"task", "list"});
      REQUIRE(list.size() == 1);
      CHECK(list[0]["id"] == id);
      CHECK(list[0]["state"] == "accepted");
      CHECK(list[0]["assignee"] == name);
      CHECK(list[0]["pending"] == true);
      auto text = c->run({"task", "list"});
      CHECK(text.code == 0);
      CHECK_MESSAGE(contains(text.out, "accepted*"), text.out);
      CHECK_MESSAGE(contains(text.out, name), text.out);
    }

    server.start();
    r = sync(first);
    CHECK_MESSAGE(r.code == 0, describe(r));
    auto lost = sync(second);
    CHECK_MESSAGE(lost.code == 2, describe(lost));
    CHECK_MESSAGE(contains(lost.out + lost.err, "conflict"), describe(lost));
    CHECK_MESSAGE(contains(lost.out + lost.err, "wang"), describe(lost));

    // Both now agree: wang holds it. li's optimistic claim is gone, not pending.
    for (auto* c : {&first, &second}) {
      auto t = run_json(*c, {"task", "show", id});
      CHECK(t["state"] == "accepted");
      CHECK(t["assignee"] == "wang");
      CHECK(t["pending"] == false);
      CHECK(run_json(*c, {"status"})["pending"] == 0);
    }
    auto status_text = second.run({"status"});
    CHECK_MESSAGE(contains(status_text.out, "recently rejected"), describe(status_text));
    CHECK_MESSAGE(contains(status_text.out, "conflict"), describe(status_text));

    // Syncing again changes nothing and reports no new rejection.
    r = sync(second);
    CHECK_MESSAGE(r.code == 0, describe(r));

    r = sync(lead);
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    auto lead_view = run_json(lead, {"task", "show", id});
    CHECK(lead_view["state"] == "accepted");
    CHECK(lead_view["assignee"] == "wang");
    CHECK(lead_view["updated_by"] == "wang");
  }

  TEST_CASE("claim_conflict: a volunteer may not cancel a task") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.add_user("li", "volunteer", "gulou/antai/yili");
    server.start();

    mt::ClientFixture lead("lin"), holder("wang"), bystander("li");
    lead.login(server, "lin");
    holder.login(server, "wang");
    bystander.login(server, "li");

    auto created = lead.run({"task", "new", "errand", "--title", "送药 布洛芬", "--area", "gulou/antai/yili", "--dispatch", "claim"});
    REQUIRE_MESSAGE(created.code == 0, describe(created));
    const std::string id = mt::queued_id(created);
    REQUIRE(sync(lead).code == 0);
    REQUIRE(sync(holder).code == 0);
    auto claim = holder.run({"task", "claim", id});
    REQUIRE_MESSAGE(claim.code == 0, describe(claim));
    REQUIRE(sync(holder).code == 0);
    REQUIRE(sync(bystander).code == 0);

    // Neither the holder nor another volunteer may cancel: refused before queueing.
    for (auto* c : {&holder, &bystander}) {
      auto cancel = c->run({"task", "cancel", id});
      CHECK_MESSAGE(cancel.code == 2, describe(cancel));
      CHECK_MESSAGE(contains(cancel.err, "forbidden"), describe(cancel));
      CHECK(run_json(*c, {"status"})["pending"] == 0);
      auto t = run_json(*c, {"task", "show", id});
      CHECK(t["state"] == "accepted");
      CHECK(t["pending"] == false);
    }

    // The server refuses it too, for a client that skips the local check.
    {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      json hello{{"t", "hello"}, {"v", 1}, {"user", "li"}, {"password", "password123"}, {"device", "raw-li"},
                 {"cursors", json::object()}};
      REQUIRE(ws.send_text(hello.dump()));
      auto welcome = recv_until(ws, [](const json& j) { return j.value("t", "") == "welcome"; });
      REQUIRE(welcome.has_value());
      REQUIRE(recv_until(ws, [](const json& j) { return j.value("t", "") == "caught_up"; }).has_value());

      muster::UlidGenerator ids;
      const std::string op_id = ids.next(muster::SystemClock().now_ms());
      json op{{"t", "op"}, {"id", op_id}, {"kind", "task.cancel"}, {"body", {{"task", id}}}};
      REQUIRE(ws.send_text(op.dump()));
      auto ack = recv_until(ws, [&](const json& j) { return j.value("t", "") == "ack" && j.value("id", "") == op_id; });
      REQUIRE(ack.has_value());
      CHECK((*ack)["ok"] == false);
      CHECK((*ack)["error"]["code"] == "forbidden");
      ws.close();
    }

    // After all that, the lead still sees the task held by wang.
    REQUIRE(sync(lead).code == 0);
    auto lead_view = run_json(lead, {"task", "show", id});
    CHECK(lead_view["state"] == "accepted");
    CHECK(lead_view["assignee"] == "wang");

    // The lead (its creator) may cancel it, and the volunteers see that.
    auto cancel = lead.run({"task", "cancel", id, "--note", "已由家属代买"});
    REQUIRE_MESSAGE(cancel.code == 0, describe(cancel));
    REQUIRE(sync(lead).code == 0);
    REQUIRE(sync(holder).code == 0);
    auto t = run_json(holder, {"task", "show", id});
    CHECK(t["state"] == "cancelled");
    CHECK(t["note"] == "已由家属代买");
  }
}
