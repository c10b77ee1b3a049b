// The muster command line (SPEC §6). Exit codes: 0 ok, 1 usage, 2 rejected (by the
// server, or by the local view before queuing), 3 server unreachable.
#pragma once

#include <string>
#include <vector>

namespace muster::client {

int run_command(const std::vector<std::string>& words);

}  // namespace muster::client
