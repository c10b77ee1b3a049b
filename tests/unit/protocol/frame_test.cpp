// The wire protocol (SPEC §4): one JSON object per frame, `t` naming its type.
// Decoding is strict and every problem is an error that names it; encoding is
// compact UTF-8 that decodes back to the same frame.
#include "muster/protocol/frame.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

using namespace muster::protocol;
using muster::domain::OpId;
using muster::Errc;

namespace {

// The frame of type F that `text` decodes to; fails the test if it does not.
template <class F>
F client(std::string_view text) {
  auto r = decode_client_frame(text);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  const F* f = std::get_if<F>(&*r);
  REQUIRE(f != nullptr);
  return *f;
}
template <class F>
F server(std::string_view text) {
  auto r = decode_server_frame(text);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  const F* f = std::get_if<F>(&*r);
  REQUIRE(f != nullptr);
  return *f;
}

// The error message decoding `text` gives, or "decoded" if it decoded.
std::string client_error(std::string_view text) {
  auto r = decode_client_frame(text);
  if (r.ok()) return "decoded";
  CHECK(r.error().code == Errc::invalid);
  return r.error().message;
}
std::string server_error(std::string_view text) {
  auto r = decode_server_frame(text);
  if (r.ok()) return "decoded";
  CHECK(r.error().code == Errc::invalid);
  return r.error().message;
}

template <class F>
F client_round_trip(const F& frame) {
  return client<F>(encode(ClientFrame{frame}));
}
template <class F>
F server_round_trip(const F& frame) {
  return server<F>(encode(ServerFrame{frame}));
}

muster::domain::Event sample_event() {
  muster::domain::Event e;
  e.scope = "area:gulou/antai/yili";
  e.seq = 17;
  e.gseq = 1234;
  e.id = "01JDEVENT00000000000000017";
  e.op = OpId("01JDOP0000000000000000001A");
  e.kind = "task.created";
  e.actor = "li";
  e.at = "2026-11-23T08:00:00Z";
  e.body = Json{{"id", "01JDOP0000000000000000001A"},
                {"title", "代买 白菜2斤 鸡蛋10个 送3栋502"},
                {"details", {{"items", "白菜 2斤; 鸡蛋 10个"}, {"note", "请放门口 😀"}}}};
  return e;
}

}  // namespace

// ======================================================================= client frames: good input

TEST_CASE("hello without credentials (over MQTT the broker authenticated the connection)") {
  auto h = client<Hello>(R"({"t":"hello","v":1,"user":"a","device":"d"})");
  CHECK_FALSE(h.password.has_value());
  CHECK_FALSE(h.token.has_value());
  auto nulls = client<Hello>(R"({"t":"hello","v":1,"user":"a","password":null,"token":null,"device":"d"})");
  CHECK_FALSE(nulls.password.has_value());
  CHECK_FALSE(nulls.token.has_value());
}

TEST_CASE("hello with a password and cursors") {
  auto h = client<Hello>(
      R"({"t":"hello","v":1,"user":"alice","password":"s3cret","device":"d1","cursors":{"area:gulou":12,"user:alice":0}})");
  CHECK(h.v == 1);
  CHECK(h.user == "alice");
  REQUIRE(h.password.has_value());
  CHECK(*h.password == "s3cret");
  CHECK_FALSE(h.token.has_value());
  CHECK(h.device == "d1");
  CHECK(h.cursors == Cursors{{"area:gulou", 12}, {"user:alice", 0}});
}

TEST_CASE("hello with a token instead; cursors are optional") {
  auto h = client<Hello>(R"({"t":"hello","v":1,"user":"alice","token":"tok-123","device":"laptop"})");
  CHECK_FALSE(h.password.has_value());
  REQUIRE(h.token.has_value());
  CHECK(*h.token == "tok-123");
  CHECK(h.cursors.empty());

  auto null_cursors = client<Hello>(R"({"t":"hello","v":1,"user":"a","token":"t","device":"d","cursors":null})");
  CHECK(null_cursors.cursors.empty());
  auto null_password = client<Hello>(R"({"t":"hello","v":1,"user":"a","password":null,"token":"t","device":"d"})");
  CHECK_FALSE(null_password.password.has_value());  // null means absent
}

