#include "xmpp-bridge/log.hpp"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <memory>

namespace xmpp_bridge {

namespace {

constexpr const char* kHostedPattern = "%* xmpp-bridge: %v";
constexpr const char* kOwnFilePattern = "%Y-%m-%dT%H:%M:%S.%eZ %* xmpp-bridge: %v";

// spdlog's %l says "warning" and "err"; the log says the names the config takes.
class LevelName final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name = "error";
    switch (msg.level) {
      case spdlog::level::trace: name = "trace"; break;
      case spdlog::level::debug: name = "debug"; break;
      case spdlog::level::info: name = "info"; break;
      case spdlog::level::warn: name = "warn"; break;
      default: break;
    }
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelName>(); }
};

void use_pattern(spdlog::logger& logger, const char* pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc, "\n");
  formatter->add_flag<LevelName>('*').set_pattern(pattern);
  logger.set_formatter(std::move(formatter));
}

spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto made = std::make_shared<spdlog::logger>("xmpp-bridge", std::make_shared<spdlog::sinks::stderr_sink_st>());
    use_pattern(*made, kHostedPattern);
    made->set_level(spdlog::level::info);
    return made;
  }();
  return *instance;
}

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

LogLevel log_level_named(std::string_view name) {
  if (name == "trace") return LogLevel::trace;
  if (name == "debug") return LogLevel::debug;
  if (name == "warn") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  return LogLevel::info;
}

void set_log_level(LogLevel level) { logger().set_level(to_spdlog(level)); }

void stamp_log_times() { use_pattern(logger(), kOwnFilePattern); }

void log_line(LogLevel level, std::string_view message) {
  auto& out = logger();
  if (!out.should_log(to_spdlog(level))) return;
  // One line per event: musterd's log takes a plugin's stderr a line at a time.
  std::string line(message);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  out.log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace xmpp_bridge
