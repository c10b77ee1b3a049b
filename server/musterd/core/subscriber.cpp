#include "musterd/core/subscriber.hpp"

#include <algorithm>

#include "muster/domain/actor.hpp"
#include "musterd/core/hub.hpp"

namespace musterd {

namespace domain = muster::domain;
namespace protocol = muster::protocol;

namespace {

constexpr std::size_t kMaxDevice = 128;

std::string reply(protocol::ServerFrame frame) { return protocol::encode(frame); }

}  // namespace

Subscriber::Subscriber(Hub& hub, SessionPort& port, SessionRules rules)
    : hub_(hub), port_(port), rules_(std::move(rules)) {
  id_ = hub_.attach(*this);
}

Subscriber::~Subscriber() {
  set_phase(Phase::ready);  // keeps the live-session count right
  hub_.detach(*this);
}

void Subscriber::authenticate_as(std::string user, std::string device) {
  user_ = std::move(user);
  device_ = std::move(device);
  phase_ = Phase::ready;
}

// ---------------------------------------------------------------- frames

void Subscriber::on_frame(protocol::ClientFrame frame) {
  std::visit(
      [this](auto& f) {
        using F = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<F, protocol::Hello>) {
          hello(std::move(f));
        } else if constexpr (std::is_same_v<F, protocol::OpFrame>) {
          op(std::move(f.op));
        } else if constexpr (std::is_same_v<F, protocol::CursorFrame>) {
          cursor(f.cursors);
        } else if constexpr (std::is_same_v<F, protocol::Backfill>) {
          backfill(f);
        } else if constexpr (std::is_same_v<F, protocol::Query>) {
          query(f);
        } else {
          ping();
        }
      },
      frame);
}

void Subscriber::hello(protocol::Hello hello) {
  if (phase_ == Phase::authenticating || (said_hello_ && !rules_.hello_again)) {
    error("bad_frame", "hello was already said on this connection");
    return;
  }
  if (hello.v != protocol::kProtocolVersion) {
    port_.close(CloseReason::bad_hello, "unsupported protocol version");
    return;
  }
  said_hello_ = true;
  if (!rules_.credentials) {
    const UserRecord* user = enabled_user();
    if (!user) return;
    start(*user, device_, "", hello.cursors, true);
    return;
  }
  if (hello.device.empty() || hello.device.size() > kMaxDevice) {
    port_.close(CloseReason::bad_hello, "hello needs a device name of 1-128 bytes");
    return;
  }
  if (!hello.password && !hello.token) {
    ++hub_.metrics().auth_failures;
    port_.close(CloseReason::bad_hello, "hello needs a password or a token");
    return;
  }
  phase_ = Phase::authenticating;
  hub_.authenticate(*this, std::move(hello));
}

void Subscriber::logged_in(const UserRecord& user, const std::string& device, const std::string& token,
                           const protocol::Cursors& cursors) {
  start(user, device, token, cursors, true);
}

void Subscriber::login_failed(CloseReason reason, const std::string& text) {
  phase_ = Phase::fresh;
  port_.close(reason, text);
}

void Subscriber::login_refused_for_now(std::chrono::milliseconds wait, const std::string& text) {
  phase_ = Phase::fresh;
  protocol::ErrorFrame e{"rate_limited", text, static_cast<std::int64_t>(wait.count())};
  port_.send(FrameKind::reply, protocol::encode(protocol::ServerFrame{std::move(e)}));
  port_.close(CloseReason::rate_limited, text);
}

void Subscriber::op(domain::Op op) {
  if (!authenticated()) {
    error("unauthorized", "say hello first");
    return;
  }
  hub_.submit(Submission{std::move(op), user_, device_, id_});
}

void Subscriber::answer(const std::string& ack_frame) { port_.send(FrameKind::ack, ack_frame); }

