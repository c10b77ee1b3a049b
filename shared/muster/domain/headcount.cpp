#include "muster/domain/headcount.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "muster/domain/fields.hpp"
#include "muster/domain/limits.hpp"
#include "muster/domain/policy.hpp"
#include "muster/domain/task.hpp"

namespace muster::domain {

namespace {

constexpr std::int64_t kMaxPeople = 50;

constexpr std::array<std::string_view, 4> kStatusNames{"done", "absent", "exempt", "moved"};
constexpr std::array<std::string_view, 3> kHeadcountOps{"headcount.open", "headcount.mark", "headcount.close"};

std::optional<std::string> string_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// A whole number in [lo, hi]; unsigned JSON numbers are read as such, so 2^64-1 does
// not wrap to -1.
std::optional<std::int64_t> whole_number(const Json& v, std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer()) return std::nullopt;
  std::int64_t n = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) return std::nullopt;
    n = static_cast<std::int64_t>(u);
  } else {
    n = v.get<std::int64_t>();
  }
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

bool may_mark(const Actor& a) { return a.roles.has(Role::volunteer) || is_manager(a); }

// The households `round` expects that nobody has marked, by building then id.
std::vector<const Household*> missing_households(const HeadcountBooks& books, const Round& round) {
  std::vector<const Household*> out;
  for (const auto& [id, h] : books.households) {
    if (!round_expects(round, h)) continue;
    if (books.marks.count(mark_key(round.id, id))) continue;
    out.push_back(&h);
  }
  std::sort(out.begin(), out.end(), [](const Household* a, const Household* b) {
    return a->area != b->area ? a->area < b->area : a->id < b->id;
  });
  return out;
}

// The marks of one round: keys "<round>/<household>" sort together.
template <class Book, class F>
void for_marks_of(Book& marks, const std::string& round, F f) {
  const std::string prefix = round + "/";
  for (auto it = marks.lower_bound(prefix); it != marks.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    f(it->second);
  }
}

void retally(HeadcountBooks& books, Round& round) {
  round.tallies.clear();
  for_marks_of(books.marks, round.id, [&](const Mark& m) {
    Round::Tally& t = round.tallies[m.area];
    ++t.counted;
    t.people += m.latest.people;
  });
}

Result<std::vector<Draft>> open_round(const HeadcountBooks& books, const Op& op, const Context& ctx) {
  Fields f(op.body);
  auto area = f.required_string("area", kMaxAreaBytes);
  auto title = f.required_string("title", kMaxTitleBytes);
  auto closes = f.optional_string("closes", kMaxTimeBytes);
  if (!f.ok()) return f.error();
  if (!valid_area_path(*area)) return make_error(Errc::invalid, "invalid area path '" + *area + "'");
  if (title->empty()) return make_error(Errc::invalid, "title must not be empty");
  std::string closes_text;
  if (closes) {
    auto t = parse_utc(*closes);
    if (!t) return make_error(Errc::invalid, "closes is not a valid time: '" + *closes + "'");
    closes_text = format_utc(*t);
  }
  if (!manages(ctx.actor, *area)) {
    return make_error(Errc::forbidden, ctx.actor.name + " may not open head-counts in " + *area);
  }
  if (auto exists = ctx.directory.area_exists(*area); exists && !*exists) {
    return make_error(Errc::invalid, "unknown area '" + *area + "'");
  }
  if (books.rounds.count(op.id.str())) return make_error(Errc::conflict, "round " + op.id.str() + " already exists");

  Round r;
  r.id = op.id.str();
  r.area = *area;
  r.title = *title;
  r.closes = closes_text;
  r.opened_by = ctx.actor.name;
  r.opened_at = format_utc(ctx.now);
  for (const auto& [id, h] : books.households) {
    if (round_expects(r, h)) ++r.expected[h.area];
  }
  if (r.expected.empty()) return make_error(Errc::invalid, "no household is registered in " + *area);
  return std::vector<Draft>{Draft{area_scope(r.area), "headcount.opened", to_json(r)}};
}

// The round named by the op, if the actor can see it.
Result<const Round*> visible_round(const HeadcountBooks& books, const std::string& id, const Actor& actor) {
  auto it = books.rounds.find(id);
  if (it == books.rounds.end() || !can_see(actor, area_scope(it->second.area))) {
    return make_error(Errc::not_found, "no round " + id);
  }
  return &it->second;
}

Error closed_conflict(const Round& r) {
  return make_error(Errc::conflict, "round " + r.id + " was closed at " + r.closed_at + " by " + r.closed_by);
}

