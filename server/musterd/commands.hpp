// The musterd command line (SPEC §6): init, user …, area …, serve.
#pragma once

#include <string>
#include <vector>

namespace musterd {

// Runs one command; returns the process exit code (0 ok, 1 usage, 2 refused).
int run_command(const std::vector<std::string>& words);

}  // namespace musterd
