// The server's durable log: `log.db` in the data dir, written only by the serving
// process through this one connection (WAL, synchronous=FULL).
//
//   events   every event, with its per-scope seq, global gseq and its frame as sent
//   ops      every op ever decided, accepted or rejected: idempotency and audit
//   tokens   device tokens (digests only)
//   cursors  each device's last delivered seq per scope: the delivery receipts
//   meta     small named values, e.g. `mqtt_published_gseq`: every event after it is
//            the broker's outbox (written in the event's own transaction, by being
//            appended to the log; confirmed by advancing this mark on PUBACK)
//   hotline_notes  each call's notes, sealed (hotline_vault.hpp): nonce and box, never
//            the text; rows are deleted by a purge, and the connection runs with
//            secure_delete so a deleted box is overwritten, not left in a free page
//
// Thread: the server's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "muster/domain/event.hpp"
#include "muster/store/sqlite.hpp"

namespace musterd {

// The most of a field the audit (the ops table) keeps of an op: kind, device.
inline constexpr std::size_t kMaxAuditFieldBytes = 256;

struct StoredOp {
  std::string actor;
  std::string ack;  // the ack frame sent the first time
  bool ok = false;  // whether it was accepted
};

struct StoredNote {
  std::string nonce;  // raw bytes
  std::string box;    // raw bytes
  std::string at;     // when the call was logged (RFC 3339)
};

struct TokenRecord {
  std::string user;
  std::string device;
};

class LogStore {
 public:
  // Opens DIR/log.db, creating and migrating it.
  explicit LogStore(const std::string& data_dir);
  // Opens DIR/log.db read-only, for a command that watches what the serving process
  // writes (it must exist and be migrated already).
  static LogStore open_read_only(const std::string& data_dir);

  muster::store::Db& db() { return db_; }

  // --- reads ---
  void for_each_event(const std::function<void(const muster::domain::Event&)>& fn);
  std::map<std::string, std::int64_t> scope_heads();  // scope -> last seq
  // The same, counting only the events up to `gseq`.
  std::map<std::string, std::int64_t> scope_heads_through(std::int64_t gseq);
  std::int64_t last_gseq();
  std::optional<StoredOp> find_op(const muster::domain::OpId& id);
  // Up to `limit` event frames of `scope` with seq > after, in seq order.
  std::vector<std::pair<std::int64_t, std::string>> read_scope(const std::string& scope, std::int64_t after,
                                                               int limit);
  std::optional<TokenRecord> find_token(const std::string& digest);
  std::int64_t count_events();
  // Up to `limit` events with gseq > after, in gseq order: {gseq, scope, seq, frame}.
  struct LoggedEvent {
    std::int64_t gseq;
    std::string scope;
    std::int64_t seq;
    std::string frame;
  };
  std::vector<LoggedEvent> read_after(std::int64_t after_gseq, int limit);
  // Small named values (e.g. how far the broker has confirmed the log); "" if unset.
  std::string meta(const std::string& key);
  // One device's delivery receipts: scope -> last seq it acknowledged.
  std::map<std::string, std::int64_t> read_cursors(const std::string& user, const std::string& device);
  // The sealed notes of a call, if it has any left.
  std::optional<StoredNote> hotline_note(const std::string& call);
  // The calls with notes stored before `before` (RFC 3339), oldest first.
  std::vector<std::string> hotline_notes_before(const std::string& before);
  std::int64_t count_hotline_notes();

  // --- writes (call inside a Transaction on db()) ---
  void append_event(const muster::domain::Event& event, const std::string& frame);
  // `kind` and `device` are kept to their first kMaxAuditFieldBytes (cut on a UTF-8
  // boundary): a rejected op's oversized field never fills the audit.
  void record_op(const muster::domain::OpId& id, const std::string& actor, const std::string& device, const std::string& kind,
                 bool ok, const std::string& ack, const std::string& at);
  void save_token(const std::string& digest, const std::string& user, const std::string& device,
                  const std::string& at);
  void save_cursor(const std::string& user, const std::string& device, const std::string& scope, std::int64_t seq,
                   const std::string& at);
  void set_meta(const std::string& key, const std::string& value);
  void save_hotline_note(const std::string& call, const StoredNote& note);
  void delete_hotline_note(const std::string& call);

 private:
  explicit LogStore(muster::store::Db db);
  muster::store::Db db_;
  muster::store::Stmt insert_event_;
  muster::store::Stmt insert_op_;
  muster::store::Stmt find_op_;
  muster::store::Stmt read_scope_;
  muster::store::Stmt upsert_cursor_;
  muster::store::Stmt read_after_;
};

}  // namespace musterd
