// Test helpers for the sync core: a temp dir, predictable ULIDs, and LoopbackServer,
// an in-process stand-in for musterd's WebSocket adapter that drives the real
// Engine and LogStore. No sockets, threads or sleeps: frames are strings in queues,
// and the test decides when each one moves.
//
// LoopbackServer follows the delivery rules of server/musterd/ws_server.cpp:
//   hello    → welcome, the events each visible scope has after the client's cursor
//              (clamped to the head), caught_up; the connection is then live
//   op       → queued; flush() group-commits every queued op, then sends each event
//              to the live connections whose last sent seq of its scope is seq-1,
//              then each ack to the connection the op came from, if still there
//   backfill → replays the scope from `from`, then caught_up
//   ping     → pong
// Ops that arrived on a connection that was cut before the flush are still decided
// (their acks go nowhere), as in musterd.
#pragma once

#include <doctest/doctest.h>

#include "../temp_dir.hpp"

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
#include "musterd/directory.hpp"
#include "musterd/engine.hpp"
#include "musterd/log_store.hpp"

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
      : dir_(made(std::move(dir))), clock_(clock), directory_(musterd::DirectoryStore::open(dir_, true)) {
    for (const auto& a : areas) directory_.add_area(a);
    for (auto u : users) {
      if (directory_.user(u.name)) continue;
      u.password_hash = password_of(u.name);
      auto st = directory_.add_user(u);
      REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().message));
    }
    open();
  }

  musterd::Engine& engine() { return *engine_; }
  musterd::LogStore& log() { return *log_; }
  musterd::DirectoryStore& directory() { return directory_; }
  std::string log_path() const { return (std::filesystem::path(dir_) / "log.db").string(); }

  // A restart: every connection and every undecided op is gone; the log stays.
  void restart() {
    conns_.clear();
    pending_.clear();
    engine_.reset();
    log_.reset();
    open();
  }

  ConnId connect() {
    const ConnId id = next_conn_++;
    conns_[id] = Conn{};
    return id;
  }
  bool connected(ConnId id) const { return conns_.count(id) > 0; }
  // The connection drops: frames not yet delivered either way are lost.
  void disconnect(ConnId id) { conns_.erase(id); }

  // Frames waiting to go to the client of `id`.
  std::deque<std::string>& to_client(ConnId id) { return conns_.at(id).out; }

  std::size_t pending_ops() const { return pending_.size(); }
  int flushes_failed() const { return flushes_failed_; }

  // One frame from the client of `id`.
  void receive(ConnId id, const std::string& text) {
    auto c = conns_.find(id);
    REQUIRE(c != conns_.end());
    Conn& conn = c->second;
    if (conn.closed) return;
    auto decoded = muster::protocol::decode_client_frame(text);
    if (!decoded) return send_error(conn, "bad_frame", decoded.error().message);
    auto& frame = *decoded;
    if (auto* hello = std::get_if<muster::protocol::Hello>(&frame)) return on_hello(conn, *hello);
    if (!conn.welcomed) return send_error(conn, "unauthorized", "say hello first");
    if (auto* op = std::get_if<muster::protocol::OpFrame>(&frame)) {
      pending_.push_back(musterd::Submission{std::move(op->op), conn.user, conn.device, id});
    } else if (auto* backfill = std::get_if<muster::protocol::Backfill>(&frame)) {
      auto it = conn.sent.find(backfill->scope);
      if (it == conn.sent.end()) return send_error(conn, "bad_frame", "backfill: scope not visible");
      it->second = std::min(it->second, std::max<std::int64_t>(backfill->from - 1, 0));
      ++backfills_;
      replay(conn);
    } else if (std::holds_alternative<muster::protocol::Ping>(frame)) {
      conn.out.push_back(muster::protocol::encode(muster::protocol::ServerFrame{muster::protocol::Pong{}}));
    }
    // cursor frames: the delivery receipts are not what these tests look at.
  }

  int backfills() const { return backfills_; }

  // Group-commits every queued op. False if the storage failed (every op was then
  // answered `unavailable`).
  bool flush() {
    if (pending_.empty()) return true;
    std::vector<musterd::Submission> batch;
    batch.swap(pending_);
    auto result = engine_->commit(batch);
    if (!result) {
      ++flushes_failed_;
      for (const auto& s : batch) {
        if (auto c = conns_.find(s.origin); c != conns_.end()) {
          muster::protocol::Ack ack{s.op.id, false, result.error(), nullptr};
          c->second.out.push_back(muster::protocol::encode(muster::protocol::ServerFrame{ack}));
        }
      }
      return false;
    }
    // Events first, then acks: a client that sees its ack already has the op's events.
    for (const auto& d : result->events) {
      for (auto& [id, conn] : conns_) {
        auto sent = conn.sent.find(d.event.scope);
        if (!conn.welcomed || sent == conn.sent.end() || d.event.seq != sent->second + 1) continue;
        conn.out.push_back(d.frame);
        sent->second = d.event.seq;
      }
    }
    for (const auto& d : result->decisions) {
      if (auto c = conns_.find(d.origin); c != conns_.end()) c->second.out.push_back(d.ack);
    }
    return true;
  }

 private:
  struct Conn {
    bool welcomed = false;
    bool closed = false;
    std::string user;
    std::string device;
    std::map<std::string, std::int64_t> sent;  // visible scope -> last seq sent
    std::deque<std::string> out;
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
    engine_->set_directory(directory_.snapshot());
  }

  void send_error(Conn& conn, const std::string& code, const std::string& message) {
    conn.out.push_back(
        muster::protocol::encode(muster::protocol::ServerFrame{muster::protocol::ErrorFrame{code, message}}));
  }

  void on_hello(Conn& conn, const muster::protocol::Hello& hello) {
    if (conn.welcomed) return send_error(conn, "bad_frame", "hello was already said on this connection");
    const musterd::UserRecord* user = engine_->directory().user(hello.user);
    bool ok = user != nullptr && !user->disabled && !hello.device.empty();
    std::string token;
    if (ok && hello.token) {
      auto rec = log_->find_token(*hello.token);
      ok = rec && rec->user == hello.user && rec->device == hello.device;
      token = *hello.token;
    } else if (ok) {
      ok = hello.password && *hello.password == user->password_hash;
      token = "token-" + hello.user + "-" + hello.device;
      if (ok) log_->save_token(token, hello.user, hello.device, muster::format_utc(clock_.now_ms()));
    }
    if (!ok) {
      send_error(conn, "unauthorized", "bad credentials");
      conn.closed = true;
      return;
    }
    conn.welcomed = true;
    conn.user = user->name;
    conn.device = hello.device;
    auto scopes = muster::domain::visible_scopes(user->actor(), engine_->directory().areas());
    for (const auto& scope : scopes) {
      auto c = hello.cursors.find(scope);
      const std::int64_t from = c == hello.cursors.end() ? 0 : c->second;
      conn.sent[scope] = std::min(from, engine_->head(scope));
    }
    muster::protocol::Welcome w{user->name, user->roles.names(), user->area, token, scopes};
    conn.out.push_back(muster::protocol::encode(muster::protocol::ServerFrame{w}));
    replay(conn);
  }

  void replay(Conn& conn) {
    for (auto& [scope, sent] : conn.sent) {
      for (const auto& [seq, frame] : log_->read_scope(scope, sent, 1 << 20)) {
        conn.out.push_back(frame);
        sent = seq;
      }
    }
    conn.out.push_back(muster::protocol::encode(muster::protocol::ServerFrame{muster::protocol::CaughtUp{}}));
  }

  std::string dir_;
  const muster::Clock& clock_;
  musterd::DirectoryStore directory_;
  std::unique_ptr<musterd::LogStore> log_;
  std::unique_ptr<musterd::Engine> engine_;
  std::map<ConnId, Conn> conns_;
  std::vector<musterd::Submission> pending_;
  ConnId next_conn_ = 1;
  int backfills_ = 0;
  int flushes_failed_ = 0;
};

}  // namespace muster_test
