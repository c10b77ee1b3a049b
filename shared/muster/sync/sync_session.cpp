#include "muster/sync/sync_session.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace muster::sync {

namespace protocol = muster::protocol;

SyncSession::SyncSession(ClientStore& store, Identity identity, Credentials credentials, const Clock& clock)
    : store_(store), identity_(std::move(identity)), credentials_(std::move(credentials)), clock_(clock) {
  state_ = store_.load_state();
  cursors_ = store_.cursors();
}

SyncSession::~SyncSession() = default;

std::vector<std::string> SyncSession::start() {
  protocol::Hello h;
  h.user = identity_.user;
  h.device = identity_.device;
  h.cursors = cursors_;
  if (credentials_.password) {
    h.password = *credentials_.password;
  } else {
    h.token = identity_.token;
  }
  return {protocol::encode(protocol::ClientFrame{h})};
}

bool SyncSession::done() const {
  return welcomed_ && report_.caught_up && in_flight_.empty() && waiting_.empty() && backfilling_.empty();
}

bool SyncSession::is_waiting(const domain::OpId& id) const {
  return waiting_ids_.count(id) > 0;
}

void SyncSession::begin() {
  if (!tx_) tx_ = std::make_unique<store::Transaction>(store_.db());
}

void SyncSession::commit() {
  if (!tx_) return;
  // Cursors are written once per transaction, with the objects they account for.
  for (const auto& scope : dirty_cursors_) store_.save_cursor(scope, cursors_[scope]);
  dirty_cursors_.clear();
  tx_->commit();
  tx_.reset();
  uncommitted_ = 0;
}

std::string SyncSession::finish() {
  commit();
  return protocol::encode(protocol::ClientFrame{protocol::CursorFrame{cursors_}});
}

std::vector<std::string> SyncSession::push_new_ops() {
  std::vector<std::string> out;
  for (auto& entry : store_.outbox()) {
    if (in_flight_.count(entry.op.id) || is_waiting(entry.op.id)) continue;
    in_flight_.insert(entry.op.id);
    ++report_.pushed;
    out.push_back(protocol::encode(protocol::ClientFrame{protocol::OpFrame{std::move(entry.op)}}));
  }
  return out;
}

std::vector<std::string> SyncSession::resend_due() {
  if (probe_ || waiting_.empty() || !welcomed_ || clock_.now_ms() < retry_at_) return {};
  while (!waiting_.empty()) {
    const domain::OpId id = waiting_.front();
    waiting_.pop_front();
    waiting_ids_.erase(id);
    auto entry = store_.outbox_entry(id);
    if (!entry) continue;  // answered meanwhile (an answer to an earlier session)
    probe_ = id;
    in_flight_.insert(id);
    return {protocol::encode(protocol::ClientFrame{protocol::OpFrame{std::move(entry->op)}})};
  }
  return {};
}

