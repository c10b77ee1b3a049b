// The XMPP bridge's decisions, apart from its adapters: what a resident's message, a
// line from musterd, or musterd going away mean for the bridge's own SQLite state,
// which lines go to musterd, and what residents are told. No sockets, no threads: the
// XMPP link and the pipes to musterd are main.cpp's; tests drive this directly.
//
// Durable intent first (STYLE 6). Everything lives in one SQLite file:
//   requests  one row per errand asked for: the task id (the ULID of its task.create,
//             made when the request arrives), the resident's short number, its state
//   outbox    ops for musterd, in order, until acknowledged; sent again (same ULID, so
//             musterd does not decide them twice) after a restart or when unanswered
//   replies   what residents are told, each under a unique key ("<task>:accepted"),
//             so an event seen twice tells nobody twice; sent ones are marked
// A resident's message is committed (request, op, reply) before anything is sent;
// events are committed before their cursor goes back to musterd, so a restarted
// bridge is fed again only what it had not made durable, and dedups by key.
//
// Thread: the bridge's one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster/protocol/plugin_frame.hpp"
#include "muster/store/sqlite.hpp"
#include "xmpp-bridge/bridge_config.hpp"

namespace xmpp_bridge {

struct Reply {
  std::int64_t id = 0;
  std::string to;  // bare JID
  std::string text;
};

class Bridge {
 public:
  // Migrates `db` (the bridge's state file, or ":memory:" in tests).
  Bridge(BridgeConfig config, muster::store::Db& db, const muster::Clock& clock);

  // musterd is there (init). Returns the lines to write: the subscription (the served
  // area and every area below it), then every op still in the outbox, in order.
  std::vector<std::string> on_init(const muster::protocol::PluginInit& init);
  // musterd went away (stdin closed): requests queue from now on, and their residents
  // are told so; so are those whose ops went out but were never answered.
  void on_host_gone();
  bool online() const { return online_; }
  const std::string& served_area() const { return served_; }

  // A resident wrote. Returns the lines for musterd (none while it is away).
  std::vector<std::string> on_chat(const std::string& bare_jid, const std::string& text);

  // Lines from musterd, handled in one transaction. Returns the lines to write back:
  // a cursor once the events' effects are committed.
  std::vector<std::string> on_host_lines(const std::vector<std::string>& lines);

  // Call about once a second: ops musterd has not answered for a while are sent again.
  std::vector<std::string> tick();

  // What residents are to be told and have not been yet, oldest first.
  std::vector<Reply> unsent_replies(int limit);
  void mark_sent(const std::vector<std::int64_t>& ids);

  // Where the bridge reports what it cannot do (stderr in main.cpp).
  std::function<void(const std::string&)> log = [](const std::string&) {};

 private:
  struct Request;

  void ensure_salt();
  std::string contact_of(const std::string& bare_jid);
  std::optional<Request> find_request(const std::string& task);
  std::optional<Request> find_request(const std::string& resident, int number);
  void set_state(const std::string& task, const std::string& state, const std::string& volunteer = "");
  void reply(const std::string& key, const std::string& to, const std::string& text);
  // Queues an op in the outbox (sent now if musterd is there); returns its line.
  std::string add_op(const std::string& op, const std::string& kind, const nlohmann::json& body,
                     const std::string& task);
  std::string op_line(const std::string& op, const std::string& kind, const std::string& body);
  void on_event(const muster::domain::Event& e);
  void on_ack(const muster::protocol::Ack& ack);

  BridgeConfig config_;
  muster::store::Db& db_;
  const muster::Clock& clock_;
  muster::UlidGenerator ids_;
  bool online_ = false;
  std::string served_;
  std::vector<std::string> areas_;
  std::map<std::string, std::string> people_;  // user -> display name, from musterd's init
  std::string salt_;
  std::map<std::string, muster::UnixMs> sent_at_;  // op -> when it last went to musterd
};

}  // namespace xmpp_bridge
