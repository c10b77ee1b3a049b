// The whole domain state one party knows, and the two entry points that route ops
// and events to the reducer of each object (by the table of kinds, kinds.hpp). The
// server decides with apply(); both the server and the client build their views with
// fold().
#pragma once

#include <string>
#include <utility>

#include "muster/domain/headcount.hpp"
#include "muster/domain/hotline.hpp"
#include "muster/domain/kinds.hpp"
#include "muster/domain/message.hpp"
#include "muster/domain/notice.hpp"
#include "muster/domain/roster.hpp"
#include "muster/domain/task.hpp"

namespace muster::domain {

struct State {
  TaskBook tasks;
  NoticeBook notices;
  MessageBook messages;
  ShiftBook shifts;
  HeadcountBooks headcount;  // households, rounds, marks
  CallBook calls;
};

bool is_known_op(std::string_view kind);

// Decides an op against the state. Never changes the state: fold the drafts
// (once numbered) to do that.
Result<std::vector<Draft>> apply(const State& state, const Op& op, const Context& ctx);

// Folds one event into the state. Unknown kinds are ignored.
ObjectRef fold(State& state, const Event& event);

// The object an op names (its body's "task", "notice", "shift" or "round"), as the
// state has it: what a client rolls back to when the op is refused with `conflict`.
// Null if it names none the state knows.
Json conflict_state(const State& state, const Op& op);

}  // namespace muster::domain
