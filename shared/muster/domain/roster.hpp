// The checkpoint roster (SPEC §3 Roster): shifts at a post in an area, sign-up up to
// the seats needed, withdraw, swaps between two volunteers, check-in and check-out,
// and coverage gaps. Every event of a shift is in the scope of the shift's area,
// except the ones the server makes on its own for one person (reminders, gap
// escalations and gap offers), which go to that person's inbox.
//
// Times are UTC milliseconds here and RFC 3339 UTC strings in JSON; showing them in
// the server's time zone is the client's business.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/event.hpp"

namespace muster::domain {

struct Signup {
  std::string user;
  std::string at;          // when the sign-up was accepted (RFC 3339)
  std::string checkin_at;  // empty until checked in
  bool late = false;       // checked in later than start + late_after
  std::string checkout_at; // empty until checked out
};

struct Swap {
  std::string id;  // the id of the op that asked for it
  std::string from;
  std::string to;
  std::string state = "pending";  // pending | accepted | declined
};

struct Shift {
  std::string id;  // the id of the op that added it
  std::string post;
  std::string area;
  UnixMs start = 0;
  UnixMs end = 0;  // > start; a shift may cross midnight
  int seats = 1;
  std::string created_by;
  std::string created_at;
  std::vector<Signup> signups;  // in the order the server accepted them
  std::vector<Swap> swaps;
  // What the server already did on its own (complete on the server only).
  std::set<std::string> reminded;  // users sent a reminder
  bool gap_escalated = false;

  const Signup* signup_of(std::string_view user) const;
  int free_seats() const;  // seats - signups, never below 0
};

Json to_json(const Shift& s);
std::optional<Shift> shift_from_json(const Json& j);

using ShiftBook = std::map<std::string, Shift>;

// Op kinds: shift.add, shift.signup, shift.withdraw, shift.swap, shift.swap_accept,
// shift.swap_decline, shift.checkin, shift.checkout.
bool is_shift_op(std::string_view kind);

// shift.add {post, area, start, end, seats}: managers of the area. start/end are
//   RFC 3339 strings (kept to whole seconds, as JSON carries them); end > start; at
//   most 7 days long; seats an integer 1..1000; post 1..100 bytes. Event shift.added
//   (body: the whole shift, like task.created).
// shift.signup {shift}: volunteers and leads who can see the shift's area, before its
//   end. conflict if the shift is full (the message names who holds the seats), if the
//   user is already signed up, or already signed up to another shift overlapping this
//   one. Event shift.signed_up {shift}.
// shift.withdraw {shift}: a signed-up user who has not checked in, before the shift's
//   end (after it, the seat's history is settled). shift.withdrawn.
// shift.swap {shift, to}: a signed-up user who has not checked in asks `to` (not
//   signed up) to take the seat, before the shift's end. Event shift.swap_requested
//   {shift, swap, from, to} where swap is the op id.
// shift.swap_accept {shift, swap} / shift.swap_decline {shift, swap}: only `to`, only
//   while pending (anyone else: forbidden); accept is a conflict if the shift has
//   ended, `from` has meanwhile withdrawn or checked in, or `to` got a seat or an
//   overlapping shift. Events shift.swapped / shift.swap_declined {shift, swap, from,
//   to}; swapped moves the seat to `to`, in the same place in the seat order.
// shift.checkin {shift}: a signed-up user, from start - policy.checkin_early until the
//   end. Event shift.checked_in {shift, late} with late = now > start + late_after.
// shift.checkout {shift}: a checked-in user not yet checked out. shift.checked_out.
// Timing policy comes from ctx.policy (the defaults when null).
// Errors: invalid (malformed), not_found (no such shift or not visible), forbidden
// (role), conflict (state; the message says why).
Result<std::vector<Draft>> apply_shift_op(const ShiftBook& shifts, const Op& op, const Context& ctx);

// Folds shift.* events, including the server's own: shift.reminder {shift, user}
// (adds to reminded), shift.gap {shift, missing, leads} and shift.gap_offer {shift,
// missing} (set gap_escalated). Unknown kinds and shifts are ignored; folding an
// event twice changes nothing more. Returns the shift id touched or "".
std::string fold_shift_event(ShiftBook& shifts, const Event& event);

// A time range in which a shift has fewer volunteers than seats.
struct Gap {
  std::string shift;
  std::string post;
  std::string area;
  UnixMs from = 0;
  UnixMs to = 0;
  int missing = 0;  // seats - volunteers covering this range, > 0
};

// Every uncovered range of every shift in `area` or below it that overlaps
// [from, to), clipped to it. A signed-up volunteer covers the shift from its start
// until they check out (a sign-up covers the whole shift, whenever it was made).
// Within one shift, ranges with the same `missing` are merged; a change of the count
// (someone checked out early) starts a new range. Sorted by
// from, then post, then shift id. Overlapping shifts are independent: each has its
// own seats.
std::vector<Gap> coverage_gaps(const ShiftBook& shifts, std::string_view area, UnixMs from, UnixMs to);

// Is `user` on duty at `t`: signed up to a shift running at t (start <= t < end) that
// they have not checked out of by t? Returns that shift (the earliest-starting one if
// several), or nullptr.
const Shift* on_duty(const ShiftBook& shifts, std::string_view user, UnixMs t);

}  // namespace muster::domain