// A receipt says how far the device has applied a scope. It may not claim more than was
// delivered to it: recorded, it would tell the coordinator's roll-up that a notice
// arrived when it did not, and a plugin would resume after events it never saw.
void Subscriber::cursor(const protocol::Cursors& cursors) {
  if (!authenticated()) {
    error("unauthorized", "say hello first");
    return;
  }
  const UserRecord* user = enabled_user();
  if (!user) return;
  const domain::Actor actor = user->actor();
  protocol::Cursors accepted;
  std::string refused;
  for (const auto& [scope, seq] : cursors) {
    std::string why;
    if (!domain::valid_scope(scope) || !domain::can_see(actor, scope)) {
      why = scope + " is not visible to " + user_;
    } else {
      auto sent = sent_.find(scope);
      const std::int64_t delivered =
          std::max(sent == sent_.end() ? std::int64_t{0} : sent->second, port_.delivered_elsewhere(scope));
      if (seq > delivered) {
        why = scope + " " + std::to_string(seq) + " was not delivered (delivered up to " + std::to_string(delivered) + ")";
      }
    }
    if (why.empty()) {
      accepted.emplace(scope, seq);
    } else {
      refused += (refused.empty() ? "" : "; ") + why;
    }
  }
  if (!accepted.empty()) hub_.save_receipts(user_, device_, accepted);
  if (!refused.empty()) error("bad_frame", "cursor: " + refused + "; nothing recorded for it");
}

void Subscriber::backfill(const protocol::Backfill& backfill) {
  if (!authenticated()) {
    error("unauthorized", "say hello first");
    return;
  }
  const UserRecord* user = enabled_user();
  if (!user) return;
  if (!domain::valid_scope(backfill.scope) || !domain::can_see(user->actor(), backfill.scope)) {
    error("bad_frame", "backfill: scope " + backfill.scope + " is not visible to " + user_);
    return;
  }
  const std::int64_t after = std::max<std::int64_t>(backfill.from - 1, 0);
  auto it = sent_.find(backfill.scope);
  if (it == sent_.end()) {
    scopes_.push_back(backfill.scope);
    sent_[backfill.scope] = std::min(after, hub_.engine().head(backfill.scope));
    if (rules_.live) hub_.watch(*this, scopes_);
  } else {
    it->second = std::min(it->second, after);
  }
  owe_caught_up_ = true;
  set_phase(Phase::replaying);
  pump();
}

void Subscriber::query(const protocol::Query& query) {
  if (!authenticated()) {
    error("unauthorized", "say hello first");
    return;
  }
  port_.send(FrameKind::reply, reply(hub_.query(user_, query)));
}

void Subscriber::ping() { port_.send(FrameKind::reply, reply(protocol::Pong{})); }

void Subscriber::subscribe(const std::vector<std::string>& scopes, const std::optional<protocol::Cursors>& cursors) {
  const UserRecord* user = enabled_user();
  if (!user) return;
  for (const auto& scope : scopes) {
    if (!domain::valid_scope(scope) || !domain::can_see(user->actor(), scope)) {
      error("unauthorized", "subscribe: scope " + scope + " is not visible to " + user_);
      return;
    }
  }
  std::map<std::string, std::int64_t> stored;
  if (cursors) {
    stored = *cursors;
  } else {
    try {
      stored = hub_.receipts(user_, device_);
    } catch (const muster::store::SqliteError& e) {
      error("unavailable", std::string("cannot read the receipts: ") + e.what());
      return;
    }
  }
  std::vector<std::pair<std::string, std::int64_t>> from;
  for (const auto& scope : scopes) {
    if (std::any_of(from.begin(), from.end(), [&](const auto& f) { return f.first == scope; })) continue;
    auto it = stored.find(scope);
    from.emplace_back(scope, std::min(it == stored.end() ? std::int64_t{0} : it->second, hub_.engine().head(scope)));
  }
  follow(std::move(from));
}

void Subscriber::bad_frame(const std::string& message) { error("bad_frame", message); }

void Subscriber::error(const std::string& code, const std::string& message) {
  ++hub_.metrics().bad_frames;
  port_.send(FrameKind::reply, reply(protocol::ErrorFrame{code, message}));
}

