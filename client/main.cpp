#include <string>
#include <vector>

#include "muster_client/commands.hpp"
#include "muster_client/transports/make_connection.hpp"

int main(int argc, char** argv) {
  return muster::client::run_command(std::vector<std::string>(argv + 1, argv + argc), muster::client::make_connection);
}
