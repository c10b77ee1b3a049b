// `muster tui` as people use it: a real muster process in a real tmux pane (a private
// tmux server per test, -L), keys sent with `send-keys`, the screen read with
// `capture-pane -p`, against a real musterd. Every wait is a bounded poll.
//
//   3. a volunteer's TUI shows a new offer within 3 s of the lead's sync, without a key
//      pressed; `a` accepts it; the TUI syncs by itself and the lead's `task show --json`
//      says accepted by that volunteer
//   4. with the server stopped an action is queued and marked * (not yet confirmed);
//      when the server is back the status bar says online and the mark is gone, with no
//      key pressed
//   and a lead's notice roll-up per building, asked on the TUI's connection, naming who
//   is missing by display name (李强 (li), from the server's welcome);
//   and the bell on a new offer (and none with --no-bell);
//   and a lead's new task from the Compose form, refused with the command line's message
//   while its due time is not a time (nothing queued), then queued and confirmed;
//   and a hotline operator's call logged through the TUI's form: the notes reach the
//   server, never the screen, and no file of the operator's home once confirmed
//   5. a screen with Chinese titles, fullwidth letters, an emoji and a combining mark
//      keeps its columns aligned by display width (utf8proc), at 80x24 and at 120x40

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "muster/base/utf8.hpp"
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

const std::string kYili = "gulou/antai/yili";

// One `muster tui` in a detached tmux session of its own tmux server.
class TuiPane {
 public:
  // With `bell`, muster tui without --no-bell.
  TuiPane(const mt::ClientFixture& client, int width, int height, bool bell = false) {
    static int count = 0;
    socket_ = "muster-tui-" + std::to_string(getpid()) + "-" + std::to_string(++count);
    // A pane whose program ended stays, so a crash shows in the capture.
    const std::string conf = dir_.path() + "/tmux.conf";
    std::ofstream(conf) << "set -g remain-on-exit on\nset -g status off\n";
    const std::string command = "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen " + mt::binary_path("muster") +
                                " --home " + client.home() + (bell ? " tui" : " tui --no-bell");
    auto r = tmux({"-f", conf, "new-session", "-d", "-s", "tui", "-x", std::to_string(width), "-y",
                   std::to_string(height), command});
    REQUIRE_MESSAGE(r.code == 0, describe(r));
  }
  ~TuiPane() { (void)tmux({"kill-server"}); }
  TuiPane(const TuiPane&) = delete;
  TuiPane& operator=(const TuiPane&) = delete;

