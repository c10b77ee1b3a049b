// The bridge's XMPP session (libstrophe): logs in as the community's bot account,
// stays logged in (reconnecting with back-off), hands residents' chat messages over,
// and sends replies.
//
// Thread: the bridge's one thread, which calls run_once() in its loop; libstrophe's
// handlers run inside run_once() and only call back into the bridge through the
// OnMessage callback.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "xmpp-bridge/bridge_config.hpp"

namespace xmpp_bridge {

class XmppLink {
 public:
  struct Options {
    std::string jid;  // bare
    std::string resource;
    std::string password;
    std::string host;  // "" = from the JID's domain
    int port = 0;
    TlsMode tls = TlsMode::required;
    bool trust_tls = false;
  };
  // A chat message from `from_bare` (a bare JID) with its body.
  using OnMessage = std::function<void(const std::string& from_bare, const std::string& body)>;
  using Log = std::function<void(const std::string&)>;

  XmppLink(Options options, OnMessage on_message, Log log);
  ~XmppLink();
  XmppLink(const XmppLink&) = delete;
  XmppLink& operator=(const XmppLink&) = delete;

  // Runs the session for up to `timeout`: connects, reconnects after a loss (0.5 s
  // doubling to 30 s), reads and writes.
  void run_once(std::chrono::milliseconds timeout);
  // Logged in and available.
  bool online() const;
  // The session's socket, for poll() (-1 while there is none). Data may also wait
  // inside TLS: call run_once() at least every ~100 ms whatever poll() says.
  int fd() const;
  // Queues a chat message; only while online(). `id` becomes the stanza's id: the same
  // reply sent again carries the same id, so a client that drops repeats can.
  void send(const std::string& to, const std::string& body, const std::string& id);
  // Stanzas queued but not yet written to the socket.
  std::size_t queued() const;
  // Announces unavailability: the server stops routing messages here (handover).
  void go_unavailable();
  // Closes the stream (waits at most `timeout`) and stops reconnecting.
  void close(std::chrono::milliseconds timeout);
  // Another session logged in with the same JID and resource and the server closed
  // this one (stream error <conflict/>).
  bool replaced() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xmpp_bridge
