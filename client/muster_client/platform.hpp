// The few things the client needs from the operating system, in one place so the
// rest builds unchanged on Linux, macOS and Windows.
#pragma once

#include <string>

namespace muster::client {

// $MUSTER_HOME, else ~/.muster (%USERPROFILE%\.muster on Windows).
std::string default_home();
// The machine's name, for naming this device.
std::string host_name();
// Reads one line from stdin; when stdin is a terminal, prompts on stderr and hides the typing.
std::string read_secret(const std::string& prompt);
// Installs SIGINT/SIGTERM handlers that only set a flag; interrupted() reads it.
void install_interrupt_handler();
bool interrupted();

}  // namespace muster::client
