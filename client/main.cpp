#include <string>
#include <vector>

#include "muster_client/commands.hpp"

int main(int argc, char** argv) {
  return muster::client::run_command(std::vector<std::string>(argv + 1, argv + argc));
}
