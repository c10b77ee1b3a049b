// The psychological hotline's call log (SPEC §3). Only users with the `hotline` role log
// and read calls; every event of a call is in the `role:hotline` scope.
//
// Notes are confidential: the reducer never puts them in an event. The server takes
// them from the op, encrypts them (libsodium secretbox, DATA/hotline.key) into its own
// table in the same transaction, and answers `hotline.show` queries from there to
// hotline users only. So the log, the replicas and the metrics never hold them.
//
// A follow-up becomes a `hotline_followup` task in the call's area whose body holds only
// the brief and the area: not the notes, not the caller.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/event.hpp"
#include "muster/domain/limits.hpp"

namespace muster::domain {

struct Call {
  std::string id;  // the id of the op that logged it
  std::string operator_name;
  std::string area;  // where the caller is (default: the operator's home area)
  std::string started;  // RFC 3339
  int duration_minutes = 0;
  std::string category;
  int risk = 0;  // 0-5
  bool has_notes = false;
  bool notes_purged = false;
  std::string followup_task;  // id of the hotline_followup task, if any
  std::string logged_at;
  bool escalated = false;  // hotline.escalated was made (server)
};
Json to_json(const Call& c);
std::optional<Call> call_from_json(const Json& j);
using CallBook = std::map<std::string, Call>;

// hotline.log
bool is_hotline_op(std::string_view kind);

// hotline.log {started, duration (minutes, 0..600), category (1..64 bytes), risk (0..5),
//   area?, notes? (string, at most kMaxNotesBytes), followup? {brief (1..400 bytes), nothing
//   else}}: users with the hotline role only (forbidden otherwise, also on the client;
//   checked before anything else). `started` may not be more than an hour ahead of now.
//   Empty notes count as none. Events:
//   hotline.logged (role:hotline) with the call (has_notes, never the notes); with a
//   follow-up, task.created of kind hotline_followup in the call's area, id "<op id>-f",
//   title = the brief, details {"brief", "area"} only, dispatch by the policy.
// A call of risk 4-5 is then escalated by the server on its own (Dispatcher, like the
// other follow-ups; recorded so it happens once): hotline.escalated {call, risk, area,
// category, priority: "urgent", to} in role:hotline, `to` naming the users with both the
// hotline and lead roles who manage the call's area.
Result<std::vector<Draft>> apply_hotline_op(const CallBook& calls, const Op& op, const Context& ctx);

// Folds hotline.logged, hotline.escalated {call} (sets escalated) and hotline.purged
// {call, older_than_days, before} (marks notes_purged). A purge makes one event per call
// whose notes it deleted, so that every event touches one object, as everywhere else
// (the replica saves the object an event touched). Returns the call id touched or "".
std::string fold_hotline_event(CallBook& calls, const Event& event);

}  // namespace muster::domain
