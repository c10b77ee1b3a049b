#include "muster/domain/policy.hpp"

#include <cctype>

namespace muster::domain {

namespace {

constexpr UnixMs kSecond = 1000;
constexpr UnixMs kMinute = 60 * kSecond;
constexpr UnixMs kHour = 60 * kMinute;
constexpr UnixMs kDay = 24 * kHour;

Error bad(const std::string& where, const std::string& what) {
  return make_error(Errc::invalid, "policy: " + where + ": " + what);
}

Result<UnixMs> read_duration(const Json& j, const std::string& where) {
  if (!j.is_string()) return bad(where, "must be a duration string like \"5m\"");
  auto d = parse_duration(j.get<std::string>());
  if (!d) return bad(where, "'" + j.get<std::string>() + "' is not a duration (try 90s, 5m, 2h, 1d, 1h30m)");
  return *d;
}

Result<std::vector<UnixMs>> read_steps(const Json& j, const std::string& where) {
  if (!j.is_array() || j.size() > 8) return bad(where, "must be a list of at most 8 durations");
  std::vector<UnixMs> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    auto d = read_duration(j[i], where + "[" + std::to_string(i) + "]");
    if (!d) return d.error();
    if (!out.empty() && *d <= out.back()) return bad(where, "steps must grow");
    out.push_back(*d);
  }
  return out;
}

// Calls `field(key, value)` for each member; unknown keys are an error.
template <class F>
Status for_members(const Json& j, const std::string& where, std::initializer_list<const char*> known, F field) {
  if (!j.is_object()) return bad(where, "must be an object");
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) return bad(where, "unknown setting '" + key + "'");
    if (auto st = field(key, value); !st.ok()) return st;
  }
  return Status{};
}

Status read_task_policy(const Json& j, const std::string& where, TaskPolicy& p) {
  return for_members(j, where, {"dispatch", "offer_timeout", "escalate_after", "urgent_escalate_after"},
                     [&](const std::string& key, const Json& v) -> Status {
                       const std::string at = where + "." + key;
                       if (key == "dispatch") {
                         auto d = v.is_string() ? dispatch_from_string(v.get<std::string>()) : std::nullopt;
                         if (!d || *d == Dispatch::direct) return bad(at, "must be \"offer\" or \"claim\"");
                         p.dispatch = *d;
                       } else if (key == "offer_timeout") {
                         auto d = read_duration(v, at);
                         if (!d) return d.error();
                         p.offer_timeout = *d;
                       } else {
                         auto steps = read_steps(v, at);
                         if (!steps) return steps.error();
                         (key == "escalate_after" ? p.escalate_after : p.urgent_escalate_after) = *steps;
                       }
                       return Status{};
                     });
}

// A budget's four numbers, each a whole number from 1 to a bound well beyond any need
// (so a typo of three zeros too many is still refused).
Status read_budget(const Json& j, const std::string& where, Budget& b) {
  return for_members(j, where, {"ops_per_minute", "op_burst", "kib_per_minute", "kib_burst"},
                     [&](const std::string& key, const Json& v) -> Status {
                       constexpr std::int64_t kMax = 100'000'000;
                       if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > kMax) {
                         return bad(where + "." + key, "must be a whole number from 1 to " + std::to_string(kMax));
                       }
                       const std::int64_t n = v.get<std::int64_t>();
                       (key == "ops_per_minute" ? b.ops_per_minute
                        : key == "op_burst"     ? b.op_burst
                        : key == "kib_per_minute" ? b.kib_per_minute
                                                  : b.kib_burst) = n;
                       return Status{};
                     });
}

Json budget_json(const Budget& b) {
  return Json{{"ops_per_minute", b.ops_per_minute},
              {"op_burst", b.op_burst},
              {"kib_per_minute", b.kib_per_minute},
              {"kib_burst", b.kib_burst}};
}

Json steps_json(const std::vector<UnixMs>& steps) {
  Json out = Json::array();
  for (UnixMs s : steps) out.push_back(format_duration(s));
  return out;
}

Json task_policy_json(const TaskPolicy& p) {
  return Json{{"dispatch", to_string(p.dispatch)},
              {"offer_timeout", format_duration(p.offer_timeout)},
              {"escalate_after", steps_json(p.escalate_after)},
              {"urgent_escalate_after", steps_json(p.urgent_escalate_after)}};
}

}  // namespace

const TaskPolicy& Policy::for_kind(const std::string& kind) const {
  auto it = tasks.find(kind);
  return it == tasks.end() ? default_task : it->second;
}

Policy Policy::defaults() {
  Policy p;
  TaskPolicy errand = p.default_task;
  errand.dispatch = Dispatch::offer;
  p.tasks["errand"] = errand;
  return p;
}

