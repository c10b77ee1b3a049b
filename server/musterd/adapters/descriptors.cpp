#include "musterd/adapters/descriptors.hpp"

#include <dirent.h>
#include <sys/resource.h>

namespace musterd {

FdLimit raise_fd_limit() {
  FdLimit out;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return out;
  out.before = out.now = static_cast<std::int64_t>(lim.rlim_cur);
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.now = static_cast<std::int64_t>(raised.rlim_cur);
  }
  return out;
}

std::int64_t fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
  return static_cast<std::int64_t>(lim.rlim_cur);
}

std::int64_t open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  std::int64_t n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory's own descriptor
}

}  // namespace musterd
