// File descriptors, as the serving process sees them: the limit raised at start-up and
// the count in use, for /metrics. Linux: the count is read from /proc/self/fd.
//
// Thread: any.
#pragma once

#include <cstdint>

namespace musterd {

struct FdLimit {
  std::int64_t before = 0;  // the soft limit the process started with
  std::int64_t now = 0;     // the soft limit in force (the hard limit, if raising worked)
};

// Raises the soft RLIMIT_NOFILE to the hard limit (every connection costs one).
FdLimit raise_fd_limit();
// The soft RLIMIT_NOFILE.
std::int64_t fd_limit();
// Descriptors open in this process (-1 if /proc is not there).
std::int64_t open_fds();

}  // namespace musterd
