// The confidential hotline log (issue 6, tests 3, 4 and 5), with the real musterd and
// muster on 127.0.0.1:
//  3. a volunteer's client cannot read hotline calls: logging is forbidden (locally, and
//     by the server when sent raw), `hotline show` is forbidden, no hotline event reaches
//     its replica, and the notes' plain text is in no file of the server's data dir nor
//     of the volunteer's (nor, once the server confirmed the call, of the operator's);
//  4. the server refuses to start with a hotline key others can read, with a clear
//     message (and when the key is gone while sealed notes exist);
//  5. a follow-up task reaches a volunteer of the area with the brief only;
//  and the retention purge, with the server stopped and with it running.

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "frames.hpp"
#include "muster/base/time.hpp"
#include "muster/store/sqlite.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;

namespace {

using mt::contains;
using mt::describe;
using mt::parse_json;
using mt::run_json;
using mt::sync;

// Distinctive, so finding it anywhere means the notes leaked.
const std::string kNotes = "来电者说她已经三天没有合眼，丈夫失业后家里常常争吵，她想知道社区能不能帮忙联系心理医生。";
const std::string kNotesPart = "三天没有合眼";
const std::string kBrief = "回访：明早九点电话问候，确认是否已约到心理医生";
const std::string kCategory = "家庭矛盾";

// Every byte of every file in `dir` (databases, their WAL and shm files, keys, ...).
std::string raw_files(const std::string& dir) {
  std::string out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

std::vector<std::string> file_names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path().filename().string());
  return out;
}

