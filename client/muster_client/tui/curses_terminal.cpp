// The Terminal on ncursesw: the locale's UTF-8 (setlocale), wide-character output, keys
// through get_wch. Thin on purpose: what is drawn is tui::Model's frame, already cut to
// the terminal's width by display width (muster/base/utf8.hpp).
#include "muster_client/tui/curses_terminal.hpp"

#include <clocale>
#include <cstdio>
#include <cwchar>
#include <string>

#include <unistd.h>

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <ncurses.h>

#include "muster/base/utf8.hpp"

namespace muster::client::tui {

namespace {

enum Pair : short { kPairAlert = 1, kPairStatus = 2, kPairTitle = 3 };

class CursesTerminal final : public Terminal {
 public:
  CursesTerminal() {
    initscr();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (has_colors()) {
      start_color();
      use_default_colors();
      init_pair(kPairAlert, COLOR_RED, -1);
      init_pair(kPairStatus, COLOR_BLACK, COLOR_CYAN);
      init_pair(kPairTitle, COLOR_YELLOW, -1);
      colors_ = true;
    }
  }
  ~CursesTerminal() override { endwin(); }
  CursesTerminal(const CursesTerminal&) = delete;
  CursesTerminal& operator=(const CursesTerminal&) = delete;

  std::pair<int, int> size() override {
    int rows = 0, cols = 0;
    getmaxyx(stdscr, rows, cols);
    return {cols, rows};
  }

  std::optional<std::int32_t> key(std::chrono::milliseconds wait) override {
    timeout(static_cast<int>(wait.count()));
    wint_t ch = 0;
    const int got = get_wch(&ch);
    if (got == ERR) return std::nullopt;
    if (got == KEY_CODE_YES) {
      switch (ch) {
        case KEY_UP: return kUp;
        case KEY_DOWN: return kDown;
        case KEY_LEFT: return kLeft;
        case KEY_RIGHT: return kRight;
        case KEY_PPAGE: return kPageUp;
        case KEY_NPAGE: return kPageDown;
        case KEY_HOME: return kHome;
        case KEY_END: return kEnd;
        case KEY_BTAB: return kBackTab;
        case KEY_ENTER: return kEnter;
        case KEY_BACKSPACE: return kBackspace;
        case KEY_RESIZE: return kResize;
        default: return std::nullopt;
      }
    }
    if (ch == '\r' || ch == '\n') return kEnter;
    if (ch == 8 || ch == 127) return kBackspace;
    return static_cast<std::int32_t>(ch);
  }

  void draw(const Frame& frame) override {
    erase();
    for (int y = 0; y < frame.height && y < static_cast<int>(frame.lines.size()); ++y) {
      const Line& line = frame.lines[static_cast<std::size_t>(y)];
      const attr_t attr = attribute(line.style);
      attron(attr);
      // One cchar_t per character with the zero-width ones that follow it (a combining
      // mark, a variation selector): addwstr would drop a combining mark (か + U+3099).
      move(y, 0);
      const std::u32string cps = decode_utf8(line.text);
      for (std::size_t i = 0; i < cps.size();) {
        wchar_t cluster[CCHARW_MAX + 1] = {};
        int n = 0;
        cluster[n++] = static_cast<wchar_t>(cps[i++]);
        while (i < cps.size() && wcwidth(static_cast<wchar_t>(cps[i])) == 0) {
          if (n < CCHARW_MAX) cluster[n++] = static_cast<wchar_t>(cps[i]);
          ++i;
        }
        cchar_t c;
        setcchar(&c, cluster, A_NORMAL, 0, nullptr);
        // The bottom-right cell cannot be written without scrolling: ERR there is expected.
        (void)add_wch(&c);
      }
      attroff(attr);
    }
    if (frame.cursor_column >= 0) {
      curs_set(1);
      move(frame.height - 2, frame.cursor_column);
    } else {
      curs_set(0);
    }
    refresh();
  }

  void bell() override { beep(); }

 private:
  attr_t attribute(Style s) const {
    switch (s) {
      case Style::header: return A_BOLD;
      case Style::title: return A_BOLD | (colors_ ? COLOR_PAIR(kPairTitle) : 0);
      case Style::focus: return A_REVERSE;
      case Style::alert: return colors_ ? COLOR_PAIR(kPairAlert) : A_BOLD;
      case Style::status: return colors_ ? COLOR_PAIR(kPairStatus) : A_REVERSE;
      case Style::dim: return A_DIM;
      case Style::normal: return A_NORMAL;
    }
    return A_NORMAL;
  }
  bool colors_ = false;
};

}  // namespace

Result<std::unique_ptr<Terminal>> make_curses_terminal() {
  if (isatty(STDIN_FILENO) == 0 || isatty(STDOUT_FILENO) == 0) {
    return make_error(Errc::invalid, "muster tui needs a terminal (standard input and output)");
  }
  // The user's locale, for UTF-8 output and input (LANG=C.UTF-8 or zh_CN.UTF-8).
  std::setlocale(LC_ALL, "");
  return std::unique_ptr<Terminal>(std::make_unique<CursesTerminal>());
}

}  // namespace muster::client::tui