Result<std::vector<Draft>> mark_household(const HeadcountBooks& books, const Op& op, const Context& ctx) {
  Fields f(op.body);
  auto round_id = f.required_string("round", kMaxIdBytes);
  auto household_id = f.required_string("household", kMaxIdBytes);
  auto status_text = f.required_string("status", kMaxWordBytes);
  if (!f.ok()) return f.error();
  auto status = mark_status_from_string(*status_text);
  if (!status) return make_error(Errc::invalid, "status must be done, absent, exempt or moved");
  std::int64_t people = 0;
  if (auto p = op.body.find("people"); p != op.body.end() && !p->is_null()) {
    auto n = whole_number(*p, 0, kMaxPeople);
    if (!n) return make_error(Errc::invalid, "people must be a whole number from 0 to " + std::to_string(kMaxPeople));
    people = *n;
  }
  if (!valid_household_id(*household_id)) {
    return make_error(Errc::invalid, "invalid household id '" + *household_id + "'");
  }

  auto round = visible_round(books, *round_id, ctx.actor);
  if (!round) return round.error();
  const Round& r = **round;
  auto hit = books.households.find(*household_id);
  if (hit == books.households.end() || !can_see(ctx.actor, area_scope(hit->second.area))) {
    return make_error(Errc::not_found, "no household " + *household_id);
  }
  const Household& h = hit->second;
  if (!may_mark(ctx.actor)) return make_error(Errc::forbidden, "only volunteers and leads mark households");
  if (!round_expects(r, h)) {
    if (!area_contains(r.area, h.area)) {
      return make_error(Errc::invalid, "household " + h.id + " (" + h.area + ") is not in the round's area " + r.area);
    }
    return make_error(Errc::invalid, "household " + h.id + " was registered after the round opened");
  }
  if (r.closed) return closed_conflict(r);
  Json body{{"round", r.id},
            {"household", h.id},
            {"area", h.area},
            {"status", to_string(*status)},
            {"people", people}};
  return std::vector<Draft>{Draft{area_scope(h.area), "headcount.marked", std::move(body)}};
}

Result<std::vector<Draft>> close_round(const HeadcountBooks& books, const Op& op, const Context& ctx) {
  Fields f(op.body);
  auto round_id = f.required_string("round", kMaxIdBytes);
  if (!f.ok()) return f.error();
  auto round = visible_round(books, *round_id, ctx.actor);
  if (!round) return round.error();
  const Round& r = **round;
  if (!manages(ctx.actor, r.area)) {
    return make_error(Errc::forbidden, ctx.actor.name + " may not close head-counts in " + r.area);
  }
  if (r.closed) return closed_conflict(r);

  const auto missing = missing_households(books, r);
  std::vector<Draft> out;
  out.reserve(missing.size() + 1);
  out.push_back(Draft{area_scope(r.area), "headcount.closed",
                      Json{{"round", r.id}, {"missing", static_cast<std::int64_t>(missing.size())}}});
  // A doorknock task per household nobody reached, dispatched like any other task of
  // its kind (offer dispatch has nobody to name in advance, so never `direct`).
  Dispatch dispatch = ctx.policy ? ctx.policy->for_kind("doorknock").dispatch : Dispatch::claim;
  if (dispatch == Dispatch::direct) dispatch = Dispatch::claim;
  const std::string now = format_utc(ctx.now);
  for (const Household* h : missing) {
    Task t;
    t.id = TaskId(op.id.str() + "-" + h->id);
    t.kind = "doorknock";
    t.title = "上门核查 " + (h->address.empty() ? h->id : h->address);
    t.area = h->area;
    t.creator = ctx.actor.name;
    t.dispatch = dispatch;
    t.details = {{"household", h->id}, {"address", h->address}, {"round", r.id}};
    t.created_at = t.updated_at = t.since = now;
    t.updated_by = ctx.actor.name;
    out.push_back(Draft{area_scope(t.area), "task.created", to_json(t)});
  }
  return out;
}

}  // namespace

bool valid_household_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxHouseholdIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

Json to_json(const Household& h) {
  return Json{{"id", h.id},
              {"area", h.area},
              {"address", h.address},
              {"members", h.members},
              {"registered_at", h.registered_at}};
}

