// The in-process server of the server's unit tests: a real directory.db and log.db
// in a fresh temp dir, an Engine on a ManualClock, and helpers to submit ops and read
// their acks. Shared by engine_test.cpp and dispatch_test.cpp.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster/domain/policy.hpp"
#include "muster/protocol/frame.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/engine.hpp"
#include "musterd/core/hotline_vault.hpp"
#include "musterd/core/log_store.hpp"
#include "../temp_dir.hpp"

namespace engine_fixture {

using muster::Errc;
using muster::domain::Json;
using muster::domain::Role;
using muster::domain::Roles;
using musterd::Batch;
using musterd::Decision;
using musterd::DirectoryStore;
using musterd::Engine;
using musterd::LogStore;
using musterd::Submission;
using musterd::UserRecord;
namespace protocol = muster::protocol;

constexpr muster::UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z

inline const std::string kYili = "area:gulou/antai/yili";
inline const std::string kAntai = "area:gulou/antai";

using muster_test::TempDir;

// A well-formed ULID made from a counter, so ids are predictable and ordered.
inline std::string ulid(std::uint64_t n) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string out = "01J";
  std::string tail(23, '0');
  for (std::size_t i = tail.size(); i-- > 0 && n > 0; n >>= 5) tail[i] = kAlphabet[n & 31U];
  out += tail;
  REQUIRE(muster::is_ulid(out));
  return out;
}

// The grid of the tests:
//   gulou                   zhou (coordinator)
//   gulou/antai             li (lead), erin (volunteer)
//   gulou/antai/yili        bob, carol (volunteers), hana (hotline), bridge (plugin), ghost (disabled)
//   gulou/gaolou            dave (volunteer)
struct Fixture {
  TempDir dir;
  muster::ManualClock clock{kStart};
  DirectoryStore directory = DirectoryStore::open(dir.path(), true, clock);
  std::unique_ptr<LogStore> log;
  std::unique_ptr<Engine> engine;
  muster::domain::Policy policy = muster::domain::Policy::defaults();
  // The hotline key the engine gets at open(), if any (hotline tests set one).
  std::shared_ptr<const musterd::HotlineVault> vault;
  std::uint64_t next_id = 1;

  struct Empty {};
  // A fixture without users: the test adds its own grid, then calls open().
  explicit Fixture(Empty) {}

  Fixture() {
    add("zhou", Roles{Role::coordinator}, "gulou");
    add("li", Roles{Role::lead}, "gulou/antai");
    add("erin", Roles{Role::volunteer}, "gulou/antai");
    add("bob", Roles{Role::volunteer}, "gulou/antai/yili");
    add("carol", Roles{Role::volunteer}, "gulou/antai/yili");
    add("hana", Roles{Role::hotline}, "gulou/antai/yili");
    add("bridge", Roles{Role::plugin}, "gulou/antai/yili");
    add("ghost", Roles{Role::volunteer}, "gulou/antai/yili", true);
    add("dave", Roles{Role::volunteer}, "gulou/gaolou");
    open();
  }

  void add(const std::string& name, Roles roles, const std::string& area, bool disabled = false,
           std::vector<std::string> skills = {}) {
    auto st = directory.add_user(UserRecord{name, "", roles, area, "hash-of-" + name, "", disabled, std::move(skills)});
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().message));
  }

  void open() {
    log = std::make_unique<LogStore>(dir.path());
    // Restarts here are process restarts: committed pages survive in the OS cache, so
    // fsync would only slow the tests down.
    log->db().exec("PRAGMA synchronous=OFF");
    engine = std::make_unique<Engine>(*log, clock, policy);
    if (vault) engine->set_hotline_vault(vault);
    engine->load();
    engine->set_directory(directory.snapshot());
  }

  // A restart: the old engine and its connection go away before the new ones open.
  void reopen() {
    engine.reset();
    log.reset();
    open();
  }

  std::string id() { return ulid(next_id++); }

  Batch commit(const std::vector<Submission>& batch) {
    auto r = engine->commit(batch);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
    REQUIRE(r->decisions.size() == batch.size());
    return std::move(*r);
  }
  Decision one(const Submission& s) { return commit({s}).decisions.at(0); }

  std::int64_t count(const std::string& sql) {
    auto s = log->db().prepare(sql);
    REQUIRE(s.step());
    auto n = s.int64(0);
    s.reset();
    return n;
  }
  std::int64_t ops_rows() { return count("SELECT count(*) FROM ops"); }
};

inline Submission sub(const std::string& user, const std::string& id, const std::string& kind, Json body,
               std::uint64_t origin = 1) {
  return Submission{muster::domain::Op{muster::domain::OpId(id), kind, std::move(body)}, user, user + "-phone", origin};
}

inline Json create_body(const std::string& area, const std::string& title = "buy medicine for 3-502") {
  return Json{{"kind", "errand"}, {"title", title}, {"area", area}, {"dispatch", "claim"}};
}

inline protocol::Ack decode_ack(const std::string& frame) {
  auto r = protocol::decode_server_frame(frame);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  const auto* ack = std::get_if<protocol::Ack>(&*r);
  REQUIRE(ack != nullptr);
  return *ack;
}

inline std::string code_of(const Decision& d) {
  auto ack = decode_ack(d.ack);
  if (ack.ok) return "ok";
  REQUIRE(ack.error.has_value());
  return std::string(muster::to_string(ack.error->code));
}

inline std::string message_of(const Decision& d) {
  auto ack = decode_ack(d.ack);
  return ack.error ? ack.error->message : std::string();
}

}  // namespace engine_fixture
