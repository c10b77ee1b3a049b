// muster headcount …: sampling rounds (SPEC §3 Head-counts, §6). Opening, marking and
// closing are ops like any other (queued offline, decided by the server in arrival
// order); status and list read the local replica, so a volunteer sweeping a building
// without signal still sees its tallies. Only `household` asks the server: phones
// never reach a replica.
#include <fstream>
#include <iostream>
#include <sstream>

#include "muster/base/utf8.hpp"
#include "muster/domain/headcount.hpp"
#include "muster_client/cli.hpp"

namespace muster::client {

namespace domain = muster::domain;
using domain::Json;

namespace {

// "0".."50" -> the number; anything else -> nullopt.
std::optional<int> people_count(const std::string& text) {
  if (text.empty() || text.size() > 2) return std::nullopt;
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n <= 50 ? std::optional<int>(n) : std::nullopt;
}

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

int exit_code_for(Errc code) { return code == Errc::invalid ? kUsage : kRejected; }

void print_status_text(const Json& s, bool by_building, bool list_missing) {
  std::cout << "round " << display_safe(s["round"].get<std::string>()) << "  "
            << display_safe(s["title"].get<std::string>()) << "  " << display_safe(s["area"].get<std::string>()) << "  " << (s["closed"].get<bool>() ? "closed" : "open") << '\n'
            << "expected " << s["expected"] << ", counted " << s["counted"] << ", missing " << s["missing"]
            << ", people " << s["people"] << '\n';
  if (by_building) {
    std::cout << pad_to_width("BUILDING", 30) << pad_to_width("EXPECTED", 10) << pad_to_width("COUNTED", 9)
              << pad_to_width("MISSING", 9) << "PEOPLE\n";
    for (const auto& b : s["by_building"]) {
      std::cout << pad_to_width(display_safe(b["area"].get<std::string>()), 30) << pad_to_width(b["expected"].dump(), 10)
                << pad_to_width(b["counted"].dump(), 9) << pad_to_width(b["missing"].dump(), 9) << b["people"]
                << '\n';
    }
  }
  if (list_missing) {
    const auto& missing = s["missing_households"];
    if (missing.empty()) {
      std::cout << "no household is missing\n";
    } else {
      std::cout << "missing households:\n";
      for (const auto& m : missing) {
        std::cout << "  " << pad_to_width(display_safe(m["household"].get<std::string>()), 14)
                  << pad_to_width(display_safe(m["area"].get<std::string>()), 30)
                  << display_safe(m["address"].get<std::string>()) << '\n';
      }
    }
  }
  if (s.value("partial", false)) std::cout << "(only the buildings you can see)\n";
}

}  // namespace

int Cli::headcount() {
  const std::string verb = a_.word(1);
  if (verb == "open") {
    auto area = a_.get("area");
    auto title = a_.get("title");
    auto closes = time_option("closes");
    if (!closes) return usage(closes.error().message);
    if (!area || !title) return usage("headcount open needs --area and --title");
    // The round expects the households this replica knows under the area: none usually
    // means the registry has not reached it yet.
    const auto view = store().view();
    bool known = false;
    for (const auto& [id, h] : view.headcount.households) known = known || domain::area_contains(*area, h.area);
    if (!known) {
      return fail(kUsage, "no household of " + *area + " is known here: run muster sync (the admin imports the "
                          "registry with musterd import households)");
    }
    Json body{{"area", *area}, {"title", *title}};
    if (*closes) body["closes"] = format_utc(**closes);
    return submit(make_op("headcount.open", body));
  }
  if (verb == "mark") return headcount_mark();
  if (verb == "status") return headcount_status();
  if (verb == "list") return headcount_list();
  if (verb == "household") return headcount_household();
  if (verb == "close") {
    auto round = resolve(a_.word(2), "round");
    if (!round) return fail(exit_code_for(round.error().code), round.error().message);
    return submit(make_op("headcount.close", Json{{"round", *round}}));
  }
  return usage(verb.empty() ? "headcount needs a command" : "unknown headcount command '" + verb + "'");
}

int Cli::headcount_mark() {
  auto round = resolve(a_.word(2), "round");
  if (!round) return fail(exit_code_for(round.error().code), round.error().message);
  if (auto file = a_.get("file")) {
    if (!a_.word(3).empty()) return usage("headcount mark takes HOUSEHOLD STATUS or --file, not both");
    return headcount_mark_file(*round, *file);
  }
  const std::string household = a_.word(3);
  const std::string status = a_.word(4);
  if (household.empty() || status.empty()) {
    return usage("headcount mark needs ROUND HOUSEHOLD done|absent|exempt|moved (or ROUND --file F)");
  }
  if (!domain::mark_status_from_string(status)) return usage("the status is done, absent, exempt or moved");
  Json body{{"round", *round}, {"household", household}, {"status", status}};
  if (auto p = a_.get("people")) {
    auto n = people_count(*p);
    if (!n) return usage("--people takes a whole number from 0 to 50");
    body["people"] = *n;
  }
  return submit(make_op("headcount.mark", body));
}

// A sweep's marks: every line is checked (syntax, then against the local view as a
// single mark would be) before anything is queued, so a typo on line 40 does not leave
// 39 marks sent and the rest forgotten. A bad line (malformed, or a household the round
// does not have) is a usage error naming its line; a closed round or a user who may not
// mark is refused as for a single mark.
int Cli::headcount_mark_file(const std::string& round, const std::string& file) {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  std::ifstream disk;
  if (file != "-") {
    disk.open(file);
    if (!disk) return usage("cannot read " + file);
  }
  std::istream& in = file == "-" ? std::cin : disk;
  const std::string name = file == "-" ? "stdin" : file;

  auto view = store().view();
  const domain::UnknownDirectory unknown;
  const domain::Actor actor = id->actor();
  const UnixMs now = SystemClock().now_ms();
  std::vector<domain::Op> ops;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string where = name + ":" + std::to_string(n) + ": ";
    if (!valid_utf8(line)) return fail(kUsage, where + "not UTF-8");
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    auto words = words_of(line);
    if (words.empty()) continue;
    if (words.size() > 3 || words.size() < 2) {
      return fail(kUsage, where + "expected HOUSEHOLD STATUS [PEOPLE], found " + std::to_string(words.size()) + " words");
    }
    if (!domain::valid_household_id(words[0])) return fail(kUsage, where + "invalid household id '" + words[0] + "'");
    if (!domain::mark_status_from_string(words[1])) {
      return fail(kUsage, where + "the status is done, absent, exempt or moved, not '" + words[1] + "'");
    }
    Json body{{"round", round}, {"household", words[0]}, {"status", words[1]}};
    if (words.size() == 3) {
      auto people = people_count(words[2]);
      if (!people) return fail(kUsage, where + "people is a whole number from 0 to 50, not '" + words[2] + "'");
      body["people"] = *people;
    }
    domain::Op op = make_op("headcount.mark", std::move(body));
    auto drafts = domain::apply(view, op, domain::Context{actor, now, unknown});
    if (!drafts) {
      const auto& e = drafts.error();
      std::string hint = e.code == Errc::not_found ? " (run muster sync to refresh)" : "";
      const bool bad_line = e.code == Errc::invalid || e.code == Errc::not_found;
      return fail(bad_line ? kUsage : kRejected, where + std::string(to_string(e.code)) + ": " + e.message + hint);
    }
    ops.push_back(std::move(op));
  }
  if (ops.empty()) return fail(kUsage, name + " has no marks");
  store().enqueue(ops, now);
  if (json_) {
    Json out = Json::array();
    for (const auto& op : ops) {
      out.push_back(Json{{"id", op.id}, {"kind", op.kind}, {"household", op.body["household"]}, {"queued", true}});
    }
    std::cout << display_safe_json(out.dump()) << '\n';
  } else {
    for (const auto& op : ops) std::cout << op.id << " queued\n";
  }
  return kOk;
}

