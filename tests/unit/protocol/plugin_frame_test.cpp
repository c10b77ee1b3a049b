// The plugin protocol's lines (plugins/README.md): what the host reads from a plugin
// and what a plugin reads from the host.
#include "muster/protocol/plugin_frame.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace muster::protocol;
using muster::domain::OpId;

namespace {

std::string error_of(const muster::Result<PluginLine>& r) { return r ? std::string() : r.error().message; }

}  // namespace

TEST_CASE("a plugin's lines decode: subscribe, op, cursor, log") {
  auto sub = decode_plugin_line(R"({"t":"subscribe","scopes":["area:gulou/antai/yili","user:bridge"]})");
  REQUIRE(sub);
  CHECK(std::get<PluginSubscribe>(*sub).scopes == std::vector<std::string>{"area:gulou/antai/yili", "user:bridge"});

  auto op = decode_plugin_line(
      R"({"t":"op","id":"01KAQ3M6ZP7G8C5V8N1S2T3W4X","kind":"task.create","body":{"kind":"errand"}})");
  REQUIRE(op);
  CHECK(std::get<OpFrame>(*op).op.id.str() == "01KAQ3M6ZP7G8C5V8N1S2T3W4X");
  CHECK(std::get<OpFrame>(*op).op.kind == "task.create");
  CHECK(std::get<OpFrame>(*op).op.body["kind"] == "errand");

  auto cursor = decode_plugin_line(R"({"t":"cursor","cursors":{"area:gulou":7}})");
  REQUIRE(cursor);
  CHECK(std::get<CursorFrame>(*cursor).cursors.at("area:gulou") == 7);

  auto log = decode_plugin_line(R"({"t":"log","level":"warn","message":"prosody is away"})");
  REQUIRE(log);
  CHECK(std::get<PluginLog>(*log).level == "warn");
  CHECK(std::get<PluginLog>(*log).message == "prosody is away");
  auto plain = decode_plugin_line(R"({"t":"log","message":"hello"})");
  REQUIRE(plain);
  CHECK(std::get<PluginLog>(*plain).level == "info");
}

TEST_CASE("a plugin's bad lines are errors that say what is wrong") {
  CHECK(error_of(decode_plugin_line("not json")) == "line is not valid JSON");
  CHECK(error_of(decode_plugin_line("[1,2]")) == "line must be a JSON object");
  CHECK(error_of(decode_plugin_line(R"({"x":1})")) == "line needs a string field 't'");
  CHECK(error_of(decode_plugin_line(R"({"t":"hello","v":1})")) == "unknown line type 'hello'");
  CHECK(error_of(decode_plugin_line(R"({"t":"subscribe"})")) == "subscribe: field 'scopes' is missing");
  CHECK(error_of(decode_plugin_line(R"({"t":"subscribe","scopes":[1]})")) ==
        "subscribe: field 'scopes' must be an array of strings");
  CHECK(error_of(decode_plugin_line(R"({"t":"log","level":3,"message":"m"})")) ==
        "log: field 'level' must be a string");
  CHECK(error_of(decode_plugin_line(R"({"t":"op","id":"x","kind":"task.create","body":7})")) ==
        "op: field 'body' must be an object");
  CHECK(error_of(decode_plugin_line(R"({"t":"cursor","cursors":{"area:a":-1}})")) ==
        "cursor: field 'cursors' must map scopes to non-negative integers");
  CHECK(error_of(decode_plugin_line("\"\xff\"")) == "line is not valid UTF-8");
  CHECK(error_of(decode_plugin_line(R"({"t":"subscribe","scopes":[],"cursors":{"area:a":"1"}})")) ==
        "subscribe: field 'cursors' must map scopes to non-negative integers");
  CHECK(error_of(decode_plugin_line(R"({"t":"backfill","scope":"area:a","from":-1})")) ==
        "backfill: field 'from' must be a non-negative integer");
}

TEST_CASE("what a plugin writes decodes back to the same line") {
  for (const PluginLine& line :
       {PluginLine{PluginSubscribe{{"area:gulou", "user:bridge"}}},
        PluginLine{PluginSubscribe{{"area:gulou"}, Cursors{{"area:gulou", 7}}}},
        PluginLine{OpFrame{{OpId("01KAQ3M6ZP7G8C5V8N1S2T3W4X"), "task.cancel", {{"task", "01KAQ3M6ZP7G8C5V8N1S2T3W4Y"}}}}},
        PluginLine{CursorFrame{{{"area:gulou", 3}, {"user:bridge", 9}}}}, PluginLine{Backfill{"area:gulou", 4}},
        PluginLine{PluginLog{"error", "oops"}}}) {
    const std::string text = encode(line);
    CAPTURE(text);
    CHECK(text.find('\n') == std::string::npos);
    auto back = decode_plugin_line(text);
    REQUIRE(back);
    CHECK(encode(*back) == text);
  }
}

