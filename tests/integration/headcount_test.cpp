// Issue 6, head-counts, tests 1 and 2, with the real musterd and muster on 127.0.0.1:
// a 3-building registry imported from CSV, a round, marks from two volunteers (one of
// them offline, marking the household the other marked: the later to reach the server
// wins, both are in the history), `status --by building --json` exact, and close making
// exactly one doorknock task per missing household. A malformed CSV is rejected with its
// line and changes nothing. Phones reach leads only, and only by asking.

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
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

const std::string kYili = "gulou/antai/yili";
const std::string kB1 = "gulou/antai/yili/b1";
const std::string kB2 = "gulou/antai/yili/b2";
const std::string kB3 = "gulou/antai/yili/b3";

// Three buildings, eight households, with phones.
const std::string kRegistry =
    "area,household,address,members,phone\n"
    "gulou/antai/yili/b1,b1-101,1栋101,3,13800000101\n"
    "gulou/antai/yili/b1,b1-102,1栋102,2,13800000102\n"
    "gulou/antai/yili/b1,b1-201,\"1栋201, 东单元\",4,13800000201\n"
    "gulou/antai/yili/b2,b2-101,2栋101,1,13800000211\n"
    "gulou/antai/yili/b2,b2-102,2栋102,2,13800000212\n"
    "gulou/antai/yili/b3,b3-501,3栋501,3,13800000351\n"
    "gulou/antai/yili/b3,b3-502,3栋502,2,13800000352\n"
    "gulou/antai/yili/b3,b3-601,3栋601,5,13800000361\n";

