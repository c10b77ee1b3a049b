// Ops (what a user asks for) and events (what the server decided happened).
// See docs/protocol.md for every kind with an example.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "muster/base/time.hpp"
#include "muster/domain/ids.hpp"

namespace muster::domain {

using Json = nlohmann::json;

// A user's request to change something, made on the client with a ULID id.
struct Op {
  OpId id;           // ULID, globally unique, made by the client
  std::string kind;  // e.g. "task.claim"
  Json body;         // always an object
};

// An event the reducers produce before the server numbers it.
struct Draft {
  std::string scope;  // "area:gulou/antai", "user:bob", "role:hotline"
  std::string kind;   // e.g. "task.claimed"
  Json body;
};

// A numbered, durable event from the server's log.
struct Event {
  std::string scope;
  std::int64_t seq = 0;   // gap-free per scope, from 1
  std::int64_t gseq = 0;  // global order
  std::string id;         // event id (ULID)
  OpId op;                // the op that caused it
  std::string kind;
  std::string actor;
  std::string at;  // RFC 3339 UTC
  Json body;
};

}  // namespace muster::domain
