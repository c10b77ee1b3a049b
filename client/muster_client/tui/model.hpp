// `muster tui`'s state and behaviour, without a terminal: the screens, the focus, the
// filter, the forms, what each key does, and the frame of text the renderer draws.
// Pure: it is handed a Snapshot (the replica's view, the inbox, the connection's state,
// the time) and returns Actions (ops to queue, alerts to dismiss, queries to ask, quit);
// the loop in tui_command.cpp carries them out with the same code the command line uses
// (ops.hpp), and tui/curses_terminal.cpp draws the Frame. Unit tests check the frames at
// 80x24 and 120x40 (tests/unit/client/tui_model_test.cpp).
//
// Every line of a frame is exactly `width` display columns (muster/base/utf8.hpp's
// widths), and every text another person wrote goes through display_safe.
//
// Thread: whoever owns it (the TUI's one thread); no locks, no clock of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/inbox.hpp"
#include "muster/domain/state.hpp"
#include "muster_client/people.hpp"

namespace muster::client::tui {

// Keys: a printable character is its code point; the others are these.
enum Key : std::int32_t {
  kTab = 9,
  kEnter = 10,
  kEscape = 27,
  kBackspace = 127,
  kUp = 0x110001,
  kDown,
  kLeft,
  kRight,
  kPageUp,
  kPageDown,
  kBackTab,
  kHome,
  kEnd,
  kResize,  // the terminal changed size: nothing for the model, a redraw
};

enum class Screen { inbox, tasks, roster, notices, headcount, hotline, compose };
const char* screen_title(Screen s);

enum class Link { connecting, online, offline, reconnecting };

// What the TUI knows of its connection, for the status bar.
struct LinkState {
  Link link = Link::connecting;
  UnixMs offline_since = 0;  // when the connection was lost (offline, reconnecting)
  std::int64_t waiting = 0;  // ops in the outbox
  UnixMs last_sync = 0;      // 0: never
  std::string zone;          // the server's time zone, "Asia/Shanghai"
};

// Everything the screens show, taken from the client store by the loop.
struct Snapshot {
  std::string user;
  domain::Actor actor;
  domain::State state;                  // the view: the replica with the outbox on top
  std::set<std::string> pending;        // ids of objects touched by queued ops
  std::vector<domain::InboxItem> inbox;
  UnixMs now = 0;
  LinkState link;
  // Acknowledgement roll-ups the server answered (notice.status, by building), by notice id.
  std::map<std::string, domain::Json> rollups;
  // A time as tables show it, in the server's zone: "2026-11-25 08:00".
  std::function<std::string(UnixMs)> local_time;
  // Display names the server sent: every person on a screen is shown as people.person()
  // gives it, "王芳 (wang)", as in the command line's tables.
  People people;
};

struct Action {
  enum class Kind {
    none,
    quit,
    queue,       // an op: op_kind with body, to check and queue (ops.hpp queue_op); for a
                 // form (task.create, notice.post, message.send, hotline.log) the body is
                 // the fields as typed, made into the op by the command line's code
    ack_alerts,  // dismiss alerts (the inbox's escalations, reminders, gaps)
    query,       // ask the server: query_name with body as its args
  };
  Kind kind = Kind::none;
  std::string op_kind;
  domain::Json body;
  std::vector<std::string> alerts;
  std::string query_name;
  std::string what;  // for the message line: "accept 3F9K2A"
};

enum class Style { normal, title, header, focus, alert, status, dim };

struct Line {
  std::string text;  // exactly the frame's width in display columns
  Style style = Style::normal;
};

struct Frame {
  int width = 0;
  int height = 0;
  std::vector<Line> lines;  // exactly height lines
  int cursor_column = -1;   // where the cursor goes while a prompt is open, else -1
};

// A form: named fields with their values, one focused.
struct Form {
  struct Field {
    std::string name;
    std::string label;
    std::string value;
    std::vector<std::string> choices{};  // Left/Right cycles through these; empty: free text
    bool secret = false;                 // never shown in full on the screen (hotline notes)
  };
  std::string kind;  // task, notice, message, call
  std::vector<Field> fields;
  std::size_t focus = 0;  // fields.size() is the [ send ] button
  const Field* field(const std::string& name) const;
  std::string value(const std::string& name) const;
};

class Model {
 public:
  Model();