  std::string screen() {
    auto r = tmux({"capture-pane", "-p", "-t", "tui"});
    return r.code == 0 ? r.out : "";
  }
  std::vector<std::string> lines() {
    std::vector<std::string> out;
    std::istringstream in(screen());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  // The last non-empty line: the status bar.
  std::string status() {
    auto ls = lines();
    while (!ls.empty() && ls.back().empty()) ls.pop_back();
    return ls.empty() ? "" : ls.back();
  }
  // "1 0 " once the program ended with status 0 (tmux's pane_dead, pane_dead_status,
  // pane_dead_signal); tmux may mark the pane dead on the pty's end before it has the
  // status ("1  "), but a signal or a status other than 0 shows.
  std::string dead() {
    auto r = tmux({"display-message", "-p", "-t", "tui", "#{pane_dead} #{pane_dead_status} #{pane_dead_signal}"});
    return r.code == 0 ? r.out.substr(0, r.out.find('\n')) : "";
  }
  void keys(const std::vector<std::string>& keys) {
    std::vector<std::string> args{"send-keys", "-t", "tui"};
    args.insert(args.end(), keys.begin(), keys.end());
    auto r = tmux(args);
    REQUIRE_MESSAGE(r.code == 0, describe(r));
  }
  // "1" once the program rang the terminal's bell (tmux flags the window of a detached
  // session), else "0".
  std::string bell_flag() {
    auto r = tmux({"display-message", "-p", "-t", "tui", "#{window_bell_flag}"});
    return r.code == 0 ? r.out.substr(0, r.out.find('\n')) : "";
  }
  // Types `text` as it is (send-keys -l: no key names).
  void type(const std::string& text) { keys({"-l", text}); }
  // Waits (bounded) until the screen shows all of `texts`; the screen then.
  bool wait_for(const std::vector<std::string>& texts, std::chrono::milliseconds timeout) {
    return mt::wait_until(
        [&] {
          const std::string s = screen();
          for (const auto& t : texts) {
            if (!contains(s, t)) return false;
          }
          return true;
        },
        timeout, 50ms);
  }

 private:
  mt::RunResult tmux(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-L", socket_});
    return mt::run(args, {{"LANG", "C.UTF-8"}}, std::nullopt, 10s);
  }
  mt::TempDir dir_;
  std::string socket_;
};

std::string queued(mt::ClientFixture& c, std::vector<std::string> args) {
  auto r = c.run(args);
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  return mt::queued_id(r);
}

// Every byte of every file under `dir` (databases, their WAL and shm files, ...).
std::string raw_files(const std::string& dir) {
  std::string out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

// The display column where `needle` starts in `line`, or npos.
std::size_t column_of(const std::string& line, const std::string& needle) {
  const auto at = line.find(needle);
  return at == std::string::npos ? std::string::npos : muster::display_width(line.substr(0, at));
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("tui: a new offer shows without a key press, a accepts it, and the lead sees it accepted") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("chen", "volunteer", kYili);
    server.start();
    mt::ClientFixture lead("lin"), chen("chen");
    lead.login(server, "lin");
    chen.login(server, "chen");

    TuiPane pane(chen, 80, 24);
    REQUIRE_MESSAGE(pane.wait_for({"chen · online"}, 15s), pane.screen());
    CHECK_MESSAGE(contains(pane.screen(), "Nothing needs you now."), pane.screen());

    const std::string errand = queued(lead, {"task", "new", "errand", "--title", "代买 白菜2斤 鸡蛋10个", "--area",
                                             kYili, "--dispatch", "offer"});
    REQUIRE(sync(lead, "lin") == 0);
    // Within 3 s of the lead's sync, no key pressed: the offer with its countdown.
    CHECK_MESSAGE(pane.wait_for({"offer", "代买 白菜2斤 鸡蛋10个", " left", "[Inbox 1]"}, 3s), pane.screen());
    CHECK_MESSAGE(contains(pane.screen(), "muster task accept " + errand), pane.screen());
    CHECK(pane.bell_flag() == "0");  // --no-bell

    pane.keys({"a"});
    // Accepted here at once; confirmed once the TUI's own sync got the server's ack.
    CHECK_MESSAGE(pane.wait_for({"accept " + errand.substr(20) + " queued", "task ", "0 ops waiting"}, 10s),
                  pane.screen());
    json shown;
    const bool accepted = mt::wait_until(
        [&] {
          if (sync(lead, "lin") != 0) return false;
          shown = run_json(lead, {"task", "show", errand});
          return shown["state"] == "accepted";
        },
        15s, 200ms);
    CHECK_MESSAGE(accepted, shown.dump());
    CHECK(shown["assignee"] == "chen");
    CHECK(shown["pending"] == false);

    // q quits and gives the terminal back.
    pane.keys({"q"});
    CHECK_MESSAGE(mt::wait_until([&] { return pane.dead().rfind("1 ", 0) == 0; }, 10s, 50ms), pane.dead());
    const std::string dead = pane.dead();
    CHECK_MESSAGE((dead == "1 0 " || dead == "1  "), dead);
  }

  TEST_CASE("tui: offline an action is queued and marked; the server back, online and confirmed without a key") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("chen", "volunteer", kYili);
    server.start();
    mt::ClientFixture lead("lin"), chen("chen");
    lead.login(server, "lin");
    chen.login(server, "chen");
    const std::string errand = queued(lead, {"task", "new", "errand", "--title", "取药 🚑 王阿姨", "--area", kYili,
                                             "--dispatch", "offer"});
    REQUIRE(sync(lead, "lin") == 0);

    TuiPane pane(chen, 80, 24);
    REQUIRE_MESSAGE(pane.wait_for({"chen · online", "取药 🚑 王阿姨", "offer"}, 15s), pane.screen());

    server.stop();
    REQUIRE_MESSAGE(pane.wait_for({"offline since"}, 15s), pane.screen());
    pane.keys({"a"});
    REQUIRE_MESSAGE(pane.wait_for({"1 op waiting", "* not yet confirmed by the server", "sent when the server is back"},
                                  10s),
                    pane.screen());
    // The accepted task, marked.
    bool marked = false;
    for (const auto& line : pane.lines()) {
      if (contains(line, "取药 🚑 王阿姨") && contains(line, "task") && contains(line, "* ")) marked = true;
    }
    CHECK_MESSAGE(marked, pane.screen());

    server.start();
    // No key pressed from here: the TUI reconnects by itself (back-off at most 5 s).
    CHECK_MESSAGE(mt::wait_until(
                      [&] {
                        const std::string s = pane.screen();
                        return contains(pane.status(), "chen · online") && contains(s, "0 ops waiting") &&
                               !contains(s, "not yet confirmed");
                      },
                      30s, 100ms),
                  pane.screen());
    REQUIRE(sync(lead, "lin") == 0);
    auto shown = run_json(lead, {"task", "show", errand});
    CHECK(shown["state"] == "accepted");
    CHECK(shown["assignee"] == "chen");
  }

