# Build options and helpers shared by every target. No global flags: targets opt in
# by linking muster_warnings.

option(MUSTER_WERROR "Treat compiler warnings as errors" OFF)
set(MUSTER_SANITIZE "" CACHE STRING "Sanitizers to build with: 'address;undefined' or 'thread'")

add_library(muster_warnings INTERFACE)
target_compile_options(muster_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(MUSTER_WERROR)
  target_compile_options(muster_warnings INTERFACE -Werror)
endif()

if(MUSTER_SANITIZE)
  list(JOIN MUSTER_SANITIZE "," _muster_san)
  add_compile_options(-fsanitize=${_muster_san} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${_muster_san})
  if("thread" IN_LIST MUSTER_SANITIZE)
    add_compile_options(-Wno-tsan)  # GCC warns about Asio's atomic_thread_fence under TSan
  endif()
endif()

# The fuzz ring (tests/fuzz, scripts/fuzz): a build directory of its own, configured with
# clang. Every library the fuzz targets link is instrumented for libFuzzer's coverage and
# checked by ASan and UBSan (a UBSan report stops the run like a crash); only the fuzz
# targets link libFuzzer itself (tests/fuzz/CMakeLists.txt).
option(MUSTER_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)
if(MUSTER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MUSTER_FUZZ needs clang (libFuzzer): configure with CXX=clang++-14")
  endif()
  if(MUSTER_SANITIZE)
    message(FATAL_ERROR "MUSTER_FUZZ brings its own sanitizers: leave MUSTER_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
