// Messages: direct (user to user) and area chat (SPEC §3). A direct message is one
// `message.sent` event in the recipient's inbox and one in the sender's (so the
// sender's other devices see it); an area message is one event in the area's scope.
#pragma once

#include <map>
#include <string>

#include "muster/base/result.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/event.hpp"

namespace muster::domain {

struct Message {
  std::string id;
  std::string from;
  std::string to;  // a user name, or "area:<path>"
  std::string text;
  std::string sent_at;
};

Json to_json(const Message& m);
std::optional<Message> message_from_json(const Json& j);

using MessageBook = std::map<std::string, Message>;  // ULID keys: in sending order

bool is_message_op(std::string_view kind);

// message.send {to, text}: `to` is a user name (who must exist) or "area:<path>"
// (which the sender must be able to see). A plugin may write only to those its
// grants list (ctx.grants; unchecked when unknown).
Result<std::vector<Draft>> apply_message_op(const MessageBook& messages, const Op& op, const Context& ctx);
std::string fold_message_event(MessageBook& messages, const Event& event);

}  // namespace muster::domain
