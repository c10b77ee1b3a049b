#include "muster/domain/hotline.hpp"

#include <cstdint>

#include "muster/domain/fields.hpp"
#include "muster/domain/limits.hpp"
#include "muster/domain/policy.hpp"
#include "muster/domain/task.hpp"

namespace muster::domain {

namespace {

constexpr int kMaxDurationMinutes = 600;
constexpr int kMaxRisk = 5;
// A call cannot have started in the future; an hour of slack covers a device whose
// clock is wrong without letting a typo of a day through.
constexpr UnixMs kFutureSlack = 60 * 60 * 1000;

// The follow-up task: what a volunteer needs to act, nothing of the call itself.
Task followup_task(const Call& call, const std::string& brief, const Context& ctx) {
  Task t;
  t.id = TaskId(call.id + "-f");
  t.kind = "hotline_followup";
  t.title = brief;
  t.area = call.area;
  t.creator = ctx.actor.name;
  // Offered to one volunteer of the area at a time: nobody else sees it (task_scope), so
  // nobody could claim it.
  t.dispatch = Dispatch::offer;
  t.state = TaskState::open;
  t.details = {{"brief", brief}, {"area", call.area}};
  t.created_at = t.updated_at = t.since = format_utc(ctx.now);
  t.updated_by = ctx.actor.name;
  return t;
}

Result<std::vector<Draft>> log_call(const CallBook& calls, const Op& op, const Context& ctx) {
  // The role first: someone without it learns nothing from the reducer, not even
  // which field was wrong.
  if (!ctx.actor.roles.has(Role::hotline)) {
    return make_error(Errc::forbidden, "only hotline users log calls; " + ctx.actor.name + " is not one");
  }
  const Json& b = op.body;
  Fields f(b);
  auto started_text = f.required_string("started", kMaxTimeBytes);
  auto category = f.required_string("category", kMaxCategoryBytes);
  auto area = f.optional_string("area", kMaxAreaBytes);
  auto notes = f.optional_string("notes", kMaxNotesBytes);
  auto duration = f.required_int("duration", 0, kMaxDurationMinutes);
  auto risk = f.required_int("risk", 0, kMaxRisk);
  if (!f.ok()) return f.error();

  auto started = parse_utc(*started_text);
  if (!started) return make_error(Errc::invalid, "started is not a valid time: '" + *started_text + "'");
  if (*started > ctx.now + kFutureSlack) return make_error(Errc::invalid, "started is in the future");
  if (category->empty()) return make_error(Errc::invalid, "category must not be empty");
  const std::string call_area = area.value_or(ctx.actor.area);
  if (!valid_area_path(call_area)) return make_error(Errc::invalid, "invalid area path '" + call_area + "'");

  std::optional<std::string> brief;
  if (auto fu = b.find("followup"); fu != b.end() && !fu->is_null()) {
    if (!fu->is_object()) return make_error(Errc::invalid, "followup must be an object {brief}");
    for (const auto& [key, value] : fu->items()) {
      (void)value;
      // Only the brief goes into the task: anything else would be dropped silently,
      // and a client that thinks it sent more should hear so.
      if (key != "brief") return make_error(Errc::invalid, "followup takes only a brief, not '" + key + "'");
    }
    Fields ff(*fu);
    brief = ff.required_string("brief", kMaxBriefBytes);
    if (!ff.ok()) return ff.error();
    if (brief->empty()) return make_error(Errc::invalid, "the follow-up brief must not be empty");
  }

  if (auto exists = ctx.directory.area_exists(call_area); exists && !*exists) {
    return make_error(Errc::invalid, "unknown area '" + call_area + "'");
  }
  if (calls.count(op.id.str())) return make_error(Errc::conflict, "call " + op.id.str() + " already exists");

  Call c;
  c.id = op.id.str();
  c.operator_name = ctx.actor.name;
  c.area = call_area;
  c.started = format_utc(*started);
  c.duration_minutes = static_cast<int>(*duration);
  c.category = *category;
  c.risk = static_cast<int>(*risk);
  c.has_notes = notes && !notes->empty();
  c.logged_at = format_utc(ctx.now);
  std::vector<Draft> out;
  std::optional<Task> task;
  if (brief) {
    task = followup_task(c, *brief, ctx);
    c.followup_task = task->id.str();
  }
  out.push_back(Draft{role_scope(to_string(Role::hotline)), "hotline.logged", to_json(c)});
  if (task) out.push_back(Draft{task_scope(*task), "task.created", to_json(*task)});
  return out;
}

std::string text_of(const Json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool is_hotline_op(std::string_view kind) { return kind == "hotline.log"; }

Json to_json(const Call& c) {
  return Json{{"id", c.id},
              {"operator", c.operator_name},
              {"area", c.area},
              {"started", c.started},
              {"duration", c.duration_minutes},
              {"category", c.category},
              {"risk", c.risk},
              {"has_notes", c.has_notes},
              {"notes_purged", c.notes_purged},
              {"followup_task", c.followup_task},
              {"logged_at", c.logged_at},
              {"escalated", c.escalated}};
}

std::optional<Call> call_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Call c;
    c.id = j.at("id").get<std::string>();
    c.operator_name = j.at("operator").get<std::string>();
    c.area = j.at("area").get<std::string>();
    c.started = j.at("started").get<std::string>();
    c.duration_minutes = j.at("duration").get<int>();
    c.category = j.at("category").get<std::string>();
    c.risk = j.at("risk").get<int>();
    c.has_notes = j.value("has_notes", false);
    c.notes_purged = j.value("notes_purged", false);
    c.followup_task = j.value("followup_task", "");
    c.logged_at = j.value("logged_at", "");
    c.escalated = j.value("escalated", false);
    if (c.id.empty()) return std::nullopt;
    return c;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

Result<std::vector<Draft>> apply_hotline_op(const CallBook& calls, const Op& op, const Context& ctx) {
  if (!op.body.is_object()) return make_error(Errc::invalid, "op body must be an object");
  if (op.kind == "hotline.log") return log_call(calls, op, ctx);
  return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
}

std::string fold_hotline_event(CallBook& calls, const Event& event) {
  if (event.kind == "hotline.logged") {
    auto c = call_from_json(event.body);
    if (!c) return "";
    std::string id = c->id;
    auto& slot = calls[id];
    // The flags come from later events; folding the log again must not lose them.
    const bool escalated = slot.escalated || c->escalated;
    const bool purged = slot.notes_purged || c->notes_purged;
    slot = std::move(*c);
    slot.escalated = escalated;
    slot.notes_purged = purged;
    return id;
  }
  if (event.kind != "hotline.escalated" && event.kind != "hotline.purged") return "";
  auto it = calls.find(text_of(event.body, "call"));
  if (it == calls.end()) return "";
  if (event.kind == "hotline.escalated") {
    it->second.escalated = true;
  } else {
    it->second.notes_purged = true;
  }
  return it->first;
}

}  // namespace muster::domain
