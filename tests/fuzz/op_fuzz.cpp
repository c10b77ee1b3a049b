// Ops through the domain reducers (shared/muster/domain/state.hpp), as the server and a
// client decide them, against a small fixed world: areas, a user of every role, a task,
// a notice, a shift, a round over registered households, a hotline call, a message.
//
// The input is up to 16 lines. A line is either one op as JSON,
//   {"kind":"task.claim","body":{"task":"01J00000000000000000000005"},"as":"bob","minutes":5}
// whose id is a fresh ULID, as the server guarantees (the world's own ids are listed at
// base_world()); `as` (optional) names whose success moves the world on, else the first
// actor's in the order of kActors that succeeds; `minutes` (optional) lets time pass
// first; a line without a string `kind` is skipped. Or a line is one event frame as the
// server sends it, folded as a client folds it: the events the server makes on its own
// (task.offered, shift.reminder, hotline.purged, ...) come only this way.
//
// Every op is decided for every actor, with the server's directory, policy and grants
// and with a client's (an unknown directory, no policy, no grants). Promises checked:
// nothing crashes or throws; an error has a message; an accepted op's drafts have a valid
// scope, a kind and an object body, travel the wire (encoded as an event frame and decoded
// again), fold into the state touching an object that a replica can save as JSON and load
// back unchanged, and a task or shift event folded a second time changes nothing more. An
// event frame may touch nothing, but what it touches must save and load back. After every
// line the head-count tallies kept by the fold equal the tallies rebuilt from the marks,
// and every round's status can be made.
//
// MUSTER_FUZZ_TRACE=1 build/fuzz/bin/op_fuzz FILE prints how each actor's op was decided
// (to check that a seed does what it means to).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "../unit/domain/event_numbering.hpp"
#include "fuzz_check.hpp"
#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster/domain/policy.hpp"
#include "muster/domain/state.hpp"
#include "muster/protocol/frame.hpp"

namespace {

using namespace muster::domain;
using muster::UnixMs;

constexpr UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z
constexpr UnixMs kMinute = 60 * 1000;
constexpr std::size_t kMaxLines = 16;

const std::string kYili = "gulou/antai/yili";
const std::string kB1 = "gulou/antai/yili/b1";
const std::string kB3 = "gulou/antai/yili/b3";

const std::vector<Actor> kActors{
    {"root", Roles{Role::admin}, "gulou"},
    {"zhou", Roles{Role::coordinator}, "gulou"},
    {"li", Roles{Role::lead}, "gulou/antai"},
    {"yan", Roles{Role::lead}, kYili},
    {"bob", Roles{Role::volunteer}, kB1},
    {"carol", Roles{Role::volunteer}, kB1},
    {"erin", Roles{Role::volunteer}, kB3},
    {"dave", Roles{Role::volunteer}, "gulou/gaolou"},
    {"hana", Roles{Role::hotline}, kYili},
    {"hu", Roles{Role::hotline, Role::lead}, kYili},
    {"bridge", Roles{Role::plugin}, kYili},
};

class WorldDirectory final : public Directory {
 public:
  std::optional<bool> area_exists(std::string_view path) const override {
    static const std::set<std::string, std::less<>> kAreas{"gulou",  "gulou/antai", kYili, kB1, kB3, "gulou/antai/yili/b5",
                                                           "gulou/gaolou", "gulou/gaolou/g1"};
    return kAreas.count(path) > 0;
  }
  std::optional<std::optional<Actor>> find_user(std::string_view name) const override {
    for (const Actor& a : kActors) {
      if (a.name == name) return std::make_optional(std::make_optional(a));
    }
    return std::make_optional(std::optional<Actor>{});
  }
};

// A ULID from a counter: ids are fresh and ordered, like the clients'.
std::string ulid(std::uint64_t n) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string tail(23, '0');
  for (std::size_t i = tail.size(); i-- > 0 && n > 0; n >>= 5) tail[i] = kAlphabet[n & 31U];
  return "01J" + tail;
}

