// muster hotline …: placeholder until the hotline commands land.
#include "muster_client/cli.hpp"

namespace muster::client {

int Cli::hotline() { return usage("muster hotline is not available yet"); }

}  // namespace muster::client
