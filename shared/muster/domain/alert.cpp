#include "muster/domain/alert.hpp"

#include <algorithm>
#include <array>

namespace muster::domain {

namespace {

constexpr std::array<std::string_view, 7> kAlertKinds{"task.escalated", "notice.resent",  "notice.escalated",
                                                      "shift.reminder", "shift.gap",      "shift.gap_offer",
                                                      "hotline.escalated"};

std::string text_of(const Json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

Json to_json(const Alert& a) {
  return Json{{"id", a.id}, {"kind", a.kind}, {"scope", a.scope}, {"at", a.at}, {"body", a.body}};
}

std::optional<Alert> alert_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  Alert a;
  a.id = text_of(j, "id");
  a.kind = text_of(j, "kind");
  a.scope = text_of(j, "scope");
  a.at = text_of(j, "at");
  auto body = j.find("body");
  if (a.id.empty() || !is_alert_kind(a.kind) || body == j.end() || !body->is_object()) return std::nullopt;
  a.body = *body;
  if (alert_object(a).empty()) return std::nullopt;
  return a;
}

bool is_alert_kind(std::string_view kind) {
  return std::find(kAlertKinds.begin(), kAlertKinds.end(), kind) != kAlertKinds.end();
}

std::string alert_object(const Alert& a) {
  if (!a.body.is_object()) return {};
  if (starts_with(a.kind, "task.")) return text_of(a.body, "task");
  if (starts_with(a.kind, "notice.")) return text_of(a.body, "notice");
  if (starts_with(a.kind, "shift.")) return text_of(a.body, "shift");
  if (starts_with(a.kind, "hotline.")) return text_of(a.body, "call");
  return {};
}

std::optional<Alert> alert_from_event(const Event& event) {
  if (!is_alert_kind(event.kind) || event.id.empty() || !event.body.is_object()) return std::nullopt;
  Alert a{event.id, event.kind, event.scope, event.at, event.body};
  if (alert_object(a).empty()) return std::nullopt;
  return a;
}

std::string fold_alert_event(AlertBook& alerts, const Event& event) {
  auto a = alert_from_event(event);
  if (!a) return "";
  std::string id = a->id;
  alerts[id] = std::move(*a);
  return id;
}

bool alert_is_for(const Alert& a, const Actor& actor) {
  if (a.kind == "hotline.escalated") {
    auto to = a.body.find("to");
    if (to == a.body.end() || !to->is_array()) return false;
    return std::any_of(to->begin(), to->end(), [&](const Json& n) { return n.is_string() && n == actor.name; });
  }
  if (a.scope == user_scope(actor.name)) return true;
  if (starts_with(a.scope, "area:")) {
    // Only escalations and gaps fall back to the area's scope, when it has no lead.
    if (a.kind == "shift.reminder" || a.kind == "shift.gap_offer" || a.kind == "notice.resent") return false;
    return manages(actor, std::string_view(a.scope).substr(5));
  }
  return false;
}

}  // namespace muster::domain
