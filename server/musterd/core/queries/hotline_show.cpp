#include "musterd/core/queries/queries.hpp"

namespace musterd {

namespace domain = muster::domain;
namespace protocol = muster::protocol;
using muster::Errc;

protocol::QueryResult hotline_show(const QueryContext& c, const protocol::Query& q) {
  const domain::Actor& actor = c.actor;
  protocol::QueryResult r;
  r.id = q.id;
  auto fail = [&q](Errc code, std::string message) { return query_error(q, code, std::move(message)); };
  // The role before anything else: someone without it learns nothing, not even
  // whether the call exists.
  if (!actor.roles.has(domain::Role::hotline)) {
    return fail(Errc::forbidden, "only hotline users may read calls; " + actor.name + " is not one");
  }
  auto id_it = q.args.find("call");
  if (id_it == q.args.end() || !id_it->is_string()) return fail(Errc::invalid, "hotline.show needs args.call");
  const std::string id = id_it->get<std::string>();
  auto it = c.state.calls.find(id);
  if (it == c.state.calls.end()) return fail(Errc::not_found, "no call " + id);
  const domain::Call& call = it->second;
  nlohmann::json notes = nullptr;
  try {
    if (auto stored = c.log.hotline_note(id)) {
      if (!c.vault) return fail(Errc::unavailable, "the hotline key is not loaded, so the notes cannot be opened");
      auto text = c.vault->open(SealedNote{stored->nonce, stored->box});
      if (!text) {
        return fail(Errc::unavailable, "the notes of call " + id +
                                           " do not open with this server's hotline.key (was the key replaced?)");
      }
      notes = std::move(*text);
    }
  } catch (const muster::store::SqliteError& e) {
    return fail(Errc::unavailable, std::string("storage failed: ") + e.what());
  }
  r.body = {{"call", domain::to_json(call)}, {"notes", notes}, {"notes_purged", call.notes_purged}};
  return r;
}

}  // namespace musterd
