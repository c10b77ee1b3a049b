// The inbox: what needs one person now, each item with the command that settles it.
// A pure function of what that person's replica knows (the folded state, the alerts
// they received, what they have read or dismissed) and the time; nothing is stored
// for it, so an item leaves the inbox the moment the state says it is settled: an
// offer when it is accepted, declined, moved on or past its `expires` (even before the
// server's task.offer_expired arrives); a task when it is done; a notice when it is
// acknowledged; and so on for each kind below.
//
//   kind        about     there while                                       action
//   offer       task      offered to me, before `expires`                   muster task accept ID
//   escalation  task      task.escalated to me; the task not yet accepted   muster inbox ack ID
//                         (stages unaccepted:N, no_candidate) or not yet
//                         finished (overdue)
//               notice    notice.escalated to me                            muster inbox ack ID
//               call      hotline.escalated naming me                       muster inbox ack ID
//   reminder    shift     shift.reminder to me; I am still signed up,       muster roster checkin ID
//                         not checked in, and the shift has not ended
//   gap         shift     shift.gap to me; the shift still has free seats   muster inbox ack ID
//                         and has not ended
//   gap_offer   shift     shift.gap_offer to me; I have not signed up, a    muster roster signup ID
//                         seat is free, the shift has not ended
//   notice      notice    asks for acknowledgement from me (my home area    muster notice ack ID
//                         is in its area, I did not write it), not acked
//   task        task      I hold it, accepted or started                    muster task start|done ID
//   message     message   a direct message to me, not yet read              muster msg list
//   followup    task      a hotline_followup task I created, not final      muster task show ID
//
// Alert items (escalation, reminder, gap, gap_offer) also leave when dismissed with
// `muster inbox ack ID`, which records the alerts behind the item (InboxItem::alerts):
// a later alert about the same object (the next escalation stage) brings it back.
// A direct message is read once `muster msg list` has shown it.
//
// Items are ordered by kind as in the table (offers first: they expire), then by `at`.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/alert.hpp"
#include "muster/domain/state.hpp"

namespace muster::domain {

struct InboxItem {
  std::string kind;     // offer task escalation reminder gap gap_offer notice message followup
  std::string id;       // the task, shift, notice, call or message it is about
  std::string title;    // the task's title, the shift's post, the notice's or message's text, ...
  std::string area;
  std::string expires;  // RFC 3339 UTC: when an offer moves on; empty for other kinds
  std::string action;   // the command line that settles it
  std::string at;       // RFC 3339 UTC: when it reached me (the offer, the alert, the post, ...)
  std::string due;      // RFC 3339 UTC: a task's due time, a shift's start; or empty
  std::string detail;   // a few words more: a task's state or priority, an escalation's
                        // stage, the free seats of a gap, who wrote a message
  std::vector<std::string> alerts;  // ids of the unsettled alerts behind it (alert kinds only)
};

Json to_json(const InboxItem& item);

// What the person has done with items outside the replica.
struct InboxMarks {
  std::set<std::string> read_messages;  // ids of direct messages `msg list` has shown
  std::set<std::string> acked_alerts;   // ids of alerts dismissed with `inbox ack`
};

// The kinds, in the order the inbox lists them.
const std::vector<std::string>& inbox_kinds();

// The inbox of `me` at `now`. `state` is what me's replica shows (with its queued ops on
// top, so an offer accepted offline has already left); `alerts` those me received (alerts
// for others are ignored).
// `person` writes a user name the way the reader's screen shows people (the client's
// "王芳 (wang)"); without one, details name users by their user names, as `--json` wants.
using PersonName = std::function<std::string(const std::string& user)>;
std::vector<InboxItem> inbox(const State& state, const AlertBook& alerts, const Actor& me, UnixMs now,
                             const InboxMarks& marks, const PersonName& person = {});

}  // namespace muster::domain
