#include "muster/protocol/plugin_frame.hpp"

#include "muster/base/utf8.hpp"

namespace muster::protocol {

namespace {

Error bad(std::string message) { return make_error(Errc::invalid, std::move(message)); }

Result<Json> parse_line(std::string_view line) {
  if (!valid_utf8(line)) return bad("line is not valid UTF-8");
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("line is not valid JSON");
  if (!j.is_object()) return bad("line must be a JSON object");
  auto t = j.find("t");
  if (t == j.end() || !t->is_string()) return bad("line needs a string field 't'");
  return j;
}

Result<std::vector<std::string>> string_list(const Json& j, const char* frame, const char* name) {
  auto it = j.find(name);
  std::string where = std::string(frame) + ": field '" + name + "' ";
  if (it == j.end()) return bad(where + "is missing");
  if (!it->is_array()) return bad(where + "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) return bad(where + "must be an array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::string> string_field(const Json& j, const char* frame, const char* name) {
  auto it = j.find(name);
  std::string where = std::string(frame) + ": field '" + name + "' ";
  if (it == j.end()) return bad(where + "is missing");
  if (!it->is_string()) return bad(where + "must be a string");
  return it->get<std::string>();
}

// An optional object of scope -> seq (seq a non-negative integer).
Result<std::optional<Cursors>> cursors_field(const Json& j, const char* frame) {
  auto it = j.find("cursors");
  if (it == j.end()) return std::optional<Cursors>{};
  const std::string where = std::string(frame) + ": field 'cursors' ";
  if (!it->is_object()) return bad(where + "must be an object");
  Cursors out;
  for (const auto& [scope, seq] : it->items()) {
    if (!seq.is_number_integer() || seq.get<std::int64_t>() < 0) {
      return bad(where + "must map scopes to non-negative integers");
    }
    out[scope] = seq.get<std::int64_t>();
  }
  return std::optional<Cursors>{std::move(out)};
}

Json cursors_json(const Cursors& c) {
  Json j = Json::object();
  for (const auto& [scope, seq] : c) j[scope] = seq;
  return j;
}

}  // namespace

std::string encode_plugin_init(const PluginInit& init) {
  Json j{{"t", "init"},          {"v", init.v},           {"config", init.config.is_null() ? Json::object() : init.config},
         {"user", init.user},    {"area", init.area},     {"scopes", init.scopes},
         {"areas", init.areas},  {"cursors", cursors_json(init.cursors)}};
  return j.dump();
}

Result<HostLine> decode_host_line(std::string_view line) {
  auto parsed = parse_line(line);
  if (!parsed) return parsed.error();
  const Json& j = *parsed;
  if (j["t"] == "init") {
    PluginInit init;
    auto v = j.find("v");
    if (v == j.end() || !v->is_number_integer()) return bad("init: field 'v' must be an integer");
    init.v = v->get<int>();
    auto config = j.find("config");
    if (config == j.end() || !config->is_object()) return bad("init: field 'config' must be an object");
    init.config = *config;
    auto user = string_field(j, "init", "user");
    if (!user) return user.error();
    init.user = *user;
    auto area = string_field(j, "init", "area");
    if (!area) return area.error();
    init.area = *area;
    auto scopes = string_list(j, "init", "scopes");
    if (!scopes) return scopes.error();
    init.scopes = std::move(*scopes);
    auto areas = string_list(j, "init", "areas");
    if (!areas) return areas.error();
    init.areas = std::move(*areas);
    auto cursors = cursors_field(j, "init");
    if (!cursors) return cursors.error();
    if (*cursors) init.cursors = std::move(**cursors);
    return HostLine{std::move(init)};
  }
  auto frame = decode_server_frame(line);
  if (!frame) return frame.error();
  if (auto* e = std::get_if<EventFrame>(&*frame)) return HostLine{std::move(*e)};
  if (auto* a = std::get_if<Ack>(&*frame)) return HostLine{std::move(*a)};
  if (std::holds_alternative<CaughtUp>(*frame)) return HostLine{CaughtUp{}};
  if (auto* e = std::get_if<ErrorFrame>(&*frame)) return HostLine{std::move(*e)};
  return bad("a plugin is not sent '" + j["t"].get<std::string>() + "' lines");
}

Result<PluginLine> decode_plugin_line(std::string_view line) {
  auto parsed = parse_line(line);
  if (!parsed) return parsed.error();
  const Json& j = *parsed;
  const std::string t = j["t"].get<std::string>();
  if (t == "subscribe") {
    auto scopes = string_list(j, "subscribe", "scopes");
    if (!scopes) return scopes.error();
    auto cursors = cursors_field(j, "subscribe");
    if (!cursors) return cursors.error();
    return PluginLine{PluginSubscribe{std::move(*scopes), std::move(*cursors)}};
  }
  if (t == "log") {
    auto message = string_field(j, "log", "message");
    if (!message) return message.error();
    PluginLog log{"info", std::move(*message)};
    if (auto level = j.find("level"); level != j.end() && !level->is_null()) {
      if (!level->is_string()) return bad("log: field 'level' must be a string");
      log.level = level->get<std::string>();
    }
    return PluginLine{std::move(log)};
  }
  if (t != "op" && t != "cursor" && t != "backfill") return bad("unknown line type '" + t + "'");
  auto frame = decode_client_frame(line);
  if (!frame) return frame.error();
  if (auto* op = std::get_if<OpFrame>(&*frame)) return PluginLine{std::move(*op)};
  if (auto* backfill = std::get_if<Backfill>(&*frame)) return PluginLine{std::move(*backfill)};
  return PluginLine{std::get<CursorFrame>(std::move(*frame))};
}

std::string encode(const PluginLine& line) {
  struct Visitor {
    Json operator()(const PluginSubscribe& s) const {
      Json j{{"t", "subscribe"}, {"scopes", s.scopes}};
      if (s.cursors) j["cursors"] = cursors_json(*s.cursors);
      return j;
    }
    Json operator()(const OpFrame& f) const {
      return Json{{"t", "op"}, {"id", f.op.id}, {"kind", f.op.kind}, {"body", f.op.body}};
    }
    Json operator()(const CursorFrame& c) const { return Json{{"t", "cursor"}, {"cursors", cursors_json(c.cursors)}}; }
    Json operator()(const Backfill& b) const { return Json{{"t", "backfill"}, {"scope", b.scope}, {"from", b.from}}; }
    Json operator()(const PluginLog& l) const { return Json{{"t", "log"}, {"level", l.level}, {"message", l.message}}; }
  };
  return std::visit(Visitor{}, line).dump();
}

}  // namespace muster::protocol
