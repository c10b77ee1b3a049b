// SPEC §11, the server's log (server/musterd/core/log.hpp), with the real musterd:
//  - one line per event on stderr: the time in UTC (ISO-8601, milliseconds), the level,
//    the message; `--log-level` chooses the least level written, and an unknown level is
//    a usage error naming it;
//  - no hotline note reaches it, whatever carries one: a plugin's line, a WebSocket
//    frame or an MQTT frame that fails decoding, at the most verbose level.

#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "frames.hpp"
#include "muster/base/time.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using mt::contains;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kArea = "gulou/antai/yili";
// Distinctive, so finding it in the log means the notes leaked.
const std::string kNotes = "来电者说她已经三天没有合眼，丈夫失业后家里常常争吵，她想知道社区能不能帮忙联系心理医生。";
const std::string kNotesPart = "三天没有合眼";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// `musterd serve` on the fixture's data dir and port with its own environment and
// arguments, until it answers /healthz; then SIGTERM. Its stderr.
std::string serve_and_stop(const mt::ServerFixture& server, const std::vector<std::string>& extra,
                           const std::map<std::string, std::string>& env = {},
                           const std::string& wait_for = "") {
  std::vector<std::string> argv{mt::binary_path("musterd"), "serve", "--data", server.data_dir(), "--listen",
                                "127.0.0.1:" + std::to_string(server.port())};
  argv.insert(argv.end(), extra.begin(), extra.end());
  mt::Process proc(argv, env);
  const bool up = mt::wait_until([&] { return !proc.running() || mt::http_get(server.port(), "/healthz").has_value(); },
                                 10s, 50ms);
  REQUIRE_MESSAGE((up && proc.running()), proc.err());
  if (!wait_for.empty()) {
    CHECK_MESSAGE(mt::wait_until([&] { return contains(proc.err(), wait_for); }, 10s), proc.err());
  }
  CHECK(proc.terminate(10s) == 0);
  return proc.err();
}

