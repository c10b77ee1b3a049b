// One sync conversation with the server, as a pure state machine: it is fed the
// frames that arrive and returns the frames to send, so any transport or event loop
// (the blocking WebSocket driver of the CLI, MQTT, a libuv TUI) can drive it.
//
//   start() ──hello──▶   ◀──welcome── : push every outbox op, in order
//                        ◀──event──── : fold into the replica if it is the next seq of
//                                       its scope; a gap asks for a backfill
//                        ◀──ack────── : drop the op from the outbox (a rejection is
//                                       recorded; `unavailable` keeps it queued;
//                                       `rate_limited` keeps it queued and due again
//                                       after the wait the server named: resend_due())
//                        ◀──caught_up─
//   done() once caught up and every pushed op is answered; finish() gives the
//   closing cursor frame.
//
// Replica writes are grouped into transactions of up to kCommitEvery events and
// committed before any ack is acted on, so a crash never leaves an op dropped from
// the outbox without its events, nor a cursor ahead of the replica.
#pragma once

#include <cstdint>
#include <functional>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/sync/client_store.hpp"

namespace muster::sync {

struct SyncReport {
  int pushed = 0;
  int accepted = 0;
  int repeated = 0;
  int deferred = 0;  // answered `unavailable`: still queued
  int rate_limited = 0;  // answers `rate_limited`: still queued, sent again after the wait
  std::vector<Rejection> rejected;
  int events = 0;
  int backfills = 0;
  bool caught_up = false;
};

struct Credentials {
  std::optional<std::string> password;  // first login; afterwards the stored token
};

class SyncSession {
 public:
  static constexpr int kCommitEvery = 2000;

  SyncSession(ClientStore& store, Identity identity, Credentials credentials, const Clock& clock);
  ~SyncSession();

  // The first frame to send (hello).
  std::vector<std::string> start();

  // Feeds one received frame. Returns frames to send, or an error that ends the
  // session: the server refused us (Errc::forbidden) or spoke nonsense (invalid).
  Result<std::vector<std::string>> on_frame(std::string_view text);

  // Frames to send for ops enqueued after the session started (live clients).
  std::vector<std::string> push_new_ops();
  // Ops answered `rate_limited` go again once the server's wait is over (by the
  // clock), one at a time and in the order they were answered: the next goes when the
  // one before is accepted (or refused), a new wait when it is limited again. So a big
  // outbox trickles in at the server's pace instead of being sent whole again and
  // again. A driver calls this at every turn (it is cheap when nothing is due); until
  // every such op is answered otherwise, the session is not done().
  std::vector<std::string> resend_due();

  bool welcomed() const { return welcomed_; }
  bool done() const;
  // Commits pending replica writes and returns the closing cursor frame.
  std::string finish();
  // Commits pending replica writes (call when the transport goes idle).
  void commit();

  const SyncReport& report() const { return report_; }
  const Identity& identity() const { return identity_; }
  const domain::State& state() const { return state_; }

  // Called for every event folded into the replica (e.g. `muster watch` prints it).
  std::function<void(const domain::Event&)> on_event;
  // Called for every answer to a query frame.
  std::function<void(const protocol::QueryResult&)> on_result;

 private:
  void begin();
  bool is_waiting(const domain::OpId& id) const;
  std::vector<std::string> handle_event(domain::Event e);

  ClientStore& store_;
  Identity identity_;
  Credentials credentials_;
  const Clock& clock_;
  domain::State state_;
  protocol::Cursors cursors_;
  std::set<std::string> dirty_cursors_;  // advanced since the last commit
  std::set<domain::OpId> in_flight_;  // ops sent, not yet answered
  std::deque<domain::OpId> waiting_;  // answered rate_limited, in answer order
  std::set<domain::OpId> waiting_ids_;  // the same, to look up
  UnixMs retry_at_ = 0;               // the wait the server named last ends
  std::optional<domain::OpId> probe_;  // the waiting op sent again, not yet answered
  std::set<std::string> backfilling_;
  std::unique_ptr<store::Transaction> tx_;
  int uncommitted_ = 0;
  bool welcomed_ = false;
  SyncReport report_;
};

}  // namespace muster::sync
