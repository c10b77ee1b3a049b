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
