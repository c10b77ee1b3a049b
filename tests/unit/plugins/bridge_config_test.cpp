// The XMPP bridge's config (plugins/xmpp-bridge/bridge_config.hpp): its "log_level".
#include "xmpp-bridge/bridge_config.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

json config() {
  return json{
      {"user", "bridge"}, {"jid", "helper@chat.example.org"}, {"password_file", "pw"}, {"open_registration", true}};
}

}  // namespace

TEST_SUITE("bridge_config") {
  TEST_CASE("log_level: info unless the config says trace, debug, info, warn or error") {
    auto plain = xmpp_bridge::parse_bridge_config(config());
    REQUIRE(plain.ok());
    CHECK(plain->log_level == "info");
    for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
      auto c = config();
      c["log_level"] = level;
      auto parsed = xmpp_bridge::parse_bridge_config(c);
      REQUIRE_MESSAGE(parsed.ok(), level);
      CHECK(parsed->log_level == level);
    }
  }

  TEST_CASE("log_level: another name or a non-string is refused, naming the key") {
    auto loud = config();
    loud["log_level"] = "loud";
    auto refused = xmpp_bridge::parse_bridge_config(loud);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("\"log_level\" 'loud'") != std::string::npos);
    CHECK(refused.error().message.find("trace, debug, info, warn, error") != std::string::npos);
    auto number = config();
    number["log_level"] = 3;
    auto not_text = xmpp_bridge::parse_bridge_config(number);
    REQUIRE_FALSE(not_text.ok());
    CHECK(not_text.error().message.find("\"log_level\" must be a string") != std::string::npos);
  }
}