std::optional<Household> household_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Household h;
    h.id = j.at("id").get<std::string>();
    h.area = j.at("area").get<std::string>();
    h.address = j.value("address", "");
    auto members = whole_number(j.value("members", Json(0)), 0, 1000);
    if (!members || !valid_household_id(h.id) || !valid_area_path(h.area)) return std::nullopt;
    h.members = static_cast<int>(*members);
    h.registered_at = j.value("registered_at", "");
    return h;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::string_view to_string(MarkStatus s) { return kStatusNames[static_cast<std::size_t>(s)]; }

std::optional<MarkStatus> mark_status_from_string(std::string_view s) {
  for (std::size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == s) return static_cast<MarkStatus>(i);
  }
  return std::nullopt;
}

namespace {

Json entry_json(const MarkEntry& e) {
  return Json{{"status", to_string(e.status)}, {"people", e.people}, {"by", e.by}, {"at", e.at}, {"op", e.op}};
}

std::optional<MarkEntry> entry_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  MarkEntry e;
  auto status = mark_status_from_string(j.value("status", ""));
  auto people = whole_number(j.value("people", Json(0)), 0, kMaxPeople);
  if (!status || !people) return std::nullopt;
  e.status = *status;
  e.people = static_cast<int>(*people);
  e.by = j.value("by", "");
  e.at = j.value("at", "");
  e.op = OpId(j.value("op", ""));
  return e;
}

}  // namespace

Json to_json(const Mark& m) {
  Json history = Json::array();
  for (const MarkEntry& e : m.history) history.push_back(entry_json(e));
  return Json{{"round", m.round},
              {"household", m.household},
              {"area", m.area},
              {"status", to_string(m.latest.status)},
              {"people", m.latest.people},
              {"by", m.latest.by},
              {"at", m.latest.at},
              {"history", std::move(history)}};
}

std::optional<Mark> mark_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Mark m;
    m.round = j.at("round").get<std::string>();
    m.household = j.at("household").get<std::string>();
    m.area = j.at("area").get<std::string>();
    for (const Json& e : j.value("history", Json::array())) {
      auto entry = entry_from_json(e);
      if (!entry) return std::nullopt;
      m.history.push_back(std::move(*entry));
    }
    if (m.history.empty()) return std::nullopt;
    m.latest = m.history.back();
    return m;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::string mark_key(std::string_view round, std::string_view household) {
  return std::string(round) + "/" + std::string(household);
}

Json to_json(const Round& r) {
  return Json{{"id", r.id},
              {"area", r.area},
              {"title", r.title},
              {"closes", r.closes},
              {"opened_by", r.opened_by},
              {"opened_at", r.opened_at},
              {"closed", r.closed},
              {"closed_by", r.closed_by},
              {"closed_at", r.closed_at},
              {"expected", r.expected}};
}

bool round_expects(const Round& r, const Household& h) {
  if (!area_contains(r.area, h.area)) return false;
  if (h.registered_at.empty()) return true;  // known before registration times were kept
  auto registered = parse_utc(h.registered_at);
  auto opened = parse_utc(r.opened_at);
  return !registered || !opened || *registered <= *opened;
}

std::optional<Round> round_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Round r;
    r.id = j.at("id").get<std::string>();
    r.area = j.at("area").get<std::string>();
    r.title = j.value("title", "");
    r.closes = j.value("closes", "");
    r.opened_by = j.value("opened_by", "");
    r.opened_at = j.value("opened_at", "");
    r.closed = j.value("closed", false);
    r.closed_by = j.value("closed_by", "");
    r.closed_at = j.value("closed_at", "");
    const Json expected = j.value("expected", Json::object());
    if (!expected.is_object()) return std::nullopt;
    for (const auto& [area, n] : expected.items()) {
      auto count = whole_number(n, 0, 100'000'000);
      if (!count) return std::nullopt;
      r.expected[area] = static_cast<int>(*count);
    }
    return r;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

bool is_headcount_op(std::string_view kind) {
  return std::find(kHeadcountOps.begin(), kHeadcountOps.end(), kind) != kHeadcountOps.end();
}

Result<std::vector<Draft>> apply_headcount_op(const HeadcountBooks& books, const Op& op, const Context& ctx) {
  if (!op.body.is_object()) return make_error(Errc::invalid, "op body must be an object");
  if (op.kind == "headcount.open") return open_round(books, op, ctx);
  if (op.kind == "headcount.mark") return mark_household(books, op, ctx);
  if (op.kind == "headcount.close") return close_round(books, op, ctx);
  return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
}