  // A new snapshot; returns true if the bell should ring (a new offer or escalation for
  // this user since the last snapshot; never for what was there at the first one).
  bool update(Snapshot snapshot);
  const Snapshot& snapshot() const { return snap_; }

  // One key press.
  Action key(std::int32_t key);

  // The screen at width x height (the frame is never smaller than 20x6).
  Frame frame(int width, int height) const;

  // The loop queued the open form's op: the form starts again, empty.
  void sent();
  // A line of feedback for the message line (what was queued, an error).
  void say(std::string message, bool error = false);

  Screen screen() const { return screen_; }
  void show(Screen s);
  bool help_open() const { return help_; }
  const std::string& message() const { return message_; }
  // The screens this user has, in Tab order (Hotline for hotline operators only).
  std::vector<Screen> screens() const;

  // Tasks screen filter (exposed for the tests): a state, an area, mine, and words of
  // the title.
  struct TaskFilter {
    std::string state;
    std::string area;
    bool mine = false;
    std::string words;
  };
  const TaskFilter& task_filter() const { return filter_; }
  // Parses the `/` prompt's text: `open` (or any state), `area:PATH`, `mine`, `all`
  // (clears), other words match the title. An unknown state is an error naming it.
  static Result<TaskFilter> parse_filter(const std::string& text);

 private:
  enum class Prompt { none, filter, done_note, field };
  struct Row {
    std::string id;      // the object it is about
    std::string kind;    // inbox kind, or "task"/"notice"/"shift"
    std::vector<std::string> alerts;
  };

  std::vector<Row> rows() const;  // the focusable rows of the current screen
  std::vector<const domain::Task*> filtered_tasks() const;
  const domain::Task* focused_task() const;
  std::size_t& focus();
  std::size_t focus_of(Screen s) const;
  Action task_action(const std::string& verb, const std::optional<std::string>& note = std::nullopt);
  Action ack_focused();
  Action prompt_key(std::int32_t key);
  Action form_key(Form& form, std::int32_t key);
  Action submit_form(Form& form);
  void open_compose(const std::string& kind);
  void open_hotline();
  Form* current_form();

  std::vector<std::string> draw_inbox(int width, int height, std::vector<Style>& styles) const;
  std::vector<std::string> draw_tasks(int width, int height, std::vector<Style>& styles) const;
  std::vector<std::string> draw_roster(int width, int height, std::vector<Style>& styles) const;
  std::vector<std::string> draw_notices(int width, int height, std::vector<Style>& styles) const;
  std::vector<std::string> draw_headcount(int width, int height, std::vector<Style>& styles) const;
  std::vector<std::string> draw_form(const Form& form, int width, int height, std::vector<Style>& styles) const;
  std::vector<std::string> draw_help(int width, int height) const;
  std::string status_line(int width) const;
  std::string time_text(UnixMs t) const;
  // A person, display-safe: "王芳 (wang)" (Snapshot::people), else the user name.
  std::string person(const std::string& user) const;
  std::string rfc_time_text(const std::string& rfc3339) const;

  Snapshot snap_;
  bool first_update_ = true;
  std::set<std::string> rung_;  // offers and escalations already announced
  Screen screen_ = Screen::inbox;
  std::map<Screen, std::size_t> focus_;
  TaskFilter filter_;
  bool help_ = false;
  Prompt prompt_ = Prompt::none;
  std::u32string input_;
  std::string prompt_label_;
  std::string done_task_;  // the task `D` asks a note for
  std::string message_;
  bool message_error_ = false;
  Form compose_;
  Form hotline_;
};

}  // namespace muster::client::tui
