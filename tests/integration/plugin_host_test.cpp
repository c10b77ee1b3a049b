// SPEC §7: the plugin host. A real musterd runs tests/plugins/test_plugin.cpp
// (muster-test-plugin) as its plugin; the tests read what the plugin was sent from the
// file it appends every line to, and drive the server over WebSocket and the CLI.

#include <signal.h>
#include <sys/types.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "frames.hpp"
#include "muster/store/sqlite.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kPassword = "password123";
const std::string kYili = "gulou/antai/yili";
const std::string kB3 = "gulou/antai/yili/b3";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The JSON lines of a file (a last line without its newline is still being written).
std::vector<json> json_lines(const std::string& path) {
  std::vector<json> out;
  std::string text = read_text(path), line;
  std::size_t start = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(json::parse(text.substr(start, nl - start), nullptr, false));
    start = nl + 1;
  }
  return out;
}

std::vector<json> of_type(const std::vector<json>& lines, const std::string& t) {
  std::vector<json> out;
  for (const auto& j : lines) {
    if (j.is_object() && j.value("t", "") == t) out.push_back(j);
  }
  return out;
}

int read_pid(const std::string& path) {
  std::ifstream in(path);
  int pid = 0;
  in >> pid;
  return pid;
}

void write_config(const std::string& path, const json& config) { std::ofstream(path) << config.dump(2) << '\n'; }

// A lead's raw WebSocket session that creates tasks fast (the CLI starts a process per task).
class Lead {
 public:
  Lead(int port, const std::string& user) {
    REQUIRE(ws_.connect(port));
    REQUIRE(ws_.send_text(json{{"t", "hello"}, {"v", 1}, {"user", user}, {"password", kPassword}, {"device", "raw"}}
                              .dump()));
    for (auto deadline = mt::SteadyClock::now() + 10s;;) {
      auto f = mt::next_frame(ws_, mt::left_until(deadline));
      REQUIRE(f.has_value());
      if (f->type() == "caught_up") break;
    }
  }

  // Creates `n` claim-dispatched errands in `area`; returns their ids once all are acked.
  std::vector<std::string> create(int n, const std::string& area, const std::string& title = "buy rice") {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ids.push_back(mt::new_id());
      json op{{"t", "op"},
              {"id", ids.back()},
              {"kind", "task.create"},
              {"body", {{"kind", "errand"}, {"title", title}, {"area", area}, {"dispatch", "claim"}}}};
      REQUIRE(ws_.send_text(op.dump()));
    }
    std::set<std::string> waiting(ids.begin(), ids.end());
    for (auto deadline = mt::SteadyClock::now() + 30s; !waiting.empty();) {
      auto f = mt::next_frame(ws_, mt::left_until(deadline));
      REQUIRE_MESSAGE(f.has_value(), "acks missing: " << waiting.size());
      if (f->type() != "ack") continue;
      REQUIRE_MESSAGE(f->j["ok"] == true, f->raw);
      waiting.erase(f->str("id"));
    }
    return ids;
  }

 private:
  mt::RawWs ws_;
};

// The plugin's durable cursor for `scope`, read from log.db beside the server (WAL
// lets another process read while it writes).
std::int64_t stored_cursor(const std::string& data_dir, const std::string& user, const std::string& scope) {
  muster::store::OpenOptions options;
  options.create = false;
  options.read_only = true;
  auto db = muster::store::Db::open(data_dir + "/log.db", options);
  auto s = db.prepare("SELECT seq FROM cursors WHERE user = ?1 AND device = 'plugin' AND scope = ?2");
  s.bind(1, user).bind(2, scope);
  if (!s.step()) return 0;
  auto seq = s.int64(0);
  s.reset();
  return seq;
}

