// The fault matrix (issue 13): the bad-input cases of the issue that protocol_test,
// mqtt_test and plugin_host_test do not already cover, in one table. Each is sent by a
// logged-in volunteer or lead over WebSocket and answered with the documented error; the
// log gets nothing (the rejection's audit row is bounded); and after each, another client's
// session, open all along, has its op acked and its event numbered next.
//
// Covered elsewhere, not repeated here: frames that are not JSON, of unknown type, of
// wrong field types, nested 100,000 deep (before and after hello; over MQTT too), invalid
// UTF-8, over the frame limit (1009, and 2 MiB after the close handshake), ops before
// hello, failed logins, forbidden ops and unknown tasks (protocol_test); malformed MQTT
// payloads (mqtt_test); plugin lines (plugin_host_test).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
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

const std::string kArea = "gulou/antai/yili";

std::unique_ptr<mt::RawWs> login(int port, const std::string& user) {
  auto ws = std::make_unique<mt::RawWs>();
  REQUIRE(ws->connect(port));
  REQUIRE(ws->send_text(json{{"t", "hello"}, {"v", 1}, {"user", user}, {"password", "password123"},
                             {"device", user + "-raw"}, {"cursors", json::object()}}
                            .dump()));
  const auto deadline = mt::SteadyClock::now() + 10s;
  while (true) {
    auto f = mt::next_frame(*ws, mt::left_until(deadline));
    REQUIRE_MESSAGE(f.has_value(), user << ": no caught_up; close code " << ws->close_code());
    if (f->type() == "caught_up") break;
  }
  return ws;
}

// The answer to op `id` (an ack, or an error frame), skipping events.
std::optional<mt::Frame> answer(mt::RawWs& ws, const std::string& id) {
  const auto deadline = mt::SteadyClock::now() + 10s;
  while (true) {
    auto f = mt::next_frame(ws, mt::left_until(deadline));
    if (!f) return std::nullopt;
    if (f->type() == "error") return f;
    if (f->type() == "ack" && f->str("id") == id) return f;
  }
}

struct Case {
  std::string what;
  std::string who;  // "wang" (volunteer) or "lin" (lead)
  std::string kind;
  json body;
  std::string code;  // the ack's error code, or "bad_frame" for an error frame
  std::string message_has;
};

