// The muster command line (SPEC §6). Exit codes: 0 ok, 1 usage, 2 rejected (by the
// server, or by the local view before queuing), 3 server unreachable.
#pragma once

#include <string>
#include <vector>

#include "muster_client/connection.hpp"
#include "muster_client/tui/terminal.hpp"

namespace muster::client {

// Runs one command; every connection to the server is made with `connect`; `muster tui`
// opens its screen with `terminal` (without one it says it was not built in).
int run_command(const std::vector<std::string>& words, const ConnectionFactory& connect,
                const tui::TerminalFactory& terminal = {});

}  // namespace muster::client