// Kills the plugin at the end of a test, whatever happened (it is not our child).
struct PidGuard {
  std::string pid_file;
  ~PidGuard() {
    if (int pid = read_pid(pid_file); pid > 0) ::kill(pid, SIGKILL);
  }
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("plugin_host: a plugin gets init and its feed, and its ops are decided as its own user with its limited rights") {
    mt::ServerFixture server;
    server.admin({"area", "add", kB3});
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kB3);
    server.add_user("bridge", "plugin", kYili);
    mt::TempDir dir("plugin-");
    const std::string out = dir.path() + "/out.jsonl";
    const std::string pid_file = dir.path() + "/pid";
    PidGuard guard{pid_file};
    const std::string created = mt::new_id(), notice = mt::new_id(), to_lin = mt::new_id(), to_wang = mt::new_id(),
                      generic = mt::new_id(), above = mt::new_id();
    write_config(dir.path() + "/plugin.json",
                 {{"user", "bridge"},
                  {"name", "echo"},
                  {"mode", "echo"},
                  {"out", out},
                  {"pid_file", pid_file},
                  {"message_to", {"lin"}},
                  {"scopes", {"user:bridge", "area:" + kYili, "area:" + kB3}},
                  {"subscribe_after", {"user:lin"}},
                  {"ops",
                   {{{"id", created},
                     {"kind", "task.create"},
                     {"body", {{"kind", "errand"}, {"title", "代买 白菜2斤"}, {"area", kB3}, {"dispatch", "claim"}}}},
                    {{"id", notice}, {"kind", "notice.post"}, {"body", {{"area", kYili}, {"text", "hello all"}}}},
                    {{"id", to_lin}, {"kind", "message.send"}, {"body", {{"to", "lin"}, {"text", "a new errand"}}}},
                    {{"id", to_wang}, {"kind", "message.send"}, {"body", {{"to", "wang"}, {"text", "hi"}}}},
                    {{"id", generic},
                     {"kind", "task.create"},
                     {"body", {{"kind", "generic"}, {"title", "x"}, {"area", kB3}}}},
                    {{"id", above},
                     {"kind", "task.create"},
                     {"body", {{"kind", "errand"}, {"title", "x"}, {"area", "gulou/antai"}}}}}}});
    server.start({"--plugin", mt::binary_path("muster-test-plugin"), "--plugin-config", dir.path() + "/plugin.json"});

    auto acks = [&] {
      std::map<std::string, std::string> codes;
      for (const auto& a : of_type(json_lines(out), "ack")) {
        codes[a["id"]] = a["ok"] == true ? "ok" : a["error"]["code"].get<std::string>();
      }
      return codes;
    };
    REQUIRE_MESSAGE(mt::wait_until([&] { return acks().size() == 6; }, 15s), (read_text(out) + server.log()));
    auto codes = acks();
    CHECK(codes[created] == "ok");
    CHECK(codes[notice] == "forbidden");   // plugins do not post notices
    CHECK(codes[to_lin] == "ok");          // lin is in its message_to
    CHECK(codes[to_wang] == "forbidden");  // wang is not
    CHECK(codes[generic] == "forbidden");  // errands only
    CHECK(codes[above] == "forbidden");    // in its area or below only

