// Issue 11, criterion 6 at process level: on a machine whose tz database lacks the
// server's zone (TZDIR pointing at an empty directory), `muster` never shows times
// shifted to UTC as if they were local. It warns once on stderr, naming the zone and
// the database, and marks every time it shows as UTC ("…Z" in tables, "+00:00" in
// JSON); a local time it cannot place is refused, not read as UTC. `musterd serve`
// refuses to start with its policy zone missing.
//
// Times are relative to now (a shift the day after tomorrow), and Asia/Shanghai's
// local times are computed here by hand: it has kept +08:00 all year since 1991.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>
#include <string>
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
using mt::parse_json;

using mt::kDay;
using mt::kHour;
using mt::kShanghai;
using mt::Ms;
using mt::real_now;
using mt::shanghai_input;
using mt::shanghai_midnight;
using mt::shanghai_text;
using mt::strftime_utc;

const std::string kYili = "gulou/antai/yili";

std::string short_text(Ms t) { return strftime_utc(t, "%Y-%m-%d %H:%M"); }  // a table column, before its zone

// "2026-11-25T00:00:00Z" (as the replica stores times) -> UTC milliseconds.
Ms parse_z(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  REQUIRE_MESSAGE(!in.fail(), text);
  return static_cast<Ms>(timegm(&tm)) * 1000;
}

// `muster --home HOME ARGS...` with TZDIR set to `tzdir` (the harness adds it to the
// inherited environment).
mt::RunResult run_with_tzdir(const mt::ClientFixture& c, const std::string& tzdir, std::vector<std::string> args) {
  std::vector<std::string> argv{mt::binary_path("muster"), "--home", c.home()};
  argv.insert(argv.end(), args.begin(), args.end());
  return mt::run(argv, {{"TZDIR", tzdir}}, std::nullopt, 60s);
}

// The line of `out` that starts with `id`.
std::string line_of(const std::string& out, const std::string& id) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(id, 0) == 0) return line;
  }
  FAIL(id << " not in:\n" << out);
  return {};
}

// musterd with the lead lin of yili, and lin's client logged in.
struct LinAtServer {
  mt::ServerFixture server;
  mt::ClientFixture lead{"lin"};
  LinAtServer() {
    server.add_user("lin", "lead", kYili);
    server.start();
    lead.login(server, "lin");
  }
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("timezone: task new --due reads a time without an offset in the server's zone, as roster add --start does") {
    LinAtServer f;
    auto& lead = f.lead;

    // 18:00 in Shanghai (10:00 UTC) the day after tomorrow, typed without an offset.
    const Ms due = shanghai_midnight(real_now() + 2 * kDay) + 18 * kHour;
    auto made = lead.run({"task", "new", "errand", "--title", "代买 白菜2斤", "--area", kYili, "--dispatch", "claim",
                          "--due", shanghai_input(due)});
    REQUIRE_MESSAGE(made.code == 0, describe(made));
    const std::string task = mt::queued_id(made);
    auto shown = lead.run({"task", "show", task, "--json"});
    REQUIRE_MESSAGE(shown.code == 0, describe(shown));
    CHECK(parse_json(shown)["due"] == strftime_utc(due, "%Y-%m-%dT%H:%M:%SZ"));
    // With an offset or in UTC it means what it says.
    auto in_utc = lead.run({"task", "new", "errand", "--title", "代买 鸡蛋10个", "--area", kYili, "--dispatch", "claim",
                            "--due", strftime_utc(due, "%Y-%m-%dT%H:%M:%SZ")});
    REQUIRE_MESSAGE(in_utc.code == 0, describe(in_utc));
    auto shown_utc = lead.run({"task", "show", mt::queued_id(in_utc), "--json"});
    CHECK(parse_json(shown_utc)["due"] == strftime_utc(due, "%Y-%m-%dT%H:%M:%SZ"));

    // Without the zone in the tz database a local --due is refused, like --start, and nothing is queued.
    const mt::TempDir empty("muster-empty-tzdir-");
    auto refused = run_with_tzdir(lead, empty.path(), {"task", "new", "errand", "--title", "代买 白菜2斤", "--area", kYili,
                                                       "--due", shanghai_input(due)});
    CHECK_MESSAGE(refused.code != 0, describe(refused));
    CHECK_MESSAGE(contains(refused.err, "--due " + shanghai_input(due) + " is a local time in Asia/Shanghai"),
                  describe(refused));
    auto status = lead.run({"status"});
    CHECK_MESSAGE(contains(status.out, "2 ops waiting to be sent"), describe(status));
  }