// A count from a database file, read-only (the writer may be running).
std::int64_t count_in(const std::string& path, const std::string& sql) {
  muster::store::OpenOptions options;
  options.read_only = true;
  options.create = false;
  auto db = muster::store::Db::open(path, options);
  auto s = db.prepare(sql);
  REQUIRE(s.step());
  auto n = s.int64(0);
  s.reset();
  return n;
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

// `muster hotline log` with the usual fields; extra args appended.
mt::RunResult log_call(mt::ClientFixture& c, std::vector<std::string> extra, const std::string& risk = "2") {
  std::vector<std::string> args{"hotline", "log", "--started", "2026-10-01T21:40", "--duration", "25",
                                "--category", kCategory, "--risk", risk};
  args.insert(args.end(), extra.begin(), extra.end());
  return c.run(args);
}

// `musterd serve` as a one-off process that is expected to refuse to start.
mt::RunResult serve_once(const mt::ServerFixture& server) {
  return mt::run({mt::binary_path("musterd"), "serve", "--data", server.data_dir(), "--listen",
                  "127.0.0.1:" + std::to_string(server.port())},
                 {}, std::nullopt, std::chrono::seconds(15));
}

std::string key_path(const mt::ServerFixture& server) { return server.data_dir() + "/hotline.key"; }

void set_clock(const std::string& path, muster::UnixMs when) {
  std::ofstream out(path, std::ios::trunc);
  out << muster::format_utc(when) << '\n';
}

constexpr muster::UnixMs kDay = 24LL * 60 * 60 * 1000;

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("hotline: a volunteer's client cannot read calls, and the notes are in no file in plain text") {
    mt::ServerFixture server;
    server.add_user("hana", "hotline", "gulou/antai/yili");
    server.add_user("mei", "hotline,lead", "gulou/antai");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.start();

    mt::ClientFixture hana("hana"), mei("mei"), wang("wang");
    hana.login(server, "hana");
    mei.login(server, "mei");
    wang.login(server, "wang");

    // The operator logs a call whose notes come from a file.
    mt::TempDir scratch("hotline-notes-");
    const std::string notes_file = write_file(scratch.path(), "notes.txt", kNotes);
    auto logged = log_call(hana, {"--notes-file", notes_file, "--followup", kBrief});
    REQUIRE_MESSAGE(logged.code == 0, describe(logged));
    const std::string call = mt::queued_id(logged);
    REQUIRE(sync(hana, "hana") == 0);

    // Hotline users read it: the operator and another hotline user, from the server.
    for (auto* reader : {&hana, &mei}) {
      auto shown = run_json(*reader, {"hotline", "show", call});
      CHECK(shown["notes"] == kNotes);
      CHECK(shown["call"]["operator"] == "hana");
      CHECK(shown["call"]["category"] == kCategory);
      CHECK(shown["call"]["has_notes"] == true);
    }
    auto text = hana.run({"hotline", "show", call.substr(20)});  // a suffix of the id will do
    REQUIRE_MESSAGE(text.code == 0, describe(text));
    CHECK(contains(text.out, kNotes));
    REQUIRE(sync(mei, "mei") == 0);
    auto listed = run_json(mei, {"hotline", "list"});
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["id"] == call);
    CHECK_FALSE(contains(listed.dump(), kNotesPart));  // the list never has the notes

    // The volunteer: logging is refused here, nothing is queued.
    auto refused = log_call(wang, {"--notes", kNotes});
    CHECK_MESSAGE(refused.code == 2, describe(refused));
    CHECK(contains(refused.err, "forbidden"));
    CHECK(run_json(wang, {"status"})["pending"] == 0);

    // Sent raw, the server refuses it too.
    {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      REQUIRE(ws.send_text(json{{"t", "hello"}, {"v", 1}, {"user", "wang"}, {"password", "password123"},
                                {"device", "wang-raw"}}
                               .dump()));
      const std::string op = mt::new_id();
      bool sent = false;
      std::optional<mt::Frame> ack;
      const auto deadline = mt::SteadyClock::now() + std::chrono::seconds(10);
      while (!ack && mt::SteadyClock::now() < deadline) {
        auto f = mt::next_frame(ws, mt::left_until(deadline));
        if (!f) break;
        CHECK_FALSE(f->str("scope") == "role:hotline");
        if (f->type() == "caught_up" && !sent) {
          sent = true;
          REQUIRE(ws.send_text(json{{"t", "op"},
                                    {"id", op},
                                    {"kind", "hotline.log"},
                                    {"body",
                                     {{"started", "2026-10-01T13:40:00Z"},
                                      {"duration", 5},
                                      {"category", "x"},
                                      {"risk", 1},
                                      {"notes", kNotes}}}}
                                   .dump()));
        }
        if (f->type() == "ack" && f->str("id") == op) ack = f;
      }
      REQUIRE(ack.has_value());
      CHECK(ack->j["ok"] == false);
      CHECK(ack->j["error"]["code"] == "forbidden");
      ws.close();
    }

    // It cannot read calls: the query is refused by the server, its replica has none.
    auto show = wang.run({"hotline", "show", call});
    CHECK_MESSAGE(show.code == 2, describe(show));
    CHECK(contains(show.err, "forbidden"));
    CHECK_FALSE(contains(show.out + show.err, kNotesPart));
    REQUIRE(sync(wang, "wang") == 0);
    CHECK(run_json(wang, {"hotline", "list"}) == json::array());
    const std::string wang_db = wang.home() + "/client.db";
    CHECK(count_in(wang_db, "SELECT count(*) FROM objects WHERE type = 'call'") == 0);
    CHECK(count_in(wang_db, "SELECT count(*) FROM cursors WHERE scope LIKE 'role:%'") == 0);
    CHECK(count_in(wang_db, "SELECT count(*) FROM config WHERE value LIKE '%role:hotline%'") == 0);
    CHECK(count_in(hana.home() + "/client.db", "SELECT count(*) FROM objects WHERE type = 'call'") == 1);

    // The plain text is in no file: the server's data dir (log.db and its WAL,
    // directory.db, ...), the volunteer's home, and — the server having confirmed the
    // call — the operator's home. Nor in the server's output or its metrics.
    auto files = file_names(server.data_dir());
    CHECK(std::find(files.begin(), files.end(), "log.db") != files.end());
    CHECK(std::find(files.begin(), files.end(), "log.db-wal") != files.end());
    CHECK(std::find(files.begin(), files.end(), "directory.db") != files.end());
    CHECK_FALSE(contains(raw_files(server.data_dir()), kNotesPart));
    CHECK_FALSE(contains(raw_files(wang.home()), kNotesPart));
    CHECK_FALSE(contains(raw_files(hana.home()), kNotesPart));
    CHECK_FALSE(contains(raw_files(mei.home()), kNotesPart));
    CHECK_FALSE(contains(server.log(), kNotesPart));
    auto metrics = mt::http_get(server.port(), "/metrics");
    REQUIRE(metrics.has_value());
    CHECK_FALSE(contains(*metrics, kNotesPart));
    // But they are there, sealed: one row in hotline_notes.
    CHECK(count_in(server.data_dir() + "/log.db", "SELECT count(*) FROM hotline_notes") == 1);
    server.stop();
    CHECK_FALSE(contains(raw_files(server.data_dir()), kNotesPart));  // after the final checkpoint too
  }

  TEST_CASE("hotline: the server refuses to start with a hotline key others can read, with a clear message") {
    mt::ServerFixture server;
    server.add_user("hana", "hotline", "gulou/antai/yili");
    struct stat st {};
    REQUIRE(::stat(key_path(server).c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(st.st_size == 32);

    for (mode_t mode : {0644, 0640, 0604}) {
      CAPTURE(mode);
      REQUIRE(::chmod(key_path(server).c_str(), mode) == 0);
      auto r = serve_once(server);
      CHECK_MESSAGE(r.code == 2, describe(r));
      CHECK(contains(r.err, "refusing to start"));
      CHECK(contains(r.err, key_path(server)));
      char octal[8];
      std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
      CHECK(contains(r.err, octal));
      CHECK(contains(r.err, "chmod 600 " + key_path(server)));
    }
    REQUIRE(::chmod(key_path(server).c_str(), 0600) == 0);
    server.start();

    // With sealed notes in the log, a missing key is not quietly replaced by a new one.
    mt::ClientFixture hana("hana");
    hana.login(server, "hana");
    REQUIRE(log_call(hana, {"--notes", kNotes}).code == 0);
    REQUIRE(sync(hana, "hana") == 0);
    server.stop();
    const std::string aside = server.data_dir() + "/hotline.key.aside";
    std::filesystem::rename(key_path(server), aside);
    auto missing = serve_once(server);
    CHECK_MESSAGE(missing.code == 2, describe(missing));
    CHECK(contains(missing.err, key_path(server) + " is missing"));
    CHECK_FALSE(std::filesystem::exists(key_path(server)));
    std::filesystem::rename(aside, key_path(server));
    server.start();
    auto shown = run_json(hana, {"hotline", "show", run_json(hana, {"hotline", "list"})[0]["id"].get<std::string>()});
    CHECK(shown["notes"] == kNotes);
  }

  TEST_CASE("hotline: a follow-up is offered to one volunteer of the area with the brief only") {
    mt::ServerFixture server;
    server.add_user("hana", "hotline", "gulou/antai/yili");
    server.add_user("wang", "volunteer", "gulou/antai/yili/b3");
    server.add_user("zhao", "volunteer", "gulou/xinjie");
    server.start();
    mt::ClientFixture hana("hana"), wang("wang"), zhao("zhao");
    hana.login(server, "hana");
    wang.login(server, "wang");
    zhao.login(server, "zhao");

    auto logged = log_call(hana, {"--area", "gulou/antai/yili/b3", "--notes", kNotes, "--followup", kBrief}, "5");
    REQUIRE_MESSAGE(logged.code == 0, describe(logged));
    const std::string call = mt::queued_id(logged);
    REQUIRE(sync(hana, "hana") == 0);
    auto mine = run_json(hana, {"hotline", "list"});
    REQUIRE(mine.size() == 1);
    CHECK(mine[0]["followup_task"] == call + "-f");
    CHECK(mine[0]["escalated"] == true);  // risk 5

    REQUIRE(sync(wang, "wang") == 0);
    auto tasks = run_json(wang, {"task", "list"});
    REQUIRE(tasks.size() == 1);
    auto task = run_json(wang, {"task", "show", call + "-f"});
    CHECK(task["kind"] == "hotline_followup");
    CHECK(task["creator"] == "hotline");  // not the operator
    CHECK(task["title"] == kBrief);
    CHECK(task["area"] == "gulou/antai/yili/b3");
    CHECK(task["state"] == "offered");
    CHECK(task["offered_to"] == "wang");
    CHECK(task["details"] == json{{"brief", kBrief}, {"area", "gulou/antai/yili/b3"}});
    const std::string dump = task.dump();
    CHECK_FALSE(contains(dump, kNotesPart));
    CHECK_FALSE(contains(dump, kCategory));
    CHECK_FALSE(contains(dump, "hana"));
    CHECK_FALSE(contains(dump, "caller"));
    CHECK_FALSE(contains(dump, "notes"));
    CHECK_FALSE(contains(dump, "risk"));
    CHECK(run_json(wang, {"hotline", "list"}) == json::array());
    CHECK_FALSE(contains(raw_files(wang.home()), kNotesPart));
    CHECK_FALSE(contains(raw_files(wang.home()), kCategory));

    // The volunteer can act on it.
    auto accept = wang.run({"task", "accept", call + "-f"});
    REQUIRE_MESSAGE(accept.code == 0, describe(accept));
    REQUIRE(sync(wang, "wang") == 0);
    CHECK(run_json(wang, {"task", "show", call + "-f"})["assignee"] == "wang");

    // Not in another area.
    REQUIRE(sync(zhao, "zhao") == 0);
    CHECK(run_json(zhao, {"task", "list"}) == json::array());
  }

  // Issue 13: the follow-up's kind and creator told every volunteer of the building that
  // someone there had called; its outcome note was readable by all of them; the operator,
  // living elsewhere, got `not found` for it.
  TEST_CASE("hotline: a follow-up is the hotline's: other volunteers of the building see nothing, the note is sealed") {
    const std::string kOutcome = "已电话回访，她已约到周四下午的心理门诊，情绪比昨晚平稳。";
    const std::string kOutcomePart = "周四下午的心理门诊";
    mt::ServerFixture server;
    server.add_user("hana", "hotline", "gulou/xinjie");         // the operator, not of the building's area
    server.add_user("mei", "hotline,lead", "gulou/antai");      // a hotline lead
    server.add_user("lin", "lead", "gulou/antai/yili");         // the lead who dispatches in the area
    server.add_user("li", "volunteer", "gulou/antai/yili/b3");  // offered it first (fewest tasks, then by name)
    server.add_user("wang", "volunteer", "gulou/antai/yili/b3");
    server.start();
    mt::ClientFixture hana("hana"), mei("mei"), lin("lin"), li("li"), wang("wang");
    hana.login(server, "hana");
    mei.login(server, "mei");
    lin.login(server, "lin");
    li.login(server, "li");
    wang.login(server, "wang");

    auto logged = log_call(hana, {"--area", "gulou/antai/yili/b3", "--notes", kNotes, "--followup", kBrief});
    REQUIRE_MESSAGE(logged.code == 0, describe(logged));
    const std::string call = mt::queued_id(logged);
    const std::string fu = call + "-f";
    REQUIRE(sync(hana, "hana") == 0);

    // The operator sees the follow-up although it is not of her area, and who has it.
    auto seen = run_json(hana, {"task", "show", fu});
    CHECK(seen["state"] == "offered");
    CHECK(seen["offered_to"] == "li");
    CHECK(seen["creator"] == "hana");

    // The volunteer it is offered to: the brief, the area, a neutral creator.
    REQUIRE(sync(li, "li") == 0);
    auto offered = run_json(li, {"task", "show", fu});
    CHECK(offered["kind"] == "hotline_followup");
    CHECK(offered["creator"] == "hotline");
    CHECK(offered["title"] == kBrief);
    CHECK_FALSE(contains(offered.dump(), "hana"));
    for (const std::vector<std::string>& step : {std::vector<std::string>{"task", "accept", fu},
                                                  {"task", "start", fu},
                                                  {"task", "done", fu, "--note", kOutcome}}) {
      auto r = li.run(step);
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      REQUIRE(sync(li, "li") == 0);
    }
    auto done = run_json(li, {"task", "show", fu});
    CHECK(done["state"] == "done");
    CHECK(done["assignee"] == "li");
    CHECK_FALSE(contains(done.dump(), "hana"));

    // The other volunteer of the building: no task, no kind, no creator, no note; it
    // cannot even name it.
    REQUIRE(sync(wang, "wang") == 0);
    CHECK(run_json(wang, {"task", "list"}) == json::array());
    auto probe = wang.run({"task", "show", fu});
    CHECK(probe.code != 0);
    CHECK(wang.run({"task", "claim", fu}).code != 0);
    {
      const std::string home = raw_files(wang.home());
      CHECK_FALSE(contains(home, "hotline_followup"));
      CHECK_FALSE(contains(home, kBrief));
      CHECK_FALSE(contains(home, "hana"));
      CHECK_FALSE(contains(home, kOutcomePart));
    }

    // The lead of the area who is not on the hotline sees no call and no note.
    REQUIRE(sync(lin, "lin") == 0);
    CHECK(run_json(lin, {"hotline", "list"}) == json::array());
    CHECK_FALSE(contains(raw_files(lin.home()), kOutcomePart));

    // The operator sees the state, and reads the note from the server; so does the
    // hotline's lead.
    REQUIRE(sync(hana, "hana") == 0);
    auto after = run_json(hana, {"task", "show", fu});
    CHECK(after["state"] == "done");
    CHECK(after["assignee"] == "li");
    CHECK(after["note"] == "");  // sealed: not in the event
    for (auto* reader : {&hana, &mei}) {
      auto shown = run_json(*reader, {"hotline", "show", call});
      CHECK(shown["followup_note"] == kOutcome);
      CHECK(shown["followup"]["state"] == "done");
      CHECK(shown["followup"]["assignee"] == "li");
    }
    auto text = hana.run({"hotline", "show", call});
    CHECK(contains(text.out, "done by li"));
    CHECK(contains(text.out, kOutcome));
    auto refused = li.run({"hotline", "show", call});
    CHECK(refused.code == 2);
    CHECK_FALSE(contains(refused.out + refused.err, kOutcomePart));

    // At rest the note is sealed, and the server's log lines say nothing of it.
    CHECK_FALSE(contains(raw_files(server.data_dir()), kOutcomePart));
    CHECK_FALSE(contains(raw_files(server.data_dir()), kNotesPart));
    const std::string lines = server.log();
    CHECK_FALSE(contains(lines, kOutcomePart));
    CHECK_FALSE(contains(lines, kBrief));
    CHECK_FALSE(contains(lines, kNotesPart));

    // A follow-up is made by a call only.
    auto by_hand = lin.run({"task", "new", "hotline_followup", "--title", "x", "--area", "gulou/antai/yili/b3"});
    CHECK(by_hand.code != 0);
  }

  TEST_CASE("hotline: the retention purge, with the server running and with it stopped") {
    mt::ServerFixture server;
    server.add_user("hana", "hotline", "gulou/antai/yili");
    mt::TempDir scratch("hotline-clock-");
    const std::string clock = scratch.path() + "/now";
    // A file clock never goes back behind the system time: start a day ahead of it.
    const muster::UnixMs t0 = (muster::SystemClock().now_ms() / 1000) * 1000 + kDay;
    set_clock(clock, t0);
    server.start({"--clock-file", clock});
    mt::ClientFixture hana("hana");
    hana.login(server, "hana");

    auto first = log_call(hana, {"--notes", kNotes});
    REQUIRE(first.code == 0);
    const std::string old_call = mt::queued_id(first);
    REQUIRE(sync(hana, "hana") == 0);
    set_clock(clock, t0 + 40 * kDay);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server re-reads it every 100 ms
    auto second = log_call(hana, {"--notes", "第二通电话的记录"});
    REQUIRE(second.code == 0);
    const std::string new_call = mt::queued_id(second);
    REQUIRE(sync(hana, "hana") == 0);

    // Running: the command asks the server, which does it and records it; the command
    // reports what was deleted.
    auto running = server.admin({"hotline", "purge", "--older-than", "30"});
    REQUIRE_MESSAGE(running.code == 0, describe(running));
    CHECK(contains(running.err, "is serving"));
    CHECK(contains(running.out, "deleted the notes of 1 call logged before " + muster::format_utc(t0 + 10 * kDay)));
    REQUIRE(sync(hana, "hana") == 0);
    auto purged = run_json(hana, {"hotline", "show", old_call});
    CHECK(purged["notes"].is_null());
    CHECK(purged["notes_purged"] == true);
    CHECK(run_json(hana, {"hotline", "show", new_call})["notes"] == "第二通电话的记录");
    auto calls = run_json(hana, {"hotline", "list"});
    REQUIRE(calls.size() == 2);
    for (const auto& c : calls) CHECK(c["notes_purged"] == (c["id"] == old_call));
    auto shown = hana.run({"hotline", "show", old_call});
    CHECK(contains(shown.out, "deleted by the retention purge"));
    CHECK(contains(server.log(), "hotline purge"));
    const std::string log_db = server.data_dir() + "/log.db";
    CHECK(count_in(log_db, "SELECT count(*) FROM hotline_notes") == 1);

    // Again while running: nothing older is left, and it says so.
    auto nothing = server.admin({"hotline", "purge", "--older-than", "30"});
    REQUIRE_MESSAGE(nothing.code == 0, describe(nothing));
    CHECK(contains(nothing.out, "deleted the notes of 0 calls"));

    // Stopped: the command is log.db's writer for the moment and does it itself.
    server.stop();
    set_clock(clock, t0 + 91 * kDay);  // the second call is 51 days old
    auto stopped = server.admin({"hotline", "purge", "--older-than", "30", "--clock-file", clock});
    REQUIRE_MESSAGE(stopped.code == 0, describe(stopped));
    CHECK_FALSE(contains(stopped.err, "is serving"));
    CHECK(contains(stopped.out, "deleted the notes of 1 call logged before " + muster::format_utc(t0 + 61 * kDay)));
    CHECK(count_in(log_db, "SELECT count(*) FROM hotline_notes") == 0);
    CHECK(count_in(log_db, "SELECT count(*) FROM events WHERE kind = 'hotline.purged'") == 2);
    CHECK(count_in(log_db, "SELECT count(*) FROM events WHERE kind = 'hotline.purged' AND scope = 'role:hotline'") ==
          2);

    // The server, started again, serves the purge event it did not make.
    server.start({"--clock-file", clock});
    REQUIRE(sync(hana, "hana") == 0);
    auto both = run_json(hana, {"hotline", "list"});
    for (const auto& c : both) CHECK(c["notes_purged"] == true);
    CHECK(run_json(hana, {"hotline", "show", new_call})["notes"].is_null());

    // Bad input changes nothing.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"hotline", "purge"}, {"hotline", "purge", "--older-than", "-3"},
          {"hotline", "purge", "--older-than", "30days"}, {"hotline", "forget", "--older-than", "3"}}) {
      auto r = server.admin(args);
      CHECK_MESSAGE(r.code == 1, describe(r));
    }
    CHECK(count_in(log_db, "SELECT count(*) FROM events WHERE kind = 'hotline.purged'") == 2);
  }
}
