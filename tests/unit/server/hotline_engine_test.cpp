// The hotline in the server (SPEC §3 Hotline): the Engine takes a call's notes from the
// op, seals them into log.db's hotline_notes in the op's own transaction and answers
// hotline.show to hotline users only; no event frame, no ops row and no byte of log.db
// holds the text. High-risk calls are escalated once, to the users with both the
// hotline and lead roles who manage the call's area. A purge deletes old notes, records
// it, happens once per request and leaves nothing of the deleted boxes in the files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/hotline.hpp"
#include "muster/domain/task.hpp"
#include "musterd/core/dispatcher.hpp"
#include "musterd/core/hotline_vault.hpp"

namespace {

using namespace engine_fixture;
using musterd::HotlineVault;
using muster::domain::Draft;

const std::string kNotes = "来电者说他三天没有睡觉，担心失业，想和女儿说话。";
const std::string kOtherNotes = "第二位来电者：邻居吵闹，已建议联系物业。";
const std::string kBrief = "回访：询问是否已联系社区医生";
constexpr muster::UnixMs kDay = 24LL * 60 * 60 * 1000;

// The hotline's grid:
//   gulou                   gu (hotline, lead), old (hotline, lead; disabled)
//   gulou/antai             mei (hotline, lead), li (lead)
//   gulou/antai/yili        hana (hotline), bob, carol (volunteers)
//   gulou/gaolou            qiu (hotline, lead)
struct HotlineFixture : Fixture {
  HotlineFixture() : Fixture(Empty{}) {
    add("gu", Roles{Role::hotline, Role::lead}, "gulou");
    add("old", Roles{Role::hotline, Role::lead}, "gulou", true);
    add("mei", Roles{Role::hotline, Role::lead}, "gulou/antai");
    add("li", Roles{Role::lead}, "gulou/antai");
    add("hana", Roles{Role::hotline}, "gulou/antai/yili");
    add("bob", Roles{Role::volunteer}, "gulou/antai/yili");
    add("carol", Roles{Role::volunteer}, "gulou/antai/yili");
    add("qiu", Roles{Role::hotline, Role::lead}, "gulou/gaolou");
    directory.add_area("gulou/antai/yili/b3");
    vault = std::make_shared<const HotlineVault>(HotlineVault::from_key(std::string(32, 'K')));
    open();
  }

  Json call(int risk, const std::optional<std::string>& notes = kNotes,
            const std::optional<std::string>& brief = std::nullopt) {
    Json b{{"started", muster::format_utc(clock.now_ms() - 30 * 60 * 1000)},
           {"duration", 20},
           {"category", "焦虑"},
           {"risk", risk}};
    if (notes) b["notes"] = *notes;
    if (brief) b["followup"] = Json{{"brief", *brief}};
    return b;
  }

  protocol::QueryResult show(const std::string& user, const Json& args) {
    return engine->query(user, protocol::Query{"q-" + std::to_string(next_id), "hotline.show", args});
  }

