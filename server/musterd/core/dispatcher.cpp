#include "musterd/core/dispatcher.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace musterd {

namespace domain = muster::domain;
using domain::Draft;
using domain::Json;
using muster::UnixMs;

namespace {

constexpr UnixMs kNever = std::numeric_limits<UnixMs>::max();

UnixMs at_ms(const std::string& text) { return muster::parse_utc(text).value_or(0); }

std::size_t depth(const std::string& area) { return domain::area_lineage(area).size(); }

bool is_volunteer(const UserRecord& u) {
  return !u.disabled && u.roles.has(domain::Role::volunteer) && !u.roles.has(domain::Role::plugin);
}

// One stage of an object's follow-up: when it is due and the key that records it done.
struct Stage {
  UnixMs deadline;
  std::string key;
};

// The escalation stages of a task still waiting for someone, and its due date.
std::vector<Stage> task_stages(const domain::Task& t, const domain::TaskPolicy& p) {
  std::vector<Stage> out;
  if (domain::is_final(t.state)) return out;
  const UnixMs created = at_ms(t.created_at);
  if (t.state == domain::TaskState::open || t.state == domain::TaskState::offered) {
    const auto& steps = t.priority == domain::Priority::urgent ? p.urgent_escalate_after : p.escalate_after;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      out.push_back({created + steps[i], "unaccepted:" + std::to_string(i + 1)});
    }
  }
  if (!t.due.empty()) out.push_back({at_ms(t.due), "overdue"});
  return out;
}

std::vector<Stage> notice_stages(const domain::Notice& n, const domain::NoticePolicy& p) {
  if (!n.ack_required || n.priority != domain::Priority::urgent || n.area.empty()) return {};
  const UnixMs posted = at_ms(n.posted_at);
  return {{posted + p.resend_after, "resent"}, {posted + p.escalate_after, "escalated"}};
}

// Escalations reach each lead in their inbox; with no lead anywhere, the area's scope
// keeps the record, so the stage is done either way.
// A hotline follow-up's record stays the hotline's (`fallback`).
std::vector<Draft> to_leads(const Directory& directory, const std::string& area, int stage, const std::string& kind,
                            Json body, const std::string& fallback = "") {
  auto leads = leads_for(directory, area, stage);
  body["leads"] = leads;
  std::vector<Draft> out;
  for (const auto& lead : leads) out.push_back(Draft{domain::user_scope(lead), kind, body});
  if (out.empty()) out.push_back(Draft{fallback.empty() ? domain::area_scope(area) : fallback, kind, body});
  return out;
}

bool overlaps(const domain::Shift& a, const domain::Shift& b) { return a.start < b.end && b.start < a.end; }

// Free at the time of `shift`: not signed up to it or to any shift overlapping it.
bool free_for(const domain::State& state, const std::string& user, const domain::Shift& shift) {
  for (const auto& [id, other] : state.shifts) {
    if (other.signup_of(user) && (id == shift.id || overlaps(other, shift))) return false;
  }
  return true;
}

}  // namespace

bool needs_escalation(const domain::Call& call) { return call.risk >= kEscalateRisk && !call.escalated; }

std::vector<std::string> hotline_leads_for(const Directory& directory, const std::string& area) {
  std::vector<std::string> out;
  for (const auto& [name, u] : directory.users()) {
    if (u.disabled || !u.roles.has(domain::Role::hotline) || !u.roles.has(domain::Role::lead)) continue;
    if (domain::manages(u.actor(), area)) out.push_back(name);
  }
  return out;
}

std::vector<std::string> leads_for(const Directory& directory, const std::string& area, int stage) {
  std::map<std::string, std::vector<std::string>> by_area;
  for (const auto& [name, u] : directory.users()) {
    if (!u.disabled && u.roles.has(domain::Role::lead) && domain::area_contains(u.area, area)) {
      by_area[u.area].push_back(name);
    }
  }
  // Nearest first: the deeper the lead's home, the nearer to `area`.
  std::vector<const std::vector<std::string>*> levels;
  auto lineage = domain::area_lineage(area);
  for (auto it = lineage.rbegin(); it != lineage.rend(); ++it) {
    if (auto found = by_area.find(*it); found != by_area.end()) levels.push_back(&found->second);
  }
  if (levels.empty() || stage < 1) return {};
  return *levels[std::min<std::size_t>(static_cast<std::size_t>(stage), levels.size()) - 1];
}

