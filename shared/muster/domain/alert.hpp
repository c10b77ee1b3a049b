// Alerts: what the server decided on its own for one person, kept as it arrived so that
// the inbox (muster/domain/inbox.hpp) can show it until it is settled. These events
// change their object only a little (a task's `escalated` stages, a shift's `reminded`),
// but say more than that: who was told, when, and why. The fold keeps the event's kind,
// scope, time and body, one alert per event:
//
//   task.escalated     {task, stage, title, area, reason, leads}   each lead's inbox, or the area's
//   notice.resent      {notice, text, area, posted_at}             each recipient's inbox
//   notice.escalated   {notice, text, areas, missing}              each lead's inbox, or the area's
//   shift.reminder     {shift, post, area, start, end, user}       the volunteer's inbox
//   shift.gap          {shift, post, area, start, end, missing, leads}   each lead's inbox, or the area's
//   shift.gap_offer    as shift.gap                                 each free volunteer's inbox
//   hotline.escalated  {call, risk, area, category, priority, to}   role:hotline, for `to`
//
// Pure. The client folds the alerts it receives next to its replica (sync/client_store).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "muster/domain/actor.hpp"
#include "muster/domain/event.hpp"

namespace muster::domain {

struct Alert {
  std::string id;     // the event's id
  std::string kind;   // one of the kinds above
  std::string scope;  // where it was delivered
  std::string at;     // RFC 3339 UTC, when the server made it
  Json body;          // the event's body, as sent
};

Json to_json(const Alert& a);
std::optional<Alert> alert_from_json(const Json& j);

using AlertBook = std::map<std::string, Alert>;  // by event id

// Is `kind` one of the events above?
bool is_alert_kind(std::string_view kind);

// The alert an event is, if it is one of the kinds above with the id of its object
// (task, notice, shift or call) in its body; nullopt otherwise.
std::optional<Alert> alert_from_event(const Event& event);

// Records the event if it is an alert (folding it twice changes nothing more). Returns
// the alert's id, or "" if the event is none.
std::string fold_alert_event(AlertBook& alerts, const Event& event);

// The id of the object the alert is about: body.task, .notice, .shift or .call.
std::string alert_object(const Alert& a);

// Is the alert meant for `actor`? One in "user:<name>" is for that user. One in an
// area's scope (an escalation or gap nobody leads) is for those who manage that area.
// hotline.escalated is for the users its `to` names.
bool alert_is_for(const Alert& a, const Actor& actor);

}  // namespace muster::domain
