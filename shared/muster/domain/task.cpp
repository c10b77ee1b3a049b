#include "muster/domain/task.hpp"

#include <algorithm>
#include <array>

#include "muster/domain/fields.hpp"
#include "muster/domain/limits.hpp"
#include "muster/domain/policy.hpp"

namespace muster::domain {

namespace {


constexpr std::array kTaskKinds{"errand", "sampling", "doorknock", "hotline_followup", "generic"};

template <class E, std::size_t N>
std::optional<E> lookup(std::string_view s, const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 7> kStateNames{"open", "offered", "accepted", "started",
                                                      "done", "failed", "cancelled"};
constexpr std::array<std::string_view, 3> kDispatchNames{"direct", "offer", "claim"};
constexpr std::array<std::string_view, 4> kPriorityNames{"low", "normal", "high", "urgent"};

Error conflict_with(const Task& t, std::string_view wanted) {
  std::string msg = "cannot " + std::string(wanted) + ": task is " + std::string(to_string(t.state));
  if (!t.assignee.empty() && (t.state == TaskState::accepted || t.state == TaskState::started ||
                              t.state == TaskState::done || t.state == TaskState::failed)) {
    msg += " by " + t.assignee;
  } else if (t.state == TaskState::offered) {
    msg += " to " + t.offered_to;
  }
  return make_error(Errc::conflict, msg);
}

Draft transition(const Task& t, std::string kind, const Json& body) {
  Json out{{"task", t.id}};
  if (auto note = body.find("note"); note != body.end()) out["note"] = *note;
  return Draft{task_scope(t), std::move(kind), std::move(out)};
}

Result<std::vector<Draft>> create(const TaskBook& tasks, const Op& op, const Context& ctx) {
  const Json& b = op.body;
  Fields f(b);
  auto kind = f.required_string("kind", kMaxNameBytes);
  auto title = f.required_string("title", kMaxTitleBytes);
  auto area = f.required_string("area", kMaxAreaBytes);
  auto assignee = f.optional_string("assignee", kMaxNameBytes);
  auto dispatch_text = f.optional_string("dispatch", kMaxWordBytes);
  auto priority_text = f.optional_string("priority", kMaxWordBytes);
  auto due = f.optional_string("due", kMaxTimeBytes);
  auto skill = f.optional_string("skill", kMaxNameBytes);
  if (!f.ok()) return f.error();

  if (!valid_task_kind(*kind)) return make_error(Errc::invalid, "unknown task kind '" + *kind + "'");
  if (title->empty()) return make_error(Errc::invalid, "title must not be empty");
  if (!valid_area_path(*area)) return make_error(Errc::invalid, "invalid area path '" + *area + "'");
  if (tasks.count(TaskId(op.id.str()))) return make_error(Errc::conflict, "task " + op.id.str() + " already exists");

  Dispatch dispatch = assignee ? Dispatch::direct : Dispatch::claim;
  if (!assignee && ctx.policy) dispatch = ctx.policy->for_kind(*kind).dispatch;
  if (dispatch_text) {
    auto d = dispatch_from_string(*dispatch_text);
    if (!d) return make_error(Errc::invalid, "dispatch must be direct, offer or claim");
    dispatch = *d;
  }
  if (dispatch == Dispatch::direct && !assignee) return make_error(Errc::invalid, "direct dispatch needs an assignee");
  if (dispatch != Dispatch::direct && assignee) {
    return make_error(Errc::invalid, std::string(to_string(dispatch)) + " dispatch takes no assignee");
  }
  if (skill && (skill->empty() || skill->find_first_of(" ,\t") != std::string::npos)) {
    return make_error(Errc::invalid, "skill must be one word");
  }

  Priority priority = Priority::normal;
  if (priority_text) {
    auto p = priority_from_string(*priority_text);
    if (!p) return make_error(Errc::invalid, "priority must be low, normal, high or urgent");
    priority = *p;
  }
  std::string due_text;
  if (due) {
    auto t = parse_utc(*due);
    if (!t) return make_error(Errc::invalid, "due is not a valid time: '" + *due + "'");
    due_text = format_utc(*t);
  }
  std::map<std::string, std::string> details;
  if (auto d = b.find("details"); d != b.end() && !d->is_null()) {  // null means absent, as for other fields
    if (!d->is_object()) return make_error(Errc::invalid, "details must be an object of strings");
    if (d->size() > kMaxDetails) return make_error(Errc::invalid, "too many details");
    for (const auto& [k, v] : d->items()) {
      if (!v.is_string() || k.empty() || k.size() > kMaxNameBytes || v.get_ref<const std::string&>().size() > kMaxDetailBytes) {
        return make_error(Errc::invalid, "details must map short keys to strings");
      }
      details[k] = v.get<std::string>();
    }
  }

  if (ctx.actor.roles.has(Role::plugin) && !manages(ctx.actor, *area)) {
    // A plugin (the residents' chat bridge) raises errands for the area it serves.
    if (*kind != "errand") {
      return make_error(Errc::forbidden, ctx.actor.name + " is a plugin: it may create only errand tasks");
    }
    if (!area_contains(ctx.actor.area, *area)) {
      return make_error(Errc::forbidden, ctx.actor.name + " may not create tasks in " + *area);
    }
  } else if (!manages(ctx.actor, *area)) {
    return make_error(Errc::forbidden, ctx.actor.name + " may not create tasks in " + *area);
  }
  if (*kind == kHotlineFollowup) {
    // Its events are the hotline's (task_scope): one made by hand would vanish from
    // its creator's sight. A call makes it (hotline.log with a followup).
    return make_error(Errc::invalid, "hotline_followup tasks are made by logging a call with a follow-up "
                                     "(muster hotline log --followup)");
  }
  if (auto exists = ctx.directory.area_exists(*area); exists && !*exists) {
    return make_error(Errc::invalid, "unknown area '" + *area + "'");
  }
  if (assignee) {
    if (auto found = ctx.directory.find_user(*assignee)) {
      if (!*found) return make_error(Errc::invalid, "unknown user '" + *assignee + "'");
      if (!can_see(**found, area_scope(*area))) {
        return make_error(Errc::invalid, *assignee + " does not belong to area " + *area);
      }
    }
  }

  Task t;
  t.id = TaskId(op.id.str());
  t.kind = *kind;
  t.title = *title;
  t.area = *area;
  t.creator = ctx.actor.name;
  t.dispatch = dispatch;
  t.priority = priority;
  t.state = dispatch == Dispatch::direct ? TaskState::offered : TaskState::open;
  if (dispatch == Dispatch::direct) t.offered_to = *assignee;
  t.due = due_text;
  t.skill = skill.value_or("");
  t.details = std::move(details);
  t.created_at = t.updated_at = t.since = format_utc(ctx.now);
  t.updated_by = ctx.actor.name;
  return std::vector<Draft>{Draft{task_scope(t), "task.created", to_json(t)}};
}

}  // namespace

std::string_view to_string(TaskState s) { return kStateNames[static_cast<std::size_t>(s)]; }
std::string_view to_string(Dispatch d) { return kDispatchNames[static_cast<std::size_t>(d)]; }
std::string_view to_string(Priority p) { return kPriorityNames[static_cast<std::size_t>(p)]; }
std::optional<TaskState> task_state_from_string(std::string_view s) { return lookup<TaskState>(s, kStateNames); }
std::optional<Dispatch> dispatch_from_string(std::string_view s) { return lookup<Dispatch>(s, kDispatchNames); }
std::optional<Priority> priority_from_string(std::string_view s) { return lookup<Priority>(s, kPriorityNames); }

bool is_final(TaskState s) {
  return s == TaskState::done || s == TaskState::failed || s == TaskState::cancelled;
}

bool valid_task_kind(std::string_view kind) {
  return std::find(kTaskKinds.begin(), kTaskKinds.end(), kind) != kTaskKinds.end();
}

bool is_task_op(std::string_view kind) {
  static constexpr std::array<std::string_view, 8> kOps{"task.create", "task.claim", "task.accept", "task.decline",
                                                        "task.start",  "task.done",  "task.fail",   "task.cancel"};
  return std::find(kOps.begin(), kOps.end(), kind) != kOps.end();
}

Json to_json(const Task& t) {
  Json j{{"id", t.id},
         {"kind", t.kind},
         {"title", t.title},
         {"area", t.area},
         {"creator", t.creator},
         {"state", to_string(t.state)},
         {"dispatch", to_string(t.dispatch)},
         {"priority", to_string(t.priority)},
         {"assignee", t.assignee},
         {"offered_to", t.offered_to},
         {"offer_expires", t.offer_expires},
         {"offered", t.offered},
         {"declined_by", t.declined_by},
         {"skill", t.skill},
         {"escalated", t.escalated},
         {"since", t.since},
         {"due", t.due},
         {"details", t.details},
         {"note", t.note},
         {"created_at", t.created_at},
         {"updated_at", t.updated_at},
         {"updated_by", t.updated_by}};
  return j;
}

std::optional<Task> task_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Task t;
    t.id = j.at("id").get<TaskId>();
    t.kind = j.at("kind").get<std::string>();
    t.title = j.at("title").get<std::string>();
    t.area = j.at("area").get<std::string>();
    t.creator = j.value("creator", "");
    auto state = task_state_from_string(j.at("state").get<std::string>());
    auto dispatch = dispatch_from_string(j.value("dispatch", "claim"));
    auto priority = priority_from_string(j.value("priority", "normal"));
    if (!state || !dispatch || !priority) return std::nullopt;
    t.state = *state;
    t.dispatch = *dispatch;
    t.priority = *priority;
    t.assignee = j.value("assignee", "");
    t.offered_to = j.value("offered_to", "");
    t.offer_expires = j.value("offer_expires", "");
    t.offered = j.value("offered", std::vector<std::string>{});
    t.declined_by = j.value("declined_by", std::vector<std::string>{});
    t.skill = j.value("skill", "");
    t.escalated = j.value("escalated", std::set<std::string>{});
    t.since = j.value("since", "");
    t.due = j.value("due", "");
    t.details = j.value("details", std::map<std::string, std::string>{});
    t.note = j.value("note", "");
    t.created_at = j.value("created_at", "");
    t.updated_at = j.value("updated_at", "");
    t.updated_by = j.value("updated_by", "");
    return t;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

Result<std::vector<Draft>> apply_task_op(const TaskBook& tasks, const Op& op, const Context& ctx) {
  if (!op.body.is_object()) return make_error(Errc::invalid, "op body must be an object");
  if (op.kind == "task.create") return create(tasks, op, ctx);
  if (!is_task_op(op.kind)) return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");

  Fields f(op.body);
  auto id = f.required_string("task", kMaxIdBytes);
  auto note = f.optional_string("note", kMaxNoteBytes);
  if (!f.ok()) return f.error();
  (void)note;

  auto it = tasks.find(TaskId(*id));
  if (it == tasks.end() || !task_visible(ctx.actor, it->second)) {
    return make_error(Errc::not_found, "no task " + *id);
  }
  const Task& t = it->second;
  const std::string& me = ctx.actor.name;
  const bool holder = t.assignee == me;

  if (op.kind == "task.claim") {
    if (!ctx.actor.roles.has(Role::volunteer)) return make_error(Errc::forbidden, "only volunteers claim tasks");
    if (t.state != TaskState::open) return conflict_with(t, "claim");
    return std::vector<Draft>{transition(t, "task.claimed", op.body)};
  }
  if (op.kind == "task.accept" || op.kind == "task.decline") {
    const bool accept = op.kind == "task.accept";
    if (t.state != TaskState::offered || t.offered_to != me) return conflict_with(t, accept ? "accept" : "decline");
    return std::vector<Draft>{transition(t, accept ? "task.accepted" : "task.declined", op.body)};
  }
  if (op.kind == "task.start") {
    if (t.state != TaskState::accepted) return conflict_with(t, "start");
    if (!holder) return make_error(Errc::forbidden, "only " + t.assignee + " may start this task");
    return std::vector<Draft>{transition(t, "task.started", op.body)};
  }
  if (op.kind == "task.done") {
    if (t.state != TaskState::accepted && t.state != TaskState::started) return conflict_with(t, "finish");
    if (!holder) return make_error(Errc::forbidden, "only " + t.assignee + " may finish this task");
    return std::vector<Draft>{transition(t, "task.done", op.body)};
  }
  if (op.kind == "task.fail") {
    if (t.state != TaskState::accepted && t.state != TaskState::started) return conflict_with(t, "fail");
    if (!holder && !manages(ctx.actor, t.area)) {
      return make_error(Errc::forbidden, "only the holder or a lead of " + t.area + " may fail this task");
    }
    return std::vector<Draft>{transition(t, "task.failed", op.body)};
  }
  // task.cancel
  if (t.creator != me && !manages(ctx.actor, t.area)) {
    return make_error(Errc::forbidden, "only the creator or a lead of " + t.area + " may cancel this task");
  }
  if (is_final(t.state)) return conflict_with(t, "cancel");
  return std::vector<Draft>{transition(t, "task.cancelled", op.body)};
}

TaskId fold_task_event(TaskBook& tasks, const Event& event) {
  if (event.kind == "task.created") {
    auto t = task_from_json(event.body);
    if (!t) return {};
    TaskId id = t->id;
    tasks[id] = std::move(*t);
    return id;
  }
  // A copy in the inbox of someone who holds the task but does not see its area
  // carries the task's whole state.
  if (auto snapshot = event.body.find("snapshot"); snapshot != event.body.end()) {
    auto t = task_from_json(*snapshot);
    if (!t) return {};
    TaskId id = t->id;
    tasks[id] = std::move(*t);
    return id;
  }
  auto id_it = event.body.find("task");
  if (id_it == event.body.end() || !id_it->is_string()) return {};
  auto it = tasks.find(TaskId(id_it->get<std::string>()));
  if (it == tasks.end()) return {};
  Task& t = it->second;

  auto add_once = [](std::vector<std::string>& list, const std::string& name) {
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  };
  auto body_text = [&](const char* key) {
    auto v = event.body.find(key);
    return v != event.body.end() && v->is_string() ? v->get<std::string>() : std::string();
  };
  if (event.kind == "task.escalated") {
    // The server's follow-up: recorded, but not a change of who holds the task.
    const std::string stage = body_text("stage");
    if (stage.empty()) return {};
    t.escalated.insert(stage);
    return t.id;
  }
  if (event.kind == "task.claimed" || event.kind == "task.accepted") {
    t.state = TaskState::accepted;
    t.assignee = event.actor;
    t.offered_to.clear();
    t.offer_expires.clear();
    t.since = event.at;
  } else if (event.kind == "task.offered") {
    const std::string to = body_text("to");
    if (to.empty() || t.state != TaskState::open) return {};
    t.state = TaskState::offered;
    t.offered_to = to;
    t.offer_expires = body_text("expires");
    add_once(t.offered, to);
    t.since = event.at;
  } else if (event.kind == "task.offer_expired" || event.kind == "task.declined") {
    if (event.kind == "task.offer_expired" && (t.state != TaskState::offered || t.offered_to != body_text("to"))) {
      return {};
    }
    if (event.kind == "task.declined") add_once(t.declined_by, event.actor);
    t.state = TaskState::open;
    t.offered_to.clear();
    t.offer_expires.clear();
    t.since = event.at;
  } else if (event.kind == "task.started") {
    t.state = TaskState::started;
  } else if (event.kind == "task.done") {
    t.state = TaskState::done;
  } else if (event.kind == "task.failed") {
    t.state = TaskState::failed;
  } else if (event.kind == "task.cancelled") {
    t.state = TaskState::cancelled;
    t.offered_to.clear();
    t.offer_expires.clear();
  } else {
    return {};
  }
  if (auto note = event.body.find("note"); note != event.body.end() && note->is_string()) {
    t.note = note->get<std::string>();
  }
  t.updated_at = event.at;
  t.updated_by = event.actor;
  return t.id;
}

std::vector<std::string> task_holders(const Task& t) {
  std::vector<std::string> out;
  if (!t.offered_to.empty()) out.push_back(t.offered_to);
  if (!t.assignee.empty() && t.assignee != t.offered_to) out.push_back(t.assignee);
  return out;
}

bool copied_to_holders(const Event& event) {
  return event.kind.rfind("task.", 0) == 0 &&
         (event.scope.rfind("area:", 0) == 0 || event.scope == role_scope(to_string(Role::hotline)));
}

Draft holder_copy(const Event& event, const Task& after, const std::string& holder) {
  Json body = event.body;
  Task shown = after;
  if (shown.kind == kHotlineFollowup) {
    // The volunteer learns what to do, not which operator took the call.
    if (shown.updated_by == shown.creator) shown.updated_by = kHotlineCreator;
    shown.creator = kHotlineCreator;
  }
  body["snapshot"] = to_json(shown);
  return Draft{user_scope(holder), event.kind, std::move(body)};
}

std::string task_scope(const Task& t) {
  if (t.kind == kHotlineFollowup) return role_scope(to_string(Role::hotline));
  return area_scope(t.area);
}

bool task_visible(const Actor& actor, const Task& t) {
  if (can_see(actor, task_scope(t)) || t.offered_to == actor.name || t.assignee == actor.name) return true;
  // The leads of a follow-up's area dispatch it (they hear of it when it escalates).
  return t.kind == kHotlineFollowup && manages(actor, t.area);
}

}  // namespace muster::domain