struct World {
  WorldDirectory directory;
  UnknownDirectory unknown;
  Policy policy = Policy::defaults();
  Grants bridge_grants{{"li", "area:" + kYili}};
  Grants no_grants;
  State state;
  muster_test::EventNumbering numbering;
  std::uint64_t ops = 0;
  UnixMs now = kStart;

  Context server(const Actor& a) const {
    return Context{a, now, directory, &policy, a.name == "bridge" ? &bridge_grants : &no_grants};
  }
  Context client(const Actor& a) const { return Context{a, now, unknown}; }

  std::vector<Event> number(const std::vector<Draft>& drafts, const OpId& op, const std::string& actor) {
    std::vector<Event> out;
    for (const Draft& d : drafts) out.push_back(numbering.number(d, op, actor, now));
    return out;
  }

  // The world's own moves, which must succeed.
  std::string setup(const std::string& who, const std::string& kind, Json body) {
    const Actor& a = *std::find_if(kActors.begin(), kActors.end(), [&](const Actor& x) { return x.name == who; });
    const Op op{OpId(ulid(++ops)), kind, std::move(body)};
    auto r = apply(state, op, server(a));
    FUZZ_CHECK(r.ok(), kind + ": " + r.error().message);
    for (const Event& e : number(*r, op.id, who)) fold(state, e);
    return op.id.str();
  }
  void household(const std::string& id, const std::string& area, const std::string& address, int members) {
    Household h{id, area, address, members, muster::format_utc(now)};
    const Draft d{area_scope(area), "household.registered", to_json(h)};
    for (const Event& e : number({d}, OpId(ulid(++ops)), "musterd")) fold(state, e);
  }
};

// The world's ids (op ids from a counter): households are ops 1-4, then
//   T1 01J00000000000000000000005  errand in yili, open (dispatch claim)
//   T2 01J00000000000000000000006  doorknock in b1, offered to bob (direct)
//   T3 01J00000000000000000000007  generic in b1, claimed by carol (op 8)
//   N  01J00000000000000000000009  urgent notice in yili asking for acknowledgement
//   S  01J0000000000000000000000A  shift in yili from 09:01 to 11:01, 2 seats, bob signed up (op 11)
//   R  01J0000000000000000000000C  round over yili, b1-101 marked by bob (op 13)
//   C  01J0000000000000000000000E  call of risk 4 logged by hana, with a follow-up task C-f
//   M  01J0000000000000000000000F  message from bob to carol
// and the input's ops are 01J0000000000000000000000G, ...H, ...J, ... (Crockford base 32).
// The time starts at 2026-11-23T08:01:00Z.
const World& base_world() {
  static const World world = [] {
    World w;
    w.household("b1-101", kB1, "1栋101", 3);
    w.household("b1-102", kB1, "1栋102", 2);
    w.household("b3-502", kB3, "3栋502", 2);
    w.household("g1-101", "gulou/gaolou/g1", "高楼1栋101", 1);
    w.now += kMinute;
    // T1: an errand anyone may claim; T2: offered to bob; T3: claimed by carol.
    w.setup("yan", "task.create", Json{{"kind", "errand"}, {"title", "代买 白菜2斤"}, {"area", kYili}, {"dispatch", "claim"}});
    w.setup("li", "task.create", Json{{"kind", "doorknock"}, {"title", "上门核查"}, {"area", kB1}, {"assignee", "bob"}});
    const std::string t3 =
        w.setup("yan", "task.create", Json{{"kind", "generic"}, {"title", "搬运物资"}, {"area", kB1}, {"dispatch", "claim"}});
    w.setup("carol", "task.claim", Json{{"task", t3}});
    w.setup("yan", "notice.post", Json{{"area", kYili}, {"text", "核酸检测 明早8点"}, {"priority", "urgent"}, {"ack", true}});
    const std::string shift = w.setup("yan", "shift.add",
                                      Json{{"post", "3栋门岗"},
                                           {"area", kYili},
                                           {"start", muster::format_utc(w.now + 60 * kMinute)},
                                           {"end", muster::format_utc(w.now + 180 * kMinute)},
                                           {"seats", 2}});
    w.setup("bob", "shift.signup", Json{{"shift", shift}});
    const std::string round = w.setup("yan", "headcount.open", Json{{"area", kYili}, {"title", "全员核酸 第1轮"}});
    w.setup("bob", "headcount.mark", Json{{"round", round}, {"household", "b1-101"}, {"status", "done"}, {"people", 3}});
    w.setup("hana", "hotline.log",
            Json{{"started", muster::format_utc(w.now - 30 * kMinute)},
                 {"duration", 25},
                 {"category", "焦虑"},
                 {"risk", 4},
                 {"followup", Json{{"brief", "回访3栋"}}}});
    w.setup("bob", "message.send", Json{{"to", "carol"}, {"text", "我到3栋楼下了"}});
    return w;
  }();
  return world;
}

