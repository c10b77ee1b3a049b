// The household registry on the server: directory.db's households table (written by
// `musterd import households`), published by the Engine's tick as household.* events
// without phones, and the phone told only to those who manage the household's area
// (query household.contact). Then a round through the Engine: marks, close, and the
// doorknock tasks dispatched by the policy.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "musterd/core/household_csv.hpp"

using namespace engine_fixture;
using musterd::HouseholdRecord;

namespace {

const std::string kB1 = "gulou/antai/yili/b1";
const std::string kB3 = "gulou/antai/yili/b3";

HouseholdRecord hh(const std::string& id, const std::string& area, const std::string& address, int members,
                   const std::string& phone = "") {
  return HouseholdRecord{id, area, address, members, phone, ""};
}

std::vector<HouseholdRecord> registry() {
  return {hh("b1-101", kB1, "1栋101", 3, "13800000101"), hh("b1-102", kB1, "1栋102", 2, "13800000102"),
          hh("b3-502", kB3, "3栋502", 2, "13800000502")};
}

// Imports into directory.db and hands the Engine the new snapshot, as the server does
// when the file changes.
musterd::HouseholdImport import(Fixture& f, const std::vector<HouseholdRecord>& rows, bool with_phone = true) {
  auto r = f.directory.import_households(rows, with_phone);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  f.engine->set_directory(f.directory.snapshot());
  return *r;
}

Batch tick(Fixture& f) {
  auto r = f.engine->tick();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  return std::move(*r);
}

std::vector<std::string> kinds(const Batch& b) {
  std::vector<std::string> out;
  for (const auto& d : b.events) out.push_back(d.event.kind + " " + d.event.scope);
  return out;
}

protocol::QueryResult contact(Fixture& f, const std::string& user, const std::string& household) {
  return f.engine->query(user, protocol::Query{"q", "household.contact", Json{{"household", household}}});
}

}  // namespace

TEST_CASE("import: added, updated and unchanged by household id, in one transaction, with the areas") {
  Fixture f;
  auto first = import(f, registry());
  CHECK(first.added == 3);
  CHECK(first.updated == 0);
  CHECK(first.unchanged == 0);
  auto areas = f.directory.areas();
  CHECK(std::find(areas.begin(), areas.end(), kB1) != areas.end());
  CHECK(std::find(areas.begin(), areas.end(), kB3) != areas.end());

  auto rows = registry();
  rows[1].members = 4;                              // changed
  rows.push_back(hh("b3-601", kB3, "3栋601", 1));  // new
  auto second = import(f, rows);
  CHECK(second.added == 1);
  CHECK(second.updated == 1);
  CHECK(second.unchanged == 2);
  auto stored = f.directory.households();
  REQUIRE(stored.size() == 4);
  CHECK(stored[1].id == "b1-102");
  CHECK(stored[1].members == 4);
  CHECK_FALSE(stored[1].updated.empty());

  // A file without the phone column keeps the phones.
  auto no_phones = registry();
  for (auto& r : no_phones) r.phone.clear();
  no_phones[1].members = 4;
  auto third = import(f, no_phones, false);
  CHECK(third.unchanged == 3);
  CHECK(f.directory.households()[0].phone == "13800000101");
  // With the column, an empty phone clears it.
  auto fourth = import(f, no_phones, true);
  CHECK(fourth.updated == 3);
  CHECK(f.directory.households()[0].phone.empty());

  // A bad record writes nothing at all.
  auto bad = registry();
  bad[0].members = 9;
  bad.push_back(hh("bad id", kB3, "x", 1));
  auto refused = f.directory.import_households(bad, true);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message == "invalid household id 'bad id'");
  CHECK(f.directory.households()[0].members == 3);
  CHECK(f.directory.households().size() == 4);
}

