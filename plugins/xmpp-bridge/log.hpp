// The bridge's log: one line per event on stderr. While musterd runs the bridge, its
// stderr is a pipe into musterd's log, which stamps each line with the time; there a
// line is the level and the message:
//
//   info xmpp-bridge: serving gulou/antai/yili as helper@chat.example.org for muster user bridge
//
// Once musterd is gone, stderr is STATE.log and each line starts with the time in UTC
// (ISO-8601, milliseconds), like musterd's own lines. The config's "log_level" chooses
// the least level written (default info).
//
// What a line may say: names, numbers and error texts. Never a resident's message, an
// address or a phone, nor a line from musterd (its events carry them).
//
// Thread: the bridge's one thread. spdlog stays behind this header.
#pragma once

#include <string>
#include <string_view>

namespace xmpp_bridge {

enum class LogLevel { trace, debug, info, warn, error };

// "trace", "debug", "info", "warn" or "error" (bridge_config.cpp checks the name);
// anything else is info.
LogLevel log_level_named(std::string_view name);
void set_log_level(LogLevel level);
// From now on every line starts with the time (stderr is a file of the bridge's own).
void stamp_log_times();

void log_line(LogLevel level, std::string_view message);
inline void log_debug(std::string_view message) { log_line(LogLevel::debug, message); }
inline void log_info(std::string_view message) { log_line(LogLevel::info, message); }
inline void log_warn(std::string_view message) { log_line(LogLevel::warn, message); }
inline void log_error(std::string_view message) { log_line(LogLevel::error, message); }

}  // namespace xmpp_bridge
