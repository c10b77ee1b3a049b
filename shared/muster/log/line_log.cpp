#include "muster/log/line_log.hpp"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <utility>

namespace muster {

namespace {

constexpr std::array<std::pair<std::string_view, LogLevel>, 5> kLevels{{{"trace", LogLevel::trace},
                                                                        {"debug", LogLevel::debug},
                                                                        {"info", LogLevel::info},
                                                                        {"warn", LogLevel::warn},
                                                                        {"error", LogLevel::error}}};

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

// spdlog's %l says "warning" and "err"; the log says the names the configs take.
class LevelName final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name = "error";
    for (const auto& [text, level] : kLevels) {
      if (to_spdlog(level) == msg.level) name = text;
    }
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelName>(); }
};

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (const auto& [text, level] : kLevels) {
    if (text == name) return level;
  }
  return std::nullopt;
}

std::string log_level_names() {
  std::string out;
  for (const auto& [text, level] : kLevels) out += (out.empty() ? "" : ", ") + std::string(text);
  return out;
}

struct LineLog::Impl {
  spdlog::logger logger;
  std::string prefix;

  void use_pattern(bool stamp_times) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc, "\n");
    formatter->add_flag<LevelName>('*').set_pattern(std::string(stamp_times ? "%Y-%m-%dT%H:%M:%S.%eZ " : "") + "%* " +
                                                    prefix + "%v");
    logger.set_formatter(std::move(formatter));
  }
};

LineLog::LineLog(const std::string& name, std::string prefix, bool stamp_times)
    : impl_(new Impl{spdlog::logger(name, std::make_shared<spdlog::sinks::stderr_sink_mt>()), std::move(prefix)}) {
  impl_->use_pattern(stamp_times);
  impl_->logger.set_level(spdlog::level::info);
}

LineLog::~LineLog() = default;

void LineLog::set_level(LogLevel level) { impl_->logger.set_level(to_spdlog(level)); }

bool LineLog::enabled(LogLevel level) const { return impl_->logger.should_log(to_spdlog(level)); }

void LineLog::stamp_times() { impl_->use_pattern(true); }

void LineLog::line(LogLevel level, std::string_view message) {
  if (!enabled(level)) return;
  // One line per event whatever a message holds (an exception's text, a path); musterd's
  // log takes a plugin's stderr a line at a time.
  std::string text(message);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  impl_->logger.log(to_spdlog(level), spdlog::string_view_t(text.data(), text.size()));
}

}  // namespace muster
