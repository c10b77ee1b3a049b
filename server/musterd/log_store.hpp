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
//
// Thread: the server's loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "muster/domain/event.hpp"
#include "muster/store/sqlite.hpp"

namespace musterd {

struct StoredOp {
  std::string actor;
  std::string ack;  // the ack frame sent the first time
  bool ok = false;  // whether it was accepted
};

struct TokenRecord {
  std::string user;
  std::string device;
};

class LogStore {
 public:
  // Opens DIR/log.db, creating and migrating it.
  explicit LogStore(const std::string& data_dir);

  muster::store::Db& db() { return db_; }

  // --- reads ---
  void for_each_event(const std::function<void(const muster::domain::Event&)>& fn);
  std::map<std::string, std::int64_t> scope_heads();  // scope -> last seq
  std::int64_t last_gseq();
  std::optional<StoredOp> find_op(const std::string& id);
  // Up to `limit` event frames of `scope` with seq > after, in seq order.
  std::vector<std::pair<std::int64_t, std::string>> read_scope(const std::string& scope, std::int64_t after,
                                                               int limit);
  std::optional<TokenRecord> find_token(const std::string& digest);
  std::int64_t count_events();
  // Up to `limit` events with gseq > after, in gseq order: {gseq, scope, frame}.
  struct LoggedEvent {
    std::int64_t gseq;
    std::string scope;
    std::string frame;
  };
  std::vector<LoggedEvent> read_after(std::int64_t after_gseq, int limit);
  // Small named values (e.g. how far the broker has confirmed the log); "" if unset.
  std::string meta(const std::string& key);
  // One device's delivery receipts: scope -> last seq it acknowledged.
  std::map<std::string, std::int64_t> read_cursors(const std::string& user, const std::string& device);

  // --- writes (call inside a Transaction on db()) ---
  void append_event(const muster::domain::Event& event, const std::string& frame);
  void record_op(const std::string& id, const std::string& actor, const std::string& device, const std::string& kind,
                 bool ok, const std::string& ack, const std::string& at);
  void save_token(const std::string& digest, const std::string& user, const std::string& device,
                  const std::string& at);
  void save_cursor(const std::string& user, const std::string& device, const std::string& scope, std::int64_t seq,
                   const std::string& at);
  void set_meta(const std::string& key, const std::string& value);

 private:
  muster::store::Db db_;
  muster::store::Stmt insert_event_;
  muster::store::Stmt insert_op_;
  muster::store::Stmt find_op_;
  muster::store::Stmt read_scope_;
  muster::store::Stmt upsert_cursor_;
  muster::store::Stmt read_after_;
};

}  // namespace musterd
