// Tasks: the reducer for task ops and the fold of task events (SPEC §3).
//
//   open ──claim──▶ accepted ──start──▶ started ──done──▶ done
//    │  ▲                │                 │
//  offer│ decline        └──────fail───────┴──▶ failed
//    ▼  │
//   offered ──accept──▶ accepted
//   (any non-final state) ──cancel──▶ cancelled
//
// A task created with dispatch `direct` starts `offered` to its assignee; with
// `claim` it starts `open` and the first claim to reach the server wins; with `offer`
// it starts `open` and the server offers it to one volunteer at a time
// (task.offered, then task.offer_expired or task.declined, then the next one; see
// server/musterd/core/dispatcher.hpp). Every event of a task is in the scope of the task's
// area, except escalations, which go to the inboxes of the leads they reach.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/event.hpp"
#include "muster/domain/ids.hpp"

namespace muster::domain {

enum class TaskState { open, offered, accepted, started, done, failed, cancelled };
enum class Dispatch { direct, offer, claim };
enum class Priority { low, normal, high, urgent };

std::string_view to_string(TaskState s);
std::string_view to_string(Dispatch d);
std::string_view to_string(Priority p);
std::optional<TaskState> task_state_from_string(std::string_view s);
std::optional<Dispatch> dispatch_from_string(std::string_view s);
std::optional<Priority> priority_from_string(std::string_view s);
bool is_final(TaskState s);

// Task kinds of SPEC §3.
bool valid_task_kind(std::string_view kind);

// A hotline call's follow-up (hotline.hpp). Its events are in role:hotline, not in its
// area: the volunteers of the area do not learn that someone there called. Whoever it is
// offered or assigned to gets copies in their inbox (holder_copy) naming kHotlineCreator
// as its creator, not the operator; the leads of its area hear of it through escalations.
inline constexpr const char* kHotlineFollowup = "hotline_followup";
inline constexpr const char* kHotlineCreator = "hotline";

struct Task {
  TaskId id;  // the id of the op that created it
  std::string kind;
  std::string title;
  std::string area;
  std::string creator;
  TaskState state = TaskState::open;
  Dispatch dispatch = Dispatch::claim;
  Priority priority = Priority::normal;
  std::string assignee;    // who holds it (accepted, started, done, failed)
  std::string offered_to;  // while offered
  std::string offer_expires;            // while offered by `offer` dispatch (RFC 3339)
  std::vector<std::string> offered;     // everyone offered it so far, in order (offer dispatch)
  std::vector<std::string> declined_by;
  std::string skill;                    // required of whoever takes it, or empty
  std::set<std::string> escalated;      // escalation stages done: "unaccepted:1", "overdue", "no_candidate"
  std::string since;                    // when the current holder (or offer) began
  std::string due;  // RFC 3339, or empty
  std::map<std::string, std::string> details;
  std::string note;  // the last note given with a transition
  std::string created_at;
  std::string updated_at;
  std::string updated_by;
};

Json to_json(const Task& t);

// The scope of a task's events: its area's, or role:hotline for a follow-up.
std::string task_scope(const Task& t);
// Whether `actor` may see and act on `t`: its scope is visible to them, they hold it or
// have it on offer, or (a follow-up) they lead its area.
bool task_visible(const Actor& actor, const Task& t);
// Parses a task as written by to_json; nullopt if it is not one.
std::optional<Task> task_from_json(const Json& j);

using TaskBook = std::map<TaskId, Task>;

// Op kinds handled here: task.create, task.claim, task.accept, task.decline,
// task.start, task.done, task.fail, task.cancel.
bool is_task_op(std::string_view kind);

// task.create {kind, title, area, assignee?, dispatch?, priority?, due?, skill?, details?}:
// without a dispatch, `direct` if an assignee is named, else the policy's dispatch
// for the kind (ctx.policy; `claim` when there is none). Managers create tasks in
// the areas they manage; a plugin only `errand` tasks in its home area or below.
// Decides a task op. On success returns the events to append (never empty).
// Errors: invalid (malformed body), not_found (no such task, or not visible to the
// actor: a task is visible in its area's scope, and to whoever holds it or has it on
// offer), forbidden (role or holder), conflict (state does not allow it; the message
// says who holds the task).
Result<std::vector<Draft>> apply_task_op(const TaskBook& tasks, const Op& op, const Context& ctx);

// Applies a task.* event to the book, including the server's own: task.offered {task,
// to, expires}, task.offer_expired {task, to} and task.escalated {task, stage, ...}.
// An event carrying a "snapshot" (a copy in the inbox of a holder who does not see
// the task's area) sets the task to that state. Unknown kinds and unknown tasks are ignored,
// so folding is total and replaying an event twice changes nothing more.
// Returns the id of the task it touched, or an empty id if none.
TaskId fold_task_event(TaskBook& tasks, const Event& event);

// --- holders ---
// Who holds a task or has it on offer (the volunteer offered it, then its assignee).
std::vector<std::string> task_holders(const Task& t);
// Whether `event` is copied to the task's holders: every task event in an area. Offer
// dispatch reaches volunteers of the areas above the task's and those on duty there, who
// may not see the task's area, yet whoever holds a task (or held it just before the
// event) hears of every change to it.
bool copied_to_holders(const Event& event);
// The copy for `holder`, in their inbox: the event's kind and body, with the task's
// state after the event as `snapshot`. The server sends it to each holder before and
// after the event who cannot see the event's scope.
Draft holder_copy(const Event& event, const Task& after, const std::string& holder);

}  // namespace muster::domain