Result<std::vector<std::string>> SyncSession::on_frame(std::string_view text) {
  auto decoded = protocol::decode_server_frame(text);
  if (!decoded) return make_error(Errc::invalid, "the server sent a bad frame: " + decoded.error().message);
  auto& frame = *decoded;

  if (auto* w = std::get_if<protocol::Welcome>(&frame)) {
    identity_.user = w->user;
    identity_.roles = w->roles;
    identity_.area = w->area;
    identity_.token = w->token;
    identity_.scopes = w->scopes;
    if (!w->tz.empty()) identity_.tz = w->tz;
    store_.save_identity(identity_);
    // Display names for the tables (README "The client"); an older server sends none.
    if (!w->people.empty()) store_.set_config("people", nlohmann::json(w->people).dump());
    welcomed_ = true;
    return push_new_ops();
  }
  // An error frame may come before the welcome (a refused or malformed hello): report
  // it as the server said it, not as a protocol violation.
  if (auto* err = std::get_if<protocol::ErrorFrame>(&frame)) {
    if (err->code == "unauthorized") return make_error(Errc::forbidden, err->message);
    // A hello refused for now (too many failed logins, the server busy): a refusal,
    // with the server's words, which say how long to wait.
    if (err->code == "rate_limited" && !welcomed_) {
      std::string refusal = "rate_limited: " + err->message;
      if (err->retry_after_ms && err->message.find("try again") == std::string::npos) {
        refusal += " (try again in " + std::to_string((*err->retry_after_ms + 999) / 1000) + " s)";
      }
      return make_error(Errc::forbidden, refusal);
    }
    return make_error(Errc::invalid, "server error " + err->code + ": " + err->message);
  }
  // Over MQTT a persistent session delivers what the broker queued for us (live events,
  // answers meant for an earlier connection) before the answer to this hello. Nothing
  // is lost by dropping it: the replay after the welcome starts from our cursors.
  if (!welcomed_) return std::vector<std::string>{};

  if (auto* ev = std::get_if<protocol::EventFrame>(&frame)) return handle_event(std::move(ev->event));
  if (auto* ack = std::get_if<protocol::Ack>(&frame)) {
    if (!in_flight_.count(ack->id)) return std::vector<std::string>{};  // an answer to an earlier session
    // The op's events arrived before its ack: make them durable before forgetting the op.
    commit();
    in_flight_.erase(ack->id);
    const bool probe = probe_ && *probe_ == ack->id;
    if (probe) probe_.reset();
    if (ack->ok) {
      ++report_.accepted;
      store_.remove_from_outbox(ack->id);
    } else if (ack->error && ack->error->code == Errc::unavailable) {
      ++report_.deferred;  // stays queued for the next sync
    } else if (ack->error && ack->error->code == Errc::rate_limited) {
      // Not a refusal: "later". It stays queued and goes again once the wait is over
      // (at least a little, so a server that names no wait is not hammered).
      ++report_.rate_limited;
      retry_at_ = clock_.now_ms() + std::max<UnixMs>(ack->error->retry_after_ms, 100);
      // The op sent again goes first again: the order of the outbox holds.
      if (probe) {
        waiting_.push_front(ack->id);
      } else {
        waiting_.push_back(ack->id);
      }
      waiting_ids_.insert(ack->id);
    } else {
      std::string kind;
      for (const auto& e : store_.outbox()) {
        if (e.op.id == ack->id) kind = e.op.kind;
      }
      Rejection r{ack->id, kind, ack->error.value_or(make_error(Errc::invalid, "rejected")),
                  format_utc(clock_.now_ms())};
      store::Transaction tx(store_.db());
      store_.record_rejection(r);
      store_.remove_from_outbox(ack->id);
      tx.commit();
      report_.rejected.push_back(std::move(r));
    }
    return std::vector<std::string>{};
  }
  if (std::holds_alternative<protocol::CaughtUp>(frame)) {
    commit();
    report_.caught_up = true;
    backfilling_.clear();
    return std::vector<std::string>{};
  }
  if (auto* result = std::get_if<protocol::QueryResult>(&frame)) {
    if (on_result) on_result(*result);
    return std::vector<std::string>{};
  }
  return std::vector<std::string>{};  // pong
}

std::vector<std::string> SyncSession::handle_event(domain::Event e) {
  auto& cursor = cursors_[e.scope];
  if (e.seq <= cursor) return {};  // already applied
  if (e.seq != cursor + 1) {
    // A gap: never apply out of order. Ask once for what is missing.
    if (backfilling_.insert(e.scope).second) {
      ++report_.backfills;
      return {protocol::encode(protocol::ClientFrame{protocol::Backfill{e.scope, cursor + 1}})};
    }
    return {};
  }
  begin();
  auto ref = domain::fold(state_, e);
  if (!ref.first.empty()) store_.save_object(state_, ref);
  // What the server decided for this user, beyond its object's change, waits in the inbox.
  if (auto alert = domain::alert_from_event(e)) store_.save_alert(*alert);
  cursor = e.seq;
  dirty_cursors_.insert(e.scope);
  ++report_.events;
  if (on_event) on_event(e);
  if (++uncommitted_ >= kCommitEvery) commit();
  return {};
}

}  // namespace muster::sync
