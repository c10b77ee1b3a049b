// muster roster …: checkpoint shifts (SPEC §6). Changes are ops like any other (queued
// offline, decided by the server in arrival order); list and gaps read the local
// replica, so they work offline too. Times are read and shown in the server's zone.
#include <functional>
#include <iostream>

#include "muster/base/utf8.hpp"
#include "muster/domain/roster.hpp"
#include "muster_client/cli.hpp"
#include "muster_client/ops.hpp"

namespace muster::client {

namespace domain = muster::domain;
using domain::Json;

namespace {

Json shift_json(const domain::Shift& s, const Zone& zone, bool pending) {
  Json j = domain::to_json(s);
  j["start"] = format_local(s.start, zone);
  j["end"] = format_local(s.end, zone);
  j["free"] = s.free_seats();
  j["pending"] = pending;
  return j;
}

// `who` writes a person as tables do (Cli::person: "王芳 (wang)").
std::string names(const domain::Shift& s, const std::function<std::string(const std::string&)>& who) {
  std::string out;
  for (const auto& su : s.signups) {
    out += (out.empty() ? "" : " ") + who(su.user);
    if (!su.checkout_at.empty()) {
      out += "(out)";
    } else if (!su.checkin_at.empty()) {
      out += su.late ? "(in, late)" : "(in)";
    }
  }
  return out.empty() ? "-" : out;
}

}  // namespace

int Cli::roster() {
  const std::string verb = a_.word(1);
  if (verb == "add") {
    auto post = a_.get("post");
    auto area = a_.get("area");
    auto start = time_option("start");
    auto end = time_option("end");
    if (!start) return usage(start.error().message);
    if (!end) return usage(end.error().message);
    if (!post || !area || !*start || !*end) return usage("roster add needs --post, --area, --start and --end");
    int seats = 1;
    if (auto v = a_.get("seats")) {
      try {
        seats = std::stoi(*v);
      } catch (const std::exception&) {
        return usage("--seats takes a number");
      }
    }
    return submit(make_op("shift.add", Json{{"post", *post},
                                            {"area", *area},
                                            {"start", format_utc(**start)},
                                            {"end", format_utc(**end)},
                                            {"seats", seats}}));
  }
  if (verb == "list") return roster_list();
  if (verb == "gaps") return roster_gaps();
  static const std::set<std::string> kSimple{"signup", "withdraw", "checkin", "checkout"};
  static const std::set<std::string> kSwaps{"swap", "swap-accept", "swap-decline"};
  if (!kSimple.count(verb) && !kSwaps.count(verb)) return usage("unknown roster command '" + verb + "'");
  auto shift_id = resolve(a_.word(2), "shift");
  if (!shift_id) return fail(shift_id.error().code == Errc::invalid ? kUsage : kRejected, shift_id.error().message);
  if (kSimple.count(verb)) return submit(make_op("shift." + verb, shift_body(*shift_id)));
  if (verb == "swap") {
    auto to = a_.get("to");
    if (!to) return usage("roster swap needs --to USER");
    return submit(make_op("shift.swap", Json{{"shift", *shift_id}, {"to", *to}}));
  }
  // swap-accept / swap-decline: the pending swap offered to me in that shift.
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  auto view = store().view();
  auto it = view.shifts.find(*shift_id);
  if (it == view.shifts.end()) return fail(kRejected, "no shift " + *shift_id + " (run muster sync to refresh)");
  std::string swap;
  for (const auto& sw : it->second.swaps) {
    if (sw.to == id->user && sw.state == "pending") swap = sw.id;
  }
  if (swap.empty()) return fail(kRejected, "nobody asked " + id->user + " to swap into this shift");
  const std::string kind = verb == "swap-accept" ? "shift.swap_accept" : "shift.swap_decline";
  return submit(make_op(kind, Json{{"shift", *shift_id}, {"swap", swap}}));
}

int Cli::roster_list() {
  auto from = time_option("from");
  auto to = time_option("to");
  if (!from) return usage(from.error().message);
  if (!to) return usage(to.error().message);
  auto id = store().identity();
  std::set<std::string> pending;
  auto view = store().view(&pending);
  auto area = a_.get("area");
  std::vector<const domain::Shift*> rows;
  for (const auto& [sid, s] : view.shifts) {
    if (area && !domain::area_contains(*area, s.area)) continue;
    if (*from && s.end <= **from) continue;
    if (*to && s.start >= **to) continue;
    if (a_.flag("mine") && (!id || !s.signup_of(id->user))) continue;
    rows.push_back(&s);
  }
  std::sort(rows.begin(), rows.end(), [](const domain::Shift* x, const domain::Shift* y) {
    return std::tie(x->start, x->post, x->id) < std::tie(y->start, y->post, y->id);
  });
  if (json_) {
    Json out = Json::array();
    for (const auto* s : rows) out.push_back(shift_json(*s, zone(), pending.count(s->id) > 0));
    std::cout << display_safe_json(out.dump()) << '\n';
    return kOk;
  }
  if (rows.empty()) {
    std::cout << "no shifts\n";
    return kOk;
  }
  std::cout << pad_to_width("SHIFT", 28) << pad_to_width("POST", 14) << pad_to_width("AREA", 22)
            << pad_to_width("START", 18) << pad_to_width("END", 18) << pad_to_width("SEATS", 7) << "WHO\n";
  for (const auto* s : rows) {
    std::cout << pad_to_width(display_safe(s->id) + (pending.count(s->id) ? "*" : ""), 28)
              << pad_to_width(truncate_to_width(display_safe(s->post), 13), 14)
              << pad_to_width(truncate_to_width(display_safe(s->area), 21), 22) << pad_to_width(short_time(s->start), 18)
              << pad_to_width(short_time(s->end), 18)
              << pad_to_width(std::to_string(s->signups.size()) + "/" + std::to_string(s->seats), 7) << display_safe(names(*s, [this](const std::string& u) { return person(u); }))
              << '\n';
  }
  if (!pending.empty()) std::cout << "* not yet confirmed by the server (run muster sync)\n";
  std::cout << "times in " << zone().name() << '\n';
  return kOk;
}

int Cli::roster_gaps() {
  auto area = a_.get("area");
  auto from = time_option("from");
  auto to = time_option("to");
  if (!from) return usage(from.error().message);
  if (!to) return usage(to.error().message);
  if (!area || !*from || !*to) return usage("roster gaps needs --area, --from and --to");
  if (**to <= **from) return usage("--to must be later than --from");
  auto view = store().view();
  auto gaps = domain::coverage_gaps(view.shifts, *area, **from, **to);
  if (json_) {
    Json out = Json::array();
    for (const auto& g : gaps) {
      out.push_back(Json{{"shift", g.shift},
                         {"post", g.post},
                         {"area", g.area},
                         {"from", format_local(g.from, zone())},
                         {"to", format_local(g.to, zone())},
                         {"missing", g.missing}});
    }
    std::cout << display_safe_json(out.dump()) << '\n';
    return kOk;
  }
  if (gaps.empty()) {
    std::cout << "no gaps: every seat is covered\n";
    return kOk;
  }
  std::cout << pad_to_width("FROM", 18) << pad_to_width("TO", 18) << pad_to_width("MISSING", 9)
            << pad_to_width("POST", 14) << pad_to_width("AREA", 22) << "SHIFT\n";
  for (const auto& g : gaps) {
    std::cout << pad_to_width(short_time(g.from), 18) << pad_to_width(short_time(g.to), 18)
              << pad_to_width(std::to_string(g.missing), 9) << pad_to_width(truncate_to_width(display_safe(g.post), 13), 14)
              << pad_to_width(truncate_to_width(display_safe(g.area), 21), 22) << display_safe(g.shift) << '\n';
  }
  std::cout << "times in " << zone().name() << '\n';
  return kOk;
}

}  // namespace muster::client
