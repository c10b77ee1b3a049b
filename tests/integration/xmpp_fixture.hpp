// A real Prosody on 127.0.0.1 for the XMPP bridge's tests (and xmpp_resident.hpp, a
// resident's chat client to talk to the bot with).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "xmpp_resident.hpp"

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

}  // namespace muster::testing
