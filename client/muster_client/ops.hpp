// The ops a person's commands make, in one place for the command line and the terminal
// UI: the bodies of the task, notice and message ops, and queuing an op after the local
// view accepted it (Cli::submit and the TUI's actions both go through queue_op, so an
// action taken in the TUI is checked and queued exactly as the same command would be).
#pragma once

#include <optional>
#include <string>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/event.hpp"
#include "muster/sync/client_store.hpp"

namespace muster::client {

// task.claim|accept|decline|start|done|fail|cancel {task, note?}.
domain::Json task_transition_body(const std::string& task, const std::optional<std::string>& note);
// The transitions a person can ask for ("claim", "accept", ...).
bool is_task_transition(const std::string& verb);

// notice.ack {notice}.
domain::Json notice_ack_body(const std::string& notice);
// shift.signup|withdraw|checkin|checkout {shift}.
domain::Json shift_body(const std::string& shift);

// task.create's body; kind, title and area are required (an empty one is `invalid`,
// naming it); `due` is already a UTC time.
struct NewTask {
  std::string kind, title, area;
  std::optional<std::string> assignee, dispatch, priority, skill;
  std::optional<UnixMs> due;
  domain::Json details = domain::Json::object();
};
Result<domain::Json> task_create_body(const NewTask& t);

// notice.post {area, text, ack, priority?}; area and text required.
Result<domain::Json> notice_post_body(const std::string& area, const std::string& text, bool ack,
                                      const std::optional<std::string>& priority);
// message.send {to, text}; both required.
Result<domain::Json> message_body(const std::string& to, const std::string& text);

// A whole number ("12"), or nullopt if the text is not one (forms and options).
std::optional<int> whole_number(const std::string& text);

// hotline.log {started, duration, category, risk, area?, notes?, followup?}: the notes
// must be UTF-8; they travel in the op only (the server seals them), never anywhere else.
struct NewCall {
  UnixMs started = 0;
  int duration = 0;
  std::string category;
  int risk = 0;
  std::optional<std::string> area;
  std::string notes;
  std::optional<std::string> followup;  // the follow-up task's brief
};
Result<domain::Json> hotline_log_body(NewCall call);

// Checks `op` against the local view (the replica with the outbox on top) as `id`'s
// user at `now`, then writes it to the outbox: the error of the local decision
// (invalid, forbidden, not_found, conflict) if it does not apply, and nothing is queued.
Status queue_op(sync::ClientStore& store, const sync::Identity& id, const domain::Op& op, UnixMs now);

}  // namespace muster::client
