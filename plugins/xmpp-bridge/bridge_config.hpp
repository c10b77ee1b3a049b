// The XMPP bridge's configuration: the plugin config file musterd passes in `init`
// (plugins/README.md documents every key). Relative paths are relative to the config
// file's directory, which is the bridge's working directory. Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "muster/base/result.hpp"

namespace xmpp_bridge {

enum class TlsMode { required, optional, off };

struct BridgeConfig {
  std::string jid;                       // the community's bot account, e.g. "helper@chat.example.org"
  std::string resource = "muster-bridge";
  std::string password_file;             // holds the account's password (first line)
  std::string host;                      // "" = from the JID's domain (DNS SRV)
  int port = 0;                          // 0 = the default (5222)
  TlsMode tls = TlsMode::required;
  bool trust_tls = false;                // accept a certificate that does not verify (self-signed)
  std::string area;                      // the area it serves; "" = its muster user's home area
  std::vector<std::string> residents;    // bare JIDs allowed to ask (lower case); empty + open: anyone
  bool open_registration = false;        // anyone may ask
  int max_open_requests = 3;             // per resident
  std::string state = "xmpp-bridge.db";  // its own SQLite file
  std::string dispatch;                  // "offer" or "claim" for the errands; "" = the server's policy
  int orphan_exit_after_s = 0;           // once musterd is gone, exit after this long; 0 = serve on
  std::string log_level = "info";        // the least level logged: trace, debug, info, warn or error
};

// Errors: invalid, naming the key.
muster::Result<BridgeConfig> parse_bridge_config(const nlohmann::json& config);

// May this bare JID ask for errands?
bool resident_allowed(const BridgeConfig& config, const std::string& bare_jid);

}  // namespace xmpp_bridge
