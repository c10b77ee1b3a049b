#include "muster_client/platform.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#endif

namespace muster::client {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }
}  // namespace

std::string default_home() {
  if (const char* h = std::getenv("MUSTER_HOME"); h && *h) return h;
#ifdef _WIN32
  const char* base = std::getenv("USERPROFILE");
#else
  const char* base = std::getenv("HOME");
#endif
  return std::string(base && *base ? base : ".") + "/.muster";
}

void create_private_home(const std::string& home) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(home, ec) || ec) return;
  if (fs::create_directories(home, ec)) fs::permissions(home, fs::perms::owner_all, fs::perm_options::replace, ec);
}

void restrict_home_files(const std::string& home) {
  namespace fs = std::filesystem;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const fs::path file = fs::path(home) / (std::string("client.db") + suffix);
    std::error_code ec;
    if (fs::exists(file, ec)) {
      fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
    }
  }
}

std::string host_name() {
#ifdef _WIN32
  char buf[256];
  DWORD n = sizeof buf;
  if (GetComputerNameA(buf, &n)) return std::string(buf, n);
  return "device";
#else
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) == 0 && buf[0]) return buf;
  return "device";
#endif
}

std::string read_secret(const std::string& prompt) {
  std::string line;
#ifndef _WIN32
  if (isatty(STDIN_FILENO)) {
    std::cerr << prompt << std::flush;
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << '\n';
    return line;
  }
#endif
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_interrupted != 0; }

std::size_t terminal_columns() {
#ifdef _WIN32
  CONSOLE_SCREEN_BUFFER_INFO info;
  if (_isatty(_fileno(stdout)) && GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &info)) {
    return static_cast<std::size_t>(info.srWindow.Right - info.srWindow.Left + 1);
  }
#else
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
#endif
  if (const char* columns = std::getenv("COLUMNS")) {
    try {
      const long n = std::stol(columns);
      if (n > 0) return static_cast<std::size_t>(n);
    } catch (const std::exception&) {
    }
  }
  return 0;
}

}  // namespace muster::client
