// The server's log (server/musterd/core/log.hpp): one line per event on stderr, the time
// in UTC (ISO-8601, milliseconds), the level by the name --log-level takes, the message;
// lines below the level set are not written; a message cannot break its line.
#include "musterd/core/log.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "muster/base/time.hpp"
#include "../temp_dir.hpp"

using musterd::LogLevel;

namespace {

// What `write` put on stderr (fd 2 goes to a file meanwhile).
std::string stderr_of(const std::function<void()>& write) {
  muster_test::TempDir dir;
  const std::string path = dir.sub("stderr");
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  {
    std::FILE* file = std::fopen(path.c_str(), "w");
    REQUIRE(file != nullptr);
    ::dup2(::fileno(file), STDERR_FILENO);
    std::fclose(file);
  }
  write();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

// Runs with the local time eight hours off UTC, so a local time in the log shows.
struct FarFromUtc {
  FarFromUtc() {
    if (const char* tz = std::getenv("TZ")) saved = tz;
    ::setenv("TZ", "XST-8", 1);
    ::tzset();
  }
  ~FarFromUtc() {
    if (saved.empty()) {
      ::unsetenv("TZ");
    } else {
      ::setenv("TZ", saved.c_str(), 1);
    }
    ::tzset();
  }
  std::string saved;
};

}  // namespace

TEST_SUITE("log") {
  TEST_CASE("levels are named trace, debug, info, warn and error; nothing else is one") {
    CHECK(musterd::parse_log_level("trace") == LogLevel::trace);
    CHECK(musterd::parse_log_level("debug") == LogLevel::debug);
    CHECK(musterd::parse_log_level("info") == LogLevel::info);
    CHECK(musterd::parse_log_level("warn") == LogLevel::warn);
    CHECK(musterd::parse_log_level("error") == LogLevel::error);
    CHECK_FALSE(musterd::parse_log_level("warning").has_value());
    CHECK_FALSE(musterd::parse_log_level("INFO").has_value());
    CHECK_FALSE(musterd::parse_log_level("").has_value());
    CHECK_FALSE(musterd::parse_log_level("critical").has_value());
    CHECK(musterd::log_level_names() == "trace, debug, info, warn, error");
  }

  TEST_CASE("a line is the UTC time with milliseconds, the level and the message; lower levels are left out") {
    FarFromUtc far;
    const auto before = muster::SystemClock().now_ms();
    musterd::set_log_level(LogLevel::warn);
    const std::string text = stderr_of([] {
      musterd::log_debug("not at warn");
      musterd::log_info("serving nothing");
      musterd::log_warn("mqtt: lost the broker; reconnecting");
      musterd::log_error("cannot read the directory: disk I/O error");
    });
    CHECK_FALSE(musterd::log_enabled(LogLevel::info));
    CHECK(musterd::log_enabled(LogLevel::warn));
    musterd::set_log_level(LogLevel::info);
    const auto after = muster::SystemClock().now_ms();

    const auto lines = lines_of(text);
    REQUIRE_MESSAGE(lines.size() == 2, text);
    const std::regex shape(R"(^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\w+) (.*)$)");
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_match(lines[0], m, shape), lines[0]);
    CHECK(m[2] == "warn");
    CHECK(m[3] == "mqtt: lost the broker; reconnecting");
    const auto at = muster::parse_utc(m[1].str());
    REQUIRE(at.has_value());
    CHECK(*at >= before - 1000);  // the stamp is whole milliseconds, taken a moment later
    CHECK(*at <= after + 1000);
    REQUIRE_MESSAGE(std::regex_match(lines[1], m, shape), lines[1]);
    CHECK(m[2] == "error");
    CHECK(m[3] == "cannot read the directory: disk I/O error");
  }

  TEST_CASE("trace and debug show when asked for; a message is written as it is, and cannot start a line of its own") {
    musterd::set_log_level(LogLevel::trace);
    const std::string text = stderr_of([] {
      musterd::log_trace("t");
      musterd::log_debug("d");
      musterd::log_error("cannot read the log: no\n2026-01-01T00:00:00.000Z info forged\r");
      musterd::log_info("plugin x: [info] {} {:>9} %v");
    });
    musterd::set_log_level(LogLevel::info);
    const auto lines = lines_of(text);
    REQUIRE_MESSAGE(lines.size() == 4, text);
    CHECK(lines[0].substr(24) == " trace t");
    CHECK(lines[1].substr(24) == " debug d");
    CHECK(lines[2].substr(24) == " error cannot read the log: no 2026-01-01T00:00:00.000Z info forged ");
    CHECK(lines[3].substr(24) == " info plugin x: [info] {} {:>9} %v");
  }
}
