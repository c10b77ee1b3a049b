#include "muster/protocol/frame.hpp"

#include "muster/base/utf8.hpp"

namespace muster::protocol {

namespace {

Error bad(std::string message) { return make_error(Errc::invalid, std::move(message)); }

// Reads the fields of one frame object, remembering the first problem.
class Reader {
 public:
  Reader(const Json& j, std::string_view frame) : j_(j), frame_(frame) {}

  std::string str(const char* name) {
    auto it = j_.find(name);
    if (it == j_.end()) return fail(name, "is missing"), std::string{};
    if (!it->is_string()) return fail(name, "must be a string"), std::string{};
    return it->get<std::string>();
  }
  std::optional<std::string> opt_str(const char* name) {
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return fail(name, "must be a string"), std::nullopt;
    return it->get<std::string>();
  }
  std::int64_t integer(const char* name) {
    auto it = j_.find(name);
    if (it == j_.end()) return fail(name, "is missing"), 0;
    if (!it->is_number_integer()) return fail(name, "must be an integer"), 0;
    return it->get<std::int64_t>();
  }
  bool boolean(const char* name) {
    auto it = j_.find(name);
    if (it == j_.end()) return fail(name, "is missing"), false;
    if (!it->is_boolean()) return fail(name, "must be true or false"), false;
    return it->get<bool>();
  }
  Json object(const char* name, bool required) {
    auto it = j_.find(name);
    if (it == j_.end() || (!required && it->is_null())) {
      if (required) fail(name, "is missing");
      return Json::object();
    }
    if (!it->is_object()) return fail(name, "must be an object"), Json::object();
    return *it;
  }
  Json any(const char* name) {
    auto it = j_.find(name);
    return it == j_.end() ? Json() : *it;
  }
  std::vector<std::string> strings(const char* name) {
    std::vector<std::string> out;
    auto it = j_.find(name);
    if (it == j_.end()) return fail(name, "is missing"), out;
    if (!it->is_array()) return fail(name, "must be an array of strings"), out;
    for (const auto& v : *it) {
      if (!v.is_string()) return fail(name, "must be an array of strings"), out;
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  Cursors cursors(const char* name, bool required) {
    Cursors out;
    Json o = object(name, required);
    for (const auto& [scope, seq] : o.items()) {
      if (!seq.is_number_integer() || seq.get<std::int64_t>() < 0) {
        fail(name, "must map scopes to non-negative integers");
        return {};
      }
      out[scope] = seq.get<std::int64_t>();
    }
    return out;
  }
  std::optional<Error> error_field(const char* name) {
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) return std::nullopt;
    if (!it->is_object() || !it->contains("code") || !(*it)["code"].is_string()) {
      fail(name, "must be an object with a string code");
      return std::nullopt;
    }
    auto message = it->find("message");
    if (message != it->end() && !message->is_null() && !message->is_string()) {
      fail(name, "must have a string message");  // value() would throw here
      return std::nullopt;
    }
    return make_error(errc_from_string((*it)["code"].get<std::string>()),
                      message != it->end() && message->is_string() ? message->get<std::string>() : std::string());
  }

  bool ok() const { return !error_; }
  const Error& error() const { return *error_; }

 private:
  void fail(const char* name, const char* problem) {
    if (!error_) error_ = bad(std::string(frame_) + ": field '" + name + "' " + problem);
  }
  const Json& j_;
  std::string_view frame_;
  std::optional<Error> error_;
};

Result<Json> parse_object(std::string_view text) {
  if (!valid_utf8(text)) return bad("frame is not valid UTF-8");
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("frame is not valid JSON");
  if (!j.is_object()) return bad("frame must be a JSON object");
  auto t = j.find("t");
  if (t == j.end() || !t->is_string()) return bad("frame needs a string field 't'");
  return j;
}

template <class F>
Result<F> finish(Reader& r, F frame) {
  if (!r.ok()) return r.error();
  return frame;
}

Json error_json(const Error& e) { return Json{{"code", to_string(e.code)}, {"message", e.message}}; }

Json cursors_json(const Cursors& c) {
  Json j = Json::object();
  for (const auto& [scope, seq] : c) j[scope] = seq;
  return j;
}

}  // namespace

Json event_to_json(const domain::Event& e) {
  return Json{{"t", "event"}, {"scope", e.scope}, {"seq", e.seq},     {"gseq", e.gseq},   {"id", e.id},
              {"op", e.op},   {"kind", e.kind},   {"actor", e.actor}, {"at", e.at},       {"body", e.body}};
}

std::string encode_event(const domain::Event& e) { return event_to_json(e).dump(); }

Result<domain::Event> event_from_json(const Json& j) {
  Reader r(j, "event");
  domain::Event e;
  e.scope = r.str("scope");
  e.seq = r.integer("seq");
  e.gseq = r.integer("gseq");
  e.id = r.str("id");
  e.op = r.str("op");
  e.kind = r.str("kind");
  e.actor = r.str("actor");
  e.at = r.str("at");
  e.body = r.object("body", true);
  return finish(r, std::move(e));
}

Result<ClientFrame> decode_client_frame(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return parsed.error();
  const Json& j = *parsed;
  const std::string t = j["t"].get<std::string>();
  Reader r(j, t);
  if (t == "hello") {
    Hello h;
    h.v = static_cast<int>(r.integer("v"));
    h.user = r.str("user");
    h.password = r.opt_str("password");
    h.token = r.opt_str("token");
    h.device = r.str("device");
    h.cursors = r.cursors("cursors", false);
    // Over MQTT the broker has authenticated the connection and hello carries neither;
    // the WebSocket adapter requires one.
    if (r.ok() && h.password && h.token) return bad("hello: give a password or a token, not both");
    return finish<ClientFrame>(r, std::move(h));
  }
  if (t == "op") {
    OpFrame f;
    f.op.id = r.str("id");
    f.op.kind = r.str("kind");
    f.op.body = r.object("body", true);
    return finish<ClientFrame>(r, std::move(f));
  }
  if (t == "cursor") return finish<ClientFrame>(r, CursorFrame{r.cursors("cursors", true)});
  if (t == "backfill") {
    Backfill b;
    b.scope = r.str("scope");
    b.from = r.integer("from");
    if (r.ok() && b.from < 0) return bad("backfill: field 'from' must be a non-negative integer");
    return finish<ClientFrame>(r, std::move(b));
  }
  if (t == "ping") return ClientFrame{Ping{}};
  if (t == "query") {
    Query q;
    q.id = r.str("id");
    q.name = r.str("name");
    q.args = r.object("args", false);
    return finish<ClientFrame>(r, std::move(q));
  }
  return bad("unknown frame type '" + t + "'");
}

Result<ServerFrame> decode_server_frame(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return parsed.error();
  const Json& j = *parsed;
  const std::string t = j["t"].get<std::string>();
  Reader r(j, t);
  if (t == "event") {
    auto e = event_from_json(j);
    if (!e) return e.error();
    return ServerFrame{EventFrame{std::move(*e)}};
  }
  if (t == "ack") {
    Ack a;
    a.id = r.str("id");
    a.ok = r.boolean("ok");
    a.error = r.error_field("error");
    a.state = r.any("state");
    if (r.ok() && !a.ok && !a.error) return bad("ack: a failed ack needs an error");
    return finish<ServerFrame>(r, std::move(a));
  }
  if (t == "welcome") {
    Welcome w;
    w.user = r.str("user");
    w.roles = r.strings("roles");
    w.area = r.opt_str("area").value_or("");
    w.token = r.str("token");
    w.scopes = r.strings("scopes");
    w.tz = r.opt_str("tz").value_or("");
    return finish<ServerFrame>(r, std::move(w));
  }
  if (t == "caught_up") return ServerFrame{CaughtUp{}};
  if (t == "pong") return ServerFrame{Pong{}};
  if (t == "error") {
    ErrorFrame e;
    e.code = r.str("code");
    e.message = r.str("message");
    return finish<ServerFrame>(r, std::move(e));
  }
  if (t == "result") {
    QueryResult q;
    q.id = r.str("id");
    q.ok = r.boolean("ok");
    q.error = r.error_field("error");
    q.body = r.any("body");
    return finish<ServerFrame>(r, std::move(q));
  }
  return bad("unknown frame type '" + t + "'");
}

std::string encode(const ClientFrame& frame) {
  struct V {
    Json operator()(const Hello& h) const {
      Json j{{"t", "hello"}, {"v", h.v}, {"user", h.user}, {"device", h.device}, {"cursors", cursors_json(h.cursors)}};
      if (h.password) j["password"] = *h.password;
      if (h.token) j["token"] = *h.token;
      return j;
    }
    Json operator()(const OpFrame& f) const {
      return Json{{"t", "op"}, {"id", f.op.id}, {"kind", f.op.kind}, {"body", f.op.body}};
    }
    Json operator()(const CursorFrame& c) const { return Json{{"t", "cursor"}, {"cursors", cursors_json(c.cursors)}}; }
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
    Json operator()(const ErrorFrame& e) const { return Json{{"t", "error"}, {"code", e.code}, {"message", e.message}}; }
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