TEST_CASE("hello reports the version it was given; the server decides what it speaks") {
  auto h = client<Hello>(R"({"t":"hello","v":2,"user":"a","token":"t","device":"d"})");
  CHECK(h.v == 2);
  CHECK(kProtocolVersion == 1);
}

TEST_CASE("op carries an id, a kind and an object body") {
  auto f = client<OpFrame>(
      R"({"t":"op","id":"01JDOP0000000000000000001A","kind":"task.claim","body":{"task":"01JDT","note":"在路上"}})");
  CHECK(f.op.id.str() == "01JDOP0000000000000000001A");
  CHECK(f.op.kind == "task.claim");
  CHECK(f.op.body == Json{{"task", "01JDT"}, {"note", "在路上"}});

  auto empty_body = client<OpFrame>(R"({"t":"op","id":"x","kind":"k","body":{}})");
  CHECK(empty_body.op.body == Json::object());
}

TEST_CASE("cursor, backfill and ping") {
  auto c = client<CursorFrame>(R"({"t":"cursor","cursors":{"area:gulou/antai":170,"role:hotline":3}})");
  CHECK(c.cursors == Cursors{{"area:gulou/antai", 170}, {"role:hotline", 3}});
  CHECK(client<CursorFrame>(R"({"t":"cursor","cursors":{}})").cursors.empty());

  auto b = client<Backfill>(R"({"t":"backfill","scope":"area:gulou","from":42})");
  CHECK(b.scope == "area:gulou");
  CHECK(b.from == 42);
  CHECK(client<Backfill>(R"({"t":"backfill","scope":"user:bob","from":0})").from == 0);

  client<Ping>(R"({"t":"ping"})");
}

TEST_CASE("cursor values go up to the largest 64-bit integer") {
  auto c = client<CursorFrame>(R"({"t":"cursor","cursors":{"area:gulou":9223372036854775807}})");
  CHECK(c.cursors.at("area:gulou") == INT64_MAX);
}

TEST_CASE("query names a read and passes optional object arguments") {
  auto q = client<Query>(R"({"t":"query","id":"q1","name":"notice.status","args":{"notice":"N1","by":"building"}})");
  CHECK(q.id == "q1");
  CHECK(q.name == "notice.status");
  CHECK(q.args == Json{{"notice", "N1"}, {"by", "building"}});
  CHECK(client<Query>(R"({"t":"query","id":"q2","name":"whoami"})").args == Json::object());
  CHECK(client<Query>(R"({"t":"query","id":"q3","name":"whoami","args":null})").args == Json::object());
}

TEST_CASE("unknown extra fields are ignored, and whitespace around the object is fine") {
  client<Ping>(R"({"t":"ping","sent_at":"2026-11-23T08:00:00Z","n":[1,2,3]})");
  auto f = client<OpFrame>(" \n{\"t\":\"op\",\"id\":\"x\",\"kind\":\"k\",\"body\":{},\"trace\":true}\r\n ");
  CHECK(f.op.id.str() == "x");
}

TEST_CASE("escaped characters decode to UTF-8") {
  auto f = client<OpFrame>(R"({"t":"op","id":"x","kind":"k","body":{"text":"\u4ee3\u4e70 \ud83d\ude00 \"q\" \n"}})");
  CHECK(f.op.body["text"] == "代买 😀 \"q\" \n");
}

// ======================================================================= client frames: errors

TEST_CASE("invalid UTF-8 anywhere in a frame is rejected before parsing") {
  CHECK(client_error("{\"t\":\"op\",\"id\":\"x\",\"kind\":\"message.send\",\"body\":{\"text\":\"\xff\"}}") ==
        "frame is not valid UTF-8");
  CHECK(client_error("{\"t\":\"ping\",\"x\":\"\xc0\xaf\"}") == "frame is not valid UTF-8");       // overlong '/'
  CHECK(client_error("{\"t\":\"ping\",\"x\":\"\xed\xa0\x80\"}") == "frame is not valid UTF-8");   // a surrogate
  CHECK(client_error("{\"t\":\"ping\",\"x\":\"\xe4\xbb\"}") == "frame is not valid UTF-8");       // "代" cut short
  CHECK(client_error("{\"t\":\"ping\"}\xff") == "frame is not valid UTF-8");                    // outside a string
}

