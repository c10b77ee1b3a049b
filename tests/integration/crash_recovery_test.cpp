// SPEC §8 test 4: nothing acknowledged is lost by `kill -9` of the server. Rounds of
// (create ops, sync until acked, kill -9 at once, restart) while a volunteer's
// `muster watch` streams events across every crash; afterwards every acked task is
// in the log exactly once, each scope's seqs are gap-free, and clients resume from
// their cursors without duplicates.

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

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

// The JSON objects printed one per line (a partial last line is ignored).
std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline yet: still being written
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

constexpr int kRounds = 3;
constexpr int kTasksPerRound = 10;
const char* const kAreas[] = {"gulou/antai/yili", "gulou/antai"};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("crash_recovery: acked ops survive kill -9 and watchers resume gap-free") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.add_user("audit", "volunteer", "gulou/antai/yili");
    server.start();

    mt::ClientFixture lead("lin"), vol("wang");
    lead.login(server, "lin");
    vol.login(server, "wang");

    // wang's client streams live events across every crash below (SIGINT ends it).
    mt::Process watch({mt::binary_path("muster"), "--home", vol.home(), "watch", "--timeout", "150"});
    auto watch_live = [&] { return server.metric("muster_sessions_live").value_or(0) >= 1; };
    REQUIRE_MESSAGE(mt::wait_until(watch_live, 15s, 50ms), watch.err());

    std::set<std::string> acked;
    std::map<std::string, int> expected_per_area;
    for (int round = 0; round < kRounds; ++round) {
      CAPTURE(round);
      for (int i = 0; i < kTasksPerRound; ++i) {
        const std::string area = kAreas[i % 2];
        auto r = lead.run({"task", "new", "generic", "--title",
                           "第" + std::to_string(round) + "轮 任务" + std::to_string(i), "--area", area});
        REQUIRE_MESSAGE(r.code == 0, describe(r));
        acked.insert(mt::queued_id(r));
        ++expected_per_area[area];
      }
      auto synced = run_json(lead, {"sync", "--timeout", "20"});
      REQUIRE(synced["ok"] == true);
      CHECK(synced["accepted"] == kTasksPerRound);
      CHECK(synced["rejected"] == json::array());
      REQUIRE(synced["pending"] == 0);

      // Acked: now crash at once, and come back.
      server.kill9();
      REQUIRE_FALSE(server.running());
      server.start();
      CHECK(server.metric("muster_last_gseq").value_or(-1) == (round + 1) * kTasksPerRound);
      CHECK(server.metric("muster_log_events").value_or(-1) == (round + 1) * kTasksPerRound);
      // Let the watcher reconnect (it backs off while the server is away) before the next crash.
      CHECK_MESSAGE(mt::wait_until(watch_live, 30s, 50ms), watch.err());
    }
    const int total = kRounds * kTasksPerRound;
    REQUIRE(acked.size() == static_cast<std::size_t>(total));

    // A client that never saw any of it gets every acked task from the log.
    mt::ClientFixture fresh("audit");
    fresh.login(server, "audit");
    auto fresh_list = run_json(fresh, {"task", "list"});
    std::set<std::string> fresh_ids;
    for (const auto& t : fresh_list) fresh_ids.insert(t["id"].get<std::string>());
    CHECK(fresh_list.size() == acked.size());
    CHECK_MESSAGE(fresh_ids == acked, json(fresh_ids).dump());

    // The watcher got every event exactly once, in seq order per scope, across the crashes.
    const bool all_seen =
        mt::wait_until([&] { return json_lines(watch.out()).size() >= static_cast<std::size_t>(total); }, 30s, 100ms);
    CHECK_MESSAGE(all_seen, watch.err());
    watch.kill(SIGINT);
    CHECK(watch.wait(10s) == 0);

    // It really did span the crashes: it lost the server and reconnected each round.
    std::size_t retries = 0;
    for (auto at = watch.err().find("retrying"); at != std::string::npos; at = watch.err().find("retrying", at + 1)) {
      ++retries;
    }
    CHECK_MESSAGE(retries >= static_cast<std::size_t>(kRounds), watch.err());

    auto events = json_lines(watch.out());
    CHECK(events.size() == static_cast<std::size_t>(total));
    std::map<std::string, std::vector<std::int64_t>> seqs;
    std::map<std::string, int> ops_seen;
    std::set<std::int64_t> gseqs;
    for (const auto& e : events) {
      REQUIRE(e.is_object());
      CHECK(e["kind"] == "task.created");
      seqs[e["scope"].get<std::string>()].push_back(e["seq"].get<std::int64_t>());
      ++ops_seen[e["op"].get<std::string>()];
      gseqs.insert(e["gseq"].get<std::int64_t>());
    }
    for (const auto& [scope, list] : seqs) {
      CAPTURE(scope);
      std::vector<std::int64_t> consecutive(list.size());
      for (std::size_t i = 0; i < list.size(); ++i) consecutive[i] = static_cast<std::int64_t>(i) + 1;
      CHECK_MESSAGE(list == consecutive, json(list).dump());
    }
    CHECK(seqs.size() == 2);
    for (const auto& [area, n] : expected_per_area) {
      CAPTURE(area);
      CHECK(seqs["area:" + area].size() == static_cast<std::size_t>(n));
    }
    CHECK(gseqs.size() == static_cast<std::size_t>(total));
    std::set<std::string> watched_ops;
    for (const auto& [op, n] : ops_seen) {
      CAPTURE(op);
      CHECK(n == 1);
      watched_ops.insert(op);
    }
    CHECK_MESSAGE(watched_ops == acked, json(watched_ops).dump());

    // wang's client resumes from its cursors: nothing new to apply, nothing lost.
    auto resumed = run_json(vol, {"sync", "--timeout", "20"});
    CHECK(resumed["ok"] == true);
    CHECK(resumed["events"] == 0);
    auto vol_list = run_json(vol, {"task", "list"});
    std::set<std::string> vol_ids;
    for (const auto& t : vol_list) vol_ids.insert(t["id"].get<std::string>());
    CHECK(vol_list.size() == acked.size());
    CHECK_MESSAGE(vol_ids == acked, json(vol_ids).dump());

    // One more crash with nothing in flight: the log is exactly what was acked.
    server.kill9();
    server.start();
    CHECK(server.metric("muster_last_gseq").value_or(-1) == total);
    CHECK(server.metric("muster_log_events").value_or(-1) == total);
  }
}
