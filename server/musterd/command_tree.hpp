// musterd's command tree (command_tree.cpp): parsing, `musterd CMD --help` and the bash
// completion all read it.
#pragma once

#include "muster/base/command_line.hpp"

namespace musterd {

// Declares every musterd command, its positional words and its options on `tree`.
void declare_commands(muster::CommandTree& tree);

}  // namespace musterd
