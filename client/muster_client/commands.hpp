// The muster command line (SPEC §6). Exit codes: 0 ok, 1 usage, 2 rejected (by the
// server, or by the local view before queuing), 3 server unreachable.
#pragma once

#include <string>
#include <vector>

#include "muster_client/connection.hpp"

namespace muster::client {

// Runs one command; every connection to the server is made with `connect`.
int run_command(const std::vector<std::string>& words, const ConnectionFactory& connect);

}  // namespace muster::client
