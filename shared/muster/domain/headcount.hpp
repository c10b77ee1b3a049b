// Head-counts (SPEC §3): a household registry, rounds that count every household under
// an area, marks from the door-to-door sweep, live tallies per building, and on close a
// `doorknock` task for every household nobody marked.
//
// Objects and where their events live:
// - Household {id, area, address, members, registered_at}: the registry, imported by an
//   admin into directory.db (`musterd import households`) and published by the server
//   as `household.registered` / `household.updated` events in the household's area
//   scope (its building), so clients know the doors without a server round-trip. The
//   phone never leaves the server in an event (leads ask for it: query household.contact).
// - Round {id, area, title, closes, opened_by/at, closed, closed_by/at, buildings}:
//   `headcount.opened` / `headcount.closed` in the round's area scope.
// - Mark {round, household, status, people, by, at, history}: the latest mark of one
//   household in one round and every mark before it; `headcount.marked` in the
//   household's area scope. Two volunteers marking one household: the later mark to
//   reach the server wins; both are in the history.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/event.hpp"

namespace muster::domain {

// Household ids: 1-32 characters of [A-Za-z0-9._-] (e.g. "b3-502").
bool valid_household_id(std::string_view id);

struct Household {
  std::string id;
  std::string area;  // the building, e.g. "gulou/antai/yili/b3"
  std::string address;
  int members = 0;
  std::string registered_at;  // when the server first published it (RFC 3339)
};
Json to_json(const Household& h);
std::optional<Household> household_from_json(const Json& j);
using HouseholdBook = std::map<std::string, Household>;

enum class MarkStatus { done, absent, exempt, moved };
std::string_view to_string(MarkStatus s);
std::optional<MarkStatus> mark_status_from_string(std::string_view s);

struct MarkEntry {
  MarkStatus status = MarkStatus::done;
  int people = 0;  // the persons this mark counts (0..50), whatever the status
  std::string by;
  std::string at;
  OpId op;  // the op that made it: folding the same op twice adds nothing
};

struct Mark {
  std::string round;
  std::string household;
  std::string area;             // the household's area when marked
  MarkEntry latest;
  std::vector<MarkEntry> history;  // every mark in arrival order, the latest last
};
Json to_json(const Mark& m);
std::optional<Mark> mark_from_json(const Json& j);
// Marks by mark_key(round, household).
std::string mark_key(std::string_view round, std::string_view household);
using MarkBook = std::map<std::string, Mark>;

struct Round {
  std::string id;  // the id of the op that opened it
  std::string area;
  std::string title;
  std::string closes;  // RFC 3339 or empty: informational, closing is an op
  std::string opened_by;
  std::string opened_at;
  bool closed = false;
  std::string closed_by;
  std::string closed_at;
  // How many households the round expects, by building (area). A household is expected
  // if it is in the round's area or below it and was registered no later than the round
  // opened (registered_at <= opened_at): a rule every copy can apply to its registry, so
  // the opened event stays small for a round over 20,000 households.
  std::map<std::string, int> expected;  // area -> households

  // Maintained by the fold of headcount.marked (no scan per mark): per building,
  // households marked with any status and the people counted. Not in JSON: a state
  // loaded from stored objects calls rebuild_tallies().
  struct Tally {
    int counted = 0;
    int people = 0;
  };
  std::map<std::string, Tally> tallies;
};
Json to_json(const Round& r);  // without tallies
bool round_expects(const Round& r, const Household& h);
std::optional<Round> round_from_json(const Json& j);
using RoundBook = std::map<std::string, Round>;

struct HeadcountBooks {
  HouseholdBook households;
  RoundBook rounds;
  MarkBook marks;
};

// headcount.open, headcount.mark, headcount.close
bool is_headcount_op(std::string_view kind);

// headcount.open {area, title, closes?}: managers of the area. Expects every household
//   of the registry in the area or below it; a round over no household is `invalid`.
//   Event headcount.opened (area scope), body = the whole round (with `expected` counts).
// headcount.mark {round, household, status, people?}: volunteers and managers who can
//   see the household's area (others: forbidden; a round or household the actor cannot
//   see: not_found); the household must be expected by the round (round_expects, else
//   invalid); the round must be open (else conflict). people a whole number 0..50,
//   default 0. Event headcount.marked {round, household, area, status, people} in the
//   household's area scope.
// headcount.close {round}: managers of the round's area; conflict if closed. Events:
//   headcount.closed {round, missing: N} (round's area scope), then one task.created
//   per household still missing, kind doorknock, in the household's area, title
//   "上门核查 <address>", id "<op id>-<household>" (at most 26+1+32 bytes), dispatch by
//   ctx.policy for doorknock (claim when null), details {household, address, round},
//   in the order of building, then household id. "Still missing": expected by the
//   round (round_expects, against the registry as it is now) and not marked.
Result<std::vector<Draft>> apply_headcount_op(const HeadcountBooks& books, const Op& op, const Context& ctx);

// Folds household.registered/updated, headcount.opened/marked/closed; updates tallies
// incrementally (a mark of a household already marked moves its people, not its count).
// A mark whose round is not known yet is kept, and counted when the round arrives.
// Returns {"household"|"round"|"mark", id} for the object touched (a mark's id is its
// mark_key), or {"", ""}.
std::pair<std::string, std::string> fold_headcount_event(HeadcountBooks& books, const Event& event);

// Recomputes every round's tallies from the marks (for a state loaded from stored
// objects, where tallies are not kept).
void rebuild_tallies(HeadcountBooks& books);

// The status of a round as `muster headcount status --json` prints it:
// {"round","area","title","closed","expected","counted","missing","people",
//  "by_building":[{"area","expected","counted","missing","people"}]} plus, with
// list_missing, "missing_households":[{"household","area","address"}].
// From the tallies; list_missing scans the registry of the round's area. A building's
// missing is expected - counted (never below 0); the totals are the sums over the
// buildings, which are sorted by area.
// With a viewer who does not manage the round's area (a volunteer), only the buildings
// whose scope the viewer can see are counted, and "partial": true is added: a replica
// holds the marks of those buildings only, so the others would look all missing.
Json round_status(const HeadcountBooks& books, const Round& round, bool list_missing,
                  const Actor* viewer = nullptr);

}  // namespace muster::domain
