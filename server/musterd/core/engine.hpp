// The server's decision core: it owns the domain state, decides ops with the shared
// reducers, numbers the resulting events and makes each batch durable in one
// transaction before anything is acknowledged or delivered (group commit).
//
// It also makes the server's own moves (the Dispatcher: offers, escalations,
// reminders). Those that follow from an op are committed with the op; those that
// follow from time are found by one timer wheel, whose deadlines are derived from the
// state, and committed by tick(). Nothing about them lives only in memory.
//
// Memory: the state holds what decisions need (tasks, notices, shifts, head counts,
// calls). Messages, append-only and never read by a decision, stay in the log only
// (forget_if_kept_in_log), so the state does not grow with chat.
//
// Pure of sockets and threads: the WebSocket and MQTT adapters hand it batches and
// deliver what it returns. Thread: the server's loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"
#include "muster/base/timer_wheel.hpp"
#include "muster/base/ulid.hpp"
#include "muster/domain/policy.hpp"
#include "muster/domain/state.hpp"
#include "muster/protocol/frame.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/dispatcher.hpp"
#include "musterd/core/hotline_vault.hpp"
#include "musterd/core/log_store.hpp"

namespace musterd {

// One op as received, with who sent it and where the answer goes.
struct Submission {
  muster::domain::Op op;
  std::string user;
  std::string device;
  std::uint64_t origin = 0;  // opaque to the engine: the adapter's session id
};

// A device's delivery receipt for one scope: it has applied events up to `seq`.
struct Receipt {
  std::string user;
  std::string device;
  std::string scope;
  std::int64_t seq = 0;
};

struct Decision {
  std::uint64_t origin = 0;
  muster::domain::OpId op_id;
  bool ok = false;
  bool fresh = false;  // false when this is the stored answer to a repeated op
  std::string ack;     // the ack frame, ready to send
};

// A committed event and its frame, serialised once for every recipient.
struct Delivery {
  muster::domain::Event event;
  std::string frame;
};

struct Batch {
  std::vector<Decision> decisions;  // one per submission, in order
  std::vector<Delivery> events;     // in gseq order
};

// What a purge of the hotline's notes did (Engine::purge_hotline_notes).
struct HotlinePurge {
  std::string request;          // the request's id: the `op` of its events
  std::vector<std::string> calls;  // whose notes were deleted
  std::string before;           // notes stored before this time were deleted (RFC 3339)
  int older_than_days = 0;
  bool repeated = false;        // the request had been carried out before: nothing done now
  Batch batch;                  // the hotline.purged events, to deliver
};

// The log.db meta key naming the last purge request carried out, with its outcome:
// {"request","deleted","before","older_than_days","at"}.
inline constexpr const char* kHotlinePurgeMeta = "hotline_purge_done";
// The directory.db setting where `musterd hotline purge` leaves its request for a
// serving process ({"id","older_than_days","requested_at"}): the serving process is
// log.db's one writer, so it carries the purge out (see Hub::run_hotline_purge_request).
inline constexpr const char* kHotlinePurgeRequestSetting = "hotline_purge_request";

class Engine {
 public:
  Engine(LogStore& log, const muster::Clock& clock,
         muster::domain::Policy policy = muster::domain::Policy::defaults());

  // Rebuilds the state, the sequence heads and the timers from the log. Call once at start.
  void load();

  const muster::domain::Policy& policy() const { return policy_; }

  // A new snapshot of directory.db. Its household registry is published by the next
  // tick() (household.registered / household.updated for what the state lacks).
  void set_directory(std::shared_ptr<const Directory> directory) {
    directory_ = std::move(directory);
    registry_pending_ = true;
  }
  // The key the hotline's notes are sealed with. Without one, a hotline.log carrying
  // notes is answered `unavailable` (and not recorded, so it can be sent again), and
  // hotline.show cannot open notes.
  void set_hotline_vault(std::shared_ptr<const HotlineVault> vault) { vault_ = std::move(vault); }
  const Directory& directory() const { return *directory_; }
  const muster::domain::State& state() const { return state_; }

  // What a plugin account may do beyond its role (its config's message_to), set by the
  // plugin host. A plugin account without grants may send messages to nobody.
  void set_grants(const std::string& user, muster::domain::Grants grants) { grants_[user] = std::move(grants); }