std::string write_file(const mt::TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Rows of a SELECT of text columns, for reading the databases the programs wrote.
std::vector<std::vector<std::string>> rows(const std::string& db_path, const std::string& sql, int columns) {
  muster::store::OpenOptions options;
  options.create = false;
  auto db = muster::store::Db::open(db_path, options);
  auto s = db.prepare(sql);
  std::vector<std::vector<std::string>> out;
  while (s.step()) {
    std::vector<std::string> row;
    for (int i = 0; i < columns; ++i) row.push_back(s.text(i));
    out.push_back(std::move(row));
  }
  return out;
}

// The registry as stored in directory.db, one line per household.
std::vector<std::vector<std::string>> registry_rows(const mt::ServerFixture& server) {
  return rows(server.data_dir() + "/directory.db",
              "SELECT id, area, address, CAST(members AS TEXT), phone, updated FROM households ORDER BY id", 6);
}

// The household events in the server's log, as "kind id".
std::vector<std::string> household_events(const mt::ServerFixture& server) {
  std::vector<std::string> out;
  for (const auto& r : rows(server.data_dir() + "/log.db",
                            "SELECT kind, json_extract(frame, '$.body.id') FROM events WHERE kind LIKE 'household.%' "
                            "ORDER BY gseq",
                            2)) {
    out.push_back(r.at(0) + " " + r.at(1));
  }
  return out;
}

// An object of the client's replica (client.db), as JSON; null if absent.
json replica_object(const mt::ClientFixture& c, const std::string& type, const std::string& id) {
  muster::store::OpenOptions options;
  options.create = false;
  auto db = muster::store::Db::open(c.home() + "/client.db", options);
  auto s = db.prepare("SELECT json FROM objects WHERE type = ?1 AND id = ?2");
  s.bind(1, type).bind(2, id);
  if (!s.step()) return nullptr;
  auto j = json::parse(s.text(0));
  s.reset();
  return j;
}

std::set<std::string> replica_ids(const mt::ClientFixture& c, const std::string& type) {
  std::set<std::string> out;
  muster::store::OpenOptions options;
  options.create = false;
  auto db = muster::store::Db::open(c.home() + "/client.db", options);
  auto s = db.prepare("SELECT id FROM objects WHERE type = ?1");
  s.bind(1, type);
  while (s.step()) out.insert(s.text(0));
  return out;
}

json building(const std::string& area, int expected, int counted, int people) {
  return {{"area", area}, {"expected", expected}, {"counted", counted}, {"missing", expected - counted},
          {"people", people}};
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("headcount: import, a round, marks from two volunteers (one offline), status by building, close") {
    mt::ServerFixture server;
    server.add_user("yan", "lead", kYili);
    server.add_user("bob", "volunteer", kB1);
    server.add_user("carol", "volunteer", kB1);
    server.add_user("erin", "volunteer", kB3);
    mt::TempDir files("headcount-");
    const std::string csv = write_file(files, "registry.csv", kRegistry);
    auto imported = server.admin({"import", "households", csv});
    REQUIRE_MESSAGE(imported.code == 0, describe(imported));
    CHECK(imported.out == "added 8, updated 0, unchanged 0\n");
    auto again = server.admin({"import", "households", csv});
    CHECK(again.out == "added 0, updated 0, unchanged 8\n");
    server.start();

    mt::ClientFixture lead("yan"), bob("bob"), carol("carol"), erin("erin");
    lead.login(server, "yan");
    bob.login(server, "bob");
    carol.login(server, "carol");
    erin.login(server, "erin");

    // Each replica holds the households of the buildings its user sees, never a phone.
    CHECK(replica_ids(lead, "household").size() == 8);
    CHECK(replica_ids(bob, "household") == std::set<std::string>{"b1-101", "b1-102", "b1-201"});
    CHECK(replica_ids(erin, "household") == std::set<std::string>{"b3-501", "b3-502", "b3-601"});
    CHECK(replica_object(bob, "household", "b1-201") ==
          json{{"id", "b1-201"}, {"area", kB1}, {"address", "1栋201, 东单元"}, {"members", 4},
               {"registered_at", replica_object(bob, "household", "b1-201")["registered_at"]}});

    auto opened = lead.run({"headcount", "open", "--area", kYili, "--title", "全员核酸 第1轮", "--closes",
                            mt::shanghai_input(mt::shanghai_midnight(mt::real_now() + mt::kDay) + 18 * mt::kHour)});
    REQUIRE_MESSAGE(opened.code == 0, describe(opened));
    const std::string round = mt::queued_id(opened);
    REQUIRE(sync(lead, "yan") == 0);
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(sync(carol, "carol") == 0);
    REQUIRE(sync(erin, "erin") == 0);

    // carol sweeps her floor with no signal: marks queue and count at once, locally.
    server.stop();
    auto offline = carol.run({"headcount", "mark", round.substr(20), "b1-201", "absent"});
    REQUIRE_MESSAGE(offline.code == 0, describe(offline));
    CHECK(contains(offline.out, "queued"));
    auto file = carol.run({"headcount", "mark", round, "--file", "-"}, "# carol, 1栋\nb1-102 done 2\n");
    REQUIRE_MESSAGE(file.code == 0, describe(file));
    CHECK(std::count(file.out.begin(), file.out.end(), '\n') == 1);  // one mark, one op
    auto local = run_json(carol, {"headcount", "status", round});
    CHECK(local["partial"] == true);
    CHECK(local["by_building"] == json::array({building(kB1, 3, 2, 2)}));
    CHECK(carol.run({"sync", "--timeout", "5"}).code == 3);

    // Meanwhile bob, online, marks the same household and arrives first.
    server.start();
    REQUIRE(bob.run({"headcount", "mark", round, "b1-201", "done", "--people", "4"}).code == 0);
    REQUIRE(bob.run({"headcount", "mark", round, "b1-101", "done", "--people", "3"}).code == 0);
    REQUIRE(sync(bob, "bob") == 0);
    REQUIRE(erin.run({"headcount", "mark", round, "b3-501", "done", "--people", "3"}).code == 0);
    REQUIRE(sync(erin, "erin") == 0);
    // carol's marks reach the server later: hers win.
    REQUIRE(sync(carol, "carol") == 0);
    REQUIRE(sync(lead, "yan") == 0);

    auto status = run_json(lead, {"headcount", "status", round, "--by", "building"});
    CHECK(status == json{{"round", round},
                         {"area", kYili},
                         {"title", "全员核酸 第1轮"},
                         {"closed", false},
                         {"expected", 8},
                         {"counted", 4},
                         {"missing", 4},
                         {"people", 8},
                         {"by_building", {building(kB1, 3, 3, 5), building(kB2, 2, 0, 0), building(kB3, 3, 1, 3)}}});
    auto missing = run_json(lead, {"headcount", "status", round, "--missing"});
    CHECK(missing["missing_households"] ==
          json::array({json{{"household", "b2-101"}, {"area", kB2}, {"address", "2栋101"}},
                       json{{"household", "b2-102"}, {"area", kB2}, {"address", "2栋102"}},
                       json{{"household", "b3-502"}, {"area", kB3}, {"address", "3栋502"}},
                       json{{"household", "b3-601"}, {"area", kB3}, {"address", "3栋601"}}}));
    auto text = lead.run({"headcount", "status", round, "--by", "building"});
    CHECK(contains(text.out, "expected 8, counted 4, missing 4, people 8"));

    // Later wins, both in the history, in every replica that sees the building.
    REQUIRE(sync(bob, "bob") == 0);
    for (auto* c : {&lead, &bob}) {
      auto mark = replica_object(*c, "mark", round + "/b1-201");
      REQUIRE(mark.is_object());
      CHECK(mark["status"] == "absent");
      CHECK(mark["by"] == "carol");
      REQUIRE(mark["history"].size() == 2);
      CHECK(mark["history"][0]["by"] == "bob");
      CHECK(mark["history"][0]["status"] == "done");
      CHECK(mark["history"][0]["people"] == 4);
      CHECK(mark["history"][1]["by"] == "carol");
    }
    CHECK(replica_ids(erin, "mark") == std::set<std::string>{round + "/b3-501"});  // b1's marks stay in b1

    // Close: exactly one doorknock task per missing household, in its building.
    auto closed = lead.run({"headcount", "close", round.substr(22)});
    REQUIRE_MESSAGE(closed.code == 0, describe(closed));
    const std::string close_id = mt::queued_id(closed);
    REQUIRE(sync(lead, "yan") == 0);
    auto tasks = run_json(lead, {"task", "list"});
    REQUIRE(tasks.is_array());
    std::multiset<std::string> households;
    for (const auto& t : tasks) {
      CHECK(t["kind"] == "doorknock");
      CHECK(t["state"] == "open");
      CHECK(t["dispatch"] == "claim");
      CHECK(t["id"] == close_id + "-" + t["details"]["household"].get<std::string>());
      CHECK(t["details"]["round"] == round);
      households.insert(t["details"]["household"].get<std::string>());
    }
    CHECK(households == std::multiset<std::string>{"b2-101", "b2-102", "b3-502", "b3-601"});
    const json b3502 = *std::find_if(tasks.begin(), tasks.end(), [](const json& t) {
      return t["details"]["household"] == "b3-502";
    });
    CHECK(b3502["area"] == kB3);
    CHECK(b3502["title"] == "上门核查 3栋502");
    CHECK(run_json(lead, {"headcount", "status", round})["closed"] == true);
    auto listed = run_json(lead, {"headcount", "list"});
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["closed"] == true);
    CHECK(listed[0]["counted"] == 4);

    // The building's volunteer gets its doorknocks and takes one by the household's suffix.
    REQUIRE(sync(erin, "erin") == 0);
    auto erins = run_json(erin, {"task", "list"});
    CHECK(erins.size() == 2);
    auto claim = erin.run({"task", "claim", "b3-502"});
    CHECK_MESSAGE(claim.code == 0, describe(claim));
    REQUIRE(sync(erin, "erin") == 0);
    CHECK(run_json(erin, {"task", "show", close_id + "-b3-502"})["assignee"] == "erin");

    // A mark after the close is refused by the server and rolled back.
    REQUIRE(erin.run({"headcount", "mark", round, "b3-601", "done"}).code == 2);  // the replica knows it closed
    REQUIRE(bob.run({"headcount", "mark", round, "b1-101", "absent"}).code == 0);  // bob's does not, yet
    auto refused = bob.run({"sync", "--timeout", "15"});
    CHECK(refused.code == 2);
    CHECK(contains(refused.err, "conflict"));
    CHECK(run_json(bob, {"headcount", "status", round})["closed"] == true);
  }

  TEST_CASE("headcount: a malformed CSV is rejected with its line and the registry does not change") {
    mt::ServerFixture server;
    mt::TempDir files("headcount-bad-");
    REQUIRE(server.admin({"import", "households", write_file(files, "registry.csv", kRegistry)}).code == 0);
    server.start();
    REQUIRE(mt::wait_until([&] { return household_events(server).size() == 8; }, 10s));
    const auto stored = registry_rows(server);
    REQUIRE(stored.size() == 8);
    const auto events = household_events(server);

    // Each file changes b1-101 (members 3 -> 9) on its first row and adds b9-1, then goes wrong.
    const std::string start = "area,household,address,members,phone\n"
                              "gulou/antai/yili/b1,b1-101,1栋101,9,13800000101\n"
                              "gulou/antai/yili/b9,b9-1,9栋1,1,\n";
    struct Bad {
      std::string name;
      std::string rest;
      std::string error;
    };
    const std::vector<Bad> bad{
        {"quote.csv", "gulou/antai/yili/b3,b3-701,\"3栋701,2,\n", "quote.csv:4: quoted field is not closed (a \" is missing)"},
        {"stray.csv", "gulou/antai/yili/b3,b3-701,3栋\"701,2,\n",
         "stray.csv:4: quote inside an unquoted field (quote the whole field and write \"\" for a quote)"},
        {"column.csv", "gulou/antai/yili/b3,b3-701,3栋701,2\n",
         "column.csv:4: expected 5 fields (area,household,address,members,phone), found 4"},
        {"duplicate.csv", "gulou/antai/yili/b3,b3-701,3栋701,2,\ngulou/antai/yili/b2,b1-101,2栋9,1,\n",
         "duplicate.csv:5: household b1-101 appears twice (first on line 2)"},
    };
    for (const auto& b : bad) {
      CAPTURE(b.name);
      auto r = server.admin({"import", "households", write_file(files, b.name, start + b.rest)});
      CHECK(r.code == 1);
      CHECK(r.out.empty());
      CHECK(r.err == files.path() + "/" + b.error + "\n");
      CHECK(registry_rows(server) == stored);
    }
    // The server had a second to publish anything: nothing new.
    std::this_thread::sleep_for(1500ms);
    CHECK(household_events(server) == events);
    CHECK(server.running());

    // The same changes in a good file go in, and are published.
    auto good = server.admin({"import", "households", write_file(files, "fixed.csv", start)});
    REQUIRE_MESSAGE(good.code == 0, describe(good));
    CHECK(good.out == "added 1, updated 1, unchanged 0\n");  // the other seven are not in this file: kept
    CHECK(registry_rows(server).size() == 9);
    CHECK(mt::wait_until([&] { return household_events(server).size() == 10; }, 10s));
    auto after = household_events(server);
    CHECK(std::vector<std::string>(after.begin() + 8, after.end()) ==
          std::vector<std::string>{"household.updated b1-101", "household.registered b9-1"});

    // Usage errors.
    CHECK(server.admin({"import", "households"}).code == 1);
    CHECK(server.admin({"import", "households", files.path() + "/nope.csv"}).code == 1);
    CHECK(server.admin({"import", "people", files.path() + "/fixed.csv"}).code == 1);
  }

  TEST_CASE("headcount: a lead asks for a phone, a volunteer is refused; updates reach the replicas live") {
    mt::ServerFixture server;
    server.add_user("yan", "lead", kYili);
    server.add_user("bob", "volunteer", kB1);
    mt::TempDir files("headcount-phone-");
    REQUIRE(server.admin({"import", "households", write_file(files, "registry.csv", kRegistry)}).code == 0);
    server.start();
    mt::ClientFixture lead("yan"), bob("bob");
    lead.login(server, "yan");
    bob.login(server, "bob");

    auto phone = run_json(lead, {"headcount", "household", "b3-502"});
    CHECK(phone["household"] == "b3-502");
    CHECK(phone["area"] == kB3);
    CHECK(phone["address"] == "3栋502");
    CHECK(phone["members"] == 2);
    CHECK(phone["phone"] == "13800000352");
    auto text = lead.run({"headcount", "household", "b3-502"});
    CHECK(contains(text.out, "phone      13800000352"));

    auto refused = bob.run({"headcount", "household", "b1-101"});
    CHECK(refused.code == 2);
    CHECK(contains(refused.err, "forbidden: only leads, coordinators and admins of gulou/antai/yili/b1"));
    CHECK(refused.out.empty());
    auto unknown = lead.run({"headcount", "household", "b9-999"});
    CHECK(unknown.code == 2);
    CHECK(contains(unknown.err, "not_found"));

    // A re-import while serving: the change reaches the replicas, the phone never does.
    const std::string changed = "area,household,address,members,phone\n"
                                "gulou/antai/yili/b1,b1-101,1栋101 (新),3,13911112222\n";
    auto r = server.admin({"import", "households", write_file(files, "changed.csv", changed)});
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    CHECK(r.out == "added 0, updated 1, unchanged 0\n");
    CHECK(mt::wait_until(
        [&] {
          if (sync(bob, "bob") != 0) return false;
          return replica_object(bob, "household", "b1-101")["address"] == "1栋101 (新)";
        },
        10s, 200ms));
    REQUIRE(sync(lead, "yan") == 0);
    CHECK(run_json(lead, {"headcount", "household", "b1-101"})["phone"] == "13911112222");
    server.stop();
    for (const auto* c : {&lead, &bob}) {
      for (const char* file : {"/client.db", "/client.db-wal"}) {
        const std::string bytes = read_file(c->home() + file);
        CHECK(bytes.find("1380000") == std::string::npos);
        CHECK(bytes.find("13911112222") == std::string::npos);
      }
    }
    const std::string log = read_file(server.data_dir() + "/log.db") + read_file(server.data_dir() + "/log.db-wal");
    CHECK(log.find("1380000") == std::string::npos);
    CHECK(log.find("13911112222") == std::string::npos);
  }
}
