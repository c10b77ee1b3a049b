#include "xmpp-bridge/log.hpp"

#include "muster/log/line_log.hpp"

namespace xmpp_bridge {

namespace {

// The formatter is musterd's too (muster/log/line_log.hpp); the levels match.
muster::LogLevel shared(LogLevel level) { return static_cast<muster::LogLevel>(level); }

// Hosted by musterd, whose log stamps each line with the time: no time of our own.
muster::LineLog& logger() {
  static muster::LineLog instance("xmpp-bridge", "xmpp-bridge: ", false);
  return instance;
}

}  // namespace

LogLevel log_level_named(std::string_view name) {
  return static_cast<LogLevel>(muster::parse_log_level(name).value_or(muster::LogLevel::info));
}

void set_log_level(LogLevel level) { logger().set_level(shared(level)); }

void stamp_log_times() { logger().stamp_times(); }

void log_line(LogLevel level, std::string_view message) { logger().line(shared(level), message); }

}  // namespace xmpp_bridge
