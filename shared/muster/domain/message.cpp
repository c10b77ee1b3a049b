#include "muster/domain/message.hpp"

#include <algorithm>

#include "muster/base/ulid.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/fields.hpp"
#include "muster/domain/limits.hpp"

namespace muster::domain {

namespace {
}

bool is_message_op(std::string_view kind) { return kind == "message.send"; }

Json to_json(const Message& m) {
  Json j{{"id", m.id}, {"from", m.from}, {"to", m.to}, {"text", m.text}, {"sent_at", m.sent_at}};
  if (!m.received_at.empty()) j["received_at"] = m.received_at;
  if (m.gseq > 0) j["gseq"] = m.gseq;
  return j;
}

std::optional<Message> message_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Message m{j.at("id").get<std::string>(), j.at("from").get<std::string>(), j.at("to").get<std::string>(),
              j.at("text").get<std::string>(), j.value("sent_at", ""), j.value("received_at", ""), 0};
    if (auto g = j.find("gseq"); g != j.end() && g->is_number_integer()) m.gseq = g->get<std::int64_t>();
    return m;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::vector<const Message*> in_server_order(const MessageBook& messages) {
  std::vector<const Message*> out;
  out.reserve(messages.size());
  for (const auto& [id, m] : messages) out.push_back(&m);
  // Received first, by the server's time (seconds), then its number within a second;
  // the not yet received (empty received_at) keep the book's order, after them.
  std::stable_sort(out.begin(), out.end(), [](const Message* a, const Message* b) {
    if (a->received_at.empty() != b->received_at.empty()) return b->received_at.empty();
    if (a->received_at != b->received_at) return a->received_at < b->received_at;
    return a->gseq < b->gseq;
  });
  return out;
}

Result<std::vector<Draft>> apply_message_op(const MessageBook& messages, const Op& op, const Context& ctx) {
  if (op.kind != "message.send") return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
  Fields f(op.body);
  auto to = f.required_string("to", kMaxRecipientBytes);
  auto text = f.required_string("text", kMaxMessageBytes);
  if (!f.ok()) return f.error();
  if (text->empty()) return make_error(Errc::invalid, "text must not be empty");
  if (messages.count(op.id.str())) return make_error(Errc::conflict, "message " + op.id.str() + " already exists");

  if (ctx.actor.roles.has(Role::plugin) && ctx.grants) {
    const auto& allowed = ctx.grants->message_to;
    if (std::find(allowed.begin(), allowed.end(), *to) == allowed.end()) {
      return make_error(Errc::forbidden, ctx.actor.name + " is a plugin: it may send messages only to those its config "
                                                          "lists in message_to");
    }
  }
  // sent_at: when the sender's device made the op (its id's time), by that device's
  // clock; the server's time of receipt is the event's `at` (received_at once folded).
  const std::int64_t made = ulid_time_ms(op.id.view());
  Message m{op.id.str(), ctx.actor.name, *to, *text, format_utc(made >= 0 ? made : ctx.now), "", 0};
  if (to->rfind("area:", 0) == 0) {
    auto area = to->substr(5);
    if (!valid_area_path(area)) return make_error(Errc::invalid, "invalid area path '" + area + "'");
    if (!can_see(ctx.actor, *to)) return make_error(Errc::forbidden, ctx.actor.name + " may not write to " + *to);
    if (auto exists = ctx.directory.area_exists(area); exists && !*exists) {
      return make_error(Errc::invalid, "unknown area '" + area + "'");
    }
    return std::vector<Draft>{Draft{*to, "message.sent", to_json(m)}};
  }
  if (!valid_user_name(*to)) return make_error(Errc::invalid, "'" + *to + "' is neither a user nor area:PATH");
  if (auto found = ctx.directory.find_user(*to); found && !*found) {
    return make_error(Errc::not_found, "no user " + *to);
  }
  std::vector<Draft> out{Draft{user_scope(*to), "message.sent", to_json(m)}};
  if (*to != ctx.actor.name) out.push_back(Draft{user_scope(ctx.actor.name), "message.sent", to_json(m)});
  return out;
}

std::string fold_message_event(MessageBook& messages, const Event& event) {
  if (event.kind != "message.sent") return "";
  auto m = message_from_json(event.body);
  if (!m) return "";
  // The server's knowledge, from the event (never from the body), once the server has
  // numbered it: a device's own queued message (gseq 0) is not received yet.
  if (event.gseq > 0) {
    m->received_at = event.at;
    m->gseq = event.gseq;
  }
  std::string id = m->id;
  messages[id] = std::move(*m);
  return id;
}

}  // namespace muster::domain