std::string describe(const Op& op, const Actor& a) { return a.name + " " + op.kind + " " + op.body.dump(); }

// The event as a client receives it: an event frame, decoded. `what()` describes the
// case for a failure report (made only then: it is costly).
template <class What>
Event over_the_wire(const Event& e, const What& what) {
  const std::string frame = muster::protocol::encode_event(e);
  auto decoded = muster::protocol::decode_server_frame(frame);
  FUZZ_CHECK(decoded.ok(), what() + "\n" + frame + "\n" + decoded.error().message);
  const auto* ev = std::get_if<muster::protocol::EventFrame>(&*decoded);
  FUZZ_CHECK(ev != nullptr, what() + "\n" + frame);
  FUZZ_CHECK(muster::protocol::encode_event(ev->event) == frame, what() + "\n" + frame);
  return ev->event;
}

// What the client's replica does with a touched object: its row of the table of kinds
// saves it, then loads it into an empty state, where it must save the same again.
template <class What>
void check_saved(const State& s, const ObjectRef& ref, const What& what) {
  const ObjectKind* kind = find_kind(ref.first);
  FUZZ_CHECK(kind != nullptr, what() + "\ntouches an object of unknown type " + ref.first);
  const std::string& id = ref.second;
  FUZZ_CHECK(!kind->show(s, id).is_null(), what() + "\ntouches a missing " + ref.first + " " + id);
  const Json saved = kind->save(s, id);
  State loaded;
  kind->load(loaded, Json::parse(saved.dump()));
  FUZZ_CHECK(!kind->show(loaded, id).is_null(), what() + "\ndoes not load: " + saved.dump());
  FUZZ_CHECK(kind->save(loaded, id) == saved,
             what() + "\nsaved: " + saved.dump() + "\nloaded: " + kind->save(loaded, id).dump());
}

// Folds an accepted op's events into a copy of the state, checking each.
void check_accepted(const World& w, const Op& op, const Actor& a, const std::vector<Draft>& drafts) {
  struct {
    State state;
    muster_test::EventNumbering numbering;
  } copy{w.state, w.numbering};
  for (const Draft& d : drafts) {
    FUZZ_CHECK(valid_scope(d.scope), describe(op, a) + "\nscope: " + d.scope);
    FUZZ_CHECK(!d.kind.empty(), describe(op, a));
    FUZZ_CHECK(d.body.is_object(), describe(op, a) + "\n" + d.kind + " " + d.body.dump());
  }
  for (const Draft& d : drafts) {
    const Event sent = copy.numbering.number(d, op.id, a.name, w.now);
    auto what = [&] { return describe(op, a) + "\n" + sent.kind + " " + sent.body.dump(); };
    const Event e = over_the_wire(sent, what);
    const ObjectRef ref = fold(copy.state, e);
    FUZZ_CHECK(!ref.first.empty() && !ref.second.empty(), what() + "\nfolds nothing");
    check_saved(copy.state, ref, what);
    if (ref.first == "task") {
      const Json once = to_json(copy.state.tasks.at(muster::domain::TaskId(ref.second)));
      fold(copy.state, e);
      FUZZ_CHECK(to_json(copy.state.tasks.at(muster::domain::TaskId(ref.second))) == once, describe(op, a) + "\nfolded twice: " + e.kind);
    } else if (ref.first == "shift") {
      const Json once = to_json(copy.state.shifts.at(ref.second));
      fold(copy.state, e);
      FUZZ_CHECK(to_json(copy.state.shifts.at(ref.second)) == once, describe(op, a) + "\nfolded twice: " + e.kind);
    }
  }
}

