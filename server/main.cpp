#include <string>
#include <vector>

#include "musterd/commands.hpp"

int main(int argc, char** argv) { return musterd::run_command(std::vector<std::string>(argv + 1, argv + argc)); }
