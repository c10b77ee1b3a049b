#include "musterd/core/metrics.hpp"

#include <sstream>

namespace musterd {

std::string Metrics::prometheus() const {
  std::ostringstream o;
  auto metric = [&o](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
  };
  metric("muster_connections", "gauge", "Open WebSocket connections.", connections_open);
  metric("muster_connections_total", "counter", "WebSocket connections accepted.", connections_total);
  metric("muster_sessions_live", "gauge", "Authenticated sessions streaming live events.", sessions_live);
  metric("muster_auth_failures_total", "counter", "Failed hellos.", auth_failures);
  metric("muster_logins_throttled_total", "counter", "Hellos refused unchecked after too many failed logins.",
         logins_throttled);
  metric("muster_logins_busy_total", "counter", "Hellos refused because too many password checks were waiting.",
         logins_busy);
  metric("muster_logins_pending", "gauge", "Password checks waiting for or running on the workers.", logins_pending);
  metric("muster_unauthenticated_connections", "gauge", "WebSocket connections not logged in yet.", unauthenticated);
  metric("muster_connections_shed_total", "counter",
         "Connections not logged in that were closed to make room (per-address or global limit, no descriptors).",
         connections_shed);
  metric("muster_accept_failures_total", "counter", "Times accept() failed for want of file descriptors.",
         accept_failures);
  metric("muster_open_fds", "gauge", "File descriptors in use.", open_fds);
  metric("muster_max_fds", "gauge", "The file descriptor limit (RLIMIT_NOFILE, soft).", max_fds);
  metric("muster_ops_accepted_total", "counter", "Ops accepted and made durable.", ops_accepted);
  metric("muster_ops_rejected_total", "counter", "Ops rejected (invalid, forbidden, conflict, not_found).",
         ops_rejected);
  metric("muster_ops_repeated_total", "counter", "Ops seen before, answered from the log.", ops_repeated);
  metric("muster_ops_unavailable_total", "counter", "Ops not saved because storage failed.", ops_unavailable);
  metric("muster_ops_rate_limited_total", "counter", "Ops answered rate_limited: over the user's budget, not saved.",
         ops_rate_limited);
  metric("muster_bad_frames_total", "counter", "Frames answered with an error frame.", bad_frames);
  metric("muster_events_appended_total", "counter", "Events appended to the log by this process.", events_appended);
  metric("muster_events_sent_total", "counter", "Live event frames sent.", events_sent);
  metric("muster_events_replayed_total", "counter", "Event frames sent while catching a client up.",
         events_replayed);
  metric("muster_commits_total", "counter", "Group commits.", commits);
  metric("muster_wal_checkpoints_total", "counter", "Times log.db's WAL was copied in and truncated.", wal_checkpoints);
  metric("muster_commit_ops_total", "counter", "Ops decided in group commits.", commit_ops);
  metric("muster_commit_seconds_total", "counter", "Time spent in group commits.", commit_seconds_sum);
  metric("muster_sessions_fell_behind_total", "counter",
         "Times a live session's send window was full and it went back to reading the log.", sessions_fell_behind);
  metric("muster_inbound_queue_depth", "gauge", "Ops waiting for the next commit.", pending_ops);
  metric("muster_log_events", "gauge", "Events in the log.", log_events);
  metric("muster_timer_events_total", "counter", "Events the server made on its own: offers, escalations, reminders.",
         timer_events);
  metric("muster_last_gseq", "gauge", "Global sequence of the newest event.", last_gseq);
  metric("muster_mqtt_connected", "gauge", "1 while connected to the MQTT broker.", mqtt_connected);
  metric("muster_mqtt_outbox_depth", "gauge", "Events in the log the broker has not confirmed yet.", mqtt_outbox_depth);
  metric("muster_mqtt_published_total", "counter", "Events the broker confirmed (PUBACK).", mqtt_published);
  metric("muster_mqtt_publish_failures_total", "counter", "Event publishes that failed (sent again).",
         mqtt_publish_failures);
  metric("muster_mqtt_publish_seconds_total", "counter", "Time from publish to PUBACK, summed.",
         mqtt_publish_seconds_sum);
  metric("muster_plugins_running", "gauge", "Plugin processes running.", plugins_running);
  metric("muster_plugin_restarts_total", "counter", "Plugin runs that ended (and were restarted).", plugin_restarts);
  metric("muster_plugin_lines_total", "counter", "Lines read from plugins.", plugin_lines);
  metric("muster_plugin_bad_lines_total", "counter", "Plugin lines skipped: too long, not JSON, not a plugin line.",
         plugin_bad_lines);
  metric("muster_plugin_throttled_total", "counter", "Times a plugin's reads were paused for writing too fast.",
         plugin_throttled);
  metric("muster_plugin_events_sent_total", "counter", "Event lines written to plugins.", plugin_events_sent);
  return o.str();
}

}  // namespace musterd
