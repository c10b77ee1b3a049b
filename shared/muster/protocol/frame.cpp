#include "muster/protocol/frame.hpp"

#include <climits>
#include <cstdint>

#include "muster/base/json_parse.hpp"

namespace muster::protocol {

namespace {

Error bad(std::string message) { return make_error(Errc::invalid, std::move(message)); }

Result<Json> parse_object(std::string_view text) {
  auto j = parse_limited(text, kMaxFrameDepth, kMaxFrameBytes, "frame");
  if (!j) return j.error();
  if (!j->is_object()) return bad("frame must be a JSON object");
  auto t = j->find("t");
  if (t == j->end() || !t->is_string()) return bad("frame needs a string field 't'");
  return j;
}

// The error object of an ack or a result.
std::optional<Error> read_error(JsonFields& r, const char* name) {
  const Json* e = r.value(name);
  if (!e || e->is_null()) return std::nullopt;
  auto code = e->find("code");  // end() when e is not an object
  if (!e->is_object() || code == e->end() || !code->is_string()) {
    r.fail(name, "must be an object with a string code");
    return std::nullopt;
  }
  auto message = e->find("message");
  if (message != e->end() && !message->is_null() && !message->is_string()) {
    r.fail(name, "must have a string message");
    return std::nullopt;
  }
  Error out = make_error(errc_from_string(code->get<std::string>()),
                         message != e->end() && message->is_string() ? message->get<std::string>() : std::string());
  auto wait = e->find("retry_after_ms");
  if (wait != e->end() && !wait->is_null()) {
    if (!wait->is_number_integer() || wait->get<std::int64_t>() < 0) {
      r.fail(name, "must have a non-negative integer retry_after_ms");
      return std::nullopt;
    }
    out.retry_after_ms = wait->get<std::int64_t>();
  }
  return out;
}

std::string str(const std::optional<std::string>& s) { return s.value_or(std::string()); }

Json object_or_empty(const Json* j) { return j ? *j : Json::object(); }

template <class F>
Result<F> finish(const JsonFields& r, F frame) {
  if (!r.ok()) return r.error();
  return frame;
}

Json error_json(const Error& e) {
  Json j{{"code", to_string(e.code)}, {"message", e.message}};
  if (e.code == Errc::rate_limited) j["retry_after_ms"] = e.retry_after_ms;
  return j;
}

}  // namespace

Json cursors_to_json(const Cursors& cursors) {
  Json j = Json::object();
  for (const auto& [scope, seq] : cursors) j[scope] = seq;
  return j;
}

Cursors read_cursors(JsonFields& fields, const char* name, bool required) {
  const Json* o = required ? fields.required_object(name) : fields.optional_object(name);
  Cursors out;
  if (!o) return out;
  for (const auto& [scope, seq] : o->items()) {
    // Non-negative numbers are stored unsigned; one above the int64 range is refused.
    if (!seq.is_number_integer() || (seq.is_number_unsigned() && seq.get<std::uint64_t>() > INT64_MAX) ||
        seq.get<std::int64_t>() < 0) {
      fields.fail(name, "must map scopes to non-negative integers");
      return {};
    }
    out[scope] = seq.get<std::int64_t>();
  }
  return out;
}

Json event_to_json(const domain::Event& e) {
  return Json{{"t", "event"}, {"scope", e.scope}, {"seq", e.seq},     {"gseq", e.gseq},   {"id", e.id},
              {"op", e.op},   {"kind", e.kind},   {"actor", e.actor}, {"at", e.at},       {"body", e.body}};
}

std::string encode_event(const domain::Event& e) { return event_to_json(e).dump(); }

Result<domain::Event> event_from_json(const Json& j) {
  JsonFields r(j, FieldWording::frame("event"));
  domain::Event e;
  e.scope = str(r.required_string("scope"));
  e.seq = r.required_int("seq").value_or(0);
  e.gseq = r.required_int("gseq").value_or(0);
  e.id = str(r.required_string("id"));
  e.op = domain::OpId(str(r.required_string("op")));
  e.kind = str(r.required_string("kind"));
  e.actor = str(r.required_string("actor"));
  e.at = str(r.required_string("at"));
  e.body = object_or_empty(r.required_object("body"));
  return finish(r, std::move(e));
}

Result<ClientFrame> decode_client_frame(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return parsed.error();
  return decode_client_json(*parsed);
}

Result<ClientFrame> decode_client_json(const Json& j) {
  const std::string t = j["t"].get<std::string>();
  JsonFields r(j, FieldWording::frame(t));
  if (t == "hello") {
    Hello h;
    h.v = static_cast<int>(r.required_int("v", INT_MIN, INT_MAX).value_or(0));
    h.user = str(r.required_string("user"));
    h.password = r.optional_string("password");
    h.token = r.optional_string("token");
    h.device = str(r.required_string("device"));
    h.cursors = read_cursors(r, "cursors", false);
    // Over MQTT the broker has authenticated the connection and hello carries neither;
    // the WebSocket adapter requires one.
    if (r.ok() && h.password && h.token) return bad("hello: give a password or a token, not both");
    return finish<ClientFrame>(r, std::move(h));
  }
  if (t == "op") {
    OpFrame f;
    f.op.id = domain::OpId(str(r.required_string("id")));
    f.op.kind = str(r.required_string("kind"));
    f.op.body = object_or_empty(r.required_object("body"));
    return finish<ClientFrame>(r, std::move(f));
  }
  if (t == "cursor") return finish<ClientFrame>(r, CursorFrame{read_cursors(r, "cursors", true)});
  if (t == "backfill") {
    Backfill b;
    b.scope = str(r.required_string("scope"));
    b.from = r.required_int("from", 0).value_or(0);
    return finish<ClientFrame>(r, std::move(b));
  }
  if (t == "ping") return ClientFrame{Ping{}};
  if (t == "query") {
    Query q;
    q.id = str(r.required_string("id"));
    q.name = str(r.required_string("name"));
    q.args = object_or_empty(r.optional_object("args"));
    return finish<ClientFrame>(r, std::move(q));
  }
  return bad("unknown frame type '" + t + "'");
}

Result<ServerFrame> decode_server_frame(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return parsed.error();
  return decode_server_json(*parsed);
}

Result<ServerFrame> decode_server_json(const Json& j) {
  const std::string t = j["t"].get<std::string>();
  JsonFields r(j, FieldWording::frame(t));
  if (t == "event") {
    auto e = event_from_json(j);
    if (!e) return e.error();
    return ServerFrame{EventFrame{std::move(*e)}};
  }
  if (t == "ack") {
    Ack a;
    a.id = domain::OpId(str(r.required_string("id")));
    a.ok = r.required_bool("ok").value_or(false);
    a.error = read_error(r, "error");
    if (const Json* state = r.value("state")) a.state = *state;
    if (r.ok() && !a.ok && !a.error) return bad("ack: a failed ack needs an error");
    return finish<ServerFrame>(r, std::move(a));
  }
  if (t == "welcome") {
    Welcome w;
    w.user = str(r.required_string("user"));
    w.roles = r.required_strings("roles").value_or(std::vector<std::string>{});
    w.area = str(r.optional_string("area"));
    w.token = str(r.required_string("token"));
    w.scopes = r.required_strings("scopes").value_or(std::vector<std::string>{});
    w.tz = str(r.optional_string("tz"));
    if (const Json* people = r.value("people"); people != nullptr && people->is_object()) {
      for (const auto& [name, display] : people->items()) {
        if (display.is_string()) w.people[name] = display.get<std::string>();
      }
    }
    return finish<ServerFrame>(r, std::move(w));
  }
  if (t == "caught_up") return ServerFrame{CaughtUp{}};
  if (t == "pong") return ServerFrame{Pong{}};
  if (t == "error") {
    ErrorFrame e;
    e.code = str(r.required_string("code"));
    e.message = str(r.required_string("message"));
    e.retry_after_ms = r.optional_int("retry_after_ms", 0);
    return finish<ServerFrame>(r, std::move(e));
  }
  if (t == "result") {
    QueryResult q;
    q.id = str(r.required_string("id"));
    q.ok = r.required_bool("ok").value_or(false);
    q.error = read_error(r, "error");
    if (const Json* body = r.value("body")) q.body = *body;
    return finish<ServerFrame>(r, std::move(q));
  }
  return bad("unknown frame type '" + t + "'");
}

std::string encode(const ClientFrame& frame) {
  struct V {
    Json operator()(const Hello& h) const {
      Json j{{"t", "hello"}, {"v", h.v}, {"user", h.user}, {"device", h.device}, {"cursors", cursors_to_json(h.cursors)}};
      if (h.password) j["password"] = *h.password;
      if (h.token) j["token"] = *h.token;
      return j;
    }
    Json operator()(const OpFrame& f) const {
      return Json{{"t", "op"}, {"id", f.op.id}, {"kind", f.op.kind}, {"body", f.op.body}};
    }
    Json operator()(const CursorFrame& c) const { return Json{{"t", "cursor"}, {"cursors", cursors_to_json(c.cursors)}}; }
    Json operator()(const Backfill& b) const { return Json{{"t", "backfill"}, {"scope", b.scope}, {"from", b.from}}; }
    Json operator()(const Ping&) const { return Json{{"t", "ping"}}; }
    Json operator()(const Query& q) const { return Json{{"t", "query"}, {"id", q.id}, {"name", q.name}, {"args", q.args}}; }
  };
  return std::visit(V{}, frame).dump();
}

std::string encode(const ServerFrame& frame) {
  struct V {
    Json operator()(const Welcome& w) const {
      Json j{{"t", "welcome"}, {"user", w.user},   {"roles", w.roles},
             {"area", w.area}, {"token", w.token}, {"scopes", w.scopes}};
      if (!w.tz.empty()) j["tz"] = w.tz;
      if (!w.people.empty()) j["people"] = w.people;
      return j;
    }
    Json operator()(const EventFrame& e) const { return event_to_json(e.event); }
    Json operator()(const CaughtUp&) const { return Json{{"t", "caught_up"}}; }
    Json operator()(const Ack& a) const {
      Json j{{"t", "ack"}, {"id", a.id}, {"ok", a.ok}};
      if (a.error) j["error"] = error_json(*a.error);
      if (!a.state.is_null()) j["state"] = a.state;
      return j;
    }
    Json operator()(const ErrorFrame& e) const {
      Json j{{"t", "error"}, {"code", e.code}, {"message", e.message}};
      if (e.retry_after_ms) j["retry_after_ms"] = *e.retry_after_ms;
      return j;
    }
    Json operator()(const Pong&) const { return Json{{"t", "pong"}}; }
    Json operator()(const QueryResult& q) const {
      Json j{{"t", "result"}, {"id", q.id}, {"ok", q.ok}};
      if (q.error) j["error"] = error_json(*q.error);
      if (!q.body.is_null()) j["body"] = q.body;
      return j;
    }
  };
  return std::visit(V{}, frame).dump();
}

}  // namespace muster::protocol