json call_body() {
  return json{{"started", "2026-10-01T13:40:00Z"}, {"duration", 5}, {"category", "x"}, {"risk", 1}, {"notes", kNotes}};
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("server log: one line per event, the UTC time with milliseconds, the level, the message") {
    mt::ServerFixture server;
    const auto before = muster::SystemClock().now_ms();
    // Eight hours off UTC: a local time in the log would show.
    const std::string log = serve_and_stop(server, {}, {{"TZ", "XST-8"}});
    const auto after = muster::SystemClock().now_ms();

    const std::regex shape(R"(^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (trace|debug|info|warn|error) (.+)$)");
    const auto lines = lines_of(log);
    REQUIRE_MESSAGE(lines.size() >= 2, log);
    bool serving = false, stopping = false;
    for (const auto& line : lines) {
      std::smatch m;
      REQUIRE_MESSAGE(std::regex_match(line, m, shape), line);
      const auto at = muster::parse_utc(m[1].str());
      REQUIRE(at.has_value());
      CHECK(*at >= before - 1000);
      CHECK(*at <= after + 1000);
      const std::string message = m[3];
      if (message.rfind("serving " + server.data_dir() + " on ws://127.0.0.1:" + std::to_string(server.port()) + " (",
                        0) == 0) {
        serving = true;
        CHECK(m[2] == "info");
      }
      if (message == "stopping") {
        stopping = true;
        CHECK(m[2] == "info");
      }
    }
    CHECK_MESSAGE(serving, log);
    CHECK_MESSAGE(stopping, log);
  }

  TEST_CASE("server log: --log-level chooses the least level written; an unknown one is a usage error") {
    mt::ServerFixture server;
    // A broker that is not there: musterd warns that it cannot connect, and serves on.
    mt::TempDir dir("log-");
    const std::string password_file = dir.path() + "/broker-password";
    std::ofstream(password_file) << "not-used-here\n";
    const std::vector<std::string> mqtt{"--mqtt", "tcp://127.0.0.1:" + std::to_string(mt::free_port()),
                                        "--mqtt-password-file", password_file};
    auto with = [&](std::vector<std::string> args, const std::string& level) {
      args.insert(args.end(), {"--log-level", level});
      return args;
    };

    const std::string warn = serve_and_stop(server, with(mqtt, "warn"), {}, "mqtt: cannot connect to");
    CHECK(contains(warn, " warn mqtt: cannot connect to tcp://127.0.0.1:"));
    CHECK_FALSE(contains(warn, " info "));
    CHECK_FALSE(contains(warn, "serving"));

    const std::string error = serve_and_stop(server, with(mqtt, "error"));
    CHECK_FALSE(contains(error, "mqtt: cannot connect"));
    CHECK_FALSE(contains(error, "serving"));

    const std::string debug = serve_and_stop(server, with(mqtt, "debug"), {}, "mqtt: cannot connect to");
    CHECK(contains(debug, " info serving "));
    CHECK(contains(debug, " warn mqtt: cannot connect to tcp://127.0.0.1:"));

    for (const std::string level : {"loud", "WARN", "warning", ""}) {
      CAPTURE(level);
      auto r = server.admin({"serve", "--listen", "127.0.0.1:" + std::to_string(server.port()), "--log-level", level});
      CHECK_MESSAGE(r.code == 1, mt::describe(r));
      CHECK(contains(r.err, "unknown --log-level '" + level + "' (one of trace, debug, info, warn, error)"));
      CHECK(contains(r.err, "usage:"));
    }
  }

  TEST_CASE("server log: hotline notes in a plugin line, a WebSocket frame or an MQTT frame that fails decoding never reach it") {
    mt::ServerFixture server;
    server.add_user("hana", "hotline", kArea);
    server.add_user("noisy", "plugin", kArea);
    mt::BrokerFixture broker(server);
    mt::TempDir dir("plugin-");
    const std::string pid_file = dir.path() + "/pid";
    const json call = call_body();
    // Each line carries the notes and is skipped: the op without its id, the op whose
    // body is not an object, the notes as the line's type, not JSON, not UTF-8. The
    // last one decodes and is refused (a plugin may not log calls).
    const std::vector<std::string> lines{
        json{{"t", "op"}, {"kind", "hotline.log"}, {"body", call}}.dump(),
        json{{"t", "op"}, {"id", mt::new_id()}, {"kind", "hotline.log"}, {"body", json::array({kNotes})}}.dump(),
        json{{"t", kNotes}, {"body", call}}.dump(),
        "hotline.log " + kNotes,
        "\\xff" + json{{"t", "op"}, {"body", call}}.dump(),
        json{{"t", "op"}, {"id", mt::new_id()}, {"kind", "hotline.log"}, {"body", call}}.dump(),
    };
    std::ofstream(dir.path() + "/plugin.json") << json{{"user", "noisy"},
                                                       {"name", "noisy"},
                                                       {"mode", "lines"},
                                                       {"lines", lines},
                                                       {"pid_file", pid_file}}
                                                      .dump();
    server.start({"--log-level", "trace", "--mqtt", broker.url(), "--plugin", mt::binary_path("muster-test-plugin"),
                  "--plugin-config", dir.path() + "/plugin.json"});
    REQUIRE_MESSAGE(
        mt::wait_until([&] { return server.metric("muster_plugin_bad_lines_total").value_or(0) >= 5; }, 15s),
        server.log());
    REQUIRE_MESSAGE(mt::wait_until([&] { return server.metric("muster_mqtt_connected").value_or(0) == 1; }, 10s),
                    server.log());

    // Over WebSocket, as a hotline operator.
    const std::vector<std::string> frames{
        json{{"t", "op"}, {"kind", "hotline.log"}, {"body", call}}.dump(),
        json{{"t", "op"}, {"id", mt::new_id()}, {"kind", "hotline.log"}, {"body", kNotes}}.dump(),
        json{{"t", kNotes}}.dump(),
        "hotline.log " + kNotes,
        json{{"t", "query"}, {"name", "hotline.show"}, {"args", kNotes}}.dump(),
    };
    {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      REQUIRE(ws.send_text(
          json{{"t", "hello"}, {"v", 1}, {"user", "hana"}, {"password", "password123"}, {"device", "raw"}}.dump()));
      int errors = 0;
      bool sent = false;
      for (auto deadline = mt::SteadyClock::now() + 10s; errors < static_cast<int>(frames.size());) {
        auto f = mt::next_frame(ws, mt::left_until(deadline));
        REQUIRE_MESSAGE(f.has_value(), "error frames: " << errors);
        if (f->type() == "caught_up" && !sent) {
          sent = true;
          for (const auto& frame : frames) REQUIRE(ws.send_text(frame));
        }
        if (f->type() == "error") ++errors;
      }
      ws.close();
    }

    // Over MQTT, on the operator's op topic.
    const double bad_before = server.metric("muster_bad_frames_total").value_or(0);
    for (const auto& frame : frames) {
      auto r = broker.publish("hana", "password123", "muster/v1/op/hana", frame);
      REQUIRE_MESSAGE(r.code == 0, mt::describe(r));
    }
    CHECK_MESSAGE(mt::wait_until(
                      [&] {
                        return server.metric("muster_bad_frames_total").value_or(0) >=
                               bad_before + static_cast<double>(frames.size());
                      },
                      15s),
                  server.log());
    server.stop();

    const std::string log = server.log();
    CHECK_FALSE(contains(log, kNotesPart));
    CHECK_FALSE(contains(log, "hotline.log " + kNotes.substr(0, 9)));
    // What the log does say about the skipped lines: why, and what kind of line it was.
    CHECK(count_of(log, "plugin noisy: skipped a line: ") == 5);
    CHECK(contains(log, "plugin noisy: skipped a line: op: field 'id' is missing (t 'op', kind 'hotline.log', "));
    CHECK(contains(log, "plugin noisy: skipped a line: op: field 'body' must be an object (t 'op', kind 'hotline.log', "));
    CHECK(contains(log, "plugin noisy: skipped a line: unknown line type '…' ("));
    CHECK(contains(log, "plugin noisy: skipped a line: line is not valid JSON ("));
    CHECK(contains(log, "plugin noisy: skipped a line: line is not valid UTF-8 ("));
  }
}
