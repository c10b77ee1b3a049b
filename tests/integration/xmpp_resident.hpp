// A resident's XMPP chat client (libstrophe) for the bridge's tests and for
// muster-xmpp-chat (tests/tools/xmpp_chat.cpp): logs in, sends chat messages, and
// remembers what it is sent. Independent of doctest and of the test harness.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace muster::testing {

// One resident's XMPP client: logs in, sends chat messages, remembers what it is sent.
// Thread-safe: libstrophe runs on the client's own thread.
class XmppResident {
 public:
  // Logs in as jid/resident to the server on 127.0.0.1:port, without TLS (throws
  // unless logged in within 10 s).
  XmppResident(int port, const std::string& jid, const std::string& password);
  ~XmppResident();
  XmppResident(const XmppResident&) = delete;
  XmppResident& operator=(const XmppResident&) = delete;

  void say(const std::string& to, const std::string& text);
  // The bodies of the chat messages received so far, in order.
  std::vector<std::string> heard() const;
  // Waits until pred(heard()) holds; false after the timeout.
  bool wait_for(const std::function<bool(const std::vector<std::string>&)>& pred, std::chrono::milliseconds timeout);
  // Waits until at least `n` messages have arrived in all; false after the timeout.
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muster::testing
