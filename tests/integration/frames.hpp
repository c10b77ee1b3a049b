// Small helpers for tests that speak the wire protocol directly over RawWs: op ids,
// received frames as raw text and parsed JSON, and deadlines.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "muster/base/ulid.hpp"

namespace muster::testing {

using SteadyClock = std::chrono::steady_clock;

// A fresh ULID (strictly increasing within the test process).
inline std::string new_id() {
  static muster::UlidGenerator ids;
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return ids.next(now);
}

// One received message, as sent and as parsed (discarded if it is not JSON).
struct Frame {
  std::string raw;
  nlohmann::json j;

  std::string type() const { return str("t"); }
  std::string str(const char* key) const {
    if (!j.is_object()) return "";
    auto v = j.find(key);
    return v != j.end() && v->is_string() ? v->get<std::string>() : "";
  }
};

inline std::optional<Frame> next_frame(RawWs& ws, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto m = ws.recv(timeout);
  if (!m) return std::nullopt;
  return Frame{*m, nlohmann::json::parse(*m, nullptr, false)};
}

inline std::chrono::milliseconds left_until(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

}  // namespace muster::testing