TEST_CASE("escaped lone surrogates are not valid JSON text") {
  CHECK(client_error(R"({"t":"ping","x":"\ud800"})") == "frame is not valid JSON");
  CHECK(client_error(R"({"t":"ping","x":"\udc00"})") == "frame is not valid JSON");
}

TEST_CASE("a frame must be one complete JSON value") {
  for (const char* text : {"", " ", "ping", "{", R"({"t":"ping")", R"({"t":"ping"}})", R"({"t":"ping"} {"t":"ping"})",
                           R"({'t':'ping'})", R"({"t":"ping",})", R"({t:"ping"})"}) {
    CAPTURE(text);
    CHECK(client_error(text) == "frame is not valid JSON");
  }
}

TEST_CASE("a frame must be a JSON object") {
  for (const char* text : {R"([{"t":"ping"}])", "[]", R"("ping")", "42", "null", "true"}) {
    CAPTURE(text);
    CHECK(client_error(text) == "frame must be a JSON object");
  }
}

TEST_CASE("a frame needs a string t") {
  for (const char* text : {"{}", R"({"type":"ping"})", R"({"T":"ping"})", R"({"t":1})", R"({"t":null})",
                           R"({"t":["ping"]})", R"({"t":{"name":"ping"}})", R"({"t":true})"}) {
    CAPTURE(text);
    CHECK(client_error(text) == "frame needs a string field 't'");
  }
}

TEST_CASE("an unknown t is rejected, including server frame types and other spellings") {
  CHECK(client_error(R"({"t":"pong"})") == "unknown frame type 'pong'");
  CHECK(client_error(R"({"t":"event"})") == "unknown frame type 'event'");
  CHECK(client_error(R"({"t":"HELLO"})") == "unknown frame type 'HELLO'");
  CHECK(client_error(R"({"t":""})") == "unknown frame type ''");
  CHECK(client_error(R"({"t":"subscribe","scope":"area:gulou"})") == "unknown frame type 'subscribe'");
}

