// Notices: a coordinator's text to an area and everyone below it, optionally to be
// acknowledged (SPEC §3). One `notice.posted` event in the area's scope reaches
// every recipient (fan-out on read); each acknowledgement is a `notice.acked` event
// in the acknowledging user's inbox, so it costs one row, not one per recipient.
#pragma once

#include <map>
#include <set>
#include <string>

#include "muster/base/result.hpp"
#include "muster/domain/context.hpp"
#include "muster/domain/event.hpp"
#include "muster/domain/task.hpp"

namespace muster::domain {

struct Notice {
  std::string id;
  std::string area;
  std::string text;
  Priority priority = Priority::normal;
  bool ack_required = false;
  std::string author;
  std::string posted_at;
  std::set<std::string> acked_by;  // complete on the server; on a client, only its own user
  // The server's follow-ups of an urgent notice: "resent", "escalated" (complete on
  // the server; a client knows the ones that reached its user).
  std::set<std::string> chased;
};

Json to_json(const Notice& n);
std::optional<Notice> notice_from_json(const Json& j);

using NoticeBook = std::map<std::string, Notice>;

// notice.post, notice.ack
bool is_notice_op(std::string_view kind);

// notice.post {area, text, priority?, ack?}: managers of the area only.
// notice.ack {notice}: anyone who can see the notice; acknowledging twice is
// accepted and produces no second event.
Result<std::vector<Draft>> apply_notice_op(const NoticeBook& notices, const Op& op, const Context& ctx);
// Folds notice.posted, notice.acked and the server's own notice.resent {notice, text,
// area} (to each recipient who has not acknowledged) and notice.escalated {notice,
// areas, missing} (to the leads of the lagging areas).
std::string fold_notice_event(NoticeBook& notices, const Event& event);

}  // namespace muster::domain
