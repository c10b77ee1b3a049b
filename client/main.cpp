#include <string>
#include <vector>

#include "muster_client/commands.hpp"
#include "muster_client/transports/make_connection.hpp"
#include "muster_client/tui/curses_terminal.hpp"

int main(int argc, char** argv) {
  return muster::client::run_command(std::vector<std::string>(argv + 1, argv + argc), muster::client::make_connection,
                                          muster::client::tui::make_curses_terminal);
}