Audience notice_audience(const domain::Notice& notice, const Directory& directory) {
  Audience out;
  for (const auto& [name, u] : directory.users()) {
    if (u.disabled || name == notice.author || u.roles.has(domain::Role::plugin)) continue;
    if (!domain::area_contains(notice.area, u.area)) continue;
    auto& area = out.by_area[u.area];
    ++out.recipients;
    if (notice.acked_by.count(name)) {
      area.acked.push_back(name);
      ++out.acked;
    } else {
      area.missing.push_back(name);
      out.missing.push_back(name);
    }
  }
  return out;
}

std::string Dispatcher::best_candidate(const domain::State& state, const Directory& directory,
                                       const domain::Task& task, UnixMs now) const {
  // Workload from the task book: tasks held or on offer, and the last time each
  // volunteer took or finished one.
  struct Load {
    int active = 0;
    UnixMs last = 0;
  };
  std::map<std::string, Load> load;
  for (const auto& [id, t] : state.tasks) {
    if (!t.offered_to.empty()) ++load[t.offered_to].active;
    if (t.assignee.empty()) continue;
    Load& l = load[t.assignee];
    if (t.state == domain::TaskState::accepted || t.state == domain::TaskState::started) ++l.active;
    l.last = std::max(l.last, at_ms(t.updated_at));
  }
  const std::size_t task_depth = depth(task.area);
  std::string best;
  std::tuple<std::size_t, int, UnixMs, std::string> best_key{};
  for (const auto& [name, u] : directory.users()) {
    if (!is_volunteer(u)) continue;
    if (!task.skill.empty() && !u.has_skill(task.skill)) continue;
    if (std::find(task.offered.begin(), task.offered.end(), name) != task.offered.end()) continue;
    if (std::find(task.declined_by.begin(), task.declined_by.end(), name) != task.declined_by.end()) continue;
    // Distance: 0 on duty at a shift of the task's area (or above or below it) or living
    // in it; n living n levels above it; anyone else is not a candidate.
    std::size_t distance = 0;
    const domain::Shift* duty = domain::on_duty(state.shifts, name, now);
    const bool duty_here =
        duty && (domain::area_contains(duty->area, task.area) || domain::area_contains(task.area, duty->area));
    if (!duty_here) {
      if (domain::area_contains(task.area, u.area)) {
        distance = 0;
      } else if (domain::area_contains(u.area, task.area)) {
        distance = task_depth - depth(u.area);
      } else {
        continue;
      }
    }
    const Load l = load.count(name) ? load.at(name) : Load{};
    auto key = std::make_tuple(distance, l.active, l.last, name);
    if (best.empty() || key < best_key) {
      best = name;
      best_key = key;
    }
  }
  return best;
}

std::vector<Draft> Dispatcher::due(const domain::State& state, const Directory& directory,
                                   const domain::ObjectRef& ref, UnixMs now) const {
  if (ref.first == "task") {
    auto it = state.tasks.find(domain::TaskId(ref.second));
    return it == state.tasks.end() ? std::vector<Draft>{} : task_moves(state, directory, it->second, now);
  }
  if (ref.first == "notice") {
    auto it = state.notices.find(ref.second);
    return it == state.notices.end() ? std::vector<Draft>{} : notice_moves(state, directory, it->second, now);
  }
  if (ref.first == "shift") {
    auto it = state.shifts.find(ref.second);
    return it == state.shifts.end() ? std::vector<Draft>{} : shift_moves(state, directory, it->second, now);
  }
  if (ref.first == "call") {
    auto it = state.calls.find(ref.second);
    return it == state.calls.end() ? std::vector<Draft>{} : call_moves(directory, it->second);
  }
  return {};
}

