#include "muster/protocol/plugin_frame.hpp"

#include <climits>

#include "muster/base/json_parse.hpp"

namespace muster::protocol {

namespace {

Error bad(std::string message) { return make_error(Errc::invalid, std::move(message)); }

Result<Json> parse_line(std::string_view line) {
  auto j = parse_limited(line, kMaxFrameDepth, kMaxFrameBytes, "line");
  if (!j) return j.error();
  if (!j->is_object()) return bad("line must be a JSON object");
  auto t = j->find("t");
  if (t == j->end() || !t->is_string()) return bad("line needs a string field 't'");
  return j;
}

}  // namespace

std::string encode_plugin_init(const PluginInit& init) {
  Json j{{"t", "init"},          {"v", init.v},           {"config", init.config.is_null() ? Json::object() : init.config},
         {"user", init.user},    {"area", init.area},     {"scopes", init.scopes},
         {"areas", init.areas},  {"cursors", cursors_to_json(init.cursors)}};
  if (!init.people.empty()) j["people"] = init.people;
  return j.dump();
}

Result<HostLine> decode_host_line(std::string_view line) {
  auto parsed = parse_line(line);
  if (!parsed) return parsed.error();
  const Json& j = *parsed;
  if (j["t"] == "init") {
    JsonFields r(j, FieldWording::frame("init"));
    PluginInit init;
    init.v = static_cast<int>(r.required_int("v", INT_MIN, INT_MAX).value_or(0));
    if (const Json* config = r.required_object("config")) init.config = *config;
    init.user = r.required_string("user").value_or("");
    init.area = r.required_string("area").value_or("");
    init.scopes = r.required_strings("scopes").value_or(std::vector<std::string>{});
    init.areas = r.required_strings("areas").value_or(std::vector<std::string>{});
    init.cursors = read_cursors(r, "cursors", false);
    if (const Json* people = r.value("people"); people != nullptr && people->is_object()) {
      for (const auto& [name, display] : people->items()) {
        if (display.is_string()) init.people[name] = display.get<std::string>();
      }
    }
    if (!r.ok()) return r.error();
    return HostLine{std::move(init)};
  }
  auto frame = decode_server_json(j);  // the line is parsed once
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
  JsonFields r(j, FieldWording::frame(t));
  if (t == "subscribe") {
    auto scopes = r.required_strings("scopes");
    // Present (even empty): the feed starts from these; absent: from the stored receipts.
    const bool has_cursors = j.contains("cursors") && !j["cursors"].is_null();
    auto cursors = read_cursors(r, "cursors", false);
    if (!r.ok()) return r.error();
    return PluginLine{PluginSubscribe{std::move(*scopes), has_cursors ? std::optional<Cursors>(std::move(cursors))
                                                                      : std::nullopt}};
  }
  if (t == "log") {
    auto message = r.required_string("message");
    auto level = r.optional_string("level");
    if (!r.ok()) return r.error();
    return PluginLine{PluginLog{level.value_or("info"), std::move(*message)}};
  }
  if (t != "op" && t != "cursor" && t != "backfill") return bad("unknown line type '" + t + "'");
  auto frame = decode_client_json(j);  // the line is parsed once
  if (!frame) return frame.error();
  if (auto* op = std::get_if<OpFrame>(&*frame)) return PluginLine{std::move(*op)};
  if (auto* backfill = std::get_if<Backfill>(&*frame)) return PluginLine{std::move(*backfill)};
  return PluginLine{std::get<CursorFrame>(std::move(*frame))};
}

std::string encode(const PluginLine& line) {
  struct Visitor {
    Json operator()(const PluginSubscribe& s) const {
      Json j{{"t", "subscribe"}, {"scopes", s.scopes}};
      if (s.cursors) j["cursors"] = cursors_to_json(*s.cursors);
      return j;
    }
    Json operator()(const OpFrame& f) const {
      return Json{{"t", "op"}, {"id", f.op.id}, {"kind", f.op.kind}, {"body", f.op.body}};
    }
    Json operator()(const CursorFrame& c) const { return Json{{"t", "cursor"}, {"cursors", cursors_to_json(c.cursors)}}; }
    Json operator()(const Backfill& b) const { return Json{{"t", "backfill"}, {"scope", b.scope}, {"from", b.from}}; }
    Json operator()(const PluginLog& l) const { return Json{{"t", "log"}, {"level", l.level}, {"message", l.message}}; }
  };
  return std::visit(Visitor{}, line).dump();
}

}  // namespace muster::protocol