void check_headcount(const State& state) {
  HeadcountBooks rebuilt = state.headcount;
  rebuild_tallies(rebuilt);
  for (const auto& [id, round] : state.headcount.rounds) {
    const auto& again = rebuilt.rounds.at(id).tallies;
    for (const auto& [area, tally] : round.tallies) {
      auto it = again.find(area);
      const bool zero = tally.counted == 0 && tally.people == 0;
      FUZZ_CHECK((it == again.end() && zero) ||
                     (it != again.end() && it->second.counted == tally.counted && it->second.people == tally.people),
                 "round " + id + " " + area + ": kept " + std::to_string(tally.counted) + "/" +
                     std::to_string(tally.people));
    }
    for (const auto& [area, tally] : again) {
      const bool zero = tally.counted == 0 && tally.people == 0;
      FUZZ_CHECK(zero || round.tallies.count(area) > 0, "round " + id + " " + area + ": not kept");
    }
    const Json status = round_status(state.headcount, round, true);
    FUZZ_CHECK(status.is_object(), id);
    for (const Actor& a : kActors) round_status(state.headcount, round, false, &a);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool trace = std::getenv("MUSTER_FUZZ_TRACE") != nullptr;
  World w = base_world();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::size_t lines = 0; !input.empty() && lines < kMaxLines; ++lines) {
    const std::size_t nl = input.find('\n');
    const std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);

    const Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    if (j.value("t", "") == "event") {
      auto frame = muster::protocol::decode_server_frame(line);
      const auto* ev = frame ? std::get_if<muster::protocol::EventFrame>(&*frame) : nullptr;
      if (!ev) continue;
      const ObjectRef ref = fold(w.state, ev->event);
      if (trace) std::fprintf(stderr, "event %s -> %s %s\n", ev->event.kind.c_str(), ref.first.c_str(), ref.second.c_str());
      if (!ref.first.empty()) check_saved(w.state, ref, [&] { return "event " + std::string(line); });
      check_headcount(w.state);
      continue;
    }
    const auto kind = j.find("kind");
    if (kind == j.end() || !kind->is_string()) continue;
    const auto minutes = j.find("minutes");
    if (minutes != j.end() && minutes->is_number_unsigned()) {
      w.now += static_cast<UnixMs>(std::min<std::uint64_t>(minutes->get<std::uint64_t>(), 60 * 24 * 30)) * kMinute;
    }
    const auto as = j.find("as");
    const std::string chosen = as != j.end() && as->is_string() ? as->get<std::string>() : std::string();
    const auto body = j.find("body");
    const Op op{OpId(ulid(++w.ops)), kind->get<std::string>(), body == j.end() ? Json::object() : *body};

    const Actor* mover = nullptr;
    std::vector<Draft> moves;
    for (const Actor& a : kActors) {
      for (bool on_server : {true, false}) {
        auto r = apply(w.state, op, on_server ? w.server(a) : w.client(a));
        if (trace && on_server) {
          std::fprintf(stderr, "%s %s %s: %s\n", op.id.str().c_str(), a.name.c_str(), op.kind.c_str(),
                       r ? "ok" : (std::string(muster::to_string(r.error().code)) + " " + r.error().message).c_str());
        }
        if (!r) {
          FUZZ_CHECK(!r.error().message.empty(), describe(op, a));
          continue;
        }
        check_accepted(w, op, a, *r);
        if (on_server && !mover && (chosen.empty() || chosen == a.name)) {
          mover = &a;
          moves = std::move(*r);
        }
      }
    }
    if (trace) std::fprintf(stderr, "-> %s\n", mover ? mover->name.c_str() : "no change");
    if (mover) {
      for (const Event& e : w.number(moves, op.id, mover->name)) fold(w.state, e);
    }
    check_headcount(w.state);
  }
  return 0;
}
