// One peer's session, the same on every transport: hello -> welcome, replay from
// cursors, caught_up, live delivery with flow control, cursor receipts, backfill,
// ops and queries. The WebSocket server, the MQTT bridge and the plugin host each
// translate their frames into calls on a Subscriber and give it a SessionPort to answer
// through; none of them holds a rule of the protocol (docs/protocol.md, "Sessions").
//
//   hello      -> (credentials checked off the loop, when the transport asks for
//                 them) welcome {scopes}, then every event after the hello's cursors,
//                 scope by scope in seq order, then caught_up, then live events
//   subscribe  -> (plugins) the same without a welcome, from the device's receipts
//   backfill   -> the scope's events from `from` again, then caught_up
//   cursor     -> receipts: recorded with the next group commit, per scope, when the
//                 scope is visible and the seq no further than what was delivered
//   op         -> the group commit; the ack comes back after the op's events
//   query      -> answered from the server's state
//
// Flow control: events are sent while the port's backlog is under a window; beyond
// it the session stops, asks the port to wake it when the peer has read, and reads
// what it missed from the log. The log is every session's spill, so whatever a peer
// does, it holds at most one window of the server's memory.
//
// Thread: the server's loop thread. A Subscriber is owned by its adapter, registered
// with the Hub for as long as it lives.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "muster/protocol/frame.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/session_port.hpp"

namespace musterd {

class Hub;
struct Delivery;

// How a transport differs, as data. Everything else is the same everywhere.
struct SessionRules {
  std::string transport = "ws";  // for logs: ws, mqtt, plugin
  // hello must carry a password or a token (WebSocket). Otherwise the transport has
  // authenticated the user already (the broker's login, the plugin's config):
  // authenticate_as() names it.
  bool credentials = true;
  // A second hello restarts the session (MQTT: a reconnecting client has no new
  // connection to say it on). Otherwise it is a bad_frame.
  bool hello_again = false;
  // Live events are sent through this session. MQTT: the broker's event topics carry
  // them, and a session only replays.
  bool live = true;
  std::size_t replay_window = 1 << 20;  // replay reads the log while the backlog is under this
  std::size_t live_window = 16 << 20;   // live events are sent while the backlog is under this
  int replay_chunk = 512;               // events read from the log at a time
  // Where the peer connects from, as the login throttle keys it (an IPv4 address, an
  // IPv6 /64); empty where the transport has no such thing.
  std::string peer_address;
};

class Subscriber {
 public:
  Subscriber(Hub& hub, SessionPort& port, SessionRules rules);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  std::uint64_t id() const { return id_; }
  const std::string& user() const { return user_; }
  const std::string& device() const { return device_; }
  const SessionRules& rules() const { return rules_; }
  bool authenticated() const { return !user_.empty() && phase_ != Phase::authenticating; }
  bool live() const { return phase_ == Phase::live; }
  // A hello's password is being checked.
  bool checking_credentials() const { return phase_ == Phase::authenticating; }
  const std::vector<std::string>& scopes() const { return scopes_; }

  // The transport vouches for who this is (credentials == false).
  void authenticate_as(std::string user, std::string device);

  // A decoded client frame, whichever it is.
  void on_frame(muster::protocol::ClientFrame frame);
  void hello(muster::protocol::Hello hello);
  void op(muster::domain::Op op);
  void cursor(const muster::protocol::Cursors& cursors);
  void backfill(const muster::protocol::Backfill& backfill);
  void query(const muster::protocol::Query& query);
  void ping();
  // Plugins: these scopes, each after its cursor (by default this device's stored
  // receipt), then caught_up, then live.
  void subscribe(const std::vector<std::string>& scopes,
                 const std::optional<muster::protocol::Cursors>& cursors = std::nullopt);
  // A frame that could not be decoded (bad_frame, with the decoder's message).
  void bad_frame(const std::string& message);
  void error(const std::string& code, const std::string& message);

  // --- from the Hub ---
  // The outcome of hello's credentials check.
  void logged_in(const UserRecord& user, const std::string& device, const std::string& token,
                 const muster::protocol::Cursors& cursors);
  void login_failed(CloseReason reason, const std::string& text);
  // Too many failed logins, or the server busy: an error frame (rate_limited, with
  // retry_after_ms), then the connection is closed (1013). The password was not checked.
  void login_refused_for_now(std::chrono::milliseconds wait, const std::string& text);
  // A committed event of one of this session's scopes.
  void deliver(const Delivery& delivery);
  // The answer to one of this session's ops.
  void answer(const std::string& ack_frame);
  // Sends what the session owes while the port has room (replay; the events a full
  // window made it skip); then caught_up if a hello, subscribe or backfill asked.
  void pump();
  // Ends the session (the user was disabled, the server stops).
  void end(CloseReason reason, const std::string& text);

 private:
  enum class Phase {
    fresh,           // nobody yet (WebSocket before hello)
    authenticating,  // the hello's credentials are being checked
    ready,           // somebody, not following any scope yet
    replaying,       // sending from the log
    live,            // caught up: sending committed events as they come
  };

  void start(const UserRecord& user, const std::string& device, const std::string& token,
             const muster::protocol::Cursors& cursors, bool welcome);
  void follow(std::vector<std::pair<std::string, std::int64_t>> from);
  void set_phase(Phase phase);
  // The user's record if enabled; else answers `unauthorized` and returns null.
  const UserRecord* enabled_user();

  Hub& hub_;
  SessionPort& port_;
  SessionRules rules_;
  std::uint64_t id_ = 0;
  Phase phase_ = Phase::fresh;
  bool said_hello_ = false;
  bool owe_caught_up_ = false;
  bool ended_ = false;
  std::string user_;
  std::string device_;
  std::vector<std::string> scopes_;
  std::map<std::string, std::int64_t> sent_;  // scope -> last seq sent on this session
};

}  // namespace musterd