// ---------------------------------------------------------------- the feed

void Subscriber::start(const UserRecord& user, const std::string& device, const std::string& token,
                       const protocol::Cursors& cursors, bool welcome) {
  user_ = user.name;
  device_ = device;
  port_.logged_in();
  auto from = hub_.engine().replay_start(user, cursors);
  if (welcome) {
    protocol::Welcome w{user.name, user.roles.names(), user.area, token, {}, hub_.engine().policy().timezone};
    for (const auto& [scope, seq] : from) w.scopes.push_back(scope);
    // The display names of the people this user works with (domain::shares_neighbourhood:
    // above their area, at, below or beside it).
    for (const auto& [name, u] : hub_.engine().directory().users()) {
      if (u.display.empty() || u.display == name) continue;
      if (domain::shares_neighbourhood(user.area, u.area)) {
        w.people[name] = u.display;
      }
    }
    port_.send(FrameKind::reply, reply(w));
  }
  follow(std::move(from));
}

void Subscriber::follow(std::vector<std::pair<std::string, std::int64_t>> from) {
  scopes_.clear();
  sent_.clear();
  for (auto& [scope, seq] : from) {
    scopes_.push_back(scope);
    sent_[scope] = seq;
  }
  if (rules_.live) hub_.watch(*this, scopes_);
  owe_caught_up_ = true;
  set_phase(Phase::replaying);
  pump();
}

void Subscriber::deliver(const Delivery& d) {
  if (phase_ != Phase::live || !rules_.live) return;  // a replaying session reads it from the log
  auto it = sent_.find(d.event.scope);
  if (it == sent_.end() || d.event.seq <= it->second) return;
  if (d.event.seq == it->second + 1 && port_.backlog() < rules_.live_window) {
    port_.send(FrameKind::event, d.frame);
    it->second = d.event.seq;
    ++hub_.metrics().events_sent;
    return;
  }
  // The peer is behind: it may not hold more of our memory. It reads the rest from the
  // log once it has taken what it has.
  ++hub_.metrics().sessions_fell_behind;
  set_phase(Phase::replaying);
  port_.resume_when_drained();
}

void Subscriber::pump() {
  if (phase_ != Phase::replaying || ended_) return;
  auto& log = hub_.log();
  const Engine& engine = hub_.engine();
  try {
    for (const auto& scope : scopes_) {
      auto& sent = sent_[scope];
      while (sent < engine.head(scope)) {
        if (port_.backlog() >= rules_.replay_window) {
          port_.resume_when_drained();
          return;
        }
        auto rows = log.read_scope(scope, sent, rules_.replay_chunk);
        if (rows.empty()) break;
        for (const auto& [seq, frame] : rows) {
          port_.send(FrameKind::event, frame);
          sent = seq;
        }
        hub_.metrics().events_replayed += static_cast<std::int64_t>(rows.size());
      }
    }
  } catch (const muster::store::SqliteError& e) {
    end(CloseReason::storage, "storage unavailable");
    return;
  }
  set_phase(Phase::live);
  if (owe_caught_up_) {
    owe_caught_up_ = false;
    port_.send(FrameKind::reply, reply(protocol::CaughtUp{}));
  }
}

void Subscriber::end(CloseReason reason, const std::string& text) {
  if (ended_) return;
  ended_ = true;
  set_phase(Phase::ready);
  port_.close(reason, text);
}

void Subscriber::set_phase(Phase phase) {
  if (phase_ == phase) return;
  if (phase_ == Phase::live && rules_.live) --hub_.metrics().sessions_live;
  if (phase == Phase::live && rules_.live) ++hub_.metrics().sessions_live;
  phase_ = phase;
}

const UserRecord* Subscriber::enabled_user() {
  const UserRecord* user = hub_.directory().user(user_);
  if (!user || user->disabled) {
    error("unauthorized", (user_.empty() ? std::string("nobody") : user_) + " is not an enabled muster user");
    return nullptr;
  }
  return user;
}

}  // namespace musterd
