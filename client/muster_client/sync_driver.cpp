#include "muster_client/sync_driver.hpp"

namespace muster::client {

namespace {
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kIdle{50};
constexpr milliseconds kOutboxPoll{500};
}  // namespace

DriveResult drive(const ConnectionFactory& connect, sync::ClientStore& store, const sync::Identity& identity,
                  const sync::Credentials& credentials, const DriveOptions& options,
                  const std::function<void(const domain::Event&)>& on_event) {
  DriveResult result;
  // The timeout is for a server that goes quiet, not for a long sync: every frame that
  // arrives gives the conversation the whole timeout again, so a 100,000-op outbox
  // that is being acknowledged is pushed in one run instead of being cut at 30 s.
  auto deadline = SteadyClock::now() + options.timeout;
  SystemClock clock;
  auto made = connect(store, identity, credentials.password);
  if (!made) {
    result.status = made.error();
    return result;
  }
  Connection& ws = **made;
  if (auto st = ws.connect(std::min(options.connect_timeout, options.timeout)); !st) {
    result.status = st;
    return result;
  }
  sync::SyncSession session(store, identity, credentials, clock);
  session.on_event = on_event;
  session.on_result = [&](const protocol::QueryResult& r) {
    result.query_result = r;
    if (options.on_result) options.on_result(r);
  };

  auto send_all = [&](const std::vector<std::string>& frames) -> Status {
    for (const auto& f : frames) {
      if (auto st = ws.send(f); !st) return st;
    }
    return {};
  };
  if (auto st = send_all(session.start()); !st) {
    result.status = st;
    return result;
  }

  bool query_sent = false;
  auto last_outbox_poll = SteadyClock::now();
  while (true) {
    const auto now = SteadyClock::now();
    if (!options.stay_live && now >= deadline) {
      session.commit();
      result.status = make_error(Errc::unavailable, "sync timed out; unsent ops stay queued");
      break;
    }
    // Ops the server asked us to send later: one at a time, once the wait is over.
    if (auto st = send_all(session.resend_due()); !st) {
      result.status = st;
      break;
    }
    auto frame = ws.receive(kIdle);
    if (!frame) {
      session.commit();
      result.status = frame.error();
      break;
    }
    if (!frame->has_value()) {
      session.commit();  // idle: make what we have durable
      if (options.stay_live) {
        if (options.keep_going && !options.keep_going()) break;
        if (options.next_query && session.done()) {
          if (auto q = options.next_query()) {
            if (auto st = send_all({protocol::encode(protocol::ClientFrame{*q})}); !st) {
              result.status = st;
              break;
            }
          }
        }
        if (now - last_outbox_poll >= kOutboxPoll && session.welcomed()) {
          last_outbox_poll = now;
          if (auto st = send_all(session.push_new_ops()); !st) {
            result.status = st;
            break;
          }
        }
      }
      continue;
    }
    deadline = SteadyClock::now() + options.timeout;
    auto out = session.on_frame(**frame);
    if (!out) {
      session.commit();
      result.status = out.error();
      break;
    }
    if (auto st = send_all(*out); !st) {
      result.status = st;
      break;
    }
    if (session.done()) {
      if (options.query && !query_sent) {
        query_sent = true;
        if (auto st = send_all({protocol::encode(protocol::ClientFrame{*options.query})}); !st) {
          result.status = st;
          break;
        }
      }
      if (options.query && !result.query_result) continue;
      if (!options.stay_live) break;
    }
  }
  if (session.welcomed()) {
    (void)ws.send(session.finish());
  }
  ws.close();
  store.scrub();
  result.report = session.report();
  return result;
}

}  // namespace muster::client