    auto lines = json_lines(out);
    REQUIRE(!lines.empty());
    const json& init = lines.front();
    CHECK(init["t"] == "init");
    CHECK(init["user"] == "bridge");
    CHECK(init["area"] == kYili);
    CHECK(init["config"]["mode"] == "echo");
    CHECK(init["areas"] == json::array({"gulou", "gulou/antai", kYili, kB3}));
    CHECK(init["scopes"] == json::array({"user:bridge", "area:gulou", "area:gulou/antai", "area:" + kYili,
                                         "area:" + kB3, "role:plugin"}));
    CHECK(of_type(lines, "caught_up").size() == 1);
    // Its own task's event, in the building's scope; its message in its inbox.
    REQUIRE(mt::wait_until([&] { return of_type(json_lines(out), "event").size() >= 2; }, 10s));
    auto events = of_type(json_lines(out), "event");
    CHECK(events[0]["kind"] == "task.created");
    CHECK(events[0]["scope"] == "area:" + kB3);
    CHECK(events[0]["actor"] == "bridge");
    CHECK(events[1]["kind"] == "message.sent");
    CHECK(events[1]["scope"] == "user:bridge");
    // A scope it may not see is refused, and the subscription stays as it was.
    auto errors = of_type(json_lines(out), "error");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0]["code"] == "unauthorized");
    CHECK(errors[0]["message"] == "subscribe: scope user:lin is not visible to bridge");

    // A lead's task in the building reaches it live.
    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    auto r = lead.run({"task", "new", "errand", "--title", "buy rice for 3-502", "--area", kB3, "--dispatch", "claim"});
    REQUIRE_MESSAGE(r.code == 0, mt::describe(r));
    REQUIRE(lead.run({"sync", "--timeout", "10"}).code == 0);
    REQUIRE(mt::wait_until([&] { return of_type(json_lines(out), "event").size() == 3; }, 10s));
    events = of_type(json_lines(out), "event");
    CHECK(events[2]["actor"] == "lin");
    CHECK(events[2]["body"]["title"] == "buy rice for 3-502");
    CHECK(mt::contains(server.log(), "plugin echo: started (pid "));
    CHECK(mt::contains(server.log(), "plugin echo: (stderr) test plugin: echo mode, pid"));
    server.stop();
  }

  TEST_CASE("plugin_host: a plugin killed with kill -9 is restarted, resumes after its cursor, sees nothing twice, misses nothing") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("bridge", "plugin", kYili);
    mt::TempDir dir("plugin-");
    const std::string out = dir.path() + "/out.jsonl";
    const std::string pid_file = dir.path() + "/pid";
    PidGuard guard{pid_file};
    write_config(dir.path() + "/plugin.json", {{"user", "bridge"},
                                               {"name", "echo"},
                                               {"mode", "echo"},
                                               {"out", out},
                                               {"pid_file", pid_file},
                                               {"scopes", {"area:" + kYili}}});
    server.start({"--plugin", mt::binary_path("muster-test-plugin"), "--plugin-config", dir.path() + "/plugin.json"});
    Lead lead(server.port(), "lin");
    const std::string scope = "area:" + kYili;
    auto seqs = [&] {
      std::vector<std::int64_t> out_seqs;
      for (const auto& e : of_type(json_lines(out), "event")) out_seqs.push_back(e["seq"].get<std::int64_t>());
      return out_seqs;
    };

    lead.create(5, kYili);
    REQUIRE_MESSAGE(mt::wait_until([&] { return stored_cursor(server.data_dir(), "bridge", scope) == 5; }, 10s),
                    (read_text(out) + server.log()));
    const int first = read_pid(pid_file);
    REQUIRE(first > 0);
    REQUIRE(::kill(first, SIGKILL) == 0);
    // While it is down (and while it restarts) the log grows.
    lead.create(5, kYili);
    REQUIRE_MESSAGE(mt::wait_until([&] { return read_pid(pid_file) != first && seqs().size() >= 10; }, 15s),
                    (read_text(out) + server.log()));
    lead.create(5, kYili);
    REQUIRE(mt::wait_until([&] { return seqs().size() >= 15; }, 10s));
    std::this_thread::sleep_for(300ms);  // nothing more may come
    CHECK(seqs() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
    // Each run began with init, the second one with the stored cursor.
    auto inits = of_type(json_lines(out), "init");
    REQUIRE(inits.size() == 2);
    CHECK(inits[0]["cursors"].empty());
    CHECK(inits[1]["cursors"][scope] == 5);
    CHECK(mt::contains(server.log(), "plugin echo: was killed by signal 9; restarting in 0.5 s"));
    CHECK(mt::wait_until([&] { return stored_cursor(server.data_dir(), "bridge", scope) == 15; }, 5s));
    server.stop();
  }

  TEST_CASE("plugin_host: a plugin that keeps exiting is restarted with growing back-off") {
    mt::ServerFixture server;
    server.add_user("bridge", "plugin", kYili);
    mt::TempDir dir("plugin-");
    write_config(dir.path() + "/plugin.json", {{"user", "bridge"}, {"name", "crashy"}, {"mode", "crash"}});
    server.start({"--plugin", mt::binary_path("muster-test-plugin"), "--plugin-config", dir.path() + "/plugin.json"});
    REQUIRE_MESSAGE(mt::wait_until([&] { return mt::contains(server.log(), "restarting in 2 s"); }, 10s), server.log());
    const std::string log = server.log();
    const auto half = log.find("plugin crashy: exited with status 3; restarting in 0.5 s");
    const auto one = log.find("plugin crashy: exited with status 3; restarting in 1 s");
    const auto two = log.find("plugin crashy: exited with status 3; restarting in 2 s");
    CHECK(half != std::string::npos);
    CHECK(one != std::string::npos);
    CHECK(half < one);
    CHECK(one < two);
    CHECK(mt::http_get(server.port(), "/healthz") == std::optional<std::string>("ok\n"));
    server.stop();
  }

  TEST_CASE("plugin_host: a plugin that writes garbage, floods and hangs does not take the server down") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kYili);
    server.add_user("noisy", "plugin", kYili);
    mt::TempDir dir("plugin-");
    const std::string pid_file = dir.path() + "/pid";
    PidGuard guard{pid_file};
    // It subscribes first, then never reads its stdin again: its feed must wait in the log.
    write_config(dir.path() + "/plugin.json", {{"user", "noisy"},
                                               {"name", "noisy"},
                                               {"mode", "garbage"},
                                               {"subscribe", {"area:" + kYili}},
                                               {"flood", 200000},
                                               {"pid_file", pid_file}});
    server.start({"--plugin", mt::binary_path("muster-test-plugin"), "--plugin-config", dir.path() + "/plugin.json"});
    REQUIRE_MESSAGE(mt::wait_until([&] { return server.metric("muster_plugin_throttled_total").value_or(0) >= 1; }, 15s),
                    server.log());

    // Meanwhile the server serves: 400 tasks with long titles (far more than the
    // plugin's pipe and feed window hold) are created and reach a volunteer.
    Lead lead(server.port(), "lin");
    lead.create(400, kYili, std::string(300, 'r'));
    mt::ClientFixture volunteer("wang");
    volunteer.login(server, "wang");
    auto list = mt::run_json(volunteer, {"task", "list", "--area", kYili});
    CHECK(list.size() == 400);
    CHECK(mt::http_get(server.port(), "/healthz") == std::optional<std::string>("ok\n"));

    CHECK(server.metric("muster_plugin_bad_lines_total").value_or(0) >= 5);
    CHECK(server.metric("muster_plugins_running").value_or(0) == 1);
    const std::string log = server.log();
    // Why each line was skipped and what kind it was; never what it held.
    CHECK(mt::contains(log, "plugin noisy: skipped a line: line is not valid JSON (16 bytes)"));
    CHECK_FALSE(mt::contains(log, "this is not json"));
    CHECK(mt::contains(log, "plugin noisy: skipped a line: line must be a JSON object (7 bytes)"));
    CHECK(mt::contains(log, "plugin noisy: skipped a line: unknown line type 'teleport'"));
    CHECK(mt::contains(log, "plugin noisy: skipped a line: op: field 'body' must be an object (t 'op', kind 'task.create', "));
    CHECK(mt::contains(log, "plugin noisy: skipped a line: line is not valid UTF-8"));
    CHECK_FALSE(mt::contains(log, "not utf-8"));
    CHECK(mt::contains(log, "plugin noisy: a line longer than 65536 bytes was skipped"));
    CHECK(mt::contains(log, "plugin noisy: more than 200 lines/s: reading paused"));
    CHECK(mt::contains(log, "plugin noisy: too much to log: its next lines are counted, not logged, for 10 s"));
    // It is throttled, not served at its own pace: far fewer lines than it tried.
    CHECK(server.metric("muster_plugin_lines_total").value_or(0) < 20000);
    // The events it does not read wait in the log, not in the server's memory.
    std::ifstream status("/proc/" + std::to_string(server.pid()) + "/status");
    std::string line;
    long rss_kb = 0;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) rss_kb = std::stol(line.substr(6));
    }
    CHECK(rss_kb > 0);
    CHECK(rss_kb < 200 * 1024);
    server.stop();
    CHECK_FALSE(server.running());
  }
}
