// muster headcount …: placeholder until the headcount commands land.
#include "muster_client/cli.hpp"

namespace muster::client {

int Cli::headcount() { return usage("muster headcount is not available yet"); }

}  // namespace muster::client
