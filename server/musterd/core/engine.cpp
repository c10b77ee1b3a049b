#include "musterd/core/engine.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <unordered_map>

#include "muster/base/ulid.hpp"
#include "muster/base/utf8.hpp"
#include "musterd/core/queries/queries.hpp"

namespace musterd {

using muster::Errc;
using muster::make_error;
namespace domain = muster::domain;
namespace protocol = muster::protocol;

namespace {

std::string ack_frame(const domain::OpId& id, const muster::Error* error, const nlohmann::json& state) {
  protocol::Ack ack;
  ack.id = id;
  ack.ok = error == nullptr;
  if (error) ack.error = *error;
  ack.state = state;
  return protocol::encode(protocol::ServerFrame{ack});
}

std::string timer_key(const domain::ObjectRef& ref) { return ref.first + ":" + ref.second; }

// The most of a rejection's reason an ack (stored in the audit) carries.
constexpr std::size_t kMaxAuditMessageBytes = 1024;

constexpr muster::UnixMs kDay = 24LL * 60 * 60 * 1000;

// The notes a hotline.log carries, if any (empty notes are none, as for the reducer).
const std::string* hotline_notes_of(const domain::Op& op) {
  if (op.kind != "hotline.log") return nullptr;
  auto it = op.body.find("notes");
  if (it == op.body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return nullptr;
  return &it->get_ref<const std::string&>();
}

// The note a task op gives a hotline follow-up, if any: sealed like a call's notes, so
// that neither the event nor the log carries it (empty notes are none).
std::optional<std::string> followup_note_of(const domain::State& state, const domain::Op& op) {
  if (op.kind.rfind("task.", 0) != 0 || op.kind == "task.create" || !op.body.is_object()) return std::nullopt;
  auto task = op.body.find("task");
  auto note = op.body.find("note");
  if (task == op.body.end() || !task->is_string() || note == op.body.end() || !note->is_string()) return std::nullopt;
  if (note->get_ref<const std::string&>().empty()) return std::nullopt;
  auto it = state.tasks.find(domain::TaskId(task->get<std::string>()));
  if (it == state.tasks.end() || it->second.kind != domain::kHotlineFollowup) return std::nullopt;
  return note->get<std::string>();
}

domain::ObjectRef from_timer_key(const std::string& key) {
  const auto colon = key.find(':');
  return {key.substr(0, colon), key.substr(colon + 1)};
}

}  // namespace

Engine::Engine(LogStore& log, const muster::Clock& clock, domain::Policy policy)
    : log_(log),
      clock_(clock),
      policy_(std::move(policy)),
      directory_(std::make_shared<const Directory>(std::vector<UserRecord>{}, std::vector<std::string>{})) {}

void Engine::load() {
  state_ = {};
  log_.for_each_event([this](const domain::Event& e) { forget_if_kept_in_log(domain::fold(state_, e)); });
  heads_ = log_.scope_heads();
  gseq_ = log_.last_gseq();
  // Every pending deadline, from the state alone: including stages that fell due
  // while the server was down, which the first tick makes.
  wheel_ = muster::TimerWheel(clock_.now_ms());
  constexpr muster::UnixMs kDawn = std::numeric_limits<muster::UnixMs>::min();
  auto schedule = [this](const domain::ObjectRef& ref) {
    if (auto t = dispatcher_.next_check(state_, ref, kDawn)) wheel_.schedule(timer_key(ref), *t);
  };
  for (const auto& [id, t] : state_.tasks) {
    if (!domain::is_final(t.state)) schedule({"task", id.str()});
  }
  for (const auto& [id, n] : state_.notices) schedule({"notice", id});
  for (const auto& [id, sh] : state_.shifts) schedule({"shift", id});
  registry_pending_ = true;
  for (const auto& [id, c] : state_.calls) schedule({"call", id});
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

muster::Result<Batch> Engine::commit(const std::vector<Submission>& batch, const std::vector<Receipt>& receipts) {
  Batch out;
  out.decisions.reserve(batch.size());
  const muster::UnixMs now = clock_.now_ms();
  const std::string now_text = muster::format_utc(now);
  try {
    muster::store::Transaction tx(log_.db());
    // Ops repeated inside one batch get the first answer, like ops repeated later;
    // the same id from another user is refused by decide(), as it would be later.
    std::unordered_map<domain::OpId, std::size_t> seen;
    for (const auto& s : batch) {
      if (auto it = seen.find(s.op.id); it != seen.end() && batch[it->second].user == s.user) {
        Decision again = out.decisions[it->second];
        again.origin = s.origin;
        again.fresh = false;
        out.decisions.push_back(std::move(again));
        continue;
      }
      seen.emplace(s.op.id, out.decisions.size());
      out.decisions.push_back(decide(s, out.events, now, now_text));
    }
    for (const auto& r : receipts) log_.save_cursor(r.user, r.device, r.scope, r.seq, now_text);
    tx.commit();
  } catch (const muster::store::SqliteError& e) {
    // The state already holds this batch's effects: rebuild it from what is durable.
    load();
    return make_error(Errc::unavailable, std::string("storage failed, nothing was saved: ") + e.what());
  }
  return out;
}

muster::Result<Batch> Engine::tick() {
  const muster::UnixMs now = clock_.now_ms();
  auto keys = wheel_.advance(now);
  if (keys.empty() && !registry_pending_) return Batch{};
  const std::string now_text = muster::format_utc(now);
  Batch out;
  try {
    muster::store::Transaction tx(log_.db());
    // One id for this tick's moves: the events say what caused them.
    const domain::OpId op(ids_.next(now));
    if (registry_pending_) publish_registry(op, now_text, out.events);
    if (!keys.empty()) {
      std::vector<domain::ObjectRef> refs;
      refs.reserve(keys.size());
      for (const auto& key : keys) refs.push_back(from_timer_key(key));
      settle(std::move(refs), op, now, now_text, out.events);
    }
    tx.commit();
    registry_pending_ = false;
  } catch (const muster::store::SqliteError& e) {
    load();
    return make_error(Errc::unavailable, std::string("storage failed, nothing was saved: ") + e.what());
  }
  return out;
}

void Engine::publish_registry(const domain::OpId& op, const std::string& now_text, std::vector<Delivery>& out) {
  const auto& known = state_.headcount.households;
  for (const auto& [id, record] : directory_->households()) {
    domain::Household h{record.id, record.area, record.address, record.members, now_text};
    auto it = known.find(id);
    if (it == known.end()) {
      append(domain::Draft{domain::area_scope(h.area), "household.registered", domain::to_json(h)}, op, kServerActor,
             now_text, out);
      continue;
    }
    const domain::Household& was = it->second;
    if (was.area == h.area && was.address == h.address && was.members == h.members) continue;
    h.registered_at = was.registered_at;
    const std::string old_area = was.area;  // `was` changes with the first append
    const auto body = domain::to_json(h);
    append(domain::Draft{domain::area_scope(h.area), "household.updated", body}, op, kServerActor, now_text, out);
    // Those who knew it in its old building learn that it left.
    if (old_area != h.area) {
      append(domain::Draft{domain::area_scope(old_area), "household.updated", body}, op, kServerActor, now_text, out);
    }
  }
}

domain::ObjectRef Engine::append(domain::Draft draft, const domain::OpId& op, const std::string& actor,
                                 const std::string& now_text, std::vector<Delivery>& out) {
  Delivery del;
  domain::Event& e = del.event;
  e.scope = std::move(draft.scope);
  e.seq = ++heads_[e.scope];
  e.gseq = ++gseq_;
  e.id = ids_.next(clock_.now_ms());
  e.op = op;
  e.kind = std::move(draft.kind);
  e.actor = actor;
  e.at = now_text;
  e.body = std::move(draft.body);
  del.frame = protocol::encode_event(e);
  log_.append_event(e, del.frame);
  const bool copied = domain::copied_to_holders(e);
  std::vector<std::string> involved;
  if (copied) {
    if (auto t = state_.tasks.find(domain::TaskId(e.body.value("task", ""))); t != state_.tasks.end()) {
      involved = domain::task_holders(t->second);
    }
  }
  auto ref = domain::fold(state_, e);
  forget_if_kept_in_log(ref);
  const domain::Event event = e;
  out.push_back(std::move(del));
  if (copied && ref.first == "task") copy_to_holders(event, involved, now_text, out);
  return ref;
}

// Messages are append-only and nothing the server decides reads them: a repeated op id
// is caught by the audit (LogStore::find_op) before any reducer runs, and clients keep
// their own replica. So they live in the log alone, and the state holds none: its size
// no longer grows with every message sent (the shared reducer still folds them, as a
// client's does, and the fold is undone here).
void Engine::forget_if_kept_in_log(const domain::ObjectRef& ref) {
  if (ref.first == "message") state_.messages.erase(ref.second);
}

// The domain says which events reach a task's holders and what they say
// (domain::holder_copy); the directory says who cannot see them otherwise.
void Engine::copy_to_holders(const domain::Event& event, std::vector<std::string> involved,
                             const std::string& now_text, std::vector<Delivery>& out) {
  const domain::Task& t = state_.tasks.at(domain::TaskId(event.body.value("task", event.body.value("id", ""))));
  for (auto& name : domain::task_holders(t)) involved.push_back(std::move(name));
  std::sort(involved.begin(), involved.end());
  involved.erase(std::unique(involved.begin(), involved.end()), involved.end());
  for (const auto& name : involved) {
    const UserRecord* u = directory_->user(name);
    if (!u || domain::can_see(u->actor(), event.scope)) continue;
    append(domain::holder_copy(event, t, name), event.op, event.actor, now_text, out);
  }
}

void Engine::settle(std::vector<domain::ObjectRef> touched, const domain::OpId& op, muster::UnixMs now,
                    const std::string& now_text, std::vector<Delivery>& out) {
  std::set<domain::ObjectRef> seen(touched.begin(), touched.end());
  std::set<domain::ObjectRef> queue(touched.begin(), touched.end());
  // Each move records a stage, so this ends; the bound is a guard, not a limit.
  for (int round = 0; round < 64 && !queue.empty(); ++round) {
    std::set<domain::ObjectRef> next;
    for (const auto& ref : queue) {
      if (ref.first.empty()) continue;
      auto drafts = dispatcher_.due(state_, *directory_, ref, now);
      for (auto& d : drafts) {
        auto touched_ref = append(std::move(d), op, kServerActor, now_text, out);
        if (!touched_ref.first.empty()) next.insert(touched_ref);
      }
      if (!drafts.empty()) next.insert(ref);
    }
    seen.insert(next.begin(), next.end());
    queue = std::move(next);
  }
  for (const auto& ref : seen) {
    if (!ref.first.empty()) reschedule(ref, now);
  }
}

void Engine::reschedule(const domain::ObjectRef& ref, muster::UnixMs after) {
  if (auto t = dispatcher_.next_check(state_, ref, after)) {
    wheel_.schedule(timer_key(ref), *t);
  } else {
    wheel_.cancel(timer_key(ref));
  }
}

Decision Engine::decide(const Submission& s, std::vector<Delivery>& out, muster::UnixMs now,
                        const std::string& now_text) {
  Decision d;
  d.origin = s.origin;
  d.op_id = s.op.id;

  if (!muster::is_ulid(s.op.id.view())) {
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
    muster::Error e = make_error(Errc::invalid, "op id " + s.op.id.str() + " was already used by another user");
    d.ack = ack_frame(s.op.id, &e, nullptr);
    return d;
  }

  d.fresh = true;
  const UserRecord* user = directory_->user(s.user);
  muster::Result<std::vector<domain::Draft>> drafts = make_error(Errc::forbidden, s.user + " is disabled");
  // A follow-up's note goes to the vault: the reducer sees the op without it.
  const std::optional<std::string> followup_note = followup_note_of(state_, s.op);
  domain::Op without_note;
  if (followup_note) {
    without_note = s.op;
    without_note.body.erase("note");
  }
  if (user && !user->disabled) {
    domain::Actor actor = user->actor();
    static const domain::Grants kNoGrants;
    auto grants = grants_.find(s.user);
    drafts = domain::apply(state_, followup_note ? without_note : s.op,
                           domain::Context{actor, now, *directory_, &policy_,
                                           grants == grants_.end() ? &kNoGrants : &grants->second});
  }
  if (!drafts) {
    // The reason may quote what was sent; the ack is stored, so it is kept bounded.
    muster::Error err = drafts.error();
    err.message = std::string(muster::utf8_prefix(err.message, kMaxAuditMessageBytes));
    d.ack = ack_frame(s.op.id, &err, err.code == Errc::conflict ? domain::conflict_state(state_, s.op) : nlohmann::json());
    log_.record_op(s.op.id, s.user, s.device, s.op.kind, false, d.ack, now_text);
    return d;
  }

  if ((hotline_notes_of(s.op) || followup_note) && !vault_) {
    // Accepting the call without its notes would lose them; keeping them unsealed is
    // not an option. Not recorded: the same op can succeed once the key is there.
    muster::Error e = make_error(Errc::unavailable, "the hotline key is not loaded, so notes cannot be kept; try again later");
    d.ack = ack_frame(s.op.id, &e, nullptr);
    return d;
  }
  std::vector<domain::ObjectRef> touched;
  for (auto& draft : *drafts) {
    if (followup_note && draft.kind.rfind("task.", 0) == 0) draft.body["note_sealed"] = true;
    touched.push_back(append(std::move(draft), s.op.id, s.user, now_text, out));
  }
  if (hotline_notes_of(s.op)) keep_hotline_notes(s.op, now_text);
  if (followup_note) {
    // The last note given with the follow-up is the one kept, under the task's id.
    const SealedNote sealed = vault_->seal(*followup_note);
    const std::string task = s.op.body.at("task").get<std::string>();
    log_.delete_hotline_note(task);
    log_.save_hotline_note(task, StoredNote{sealed.nonce, sealed.box, now_text});
  }
  // The server's moves that follow at once (an offer after a decline) are part of the op.
  settle(std::move(touched), s.op.id, now, now_text, out);
  d.ok = true;
  d.ack = ack_frame(s.op.id, nullptr, nullptr);
  log_.record_op(s.op.id, s.user, s.device, s.op.kind, true, d.ack, now_text);
  return d;
}

protocol::QueryResult Engine::query(const std::string& user, const protocol::Query& q) const {
  const UserRecord* u = directory_->user(user);
  if (!u || u->disabled) return query_error(q, Errc::forbidden, user + " is disabled");
  const domain::Actor actor = u->actor();
  return answer_query(QueryContext{actor, state_, *directory_, log_, vault_.get()}, q);
}

void Engine::keep_hotline_notes(const domain::Op& op, const std::string& now_text) {
  const SealedNote sealed = vault_->seal(*hotline_notes_of(op));
  log_.save_hotline_note(op.id.str(), StoredNote{sealed.nonce, sealed.box, now_text});
}

muster::Result<HotlinePurge> Engine::purge_hotline_notes(int older_than_days, const std::string& request) {
  if (older_than_days < 0) return make_error(Errc::invalid, "--older-than takes a number of days, 0 or more");
  if (!muster::is_ulid(request)) return make_error(Errc::invalid, "a purge request id must be a ULID");
  const muster::UnixMs now = clock_.now_ms();
  const std::string now_text = muster::format_utc(now);
  HotlinePurge out;
  out.request = request;
  out.older_than_days = older_than_days;
  out.before = muster::format_utc(now - older_than_days * kDay);
  try {
    muster::store::Transaction tx(log_.db());
    auto done = nlohmann::json::parse(log_.meta(kHotlinePurgeMeta), nullptr, false);
    if (done.is_object() && done.value("request", "") == request) {
      out.repeated = true;
      out.before = done.value("before", "");
      out.older_than_days = done.value("older_than_days", 0);
      out.calls = done.value("calls", std::vector<std::string>{});
      return out;
    }
    out.calls = log_.hotline_notes_before(out.before);
    for (const auto& call : out.calls) {
      log_.delete_hotline_note(call);
      append(domain::Draft{domain::role_scope(domain::to_string(domain::Role::hotline)), "hotline.purged",
                           nlohmann::json{{"call", call}, {"older_than_days", older_than_days}, {"before", out.before}}},
             domain::OpId(request), kServerActor, now_text, out.batch.events);
    }
    log_.set_meta(kHotlinePurgeMeta, nlohmann::json{{"request", request},
                                                    {"deleted", out.calls.size()},
                                                    {"calls", out.calls},
                                                    {"before", out.before},
                                                    {"older_than_days", older_than_days},
                                                    {"at", now_text}}
                                         .dump());
    tx.commit();
  } catch (const muster::store::SqliteError& e) {
    load();
    return make_error(Errc::unavailable, std::string("storage failed, nothing was purged: ") + e.what());
  }
  // The deleted boxes were overwritten in the pages (secure_delete), but the write-ahead
  // log still holds older copies of those pages until it is reset: empty it now. A
  // reader in the way only delays this to the next checkpoint; nothing depends on it.
  try {
    log_.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const muster::store::SqliteError&) {
  }
  return out;
}

}  // namespace musterd
