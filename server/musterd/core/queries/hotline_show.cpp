#include "musterd/core/queries/queries.hpp"

#include <optional>

#include "muster/domain/task.hpp"

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
  // The call's notes are kept under its id, the follow-up's outcome note under the task's.
  auto open_note = [&](const std::string& key, nlohmann::json& out) -> std::optional<protocol::QueryResult> {
    auto stored = c.log.hotline_note(key);
    if (!stored) return std::nullopt;
    if (!c.vault) return fail(Errc::unavailable, "the hotline key is not loaded, so the notes cannot be opened");
    auto text = c.vault->open(SealedNote{stored->nonce, stored->box});
    if (!text) {
      return fail(Errc::unavailable, "the notes of " + key +
                                         " do not open with this server's hotline.key (was the key replaced?)");
    }
    out = std::move(*text);
    return std::nullopt;
  };
  nlohmann::json notes = nullptr;
  nlohmann::json followup = nullptr;
  nlohmann::json followup_note = nullptr;
  try {
    if (auto failed = open_note(id, notes)) return *failed;
    if (!call.followup_task.empty()) {
      if (auto failed = open_note(call.followup_task, followup_note)) return *failed;
      if (auto t = c.state.tasks.find(domain::TaskId(call.followup_task)); t != c.state.tasks.end()) {
        followup = domain::to_json(t->second);
      }
    }
  } catch (const muster::store::SqliteError& e) {
    return fail(Errc::unavailable, std::string("storage failed: ") + e.what());
  }
  r.body = {{"call", domain::to_json(call)},
            {"notes", notes},
            {"notes_purged", call.notes_purged},
            {"followup", followup},
            {"followup_note", followup_note}};
  return r;
}

}  // namespace musterd
