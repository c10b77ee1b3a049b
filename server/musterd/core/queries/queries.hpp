// Reads the server answers from what it knows (the `query` frame, docs/protocol.md
// "Queries"): a table from a query's name to its handler, one file per handler. A new
// query is a new file and a line in the table (queries.cpp).
//
// Handlers are pure reads of the state, the directory and (for the hotline's sealed
// notes) the log. Thread: the server's loop thread.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "muster/base/result.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/state.hpp"
#include "muster/protocol/frame.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/hotline_vault.hpp"
#include "musterd/core/log_store.hpp"

namespace musterd {

// What a handler may read, for one asker.
struct QueryContext {
  const muster::domain::Actor& actor;  // who asks: an enabled user
  const muster::domain::State& state;
  const Directory& directory;
  LogStore& log;
  const HotlineVault* vault;  // null when the hotline key is not loaded
};

using QueryHandler = muster::protocol::QueryResult (*)(const QueryContext&, const muster::protocol::Query&);

// The table: query name -> handler.
const std::map<std::string, QueryHandler, std::less<>>& query_handlers();

// The answer to `q` (an unknown name is `invalid`).
muster::protocol::QueryResult answer_query(const QueryContext& context, const muster::protocol::Query& q);

// A failed answer to `q`.
muster::protocol::QueryResult query_error(const muster::protocol::Query& q, muster::Errc code, std::string message);

// --- the handlers ---

// notice.status {notice, by: building|area, missing}: who of the notice's audience has
// acknowledged it, by area; for its author and the leads of its area.
muster::protocol::QueryResult notice_status(const QueryContext& c, const muster::protocol::Query& q);
// household.contact {household}: the registry's row with the phone, for those who
// manage the household's area.
muster::protocol::QueryResult household_contact(const QueryContext& c, const muster::protocol::Query& q);
// hotline.show {call}: a call with its notes opened, for hotline users only.
muster::protocol::QueryResult hotline_show(const QueryContext& c, const muster::protocol::Query& q);

}  // namespace musterd