  TEST_CASE("tui: columns stay aligned by display width with CJK, fullwidth, emoji and combining marks") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("chen", "volunteer", kYili + "/b3");
    server.start();
    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    const std::vector<std::string> titles{"代买 白菜2斤 鸡蛋10个", "送药🚑给ＷＡＮＧ阿姨（急）",
                                          "か\u3099取快递 ＡＢＣ", "plain ascii title"};
    std::vector<std::string> ids;
    for (const auto& t : titles) {
      ids.push_back(queued(lead, {"task", "new", "generic", "--title", t, "--area", kYili + "/b3", "--priority", "high"}));
    }
    REQUIRE(sync(lead, "lin") == 0);

    for (auto [w, h] : {std::pair{80, 24}, std::pair{120, 40}}) {
      CAPTURE(w);
      TuiPane pane(lead, w, h);
      REQUIRE_MESSAGE(pane.wait_for({"lin · online"}, 15s), pane.screen());
      pane.keys({"Tab"});
      REQUIRE_MESSAGE(pane.wait_for({"[Tasks]", "代买 白菜2斤", "plain ascii"}, 10s), pane.screen());
      const auto lines = pane.lines();
      std::string header;
      for (const auto& l : lines) {
        if (contains(l, " ID ") && contains(l, "TITLE")) header = l;
      }
      REQUIRE_MESSAGE(!header.empty(), pane.screen());
      const std::size_t state_col = column_of(header, "STATE");
      const std::size_t pri_col = column_of(header, "PRI");
      const std::size_t holder_col = column_of(header, "HOLDER");
      const std::size_t title_col = column_of(header, "TITLE");
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string suffix = ids[i].substr(ids[i].size() - 6);
        std::string row;
        for (const auto& l : lines) {
          if (l.rfind(" " + suffix, 0) == 0) row = l;
        }
        REQUIRE_MESSAGE(!row.empty(), (suffix + "\n" + pane.screen()));
        // Every column starts where its heading does, whatever came before it.
        CHECK_MESSAGE(column_of(row, "open") == state_col, row);
        CHECK_MESSAGE(column_of(row, "high") == pri_col, row);
        CHECK_MESSAGE(column_of(row, "- ") == holder_col, row);
        const std::string title_start = titles[i].substr(0, titles[i].find(' ') == std::string::npos ? 6 : titles[i].find(' '));
        CHECK_MESSAGE(column_of(row, title_start) == title_col, row);
        if (w >= 120) CHECK_MESSAGE(column_of(row, kYili) == column_of(header, "AREA"), row);
      }
      // No line runs past the screen, the status bar is on the last line.
      for (const auto& l : lines) CHECK_MESSAGE(muster::display_width(l) <= static_cast<std::size_t>(w), l);
      CHECK_MESSAGE(contains(pane.status(), "Asia/Shanghai"), pane.screen());
      // The detail pane under the list: the focused task's history.
      CHECK_MESSAGE(contains(pane.screen(), "created  "), pane.screen());
    }
  }

  TEST_CASE("tui: a call logged with the hotline form; its notes reach the server and no screen or file here") {
    const std::string notes = "来电者说她已经三天没有合眼，想知道社区能不能帮忙联系心理医生。";
    const std::string part = "三天没有合眼";
    mt::ServerFixture server;
    server.add_user("hana", "hotline", kYili);
    server.start();
    mt::ClientFixture hana("hana");
    hana.login(server, "hana");

    TuiPane pane(hana, 80, 24);
    REQUIRE_MESSAGE(pane.wait_for({"hana · online"}, 15s), pane.screen());
    pane.keys({"Tab", "Tab", "Tab", "Tab", "Tab"});
    REQUIRE_MESSAGE(pane.wait_for({"[Hotline]", "Log a hotline call"}, 10s), pane.screen());
    // Minutes, category, then down past risk and area to the notes; then send.
    pane.keys({"Enter"});
    pane.type("25");
    pane.keys({"Enter", "Enter"});
    pane.type("家庭矛盾");
    pane.keys({"Enter", "Down", "Down", "Enter"});
    pane.type(notes);
    REQUIRE_MESSAGE(pane.wait_for({"Notes: ****"}, 10s), pane.screen());
    CHECK_FALSE(contains(pane.screen(), part));
    pane.keys({"Enter"});
    REQUIRE_MESSAGE(pane.wait_for({"columns typed)"}, 10s), pane.screen());
    pane.keys({"Down", "Enter"});
    REQUIRE_MESSAGE(pane.wait_for({"new call queued"}, 10s), pane.screen());
    REQUIRE_MESSAGE(pane.wait_for({"0 ops waiting"}, 15s), pane.screen());
    CHECK_FALSE(contains(pane.screen(), part));

    // The server has them, sealed, and shows them to the operator who asks.
    auto calls = run_json(hana, {"hotline", "list"});
    REQUIRE_MESSAGE(calls.size() == 1, calls.dump());
    CHECK(calls[0]["category"] == "家庭矛盾");
    CHECK(calls[0]["duration"] == 25);
    auto shown = run_json(hana, {"hotline", "show", calls[0]["id"].get<std::string>()});
    CHECK(shown["notes"] == notes);
    // Confirmed, they are in no file of the home, while the TUI still runs.
    CHECK_MESSAGE(mt::wait_until([&] { return !contains(raw_files(hana.home()), part); }, 10s, 100ms),
                  "the notes are still in a file of the operator's home");
    CHECK_FALSE(contains(raw_files(server.data_dir()), part));
    CHECK_FALSE(contains(server.log(), part));
  }

  TEST_CASE("tui: compose a task; a due time that is not one is refused and nothing queued") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("chen", "volunteer", kYili);
    server.start();
    mt::ClientFixture lead("lin");
    lead.login(server, "lin");

    TuiPane pane(lead, 80, 24);
    REQUIRE_MESSAGE(pane.wait_for({"lin · online"}, 15s), pane.screen());
    pane.keys({"n"});
    REQUIRE_MESSAGE(pane.wait_for({"[Compose]", "New task"}, 10s), pane.screen());
    // Kind errand; down to Title, type it; then down from Area past dispatch, assignee and
    // priority to Due.
    pane.keys({"Down", "Enter"});
    pane.type("代买 感冒药 两盒");
    pane.keys({"Enter", "Down", "Down", "Down", "Down", "Enter"});
    pane.type("tomorrow 8am");
    pane.keys({"Enter", "Enter"});
    CHECK_MESSAGE(pane.wait_for({"Due takes a time like 2026-11-25 08:00 (in Asia/Shanghai)"}, 10s), pane.screen());
    auto status = run_json(lead, {"status"});
    CHECK_MESSAGE(status["pending"] == 0, status.dump());

    // Tomorrow 08:00 in the server's zone.
    const std::string tomorrow = mt::strftime_utc(mt::real_now() + mt::kDay + mt::kShanghai, "%Y-%m-%d");
    pane.keys({"Up", "Enter", "C-u"});
    for (int i = 0; i < 12; ++i) pane.keys({"BSpace"});
    pane.type(tomorrow + " 08:00");
    pane.keys({"Enter", "Enter"});
    REQUIRE_MESSAGE(pane.wait_for({"new task queued"}, 10s), pane.screen());
    REQUIRE_MESSAGE(pane.wait_for({"0 ops waiting"}, 15s), pane.screen());
    REQUIRE(sync(lead, "lin") == 0);
    auto tasks = run_json(lead, {"task", "list"});
    REQUIRE_MESSAGE(tasks.size() == 1, tasks.dump());
    CHECK(tasks[0]["title"] == "代买 感冒药 两盒");
    CHECK(tasks[0]["kind"] == "errand");
    CHECK(tasks[0]["area"] == kYili);
    CHECK(tasks[0]["due"] == tomorrow + "T00:00:00Z");
  }

  TEST_CASE("tui: a new offer rings the terminal's bell") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("chen", "volunteer", kYili);
    server.start();
    mt::ClientFixture lead("lin"), chen("chen");
    lead.login(server, "lin");
    chen.login(server, "chen");
    TuiPane pane(chen, 80, 24, true);
    REQUIRE_MESSAGE(pane.wait_for({"chen · online"}, 15s), pane.screen());
    CHECK(pane.bell_flag() == "0");
    queued(lead, {"task", "new", "errand", "--title", "代买 白菜2斤", "--area", kYili, "--dispatch", "offer"});
    REQUIRE(sync(lead, "lin") == 0);
    REQUIRE_MESSAGE(pane.wait_for({"代买 白菜2斤", " left"}, 10s), pane.screen());
    CHECK(mt::wait_until([&] { return pane.bell_flag() == "1"; }, 5s, 50ms));
  }

  TEST_CASE("tui: a lead's notice roll-up per building, asked on the TUI's own connection, drawn as bars") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kYili);
    server.add_user("chen", "volunteer", kYili + "/b3");
    server.add_user("li", "volunteer", kYili + "/b5", "password123", "李强");  // missing, by display name
    server.start();
    mt::ClientFixture lead("lin"), chen("chen"), li("li");
    lead.login(server, "lin");
    chen.login(server, "chen");
    li.login(server, "li");
    const std::string notice =
        queued(lead, {"notice", "post", "--area", kYili, "--text", "明早7点 核酸采样 请回复收到", "--ack"});
    REQUIRE(sync(lead, "lin") == 0);
    REQUIRE(sync(chen, "chen") == 0);
    queued(chen, {"notice", "ack", notice});
    REQUIRE(sync(chen, "chen") == 0);

    TuiPane pane(lead, 120, 40);
    REQUIRE_MESSAGE(pane.wait_for({"lin · online"}, 15s), pane.screen());
    pane.keys({"Tab", "Tab", "Tab"});
    REQUIRE_MESSAGE(pane.wait_for({"[Notices]", "明早7点 核酸采样", "Enter: acknowledgements"}, 10s), pane.screen());
    pane.keys({"Enter"});
    REQUIRE_MESSAGE(pane.wait_for({"acknowledged 1/2, 1 missing"}, 10s), pane.screen());
    std::string b3, b5;
    for (const auto& line : pane.lines()) {
      if (contains(line, kYili + "/b3")) b3 = line;
      if (contains(line, kYili + "/b5")) b5 = line;
    }
    CHECK_MESSAGE((contains(b3, "█") && contains(b3, "1/1")), pane.screen());
    CHECK_MESSAGE((contains(b5, "░") && contains(b5, "0/1") && contains(b5, "李强 (li)")), pane.screen());
    CHECK_FALSE(contains(b5, "█"));
    CHECK(contains(pane.status(), "lin · online"));  // the same connection, still up
  }
}
