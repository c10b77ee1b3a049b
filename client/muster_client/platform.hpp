// The few things the client needs from the operating system, in one place so the
// rest builds unchanged on Linux, macOS and Windows.
#pragma once

#include <cstddef>
#include <string>

namespace muster::client {

// $MUSTER_HOME, else ~/.muster (%USERPROFILE%\.muster on Windows).
std::string default_home();
// Creates the client's home directory owner-only (0700) if it does not exist yet; an
// existing directory keeps its permissions (the user chose it). Failures are left for
// ClientStore::open to report.
void create_private_home(const std::string& home);
// Makes the client's database files in `home` (client.db and SQLite's -wal, -shm and
// -journal files next to it, where present) readable and writable by the owner only
// (0600): they hold the device token and, for an mqtt:// server, the password.
void restrict_home_files(const std::string& home);
// The machine's name, for naming this device.
std::string host_name();
// Reads one line from stdin; when stdin is a terminal, prompts on stderr and hides the typing.
std::string read_secret(const std::string& prompt);
// The width of the terminal stdout writes to, in columns; else $COLUMNS if it is a
// number; else 0 (unknown: output to a file or a pipe is not cut to a width).
std::size_t terminal_columns();
// Installs SIGINT/SIGTERM handlers that only set a flag; interrupted() reads it.
void install_interrupt_handler();
bool interrupted();

}  // namespace muster::client