  TEST_CASE("timezone: without the zone in the tz database, muster warns and marks times as UTC; musterd will not serve") {
    LinAtServer f;
    auto& server = f.server;
    auto& lead = f.lead;

    // 08:00 to 14:00 in Shanghai (00:00 to 06:00 UTC), the day after tomorrow; and a task.
    const Ms start = shanghai_midnight(real_now() + 2 * kDay) + 8 * kHour;
    const Ms end = start + 6 * kHour;
    auto added = lead.run({"roster", "add", "--post", "north gate", "--area", kYili, "--start", shanghai_input(start),
                           "--end", shanghai_input(end), "--seats", "2"});
    REQUIRE_MESSAGE(added.code == 0, describe(added));
    const std::string shift = mt::queued_id(added);
    auto made = lead.run({"task", "new", "generic", "--title", "carry water", "--area", kYili, "--dispatch", "claim"});
    REQUIRE_MESSAGE(made.code == 0, describe(made));
    const std::string task = mt::queued_id(made);
    REQUIRE(mt::sync(lead, "lin") == 0);

    const mt::TempDir empty("muster-empty-tzdir-");
    const std::string warning = "time zone Asia/Shanghai not found in the tz database (TZDIR=" + empty.path() + ")";

    SUBCASE("with the database: local times and no warning") {
      auto r = lead.run({"roster", "list"});
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      CHECK_MESSAGE(!contains(r.err, "warning"), describe(r));
      const std::string row = line_of(r.out, shift);
      CHECK_MESSAGE(contains(row, short_text(start + kShanghai) + " "), row);
      CHECK_MESSAGE(contains(row, short_text(end + kShanghai) + " "), row);
      CHECK(contains(r.out, "times in Asia/Shanghai"));
    }

    SUBCASE("roster list: a warning naming the zone and TZDIR, times in UTC marked Z") {
      auto r = run_with_tzdir(lead, empty.path(), {"roster", "list"});
      CHECK_MESSAGE(r.code == 0, describe(r));
      CHECK_MESSAGE(contains(r.err, "muster: warning: " + warning + ": times are shown in UTC"), describe(r));
      const std::string row = line_of(r.out, shift);
      CHECK_MESSAGE(contains(row, short_text(start) + "Z "), row);
      CHECK_MESSAGE(contains(row, short_text(end) + "Z "), row);
      CHECK_MESSAGE(!contains(row, short_text(start + kShanghai) + " "), row);
      CHECK_MESSAGE(!contains(row, short_text(end + kShanghai) + " "), row);
      CHECK(contains(r.out, "times in UTC"));
      CHECK(!contains(r.out, "times in Asia/Shanghai"));
    }

    SUBCASE("roster list --json: RFC 3339 with +00:00, and the warning on stderr only") {
      auto normal = lead.run({"roster", "list", "--json"});
      REQUIRE_MESSAGE(normal.code == 0, describe(normal));
      CHECK(parse_json(normal)[0]["start"] == shanghai_text(start));

      auto r = run_with_tzdir(lead, empty.path(), {"roster", "list", "--json"});
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      CHECK_MESSAGE(contains(r.err, warning), describe(r));
      const json list = parse_json(r);
      REQUIRE(list.size() == 1);
      CHECK(list[0]["start"] == strftime_utc(start, "%Y-%m-%dT%H:%M:%S") + "+00:00");
      CHECK(list[0]["end"] == strftime_utc(end, "%Y-%m-%dT%H:%M:%S") + "+00:00");
    }

    SUBCASE("task list: the SINCE column in UTC, marked Z, after the warning") {
      const json tasks = mt::run_json(lead, {"task", "list"});
      REQUIRE(tasks.size() == 1);
      const std::string since_text =
          !tasks[0].value("since", "").empty() ? tasks[0]["since"].get<std::string>() : tasks[0]["updated_at"].get<std::string>();
      const Ms since = parse_z(since_text);

      auto normal = lead.run({"task", "list"});
      REQUIRE_MESSAGE(normal.code == 0, describe(normal));
      CHECK_MESSAGE(contains(line_of(normal.out, task), short_text(since + kShanghai) + " "), normal.out);

      auto r = run_with_tzdir(lead, empty.path(), {"task", "list"});
      CHECK_MESSAGE(r.code == 0, describe(r));
      CHECK_MESSAGE(contains(r.err, "muster: warning: " + warning), describe(r));
      const std::string row = line_of(r.out, task);
      CHECK_MESSAGE(contains(row, short_text(since) + "Z "), row);
      CHECK_MESSAGE(!contains(row, short_text(since + kShanghai) + " "), row);
    }

    SUBCASE("a local time is refused, not read as UTC; one with its offset is taken") {
      const int pending = mt::run_json(lead, {"status"})["pending"].get<int>();
      auto r = run_with_tzdir(lead, empty.path(),
                              {"roster", "add", "--post", "south gate", "--area", kYili, "--start",
                               shanghai_input(start + kDay), "--end", shanghai_input(end + kDay)});
      CHECK_MESSAGE(r.code == 1, describe(r));
      CHECK_MESSAGE(contains(r.err, "Asia/Shanghai"), describe(r));
      CHECK_MESSAGE(contains(r.err, warning), describe(r));
      CHECK(mt::run_json(lead, {"status"})["pending"] == pending);

      auto ok = run_with_tzdir(lead, empty.path(),
                               {"roster", "add", "--post", "south gate", "--area", kYili, "--start",
                                shanghai_text(start + kDay), "--end", shanghai_text(end + kDay)});
      REQUIRE_MESSAGE(ok.code == 0, describe(ok));
      const std::string added_id = mt::queued_id(ok);
      bool found = false;
      for (const auto& s : mt::run_json(lead, {"roster", "list"})) {
        if (s["id"] != added_id) continue;
        found = true;
        CHECK(s["start"] == shanghai_text(start + kDay));
      }
      CHECK(found);
    }

    SUBCASE("musterd serve refuses to start, naming the zone and TZDIR") {
      server.stop();
      const int port = mt::free_port();
      auto serve = mt::run({mt::binary_path("musterd"), "serve", "--data", server.data_dir(), "--listen",
                            "127.0.0.1:" + std::to_string(port)},
                           {{"TZDIR", empty.path()}}, std::nullopt, 10s);
      CHECK_MESSAGE(serve.code != 0, describe(serve));
      CHECK_MESSAGE(contains(serve.err, "Asia/Shanghai"), describe(serve));
      CHECK_MESSAGE(contains(serve.err, empty.path()), describe(serve));
      CHECK(mt::http_status(port, "/healthz") == -1);
      // With the database it serves again.
      server.start();
      CHECK(mt::http_status(server.port(), "/healthz") == 200);
    }
  }
}
