#include "musterd/engine.hpp"

#include <unordered_map>

#include "muster/base/ulid.hpp"

namespace musterd {

using muster::Errc;
using muster::make_error;
namespace domain = muster::domain;
namespace protocol = muster::protocol;

namespace {

std::string ack_frame(const std::string& id, const muster::Error* error, const nlohmann::json& state) {
  protocol::Ack ack;
  ack.id = id;
  ack.ok = error == nullptr;
  if (error) ack.error = *error;
  ack.state = state;
  return protocol::encode(protocol::ServerFrame{ack});
}

// On a conflict the client rolls back to the server's view: send it the object.
nlohmann::json current_state(const domain::State& state, const domain::Op& op) {
  for (const char* key : {"task", "notice"}) {
    auto it = op.body.find(key);
    if (it == op.body.end() || !it->is_string()) continue;
    const auto& id = it->get_ref<const std::string&>();
    if (std::string(key) == "task") {
      if (auto t = state.tasks.find(id); t != state.tasks.end()) return domain::to_json(t->second);
    } else if (auto n = state.notices.find(id); n != state.notices.end()) {
      return domain::to_json(n->second);
    }
  }
  return nullptr;
}

}  // namespace

Engine::Engine(LogStore& log, const muster::Clock& clock)
    : log_(log), clock_(clock), directory_(std::make_shared<const Directory>(std::vector<UserRecord>{},
                                                                             std::vector<std::string>{})) {}

void Engine::load() {
  state_ = {};
  log_.for_each_event([this](const domain::Event& e) { domain::fold(state_, e); });
  heads_ = log_.scope_heads();
  gseq_ = log_.last_gseq();
}

std::int64_t Engine::head(const std::string& scope) const {
  auto it = heads_.find(scope);
  return it == heads_.end() ? 0 : it->second;
}

std::vector<std::pair<std::string, std::int64_t>> Engine::replay_start(const UserRecord& user,
                                                                       const protocol::Cursors& cursors) const {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (auto& scope : domain::visible_scopes(user.actor(), directory_->areas())) {
    auto c = cursors.find(scope);
    const std::int64_t from = std::min(c == cursors.end() ? std::int64_t{0} : c->second, head(scope));
    out.emplace_back(std::move(scope), from);
  }
  return out;
}

muster::Result<Batch> Engine::commit(const std::vector<Submission>& batch) {
  Batch out;
  out.decisions.reserve(batch.size());
  const std::string now_text = muster::format_utc(clock_.now_ms());
  try {
    muster::store::Transaction tx(log_.db());
    // Ops repeated inside one batch get the first answer, like ops repeated later;
    // the same id from another user is refused by decide(), as it would be later.
    std::unordered_map<std::string, std::size_t> seen;
    for (const auto& s : batch) {
      if (auto it = seen.find(s.op.id); it != seen.end() && batch[it->second].user == s.user) {
        Decision again = out.decisions[it->second];
        again.origin = s.origin;
        again.fresh = false;
        out.decisions.push_back(std::move(again));
        continue;
      }
      seen.emplace(s.op.id, out.decisions.size());
      out.decisions.push_back(decide(s, out.events, now_text));
    }
    tx.commit();
  } catch (const muster::store::SqliteError& e) {
    // The state already holds this batch's effects: rebuild it from what is durable.
    load();
    return make_error(Errc::unavailable, std::string("storage failed, nothing was saved: ") + e.what());
  }
  return out;
}

Decision Engine::decide(const Submission& s, std::vector<Delivery>& out, const std::string& now_text) {
  Decision d;
  d.origin = s.origin;
  d.op_id = s.op.id;

  if (!muster::is_ulid(s.op.id)) {
    // Not recorded: without a valid id there is nothing to be idempotent about.
    muster::Error e = make_error(Errc::invalid, "op id must be a ULID");
    d.ack = ack_frame(s.op.id, &e, nullptr);
    return d;
  }
  if (auto stored = log_.find_op(s.op.id)) {
    if (stored->actor == s.user) {
      d.ack = stored->ack;
      d.ok = stored->ok;
      return d;
    }
    muster::Error e = make_error(Errc::invalid, "op id " + s.op.id + " was already used by another user");
    d.ack = ack_frame(s.op.id, &e, nullptr);
    return d;
  }

  d.fresh = true;
  const UserRecord* user = directory_->user(s.user);
  muster::Result<std::vector<domain::Draft>> drafts = make_error(Errc::forbidden, s.user + " is disabled");
  if (user && !user->disabled) {
    domain::Actor actor = user->actor();
    drafts = domain::apply(state_, s.op, domain::Context{actor, clock_.now_ms(), *directory_});
  }
  if (!drafts) {
    const auto& err = drafts.error();
    d.ack = ack_frame(s.op.id, &err, err.code == Errc::conflict ? current_state(state_, s.op) : nlohmann::json());
    log_.record_op(s.op.id, s.user, s.device, s.op.kind, false, d.ack, now_text);
    return d;
  }

  for (auto& draft : *drafts) {
    Delivery del;
    domain::Event& e = del.event;
    e.scope = std::move(draft.scope);
    e.seq = ++heads_[e.scope];
    e.gseq = ++gseq_;
    e.id = ids_.next(clock_.now_ms());
    e.op = s.op.id;
    e.kind = std::move(draft.kind);
    e.actor = s.user;
    e.at = now_text;
    e.body = std::move(draft.body);
    del.frame = protocol::encode_event(e);
    log_.append_event(e, del.frame);
    domain::fold(state_, e);
    out.push_back(std::move(del));
  }
  d.ok = true;
  d.ack = ack_frame(s.op.id, nullptr, nullptr);
  log_.record_op(s.op.id, s.user, s.device, s.op.kind, true, d.ack, now_text);
  return d;
}

protocol::QueryResult Engine::query(const std::string& user, const protocol::Query& q) const {
  protocol::QueryResult r;
  r.id = q.id;
  const UserRecord* u = directory_->user(user);
  if (!u || u->disabled) {
    r.ok = false;
    r.error = make_error(Errc::forbidden, user + " is disabled");
    return r;
  }
  if (q.name == "notice.status") return notice_status(u->actor(), q);
  r.ok = false;
  r.error = make_error(Errc::invalid, "unknown query '" + q.name + "'");
  return r;
}

protocol::QueryResult Engine::notice_status(const domain::Actor& actor, const protocol::Query& q) const {
  protocol::QueryResult r;
  r.id = q.id;
  auto fail = [&](Errc code, std::string message) {
    r.ok = false;
    r.error = make_error(code, std::move(message));
    return r;
  };
  auto id_it = q.args.find("notice");
  if (id_it == q.args.end() || !id_it->is_string()) return fail(Errc::invalid, "notice.status needs args.notice");
  const std::string id = id_it->get<std::string>();
  auto it = state_.notices.find(id);
  if (it == state_.notices.end() || it->second.area.empty() ||
      !domain::can_see(actor, domain::area_scope(it->second.area))) {
    return fail(Errc::not_found, "no notice " + id);
  }
  const domain::Notice& n = it->second;
  if (n.author != actor.name && !domain::manages(actor, n.area)) {
    return fail(Errc::forbidden, "only the author or a lead of " + n.area + " may see who acknowledged");
  }
  // Recipients: every enabled user but the author whose home is the notice's area or
  // below it (notices flow down; leads above it can read it but are not its audience),
  // grouped by their home area.
  struct Tally {
    int recipients = 0;
    int acked = 0;
    std::vector<std::string> missing;
  };
  std::map<std::string, Tally> by_area;
  Tally total;
  for (const auto& [name, rec] : directory_->users()) {
    if (rec.disabled || name == n.author || rec.roles.has(domain::Role::plugin)) continue;
    if (!domain::area_contains(n.area, rec.area)) continue;
    Tally& t = by_area[rec.area];
    const bool acked = n.acked_by.count(name) > 0;
    for (Tally* x : {&t, &total}) {
      ++x->recipients;
      if (acked) {
        ++x->acked;
      } else {
        x->missing.push_back(name);
      }
    }
  }
  nlohmann::json areas = nlohmann::json::array();
  for (const auto& [area, t] : by_area) {
    areas.push_back({{"area", area}, {"recipients", t.recipients}, {"acked", t.acked}, {"missing", t.missing}});
  }
  r.body = {{"notice", n.id},         {"area", n.area},        {"text", n.text},
            {"ack", n.ack_required},  {"recipients", total.recipients}, {"acked", total.acked},
            {"missing", total.missing}, {"by_area", areas}};
  return r;
}

}  // namespace musterd