TEST_CASE("the tick publishes the registry's differences, never a phone, once") {
  Fixture f;
  tick(f);  // the fixture's own snapshot: nothing registered yet
  import(f, registry());
  f.clock.advance(1000);
  Batch b = tick(f);
  CHECK(kinds(b) == std::vector<std::string>{"household.registered area:" + kB1, "household.registered area:" + kB1,
                                             "household.registered area:" + kB3});
  CHECK(b.events[0].event.actor == "musterd");
  CHECK(b.events[0].event.body == Json{{"id", "b1-101"},
                                       {"area", kB1},
                                       {"address", "1栋101"},
                                       {"members", 3},
                                       {"registered_at", "2026-11-23T08:00:01Z"}});
  for (const auto& d : b.events) CHECK(d.frame.find("1380000") == std::string::npos);
  CHECK(f.engine->state().headcount.households.size() == 3);
  CHECK(tick(f).events.empty());  // nothing changed since

  // A directory change that is not about households publishes nothing.
  f.add("fang", Roles{Role::volunteer}, kB3);
  f.engine->set_directory(f.directory.snapshot());
  CHECK(tick(f).events.empty());

  // An update, a phone-only change (nothing to publish) and a move between buildings.
  auto rows = registry();
  rows[0].members = 5;
  rows[1].phone = "13999999999";
  rows[2].area = kB1;
  rows[2].address = "1栋502";
  import(f, rows);
  f.clock.advance(60'000);
  b = tick(f);
  CHECK(kinds(b) == std::vector<std::string>{"household.updated area:" + kB1, "household.updated area:" + kB1,
                                             "household.updated area:" + kB3});
  CHECK(b.events[0].event.body["members"] == 5);
  CHECK(b.events[0].event.body["registered_at"] == "2026-11-23T08:00:01Z");
  CHECK(b.events[1].event.body["id"] == "b3-502");
  CHECK(b.events[2].event.body == b.events[1].event.body);  // its old building learns it left
  for (const auto& d : b.events) CHECK(d.frame.find("1399999") == std::string::npos);
  CHECK(f.engine->state().headcount.households.at("b3-502").area == kB1);

  // After a restart the state comes from the log: nothing to publish again.
  f.reopen();
  CHECK(tick(f).events.empty());
  CHECK(f.engine->state().headcount.households.size() == 3);
}

TEST_CASE("household.contact: the phone for managers of the household's area only") {
  Fixture f;
  import(f, registry());
  tick(f);
  auto lead = contact(f, "li", "b3-502");
  REQUIRE_MESSAGE(lead.ok, (lead.error ? lead.error->message : ""));
  CHECK(lead.body == Json{{"household", "b3-502"}, {"area", kB3},          {"address", "3栋502"},
                          {"members", 2},          {"phone", "13800000502"}, {"updated", f.directory.households()[2].updated}});
  CHECK(contact(f, "zhou", "b1-101").ok);  // a coordinator above

  for (const char* who : {"bob", "hana", "dave"}) {
    CAPTURE(who);
    auto refused = contact(f, who, "b1-101");
    CHECK_FALSE(refused.ok);
    REQUIRE(refused.error);
    CHECK(refused.error->code == Errc::forbidden);
    CHECK(refused.error->message == "only leads, coordinators and admins of " + kB1 + " see a household's phone");
    CHECK(refused.body.is_null());
  }
  auto unknown = contact(f, "li", "b9-999");
  REQUIRE(unknown.error);
  CHECK(unknown.error->code == Errc::not_found);
  auto no_arg = f.engine->query("li", protocol::Query{"q", "household.contact", Json::object()});
  REQUIRE(no_arg.error);
  CHECK(no_arg.error->code == Errc::invalid);
  auto disabled = contact(f, "ghost", "b1-101");
  REQUIRE(disabled.error);
  CHECK(disabled.error->code == Errc::forbidden);
}

TEST_CASE("a round through the Engine: marks, a conflict carrying the round, close offering doorknocks") {
  Fixture f(Fixture::Empty{});
  f.add("li", Roles{Role::lead}, "gulou/antai");
  f.add("bob", Roles{Role::volunteer}, kB1);
  f.add("erin", Roles{Role::volunteer}, kB3);
  f.policy.tasks["doorknock"].dispatch = muster::domain::Dispatch::offer;
  f.open();
  import(f, registry());
  tick(f);

  const std::string round = f.id();
  auto d = f.one(sub("li", round, "headcount.open", Json{{"area", "gulou/antai/yili"}, {"title", "全员核酸"}}));
  REQUIRE(code_of(d) == "ok");
  CHECK(code_of(f.one(sub("bob", f.id(), "headcount.mark",
                          Json{{"round", round}, {"household", "b1-101"}, {"status", "done"}, {"people", 3}}))) == "ok");
  // bob cannot see b3's doors.
  CHECK(code_of(f.one(sub("bob", f.id(), "headcount.mark",
                          Json{{"round", round}, {"household", "b3-502"}, {"status", "done"}}))) == "not_found");

  const std::string close = f.id();
  Batch b = f.commit({sub("li", close, "headcount.close", Json{{"round", round}})});
  REQUIRE(code_of(b.decisions[0]) == "ok");
  // closed, a task per missing household, then (the policy says offer) their offers.
  CHECK(kinds(b) == std::vector<std::string>{"headcount.closed area:gulou/antai/yili",
                                             "task.created area:" + kB1, "task.created area:" + kB3,
                                             "task.offered area:" + kB1, "task.offered area:" + kB3});
  CHECK(b.events[1].event.body["id"] == close + "-b1-102");
  CHECK(b.events[3].event.body["to"] == "bob");
  CHECK(b.events[4].event.body["to"] == "erin");
  CHECK(f.engine->state().tasks.at(muster::domain::TaskId(close + "-b3-502")).state == muster::domain::TaskState::offered);

  // A mark after the close is a conflict whose ack carries the round.
  auto late = f.one(sub("erin", f.id(), "headcount.mark",
                        Json{{"round", round}, {"household", "b3-502"}, {"status", "done"}}));
  CHECK(code_of(late) == "conflict");
  auto ack = decode_ack(late.ack);
  CHECK(ack.state["id"] == round);
  CHECK(ack.state["closed"] == true);

  // The doorknock task's id works with the task ops.
  auto accept = f.one(sub("erin", f.id(), "task.accept", Json{{"task", close + "-b3-502"}}));
  CHECK(code_of(accept) == "ok");

  // After a restart the round, its marks and tallies are rebuilt from the log.
  f.reopen();
  const auto& books = f.engine->state().headcount;
  auto status = muster::domain::round_status(books, books.rounds.at(round), false);
  CHECK(status["counted"] == 1);
  CHECK(status["people"] == 3);
  CHECK(status["closed"] == true);
}

TEST_CASE("the import command's parser and the store agree: a parsed file imports as is") {
  Fixture f;
  auto csv = musterd::parse_household_csv(
      "area,household,address,members,phone\n"
      "gulou/antai/yili/b1,b1-101,\"1栋101, 东\",3,13800000101\n");
  REQUIRE(csv.ok());
  std::vector<HouseholdRecord> rows;
  for (const auto& r : csv.rows) rows.push_back(HouseholdRecord{r.household, r.area, r.address, r.members, r.phone, ""});
  import(f, rows, csv.has_phone);
  CHECK(f.directory.households()[0].address == "1栋101, 东");
  CHECK(f.engine->directory().household("b1-101")->phone == "13800000101");
}
