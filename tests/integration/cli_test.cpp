// Issue 12, must-be-true 6: both programs refuse a misspelt option, a bad enumerated
// value and a stray word with exit 1 and a message naming it, and change nothing: no op
// is queued, no file in the client's home or the server's data dir is written.

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "muster/base/time.hpp"
#include "muster/base/timezone.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
namespace fs = std::filesystem;

namespace {

using mt::contains;
using mt::describe;

// Every file under `dir` with its bytes: equal before and after means nothing was written.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    out[e.path().string()] = bytes.str();
  }
  return out;
}

struct Refused {
  std::vector<std::string> args;
  std::vector<std::string> says;  // each must be in stderr
};

// Tomorrow in Shanghai (the server's default zone), as the README writes it.
std::string tomorrow() {
  auto zone = muster::Zone::load("Asia/Shanghai");
  REQUIRE(zone);
  const auto t = muster::SystemClock().now_ms() + 24LL * 3600 * 1000;
  return muster::format_local_short(t, *zone).substr(0, 10);
}

void check_refused(const std::vector<Refused>& cases, const std::function<mt::RunResult(const Refused&)>& run) {
  for (const auto& c : cases) {
    std::string line;
    for (const auto& a : c.args) line += a + " ";
    CAPTURE(line);
    auto r = run(c);
    CHECK_MESSAGE(r.code == 1, describe(r));
    for (const auto& s : c.says) CHECK_MESSAGE(contains(r.err, s), (std::string("missing '") + s + "' in: " + describe(r)));
    CHECK(r.out.empty());
  }
}

}  // namespace

TEST_CASE("cli: muster refuses misspelt options, bad values and stray words, and queues nothing") {
  mt::ServerFixture server;
  server.add_user("lin", "lead", "gulou/antai/yili");
  server.add_user("wang", "volunteer", "gulou/antai/yili");
  server.start();
  mt::ClientFixture lead("lin");
  lead.login(server, "lin");
  const std::string day = tomorrow();
  const auto before = snapshot(lead.home());

  const std::vector<Refused> cases{
      {{"task", "list", "--stat", "open"}, {"--stat", "did you mean --state?"}},
      {{"task", "done", "01JDQ0000000000000000000AB", "--not", "买好了"}, {"--not", "did you mean --note?"}},
      {{"task", "new", "errand", "--title", "买菜", "--area", "gulou/antai/yili", "--priorty", "high"},
       {"--priorty", "did you mean --priority?"}},
      {{"notice", "post", "--area", "gulou/antai/yili", "--txt", "停水"}, {"--txt", "did you mean --text?"}},
      {{"task", "list", "--state", "opne"},
       {"--state", "open, offered, accepted, started, done, failed, cancelled", "did you mean open?"}},
      {{"task", "new", "errand", "--title", "买菜", "--area", "gulou/antai/yili", "--dispatch", "ofer"},
       {"--dispatch", "direct, offer, claim"}},
      {{"task", "new", "errand", "--title", "买菜", "--area", "gulou/antai/yili", "--priority", "asap"},
       {"--priority", "low, normal, high, urgent"}},
      {{"notice", "status", "01JDQ0000000000000000000AB", "--by", "floor"}, {"--by", "building, area"}},
      {{"roster", "add", "--post", "门岗", "--area", "gulou/antai/yili", "--start", day, "08:00", "--end",
        day + "T12:00"},
       {"unexpected argument '08:00'", "--start " + day}},
      {{"task", "new", "errand", "--title", "买", "菜", "--area", "gulou/antai/yili"}, {"unexpected argument '菜'"}},
      {{"task", "done", "01JDQ0000000000000000000AB", "01JDQ0000000000000000000CD"},
       {"unexpected argument '01JDQ0000000000000000000CD'"}},
  };
  check_refused(cases, [&](const Refused& c) { return lead.run(c.args); });

  // Nothing was written to the home (no op queued, no config touched) ...
  CHECK(snapshot(lead.home()) == before);
  auto status = mt::run_json(lead, {"status"});
  CHECK(status["pending"] == 0);
  // ... and the server has no task, notice or shift from any of them.
  REQUIRE(mt::sync(lead, "lin") == 0);
  CHECK(mt::run_json(lead, {"task", "list"}).empty());
  CHECK(mt::run_json(lead, {"notice", "list"}).empty());
  CHECK(mt::run_json(lead, {"roster", "list"}).empty());

  // The same words, spelt right, are taken.
  auto ok = lead.run({"task", "new", "errand", "--title", "买菜", "--area", "gulou/antai/yili", "--dispatch", "offer",
                      "--priority", "high"});
  CHECK_MESSAGE(ok.code == 0, describe(ok));
}

TEST_CASE("cli: muster CMD --help prints that command's synopsis; --version the version") {
  mt::ClientFixture c("nobody");
  auto help = c.run({"task", "list", "--help"});
  CHECK_MESSAGE(help.code == 0, describe(help));
  CHECK(contains(help.out, "task list [--mine] [--state S] [--area A]"));
  CHECK_FALSE(contains(help.out, "roster"));
  auto version = c.run({"--version"});
  CHECK_MESSAGE(version.code == 0, describe(version));
  CHECK(contains(version.out, "muster "));
  // The completion script knows the commands, their options and the enumerated values.
  auto completion = c.run({"completion", "bash"});
  REQUIRE_MESSAGE(completion.code == 0, describe(completion));
  CHECK(contains(completion.out, "complete -o default _muster muster"));
  CHECK(contains(completion.out, "\"/task/list --state\") words=\"open offered accepted started done failed cancelled\""));
  // None of it made a home.
  CHECK_FALSE(fs::exists(fs::path(c.home()) / "client.db"));
}