TEST_CASE("hello: every field checked, and at most one of password and token") {
  struct Case {
    const char* text;
    const char* message;
  };
  const std::vector<Case> cases{
      {R"({"t":"hello","user":"a","token":"t","device":"d"})", "hello: field 'v' is missing"},
      {R"({"t":"hello","v":"1","user":"a","token":"t","device":"d"})", "hello: field 'v' must be an integer"},
      {R"({"t":"hello","v":1.5,"user":"a","token":"t","device":"d"})", "hello: field 'v' must be an integer"},
      {R"({"t":"hello","v":1,"token":"t","device":"d"})", "hello: field 'user' is missing"},
      {R"({"t":"hello","v":1,"user":7,"token":"t","device":"d"})", "hello: field 'user' must be a string"},
      {R"({"t":"hello","v":1,"user":null,"token":"t","device":"d"})", "hello: field 'user' must be a string"},
      {R"({"t":"hello","v":1,"user":"a","token":"t"})", "hello: field 'device' is missing"},
      {R"({"t":"hello","v":1,"user":"a","token":"t","device":["d"]})", "hello: field 'device' must be a string"},
      {R"({"t":"hello","v":1,"user":"a","password":123,"device":"d"})", "hello: field 'password' must be a string"},
      {R"({"t":"hello","v":1,"user":"a","token":false,"device":"d"})", "hello: field 'token' must be a string"},
      {R"({"t":"hello","v":1,"user":"a","token":"t","device":"d","cursors":[]})",
       "hello: field 'cursors' must be an object"},
      {R"({"t":"hello","v":1,"user":"a","token":"t","device":"d","cursors":{"area:gulou":-1}})",
       "hello: field 'cursors' must map scopes to non-negative integers"},
      {R"({"t":"hello","v":1,"user":"a","token":"t","device":"d","cursors":{"area:gulou":"12"}})",
       "hello: field 'cursors' must map scopes to non-negative integers"},
      {R"({"t":"hello","v":1,"user":"a","token":"t","device":"d","cursors":{"area:gulou":1.5}})",
       "hello: field 'cursors' must map scopes to non-negative integers"},
      {R"({"t":"hello","v":1,"user":"a","token":"t","device":"d","cursors":{"area:gulou":null}})",
       "hello: field 'cursors' must map scopes to non-negative integers"},
      {R"({"t":"hello","v":1,"user":"a","password":"p","token":"t","device":"d"})",
       "hello: give a password or a token, not both"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CHECK(client_error(c.text) == c.message);
  }
}

TEST_CASE("op: id and kind are strings, body is a required object") {
  struct Case {
    const char* text;
    const char* message;
  };
  const std::vector<Case> cases{
      {R"({"t":"op","kind":"k","body":{}})", "op: field 'id' is missing"},
      {R"({"t":"op","id":5,"kind":"k","body":{}})", "op: field 'id' must be a string"},
      {R"({"t":"op","id":"x","body":{}})", "op: field 'kind' is missing"},
      {R"({"t":"op","id":"x","kind":null,"body":{}})", "op: field 'kind' must be a string"},
      {R"({"t":"op","id":"x","kind":"k"})", "op: field 'body' is missing"},
      {R"({"t":"op","id":"x","kind":"k","body":null})", "op: field 'body' must be an object"},
      {R"({"t":"op","id":"x","kind":"k","body":[]})", "op: field 'body' must be an object"},
      {R"({"t":"op","id":"x","kind":"k","body":"{}"})", "op: field 'body' must be an object"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CHECK(client_error(c.text) == c.message);
  }
}

TEST_CASE("the first problem of a frame is the one reported") {
  CHECK(client_error(R"({"t":"op","id":1,"kind":2})") == "op: field 'id' must be a string");
}

TEST_CASE("cursor: the cursors object is required and every value a non-negative integer") {
  CHECK(client_error(R"({"t":"cursor"})") == "cursor: field 'cursors' is missing");
  CHECK(client_error(R"({"t":"cursor","cursors":null})") == "cursor: field 'cursors' must be an object");
  CHECK(client_error(R"({"t":"cursor","cursors":[["area:gulou",1]]})") == "cursor: field 'cursors' must be an object");
  for (const char* value : {"-1", "-9223372036854775808", "18446744073709551615", "1e3", "\"7\"", "true", "{}"}) {
    CAPTURE(value);
    CHECK(client_error(std::string(R"({"t":"cursor","cursors":{"area:gulou":1,"user:bob":)") + value + "}}") ==
          "cursor: field 'cursors' must map scopes to non-negative integers");
  }
}

TEST_CASE("backfill: a string scope and a non-negative integer from") {
  CHECK(client_error(R"({"t":"backfill","from":1})") == "backfill: field 'scope' is missing");
  CHECK(client_error(R"({"t":"backfill","scope":1,"from":1})") == "backfill: field 'scope' must be a string");
  CHECK(client_error(R"({"t":"backfill","scope":"area:gulou"})") == "backfill: field 'from' is missing");
  CHECK(client_error(R"({"t":"backfill","scope":"area:gulou","from":"5"})") ==
        "backfill: field 'from' must be an integer");
  CHECK(client_error(R"({"t":"backfill","scope":"area:gulou","from":2.0})") ==
        "backfill: field 'from' must be an integer");
  CHECK(client_error(R"({"t":"backfill","scope":"area:gulou","from":-1})") ==
        "backfill: field 'from' must be a non-negative integer");
  CHECK(client_error(R"({"t":"backfill","scope":"area:gulou","from":18446744073709551615})") ==
        "backfill: field 'from' must be a non-negative integer");
}

TEST_CASE("query: id and name are strings, args an object if given") {
  CHECK(client_error(R"({"t":"query","name":"n"})") == "query: field 'id' is missing");
  CHECK(client_error(R"({"t":"query","id":"q","name":3})") == "query: field 'name' must be a string");
  CHECK(client_error(R"({"t":"query","id":"q"})") == "query: field 'name' is missing");
  CHECK(client_error(R"({"t":"query","id":"q","name":"n","args":[1]})") == "query: field 'args' must be an object");
}

// ======================================================================= client frames: round trips

TEST_CASE("every client frame type encodes to compact JSON and decodes back") {
  SUBCASE("hello with password") {
    Hello h;
    h.user = "alice";
    h.password = "pässwörd 密码";
    h.device = "d1";
    h.cursors = {{"area:gulou", 12}, {"user:alice", 3}, {"role:hotline", 0}};
    auto back = client_round_trip(h);
    CHECK(back.v == kProtocolVersion);
    CHECK(back.user == h.user);
    CHECK(back.password == h.password);
    CHECK_FALSE(back.token.has_value());
    CHECK(back.device == h.device);
    CHECK(back.cursors == h.cursors);
  }
  SUBCASE("hello with token") {
    Hello h;
    h.user = "bob";
    h.token = "tok";
    h.device = "phone";
    auto back = client_round_trip(h);
    CHECK_FALSE(back.password.has_value());
    CHECK(back.token == h.token);
    CHECK(back.cursors.empty());
  }
  SUBCASE("op") {
    OpFrame f;
    f.op = muster::domain::Op{OpId("01JDOP"), "task.create",
                              Json{{"kind", "errand"}, {"title", "买药"}, {"details", {{"budget", "40"}}}}};
    auto back = client_round_trip(f);
    CHECK(back.op.id == f.op.id);
    CHECK(back.op.kind == f.op.kind);
    CHECK(back.op.body == f.op.body);
  }
  SUBCASE("cursor") {
    CursorFrame c{{{"area:gulou", 5}, {"user:bob", 9}}};
    CHECK(client_round_trip(c).cursors == c.cursors);
    CHECK(client_round_trip(CursorFrame{}).cursors.empty());
  }
  SUBCASE("backfill") {
    Backfill b{"area:gulou/antai", 101};
    auto back = client_round_trip(b);
    CHECK(back.scope == b.scope);
    CHECK(back.from == b.from);
  }
  SUBCASE("ping") {
    CHECK(encode(ClientFrame{Ping{}}) == R"({"t":"ping"})");
    client_round_trip(Ping{});
  }
  SUBCASE("query") {
    Query q{"q1", "notice.status", Json{{"notice", "N1"}}};
    auto back = client_round_trip(q);
    CHECK(back.id == q.id);
    CHECK(back.name == q.name);
    CHECK(back.args == q.args);
  }
}

TEST_CASE("encode writes the hello credential it was given and nothing else") {
  Hello h;
  h.user = "alice";
  h.token = "tok";
  h.device = "d1";
  const Json j = Json::parse(encode(ClientFrame{h}));
  CHECK(j["t"] == "hello");
  CHECK(j["v"] == 1);
  CHECK(j["token"] == "tok");
  CHECK_FALSE(j.contains("password"));
  CHECK(j["cursors"] == Json::object());
}

// ======================================================================= server frames

TEST_CASE("every server frame type encodes and decodes back") {
  SUBCASE("welcome") {
    Welcome w{"alice", {"lead", "volunteer"}, "gulou/antai", "tok-1",
              {"user:alice", "area:gulou", "area:gulou/antai", "role:lead"}};
    auto back = server_round_trip(w);
    CHECK(back.user == w.user);
    CHECK(back.roles == w.roles);
    CHECK(back.area == w.area);
    CHECK(back.token == w.token);
    CHECK(back.scopes == w.scopes);
    CHECK(back.people.empty());
    CHECK(encode(ServerFrame{w}).find("people") == std::string::npos);  // none: no field
  }
  SUBCASE("welcome with display names") {
    Welcome w{"alice", {"volunteer"}, "gulou/antai/yili/b3", "tok-1", {"user:alice"}};
    w.people = {{"lin", "林组长"}, {"wang", "王芳"}};
    auto back = server_round_trip(w);
    CHECK(back.people == w.people);
    // From an older client's point of view it is one more field; a malformed one is ignored.
    auto odd = decode_server_frame(
        R"({"t":"welcome","user":"a","roles":[],"token":"t","scopes":[],"people":{"lin":7,"wang":"王芳"}})");
    REQUIRE(odd);
    CHECK(std::get<Welcome>(*odd).people == std::map<std::string, std::string>{{"wang", "王芳"}});
  }
  SUBCASE("event") {
    EventFrame e{sample_event()};
    auto back = server_round_trip(e);
    CHECK(event_to_json(back.event) == event_to_json(e.event));
    CHECK(back.event.seq == 17);
    CHECK(back.event.gseq == 1234);
  }
  SUBCASE("caught_up") {
    CHECK(encode(ServerFrame{CaughtUp{}}) == R"({"t":"caught_up"})");
    server_round_trip(CaughtUp{});
  }
  SUBCASE("ack ok") {
    Ack a;
    a.id = OpId("01JDOP");
    auto back = server_round_trip(a);
    CHECK(back.id.str() == "01JDOP");
    CHECK(back.ok);
    CHECK_FALSE(back.error.has_value());
    CHECK(back.state.is_null());
    const Json j = Json::parse(encode(ServerFrame{a}));
    CHECK_FALSE(j.contains("error"));  // a good ack is small
    CHECK_FALSE(j.contains("state"));
  }
  SUBCASE("error") {
    ErrorFrame e{"bad_frame", "frame is not valid JSON"};
    auto back = server_round_trip(e);
    CHECK(back.code == e.code);
    CHECK(back.message == e.message);
  }
  SUBCASE("pong") {
    CHECK(encode(ServerFrame{Pong{}}) == R"({"t":"pong"})");
    server_round_trip(Pong{});
  }
  SUBCASE("query result") {
    QueryResult q{"q1", true, std::nullopt, Json{{"acked", 42}, {"expected", 48}, {"missing", {"bob", "carol"}}}};
    auto back = server_round_trip(q);
    CHECK(back.id == q.id);
    CHECK(back.ok);
    CHECK_FALSE(back.error.has_value());
    CHECK(back.body == q.body);
  }
  SUBCASE("failed query result") {
    QueryResult q{"q2", false, muster::make_error(Errc::not_found, "no notice N9"), Json()};
    auto back = server_round_trip(q);
    CHECK_FALSE(back.ok);
    REQUIRE(back.error.has_value());
    CHECK(back.error->code == Errc::not_found);
    CHECK(back.error->message == "no notice N9");
    CHECK(back.body.is_null());
  }
}

TEST_CASE("a failed ack carries its error and the object's current state") {
  Ack a;
  a.id = OpId("01JDOPCLAIM");
  a.ok = false;
  a.error = muster::make_error(Errc::conflict, "cannot claim: task is accepted by bob");
  a.state = Json{{"id", "01JDT"}, {"state", "accepted"}, {"assignee", "bob"}};

  const std::string text = encode(ServerFrame{a});
  const Json j = Json::parse(text);
  CHECK(j["t"] == "ack");
  CHECK(j["ok"] == false);
  CHECK(j["error"] == Json{{"code", "conflict"}, {"message", "cannot claim: task is accepted by bob"}});

  auto back = server<Ack>(text);
  CHECK(back.id == a.id);
  CHECK_FALSE(back.ok);
  REQUIRE(back.error.has_value());
  CHECK(back.error->code == Errc::conflict);
  CHECK(back.error->message == "cannot claim: task is accepted by bob");
  CHECK(back.state == a.state);
}

TEST_CASE("every error code survives an ack") {
  for (Errc code : {Errc::invalid, Errc::forbidden, Errc::conflict, Errc::not_found, Errc::unavailable}) {
    CAPTURE(std::string(muster::to_string(code)));
    Ack a;
    a.id = OpId("x");
    a.ok = false;
    a.error = muster::make_error(code, "m");
    auto back = server_round_trip(a);
    REQUIRE(back.error.has_value());
    CHECK(back.error->code == code);
  }
}

TEST_CASE("an event with Chinese text round-trips byte for byte, written as raw UTF-8") {
  const auto e = sample_event();
  const std::string text = encode_event(e);
  CHECK(text == encode(ServerFrame{EventFrame{e}}));
  CHECK(text.find("代买 白菜2斤 鸡蛋10个 送3栋502") != std::string::npos);  // not \u escapes
  CHECK(text.find("😀") != std::string::npos);
  CHECK(text.find("\\u") == std::string::npos);
  CHECK(text.find('\n') == std::string::npos);  // compact: one line

  auto back = server<EventFrame>(text);
  CHECK(back.event.body["title"].get<std::string>() == "代买 白菜2斤 鸡蛋10个 送3栋502");
  CHECK(back.event.body["details"]["note"].get<std::string>() == "请放门口 😀");
  CHECK(encode_event(back.event) == text);
}

TEST_CASE("event_to_json and event_from_json are inverse; the JSON is the event frame") {
  const auto e = sample_event();
  const Json j = event_to_json(e);
  CHECK(j["t"] == "event");
  CHECK(j["scope"] == "area:gulou/antai/yili");
  CHECK(j["seq"] == 17);
  CHECK(j["gseq"] == 1234);
  CHECK(j["op"] == e.op.str());
  CHECK(j["actor"] == "li");
  CHECK(j["at"] == "2026-11-23T08:00:00Z");
  auto back = event_from_json(j);
  REQUIRE(back.ok());
  CHECK(back->scope == e.scope);
  CHECK(back->id == e.id);
  CHECK(back->kind == e.kind);
  CHECK(back->body == e.body);
  CHECK(event_to_json(*back) == j);
}

TEST_CASE("server frames are decoded as strictly as client frames") {
  CHECK(server_error("{\"t\":\"pong\",\"x\":\"\xff\"}") == "frame is not valid UTF-8");
  CHECK(server_error("pong") == "frame is not valid JSON");
  CHECK(server_error(R"([{"t":"pong"}])") == "frame must be a JSON object");
  CHECK(server_error(R"({"type":"pong"})") == "frame needs a string field 't'");
  CHECK(server_error(R"({"t":"ping"})") == "unknown frame type 'ping'");
  CHECK(server_error(R"({"t":"hello"})") == "unknown frame type 'hello'");
}

TEST_CASE("event frames need every field, with the right type") {
  Json good = event_to_json(sample_event());
  for (const char* key : {"scope", "seq", "gseq", "id", "op", "kind", "actor", "at", "body"}) {
    CAPTURE(key);
    Json j = good;
    j.erase(key);
    CHECK(server_error(j.dump()) == std::string("event: field '") + key + "' is missing");
  }
  auto with = [&](const char* key, Json value) {
    Json j = good;
    j[key] = std::move(value);
    return server_error(j.dump());
  };
  CHECK(with("seq", "17") == "event: field 'seq' must be an integer");
  CHECK(with("gseq", 1.5) == "event: field 'gseq' must be an integer");
  CHECK(with("kind", 3) == "event: field 'kind' must be a string");
  CHECK(with("body", Json::array()) == "event: field 'body' must be an object");
  CHECK(with("body", nullptr) == "event: field 'body' must be an object");
}

TEST_CASE("ack frames: a failed ack needs an error with a string code") {
  CHECK(server_error(R"({"t":"ack","ok":true})") == "ack: field 'id' is missing");
  CHECK(server_error(R"({"t":"ack","id":"x"})") == "ack: field 'ok' is missing");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":"true"})") == "ack: field 'ok' must be true or false");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false})") == "ack: a failed ack needs an error");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false,"error":null})") == "ack: a failed ack needs an error");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false,"error":"conflict"})") ==
        "ack: field 'error' must be an object with a string code");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false,"error":{"message":"m"}})") ==
        "ack: field 'error' must be an object with a string code");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false,"error":{"code":4}})") ==
        "ack: field 'error' must be an object with a string code");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false,"error":{"code":"conflict","message":4}})") ==
        "ack: field 'error' must have a string message");
}

