// The one log formatter of the server and the chat bridge: one line per event on
// stderr, e.g.
//
//   2026-12-06T08:00:00.123Z info mqtt: connected to tcp://127.0.0.1:1883
//
// optionally stamped with the time in UTC (ISO-8601, milliseconds), then the level as
// the configs name it (trace, debug, info, warn, error; not spdlog's "warning"/"err"),
// then a fixed prefix ("xmpp-bridge: ") and the message, whose control characters
// become spaces so that an event is always one line. musterd/core/log.hpp and
// xmpp-bridge/log.hpp keep their own small interfaces on top of it.
//
// Thread: any (the sink is locked). spdlog stays behind this header.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace muster {

enum class LogLevel { trace, debug, info, warn, error };

// "trace", "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
// The names parse_log_level takes, for messages: "trace, debug, info, warn, error".
std::string log_level_names();

class LineLog {
 public:
  // `name` names the logger; every line has `prefix` before the message. Level info.
  LineLog(const std::string& name, std::string prefix, bool stamp_times);
  ~LineLog();
  LineLog(const LineLog&) = delete;
  LineLog& operator=(const LineLog&) = delete;

  void set_level(LogLevel level);
  bool enabled(LogLevel level) const;
  // From now on every line starts with the time.
  void stamp_times();
  void line(LogLevel level, std::string_view message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muster