int Cli::headcount_status() {
  auto round_id = resolve(a_.word(2), "round");
  if (!round_id) return fail(exit_code_for(round_id.error().code), round_id.error().message);
  const auto by = a_.get("by");
  if (by && *by != "building") return usage("--by takes building");
  auto id = store().identity();
  auto view = store().view();
  auto it = view.headcount.rounds.find(*round_id);
  if (it == view.headcount.rounds.end()) return fail(kRejected, "no round " + *round_id + " (run muster sync to refresh)");
  std::optional<domain::Actor> viewer;
  if (id) viewer = id->actor();
  const Json s = domain::round_status(view.headcount, it->second, a_.flag("missing"), viewer ? &*viewer : nullptr);
  if (json_) {
    std::cout << display_safe_json(s.dump()) << '\n';
    return kOk;
  }
  print_status_text(s, by.has_value(), a_.flag("missing"));
  return kOk;
}

int Cli::headcount_list() {
  auto id = store().identity();
  std::set<std::string> pending;
  auto view = store().view(&pending);
  std::optional<domain::Actor> viewer;
  if (id) viewer = id->actor();
  Json rows = Json::array();
  for (const auto& [rid, r] : view.headcount.rounds) {
    Json s = domain::round_status(view.headcount, r, false, viewer ? &*viewer : nullptr);
    s.erase("by_building");
    s["opened_by"] = r.opened_by;
    s["opened_at"] = r.opened_at;
    s["closes"] = r.closes;
    s["pending"] = pending.count(rid) > 0;
    rows.push_back(std::move(s));
  }
  if (json_) {
    std::cout << display_safe_json(rows.dump()) << '\n';
    return kOk;
  }
  if (rows.empty()) {
    std::cout << "no rounds\n";
    return kOk;
  }
  std::cout << pad_to_width("ROUND", 28) << pad_to_width("STATE", 8) << pad_to_width("AREA", 24)
            << pad_to_width("COUNTED", 12) << pad_to_width("OPENED", 18) << "TITLE\n";
  for (const auto& s : rows) {
    const std::string rid = s["round"].get<std::string>();
    auto opened = parse_utc(s["opened_at"].get<std::string>());
    std::cout << pad_to_width(display_safe(rid) + (s["pending"].get<bool>() ? "*" : ""), 28)
              << pad_to_width(s["closed"].get<bool>() ? "closed" : "open", 8)
              << pad_to_width(truncate_to_width(display_safe(s["area"].get<std::string>()), 23), 24)
              << pad_to_width(s["counted"].dump() + "/" + s["expected"].dump(), 12)
              << pad_to_width(opened ? short_time(*opened) : "-", 18)
              << truncate_to_width(display_safe(s["title"].get<std::string>()), 40) << '\n';
  }
  if (!pending.empty()) std::cout << "* not yet confirmed by the server (run muster sync)\n";
  return kOk;
}

int Cli::headcount_household() {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  const std::string household = a_.word(2);
  if (household.empty()) return usage("headcount household needs a household ID");
  DriveOptions options;
  options.timeout = timeout(30);
  options.query = protocol::Query{ids_.next(SystemClock().now_ms()), "household.contact", Json{{"household", household}}};
  auto r = drive(connect_, store(), *id, {}, options);
  if (!r.status.ok()) return fail(exit_for(r.status), r.status.error().message);
  if (!r.query_result) return fail(kUnreachable, "the server did not answer");
  const auto& q = *r.query_result;
  if (!q.ok) return fail(kRejected, std::string(to_string(q.error->code)) + ": " + q.error->message);
  if (json_) {
    std::cout << display_safe_json(q.body.dump()) << '\n';
    return kOk;
  }
  for (const char* key : {"household", "area", "address", "members", "phone"}) {
    const auto& v = q.body[key];
    std::cout << pad_to_width(key, 11) << display_safe(v.is_string() ? v.get<std::string>() : v.dump()) << '\n';
  }
  return kOk;
}

}  // namespace muster::client
