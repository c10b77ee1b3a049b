// What `muster tui` needs from a terminal: its size, keys, drawing a Frame, the bell.
// tui/curses_terminal.cpp implements it on ncursesw (a target of its own, linked into
// the muster program only); the loop and the model never name a terminal library.
// Thread: the TUI's one thread (curses is not thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "muster/base/result.hpp"
#include "muster_client/tui/model.hpp"

namespace muster::client::tui {

class Terminal {
 public:
  virtual ~Terminal() = default;
  // Columns and rows now (a resize shows here).
  virtual std::pair<int, int> size() = 0;
  // The next key (tui::Key codes or a character), waiting at most `wait`; nullopt if none.
  virtual std::optional<std::int32_t> key(std::chrono::milliseconds wait) = 0;
  virtual void draw(const Frame& frame) = 0;
  virtual void bell() = 0;
};

// Opens the terminal full screen (and gives it back when the Terminal is destroyed);
// an error if standard input and output are not a terminal.
using TerminalFactory = std::function<Result<std::unique_ptr<Terminal>>()>;

}  // namespace muster::client::tui