TEST_CASE("an ack error without a message has an empty one; an unknown code reads as invalid") {
  auto a = server<Ack>(R"({"t":"ack","id":"x","ok":false,"error":{"code":"conflict"}})");
  REQUIRE(a.error.has_value());
  CHECK(a.error->code == Errc::conflict);
  CHECK(a.error->message.empty());

  auto b = server<Ack>(R"({"t":"ack","id":"x","ok":false,"error":{"code":"teapot","message":"m"}})");
  REQUIRE(b.error.has_value());
  CHECK(b.error->code == Errc::invalid);
  CHECK(b.error->message == "m");
}

TEST_CASE("a rate_limited ack carries the wait, both ways; a bad wait is refused") {
  Ack a;
  a.id = muster::domain::OpId("x");
  a.ok = false;
  a.error = muster::make_error(Errc::rate_limited, "over the budget");
  a.error->retry_after_ms = 1500;
  const std::string text = encode(ServerFrame{a});
  CHECK(text.find(R"("retry_after_ms":1500)") != std::string::npos);
  auto back = server<Ack>(text);
  REQUIRE(back.error.has_value());
  CHECK(back.error->code == Errc::rate_limited);
  CHECK(back.error->retry_after_ms == 1500);
  // Other codes carry no wait.
  a.error = muster::make_error(Errc::conflict, "taken");
  CHECK(encode(ServerFrame{a}).find("retry_after_ms") == std::string::npos);
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false,"error":{"code":"rate_limited","retry_after_ms":-1}})") ==
        "ack: field 'error' must have a non-negative integer retry_after_ms");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":false,"error":{"code":"rate_limited","retry_after_ms":"1s"}})") ==
        "ack: field 'error' must have a non-negative integer retry_after_ms");
}

