#include "muster_client/ops.hpp"

#include <exception>
#include <set>

#include "muster/base/utf8.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/state.hpp"

namespace muster::client {

using domain::Json;

Json task_transition_body(const std::string& task, const std::optional<std::string>& note) {
  Json body{{"task", task}};
  if (note) body["note"] = *note;
  return body;
}

bool is_task_transition(const std::string& verb) {
  static const std::set<std::string> kTransitions{"claim", "accept", "decline", "start", "done", "fail", "cancel"};
  return kTransitions.count(verb) > 0;
}

Json notice_ack_body(const std::string& notice) { return Json{{"notice", notice}}; }

Json shift_body(const std::string& shift) { return Json{{"shift", shift}}; }

Result<Json> task_create_body(const NewTask& t) {
  if (t.kind.empty()) return make_error(Errc::invalid, "a new task needs a kind");
  if (t.title.empty()) return make_error(Errc::invalid, "a new task needs a title");
  if (t.area.empty()) return make_error(Errc::invalid, "a new task needs an area");
  Json body{{"kind", t.kind}, {"title", t.title}, {"area", t.area}};
  if (t.assignee) body["assignee"] = *t.assignee;
  if (t.dispatch) body["dispatch"] = *t.dispatch;
  if (t.priority) body["priority"] = *t.priority;
  if (t.skill) body["skill"] = *t.skill;
  if (t.due) body["due"] = format_utc(*t.due);
  if (!t.details.empty()) body["details"] = t.details;
  return body;
}

Result<Json> notice_post_body(const std::string& area, const std::string& text, bool ack,
                              const std::optional<std::string>& priority) {
  if (area.empty()) return make_error(Errc::invalid, "a notice needs an area");
  if (text.empty()) return make_error(Errc::invalid, "a notice needs a text");
  Json body{{"area", area}, {"text", text}, {"ack", ack}};
  if (priority) body["priority"] = *priority;
  return body;
}

Result<Json> message_body(const std::string& to, const std::string& text) {
  if (to.empty()) return make_error(Errc::invalid, "a message needs a recipient (a user or area:PATH)");
  if (text.empty()) return make_error(Errc::invalid, "a message needs a text");
  return Json{{"to", to}, {"text", text}};
}

std::optional<int> whole_number(const std::string& text) {
  try {
    std::size_t used = 0;
    const int n = std::stoi(text, &used);
    if (used != text.size()) return std::nullopt;
    return n;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Result<Json> hotline_log_body(NewCall call) {
  if (call.category.empty()) return make_error(Errc::invalid, "a call needs a category");
  if (!valid_utf8(call.notes)) return make_error(Errc::invalid, "the notes are not UTF-8 text");
  Json body{{"started", format_utc(call.started)},
            {"duration", call.duration},
            {"category", call.category},
            {"risk", call.risk}};
  if (call.area) body["area"] = *call.area;
  if (!call.notes.empty()) body["notes"] = std::move(call.notes);
  if (call.followup) body["followup"] = Json{{"brief", *call.followup}};
  return body;
}

Status queue_op(sync::ClientStore& store, const sync::Identity& id, const domain::Op& op, UnixMs now) {
  auto view = store.view();
  const domain::UnknownDirectory unknown;
  auto drafts = domain::apply(view, op, domain::Context{id.actor(), now, unknown});
  if (!drafts) return drafts.error();
  store.enqueue(op, now);
  return {};
}

}  // namespace muster::client
