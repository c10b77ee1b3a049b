#include "muster/domain/inbox.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace muster::domain {

namespace {

std::string text_of(const Json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string cmd(const std::string& words, const std::string& id) { return "muster " + words + " " + id; }

std::string join(const Json& names, const PersonName& person) {
  std::string out;
  if (!names.is_array()) return out;
  for (const auto& n : names) {
    if (!n.is_string()) continue;
    out += (out.empty() ? "" : ", ") + person(n.get<std::string>());
  }
  return out;
}

// Is a shift over at `now`? Unknown shifts are judged by the alert's own `end`.
bool ended(const Shift* s, const Alert& a, UnixMs now) {
  if (s) return now >= s->end;
  auto end = parse_utc(text_of(a.body, "end"));
  return end && now >= *end;
}

// Whether the alert still asks something of `me`, judged by what the state knows now.
// An object the replica does not know (yet) leaves the alert standing.
bool alert_settled(const Alert& a, const State& state, const Actor& me, UnixMs now) {
  const std::string object = alert_object(a);
  if (a.kind == "task.escalated") {
    auto it = state.tasks.find(TaskId(object));
    if (it == state.tasks.end()) return false;
    const Task& t = it->second;
    if (text_of(a.body, "stage") == "overdue") return is_final(t.state);
    return t.state != TaskState::open && t.state != TaskState::offered;
  }
  if (a.kind == "notice.resent") {
    auto it = state.notices.find(object);
    return it != state.notices.end() && it->second.acked_by.count(me.name) > 0;
  }
  if (a.kind == "notice.escalated" || a.kind == "hotline.escalated") return false;  // until dismissed
  const Shift* s = nullptr;
  if (auto it = state.shifts.find(object); it != state.shifts.end()) s = &it->second;
  if (ended(s, a, now)) return true;
  if (!s) return false;
  if (a.kind == "shift.reminder") {
    const Signup* mine = s->signup_of(me.name);
    return !mine || !mine->checkin_at.empty();
  }
  if (a.kind == "shift.gap") return s->free_seats() == 0;
  if (a.kind == "shift.gap_offer") return s->signup_of(me.name) != nullptr || s->free_seats() == 0;
  return false;
}

std::string kind_of(const Alert& a) {
  if (a.kind == "shift.reminder") return "reminder";
  if (a.kind == "shift.gap") return "gap";
  if (a.kind == "shift.gap_offer") return "gap_offer";
  if (a.kind == "notice.resent") return "notice";
  return "escalation";
}

// The item an alert makes, before it is merged with the other alerts about its object.
InboxItem alert_item(const Alert& a, const State& state, const PersonName& person) {
  InboxItem item;
  item.kind = kind_of(a);
  item.id = alert_object(a);
  item.at = a.at;
  item.area = text_of(a.body, "area");
  if (a.kind == "task.escalated") {
    item.title = text_of(a.body, "title");
    if (auto it = state.tasks.find(TaskId(item.id)); it != state.tasks.end()) {
      item.title = it->second.title;
      item.area = it->second.area;
      item.due = it->second.due;
    }
    item.detail = text_of(a.body, "stage");
    item.action = cmd("inbox ack", item.id);
  } else if (a.kind == "notice.escalated") {
    item.title = text_of(a.body, "text");
    if (auto it = state.notices.find(item.id); it != state.notices.end() && !it->second.area.empty()) {
      item.area = it->second.area;
    }
    item.detail = "not acknowledged by " + join(a.body.value("missing", Json::array()), person);
    item.action = cmd("inbox ack", item.id);
  } else if (a.kind == "hotline.escalated") {
    item.title = text_of(a.body, "category");
    const auto risk = a.body.find("risk");
    item.detail = "risk " + (risk != a.body.end() && risk->is_number_integer() ? risk->dump() : std::string("?"));
    item.action = cmd("inbox ack", item.id);
  } else if (a.kind == "notice.resent") {
    item.title = text_of(a.body, "text");
    item.detail = "sent again";
    item.action = cmd("notice ack", item.id);
  } else {  // shift.*
    item.title = text_of(a.body, "post");
    item.due = text_of(a.body, "start");
    if (auto it = state.shifts.find(item.id); it != state.shifts.end()) {
      const Shift& s = it->second;
      item.title = s.post;
      item.area = s.area;
      item.due = format_utc(s.start);
      if (a.kind != "shift.reminder") item.detail = std::to_string(s.free_seats()) + " of " + std::to_string(s.seats) + " seats free";
    }
    if (a.kind == "shift.reminder") {
      item.action = cmd("roster checkin", item.id);
    } else if (a.kind == "shift.gap") {
      item.action = cmd("inbox ack", item.id);
    } else {
      item.action = cmd("roster signup", item.id);
    }
  }
  return item;
}

int rank(const std::string& kind) {
  const auto& kinds = inbox_kinds();
  return static_cast<int>(std::find(kinds.begin(), kinds.end(), kind) - kinds.begin());
}

}  // namespace

Json to_json(const InboxItem& item) {
  return Json{{"kind", item.kind},     {"id", item.id}, {"title", item.title},   {"area", item.area},
              {"expires", item.expires}, {"action", item.action}, {"at", item.at}, {"due", item.due},
              {"detail", item.detail},   {"alerts", item.alerts}};
}

const std::vector<std::string>& inbox_kinds() {
  static const std::vector<std::string> kinds{"offer", "escalation", "notice", "reminder", "gap",
                                              "gap_offer", "task", "message", "followup"};
  return kinds;
}

std::vector<InboxItem> inbox(const State& state, const AlertBook& alerts, const Actor& me, UnixMs now,
                             const InboxMarks& marks, const PersonName& person_name) {
  const PersonName person =
      person_name ? person_name : PersonName([](const std::string& user) { return user; });
  std::vector<InboxItem> items;

  // Alerts: one item per kind and object, from its latest unsettled alert.
  std::map<std::pair<std::string, std::string>, InboxItem> from_alerts;
  for (const auto& [aid, a] : alerts) {
    if (!alert_is_for(a, me) || marks.acked_alerts.count(aid) || alert_settled(a, state, me, now)) continue;
    InboxItem item = alert_item(a, state, person);
    auto [it, fresh] = from_alerts.emplace(std::make_pair(item.kind, item.id), item);
    if (!fresh && item.at >= it->second.at) {
      auto earlier = std::move(it->second.alerts);
      it->second = std::move(item);
      it->second.alerts = std::move(earlier);
    }
    it->second.alerts.push_back(aid);
  }
  for (auto& [key, item] : from_alerts) {
    if (item.kind != "notice") items.push_back(std::move(item));
  }

  // Notices waiting for my acknowledgement; a re-send only adds that it was sent again.
  for (const auto& [nid, n] : state.notices) {
    if (n.area.empty() || !n.ack_required || n.author == me.name || n.acked_by.count(me.name)) continue;
    if (!area_contains(n.area, me.area)) continue;
    InboxItem item{"notice", n.id, n.text, n.area, "", "muster notice ack " + n.id, n.posted_at, "",
                   std::string(to_string(n.priority)) + ", from " + person(n.author), {}};
    if (auto resent = from_alerts.find({"notice", n.id}); resent != from_alerts.end()) {
      item.detail += ", sent again";
      item.alerts = resent->second.alerts;
    }
    items.push_back(std::move(item));
  }
  // A re-send about a notice the replica does not hold stands on its own.
  for (auto& [key, item] : from_alerts) {
    if (item.kind == "notice" && !state.notices.count(item.id)) items.push_back(item);
  }

  for (const auto& [tid, t] : state.tasks) {
    if (t.state == TaskState::offered && t.offered_to == me.name) {
      auto expires = parse_utc(t.offer_expires);
      if (expires && now >= *expires) continue;  // moved on, whether or not we heard yet
      items.push_back(InboxItem{"offer", t.id.str(), t.title, t.area, t.offer_expires, "muster task accept " + t.id.str(),
                                t.since, t.due, std::string(to_string(t.priority)) + " " + t.kind, {}});
    } else if (t.assignee == me.name && (t.state == TaskState::accepted || t.state == TaskState::started)) {
      const bool started = t.state == TaskState::started;
      items.push_back(InboxItem{"task", t.id.str(), t.title, t.area, "",
                                (started ? "muster task done " : "muster task start ") + t.id.str(), t.since, t.due,
                                std::string(to_string(t.state)), {}});
    }
    if (t.kind == "hotline_followup" && t.creator == me.name && !is_final(t.state)) {
      std::string detail(to_string(t.state));
      if (!t.assignee.empty()) detail += " by " + person(t.assignee);
      items.push_back(InboxItem{"followup", t.id.str(), t.title, t.area, "", "muster task show " + t.id.str(), t.created_at,
                                t.due, detail, {}});
    }
  }

  for (const auto& [mid, m] : state.messages) {
    if (m.to != me.name || m.from == me.name || marks.read_messages.count(mid)) continue;
    items.push_back(InboxItem{"message", m.id, m.text, "", "", "muster msg list",
                              m.received_at.empty() ? m.sent_at : m.received_at, "", "from " + person(m.from), {}});
  }

  std::stable_sort(items.begin(), items.end(), [](const InboxItem& a, const InboxItem& b) {
    const int ra = rank(a.kind);
    const int rb = rank(b.kind);
    if (ra != rb) return ra < rb;
    if (a.at != b.at) return a.at < b.at;
    return a.id < b.id;
  });
  return items;
}

}  // namespace muster::domain
