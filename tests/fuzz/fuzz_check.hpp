// What the fuzz targets share: a check that stops the run like a crash, so libFuzzer
// keeps the input that broke a promise of the code under test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace muster_fuzz {

[[noreturn]] inline void broken(const char* file, int line, const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s:%d: broken promise: %s\n%s\n", file, line, what, detail.c_str());
  std::abort();
}

}  // namespace muster_fuzz

// FUZZ_CHECK(condition, detail): `detail` (a std::string expression) is built only on failure.
#define FUZZ_CHECK(condition, detail)                                     \
  do {                                                                    \
    if (!(condition)) ::muster_fuzz::broken(__FILE__, __LINE__, #condition, (detail)); \
  } while (false)
