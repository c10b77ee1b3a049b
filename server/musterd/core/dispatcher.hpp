// What the server does on its own (SPEC §3): offers a task to the best volunteer and
// moves the offer on when it is declined or times out, escalates tasks nobody took or
// that are overdue, re-sends urgent notices and escalates the lagging areas, reminds
// volunteers of their shifts and escalates and offers the gaps of shifts about to start,
// and escalates hotline calls of high risk to the hotline's leads.
//
// Pure: every move is a function of the domain state, the directory, the policy and
// the time. The deadlines are derived from the state (an offer's expiry, a task's
// creation time plus the policy's steps), and each move is recorded by the events it
// produces (task.offered, task.escalated {stage}, shift.reminder {user}, ...), which
// the Engine commits in the same transaction as whatever caused them. So after a
// restart the same state gives the same deadlines, and a stage that was done is not
// done again: nothing is lost or repeated.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/domain/policy.hpp"
#include "muster/domain/state.hpp"
#include "musterd/core/directory.hpp"

namespace musterd {

// The actor of the events the server makes on its own; reserved as a user name.
inline constexpr const char* kServerActor = "musterd";

class Dispatcher {
 public:
  explicit Dispatcher(const muster::domain::Policy& policy) : policy_(policy) {}

  // The moves due for `ref` at `now`, given everything that happened so far; empty if
  // none. Fold them (numbered) and call again: one move can make the next one due
  // (an expired offer makes the next offer due at once).
  std::vector<muster::domain::Draft> due(const muster::domain::State& state, const Directory& directory,
                                         const muster::domain::ObjectRef& ref, muster::UnixMs now) const;

  // The earliest deadline after `after` at which due() may have a move for `ref`, or
  // nullopt if none is pending (the object is final, or every stage was done).
  std::optional<muster::UnixMs> next_check(const muster::domain::State& state,
                                           const muster::domain::ObjectRef& ref, muster::UnixMs after) const;

  // The best volunteer to offer `task` to at `now`, or "" if nobody is left:
  // enabled volunteers with the task's skill, never offered it before, who are on
  // duty at a shift in the task's area or live in it, else live in an area above it
  // (the nearer the better); then the fewest active tasks; then the longest idle.
  std::string best_candidate(const muster::domain::State& state, const Directory& directory,
                             const muster::domain::Task& task, muster::UnixMs now) const;

 private:
  std::vector<muster::domain::Draft> task_moves(const muster::domain::State& state, const Directory& directory,
                                                const muster::domain::Task& task, muster::UnixMs now) const;
  std::vector<muster::domain::Draft> notice_moves(const muster::domain::State& state, const Directory& directory,
                                                  const muster::domain::Notice& notice, muster::UnixMs now) const;
  std::vector<muster::domain::Draft> shift_moves(const muster::domain::State& state, const Directory& directory,
                                                 const muster::domain::Shift& shift, muster::UnixMs now) const;
  std::vector<muster::domain::Draft> call_moves(const Directory& directory, const muster::domain::Call& call) const;

  const muster::domain::Policy& policy_;
};

// A hotline call of this risk or above is escalated at once, once: hotline.escalated
// {call, risk, area, category, priority: "urgent", to} in role:hotline.
inline constexpr int kEscalateRisk = 4;
bool needs_escalation(const muster::domain::Call& call);
// Who a call's escalation is for: the enabled users with both the hotline and the lead
// role who manage the call's area (their home area is it or above it), by name.
std::vector<std::string> hotline_leads_for(const Directory& directory, const std::string& area);

// The leads an escalation of `stage` (1, 2, ...) about `area` reaches: the enabled
// leads living in the nearest area of `area`'s lineage (itself, then its parent, ...)
// that has any for stage 1, the next such area above for stage 2, and so on; the
// topmost ones again when the stages outnumber the levels. Empty if there are none.
std::vector<std::string> leads_for(const Directory& directory, const std::string& area, int stage);

// A notice's audience, by home area: every enabled user but the author and plugin
// accounts whose home is the notice's area or below it (notices flow down; leads
// above it can read it but are not its audience).
struct Audience {
  struct Area {
    std::vector<std::string> acked;
    std::vector<std::string> missing;
  };
  std::map<std::string, Area> by_area;  // home area -> who
  int recipients = 0;
  int acked = 0;
  std::vector<std::string> missing;
};
Audience notice_audience(const muster::domain::Notice& notice, const Directory& directory);

}  // namespace musterd