std::pair<std::string, std::string> fold_headcount_event(HeadcountBooks& books, const Event& event) {
  if (event.kind == "household.registered" || event.kind == "household.updated") {
    auto h = household_from_json(event.body);
    if (!h) return {};
    auto& slot = books.households[h->id];
    if (h->registered_at.empty()) h->registered_at = slot.registered_at;
    slot = std::move(*h);
    return {"household", slot.id};
  }
  if (event.kind == "headcount.opened") {
    auto r = round_from_json(event.body);
    if (!r) return {};
    const std::string id = r->id;
    auto [it, fresh] = books.rounds.emplace(id, std::move(*r));
    if (fresh) retally(books, it->second);  // marks that arrived first count now
    return {"round", id};
  }
  if (event.kind == "headcount.closed") {
    auto id = string_field(event.body, "round");
    if (!id) return {};
    auto it = books.rounds.find(*id);
    if (it == books.rounds.end()) return {};
    Round& r = it->second;
    if (!r.closed) {
      r.closed = true;
      r.closed_by = event.actor;
      r.closed_at = event.at;
    }
    return {"round", r.id};
  }
  if (event.kind != "headcount.marked") return {};

  auto round_id = string_field(event.body, "round");
  auto household = string_field(event.body, "household");
  auto area = string_field(event.body, "area");
  auto status = mark_status_from_string(string_field(event.body, "status").value_or(""));
  auto people = whole_number(event.body.value("people", Json(0)), 0, kMaxPeople);
  if (!round_id || !household || !area || !status || !people) return {};
  const std::string key = mark_key(*round_id, *household);
  MarkEntry entry{*status, static_cast<int>(*people), event.actor, event.at, event.op};

  auto [it, fresh] = books.marks.try_emplace(key);
  Mark& m = it->second;
  if (!fresh && !entry.op.empty()) {
    for (const MarkEntry& e : m.history) {
      if (e.op == entry.op) return {"mark", key};  // this op's mark is already in
    }
  }
  auto r = books.rounds.find(*round_id);
  if (r != books.rounds.end()) {
    auto& tallies = r->second.tallies;
    if (!fresh) {
      Round::Tally& before = tallies[m.area];
      before.people -= m.latest.people;
      --before.counted;
    }
    Round::Tally& now = tallies[*area];
    now.people += entry.people;
    ++now.counted;
  }
  m.round = *round_id;
  m.household = *household;
  m.area = *area;
  m.latest = entry;
  m.history.push_back(std::move(entry));
  return {"mark", key};
}

void rebuild_tallies(HeadcountBooks& books) {
  for (auto& [id, r] : books.rounds) r.tallies.clear();
  for (const auto& [key, m] : books.marks) {
    auto r = books.rounds.find(m.round);
    if (r == books.rounds.end()) continue;
    Round::Tally& t = r->second.tallies[m.area];
    ++t.counted;
    t.people += m.latest.people;
  }
}

Json round_status(const HeadcountBooks& books, const Round& round, bool list_missing, const Actor* viewer) {
  const bool partial = viewer && !manages(*viewer, round.area);
  auto shown = [&](const std::string& area) { return !partial || can_see(*viewer, area_scope(area)); };
  std::map<std::string, std::pair<int, Round::Tally>> buildings;  // area -> expected, tally
  for (const auto& [area, n] : round.expected) {
    if (shown(area)) buildings[area].first = n;
  }
  for (const auto& [area, t] : round.tallies) {
    if (shown(area) && (t.counted != 0 || t.people != 0)) buildings[area].second = t;
  }
  int expected = 0, counted = 0, missing = 0, people = 0;
  Json by_building = Json::array();
  for (const auto& [area, b] : buildings) {
    const int m = std::max(0, b.first - b.second.counted);
    expected += b.first;
    counted += b.second.counted;
    missing += m;
    people += b.second.people;
    by_building.push_back(Json{{"area", area},
                               {"expected", b.first},
                               {"counted", b.second.counted},
                               {"missing", m},
                               {"people", b.second.people}});
  }
  Json out{{"round", round.id},       {"area", round.area},    {"title", round.title},
           {"closed", round.closed},  {"expected", expected},  {"counted", counted},
           {"missing", missing},      {"people", people},      {"by_building", std::move(by_building)}};
  if (partial) out["partial"] = true;
  if (list_missing) {
    Json list = Json::array();
    for (const Household* h : missing_households(books, round)) {
      if (!shown(h->area)) continue;
      list.push_back(Json{{"household", h->id}, {"area", h->area}, {"address", h->address}});
    }
    out["missing_households"] = std::move(list);
  }
  return out;
}

}  // namespace muster::domain
