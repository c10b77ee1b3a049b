// Test helpers for the sync core: a temp dir, predictable ULIDs, and LoopbackServer,
// musterd's own session core (Hub, Subscriber, Engine, LogStore) with a transport of
// string queues instead of sockets. No threads or sleeps: the test decides when each
// frame moves and when the group commit runs (flush()). Every rule of the session
// protocol is musterd's (server/musterd/core/subscriber.hpp); what is the loopback's
// own is only what a transport decides:
//   - a refused login answers an `unauthorized` error frame and ignores the rest
//     (musterd's WebSocket closes with 1008, which the client reads the same way);
//   - passwords are compared as plain text (argon2id would only make the tests slow).
// Ops that arrived on a connection that was cut before the flush are still decided
// (their acks go nowhere), as in musterd.
#pragma once

#include <doctest/doctest.h>

#include "../temp_dir.hpp"
#include "../server/manual_loop.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster/domain/actor.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/store/sqlite.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/engine.hpp"
#include "musterd/core/hub.hpp"
#include "musterd/core/log_store.hpp"
#include "musterd/core/subscriber.hpp"

namespace muster_test {

// A well-formed ULID made from a counter, so ids are predictable and ordered.
inline std::string ulid(std::uint64_t n) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string tail(23, '0');
  for (std::size_t i = tail.size(); i-- > 0 && n > 0; n >>= 5) tail[i] = kAlphabet[n & 31U];
  return "01J" + tail;
}

// These tests crash processes, not machines: a crash drops what was not committed
// (the open transaction rolls back), and committed pages survive in the OS cache. So
// fsync proves nothing here and only makes the tests slow; durability against power
// loss is the stores' own contract (synchronous=FULL), not what these tests check.
inline void unsynced(muster::store::Db& db) { db.exec("PRAGMA synchronous=OFF"); }

// The password a LoopbackServer accepts for `user` (its stored "hash").
inline std::string password_of(const std::string& user) { return "pw-" + user; }

class LoopbackServer {
 public:
  using ConnId = std::uint64_t;

  // Opens (or reopens) DIR/directory.db and DIR/log.db. `users` are added when the
  // directory is new; `areas` too.
  LoopbackServer(std::string dir, const muster::Clock& clock, const std::vector<musterd::UserRecord>& users,
                 const std::vector<std::string>& areas = {})
      : dir_(made(std::move(dir))), clock_(clock), directory_(musterd::DirectoryStore::open(dir_, true, clock)) {
    for (const auto& a : areas) directory_.add_area(a);
    for (auto u : users) {
      if (directory_.user(u.name)) continue;
      u.password_hash = password_of(u.name);
      auto st = directory_.add_user(u);
      REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().message));
    }
    open();
  }
  ~LoopbackServer() { close(); }

  musterd::Engine& engine() { return *engine_; }
  musterd::LogStore& log() { return *log_; }
  musterd::DirectoryStore& directory() { return directory_; }
  musterd::Hub& hub() { return *hub_; }
  std::string log_path() const { return (std::filesystem::path(dir_) / "log.db").string(); }

  // A restart: every connection and every undecided op is gone; the log stays.
  void restart() {
    close();
    open();
  }

  ConnId connect() {
    const ConnId id = next_conn_++;
    conns_.emplace(id, std::make_unique<Conn>(*hub_));
    return id;
  }
  bool connected(ConnId id) const { return conns_.count(id) > 0; }
  // The connection drops: frames not yet delivered either way are lost.
  void disconnect(ConnId id) { conns_.erase(id); }

  // Frames waiting to go to the client of `id`.
  std::deque<std::string>& to_client(ConnId id) { return conns_.at(id)->out; }

  std::size_t pending_ops() const { return hub_->pending_ops(); }
  int flushes_failed() const { return flushes_failed_; }
  int backfills() const { return backfills_; }

  // One frame from the client of `id`.
  void receive(ConnId id, const std::string& text) {
    auto c = conns_.find(id);
    REQUIRE(c != conns_.end());
    Conn& conn = *c->second;
    if (conn.closed) return;
    auto decoded = muster::protocol::decode_client_frame(text);
    if (!decoded) return conn.session.bad_frame(decoded.error().message);
    if (std::holds_alternative<muster::protocol::Backfill>(*decoded)) ++backfills_;
    conn.session.on_frame(std::move(*decoded));
  }

  // Runs the group commit of everything received. False if the storage failed (every
  // op was then answered `unavailable`).
  bool flush() {
    const auto unavailable = metrics_.ops_unavailable;
    loop_.run();
    if (metrics_.ops_unavailable == unavailable) return true;
    ++flushes_failed_;
    return false;
  }

 private:
  // One connection: the port of its session, with the frames for the client in a queue.
  struct Conn final : musterd::SessionPort {
    explicit Conn(musterd::Hub& hub) : session(hub, *this, rules()) {}
    static musterd::SessionRules rules() {
      musterd::SessionRules r;
      r.transport = "loopback";
      return r;
    }
    void send(musterd::FrameKind, const std::string& frame) override { out.push_back(frame); }
    std::size_t backlog() const override { return 0; }  // the queue takes everything
    void resume_when_drained() override {}
    void close(musterd::CloseReason reason, const std::string& text) override {
      if (reason == musterd::CloseReason::stopping) return;
      out.push_back(muster::protocol::encode(
          muster::protocol::ServerFrame{muster::protocol::ErrorFrame{"unauthorized", text}}));
      closed = true;
    }
    std::deque<std::string> out;
    bool closed = false;
    musterd::Subscriber session;  // last: it goes first, while the port is whole
  };

  static std::string made(std::string dir) {
    std::filesystem::create_directories(dir);
    return dir;
  }

  void open() {
    log_ = std::make_unique<musterd::LogStore>(dir_);
    unsynced(log_->db());
    engine_ = std::make_unique<musterd::Engine>(*log_, clock_);
    engine_->load();
    musterd::HubOptions options;
    options.check_password = [](const std::string& password, const std::string& hash) { return password == hash; };
    hub_ = std::make_unique<musterd::Hub>(loop_, *engine_, *log_, directory_, clock_, metrics_, options);
    hub_->start();
  }

  void close() {
    conns_.clear();
    hub_.reset();  // with every undecided op
    loop_ = ManualLoop{};
    engine_.reset();
    log_.reset();
  }

  std::string dir_;
  const muster::Clock& clock_;
  musterd::DirectoryStore directory_;
  ManualLoop loop_;
  musterd::Metrics metrics_;
  std::unique_ptr<musterd::LogStore> log_;
  std::unique_ptr<musterd::Engine> engine_;
  std::unique_ptr<musterd::Hub> hub_;
  std::map<ConnId, std::unique_ptr<Conn>> conns_;
  ConnId next_conn_ = 1;
  int backfills_ = 0;
  int flushes_failed_ = 0;
};

}  // namespace muster_test