TEST_CASE("init carries the config, the identity, the scopes, the areas and the cursors") {
  PluginInit init;
  init.config = {{"user", "bridge"}, {"jid", "bot@localhost"}};
  init.user = "bridge";
  init.area = "gulou/antai/yili";
  init.scopes = {"user:bridge", "area:gulou/antai/yili"};
  init.areas = {"gulou/antai/yili", "gulou/antai/yili/b3"};
  init.cursors = {{"area:gulou/antai/yili", 12}};
  const std::string text = encode_plugin_init(init);
  auto j = nlohmann::json::parse(text);
  CHECK(j["t"] == "init");
  CHECK(j["v"] == 1);
  CHECK(j["config"]["jid"] == "bot@localhost");
  auto back = decode_host_line(text);
  REQUIRE(back);
  const auto& got = std::get<PluginInit>(*back);
  CHECK(got.user == "bridge");
  CHECK(got.area == "gulou/antai/yili");
  CHECK(got.scopes == init.scopes);
  CHECK(got.areas == init.areas);
  CHECK(got.cursors == init.cursors);
  CHECK(got.config == init.config);
  CHECK(got.people.empty());
  CHECK_FALSE(j.contains("people"));
  init.people = {{"wang", "王芳"}};
  auto with_people = decode_host_line(encode_plugin_init(init));
  REQUIRE(with_people);
  CHECK(std::get<PluginInit>(*with_people).people == init.people);
}

TEST_CASE("a plugin reads events, acks, caught_up and errors as the WebSocket frames they are") {
  muster::domain::Event e;
  e.scope = "area:gulou/antai/yili/b3";
  e.seq = 4;
  e.gseq = 40;
  e.id = "01KAQ3M70000000000000000AB";
  e.op = OpId("01KAQ3M6ZP7G8C5V8N1S2T3W4X");
  e.kind = "task.accepted";
  e.actor = "wang";
  e.at = "2026-11-24T08:00:00Z";
  e.body = {{"task", "01KAQ3M6ZP7G8C5V8N1S2T3W4X"}};
  auto event = decode_host_line(encode_event(e));
  REQUIRE(event);
  CHECK(std::get<EventFrame>(*event).event.actor == "wang");

  auto ack = decode_host_line(R"({"t":"ack","id":"01K","ok":false,"error":{"code":"forbidden","message":"no"}})");
  REQUIRE(ack);
  CHECK(std::get<Ack>(*ack).error->code == muster::Errc::forbidden);
  CHECK(decode_host_line(R"({"t":"caught_up"})"));
  CHECK(decode_host_line(R"({"t":"error","code":"bad_frame","message":"m"})"));
  auto welcome = decode_host_line(R"({"t":"welcome","user":"u","roles":[],"token":"t","scopes":[]})");
  CHECK_FALSE(welcome);
  CHECK(decode_host_line(R"({"t":"init","v":1,"config":[],"user":"u","area":"a","scopes":[],"areas":[]})")
            .error()
            .message == "init: field 'config' must be an object");
}

TEST_CASE("lines nested 100,000 levels deep are refused both ways, naming the limit") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(error_of(decode_plugin_line(R"({"t":"op","id":"x","kind":"task.create","body":{"a":)" + deep + "}}")) ==
        "line is nested deeper than the limit of 64 levels");
  CHECK(error_of(decode_plugin_line(R"({"t":"log","message":"m","extra":)" + deep + "}")) ==
        "line is nested deeper than the limit of 64 levels");
  auto init = decode_host_line(R"({"t":"init","v":1,"config":{"a":)" + deep +
                               R"(},"user":"u","area":"a","scopes":[],"areas":[]})");
  REQUIRE_FALSE(init);
  CHECK(init.error().message == "line is nested deeper than the limit of 64 levels");
}

TEST_CASE("init: every field named when it is missing or of the wrong type") {
  auto init_error = [](const std::string& text) {
    auto r = decode_host_line(text);
    return r ? std::string("decoded") : r.error().message;
  };
  CHECK(init_error(R"({"t":"init","config":{},"user":"u","area":"a","scopes":[],"areas":[]})") ==
        "init: field 'v' is missing");
  CHECK(init_error(R"({"t":"init","v":1,"user":"u","area":"a","scopes":[],"areas":[]})") ==
        "init: field 'config' is missing");
  CHECK(init_error(R"({"t":"init","v":1,"config":{},"user":"u","area":"a","scopes":[1],"areas":[]})") ==
        "init: field 'scopes' must be an array of strings");
  CHECK(init_error(R"({"t":"init","v":1,"config":{},"user":"u","area":"a","scopes":[],"areas":[],"cursors":{"s":-1}})") ==
        "init: field 'cursors' must map scopes to non-negative integers");
  CHECK(init_error(R"({"t":"init","v":1,"config":{},"user":"u","area":"a","scopes":[],"areas":[],"cursors":null})") ==
        "decoded");
}
