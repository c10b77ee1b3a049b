// The one table of object kinds: a row per kind of object the state holds (task,
// notice, message, shift, household, round, mark, call) with everything the rest of
// the program needs to know about it. apply() and fold() route by it, is_known_op() and
// conflict_state() read it, the client store saves and loads objects through it and the
// client resolves short ids with it.
//
// To add an object kind: write its reducer (apply_x_op, fold_x_event, to_json,
// x_from_json), give State a book for it, and add a row to kinds() in kinds.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/event.hpp"

namespace muster::domain {

struct State;

// The object an event touched: {kind name, id}; empty name if none.
using ObjectRef = std::pair<std::string, std::string>;

struct ObjectKind {
  std::string_view name;  // "task": the `type` of the client store's objects table, ObjectRef::first
  // The op kinds whose reducer this row runs (docs/protocol.md, "Op kinds"); none for
  // objects only the server makes (households).
  std::vector<std::string_view> ops;
  // Events whose kind starts with one of these are folded by this row. A mark's events
  // (headcount.marked) come before the round's prefix (headcount.) in the table, so the
  // first row whose prefix matches folds the event.
  std::vector<std::string_view> event_prefixes;
  // The key an op's body names an object of this kind by ("task": {"task": ID}), for
  // conflict_state(); empty when a refused op is not rolled back to this kind.
  std::string_view body_key;

  Result<std::vector<Draft>> (*apply)(const State&, const Op&, const Context&);
  ObjectRef (*fold)(State&, const Event&);
  // The object as JSON (to_json), or null if the state does not have it.
  Json (*show)(const State&, const std::string& id);
  // The client store's record of the object, and back: load() puts a record into the
  // state, ignoring one it cannot read.
  Json (*save)(const State&, const std::string& id);
  void (*load)(State&, const Json& record);
  // The ids of every object of this kind in the state, for short-id resolution.
  std::vector<std::string> (*ids)(const State&);
};

// Every row, in a fixed order.
const std::vector<ObjectKind>& kinds();

// The row named `name` ("task"), or null.
const ObjectKind* find_kind(std::string_view name);
// The row owning op kind `op` ("task.claim"), or null.
const ObjectKind* kind_of_op(std::string_view op);
// The row folding event kind `event` ("task.claimed"), or null.
const ObjectKind* kind_of_event(std::string_view event);

}  // namespace muster::domain