std::vector<Draft> Dispatcher::call_moves(const Directory& directory, const domain::Call& c) const {
  if (!needs_escalation(c)) return {};
  // Everyone on the hotline sees it (role:hotline); `to` names who must act.
  return {Draft{domain::role_scope(domain::to_string(domain::Role::hotline)), "hotline.escalated",
                Json{{"call", c.id},
                     {"risk", c.risk},
                     {"area", c.area},
                     {"category", c.category},
                     {"priority", "urgent"},
                     {"to", hotline_leads_for(directory, c.area)}}}};
}

std::vector<Draft> Dispatcher::task_moves(const domain::State& state, const Directory& directory,
                                          const domain::Task& t, UnixMs now) const {
  using domain::TaskState;
  const auto& p = policy_.for_kind(t.kind);
  const std::string scope = domain::task_scope(t);
  const std::string fallback = scope == domain::area_scope(t.area) ? std::string() : scope;
  if (t.dispatch == domain::Dispatch::offer) {
    // The offer moves on when it expires (the next offer is due at once after it).
    if (t.state == TaskState::offered && !t.offer_expires.empty() && at_ms(t.offer_expires) <= now) {
      return {Draft{scope, "task.offer_expired", Json{{"task", t.id}, {"to", t.offered_to}}}};
    }
    if (t.state == TaskState::open && !t.escalated.count("no_candidate")) {
      const std::string next = best_candidate(state, directory, t, now);
      if (!next.empty()) {
        return {Draft{scope, "task.offered",
                      Json{{"task", t.id}, {"to", next}, {"expires", muster::format_utc(now + p.offer_timeout)}}}};
      }
      return to_leads(directory, t.area, 1, "task.escalated",
                      Json{{"task", t.id}, {"stage", "no_candidate"}, {"title", t.title}, {"area", t.area},
                           {"reason", "nobody is left to offer it to"}, {"offered", t.offered}},
                      fallback);
    }
  }
  std::vector<Draft> out;
  int level = 0;
  for (const auto& stage : task_stages(t, p)) {
    if (stage.key != "overdue") ++level;
    if (stage.deadline > now || t.escalated.count(stage.key)) continue;
    const bool overdue = stage.key == "overdue";
    auto drafts = to_leads(directory, t.area, overdue ? 1 : level, "task.escalated",
                           Json{{"task", t.id},
                                {"stage", stage.key},
                                {"title", t.title},
                                {"area", t.area},
                                {"state", domain::to_string(t.state)},
                                {"reason", overdue ? "overdue since " + t.due : "not accepted since " + t.created_at}},
                           fallback);
    // One stage a time: the later ones follow on the next call, each recorded.
    return drafts;
  }
  return out;
}

std::vector<Draft> Dispatcher::notice_moves(const domain::State&, const Directory& directory,
                                            const domain::Notice& n, UnixMs now) const {
  for (const auto& stage : notice_stages(n, policy_.notices)) {
    if (stage.deadline > now || n.chased.count(stage.key)) continue;
    const Audience audience = notice_audience(n, directory);
    if (audience.missing.empty()) return {};
    std::vector<Draft> out;
    if (stage.key == "resent") {
      for (const auto& name : audience.missing) {
        out.push_back(Draft{domain::user_scope(name), "notice.resent",
                            Json{{"notice", n.id}, {"text", n.text}, {"area", n.area}, {"posted_at", n.posted_at}}});
      }
      return out;
    }
    // Escalated: each lead hears about the lagging areas they lead, and who is missing.
    std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> by_lead;
    for (const auto& [area, who] : audience.by_area) {
      if (who.missing.empty()) continue;
      for (const auto& lead : leads_for(directory, area, 1)) {
        auto& [areas, missing] = by_lead[lead];
        areas.push_back(area);
        missing.insert(missing.end(), who.missing.begin(), who.missing.end());
      }
    }
    for (const auto& [lead, what] : by_lead) {
      out.push_back(Draft{domain::user_scope(lead), "notice.escalated",
                          Json{{"notice", n.id}, {"text", n.text}, {"areas", what.first}, {"missing", what.second}}});
    }
    if (out.empty()) {
      out.push_back(Draft{domain::area_scope(n.area), "notice.escalated",
                          Json{{"notice", n.id}, {"text", n.text}, {"areas", Json::array()}, {"missing", audience.missing}}});
    }
    return out;
  }
  return {};
}