  // Decides every submission in order and commits them all in one transaction, with
  // the receipts (a receipt never moves a stored one back). Nothing is acknowledged
  // unless it is durable: on a storage failure the result is Errc::unavailable,
  // nothing of the batch is kept and the state is reloaded.
  muster::Result<Batch> commit(const std::vector<Submission>& batch, const std::vector<Receipt>& receipts = {});

  // Makes the server's own moves that are due by now (offer time-outs, escalations,
  // reminders, notice re-sends) and commits them in one transaction: a Batch without
  // decisions, empty if nothing was due. First, if the directory changed since the
  // last tick, publishes the registry's differences from the state in the same
  // transaction: household.registered {household, registered_at = now} for a new one,
  // household.updated for a changed area, address or member count (in the new area's
  // scope, and in the old one's too when it moved). Never the phone. Errors as for
  // commit(); the registry is then published again by the next tick.
  muster::Result<Batch> tick();
  // How many deadlines the timer wheel holds, for tests and metrics.
  std::size_t timers() const { return wheel_.size(); }
  // The earliest of them: tick() has nothing to do before it (but the registry).
  std::optional<muster::UnixMs> next_deadline() const { return wheel_.next_deadline(); }

  // Deletes the sealed notes of every call logged more than `older_than_days` days ago
  // (by the clock) and records it: one hotline.purged {call, older_than_days, before}
  // event per call in role:hotline, and kHotlinePurgeMeta, all in one transaction; then
  // checkpoints the WAL so the deleted boxes do not linger there either. `request`
  // (a ULID) is the events' op and makes the purge happen once: a request already
  // carried out returns `repeated` and does nothing. Errors: invalid (days < 0 or a bad
  // request id), unavailable (storage).
  muster::Result<HotlinePurge> purge_hotline_notes(int older_than_days, const std::string& request);

  // Answers a read (`query` frame) from the server's knowledge: the handler of its name
  // (core/queries/queries.hpp), as `user`.
  muster::protocol::QueryResult query(const std::string& user, const muster::protocol::Query& q) const;

  std::int64_t head(const std::string& scope) const;

  // Where a hello's replay starts: each scope `user` can see, with the client's cursor
  // for it (0 if none). A cursor ahead of the log (a client of a data dir restored from
  // an older backup) restarts that scope from what the log has.
  std::vector<std::pair<std::string, std::int64_t>> replay_start(const UserRecord& user,
                                                                 const muster::protocol::Cursors& cursors) const;
  std::int64_t last_gseq() const { return gseq_; }

 private:
  Decision decide(const Submission& s, std::vector<Delivery>& out, muster::UnixMs now, const std::string& now_text);
  // Numbers, stores and folds one event; returns the object it touched.
  muster::domain::ObjectRef append(muster::domain::Draft draft, const muster::domain::OpId& op, const std::string& actor,
                                   const std::string& now_text, std::vector<Delivery>& out);
  // Makes every server move due for the touched objects (and the ones those moves
  // touch), then sets their timers.
  void settle(std::vector<muster::domain::ObjectRef> touched, const muster::domain::OpId& op, muster::UnixMs now,
              const std::string& now_text, std::vector<Delivery>& out);
  void reschedule(const muster::domain::ObjectRef& ref, muster::UnixMs after);
  // Drops from the state an object that lives in the log alone (messages).
  void forget_if_kept_in_log(const muster::domain::ObjectRef& ref);
  void copy_to_holders(const muster::domain::Event& event, std::vector<std::string> involved,
                       const std::string& now_text, std::vector<Delivery>& out);
  void publish_registry(const muster::domain::OpId& op, const std::string& now_text, std::vector<Delivery>& out);
  // Seals an accepted hotline.log's notes into log.db (inside the op's transaction).
  void keep_hotline_notes(const muster::domain::Op& op, const std::string& now_text);

  LogStore& log_;
  const muster::Clock& clock_;
  muster::domain::Policy policy_;
  Dispatcher dispatcher_{policy_};
  muster::TimerWheel wheel_{0};
  std::shared_ptr<const Directory> directory_;
  bool registry_pending_ = false;  // the directory changed since the registry was last published
  std::shared_ptr<const HotlineVault> vault_;
  muster::domain::State state_;
  std::map<std::string, muster::domain::Grants> grants_;  // plugin user -> grants
  std::map<std::string, std::int64_t> heads_;  // scope -> last seq
  std::int64_t gseq_ = 0;
  muster::UlidGenerator ids_;
};

}  // namespace musterd