Result<Policy> Policy::from_json(const Json& j) {
  Policy p = defaults();
  auto st = for_members(j, "policy", {"timezone", "tasks", "notices", "roster", "limits"}, [&](const std::string& key,
                                                                                      const Json& v) -> Status {
    if (key == "timezone") {
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 64) {
        return bad("timezone", "must be a zone name like \"Asia/Shanghai\"");
      }
      p.timezone = v.get<std::string>();
      return Status{};
    }
    if (key == "tasks") {
      if (!v.is_object()) return bad("tasks", "must be an object of task kinds");
      // "default" first, so a kind's own settings start from it.
      if (auto d = v.find("default"); d != v.end()) {
        if (auto s = read_task_policy(*d, "tasks.default", p.default_task); !s.ok()) return s;
        for (auto& [kind, tp] : p.tasks) {
          TaskPolicy merged = p.default_task;
          merged.dispatch = tp.dispatch;
          tp = merged;
        }
      }
      for (const auto& [kind, tv] : v.items()) {
        if (kind == "default") continue;
        if (!valid_task_kind(kind)) return bad("tasks", "unknown task kind '" + kind + "'");
        TaskPolicy tp = p.for_kind(kind);
        if (auto s = read_task_policy(tv, "tasks." + kind, tp); !s.ok()) return s;
        p.tasks[kind] = tp;
      }
      return Status{};
    }
    if (key == "limits") {
      return for_members(v, "limits", {"volunteer", "lead", "plugin"}, [&](const std::string& k, const Json& b) {
        Budget& slot = k == "volunteer" ? p.limits.volunteer : k == "lead" ? p.limits.lead : p.limits.plugin;
        return read_budget(b, "limits." + k, slot);
      });
    }
    if (key == "notices") {
      return for_members(v, "notices", {"resend_after", "escalate_after"}, [&](const std::string& k, const Json& d) {
        auto ms = read_duration(d, "notices." + k);
        if (!ms) return Status{ms.error()};
        (k == "resend_after" ? p.notices.resend_after : p.notices.escalate_after) = *ms;
        return Status{};
      });
    }
    return for_members(v, "roster", {"reminder_before", "gap_window", "late_after", "checkin_early"},
                       [&](const std::string& k, const Json& d) {
                         auto ms = read_duration(d, "roster." + k);
                         if (!ms) return Status{ms.error()};
                         UnixMs& slot = k == "reminder_before" ? p.roster.reminder_before
                                        : k == "gap_window"    ? p.roster.gap_window
                                        : k == "late_after"    ? p.roster.late_after
                                                               : p.roster.checkin_early;
                         slot = *ms;
                         return Status{};
                       });
  });
  if (!st.ok()) return st.error();
  if (p.notices.escalate_after <= p.notices.resend_after) {
    return bad("notices", "escalate_after must be later than resend_after");
  }
  return p;
}

Json Policy::to_json() const {
  Json tasks_json{{"default", task_policy_json(default_task)}};
  for (const auto& [kind, tp] : tasks) tasks_json[kind] = task_policy_json(tp);
  return Json{{"timezone", timezone},
              {"tasks", tasks_json},
              {"notices",
               {{"resend_after", format_duration(notices.resend_after)},
                {"escalate_after", format_duration(notices.escalate_after)}}},
              {"roster",
               {{"reminder_before", format_duration(roster.reminder_before)},
                {"gap_window", format_duration(roster.gap_window)},
                {"late_after", format_duration(roster.late_after)},
                {"checkin_early", format_duration(roster.checkin_early)}}},
              {"limits",
               {{"volunteer", budget_json(limits.volunteer)},
                {"lead", budget_json(limits.lead)},
                {"plugin", budget_json(limits.plugin)}}}};
}

std::optional<UnixMs> parse_duration(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  UnixMs total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    std::size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      ++i;
      if (++digits > 9) return std::nullopt;
    }
    if (digits == 0 || i == text.size()) return std::nullopt;
    switch (text[i++]) {
      case 's': total += n * kSecond; break;
      case 'm': total += n * kMinute; break;
      case 'h': total += n * kHour; break;
      case 'd': total += n * kDay; break;
      default: return std::nullopt;
    }
  }
  if (total <= 0) return std::nullopt;
  return total;
}

std::string format_duration(UnixMs ms) {
  if (ms <= 0) return "0s";
  std::string out;
  for (auto [unit, name] : {std::pair<UnixMs, char>{kDay, 'd'}, {kHour, 'h'}, {kMinute, 'm'}, {kSecond, 's'}}) {
    if (ms >= unit) {
      out += std::to_string(ms / unit) + name;
      ms %= unit;
    }
  }
  return out.empty() ? "0s" : out;
}

}  // namespace muster::domain
