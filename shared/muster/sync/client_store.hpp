// The client's local database (`client.db` in the client's home): its identity, the
// outbox of ops not yet acknowledged, the replica of the objects it can see, its
// cursors, and the ops the server rejected.
//
// Durable intent first: a changing command writes its op to the outbox in one
// transaction and returns; the op leaves the outbox only when the server's ack
// arrives. The view a user sees is the replica with the outbox applied on top
// (ClientStore::view), so rolling back a rejected op is just dropping it.
//
// Thread: whoever opened it. Several muster processes may open the same home; SQLite's
// locking serialises them and only the syncing process writes the replica.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/domain/alert.hpp"
#include "muster/domain/inbox.hpp"
#include "muster/domain/state.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/store/sqlite.hpp"

namespace muster::sync {

struct Identity {
  std::string server;  // ws://host:port
  std::string user;
  std::string device;
  std::string token;   // empty until the first successful hello
  std::vector<std::string> roles;
  std::string area;
  std::vector<std::string> scopes;
  std::string tz{};  // the server's time zone, as its welcome said

  domain::Actor actor() const;
};

struct OutboxEntry {
  std::int64_t n = 0;  // queue order
  domain::Op op;
  std::string created;
};

struct Rejection {
  domain::OpId op_id;
  std::string kind;
  Error error;
  std::string at;
};

class ClientStore {
 public:
  // Opens HOME/client.db, creating and migrating it.
  static ClientStore open(const std::string& home);
  // For tests: an in-memory store.
  static ClientStore open_memory();

  store::Db& db() { return db_; }

  // --- identity ---
  std::optional<Identity> identity();
  void save_identity(const Identity& id);
  // Forgets the replica, the cursors and the rejections (a different user logs in).
  void reset_replica();
  std::string config(const std::string& key);
  void set_config(const std::string& key, const std::string& value);

  // --- outbox ---
  void enqueue(const domain::Op& op, UnixMs now);  // one transaction
  void enqueue(const std::vector<domain::Op>& ops, UnixMs now);  // all in one transaction, in order
  std::vector<OutboxEntry> outbox();
  std::optional<OutboxEntry> outbox_entry(const domain::OpId& op_id);  // if still queued
  std::int64_t outbox_size();
  void remove_from_outbox(const domain::OpId& op_id);
  // After an op with confidential text (hotline.log: a call's notes) left the outbox:
  // empties the write-ahead log, so the text lingers neither in a free page (the
  // database runs with secure_delete) nor in an old WAL frame. Call outside a
  // transaction; does nothing if no such op left since the last call.
  void scrub();
  void record_rejection(const Rejection& r);
  std::vector<Rejection> rejections(int limit);

  // --- replica ---
  domain::State load_state();
  void save_object(const domain::State& state, const domain::ObjectRef& ref);
  protocol::Cursors cursors();
  void save_cursor(const std::string& scope, std::int64_t seq);

  // --- inbox (muster/domain/inbox.hpp) ---
  // Keeps an alert the server made for this user (written by the sync, with its event).
  void save_alert(const domain::Alert& alert);
  domain::AlertBook alerts();
  // Records what the user did outside the replica, in one transaction: kind "read" (the
  // ids of direct messages shown) or "ack" (the ids of alerts dismissed).
  void mark(const std::string& kind, const std::vector<std::string>& ids);
  domain::InboxMarks inbox_marks();

  // The replica with every outbox op applied on top, as the user should see it.
  // Ops that no longer apply (the replica moved on) are skipped; the server will
  // reject them on sync. `pending` gets the ids of objects touched by outbox ops.
  domain::State view(std::set<std::string>* pending = nullptr);

 private:
  explicit ClientStore(store::Db db);
  store::Db db_;
  // Prepared once: a catch-up writes one object per event.
  std::unique_ptr<store::Stmt> save_object_;
  std::unique_ptr<store::Stmt> save_cursor_;
  std::unique_ptr<store::Stmt> save_alert_;
  bool scrub_due_ = false;
};

}  // namespace muster::sync
