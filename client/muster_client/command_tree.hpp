// muster's command tree (command_tree.cpp). Internal to the client library.
#pragma once

#include "muster/base/command_line.hpp"

namespace muster::client {

// Declares every muster command, its positional words and its options on `tree`.
void declare_commands(CommandTree& tree);

}  // namespace muster::client
