// The table of object kinds (muster/domain/kinds.hpp): every op kind the protocol lists
// is owned by exactly one row, and every kind's objects survive the client store's
// save and load. A new kind that misses a row, or a row whose save and load disagree,
// fails here.
#include "muster/domain/kinds.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "event_numbering.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/state.hpp"

using namespace muster::domain;

namespace {

constexpr muster::UnixMs kHour = 60 * 60 * 1000;

// The op kinds of docs/protocol.md's "Op kinds" table (up to the next heading): the
// backticked names in the first column of each row ("| `task.accept` / `task.decline` | ...").
std::vector<std::string> documented_ops() {
  std::ifstream in(std::string(MUSTER_SOURCE_DIR) + "/docs/protocol.md");
  REQUIRE(in.good());
  std::vector<std::string> out;
  std::string line;
  bool in_table = false;
  const std::regex name("`([a-z_]+\\.[a-z_]+)`");
  while (std::getline(in, line)) {
    if (line.rfind('#', 0) == 0) in_table = line == "## Op kinds and the events they produce";
    if (!in_table || line.rfind("| `", 0) != 0) continue;
    const std::string first = line.substr(1, line.find('|', 1) - 1);
    for (std::sregex_iterator it(first.begin(), first.end(), name), end; it != end; ++it) out.push_back((*it)[1]);
  }
  return out;
}

// One object of every kind, made by the reducers as the server would.
struct World {
  muster::UnixMs now = muster::SystemClock().now_ms();
  State state;
  muster_test::EventNumbering numbering;
  UnknownDirectory directory;
  Actor admin{"zhou", Roles{Role::admin, Role::hotline}, "gulou"};
  int ops = 0;

  std::string run(const std::string& kind, Json body) {
    const Op op{OpId("01JDKNDS" + std::to_string(100000000000000000LL + ++ops)), kind, std::move(body)};
    auto r = apply(state, op, Context{admin, now, directory});
    REQUIRE_MESSAGE(r.ok(), kind);
    for (const Draft& d : *r) fold(state, numbering.number(d, op.id, admin.name, now));
    return op.id.str();
  }
};

}  // namespace

TEST_CASE("every op kind of docs/protocol.md is owned by exactly one row of the table") {
  const auto documented = documented_ops();
  CHECK(documented.size() >= 20);
  for (const auto& op : documented) {
    int owners = 0;
    for (const auto& k : kinds()) owners += static_cast<int>(std::count(k.ops.begin(), k.ops.end(), op));
    CHECK_MESSAGE(owners == 1, op);
    CHECK(is_known_op(op));
  }
  // ... and the table owns nothing the protocol does not document.
  for (const auto& k : kinds()) {
    for (auto op : k.ops) CHECK_MESSAGE(std::count(documented.begin(), documented.end(), op) == 1, op);
  }
  CHECK_FALSE(is_known_op("task.explode"));
  CHECK(kind_of_op("task.claim") == find_kind("task"));
}

TEST_CASE("the rows have distinct names, and every event prefix finds its row") {
  std::set<std::string_view> names;
  for (const auto& k : kinds()) CHECK(names.insert(k.name).second);
  CHECK(names == std::set<std::string_view>{"task", "notice", "message", "shift", "household", "round", "mark", "call"});
  CHECK(kind_of_event("task.claimed")->name == "task");
  CHECK(kind_of_event("headcount.marked")->name == "mark");
  CHECK(kind_of_event("headcount.opened")->name == "round");
  CHECK(kind_of_event("household.registered")->name == "household");
  CHECK(kind_of_event("hotline.logged")->name == "call");
  CHECK(kind_of_event("weather.changed") == nullptr);
}

TEST_CASE("every kind's objects round-trip through the client store's save and load") {
  World w;
  const std::string area = "gulou/antai/yili";
  const std::string building = area + "/b3";
  w.run("task.create", Json{{"kind", "errand"}, {"title", "代买 白菜2斤"}, {"area", area}, {"dispatch", "claim"}});
  const auto notice = w.run("notice.post", Json{{"area", area}, {"text", "明早7点核酸采样"}, {"ack", true}});
  w.run("notice.ack", Json{{"notice", notice}});
  w.run("message.send", Json{{"to", "area:" + area}, {"text", "大家好"}});
  w.run("shift.add", Json{{"post", "东门"}, {"area", area}, {"start", muster::format_utc(w.now + kHour)},
                          {"end", muster::format_utc(w.now + 3 * kHour)}, {"seats", 2}});
  const Household h{"b3-502", building, "3栋502", 3, muster::format_utc(w.now)};
  fold(w.state, w.numbering.number(Draft{"area:" + building, "household.registered", to_json(h)}, "01JDKNDSTICK", "musterd",
                                   w.now));
  const auto round = w.run("headcount.open", Json{{"area", area}, {"title", "第一轮"}});
  w.run("headcount.mark", Json{{"round", round}, {"household", "b3-502"}, {"status", "done"}, {"people", 3}});
  w.run("hotline.log", Json{{"started", muster::format_utc(w.now - kHour)}, {"duration", 20}, {"category", "焦虑"},
                            {"risk", 1}});

  for (const auto& k : kinds()) {
    CAPTURE(k.name);
    const auto ids = k.ids(w.state);
    REQUIRE(ids.size() == 1);
    const Json record = k.save(w.state, ids[0]);
    CHECK(k.show(w.state, ids[0]).is_object());
    CHECK(k.show(w.state, "no-such-id").is_null());
    State loaded;
    k.load(loaded, Json::parse(record.dump()));
    REQUIRE(k.ids(loaded) == ids);
    CHECK(k.save(loaded, ids[0]) == record);
    State untouched;
    k.load(untouched, Json::parse("[1,2]"));  // a record it cannot read changes nothing
    CHECK(k.ids(untouched).empty());
  }
}
