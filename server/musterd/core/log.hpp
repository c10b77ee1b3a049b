// The serving process's log: one line per event on stderr, e.g.
//
//   2026-12-06T08:00:00.123Z info mqtt: connected to tcp://127.0.0.1:1883
//
// the time in UTC (ISO-8601, milliseconds), the level, the message. `musterd serve
// --log-level LEVEL` chooses the least level written (default info).
//
// What a line may say: what happened and why, with names, ids, counts and error
// texts. Never a hotline note, a personal phone, an op's body, a frame, a query or a
// plugin's line: log their kind and the error instead (SPEC §11).
//
// Thread: any. The level is set once, before the threads start (serve does it).
// spdlog stays behind this header: nothing that includes it sees spdlog.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace musterd {

enum class LogLevel { trace, debug, info, warn, error };

// "trace", "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
// The names parse_log_level takes, for messages: "trace, debug, info, warn, error".
std::string log_level_names();

// Lines below `level` are not written from now on.
void set_log_level(LogLevel level);
// Whether a line at `level` would be written (to skip building one that would not).
bool log_enabled(LogLevel level);

// One line at `level`; the message is one line (callers keep newlines out of it).
void log_line(LogLevel level, std::string_view message);
inline void log_trace(std::string_view message) { log_line(LogLevel::trace, message); }
inline void log_debug(std::string_view message) { log_line(LogLevel::debug, message); }
inline void log_info(std::string_view message) { log_line(LogLevel::info, message); }
inline void log_warn(std::string_view message) { log_line(LogLevel::warn, message); }
inline void log_error(std::string_view message) { log_line(LogLevel::error, message); }

}  // namespace musterd
