// The error frame of a login refused for now: rate_limited with retry_after_ms
// (docs/protocol.md, "Logins"), through the codec both ways.
#include "muster/protocol/frame.hpp"

#include <doctest/doctest.h>

#include <string>
#include <variant>

using namespace muster::protocol;

TEST_CASE("rate_limited carries retry_after_ms both ways; other errors have none") {
  ErrorFrame e{"rate_limited", "too many failed logins for wang from 127.0.0.1: try again in 4 s", 4000};
  const std::string text = encode(ServerFrame{e});
  CHECK(text.find("\"retry_after_ms\":4000") != std::string::npos);
  auto back = decode_server_frame(text);
  REQUIRE(back.ok());
  const auto* got = std::get_if<ErrorFrame>(&*back);
  REQUIRE(got != nullptr);
  CHECK(got->code == "rate_limited");
  CHECK(got->retry_after_ms == 4000);

  const std::string plain = encode(ServerFrame{ErrorFrame{"bad_frame", "no"}});
  CHECK(plain.find("retry_after_ms") == std::string::npos);
  auto plain_back = decode_server_frame(plain);
  REQUIRE(plain_back.ok());
  CHECK_FALSE(std::get<ErrorFrame>(*plain_back).retry_after_ms.has_value());

  // A negative wait is not a wait.
  CHECK_FALSE(decode_server_frame(R"({"t":"error","code":"rate_limited","message":"m","retry_after_ms":-1})").ok());
}
