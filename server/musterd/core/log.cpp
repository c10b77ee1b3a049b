#include "musterd/core/log.hpp"

#include "muster/log/line_log.hpp"

namespace musterd {

namespace {

// The formatter is the chat bridge's too (muster/log/line_log.hpp); the levels match.
muster::LogLevel shared(LogLevel level) { return static_cast<muster::LogLevel>(level); }

muster::LineLog& logger() {
  static muster::LineLog instance("musterd", "", true);
  return instance;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  auto level = muster::parse_log_level(name);
  if (!level) return std::nullopt;
  return static_cast<LogLevel>(*level);
}

std::string log_level_names() { return muster::log_level_names(); }

void set_log_level(LogLevel level) { logger().set_level(shared(level)); }

bool log_enabled(LogLevel level) { return logger().enabled(shared(level)); }

void log_line(LogLevel level, std::string_view message) { logger().line(shared(level), message); }

}  // namespace musterd
