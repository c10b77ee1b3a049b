// Counters the server exposes as Prometheus text on GET /metrics.
// Thread: the server's loop thread (plain integers, no atomics needed).
#pragma once

#include <cstdint>
#include <string>

namespace musterd {

struct Metrics {
  std::int64_t connections_open = 0;
  std::int64_t connections_total = 0;
  std::int64_t sessions_live = 0;
  std::int64_t auth_failures = 0;
  std::int64_t logins_throttled = 0;        // hellos refused unchecked: too many failed logins
  std::int64_t logins_busy = 0;             // hellos refused: too many password checks waiting
  std::int64_t logins_pending = 0;          // password checks waiting for or on the workers
  std::int64_t unauthenticated = 0;         // WebSocket connections not logged in (yet)
  std::int64_t connections_shed = 0;        // of those, closed to make room
  std::int64_t accept_failures = 0;         // accept() failed for want of descriptors
  std::int64_t open_fds = 0;                // descriptors in use (/proc/self/fd), read at each scrape
  std::int64_t max_fds = 0;                 // RLIMIT_NOFILE (soft)
  std::int64_t ops_accepted = 0;
  std::int64_t ops_rejected = 0;
  std::int64_t ops_repeated = 0;
  std::int64_t ops_unavailable = 0;
  std::int64_t ops_rate_limited = 0;  // answered rate_limited: over the user's budget, not decided
  std::int64_t bad_frames = 0;
  std::int64_t events_appended = 0;
  std::int64_t timer_events = 0;  // events the server made on its own (offers, escalations, reminders)
  std::int64_t events_sent = 0;
  std::int64_t events_replayed = 0;
  std::int64_t commits = 0;
  std::int64_t wal_checkpoints = 0;       // log.db's WAL truncated (when idle, and at stop)
  std::int64_t commit_ops = 0;           // ops in those commits (batch size = commit_ops / commits)
  double commit_seconds_sum = 0;         // time spent committing
  std::int64_t sessions_fell_behind = 0;  // live sessions that fell back to reading the log (a full window)
  std::int64_t pending_ops = 0;          // ops waiting for the next commit (the server's inbound queue)
  std::int64_t log_events = 0;           // events in the log
  std::int64_t last_gseq = 0;
  std::int64_t mqtt_connected = 0;          // 1 while connected to the broker
  std::int64_t mqtt_outbox_depth = 0;       // events not yet confirmed by the broker
  std::int64_t mqtt_published = 0;          // events confirmed (PUBACK) by the broker
  std::int64_t mqtt_publish_failures = 0;
  double mqtt_publish_seconds_sum = 0;      // publish to PUBACK, summed over mqtt_published
  std::int64_t plugins_running = 0;
  std::int64_t plugin_restarts = 0;         // runs that ended (each is restarted)
  std::int64_t plugin_lines = 0;            // lines read from plugins' stdout
  std::int64_t plugin_bad_lines = 0;        // over the size limit, not JSON, or not a plugin line
  std::int64_t plugin_throttled = 0;        // times a plugin's reads were paused for writing too fast
  std::int64_t plugin_events_sent = 0;      // event lines written to plugins

  std::string prometheus() const;
};

}  // namespace musterd
