#include "muster/domain/notice.hpp"

#include "muster/domain/fields.hpp"
#include "muster/domain/limits.hpp"

namespace muster::domain {

namespace {
}

bool is_notice_op(std::string_view kind) { return kind == "notice.post" || kind == "notice.ack"; }

Json to_json(const Notice& n) {
  return Json{{"id", n.id},         {"area", n.area},
              {"text", n.text},     {"priority", to_string(n.priority)},
              {"ack", n.ack_required}, {"author", n.author},
              {"posted_at", n.posted_at}};
}

std::optional<Notice> notice_from_json(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Notice n;
    n.id = j.at("id").get<std::string>();
    n.area = j.at("area").get<std::string>();
    n.text = j.at("text").get<std::string>();
    auto p = priority_from_string(j.value("priority", "normal"));
    if (!p) return std::nullopt;
    n.priority = *p;
    n.ack_required = j.value("ack", false);
    n.author = j.value("author", "");
    n.posted_at = j.value("posted_at", "");
    return n;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

Result<std::vector<Draft>> apply_notice_op(const NoticeBook& notices, const Op& op, const Context& ctx) {
  Fields f(op.body);
  if (op.kind == "notice.post") {
    auto area = f.required_string("area", kMaxAreaBytes);
    auto text = f.required_string("text", kMaxNoticeBytes);
    auto priority_text = f.optional_string("priority", kMaxWordBytes);
    auto ack = f.optional_bool("ack");
    if (!f.ok()) return f.error();
    if (!valid_area_path(*area)) return make_error(Errc::invalid, "invalid area path '" + *area + "'");
    if (text->empty()) return make_error(Errc::invalid, "text must not be empty");
    Priority priority = Priority::normal;
    if (priority_text) {
      auto p = priority_from_string(*priority_text);
      if (!p) return make_error(Errc::invalid, "priority must be low, normal, high or urgent");
      priority = *p;
    }
    if (!manages(ctx.actor, *area)) {
      return make_error(Errc::forbidden, ctx.actor.name + " may not post notices to " + *area);
    }
    if (auto exists = ctx.directory.area_exists(*area); exists && !*exists) {
      return make_error(Errc::invalid, "unknown area '" + *area + "'");
    }
    if (notices.count(op.id.str())) return make_error(Errc::conflict, "notice " + op.id.str() + " already exists");
    Notice n;
    n.id = op.id.str();
    n.area = *area;
    n.text = *text;
    n.priority = priority;
    n.ack_required = ack.value_or(false);
    n.author = ctx.actor.name;
    n.posted_at = format_utc(ctx.now);
    return std::vector<Draft>{Draft{area_scope(n.area), "notice.posted", to_json(n)}};
  }
  if (op.kind == "notice.ack") {
    auto id = f.required_string("notice", kMaxIdBytes);
    if (!f.ok()) return f.error();
    auto it = notices.find(*id);
    if (it == notices.end() || !can_see(ctx.actor, area_scope(it->second.area))) {
      return make_error(Errc::not_found, "no notice " + *id);
    }
    if (it->second.acked_by.count(ctx.actor.name)) return std::vector<Draft>{};
    return std::vector<Draft>{Draft{user_scope(ctx.actor.name), "notice.acked", Json{{"notice", *id}}}};
  }
  return make_error(Errc::invalid, "unknown op kind '" + op.kind + "'");
}

std::string fold_notice_event(NoticeBook& notices, const Event& event) {
  if (event.kind == "notice.posted") {
    auto n = notice_from_json(event.body);
    if (!n) return "";
    std::string id = n->id;
    auto& slot = notices[id];
    // Acks and follow-ups are in other scopes and may have been folded first.
    auto acked = std::move(slot.acked_by);
    auto chased = std::move(slot.chased);
    slot = std::move(*n);
    slot.acked_by = std::move(acked);
    slot.chased = std::move(chased);
    return id;
  }
  const bool acked = event.kind == "notice.acked";
  if (!acked && event.kind != "notice.resent" && event.kind != "notice.escalated") return "";
  auto id = event.body.find("notice");
  if (id == event.body.end() || !id->is_string()) return "";
  auto& n = notices[id->get<std::string>()];
  if (n.id.empty()) n.id = id->get<std::string>();
  if (acked) {
    n.acked_by.insert(event.actor);
  } else {
    n.chased.insert(event.kind == "notice.resent" ? "resent" : "escalated");
  }
  return n.id;
}

}  // namespace muster::domain
