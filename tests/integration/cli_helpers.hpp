// Helpers for tests that drive the `muster` CLI as a process and read its output.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "muster_fixture.hpp"

namespace muster::testing {

inline std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// The command's stdout as JSON; throws (with the whole result) if it is not JSON.
inline nlohmann::json parse_json(const RunResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("not JSON: " + describe(r));
  return j;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// `muster ... --json` that must succeed; its stdout as JSON.
inline nlohmann::json run_json(ClientFixture& c, std::vector<std::string> args) {
  args.push_back("--json");
  auto r = c.run(args);
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  return parse_json(r);
}

// `muster sync`; its exit code (the output goes to the test log when it is not 0).
inline int sync(ClientFixture& c, const std::string& who) {
  auto r = c.run({"sync", "--timeout", "15"});
  if (r.code != 0) MESSAGE((who + " sync: " + describe(r)));
  return r.code;
}

}  // namespace muster::testing