std::vector<Draft> Dispatcher::shift_moves(const domain::State& state, const Directory& directory,
                                           const domain::Shift& s, UnixMs now) const {
  if (now >= s.end) return {};
  const auto& p = policy_.roster;
  Json about{{"shift", s.id},
             {"post", s.post},
             {"area", s.area},
             {"start", muster::format_utc(s.start)},
             {"end", muster::format_utc(s.end)}};
  std::vector<Draft> out;
  if (now >= s.start - p.reminder_before) {
    for (const auto& signup : s.signups) {
      if (s.reminded.count(signup.user)) continue;
      Json body = about;
      body["user"] = signup.user;
      out.push_back(Draft{domain::user_scope(signup.user), "shift.reminder", body});
    }
  }
  if (now >= s.start - p.gap_window && !s.gap_escalated && s.free_seats() > 0) {
    Json body = about;
    body["missing"] = s.free_seats();
    for (auto& d : to_leads(directory, s.area, 1, "shift.gap", body)) out.push_back(std::move(d));
    for (const auto& [name, u] : directory.users()) {
      if (!is_volunteer(u) || !domain::area_contains(s.area, u.area) || !free_for(state, name, s)) continue;
      out.push_back(Draft{domain::user_scope(name), "shift.gap_offer", body});
    }
  }
  return out;
}

std::optional<UnixMs> Dispatcher::next_check(const domain::State& state, const domain::ObjectRef& ref,
                                             UnixMs after) const {
  UnixMs best = kNever;
  auto consider = [&](UnixMs t) {
    if (t > after) best = std::min(best, t);
  };
  if (ref.first == "task") {
    auto it = state.tasks.find(domain::TaskId(ref.second));
    if (it == state.tasks.end()) return std::nullopt;
    const domain::Task& t = it->second;
    if (t.state == domain::TaskState::offered && t.dispatch == domain::Dispatch::offer && !t.offer_expires.empty()) {
      consider(at_ms(t.offer_expires));
    }
    for (const auto& stage : task_stages(t, policy_.for_kind(t.kind))) {
      if (!t.escalated.count(stage.key)) consider(stage.deadline);
    }
  } else if (ref.first == "notice") {
    auto it = state.notices.find(ref.second);
    if (it == state.notices.end()) return std::nullopt;
    for (const auto& stage : notice_stages(it->second, policy_.notices)) {
      if (!it->second.chased.count(stage.key)) consider(stage.deadline);
    }
  } else if (ref.first == "call") {
    // Due as soon as it is logged (so a call logged before a restart, or before this
    // rule existed, is escalated by the first tick), and never again once recorded.
    auto it = state.calls.find(ref.second);
    if (it == state.calls.end()) return std::nullopt;
    if (needs_escalation(it->second)) consider(at_ms(it->second.logged_at));
  } else if (ref.first == "shift") {
    auto it = state.shifts.find(ref.second);
    if (it == state.shifts.end()) return std::nullopt;
    const domain::Shift& s = it->second;
    const auto& p = policy_.roster;
    const bool unreminded = std::any_of(s.signups.begin(), s.signups.end(),
                                        [&](const domain::Signup& x) { return !s.reminded.count(x.user); });
    if (unreminded) consider(s.start - p.reminder_before);
    if (!s.gap_escalated && s.free_seats() > 0) consider(s.start - p.gap_window);
  }
  if (best == kNever) return std::nullopt;
  return best;
}

}  // namespace musterd
