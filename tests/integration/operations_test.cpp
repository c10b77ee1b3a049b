// Operations (README "Backups and restore"): `musterd backup` while the server takes ops,
// `musterd restore` into a new data dir that then serves everything acked before the
// backup began, with gap-free seqs; what backup and restore refuse; owner-only data
// files; the WAL truncated when idle and at stop; `user add` and unknown areas; plugin
// accounts and WebSocket passwords; the client's exit code for its own storage.

#include <sys/stat.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "frames.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::contains;
using mt::describe;

const char* const kYili = "gulou/antai/yili";
const char* const kAntai = "gulou/antai";
const std::string kPassword = "password123";

int mode_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::uintmax_t size_or_zero(const fs::path& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

json hello(const std::string& user, const std::string& password, const std::string& device) {
  return {{"t", "hello"}, {"v", 1}, {"user", user}, {"password", password}, {"device", device}, {"cursors", json::object()}};
}

// Everything the server replays to a fresh device of `user` (no cursors): the events up
// to caught_up. Fails the test if there is no welcome.
std::vector<json> replay_all(int port, const std::string& user, const std::string& device) {
  mt::RawWs ws;
  REQUIRE(ws.connect(port));
  REQUIRE(ws.send_text(hello(user, kPassword, device).dump()));
  auto welcome = mt::next_frame(ws, 10s);
  REQUIRE_MESSAGE(welcome.has_value(), "no welcome; close " << ws.close_code() << " " << ws.close_reason());
  REQUIRE_MESSAGE(welcome->type() == "welcome", welcome->raw);
  std::vector<json> events;
  for (;;) {
    auto f = mt::next_frame(ws, 10s);
    REQUIRE_MESSAGE(f.has_value(), "no caught_up after " << events.size() << " events");
    if (f->type() == "caught_up") break;
    REQUIRE_MESSAGE(f->type() == "event", f->raw);
    events.push_back(f->j);
  }
  ws.close();
  return events;
}

// A new task in `area` queued by `c`; its op id.
std::string new_task(mt::ClientFixture& c, const std::string& title, const std::string& area) {
  auto r = c.run({"task", "new", "generic", "--title", title, "--area", area});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  return mt::queued_id(r);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("operations: a backup taken under load restores into a new data dir with every op acked before it") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kAntai);
    server.add_user("zhou", "coordinator", kAntai);
    REQUIRE(server.admin({"area", "add", kYili}).code == 0);
    server.start();
    mt::ClientFixture lead("lin"), coordinator("zhou");
    lead.login(server, "lin");
    coordinator.login(server, "zhou");

    // Load from two clients, each its own thread: queue a task, sync, note it acked.
    std::mutex m;
    std::vector<std::string> acked;
    std::vector<std::string> problems;
    std::atomic<bool> stop{false};
    auto load = [&](mt::ClientFixture& c, const std::string& who, const std::string& area) {
      for (int i = 0; i < 400 && !stop; ++i) {
        auto r = c.run({"task", "new", "generic", "--title", who + " 备份时的任务 " + std::to_string(i), "--area", area});
        if (r.code != 0) {
          std::lock_guard<std::mutex> lock(m);
          problems.push_back(describe(r));
          return;
        }
        const std::string id = mt::queued_id(r);
        auto s = c.run({"sync", "--timeout", "20", "--json"});
        auto j = json::parse(s.out, nullptr, false);
        if (s.code != 0 || !j.is_object() || j.value("pending", -1) != 0) {
          std::lock_guard<std::mutex> lock(m);
          problems.push_back(describe(s));
          return;
        }
        std::lock_guard<std::mutex> lock(m);
        acked.push_back(id);
      }
    };
    auto acked_count = [&] {
      std::lock_guard<std::mutex> lock(m);
      return acked.size();
    };
    std::thread lead_load(load, std::ref(lead), "lin", kAntai);
    std::thread coordinator_load(load, std::ref(coordinator), "zhou", kYili);
    struct Joiner {
      std::atomic<bool>& stop;
      std::thread& a;
      std::thread& b;
      ~Joiner() {
        stop = true;
        if (a.joinable()) a.join();
        if (b.joinable()) b.join();
      }
    } joiner{stop, lead_load, coordinator_load};

    REQUIRE(mt::wait_until([&] { return acked_count() >= 10; }, 60s, 20ms));
    std::set<std::string> acked_before;
    {
      std::lock_guard<std::mutex> lock(m);
      acked_before.insert(acked.begin(), acked.end());
    }
    mt::TempDir backups("muster-backups-");
    const std::string backup = backups.path() + "/nightly";
    const std::string key = backups.path() + "/hotline.key";
    const auto gseq_at_start = server.metric("muster_last_gseq").value_or(-1);
    auto made = server.admin({"backup", "--out", backup, "--key-out", key});
    const auto gseq_at_end = server.metric("muster_last_gseq").value_or(-1);
    // The load went on while it ran, and after.
    const std::size_t acked_at_end = acked_count();
    CHECK(mt::wait_until([&] { return acked_count() >= acked_at_end + 4; }, 60s, 20ms));
    stop = true;
    lead_load.join();
    coordinator_load.join();
    REQUIRE_MESSAGE(problems.empty(), (problems.empty() ? std::string() : problems.front()));
    REQUIRE_MESSAGE(made.code == 0, describe(made));
    MESSAGE("backup: " << made.out << "gseq " << gseq_at_start << " .. " << gseq_at_end << ", " << acked.size()
                       << " ops acked in all, " << acked_before.size() << " before the backup");
    CHECK(contains(made.out, "backed up"));
    CHECK(contains(made.err, "WARNING"));
    CHECK(contains(made.err, key));

    // What it wrote: owner-only, the key apart, a manifest that names the files.
    CHECK(mode_of(backup) == 0700);
    CHECK(mode_of(key) == 0600);
    CHECK(read_all(key) == read_all(server.data_dir() + "/hotline.key"));
    CHECK_FALSE(fs::exists(backup + "/hotline.key"));
    const json manifest = json::parse(read_all(backup + "/manifest.json"));
    CHECK(manifest["format"] == "muster-backup");
    CHECK(manifest["version"] == 1);
    for (const char* file : {"log.db", "directory.db", "manifest.json"}) {
      CAPTURE(file);
      CHECK(mode_of(fs::path(backup) / file) == 0600);
    }
    CHECK(manifest["files"].contains("log.db"));
    CHECK(manifest["files"].contains("directory.db"));
    CHECK_FALSE(fs::exists(backup + "/log.db-wal"));
    const auto backed_gseq = manifest["log"]["last_gseq"].get<std::int64_t>();
    CHECK(backed_gseq >= static_cast<std::int64_t>(acked_before.size()));
    CHECK(static_cast<double>(backed_gseq) >= gseq_at_start);
    CHECK(static_cast<double>(backed_gseq) <= gseq_at_end);

    // Restored into a new data dir, with the key, and served.
    mt::ServerFixture restored(mt::FromBackup{backup, {"--key", key}});
    CHECK(read_all(restored.data_dir() + "/hotline.key") == read_all(key));
    CHECK(mode_of(restored.data_dir() + "/hotline.key") == 0600);
    restored.start();
    CHECK(restored.metric("muster_last_gseq").value_or(-1) == static_cast<double>(backed_gseq));
    CHECK(restored.metric("muster_log_events").value_or(-1) == static_cast<double>(backed_gseq));

    // lin, the lead of gulou/antai, sees both areas: every task created before the
    // backup began is there once, and each scope's seqs run 1, 2, 3… without a gap.
    auto events = replay_all(restored.port(), "lin", "lin-restore-check");
    std::map<std::string, std::vector<std::int64_t>> seqs;
    std::map<std::string, int> created_by_op;
    std::set<std::int64_t> gseqs;
    for (const auto& e : events) {
      seqs[e["scope"].get<std::string>()].push_back(e["seq"].get<std::int64_t>());
      gseqs.insert(e["gseq"].get<std::int64_t>());
      if (e["kind"] == "task.created") ++created_by_op[e["op"].get<std::string>()];
    }
    CHECK(seqs.size() == 2);
    for (const auto& [scope, list] : seqs) {
      CAPTURE(scope);
      std::vector<std::int64_t> consecutive(list.size());
      for (std::size_t i = 0; i < list.size(); ++i) consecutive[i] = static_cast<std::int64_t>(i) + 1;
      CHECK_MESSAGE(list == consecutive, json(list).dump());
      CHECK(manifest["log"]["scopes"][scope] == static_cast<std::int64_t>(list.size()));
    }
    CHECK(gseqs.size() == events.size());
    CHECK(static_cast<std::int64_t>(events.size()) == backed_gseq);
    for (const auto& op : acked_before) {
      CAPTURE(op);
      CHECK(created_by_op[op] == 1);
    }

    // The restored server takes new work where the log left off.
    mt::ClientFixture after("lin-after");
    after.login(restored, "lin");
    new_task(after, "恢复之后的任务", kYili);
    REQUIRE(mt::sync(after, "lin") == 0);
    CHECK(restored.metric("muster_last_gseq").value_or(-1) == static_cast<double>(backed_gseq + 1));
  }

  TEST_CASE("operations: backup and restore refuse what they cannot do safely, and change nothing") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kAntai);
    mt::TempDir work("muster-restore-");
    const std::string backup = work.path() + "/backup";

    SUBCASE("backup: a non-empty --out, an existing --key-out") {
      fs::create_directories(backup);
      std::ofstream(backup + "/notes.txt") << "mine\n";
      auto r = server.admin({"backup", "--out", backup});
      CHECK(r.code == 2);
      CHECK(contains(r.err, "not an empty directory"));
      CHECK(read_all(backup + "/notes.txt") == "mine\n");
      CHECK_FALSE(fs::exists(backup + "/log.db"));

      const std::string key = work.path() + "/existing.key";
      std::ofstream(key) << "keep me";
      r = server.admin({"backup", "--out", work.path() + "/other", "--key-out", key});
      CHECK(r.code == 2);
      CHECK(read_all(key) == "keep me");
      CHECK_FALSE(fs::exists(work.path() + "/other"));
    }

    SUBCASE("restore: a non-empty target, a damaged file, a foreign manifest") {
      auto made = server.admin({"backup", "--out", backup});
      REQUIRE_MESSAGE(made.code == 0, describe(made));
      CHECK(contains(made.out, "the hotline key is not in the backup"));
      CHECK_FALSE(fs::exists(backup + "/hotline.key"));

      const std::string target = work.path() + "/target";
      fs::create_directories(target);
      std::ofstream(target + "/keep.txt") << "keep";
      auto r = mt::run({mt::binary_path("musterd"), "restore", backup, "--data", target});
      CHECK(r.code == 2);
      CHECK(contains(r.err, "not an empty directory"));
      CHECK(read_all(target + "/keep.txt") == "keep");
      CHECK_FALSE(fs::exists(target + "/log.db"));

      // One byte of directory.db changed: refused before anything is written.
      const std::string fresh = work.path() + "/fresh";
      {
        std::fstream f(backup + "/directory.db", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(200);
        f.put('\x5a');
      }
      r = mt::run({mt::binary_path("musterd"), "restore", backup, "--data", fresh});
      CHECK(r.code == 2);
      CHECK(contains(r.err, "damaged"));
      CHECK_FALSE(fs::exists(fresh));

      std::ofstream(backup + "/manifest.json", std::ios::trunc) << R"({"format":"something-else","version":1})";
      r = mt::run({mt::binary_path("musterd"), "restore", backup, "--data", fresh});
      CHECK(r.code == 2);
      CHECK(contains(r.err, "not a muster backup"));
      CHECK_FALSE(fs::exists(fresh));
    }

    SUBCASE("restore without a key: serve makes a new one when the log holds no sealed notes") {
      auto made = server.admin({"backup", "--out", backup});
      REQUIRE_MESSAGE(made.code == 0, describe(made));
      mt::ServerFixture restored(mt::FromBackup{backup, {}});
      CHECK_FALSE(fs::exists(restored.data_dir() + "/hotline.key"));
      restored.start();
      CHECK(mode_of(restored.data_dir() + "/hotline.key") == 0600);
      mt::ClientFixture c("lin");
      c.login(restored, "lin");  // the directory came along
    }
  }

  TEST_CASE("operations: a log with sealed hotline notes is restored only with its key, and the notes read again") {
    mt::ServerFixture server;
    server.add_user("hana", "hotline", kYili);
    server.start();
    mt::ClientFixture hana("hana");
    hana.login(server, "hana");
    mt::TempDir work("muster-restore-");
    const std::string notes_file = work.path() + "/notes.txt";
    std::ofstream(notes_file) << "来电者说她已经三天没有合眼，想知道社区能不能帮忙联系心理医生。";
    // A call that started yesterday (UTC; a day back is in the past in any zone).
    const std::time_t yesterday = std::time(nullptr) - 24 * 60 * 60;
    char started[32];
    std::strftime(started, sizeof started, "%Y-%m-%dT%H:%M", std::gmtime(&yesterday));
    auto logged = hana.run({"hotline", "log", "--started", started, "--duration", "25", "--category", "家庭矛盾",
                            "--risk", "2", "--notes-file", notes_file});
    REQUIRE_MESSAGE(logged.code == 0, describe(logged));
    const std::string call = mt::queued_id(logged);
    REQUIRE(mt::sync(hana, "hana") == 0);

    const std::string backup = work.path() + "/backup";
    auto made = server.admin({"backup", "--out", backup});
    REQUIRE_MESSAGE(made.code == 0, describe(made));
    CHECK(contains(made.out, "sealed notes of 1 call,"));
    CHECK_FALSE(contains(read_all(backup + "/log.db"), "三天没有合眼"));

    const std::string target = work.path() + "/restored";
    auto r = mt::run({mt::binary_path("musterd"), "restore", backup, "--data", target});
    CHECK(r.code == 2);
    CHECK(contains(r.err, "--key"));
    CHECK_FALSE(fs::exists(target));

    // The key the server holds, copied as an admin would have kept it.
    const std::string key = work.path() + "/hotline.key";
    fs::copy_file(server.data_dir() + "/hotline.key", key);
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    server.stop();
    mt::ServerFixture restored(mt::FromBackup{backup, {"--key", key}});
    restored.start();
    mt::ClientFixture again("hana-again");
    again.login(restored, "hana");
    auto shown = again.run({"hotline", "show", call});
    CHECK_MESSAGE(shown.code == 0, describe(shown));
    CHECK(contains(shown.out, "三天没有合眼"));
  }

  TEST_CASE("operations: data files are owner-only, and the WAL is truncated when idle and at stop") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kAntai);
    // An older musterd made these 0644: the next start narrows them.
    fs::permissions(server.data_dir() + "/log.db", fs::perms::owner_read | fs::perms::owner_write |
                                                       fs::perms::group_read | fs::perms::others_read);
    server.start();
    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    for (int i = 0; i < 5; ++i) new_task(lead, "楼道消毒 " + std::to_string(i), kAntai);
    REQUIRE(mt::sync(lead, "lin") == 0);

    const fs::path dir = server.data_dir();
    CHECK(mode_of(dir) == 0700);
    for (const char* file : {"log.db", "log.db-wal", "log.db-shm", "directory.db", "hotline.key"}) {
      CAPTURE(file);
      CHECK(mode_of(dir / file) == 0600);
    }
    // Idle now: within a few polls the log's WAL is copied in and cut to nothing.
    const bool truncated = mt::wait_until(
        [&] { return server.metric("muster_wal_checkpoints_total").value_or(0) >= 1 && size_or_zero(dir / "log.db-wal") == 0; },
        20s, 100ms);
    CHECK_MESSAGE(truncated, "log.db-wal is " << size_or_zero(dir / "log.db-wal") << " bytes\n" << server.log());

    new_task(lead, "再来一个", kAntai);
    REQUIRE(mt::sync(lead, "lin") == 0);
    server.stop();
    CHECK(size_or_zero(dir / "log.db-wal") == 0);
  }

  TEST_CASE("operations: user add refuses an unknown area unless --create-area") {
    mt::ServerFixture server;
    server.add_user("zhou", "coordinator", kAntai);
    auto areas_before = server.admin({"area", "list", "--json"});
    REQUIRE(areas_before.code == 0);

    auto r = server.admin({"user", "add", "wang", "--role", "volunteer", "--area", "gulou/nowhere", "--password-stdin"},
                          kPassword + "\n");
    CHECK(r.code == 2);
    CHECK(contains(r.err, "no area 'gulou/nowhere'"));
    CHECK(contains(r.err, "--create-area"));
    CHECK(server.admin({"area", "list", "--json"}).out == areas_before.out);
    CHECK_FALSE(contains(server.admin({"user", "list"}).out, "wang"));

    r = server.admin({"user", "add", "wang", "--role", "volunteer", "--area", kAntai, "--password-stdin"}, kPassword + "\n");
    CHECK_MESSAGE(r.code == 0, describe(r));
    r = server.admin({"user", "add", "li", "--role", "volunteer", "--area", "gulou/antai/yili/b5", "--create-area",
                      "--password-stdin"},
                     kPassword + "\n");
    CHECK_MESSAGE(r.code == 0, describe(r));
    CHECK(contains(server.admin({"area", "list"}).out, "gulou/antai/yili/b5"));
  }

  TEST_CASE("operations: a plugin account cannot log in over WebSocket or to the broker with its password") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("bridge", "plugin", kYili);
    server.start();
    {
      mt::BrokerFixture broker(server);
      CHECK_FALSE(contains(read_all(broker.out_dir() + "/passwd"), "bridge:"));
      CHECK(broker.publish("bridge", kPassword, "muster/v1/req/bridge", R"({"t":"ping"})").code != 0);
      CHECK(broker.publish("lin", kPassword, "muster/v1/req/lin", R"({"t":"ping"})").code == 0);
    }
    const double failures = server.metric("muster_auth_failures_total").value_or(-1);
    mt::RawWs ws;
    REQUIRE(ws.connect(server.port()));
    REQUIRE(ws.send_text(hello("bridge", kPassword, "laptop").dump()));
    REQUIRE(ws.wait_closed(10s));
    CHECK(ws.close_code() == 1008);
    CHECK(contains(ws.close_reason(), "plugin host"));
    CHECK(server.metric("muster_auth_failures_total").value_or(-1) == failures + 1);
    // A person's account with the same kind of hello is let in (welcome, caught_up).
    CHECK(replay_all(server.port(), "lin", "lin-desk").empty());
  }

  TEST_CASE("operations: the client's own database failing is exit 4, not 2 (rejected by the server)") {
    mt::ClientFixture c("lin");
    std::ofstream(c.home() + "/client.db", std::ios::binary) << std::string(4096, 'x');
    auto r = c.run({"task", "list"});
    CHECK(r.code == 4);
    CHECK(contains(r.err, "local database error"));
  }
}
