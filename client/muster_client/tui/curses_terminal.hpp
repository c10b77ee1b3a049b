// The ncursesw Terminal for `muster tui` (wide characters, the locale's UTF-8).
#pragma once

#include "muster_client/tui/terminal.hpp"

namespace muster::client::tui {

Result<std::unique_ptr<Terminal>> make_curses_terminal();

}  // namespace muster::client::tui
