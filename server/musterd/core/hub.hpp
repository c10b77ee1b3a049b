// The serving server's core, apart from its transports: it owns the group commit, the
// sessions' index by scope, the timer schedule and the jobs that keep the Engine in
// step with the data dir. Adapters (WebSocket, MQTT, plugins) attach Subscribers and
// hand it nothing but decoded frames; the Hub hands back frames through their ports.
//
//   group commit  ops and cursor receipts that arrive while the loop is busy are
//                 committed together in one transaction (Engine::commit); then every
//                 committed event goes to the live sessions of its scope, then each
//                 op's ack to the session that sent it (a client that sees its ack
//                 already has the op's events), then to the listeners (the MQTT outbox)
//   fair use      each op first passes its user's token buckets (RateLimiter); one
//                 that does not fit is answered `rate_limited` with the wait
//   timers        the Engine's next deadline (offer time-outs, escalations,
//                 reminders) arms one loop timer; the loop sleeps until then
//   directory     directory.db is written by other processes (`musterd user add`):
//                 its version is read every `directory_poll`; a change gives the Engine
//                 a new snapshot, ends the sessions of disabled users, publishes the
//                 household registry and carries out a hotline purge request
//   logins        a hello's password is checked on the workers (Loop::offload), at most
//                 max_pending_logins at a time, after the login throttle
//                 (core/login_throttle.hpp) has let it through; an unknown name is
//                 checked against a dummy hash so that it costs the same
//   checkpoint    once the log has been written to and then left alone for a whole
//                 `directory_poll`, and at stop, log.db's WAL is copied into the
//                 database and truncated to zero bytes (SQLite's own checkpoints copy
//                 but never shrink it: its size would stay that of the busiest minute)
//
// Thread: the loop thread, for everything. Other threads reach it only through
// Loop::post (the adapters' callbacks) and Loop::offload (argon2id).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/protocol/frame.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/engine.hpp"
#include "musterd/core/log_store.hpp"
#include "musterd/core/login_throttle.hpp"
#include "musterd/core/loop.hpp"
#include "musterd/core/metrics.hpp"
#include "musterd/core/rate_limiter.hpp"

namespace musterd {

class Subscriber;

// Told of every committed batch, after the sessions (the MQTT outbox).
class CommitListener {
 public:
  virtual ~CommitListener() = default;
  virtual void on_committed(const Batch& batch) = 0;
};

struct HubOptions {
  // How often directory.db's version is read: SQLite tells another process's commit
  // only to those who ask (PRAGMA data_version), so this is a poll.
  std::chrono::milliseconds directory_poll{1000};
  // The longest the loop sleeps between looks at the timers even with no deadline
  // near: the clock may jump (a clock file in drills, the system clock being set).
  std::chrono::milliseconds max_timer_wait{60000};
  // Checks a hello's password against the stored hash (argon2id: slow on purpose, so
  // it runs off the loop). Tests of the session protocol give a cheap one.
  std::function<bool(const std::string& password, const std::string& hash)> check_password;
  // Failed password logins per (user, address), address and user (core/login_throttle.hpp).
  LoginThrottlePolicy throttle;
  // Password checks waiting for or running on the workers at most; a hello beyond
  // them is answered rate_limited at once rather than queued behind a flood.
  int max_pending_logins = 32;
};

class Hub {
 public:
  Hub(Loop& loop, Engine& engine, LogStore& log, DirectoryStore& directory, const muster::Clock& clock,
      Metrics& metrics, HubOptions options = {});
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Reads the directory and arms the jobs. Call once, on the loop, before serving.
  void start();
  // Commits what is pending, ends every session and stops the jobs.
  void stop();
  bool stopping() const { return stopping_; }

  Engine& engine() { return engine_; }
  LogStore& log() { return log_; }
  const Directory& directory() const { return engine_.directory(); }
  const muster::Clock& clock() const { return clock_; }
  Metrics& metrics() { return metrics_; }
  void add_listener(CommitListener* listener) { listeners_.push_back(listener); }

  // Reads directory.db again if it changed (also before a login, so a user added a
  // moment ago can log in at once).
  void refresh_directory();

  // --- what Subscribers ask of it ---
  std::uint64_t attach(Subscriber& s);
  void detach(Subscriber& s);
  Subscriber* find(std::uint64_t id);
  // The session receives the live events of these scopes (replacing earlier ones).
  void watch(Subscriber& s, const std::vector<std::string>& scopes);
  // Checks a hello's password (off the loop) or token, and answers
  // Subscriber::logged_in or login_failed, if the session still exists.
  void authenticate(Subscriber& s, muster::protocol::Hello hello);
  // Queued for the next group commit, if the user's budget (the policy's limits) has
  // room for it; otherwise answered at once `rate_limited` with the wait, not queued,
  // not recorded.
  void submit(Submission submission);
  void save_receipts(const std::string& user, const std::string& device, const muster::protocol::Cursors& cursors);
  // This device's receipts: the stored ones, with those not yet committed.
  std::map<std::string, std::int64_t> receipts(const std::string& user, const std::string& device);
  muster::protocol::QueryResult query(const std::string& user, const muster::protocol::Query& q) const;
  std::size_t pending_ops() const { return pending_.size(); }

 private:
  void schedule_flush();
  void flush();
  void publish(const Batch& batch);
  void arm_timers();
  void run_timers();
  void poll_directory();
  void run_hotline_purge_request();
  void checkpoint_when_idle();
  bool refuse_plugin_account(Subscriber& s, const UserRecord& user);
  void refuse_for_now(Subscriber& s, std::chrono::milliseconds wait, const std::string& why);
  void checkpoint_log();

  Loop& loop_;
  Engine& engine_;
  LogStore& log_;
  DirectoryStore& directory_store_;
  const muster::Clock& clock_;
  Metrics& metrics_;
  HubOptions options_;

  RateLimiter limiter_;
  std::unique_ptr<LoopTimer> timers_;
  std::unique_ptr<LoopTimer> directory_job_;
  std::vector<CommitListener*> listeners_;

  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Subscriber*> sessions_;
  std::unordered_map<std::string, std::set<std::uint64_t>> watchers_;  // scope -> sessions

  std::vector<Submission> pending_;
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> pending_receipts_;
  bool flush_scheduled_ = false;
  std::int64_t directory_version_ = -1;
  bool purge_check_due_ = true;  // directory.db changed: look for a hotline purge request
  bool stopping_ = false;
  std::int64_t log_changes_seen_ = 0;          // log.db's total changes at the last poll
  std::int64_t log_changes_checkpointed_ = 0;  // … at the last complete checkpoint
  std::uint64_t ticks_ = 0;  // how often the timers have ticked (run_timers)

  LoginThrottle throttle_;
  int logins_pending_ = 0;  // password checks offloaded and not yet answered
  // An argon2id hash of a random password, made at start: an unknown name's hello is
  // checked against it, so it costs what a known name's does (no user enumeration by
  // timing).
  std::string dummy_hash_;
};

}  // namespace musterd
