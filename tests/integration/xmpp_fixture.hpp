// A real Prosody on 127.0.0.1 for the XMPP bridge's tests, and a resident's chat
// client (libstrophe) to talk to the bot with.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace muster::testing {

// Prosody with a throwaway config in a temp dir: c2s on a free loopback port, no s2s,
// no HTTP, data in the temp dir, plain internal accounts, no TLS required. Runs in the
// foreground (prosody -F) as the test's child; stopped at the end.
class ProsodyFixture {
 public:
  ProsodyFixture();  // writes the config and starts it (throws unless it listens within 15 s)
  ~ProsodyFixture();

  // `prosodyctl --config FILE register USER localhost PASSWORD` (throws if it fails).
  void add_user(const std::string& user, const std::string& password);
  void start();
  void stop();
  int port() const { return port_; }
  std::string domain() const { return "localhost"; }
  std::string log() const;  // prosody's log file so far

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> proc_;
};

// One resident's XMPP client: logs in, sends chat messages, remembers what it is sent.
// Thread-safe: libstrophe runs on the client's own thread.
class XmppResident {
 public:
  // Logs in as jid/resident (throws unless logged in within 10 s).
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
