// Messages: direct (user to user) and area chat (SPEC §3). A direct message is one
// `message.sent` event in the recipient's inbox and one in the sender's (so the
// sender's other devices see it); an area message is one event in the area's scope.
//
// Order is the server's: a message is where the server received it (its event's gseq,
// and `at` as received_at), never where the sender's clock says. The sender's clock
// is kept as sent_at (the time in the op's id, which the sender's device made): a
// phone set to 1971 or 2090 shows that time, and its message still sorts as received.
#pragma once

#include <cstdint>
#include <map>
#include <vector>
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
  std::string sent_at;      // by the sender's clock (older logs: the server's)
  std::string received_at;  // by the server's clock: its event's `at`; empty until the server has it
  std::int64_t gseq = 0;    // the server's order: its event's gseq; 0 until the server has it
};

// The message as JSON; received_at and gseq only once set (so an op's drafts, made
// before the server numbers anything, do not carry them).
Json to_json(const Message& m);
std::optional<Message> message_from_json(const Json& j);

using MessageBook = std::map<std::string, Message>;  // by id (the sender's clock: not an order to show)

// The messages in the server's order: by received_at, then gseq; those it has not
// received yet (queued on this device) last, in the order they were made.
std::vector<const Message*> in_server_order(const MessageBook& messages);

bool is_message_op(std::string_view kind);

// message.send {to, text}: `to` is a user name (who must exist) or "area:<path>"
// (which the sender must be able to see). A plugin may write only to those its
// grants list (ctx.grants; unchecked when unknown).
Result<std::vector<Draft>> apply_message_op(const MessageBook& messages, const Op& op, const Context& ctx);
std::string fold_message_event(MessageBook& messages, const Event& event);

}  // namespace muster::domain
