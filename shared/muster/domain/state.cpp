#include "muster/domain/state.hpp"

namespace muster::domain {

namespace {
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
}  // namespace

bool is_known_op(std::string_view kind) {
  return is_task_op(kind) || is_notice_op(kind) || is_message_op(kind) || is_shift_op(kind) || is_headcount_op(kind) ||
         is_hotline_op(kind);
}

Result<std::vector<Draft>> apply(const State& state, const Op& op, const Context& ctx) {
  if (!op.body.is_object()) return make_error(Errc::invalid, "op body must be an object");
  if (is_task_op(op.kind)) return apply_task_op(state.tasks, op, ctx);
  if (is_notice_op(op.kind)) return apply_notice_op(state.notices, op, ctx);
  if (is_message_op(op.kind)) return apply_message_op(state.messages, op, ctx);
  if (is_shift_op(op.kind)) return apply_shift_op(state.shifts, op, ctx);
  if (is_headcount_op(op.kind)) return apply_headcount_op(state.headcount, op, ctx);
  if (is_hotline_op(op.kind)) return apply_hotline_op(state.calls, op, ctx);
  return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
}

ObjectRef fold(State& state, const Event& event) {
  if (starts_with(event.kind, "task.")) {
    auto id = fold_task_event(state.tasks, event);
    return id.empty() ? ObjectRef{} : ObjectRef{"task", id};
  }
  if (starts_with(event.kind, "notice.")) {
    auto id = fold_notice_event(state.notices, event);
    return id.empty() ? ObjectRef{} : ObjectRef{"notice", id};
  }
  if (starts_with(event.kind, "message.")) {
    auto id = fold_message_event(state.messages, event);
    return id.empty() ? ObjectRef{} : ObjectRef{"message", id};
  }
  if (starts_with(event.kind, "shift.")) {
    auto id = fold_shift_event(state.shifts, event);
    return id.empty() ? ObjectRef{} : ObjectRef{"shift", id};
  }
  if (starts_with(event.kind, "household.") || starts_with(event.kind, "headcount.")) {
    return fold_headcount_event(state.headcount, event);
  }
  if (starts_with(event.kind, "hotline.")) {
    auto id = fold_hotline_event(state.calls, event);
    return id.empty() ? ObjectRef{} : ObjectRef{"call", id};
  }
  return {};
}

Json conflict_state(const State& state, const Op& op) {
  auto named = [&op](const char* key) -> const std::string* {
    auto it = op.body.find(key);
    return it != op.body.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  if (const auto* id = named("task")) {
    if (auto t = state.tasks.find(*id); t != state.tasks.end()) return to_json(t->second);
  }
  if (const auto* id = named("notice")) {
    if (auto n = state.notices.find(*id); n != state.notices.end()) return to_json(n->second);
  }
  if (const auto* id = named("shift")) {
    if (auto sh = state.shifts.find(*id); sh != state.shifts.end()) return to_json(sh->second);
  }
  if (const auto* id = named("round")) {
    if (auto r = state.headcount.rounds.find(*id); r != state.headcount.rounds.end()) return to_json(r->second);
  }
  return nullptr;
}

}  // namespace muster::domain
