// The wire protocol (docs/protocol.md): one JSON object per WebSocket text frame
// (or MQTT message), `t` naming the frame type. Decoding is strict: invalid UTF-8,
// non-JSON, a non-object, an unknown `t`, a missing field or a field of the wrong
// type is an error that names the problem; unknown extra fields are ignored. A frame
// larger than kMaxFrameBytes or nested deeper than kMaxFrameDepth is refused before
// anything is built from it (muster/base/json_parse.hpp says why).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "muster/base/json_fields.hpp"
#include "muster/base/result.hpp"
#include "muster/domain/event.hpp"

namespace muster::protocol {

using Json = nlohmann::json;
using Cursors = std::map<std::string, std::int64_t>;  // scope -> last seq applied

inline constexpr int kProtocolVersion = 1;

// Limits of every decoder here and in plugin_frame.hpp, whatever the transport allows
// (the transports set their own, smaller size limits: musterd's --max-frame, the plugin
// host's line limit). An op's body is level 2 of its frame.
inline constexpr std::size_t kMaxFrameDepth = 64;
inline constexpr std::size_t kMaxFrameBytes = 64 * 1024 * 1024;

// ---- client -> server ----

struct Hello {
  int v = kProtocolVersion;
  std::string user;
  std::optional<std::string> password;  // at most one of password and token; over
                                        // WebSocket exactly one, over MQTT neither
  std::optional<std::string> token;
  std::string device;
  Cursors cursors;
};

struct OpFrame {
  domain::Op op;
};

struct CursorFrame {
  Cursors cursors;
};

struct Backfill {
  std::string scope;
  std::int64_t from = 0;  // replay events with seq >= from
};

struct Ping {};

// A read the server answers from its own knowledge (e.g. notice.status).
struct Query {
  std::string id;
  std::string name;
  Json args;  // object
};

using ClientFrame = std::variant<Hello, OpFrame, CursorFrame, Backfill, Ping, Query>;

// ---- server -> client ----

struct Welcome {
  std::string user;
  std::vector<std::string> roles;
  std::string area;
  std::string token;
  std::vector<std::string> scopes;
  std::string tz{};  // the server's time zone, e.g. "Asia/Shanghai"; optional on the wire
  // The display names (王芳) of the users this user sees, by user name; optional on the
  // wire (an older server sends none: clients then show user names alone).
  std::map<std::string, std::string> people{};
};

struct EventFrame {
  domain::Event event;
};

struct CaughtUp {};

struct Ack {
  domain::OpId id;  // the op answered
  bool ok = true;
  std::optional<Error> error;
  Json state;  // on conflict: the object's current state, else null
};

struct ErrorFrame {
  std::string code;  // bad_frame, too_large, rate_limited, unauthorized
  std::string message;
  std::optional<std::int64_t> retry_after_ms = std::nullopt;  // rate_limited: how long to wait before trying again
};

struct Pong {};

struct QueryResult {
  std::string id;
  bool ok = true;
  std::optional<Error> error;
  Json body;
};

using ServerFrame = std::variant<Welcome, EventFrame, CaughtUp, Ack, ErrorFrame, Pong, QueryResult>;

// Decoding. Errors are Errc::invalid with a message fit for an error frame, e.g.
// "frame is nested deeper than the limit of 64 levels", "op: field 'id' is missing".
Result<ClientFrame> decode_client_frame(std::string_view text);
Result<ServerFrame> decode_server_frame(std::string_view text);
// The same, for text already parsed within the limits: an object with a string "t"
// (the plugin lines, which are parsed once and decoded by their `t`).
Result<ClientFrame> decode_client_json(const Json& j);
Result<ServerFrame> decode_server_json(const Json& j);

// Encoding: compact JSON, UTF-8.
std::string encode(const ClientFrame& frame);
std::string encode(const ServerFrame& frame);

// Convenience encoders for the hot path.
std::string encode_event(const domain::Event& event);
Json event_to_json(const domain::Event& event);
Result<domain::Event> event_from_json(const Json& j);

// The cursors of hello, cursor and plugin init frames: an object of scope -> seq.
Json cursors_to_json(const Cursors& cursors);
// Reads the cursors field `name` (an object of scope -> non-negative integer) of a frame
// being read; an absent optional one is empty. Problems go to `fields`.
Cursors read_cursors(JsonFields& fields, const char* name, bool required);

}  // namespace muster::protocol