double gseq(const mt::ServerFixture& server) { return server.metric("muster_last_gseq").value_or(-1); }

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("fault: bad input gets the documented error, writes nothing, and another client keeps working") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kArea);
    server.add_user("zhou", "coordinator", "gulou/antai");
    server.add_user("wang", "volunteer", kArea + "/b3");
    server.start();
    const int port = server.port();

    auto zhou = login(port, "zhou");  // the other client, connected all along
    auto lin = login(port, "lin");
    auto wang = login(port, "wang");

    // A task to point ops at.
    const std::string task = mt::new_id();
    REQUIRE(lin->send_text(json{{"t", "op"}, {"id", task}, {"kind", "task.create"},
                                {"body", {{"kind", "errand"}, {"title", "代买 白菜"}, {"area", kArea}, {"dispatch", "claim"}}}}
                               .dump()));
    auto made = answer(*lin, task);
    REQUIRE(made.has_value());
    REQUIRE(made->j["ok"] == true);

    json many_details = json::object();
    for (int i = 0; i < 33; ++i) many_details["k" + std::to_string(i)] = "v";
    json deep = json::array();
    for (int i = 0; i < 70; ++i) deep = json::array({deep});
    const std::vector<Case> cases{
        {"an op kind of 250 KB", "wang", std::string(250 * 1000, 'k'), {{"task", task}}, "invalid", "kind"},
        {"an op kind of 65 bytes", "wang", std::string(65, 'k'), {{"task", task}}, "invalid", "kind"},
        {"an unknown op kind", "wang", "task.steal", {{"task", task}}, "invalid", "unknown op kind"},
        {"a task kind that does not exist", "lin", "task.create",
         {{"kind", "shopping"}, {"title", "x"}, {"area", kArea}}, "invalid", "unknown task kind"},
        {"a title of 401 bytes", "lin", "task.create",
         {{"kind", "errand"}, {"title", std::string(401, 't')}, {"area", kArea}}, "invalid", "title"},
        {"33 details", "lin", "task.create",
         {{"kind", "errand"}, {"title", "x"}, {"area", kArea}, {"details", many_details}}, "invalid", "too many details"},
        {"a detail of 1,001 bytes", "lin", "task.create",
         {{"kind", "errand"}, {"title", "x"}, {"area", kArea}, {"details", {{"k", std::string(1001, 'd')}}}}, "invalid",
         "details"},
        {"a malformed area path", "lin", "task.create", {{"kind", "errand"}, {"title", "x"}, {"area", "gulou//yili"}},
         "invalid", "area"},
        {"an area that does not exist", "lin", "task.create", {{"kind", "errand"}, {"title", "x"}, {"area", kArea + "/b99"}},
         "invalid", "unknown area"},
        {"a hotline_followup made by hand", "lin", "task.create",
         {{"kind", "hotline_followup"}, {"title", "x"}, {"area", kArea}}, "invalid", "hotline"},
        {"a note of 2,001 bytes", "wang", "task.claim", {{"task", task}, {"note", std::string(2001, 'n')}}, "invalid", "note"},
        {"a message of 8,001 bytes", "wang", "message.send", {{"to", "lin"}, {"text", std::string(8001, 'm')}}, "invalid",
         "text"},
        {"a message to nobody", "wang", "message.send", {{"to", "nobody"}, {"text", "你好"}}, "not_found", "nobody"},
        {"a notice by a volunteer", "wang", "notice.post", {{"area", kArea}, {"text", "停水"}}, "forbidden", ""},
        {"a hotline call by a volunteer", "wang", "hotline.log",
         {{"started", "2026-01-01T00:00:00Z"}, {"duration", 5}, {"category", "x"}, {"risk", 1}, {"notes", "秘密"}},
         "forbidden", "hotline"},
        {"a body nested 70 deep", "wang", "task.claim", {{"task", deep}}, "bad_frame", "nested deeper"},
    };

    double expected_gseq = gseq(server);
    for (const auto& c : cases) {
      CAPTURE(c.what);
      mt::RawWs& ws = c.who == "lin" ? *lin : *wang;
      const std::string id = mt::new_id();
      REQUIRE(ws.send_text(json{{"t", "op"}, {"id", id}, {"kind", c.kind}, {"body", c.body}}.dump()));
      auto a = answer(ws, id);
      REQUIRE_MESSAGE(a.has_value(), "no answer; close code " << ws.close_code());
      INFO("answer: " << a->raw.substr(0, 600));
      CHECK(a->raw.size() < 2048);  // a bounded answer, whatever was sent
      if (c.code == "bad_frame") {
        CHECK(a->type() == "error");
        CHECK(a->str("code") == "bad_frame");
        CHECK(mt::contains(a->str("message"), c.message_has));
      } else {
        CHECK(a->j["ok"] == false);
        CHECK(a->j["error"]["code"] == c.code);
        CHECK(mt::contains(a->j["error"].value("message", ""), c.message_has));
      }
      CHECK_FALSE(ws.closed());
      CHECK(gseq(server) == expected_gseq);  // nothing written

      // The other client is served: its message is acked and numbered next.
      const std::string ok = mt::new_id();
      REQUIRE(zhou->send_text(
          json{{"t", "op"}, {"id", ok}, {"kind", "message.send"}, {"body", {{"to", "lin"}, {"text", "收到"}}}}.dump()));
      auto fine = answer(*zhou, ok);
      REQUIRE(fine.has_value());
      CHECK(fine->j["ok"] == true);
      expected_gseq = gseq(server);
    }

    // The audit keeps a bounded prefix of what was refused.
    muster::store::OpenOptions options;
    options.read_only = true;
    options.create = false;
    auto db = muster::store::Db::open(server.data_dir() + "/log.db", options);
    auto s = db.prepare("SELECT max(length(kind)), max(length(ack)) FROM ops WHERE ok = 0");
    REQUIRE(s.step());
    CHECK(s.int64(0) <= 256);
    CHECK(s.int64(1) <= 2048);
    MESSAGE(cases.size() << " bad inputs refused; the audit's longest kind " << s.int64(0) << " bytes, longest ack "
                         << s.int64(1) << " bytes");
  }
}