TEST_CASE("welcome, error and result frames check their fields") {
  const char* welcome_ok = R"({"t":"welcome","user":"a","roles":["lead"],"token":"t","scopes":["user:a"]})";
  CHECK(server<Welcome>(welcome_ok).area.empty());  // area is optional
  CHECK(server_error(R"({"t":"welcome","roles":[],"token":"t","scopes":[]})") == "welcome: field 'user' is missing");
  CHECK(server_error(R"({"t":"welcome","user":"a","roles":"lead","token":"t","scopes":[]})") ==
        "welcome: field 'roles' must be an array of strings");
  CHECK(server_error(R"({"t":"welcome","user":"a","roles":["lead",1],"token":"t","scopes":[]})") ==
        "welcome: field 'roles' must be an array of strings");
  CHECK(server_error(R"({"t":"welcome","user":"a","roles":[],"scopes":[]})") == "welcome: field 'token' is missing");
  CHECK(server_error(R"({"t":"welcome","user":"a","roles":[],"token":"t"})") == "welcome: field 'scopes' is missing");
  CHECK(server_error(R"({"t":"welcome","user":"a","roles":[],"area":5,"token":"t","scopes":[]})") ==
        "welcome: field 'area' must be a string");

  CHECK(server_error(R"({"t":"error","message":"m"})") == "error: field 'code' is missing");
  CHECK(server_error(R"({"t":"error","code":"bad_frame"})") == "error: field 'message' is missing");

  CHECK(server_error(R"({"t":"result","ok":true})") == "result: field 'id' is missing");
  CHECK(server_error(R"({"t":"result","id":"q"})") == "result: field 'ok' is missing");
  CHECK(server_error(R"({"t":"result","id":"q","ok":false,"error":[]})") ==
        "result: field 'error' must be an object with a string code");
}

