// The plugin protocol (plugins/README.md): JSON lines on a plugin's stdin and stdout,
// one object per line, `t` naming the line type. The server side of it is the plugin
// host (server/musterd/adapters/plugin_host.hpp); a plugin written in C++ may use this codec
// too (the XMPP bridge does).
//
//   server -> plugin   init, event, ack, caught_up, error
//   plugin -> server   subscribe, op, cursor, backfill, log
//
// `event`, `ack` and `error` lines are the WebSocket frames of the same names, byte
// for byte; `op`, `cursor` and `backfill` lines are the WebSocket client frames. Decoding is as
// strict as the frame codec's: a problem is an Errc::invalid error that names it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/protocol/frame.hpp"

namespace muster::protocol {

// ---- server -> plugin ----

// The first line a plugin reads, after every (re)start.
struct PluginInit {
  int v = kProtocolVersion;
  Json config;                      // the plugin's config file, as it is
  std::string user;                 // the muster user it acts as (role `plugin`)
  std::string area;                 // that user's home area
  std::vector<std::string> scopes;  // the scopes it may subscribe to
  std::vector<std::string> areas;   // the known areas it can see (its home, above and below)
  Cursors cursors;                  // what it has acknowledged so far: its feed resumes after these
  // The display names of the users whose home area is on one line with its own (above,
  // at or below it), by user name; optional on the line.
  std::map<std::string, std::string> people{};
};

using HostLine = std::variant<PluginInit, EventFrame, Ack, CaughtUp, ErrorFrame>;

std::string encode_plugin_init(const PluginInit& init);
// For plugins: a line from the server. Errors: invalid.
Result<HostLine> decode_host_line(std::string_view line);

// ---- plugin -> server ----

// Replaces the plugin's subscription: events of these scopes, each after its cursor,
// then caught_up, then live. Without `cursors`, from its stored receipts (what it has
// acknowledged with cursor lines); with them, from these, as a WebSocket hello.
struct PluginSubscribe {
  std::vector<std::string> scopes;
  std::optional<Cursors> cursors{};
};

struct PluginLog {
  std::string level;  // debug, info, warn, error
  std::string message;
};

using PluginLine = std::variant<PluginSubscribe, OpFrame, CursorFrame, Backfill, PluginLog>;

// For the host: a line from a plugin. Errors: invalid.
Result<PluginLine> decode_plugin_line(std::string_view line);
// For plugins: compact JSON, no newline.
std::string encode(const PluginLine& line);

}  // namespace muster::protocol
