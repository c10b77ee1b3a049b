#include "muster/domain/roster.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "muster/domain/fields.hpp"
#include "muster/domain/limits.hpp"
#include "muster/domain/policy.hpp"

namespace muster::domain {

namespace {

constexpr int kMaxSeats = 1000;
constexpr UnixMs kMaxShiftMs = 7LL * 24 * 60 * 60 * 1000;

constexpr std::array<std::string_view, 8> kShiftOps{"shift.add",         "shift.signup",       "shift.withdraw",
                                                    "shift.swap",        "shift.swap_accept",  "shift.swap_decline",
                                                    "shift.checkin",     "shift.checkout"};

// JSON carries whole seconds (format_utc), so a shift keeps whole seconds too:
// otherwise the shift a client folds would differ from the one the server decided on.
UnixMs whole_seconds(UnixMs t) {
  const UnixMs rest = t % 1000;
  return rest < 0 ? t - rest - 1000 : t - rest;
}

bool overlaps(const Shift& a, const Shift& b) { return a.start < b.end && b.start < a.end; }

bool may_sign_up(const Actor& a) { return a.roles.has(Role::volunteer) || a.roles.has(Role::lead); }

std::string span_of(const Shift& s) { return format_utc(s.start) + " to " + format_utc(s.end); }

// The earliest other shift `user` holds a seat in (not checked out) that overlaps `s`.
const Shift* overlapping_shift(const ShiftBook& shifts, const Shift& s, std::string_view user) {
  const Shift* found = nullptr;
  for (const auto& [id, other] : shifts) {
    if (id == s.id || !overlaps(s, other)) continue;
    const Signup* su = other.signup_of(user);
    if (!su || !su->checkout_at.empty()) continue;
    if (!found || other.start < found->start) found = &other;
  }
  return found;
}

Error overlap_conflict(std::string_view user, const Shift& other) {
  return make_error(Errc::conflict, std::string(user) + " is already on " + other.post + " from " + span_of(other) +
                                        ", which overlaps this shift");
}

Error full_conflict(const Shift& s) {
  std::string names;
  for (const Signup& su : s.signups) {
    if (!names.empty()) names += ", ";
    names += su.user;
  }
  return make_error(Errc::conflict, "shift full: " + std::to_string(s.signups.size()) + "/" +
                                        std::to_string(s.seats) + " seats taken by " + names);
}

Error ended_conflict(const Shift& s) { return make_error(Errc::conflict, "shift ended at " + format_utc(s.end)); }

Error not_signed_up(const Shift& s, std::string_view user) {
  return make_error(Errc::conflict, std::string(user) + " is not signed up to shift " + s.id);
}

Draft shift_event(const Shift& s, std::string kind, Json body = Json::object()) {
  body["shift"] = s.id;
  return Draft{area_scope(s.area), std::move(kind), std::move(body)};
}

std::optional<UnixMs> parse_whole_seconds(const std::string& text) {
  auto t = parse_utc(text);
  if (!t) return std::nullopt;
  return whole_seconds(*t);
}

Result<std::vector<Draft>> add(const ShiftBook& shifts, const Op& op, const Context& ctx) {
  Fields f(op.body);
  auto post = f.required_string("post", kMaxPostBytes);
  auto area = f.required_string("area", kMaxAreaBytes);
  auto start_text = f.required_string("start", kMaxTimeBytes);
  auto end_text = f.required_string("end", kMaxTimeBytes);
  if (!f.ok()) return f.error();

  const auto seats_it = op.body.find("seats");
  if (seats_it == op.body.end() || seats_it->is_null()) return make_error(Errc::invalid, "missing field 'seats'");
  if (!seats_it->is_number_integer()) return make_error(Errc::invalid, "field 'seats' must be a whole number");
  // Read unsigned numbers as such: 2^64-1 must not wrap to -1.
  std::int64_t seats = kMaxSeats + 1;
  if (!seats_it->is_number_unsigned()) {
    seats = seats_it->get<std::int64_t>();
  } else if (seats_it->get<std::uint64_t>() <= kMaxSeats) {
    seats = static_cast<std::int64_t>(seats_it->get<std::uint64_t>());
  }
  if (seats < 1 || seats > kMaxSeats) {
    return make_error(Errc::invalid, "seats must be between 1 and " + std::to_string(kMaxSeats));
  }

  if (post->empty()) return make_error(Errc::invalid, "post must not be empty");
  if (!valid_area_path(*area)) return make_error(Errc::invalid, "invalid area path '" + *area + "'");
  auto start = parse_whole_seconds(*start_text);
  if (!start) return make_error(Errc::invalid, "start is not a valid time: '" + *start_text + "'");
  auto end = parse_whole_seconds(*end_text);
  if (!end) return make_error(Errc::invalid, "end is not a valid time: '" + *end_text + "'");
  if (*end <= *start) return make_error(Errc::invalid, "end must be after start");
  if (*end - *start > kMaxShiftMs) return make_error(Errc::invalid, "a shift may be at most 7 days long");

  if (!manages(ctx.actor, *area)) {
    return make_error(Errc::forbidden, ctx.actor.name + " may not add shifts in " + *area);
  }
  if (auto exists = ctx.directory.area_exists(*area); exists && !*exists) {
    return make_error(Errc::invalid, "unknown area '" + *area + "'");
  }
  if (shifts.count(op.id.str())) return make_error(Errc::conflict, "shift " + op.id.str() + " already exists");

  Shift s;
  s.id = op.id.str();
  s.post = *post;
  s.area = *area;
  s.start = *start;
  s.end = *end;
  s.seats = static_cast<int>(seats);
  s.created_by = ctx.actor.name;
  s.created_at = format_utc(ctx.now);
  return std::vector<Draft>{Draft{area_scope(s.area), "shift.added", to_json(s)}};
}

// The swap asked for by op `id` on `s`, or nullptr.
const Swap* find_swap(const Shift& s, std::string_view id) {
  for (const Swap& w : s.swaps) {
    if (w.id == id) return &w;
  }
  return nullptr;
}

Result<std::vector<Draft>> swap_answer(const ShiftBook& shifts, const Shift& s, const Op& op, const Context& ctx,
                                       const std::string& swap_id) {
  const bool accept = op.kind == "shift.swap_accept";
  const std::string& me = ctx.actor.name;
  const Swap* w = find_swap(s, swap_id);
  if (!w) return make_error(Errc::not_found, "no swap " + swap_id + " on shift " + s.id);
  if (w->to != me) {
    return make_error(Errc::forbidden, "only " + w->to + " may " + (accept ? "accept" : "decline") + " this swap");
  }
  if (w->state != "pending") return make_error(Errc::conflict, "swap is already " + w->state);
  const Json body{{"swap", w->id}, {"from", w->from}, {"to", w->to}};
  if (!accept) return std::vector<Draft>{shift_event(s, "shift.swap_declined", body)};

  if (!may_sign_up(ctx.actor)) return make_error(Errc::forbidden, "only volunteers and leads take shifts");
  if (ctx.now >= s.end) return ended_conflict(s);
  const Signup* from = s.signup_of(w->from);
  if (!from) return make_error(Errc::conflict, w->from + " has withdrawn from this shift");
  if (!from->checkin_at.empty()) return make_error(Errc::conflict, w->from + " checked in at " + from->checkin_at);
  if (s.signup_of(me)) return make_error(Errc::conflict, me + " is already signed up to this shift");
  if (const Shift* other = overlapping_shift(shifts, s, me)) return overlap_conflict(me, *other);
  return std::vector<Draft>{shift_event(s, "shift.swapped", body)};
}

Result<std::vector<Draft>> act(const ShiftBook& shifts, const Op& op, const Context& ctx) {
  Fields f(op.body);
  auto id = f.required_string("shift", kMaxIdBytes);
  std::optional<std::string> to;
  std::optional<std::string> swap_id;
  if (op.kind == "shift.swap") to = f.required_string("to", kMaxNameBytes);
  if (op.kind == "shift.swap_accept" || op.kind == "shift.swap_decline") {
    swap_id = f.required_string("swap", kMaxIdBytes);
  }
  if (!f.ok()) return f.error();
  if (to && !valid_user_name(*to)) return make_error(Errc::invalid, "invalid user name '" + *to + "'");

  auto it = shifts.find(*id);
  if (it == shifts.end() || !can_see(ctx.actor, area_scope(it->second.area))) {
    return make_error(Errc::not_found, "no shift " + *id);
  }
  const Shift& s = it->second;
  const std::string& me = ctx.actor.name;
  const Signup* mine = s.signup_of(me);

  if (op.kind == "shift.signup") {
    if (!may_sign_up(ctx.actor)) return make_error(Errc::forbidden, "only volunteers and leads sign up for shifts");
    if (ctx.now >= s.end) return ended_conflict(s);
    if (mine) return make_error(Errc::conflict, me + " is already signed up to this shift");
    if (s.free_seats() == 0) return full_conflict(s);
    if (const Shift* other = overlapping_shift(shifts, s, me)) return overlap_conflict(me, *other);
    return std::vector<Draft>{shift_event(s, "shift.signed_up")};
  }
  if (op.kind == "shift.swap_accept" || op.kind == "shift.swap_decline") {
    return swap_answer(shifts, s, op, ctx, *swap_id);
  }
  if (op.kind == "shift.checkout") {
    if (!mine) return not_signed_up(s, me);
    if (mine->checkin_at.empty()) return make_error(Errc::conflict, me + " has not checked in");
    if (!mine->checkout_at.empty()) return make_error(Errc::conflict, me + " checked out at " + mine->checkout_at);
    return std::vector<Draft>{shift_event(s, "shift.checked_out")};
  }

  // withdraw, swap and checkin need a seat that is not checked in yet.
  if (!mine) return not_signed_up(s, me);
  if (!mine->checkin_at.empty()) return make_error(Errc::conflict, me + " checked in at " + mine->checkin_at);

  if (op.kind == "shift.checkin") {
    const RosterPolicy policy = ctx.policy ? ctx.policy->roster : RosterPolicy{};
    if (ctx.now < s.start - policy.checkin_early) {
      return make_error(Errc::conflict, "check-in opens at " + format_utc(s.start - policy.checkin_early));
    }
    if (ctx.now >= s.end) return ended_conflict(s);
    const bool late = ctx.now > s.start + policy.late_after;
    return std::vector<Draft>{shift_event(s, "shift.checked_in", Json{{"late", late}})};
  }
  // A seat's history is settled once the shift is over.
  if (ctx.now >= s.end) return ended_conflict(s);
  if (op.kind == "shift.withdraw") return std::vector<Draft>{shift_event(s, "shift.withdrawn")};

  // shift.swap
  if (*to == me) return make_error(Errc::invalid, "cannot swap a seat with oneself");
  if (s.signup_of(*to)) return make_error(Errc::conflict, *to + " is already signed up to this shift");
  for (const Swap& w : s.swaps) {
    if (w.state == "pending" && w.from == me && w.to == *to) {
      return make_error(Errc::conflict, me + " already asked " + *to + " to swap (" + w.id + ")");
    }
  }
  if (auto found = ctx.directory.find_user(*to)) {
    if (!*found) return make_error(Errc::invalid, "unknown user '" + *to + "'");
    if (!may_sign_up(**found)) return make_error(Errc::invalid, *to + " is not a volunteer or lead");
    if (!can_see(**found, area_scope(s.area))) {
      return make_error(Errc::invalid, *to + " does not belong to area " + s.area);
    }
  }
  return std::vector<Draft>{
      shift_event(s, "shift.swap_requested", Json{{"swap", op.id.str()}, {"from", me}, {"to", *to}})};
}

std::optional<std::string> string_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

Signup* signup_in(Shift& s, std::string_view user) {
  for (Signup& su : s.signups) {
    if (su.user == user) return &su;
  }
  return nullptr;
}

Swap* swap_in(Shift& s, std::string_view id) {
  for (Swap& w : s.swaps) {
    if (w.id == id) return &w;
  }
  return nullptr;
}

// Where a sign-up stops covering `s`: its check-out, else the shift's end.
UnixMs cover_end(const Shift& s, const Signup& su) {
  if (su.checkout_at.empty()) return s.end;
  auto t = parse_utc(su.checkout_at);
  if (!t) return s.end;
  return std::clamp(*t, s.start, s.end);
}

}  // namespace

const Signup* Shift::signup_of(std::string_view user) const {
  for (const Signup& su : signups) {
    if (su.user == user) return &su;
  }
  return nullptr;
}

int Shift::free_seats() const {
  const auto taken = static_cast<long long>(signups.size());
  return taken >= seats ? 0 : static_cast<int>(seats - taken);
}

bool is_shift_op(std::string_view kind) {
  return std::find(kShiftOps.begin(), kShiftOps.end(), kind) != kShiftOps.end();
}

Json to_json(const Shift& s) {
  Json signups = Json::array();
  for (const Signup& su : s.signups) {
    signups.push_back(Json{{"user", su.user},
                           {"at", su.at},
                           {"checkin_at", su.checkin_at},
                           {"late", su.late},
                           {"checkout_at", su.checkout_at}});
  }
  Json swaps = Json::array();
  for (const Swap& w : s.swaps) {
    swaps.push_back(Json{{"id", w.id}, {"from", w.from}, {"to", w.to}, {"state", w.state}});
  }
  return Json{{"id", s.id},
              {"post", s.post},
              {"area", s.area},
              {"start", format_utc(s.start)},
              {"end", format_utc(s.end)},
              {"seats", s.seats},
              {"created_by", s.created_by},
              {"created_at", s.created_at},
              {"signups", std::move(signups)},
              {"swaps", std::move(swaps)},
              {"reminded", s.reminded},
              {"gap_escalated", s.gap_escalated}};
}

std::optional<Shift> shift_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Shift s;
    s.id = j.at("id").get<std::string>();
    s.post = j.at("post").get<std::string>();
    s.area = j.at("area").get<std::string>();
    auto start = parse_utc(j.at("start").get<std::string>());
    auto end = parse_utc(j.at("end").get<std::string>());
    if (!start || !end || *end <= *start) return std::nullopt;
    s.start = *start;
    s.end = *end;
    const Json& seats = j.at("seats");
    if (!seats.is_number_integer()) return std::nullopt;
    const auto n = seats.get<std::int64_t>();
    if (n < 1 || n > kMaxSeats) return std::nullopt;
    s.seats = static_cast<int>(n);
    s.created_by = j.value("created_by", "");
    s.created_at = j.value("created_at", "");
    for (const Json& su : j.value("signups", Json::array())) {
      if (!su.is_object()) return std::nullopt;
      Signup out;
      out.user = su.at("user").get<std::string>();
      out.at = su.value("at", "");
      out.checkin_at = su.value("checkin_at", "");
      out.late = su.value("late", false);
      out.checkout_at = su.value("checkout_at", "");
      s.signups.push_back(std::move(out));
    }
    for (const Json& w : j.value("swaps", Json::array())) {
      if (!w.is_object()) return std::nullopt;
      Swap out;
      out.id = w.at("id").get<std::string>();
      out.from = w.at("from").get<std::string>();
      out.to = w.at("to").get<std::string>();
      out.state = w.value("state", "pending");
      if (out.state != "pending" && out.state != "accepted" && out.state != "declined") return std::nullopt;
      s.swaps.push_back(std::move(out));
    }
    s.reminded = j.value("reminded", std::set<std::string>{});
    s.gap_escalated = j.value("gap_escalated", false);
    return s;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

Result<std::vector<Draft>> apply_shift_op(const ShiftBook& shifts, const Op& op, const Context& ctx) {
  if (!op.body.is_object()) return make_error(Errc::invalid, "op body must be an object");
  if (op.kind == "shift.add") return add(shifts, op, ctx);
  if (!is_shift_op(op.kind)) return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
  return act(shifts, op, ctx);
}

std::string fold_shift_event(ShiftBook& shifts, const Event& event) {
  if (event.kind == "shift.added") {
    auto s = shift_from_json(event.body);
    if (!s) return "";
    std::string id = s->id;
    shifts.emplace(id, std::move(*s));  // a second shift.added must not wipe later sign-ups
    return id;
  }
  auto id = string_field(event.body, "shift");
  if (!id) return "";
  auto it = shifts.find(*id);
  if (it == shifts.end()) return "";
  Shift& s = it->second;

  if (event.kind == "shift.signed_up") {
    if (!signup_in(s, event.actor)) s.signups.push_back(Signup{event.actor, event.at, "", false, ""});
  } else if (event.kind == "shift.withdrawn") {
    s.signups.erase(std::remove_if(s.signups.begin(), s.signups.end(),
                                   [&](const Signup& su) { return su.user == event.actor; }),
                    s.signups.end());
  } else if (event.kind == "shift.swap_requested" || event.kind == "shift.swapped" ||
             event.kind == "shift.swap_declined") {
    auto swap = string_field(event.body, "swap");
    auto from = string_field(event.body, "from");
    auto to = string_field(event.body, "to");
    if (!swap || !from || !to) return "";
    Swap* w = swap_in(s, *swap);
    if (!w) {
      s.swaps.push_back(Swap{*swap, *from, *to, "pending"});
      w = &s.swaps.back();
    }
    if (event.kind == "shift.swapped") {
      w->state = "accepted";
      // `to` takes `from`'s place in the seat order.
      Signup* seat = signup_in(s, *from);
      if (seat && !signup_in(s, *to)) *seat = Signup{*to, event.at, "", false, ""};
    } else if (event.kind == "shift.swap_declined") {
      w->state = "declined";
    }
  } else if (event.kind == "shift.checked_in") {
    Signup* su = signup_in(s, event.actor);
    if (su && su->checkin_at.empty()) {
      su->checkin_at = event.at;
      auto late = event.body.find("late");
      su->late = late != event.body.end() && late->is_boolean() && late->get<bool>();
    }
  } else if (event.kind == "shift.checked_out") {
    Signup* su = signup_in(s, event.actor);
    if (su && su->checkout_at.empty()) su->checkout_at = event.at;
  } else if (event.kind == "shift.reminder") {
    auto user = string_field(event.body, "user");
    if (!user) return "";
    s.reminded.insert(*user);
  } else if (event.kind == "shift.gap" || event.kind == "shift.gap_offer") {
    s.gap_escalated = true;
  } else {
    return "";
  }
  return s.id;
}

std::vector<Gap> coverage_gaps(const ShiftBook& shifts, std::string_view area, UnixMs from, UnixMs to) {
  std::vector<Gap> gaps;
  for (const auto& [id, s] : shifts) {
    if (!area_contains(area, s.area)) continue;
    const UnixMs lo = std::max(s.start, from);
    const UnixMs hi = std::min(s.end, to);
    if (lo >= hi) continue;
    // Coverage only changes where someone checked out, and drops there, so
    // neighbouring ranges never have the same count and need no merging.
    std::vector<UnixMs> cuts{lo, hi};
    for (const Signup& su : s.signups) {
      const UnixMs t = cover_end(s, su);
      if (t > lo && t < hi) cuts.push_back(t);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
      long long covering = 0;
      for (const Signup& su : s.signups) {
        if (cover_end(s, su) > cuts[i]) ++covering;
      }
      if (covering >= s.seats) continue;
      gaps.push_back(Gap{id, s.post, s.area, cuts[i], cuts[i + 1], static_cast<int>(s.seats - covering)});
    }
  }
  std::sort(gaps.begin(), gaps.end(), [](const Gap& a, const Gap& b) {
    if (a.from != b.from) return a.from < b.from;
    if (a.post != b.post) return a.post < b.post;
    return a.shift < b.shift;
  });
  return gaps;
}

const Shift* on_duty(const ShiftBook& shifts, std::string_view user, UnixMs t) {
  const Shift* found = nullptr;
  for (const auto& [id, s] : shifts) {
    if (t < s.start || t >= s.end) continue;
    const Signup* su = s.signup_of(user);
    if (!su || cover_end(s, *su) <= t) continue;
    if (!found || s.start < found->start) found = &s;
  }
  return found;
}

}  // namespace muster::domain