// ======================================================================= limits

TEST_CASE("a frame nested 100,000 levels deep is refused before it is built, naming the limit") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(client_error(R"({"t":"op","id":"x","kind":"k","body":{"items":)" + deep + "}}") ==
        "frame is nested deeper than the limit of 64 levels");
  CHECK(client_error(std::string(100000, '{')) == "frame is nested deeper than the limit of 64 levels");
  CHECK(server_error(R"({"t":"ack","id":"x","ok":true,"state":)" + deep + "}") ==
        "frame is nested deeper than the limit of 64 levels");
}

TEST_CASE("a body nested up to the frame's limit decodes and encodes back") {
  // The frame is level 1, its body level 2, the array "items" level 3: 62 arrays reach 64.
  const std::string ok = std::string(62, '[') + std::string(62, ']');
  auto f = client<OpFrame>(R"({"t":"op","id":"x","kind":"k","body":{"items":)" + ok + "}}");
  CHECK(f.op.body["items"].dump() == ok);
  CHECK(encode(ClientFrame{f}).find(ok) != std::string::npos);
  const std::string one_more = std::string(63, '[') + std::string(63, ']');
  CHECK(client_error(R"({"t":"op","id":"x","kind":"k","body":{"items":)" + one_more + "}}") ==
        "frame is nested deeper than the limit of 64 levels");
}

TEST_CASE("integers above the 64-bit range are refused, never wrapped") {
  Json j = event_to_json(sample_event());
  j["seq"] = 18446744073709551615ULL;
  CHECK(server_error(j.dump()) == "event: field 'seq' must be an integer that fits in 64 bits");
  CHECK(client_error(R"({"t":"hello","v":4294967296,"user":"a","token":"t","device":"d"})") ==
        "hello: field 'v' must be an integer from -2147483648 to 2147483647");
}
