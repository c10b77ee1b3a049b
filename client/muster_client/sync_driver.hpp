// Drives a SyncSession over a Connection: the blocking loop behind `muster login`,
// `muster sync`, `muster watch` and online queries.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "muster/base/result.hpp"
#include "muster/sync/sync_session.hpp"
#include "muster_client/connection.hpp"

namespace muster::client {

struct DriveOptions {
  std::chrono::milliseconds timeout{30000};  // the longest the server may stay silent (connect included)
  std::chrono::milliseconds connect_timeout{5000};
  bool stay_live = false;                    // watch: keep streaming after catching up
  std::function<bool()> keep_going;          // polled while live; false ends the session
  std::optional<protocol::Query> query;      // sent once caught up; its result ends the session
  // While live (the TUI): polled when idle once caught up; a query it returns is sent
  // on the same connection, and every result goes to on_result.
  std::function<std::optional<protocol::Query>()> next_query;
  std::function<void(const protocol::QueryResult&)> on_result;
};

struct DriveResult {
  // unavailable: the server could not be reached or went away (exit 3);
  // forbidden: authentication failed (exit 2); invalid: protocol trouble.
  Status status;
  sync::SyncReport report;
  std::optional<protocol::QueryResult> query_result;
};

// Makes its connection with `connect` (handing it the password of `credentials`).
DriveResult drive(const ConnectionFactory& connect, sync::ClientStore& store, const sync::Identity& identity,
                  const sync::Credentials& credentials, const DriveOptions& options,
                  const std::function<void(const domain::Event&)>& on_event = {});

}  // namespace muster::client