  // Everything log.db says about its events and ops, as text.
  std::string frames() {
    std::string out;
    auto s = log->db().prepare("SELECT frame FROM events ORDER BY gseq");
    while (s.step()) out += s.text(0) + "\n";
    return out;
  }
  std::string ops_text() {
    std::string out;
    auto s = log->db().prepare("SELECT id, actor, device, kind, ok, ack, at FROM ops");
    while (s.step()) {
      for (int i = 0; i < 7; ++i) out += s.text(i) + "|";
      out += "\n";
    }
    return out;
  }
  std::vector<std::string> kinds() {
    std::vector<std::string> out;
    auto s = log->db().prepare("SELECT kind FROM events ORDER BY gseq");
    while (s.step()) out.push_back(s.text(0));
    return out;
  }
  // Every byte of every file in the data dir (log.db, its WAL, directory.db, …).
  std::string raw_files() {
    std::string out;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      std::ifstream in(entry.path(), std::ios::binary);
      out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return out;
  }
  std::optional<musterd::StoredNote> stored(const std::string& call) { return log->hotline_note(call); }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> event_kinds(const Batch& b) {
  std::vector<std::string> out;
  for (const auto& d : b.events) out.push_back(d.event.kind);
  return out;
}

}  // namespace

TEST_SUITE("hotline_engine") {
  TEST_CASE("a call's notes are sealed into hotline_notes in the op's transaction, and are nowhere else") {
    HotlineFixture f;
    const std::string id = f.id();
    Batch b = f.commit({sub("hana", id, "hotline.log", f.call(2, kNotes, kBrief))});
    REQUIRE(code_of(b.decisions.at(0)) == "ok");
    REQUIRE(event_kinds(b).size() >= 2);
    CHECK(event_kinds(b)[0] == "hotline.logged");
    CHECK(event_kinds(b)[1] == "task.created");
    CHECK(b.events.at(0).event.scope == "role:hotline");
    CHECK(b.events.at(1).event.scope == "role:hotline");
    for (const auto& d : b.events) {
      CHECK_FALSE(contains(d.frame, kNotes));
      CHECK_FALSE(contains(d.frame, "三天"));
    }
    CHECK(b.events.at(0).event.body["has_notes"] == true);

    auto note = f.stored(id);
    REQUIRE(note.has_value());
    CHECK(note->nonce.size() == 24);
    CHECK(note->box.size() == kNotes.size() + 16);
    CHECK(note->at == "2026-11-23T08:00:00Z");
    auto opened = f.vault->open(musterd::SealedNote{note->nonce, note->box});
    REQUIRE(opened.has_value());
    CHECK(*opened == kNotes);

    CHECK_FALSE(contains(f.frames(), kNotes));
    CHECK_FALSE(contains(f.ops_text(), kNotes));
    CHECK(contains(f.ops_text(), "hotline.log"));
    CHECK_FALSE(contains(f.raw_files(), kNotes));
    CHECK_FALSE(contains(f.raw_files(), "三天没有睡觉"));

    // The follow-up carries the brief and the area, nothing of the call.
    auto task = muster::domain::task_from_json(b.events.at(1).event.body);
    REQUIRE(task.has_value());
    CHECK(task->id.str() == id + "-f");
    CHECK(task->kind == "hotline_followup");
    CHECK(task->title == kBrief);
    CHECK(task->details == std::map<std::string, std::string>{{"brief", kBrief}, {"area", "gulou/antai/yili"}});
    CHECK_FALSE(contains(b.events.at(1).frame, "焦虑"));

    // A call without notes keeps no row.
    const std::string bare = f.id();
    REQUIRE(f.one(sub("hana", bare, "hotline.log", f.call(1, std::nullopt))).ok);
    CHECK_FALSE(f.stored(bare).has_value());
    CHECK(f.count("SELECT count(*) FROM hotline_notes") == 1);
  }

  TEST_CASE("a volunteer's hotline.log sent raw is forbidden: recorded as refused, nothing else kept") {
    HotlineFixture f;
    for (const char* who : {"bob", "li"}) {
      CAPTURE(who);
      const std::string id = f.id();
      Batch b = f.commit({sub(who, id, "hotline.log", f.call(5, kNotes, kBrief))});
      CHECK(code_of(b.decisions.at(0)) == "forbidden");
      CHECK_FALSE(contains(b.decisions.at(0).ack, kNotes));
      CHECK(b.events.empty());
      CHECK_FALSE(f.stored(id).has_value());
    }
    CHECK(f.count("SELECT count(*) FROM events") == 0);
    CHECK(f.count("SELECT count(*) FROM hotline_notes") == 0);
    CHECK(f.count("SELECT count(*) FROM ops WHERE ok = 0") == 2);
    CHECK_FALSE(contains(f.ops_text(), kNotes));
    CHECK_FALSE(contains(f.raw_files(), kNotes));
  }

  TEST_CASE("malformed calls are refused (invalid) and a repeated op gets its first answer") {
    HotlineFixture f;
    Json too_long = f.call(2);
    too_long["notes"] = std::string(muster::domain::kMaxNotesBytes + 1, 'n');
    Decision d = f.one(sub("hana", f.id(), "hotline.log", too_long));
    CHECK(code_of(d) == "invalid");
    CHECK(contains(message_of(d), "notes"));
    Json bad_risk = f.call(9);
    CHECK(code_of(f.one(sub("hana", f.id(), "hotline.log", bad_risk))) == "invalid");
    CHECK(f.count("SELECT count(*) FROM hotline_notes") == 0);

    const std::string id = f.id();
    REQUIRE(code_of(f.one(sub("hana", id, "hotline.log", f.call(2)))) == "ok");
    Decision again = f.one(sub("hana", id, "hotline.log", f.call(2, kOtherNotes)));
    CHECK(code_of(again) == "ok");
    CHECK_FALSE(again.fresh);
    CHECK(f.count("SELECT count(*) FROM hotline_notes") == 1);
    auto note = f.stored(id);
    REQUIRE(note.has_value());
    CHECK(*f.vault->open(musterd::SealedNote{note->nonce, note->box}) == kNotes);
  }

  TEST_CASE("without the key, a call with notes is unavailable and not recorded; it goes through later") {
    HotlineFixture f;
    f.vault.reset();
    f.reopen();
    const std::string id = f.id();
    Decision d = f.one(sub("hana", id, "hotline.log", f.call(2)));
    CHECK(code_of(d) == "unavailable");
    CHECK(f.ops_rows() == 0);
    CHECK(f.count("SELECT count(*) FROM events") == 0);
    // Without notes there is nothing to seal.
    CHECK(code_of(f.one(sub("hana", f.id(), "hotline.log", f.call(2, std::nullopt)))) == "ok");

    f.vault = std::make_shared<const HotlineVault>(HotlineVault::from_key(std::string(32, 'K')));
    f.reopen();
    CHECK(code_of(f.one(sub("hana", id, "hotline.log", f.call(2)))) == "ok");
    CHECK(f.stored(id).has_value());
  }

  TEST_CASE("hotline.show: the call and its notes for hotline users; forbidden for anyone else") {
    HotlineFixture f;
    const std::string id = f.id();
    REQUIRE(f.one(sub("hana", id, "hotline.log", f.call(3))).ok);
    const std::string bare = f.id();
    REQUIRE(f.one(sub("hana", bare, "hotline.log", f.call(1, std::nullopt))).ok);

    // Any hotline user reads any call, not only its operator.
    for (const char* who : {"hana", "mei", "qiu"}) {
      CAPTURE(who);
      auto r = f.show(who, Json{{"call", id}});
      REQUIRE_MESSAGE(r.ok, (r.error ? r.error->message : ""));
      CHECK(r.body["notes"] == kNotes);
      CHECK(r.body["notes_purged"] == false);
      CHECK(r.body["call"]["id"] == id);
      CHECK(r.body["call"]["operator"] == "hana");
      CHECK(r.body["call"]["risk"] == 3);
    }
    auto none = f.show("hana", Json{{"call", bare}});
    REQUIRE(none.ok);
    CHECK(none.body["notes"].is_null());

    // Without the role: forbidden, even for a call that does not exist, so nothing leaks.
    for (const char* who : {"bob", "li"}) {
      CAPTURE(who);
      for (const std::string& which : {id, std::string("01JDNOSUCHCALL000000000000")}) {
        auto r = f.show(who, Json{{"call", which}});
        CHECK_FALSE(r.ok);
        REQUIRE(r.error.has_value());
        CHECK(r.error->code == Errc::forbidden);
        CHECK(r.body.is_null());
      }
    }
    auto disabled = f.show("old", Json{{"call", id}});
    CHECK_FALSE(disabled.ok);
    CHECK(disabled.error->code == Errc::forbidden);
    auto stranger = f.show("nobody", Json{{"call", id}});
    CHECK(stranger.error->code == Errc::forbidden);

    auto missing = f.show("hana", Json{{"call", "01JDNOSUCHCALL000000000000"}});
    CHECK(missing.error->code == Errc::not_found);
    auto no_args = f.show("hana", Json::object());
    CHECK(no_args.error->code == Errc::invalid);
    auto bad_args = f.show("hana", Json{{"call", 7}});
    CHECK(bad_args.error->code == Errc::invalid);

    // The notes survive a restart; under another key they do not open, and it says so.
    f.reopen();
    CHECK(f.show("mei", Json{{"call", id}}).body["notes"] == kNotes);
    f.vault = std::make_shared<const HotlineVault>(HotlineVault::from_key(std::string(32, 'X')));
    f.reopen();
    auto wrong_key = f.show("hana", Json{{"call", id}});
    CHECK_FALSE(wrong_key.ok);
    CHECK(wrong_key.error->code == Errc::unavailable);
    CHECK(contains(wrong_key.error->message, "hotline.key"));
  }

  TEST_CASE("a risk 4-5 call is escalated at once, once, to the hotline's leads who manage its area") {
    HotlineFixture f;
    const std::string low = f.id();
    Batch quiet = f.commit({sub("hana", low, "hotline.log", f.call(3))});
    CHECK(event_kinds(quiet) == std::vector<std::string>{"hotline.logged"});

    const std::string high = f.id();
    Batch b = f.commit({sub("hana", high, "hotline.log", f.call(4))});
    REQUIRE(event_kinds(b) == std::vector<std::string>{"hotline.logged", "hotline.escalated"});
    const auto& e = b.events.at(1).event;
    CHECK(e.scope == "role:hotline");
    CHECK(e.actor == "musterd");
    CHECK(e.op.str() == high);
    // gu (gulou) and mei (gulou/antai) manage gulou/antai/yili; qiu (gaolou) does not;
    // old is disabled; li is a lead without the hotline role; hana is not a lead.
    CHECK(e.body == Json{{"call", high},
                         {"risk", 4},
                         {"area", "gulou/antai/yili"},
                         {"category", "焦虑"},
                         {"priority", "urgent"},
                         {"to", Json::array({"gu", "mei"})}});
    CHECK_FALSE(contains(b.events.at(1).frame, kNotes));
    CHECK(f.engine->state().calls.at(high).escalated);
    CHECK_FALSE(f.engine->state().calls.at(low).escalated);

    // In another area, other leads; nobody left: still recorded, to nobody.
    Json gaolou = f.call(5);
    gaolou["area"] = "gulou/gaolou";
    Batch other = f.commit({sub("hana", f.id(), "hotline.log", gaolou)});
    REQUIRE(other.events.size() == 2);
    CHECK(other.events.at(1).event.body["to"] == Json::array({"gu", "qiu"}));

    // Never again: not by time, not after a restart.
    f.clock.advance(kDay);
    CHECK(f.engine->tick()->events.empty());
    f.reopen();
    f.clock.advance(kDay);
    CHECK(f.engine->tick()->events.empty());
    CHECK(f.count("SELECT count(*) FROM events WHERE kind = 'hotline.escalated'") == 2);
    CHECK(f.engine->state().calls.at(high).escalated);
  }

  TEST_CASE("the Dispatcher escalates a call it finds unescalated (a restart), and says when") {
    muster::domain::State state;
    muster::domain::Call c;
    c.id = "01JDHOTLINE000000000000001";
    c.operator_name = "hana";
    c.area = "gulou/antai/yili";
    c.risk = 5;
    c.category = "危机";
    c.logged_at = "2026-11-23T08:00:00Z";
    state.calls[c.id] = c;
    std::vector<UserRecord> users{
        UserRecord{"mei", "", Roles{Role::hotline, Role::lead}, "gulou/antai", "", "", false, {}},
        UserRecord{"li", "", Roles{Role::lead}, "gulou/antai", "", "", false, {}},
        UserRecord{"ada", "", Roles{Role::admin, Role::hotline, Role::lead}, "city", "", "", false, {}},
    };
    const musterd::Directory directory(users, {"gulou", "gulou/antai", "gulou/antai/yili"});
    const auto policy = muster::domain::Policy::defaults();
    const musterd::Dispatcher dispatcher(policy);
    const muster::domain::ObjectRef ref{"call", c.id};
    CHECK(dispatcher.next_check(state, ref, std::numeric_limits<muster::UnixMs>::min()) == kStart);
    CHECK_FALSE(dispatcher.next_check(state, ref, kStart).has_value());
    auto drafts = dispatcher.due(state, directory, ref, kStart);
    REQUIRE(drafts.size() == 1);
    CHECK(drafts[0].kind == "hotline.escalated");
    CHECK(drafts[0].body["to"] == Json::array({"ada", "mei"}));  // an admin manages every area

    state.calls[c.id].escalated = true;
    CHECK(dispatcher.due(state, directory, ref, kStart).empty());
    CHECK_FALSE(dispatcher.next_check(state, ref, std::numeric_limits<muster::UnixMs>::min()).has_value());
    state.calls[c.id].escalated = false;
    state.calls[c.id].risk = 3;
    CHECK(dispatcher.due(state, directory, ref, kStart).empty());
  }

  TEST_CASE("a follow-up is offered to a volunteer of the area in the same commit, who alone gets a copy") {
    HotlineFixture f;
    const std::string id = f.id();
    Batch b = f.commit({sub("hana", id, "hotline.log", f.call(2, kNotes, kBrief))});
    REQUIRE(event_kinds(b) == std::vector<std::string>{"hotline.logged", "task.created", "task.offered", "task.offered"});
    CHECK(b.events.at(1).event.scope == "role:hotline");
    const auto& offered = b.events.at(2).event;
    CHECK(offered.scope == "role:hotline");
    CHECK((offered.body["to"] == "bob" || offered.body["to"] == "carol"));
    const auto& copy = b.events.at(3).event;
    CHECK(copy.scope == "user:" + offered.body["to"].get<std::string>());
    CHECK(copy.body["snapshot"]["creator"] == "hotline");
    CHECK_FALSE(contains(copy.body.dump(), "hana"));
    const auto& t = f.engine->state().tasks.at(muster::domain::TaskId(id + "-f"));
    CHECK(t.dispatch == muster::domain::Dispatch::offer);
    CHECK(t.state == muster::domain::TaskState::offered);
  }

  TEST_CASE("a purge deletes the old notes, records it per call, once per request, and leaves no trace of them") {
    HotlineFixture f;
    const std::string old_call = f.id();
    REQUIRE(f.one(sub("hana", old_call, "hotline.log", f.call(2, kNotes))).ok);
    const std::string old_bare = f.id();
    REQUIRE(f.one(sub("hana", old_bare, "hotline.log", f.call(1, std::nullopt))).ok);
    const auto old_box = f.stored(old_call)->box;
    f.clock.advance(40 * kDay);
    const std::string recent = f.id();
    REQUIRE(f.one(sub("hana", recent, "hotline.log", f.call(2, kOtherNotes))).ok);
    CHECK(contains(f.raw_files(), old_box));  // sealed, but there until the purge

    const std::string request = f.id();
    auto done = f.engine->purge_hotline_notes(30, request);
    REQUIRE_MESSAGE(done.ok(), (done.ok() ? "" : done.error().message));
    CHECK_FALSE(done->repeated);
    CHECK(done->calls == std::vector<std::string>{old_call});
    CHECK(done->before == muster::format_utc(kStart + 10 * kDay));
    REQUIRE(done->batch.events.size() == 1);
    const auto& e = done->batch.events.at(0).event;
    CHECK(e.kind == "hotline.purged");
    CHECK(e.scope == "role:hotline");
    CHECK(e.op.str() == request);
    CHECK(e.actor == "musterd");
    CHECK(e.body == Json{{"call", old_call}, {"older_than_days", 30}, {"before", "2026-12-03T08:00:00Z"}});

    CHECK_FALSE(f.stored(old_call).has_value());
    CHECK(f.stored(recent).has_value());
    CHECK(f.engine->state().calls.at(old_call).notes_purged);
    CHECK_FALSE(f.engine->state().calls.at(recent).notes_purged);
    CHECK_FALSE(f.engine->state().calls.at(old_bare).notes_purged);
    // Overwritten in the pages (secure_delete) and gone from the emptied WAL.
    CHECK_FALSE(contains(f.raw_files(), old_box));

    auto shown = f.show("hana", Json{{"call", old_call}});
    REQUIRE(shown.ok);
    CHECK(shown.body["notes"].is_null());
    CHECK(shown.body["notes_purged"] == true);
    CHECK(f.show("hana", Json{{"call", recent}}).body["notes"] == kOtherNotes);

    auto meta = Json::parse(f.log->meta(musterd::kHotlinePurgeMeta));
    CHECK(meta["request"] == request);
    CHECK(meta["deleted"] == 1);
    CHECK(meta["calls"] == Json::array({old_call}));

    // The same request again does nothing; a new one finds nothing more to delete and
    // still records that it ran.
    auto repeated = f.engine->purge_hotline_notes(30, request);
    REQUIRE(repeated.ok());
    CHECK(repeated->repeated);
    CHECK(repeated->calls == std::vector<std::string>{old_call});
    CHECK(repeated->batch.events.empty());
    auto second = f.engine->purge_hotline_notes(30, f.id());
    REQUIRE(second.ok());
    CHECK(second->calls.empty());
    CHECK(Json::parse(f.log->meta(musterd::kHotlinePurgeMeta))["deleted"] == 0);
    CHECK(f.count("SELECT count(*) FROM events WHERE kind = 'hotline.purged'") == 1);

    // After a restart the state still knows which notes were purged.
    f.reopen();
    CHECK(f.engine->state().calls.at(old_call).notes_purged);

    // Zero days: everything logged before now.
    f.clock.advance(1000);
    auto all = f.engine->purge_hotline_notes(0, f.id());
    REQUIRE(all.ok());
    CHECK(all->calls == std::vector<std::string>{recent});
    CHECK(f.count("SELECT count(*) FROM hotline_notes") == 0);

    CHECK(f.engine->purge_hotline_notes(-1, f.id()).error().code == Errc::invalid);
    CHECK(f.engine->purge_hotline_notes(30, "not-a-ulid").error().code == Errc::invalid);
  }
}