TEST_CASE("cli: musterd refuses misspelt options, bad values and stray words, and writes nothing") {
  mt::ServerFixture server;
  server.add_user("lin", "lead", "gulou/antai/yili");
  const auto before = snapshot(server.data_dir());

  const std::vector<Refused> cases{
      {{"serve", "--lisen", "0.0.0.0:9000"}, {"--lisen", "did you mean --listen?"}},
      {{"serve", "--log-level", "loud"}, {"--log-level", "trace, debug, info, warn, error"}},
      {{"serve", "--tls-cert"}, {"--tls-cert needs a value"}},
      {{"user", "add", "wang", "--role", "volunteer", "--area", "gulou/antai/yili", "--dispaly", "王芳"},
       {"--dispaly", "did you mean --display?"}},
      {{"user", "add", "wang", "--role", "volunteer", "--area", "gulou/antai/yili", "王芳"},
       {"unexpected argument '王芳'"}},
      {{"area", "add", "gulou/antai/heping", "b1"}, {"unexpected argument 'b1'"}},
      {{"hotline", "purge", "--older-then", "30"}, {"--older-then", "did you mean --older-than?"}},
      {{"backup", "--out", "/nonexistent/muster-backup", "--key-ot", "k"}, {"--key-ot", "did you mean --key-out?"}},
  };
  check_refused(cases, [&](const Refused& c) { return server.admin(c.args); });
  CHECK(snapshot(server.data_dir()) == before);
  auto users = server.admin({"user", "list", "--json"});
  REQUIRE_MESSAGE(users.code == 0, describe(users));
  CHECK_FALSE(contains(users.out, "\"wang\""));

  auto help = server.admin({"serve", "--help"});
  CHECK_MESSAGE(help.code == 0, describe(help));
  CHECK(contains(help.out, "musterd serve --data DIR [--listen 127.0.0.1:8080]"));
  CHECK_FALSE(contains(help.out, "musterd backup"));
}

TEST_CASE("cli: tables show people by display name beside the user name") {
  mt::ServerFixture server;
  server.add_user("lin", "lead", "gulou/antai/yili", "password123", "林组长");
  server.add_user("wang", "volunteer", "gulou/antai/yili/b3", "password123", "王芳");
  server.add_user("li", "volunteer", "gulou/antai/yili/b5");  // no display name: his user name alone
  server.start();
  mt::ClientFixture lead("lin");
  mt::ClientFixture volunteer("wang");
  lead.login(server, "lin");
  volunteer.login(server, "wang");

  auto made = lead.run({"task", "new", "errand", "--title", "买菜", "--area", "gulou/antai/yili/b3", "--assignee",
                        "wang"});
  REQUIRE_MESSAGE(made.code == 0, describe(made));
  auto note = lead.run({"msg", "send", "--to", "wang", "--text", "谢谢"});
  REQUIRE_MESSAGE(note.code == 0, describe(note));
  auto to_li = lead.run({"msg", "send", "--to", "li", "--text", "明天见"});
  REQUIRE_MESSAGE(to_li.code == 0, describe(to_li));
  REQUIRE(mt::sync(lead, "lin") == 0);
  REQUIRE(mt::sync(volunteer, "wang") == 0);

  auto list = lead.run({"task", "list"});
  REQUIRE_MESSAGE(list.code == 0, describe(list));
  CHECK_MESSAGE(contains(list.out, "王芳 (wang)"), describe(list));
  const std::string id = mt::run_json(lead, {"task", "list"}).at(0)["id"];
  auto show = volunteer.run({"task", "show", id});
  REQUIRE_MESSAGE(show.code == 0, describe(show));
  CHECK_MESSAGE(contains(show.out, "林组长 (lin)"), describe(show));
  CHECK_MESSAGE(contains(show.out, "王芳 (wang)"), describe(show));
  auto messages = lead.run({"msg", "list"});
  REQUIRE_MESSAGE(messages.code == 0, describe(messages));
  CHECK_MESSAGE(contains(messages.out, "林组长 (lin) → 王芳 (wang): 谢谢"), describe(messages));
  CHECK_MESSAGE(contains(messages.out, "林组长 (lin) → li: 明天见"), describe(messages));
  // The building beside one's own counts too: li (b5) hears from 王芳 (b3) by name.
  auto hello = volunteer.run({"msg", "send", "--to", "li", "--text", "北门见"});
  REQUIRE_MESSAGE(hello.code == 0, describe(hello));
  REQUIRE(mt::sync(volunteer, "wang") == 0);
  mt::ClientFixture neighbour("li");
  neighbour.login(server, "li");
  auto heard = neighbour.run({"msg", "list"});
  REQUIRE_MESSAGE(heard.code == 0, describe(heard));
  CHECK_MESSAGE(contains(heard.out, "王芳 (wang) → li: 北门见"), describe(heard));
  // --json keeps the user names alone: scripts read them.
  auto json = mt::run_json(lead, {"task", "list"});
  CHECK(contains(json.dump(), "\"wang\""));
  CHECK_FALSE(contains(json.dump(), "王芳"));
}

TEST_CASE("cli: watch that cannot reach the server says so, exit 3") {
  mt::ServerFixture server;
  server.add_user("wang", "volunteer", "gulou/antai/yili/b3");
  server.start();
  mt::ClientFixture volunteer("wang");
  volunteer.login(server, "wang");
  server.stop();
  auto r = volunteer.run({"watch", "--timeout", "20"});
  CHECK_MESSAGE(r.code == 3, describe(r));
  CHECK_MESSAGE(contains(r.err, "cannot reach"), describe(r));
  CHECK(r.out.empty());
}
