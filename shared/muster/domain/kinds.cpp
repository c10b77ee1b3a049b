#include "muster/domain/kinds.hpp"

#include <set>

#include "muster/domain/state.hpp"

namespace muster::domain {

namespace {

// A book's object as JSON, or null.
template <typename Book>
Json show_in(const Book& book, const typename Book::key_type& id) {
  auto it = book.find(id);
  return it == book.end() ? Json() : to_json(it->second);
}

std::string text_of(const std::string& id) { return id; }
template <typename Tag>
std::string text_of(const Id<Tag>& id) {
  return id.str();
}

template <typename Book>
std::vector<std::string> ids_in(const Book& book) {
  std::vector<std::string> out;
  out.reserve(book.size());
  for (const auto& entry : book) out.push_back(text_of(entry.first));
  return out;
}

// A reducer returning the id it touched, as an ObjectRef of `kind`.
ObjectRef touched(std::string_view kind, std::string id) {
  return id.empty() ? ObjectRef{} : ObjectRef{std::string(kind), std::move(id)};
}

// A notice on the client keeps who acknowledged it and its follow-ups, which to_json
// leaves out; one acknowledged before its post arrived has only those (and no area).
Json save_notice(const State& s, const std::string& id) {
  const Notice& n = s.notices.at(id);
  if (n.area.empty()) return Json{{"id", n.id}, {"acked_by", n.acked_by}, {"chased", n.chased}};
  Json j = to_json(n);
  j["acked_by"] = n.acked_by;
  j["chased"] = n.chased;
  return j;
}

void load_notice(State& s, const Json& j) {
  if (auto n = notice_from_json(j)) {
    n->acked_by = j.value("acked_by", std::set<std::string>{});
    n->chased = j.value("chased", std::set<std::string>{});
    s.notices[n->id] = std::move(*n);
  } else if (j.is_object() && j.contains("id") && j["id"].is_string()) {  // acknowledged before its post arrived
    auto& slot = s.notices[j["id"].get<std::string>()];
    slot.id = j["id"].get<std::string>();
    slot.acked_by = j.value("acked_by", std::set<std::string>{});
    slot.chased = j.value("chased", std::set<std::string>{});
  }
}

Result<std::vector<Draft>> apply_headcount(const State& s, const Op& op, const Context& ctx) {
  return apply_headcount_op(s.headcount, op, ctx);
}
ObjectRef fold_headcount(State& s, const Event& e) { return fold_headcount_event(s.headcount, e); }

std::vector<ObjectKind> make_kinds() {
  std::vector<ObjectKind> rows;
  rows.push_back(ObjectKind{
      "task",
      {"task.create", "task.claim", "task.accept", "task.decline", "task.start", "task.done", "task.fail",
       "task.cancel"},
      {"task."},
      "task",
      [](const State& s, const Op& op, const Context& ctx) { return apply_task_op(s.tasks, op, ctx); },
      [](State& s, const Event& e) { return touched("task", fold_task_event(s.tasks, e).str()); },
      [](const State& s, const std::string& id) { return show_in(s.tasks, TaskId(id)); },
      [](const State& s, const std::string& id) { return to_json(s.tasks.at(TaskId(id))); },
      [](State& s, const Json& j) {
        if (auto t = task_from_json(j)) s.tasks[t->id] = std::move(*t);
      },
      [](const State& s) { return ids_in(s.tasks); }});
  rows.push_back(ObjectKind{
      "notice",
      {"notice.post", "notice.ack"},
      {"notice."},
      "notice",
      [](const State& s, const Op& op, const Context& ctx) { return apply_notice_op(s.notices, op, ctx); },
      [](State& s, const Event& e) { return touched("notice", fold_notice_event(s.notices, e)); },
      [](const State& s, const std::string& id) { return show_in(s.notices, id); },
      save_notice,
      load_notice,
      [](const State& s) { return ids_in(s.notices); }});
  rows.push_back(ObjectKind{
      "message",
      {"message.send"},
      {"message."},
      "",
      [](const State& s, const Op& op, const Context& ctx) { return apply_message_op(s.messages, op, ctx); },
      [](State& s, const Event& e) { return touched("message", fold_message_event(s.messages, e)); },
      [](const State& s, const std::string& id) { return show_in(s.messages, id); },
      [](const State& s, const std::string& id) { return to_json(s.messages.at(id)); },
      [](State& s, const Json& j) {
        if (auto m = message_from_json(j)) {
          // Kept by an older client: it has no received_at, and its sent_at was the
          // server's time then (every record in the store came from the server).
          if (m->received_at.empty()) m->received_at = m->sent_at;
          s.messages[m->id] = std::move(*m);
        }
      },
      [](const State& s) { return ids_in(s.messages); }});
  rows.push_back(ObjectKind{
      "shift",
      {"shift.add", "shift.signup", "shift.withdraw", "shift.swap", "shift.swap_accept", "shift.swap_decline",
       "shift.checkin", "shift.checkout"},
      {"shift."},
      "shift",
      [](const State& s, const Op& op, const Context& ctx) { return apply_shift_op(s.shifts, op, ctx); },
      [](State& s, const Event& e) { return touched("shift", fold_shift_event(s.shifts, e)); },
      [](const State& s, const std::string& id) { return show_in(s.shifts, id); },
      [](const State& s, const std::string& id) { return to_json(s.shifts.at(id)); },
      [](State& s, const Json& j) {
        if (auto sh = shift_from_json(j)) s.shifts[sh->id] = std::move(*sh);
      },
      [](const State& s) { return ids_in(s.shifts); }});
  // Households, rounds and marks share one reducer (the head-count's books): each row
  // routes to it and it returns the object it touched.
  rows.push_back(ObjectKind{
      "household",
      {},  // imported by an admin, published by the server: no op makes one
      {"household."},
      "",
      apply_headcount,
      fold_headcount,
      [](const State& s, const std::string& id) { return show_in(s.headcount.households, id); },
      [](const State& s, const std::string& id) { return to_json(s.headcount.households.at(id)); },
      [](State& s, const Json& j) {
        if (auto h = household_from_json(j)) s.headcount.households[h->id] = std::move(*h);
      },
      [](const State& s) { return ids_in(s.headcount.households); }});
  rows.push_back(ObjectKind{
      "mark",
      {"headcount.mark"},
      {"headcount.marked"},
      "",
      apply_headcount,
      fold_headcount,
      [](const State& s, const std::string& id) { return show_in(s.headcount.marks, id); },
      [](const State& s, const std::string& id) { return to_json(s.headcount.marks.at(id)); },
      [](State& s, const Json& j) {
        if (auto m = mark_from_json(j)) s.headcount.marks[mark_key(m->round, m->household)] = std::move(*m);
      },
      [](const State& s) { return ids_in(s.headcount.marks); }});
  rows.push_back(ObjectKind{
      "round",
      {"headcount.open", "headcount.close"},
      {"headcount."},
      "round",
      apply_headcount,
      fold_headcount,
      [](const State& s, const std::string& id) { return show_in(s.headcount.rounds, id); },
      [](const State& s, const std::string& id) { return to_json(s.headcount.rounds.at(id)); },
      [](State& s, const Json& j) {
        if (auto r = round_from_json(j)) s.headcount.rounds[r->id] = std::move(*r);
      },
      [](const State& s) { return ids_in(s.headcount.rounds); }});
  rows.push_back(ObjectKind{
      "call",
      {"hotline.log"},
      {"hotline."},
      "",
      [](const State& s, const Op& op, const Context& ctx) { return apply_hotline_op(s.calls, op, ctx); },
      [](State& s, const Event& e) { return touched("call", fold_hotline_event(s.calls, e)); },
      [](const State& s, const std::string& id) { return show_in(s.calls, id); },
      [](const State& s, const std::string& id) { return to_json(s.calls.at(id)); },
      [](State& s, const Json& j) {
        if (auto c = call_from_json(j)) s.calls[c->id] = std::move(*c);
      },
      [](const State& s) { return ids_in(s.calls); }});
  return rows;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

const std::vector<ObjectKind>& kinds() {
  static const std::vector<ObjectKind> rows = make_kinds();
  return rows;
}

const ObjectKind* find_kind(std::string_view name) {
  for (const auto& k : kinds()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const ObjectKind* kind_of_op(std::string_view op) {
  for (const auto& k : kinds()) {
    for (auto o : k.ops) {
      if (o == op) return &k;
    }
  }
  return nullptr;
}

const ObjectKind* kind_of_event(std::string_view event) {
  for (const auto& k : kinds()) {
    for (auto p : k.event_prefixes) {
      if (starts_with(event, p)) return &k;
    }
  }
  return nullptr;
}

}  // namespace muster::domain
