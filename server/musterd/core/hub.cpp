#include "musterd/core/hub.hpp"

#include <algorithm>

#include "musterd/core/credentials.hpp"
#include "musterd/core/log.hpp"
#include "musterd/core/subscriber.hpp"

namespace musterd {

namespace protocol = muster::protocol;
using SteadyClock = std::chrono::steady_clock;

Hub::Hub(Loop& loop, Engine& engine, LogStore& log, DirectoryStore& directory, const muster::Clock& clock,
         Metrics& metrics, HubOptions options)
    : loop_(loop),
      engine_(engine),
      log_(log),
      directory_store_(directory),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      limiter_(engine.policy().limits),
      timers_(loop.make_timer()),
      directory_job_(loop.make_timer()),
      throttle_(options_.throttle) {
  if (!options_.check_password) {
    options_.check_password = [](const std::string& password, const std::string& hash) {
      return verify_password(password, hash);
    };
    // The same parameters as every stored hash (hash_password), so it takes as long.
    dummy_hash_ = hash_password(new_token());
  } else {
    dummy_hash_ = "dummy";
  }
}

Hub::~Hub() = default;

void Hub::start() {
  metrics_.log_events = log_.count_events();
  poll_directory();
  run_timers();  // the tick that reading the directory posted finds this one done and skips
}

void Hub::stop() {
  if (stopping_) return;
  flush();
  stopping_ = true;
  checkpoint_log();
  timers_->cancel();
  directory_job_->cancel();
  // end() may make an adapter drop its session: walk a copy.
  std::vector<std::uint64_t> ids;
  for (const auto& [id, s] : sessions_) ids.push_back(id);
  for (auto id : ids) {
    if (Subscriber* s = find(id)) s->end(CloseReason::stopping, "server stopping");
  }
}

// ---------------------------------------------------------------- sessions

std::uint64_t Hub::attach(Subscriber& s) {
  const std::uint64_t id = next_id_++;
  sessions_.emplace(id, &s);
  return id;
}

void Hub::detach(Subscriber& s) {
  for (const auto& scope : s.scopes()) {
    auto w = watchers_.find(scope);
    if (w == watchers_.end()) continue;
    w->second.erase(s.id());
    if (w->second.empty()) watchers_.erase(w);
  }
  sessions_.erase(s.id());
}

Subscriber* Hub::find(std::uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void Hub::watch(Subscriber& s, const std::vector<std::string>& scopes) {
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    it->second.erase(s.id());
    it = it->second.empty() ? watchers_.erase(it) : std::next(it);
  }
  for (const auto& scope : scopes) watchers_[scope].insert(s.id());
}

// A plugin's account is for the plugin host, which vouches for it (musterd serve --plugin):
// its password or a token must not open a session as a person's client would. Said only
// to whoever gave the right credentials.
bool Hub::refuse_plugin_account(Subscriber& s, const UserRecord& user) {
  if (!user.roles.has(muster::domain::Role::plugin)) return false;
  ++metrics_.auth_failures;
  s.login_failed(CloseReason::auth_failed,
                 "plugin accounts log in only through the plugin host (musterd serve --plugin)");
  return true;
}

void Hub::authenticate(Subscriber& s, protocol::Hello hello) {
  refresh_directory();
  if (hello.token) {
    // A token is a digest lookup: no need to leave the loop.
    const UserRecord* user = engine_.directory().user(hello.user);
    std::optional<TokenRecord> rec;
    try {
      rec = log_.find_token(token_digest(*hello.token));
    } catch (const muster::store::SqliteError& e) {
      s.login_failed(CloseReason::storage, "storage unavailable");
      return;
    }
    if (!rec || rec->user != hello.user || rec->device != hello.device || !user || user->disabled) {
      ++metrics_.auth_failures;
      s.login_failed(CloseReason::auth_failed, "authentication failed");
      return;
    }
    if (refuse_plugin_account(s, *user)) return;
    s.logged_in(*user, hello.device, *hello.token, hello.cursors);
    return;
  }
  const std::string address = s.rules().peer_address;
  if (auto refusal = throttle_.check(hello.user, address, SteadyClock::now())) {
    ++metrics_.logins_throttled;
    std::string why;
    switch (refusal->why) {
      case LoginThrottle::Why::user_address: why = "for " + hello.user + " from " + address; break;
      case LoginThrottle::Why::address: why = "from " + address; break;
      case LoginThrottle::Why::user: why = "for " + hello.user + " from several addresses"; break;
    }
    refuse_for_now(s, refusal->wait, "too many failed logins " + why);
    return;
  }
  // The workers are busy: say so now rather than queue without end.
  if (logins_pending_ >= options_.max_pending_logins) {
    ++metrics_.logins_busy;
    refuse_for_now(s, std::chrono::seconds(1), "the server is busy checking other logins");
    return;
  }
  const UserRecord* user = engine_.directory().user(hello.user);
  // An unknown name, or a user without a password (token only), is checked against the
  // dummy: every wrong hello costs one argon2id, whatever the name.
  const bool known = user && !user->password_hash.empty();
  std::string hash = known ? user->password_hash : dummy_hash_;
  // argon2id takes a while by design: check it off the loop, then come back.
  auto ok = std::make_shared<bool>(false);
  // Taken apart before the calls: the order in which arguments are made is unspecified.
  auto work = [ok, known, check = options_.check_password, password = *hello.password, hash = std::move(hash)] {
    const bool matches = check(password, hash);
    *ok = known && matches;
  };
  ++logins_pending_;
  metrics_.logins_pending = logins_pending_;
  loop_.offload(
      std::move(work),
      [this, ok, address, id = s.id(), hello = std::move(hello)] {
        --logins_pending_;
        metrics_.logins_pending = logins_pending_;
        if (stopping_) return;
        refresh_directory();
        const UserRecord* u = engine_.directory().user(hello.user);
        const bool good = *ok && u && !u->disabled;
        if (good) {
          throttle_.succeeded(hello.user, address);
        } else {
          throttle_.failed(hello.user, address, SteadyClock::now());
        }
        // Counted even if the peer has gone: hanging up before the answer saves no guesser a failure.
        Subscriber* again = find(id);
        if (!again) return;
        if (!good) {
          ++metrics_.auth_failures;
          again->login_failed(CloseReason::auth_failed, "authentication failed");
          return;
        }
        if (refuse_plugin_account(*again, *u)) return;
        const std::string token = new_token();
        try {
          log_.save_token(token_digest(token), u->name, hello.device, muster::format_utc(clock_.now_ms()));
        } catch (const muster::store::SqliteError& e) {
          again->login_failed(CloseReason::storage, "storage unavailable");
          return;
        }
        again->logged_in(*u, hello.device, token, hello.cursors);
      });
}

void Hub::refuse_for_now(Subscriber& s, std::chrono::milliseconds wait, const std::string& why) {
  const auto seconds = (wait.count() + 999) / 1000;
  s.login_refused_for_now(wait, why + ": try again in " + std::to_string(seconds) + " s");
}

protocol::QueryResult Hub::query(const std::string& user, const protocol::Query& q) const {
  return engine_.query(user, q);
}

// ---------------------------------------------------------------- the group commit

void Hub::submit(Submission submission) {
  if (const UserRecord* u = engine_.directory().user(submission.user)) {
    const auto bytes = static_cast<std::int64_t>(submission.op.kind.size() + submission.op.body.dump().size());
    if (const muster::UnixMs wait = limiter_.admit(u->name, u->roles, bytes, clock_.now_ms()); wait > 0) {
      ++metrics_.ops_rate_limited;
      const auto& budget = budget_for(engine_.policy().limits, u->roles);
      muster::Error e = muster::make_error(
          muster::Errc::rate_limited,
          "over the budget of " + std::to_string(budget.ops_per_minute) + " ops and " +
              std::to_string(budget.kib_per_minute) + " KiB a minute: try again in " + std::to_string((wait + 999) / 1000) +
              " s (nothing was saved; the op stays queued)");
      e.retry_after_ms = wait;
      if (Subscriber* s = find(submission.origin)) {
        s->answer(protocol::encode(protocol::ServerFrame{protocol::Ack{submission.op.id, false, e, nullptr}}));
      }
      return;
    }
  }
  pending_.push_back(std::move(submission));
  schedule_flush();
}

void Hub::save_receipts(const std::string& user, const std::string& device, const protocol::Cursors& cursors) {
  for (const auto& [scope, seq] : cursors) {
    auto& slot = pending_receipts_[{user, device, scope}];
    slot = std::max(slot, seq);
  }
  schedule_flush();
}

std::map<std::string, std::int64_t> Hub::receipts(const std::string& user, const std::string& device) {
  auto out = log_.read_cursors(user, device);
  for (const auto& [key, seq] : pending_receipts_) {
    if (std::get<0>(key) != user || std::get<1>(key) != device) continue;
    auto& slot = out[std::get<2>(key)];
    slot = std::max(slot, seq);
  }
  return out;
}

void Hub::schedule_flush() {
  if (flush_scheduled_ || stopping_) return;
  flush_scheduled_ = true;
  // Everything that arrives before this runs joins the same commit.
  loop_.post([this] { flush(); });
}

void Hub::flush() {
  flush_scheduled_ = false;
  if (pending_.empty() && pending_receipts_.empty()) return;
  std::vector<Submission> batch;
  batch.swap(pending_);
  std::vector<Receipt> receipts;
  receipts.reserve(pending_receipts_.size());
  for (const auto& [key, seq] : pending_receipts_) {
    receipts.push_back(Receipt{std::get<0>(key), std::get<1>(key), std::get<2>(key), seq});
  }
  const auto started = SteadyClock::now();
  auto result = engine_.commit(batch, receipts);
  metrics_.commit_seconds_sum += std::chrono::duration<double>(SteadyClock::now() - started).count();
  ++metrics_.commits;
  metrics_.commit_ops += static_cast<std::int64_t>(batch.size());
  if (!result) {
    log_error("commit: " + result.error().message);
    // Receipts stay pending for the next commit; ops are answered and may come again.
    for (const auto& sub : batch) {
      ++metrics_.ops_unavailable;
      if (Subscriber* s = find(sub.origin)) {
        s->answer(protocol::encode(protocol::ServerFrame{protocol::Ack{sub.op.id, false, result.error(), nullptr}}));
      }
    }
    return;
  }
  pending_receipts_.clear();
  publish(*result);
  arm_timers();  // a commit may bring a deadline nearer
}

// Events first, then acks: a client that sees its ack already has the op's events.
void Hub::publish(const Batch& batch) {
  for (const auto& d : batch.events) {
    auto w = watchers_.find(d.event.scope);
    if (w == watchers_.end()) continue;
    // deliver() may end a session, which detaches it: walk a copy.
    const std::vector<std::uint64_t> ids(w->second.begin(), w->second.end());
    for (auto id : ids) {
      if (Subscriber* s = find(id)) s->deliver(d);
    }
  }
  metrics_.events_appended += static_cast<std::int64_t>(batch.events.size());
  metrics_.log_events += static_cast<std::int64_t>(batch.events.size());
  for (const auto& d : batch.decisions) {
    if (!d.fresh) {
      ++metrics_.ops_repeated;
    } else if (d.ok) {
      ++metrics_.ops_accepted;
    } else {
      ++metrics_.ops_rejected;
    }
    if (Subscriber* s = find(d.origin)) s->answer(d.ack);
  }
  for (auto* listener : listeners_) listener->on_committed(batch);
}

// ---------------------------------------------------------------- timers

void Hub::arm_timers() {
  if (stopping_) return;
  auto wait = options_.max_timer_wait;
  if (auto next = engine_.next_deadline()) {
    const auto until = std::chrono::milliseconds(std::max<muster::UnixMs>(*next - clock_.now_ms(), 0));
    wait = std::min(wait, until);
  }
  timers_->arm(wait, [this] { run_timers(); });
}

// The server's own moves that fell due (offer time-outs, escalations, reminders).
void Hub::run_timers() {
  if (stopping_) return;
  ++ticks_;
  auto result = engine_.tick();
  if (!result) {
    log_warn("timers: " + result.error().message + " (will retry)");
    timers_->arm(std::chrono::seconds(1), [this] { run_timers(); });
    return;
  }
  if (!result->events.empty()) {
    metrics_.timer_events += static_cast<std::int64_t>(result->events.size());
    publish(*result);
  }
  arm_timers();
}

// ---------------------------------------------------------------- the directory

void Hub::poll_directory() {
  if (stopping_) return;
  refresh_directory();
  if (purge_check_due_) run_hotline_purge_request();
  checkpoint_when_idle();
  directory_job_->arm(options_.directory_poll, [this] { poll_directory(); });
}

// Idle: nothing written since the last poll and nothing waiting to be; worth it: written
// since the last complete checkpoint.
void Hub::checkpoint_when_idle() {
  const std::int64_t changes = log_.db().total_changes();
  const bool idle = changes == log_changes_seen_ && pending_.empty() && pending_receipts_.empty();
  log_changes_seen_ = changes;
  if (idle && changes != log_changes_checkpointed_) checkpoint_log();
}

void Hub::checkpoint_log() {
  // TRUNCATE waits out the busy timeout for every reader (a backup's long read
  // transaction, say): the loop must not stall on it, so it does not wait at all, and a
  // later poll finishes the job. log.db runs with the default timeout (LogStore).
  auto& db = log_.db();
  db.set_busy_timeout(0);
  struct Restore {
    muster::store::Db& db;
    ~Restore() { db.set_busy_timeout(muster::store::OpenOptions{}.busy_timeout_ms); }
  } restore{db};
  try {
    const std::int64_t changes = db.total_changes();
    if (!db.checkpoint_truncate()) {
      log_debug("log.db checkpoint: another connection is using the WAL; trying again later");
      return;
    }
    log_changes_checkpointed_ = changes;
    ++metrics_.wal_checkpoints;
  } catch (const muster::store::SqliteError& e) {
    log_warn(std::string("log.db checkpoint failed: ") + e.what());
  }
}

void Hub::refresh_directory() {
  try {
    auto version = directory_store_.data_version();
    if (version == directory_version_) return;
    directory_version_ = version;
    purge_check_due_ = true;
    engine_.set_directory(directory_store_.snapshot());
    // The households it has that the state lacks are published by Engine::tick, and a
    // purge request may wait in it: both soon, whoever noticed the change.
    // A tick that runs before this posted call (as Hub::start's does) has seen the new
    // directory already: the timers then tick once, not twice.
    loop_.post([this, ticks = ticks_] {
      if (purge_check_due_) run_hotline_purge_request();
      if (ticks_ == ticks) run_timers();
    });
  } catch (const muster::store::SqliteError& e) {
    log_error(std::string("cannot read the directory: ") + e.what());
    return;
  }
  // A disabled user loses access at once.
  std::vector<std::uint64_t> ids;
  for (const auto& [id, s] : sessions_) {
    if (s->user().empty()) continue;
    const UserRecord* u = engine_.directory().user(s->user());
    if (!u || u->disabled) ids.push_back(id);
  }
  for (auto id : ids) {
    if (Subscriber* s = find(id)) s->end(CloseReason::disabled, "user disabled");
  }
}

// `musterd hotline purge` while we serve: the command may not write log.db (we are
// its one writer), so it leaves a request in directory.db's settings and waits for the
// purge to show in the log. Carried out once (the engine records the request's id).
void Hub::run_hotline_purge_request() {
  purge_check_due_ = false;
  nlohmann::json request;
  try {
    request = nlohmann::json::parse(directory_store_.setting(kHotlinePurgeRequestSetting), nullptr, false);
  } catch (const muster::store::SqliteError& e) {
    log_error(std::string("cannot read the directory: ") + e.what());
    purge_check_due_ = true;
    return;
  }
  if (!request.is_object() || !request.contains("id")) return;
  const std::string id = request.value("id", "");
  const int days = request.value("older_than_days", -1);
  auto done = engine_.purge_hotline_notes(days, id);
  if (!done) {
    log_error("hotline purge " + id + ": " + done.error().message);
    if (done.error().code == muster::Errc::unavailable) purge_check_due_ = true;  // try again next time
    return;
  }
  if (done->repeated) return;
  log_info("hotline purge " + id + ": deleted the notes of " + std::to_string(done->calls.size()) +
           (done->calls.size() == 1 ? " call" : " calls") + " logged before " + done->before);
  metrics_.timer_events += static_cast<std::int64_t>(done->batch.events.size());
  publish(done->batch);
}

}  // namespace musterd
