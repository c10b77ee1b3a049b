// muster tui [--no-bell]: the loop behind the full-screen client. One thread: the live
// connection (sync_driver's drive, stay_live) polls keep_going every 50 ms when idle,
// and that is where keys are read and the screen redrawn; events from the server mark
// the screen for redrawing, so a new offer shows without a key press. When the
// connection is lost the loop keeps serving keys offline (actions are queued in the
// outbox like the command line's, marked * until acknowledged) and reconnects with a
// back-off from 0.5 s doubling to 5 s. The screen's content and keys are tui/model.*;
// the terminal is whatever main.cpp hands in (tui/curses_terminal.cpp).
#include <chrono>
#include <deque>
#include <iostream>
#include <map>

#include "muster/base/utf8.hpp"
#include "muster_client/cli.hpp"
#include "muster_client/ops.hpp"
#include "muster_client/platform.hpp"
#include "muster_client/tui/model.hpp"

namespace muster::client {

namespace domain = muster::domain;
using domain::Json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr milliseconds kFirstBackoff{500};
constexpr milliseconds kMaxBackoff{5000};  // bounded: a volunteer waiting for the server sees it back soon
constexpr milliseconds kRedrawEvery{1000};  // the offers' countdowns

std::optional<std::string> non_empty(const Json& fields, const char* name) {
  const std::string v = fields.value(name, "");
  if (v.empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<domain::Op> Cli::form_op(const std::string& kind, const Json& fields) {
  auto local = [&](const char* name, const char* label) -> Result<std::optional<UnixMs>> {
    const std::string text = fields.value(name, "");
    if (text.empty()) return std::optional<UnixMs>{};
    auto t = parse_time(text, zone());
    if (!t) {
      return make_error(Errc::invalid, std::string(label) + " takes a time like 2026-11-25 08:00 (in " + zone().name() +
                                           ")");
    }
    return std::optional<UnixMs>{*t};
  };
  Result<Json> body = Json::object();
  if (kind == "task.create") {
    auto due = local("due", "Due");
    if (!due) return due.error();
    NewTask t{fields.value("kind", ""),     fields.value("title", ""),  fields.value("area", ""),
              non_empty(fields, "assignee"), non_empty(fields, "dispatch"), non_empty(fields, "priority"),
              non_empty(fields, "skill"),    *due};
    body = task_create_body(t);
  } else if (kind == "notice.post") {
    body = notice_post_body(fields.value("area", ""), fields.value("text", ""), fields.value("ack", "") == "yes",
                            non_empty(fields, "priority"));
  } else if (kind == "message.send") {
    body = message_body(fields.value("to", ""), fields.value("text", ""));
  } else if (kind == "hotline.log") {
    auto started = local("started", "Started");
    if (!started) return started.error();
    if (!*started) return make_error(Errc::invalid, "a call needs the time it started");
    auto duration = whole_number(fields.value("duration", ""));
    if (!duration) return make_error(Errc::invalid, "Minutes takes whole minutes");
    auto risk = whole_number(fields.value("risk", ""));
    if (!risk) return make_error(Errc::invalid, "Risk takes a whole number from 0 to 5");
    body = hotline_log_body(NewCall{**started, *duration, fields.value("category", ""), *risk,
                                    non_empty(fields, "area"), fields.value("notes", ""),
                                    non_empty(fields, "followup")});
  } else {
    return make_error(Errc::invalid, "no form for " + kind);
  }
  if (!body) return body.error();
  return make_op(kind, std::move(*body));
}

int Cli::tui() {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  if (!terminal_) return fail(kUsage, "this muster was built without the terminal UI");
  const bool ring = !a_.flag("no-bell");
  (void)zone();  // its warning, if any, before the screen opens
  auto opened = terminal_();
  if (!opened) return fail(kUsage, opened.error().message);
  std::unique_ptr<tui::Terminal> term = std::move(*opened);
  install_interrupt_handler();

  tui::Model model;
  tui::LinkState link;
  link.zone = zone_missing_.empty() ? zone().name() : "UTC (no " + zone_missing_ + " here)";
  if (auto t = parse_utc(store().config("last_sync"))) link.last_sync = *t;
  std::map<std::string, Json> rollups;           // notice id -> notice.status
  std::deque<protocol::Query> queries;           // waiting for the connection
  std::map<std::string, std::string> asked;      // query id -> notice id
  bool quit = false;
  bool dirty = true;
  std::string fatal;
  auto last_draw = SteadyClock::time_point{};
  std::int64_t last_waiting = -1;
  std::string last_rejection;
  if (auto rej = store().rejections(1); !rej.empty()) last_rejection = rej.front().op_id.str();

  auto refresh = [&] {
    tui::Snapshot s;
    s.user = id->user;
    s.actor = id->actor();
    s.state = store().view(&s.pending);
    s.inbox = inbox_items(*id);
    s.now = SystemClock().now_ms();
    link.waiting = store().outbox_size();
    s.link = link;
    s.rollups = rollups;
    s.local_time = [this](UnixMs t) { return short_time(t); };
    s.people = People::from_json(store().config("people"));  // a welcome may bring new names
    if (auto rej = store().rejections(1); !rej.empty() && rej.front().op_id.str() != last_rejection) {
      const auto& r = rej.front();
      last_rejection = r.op_id.str();
      model.say("rejected " + r.kind + ": " + std::string(to_string(r.error.code)) + ": " + local_times(r.error.message),
                true);
    }
    if (model.update(std::move(s)) && ring) term->bell();
  };
  auto draw = [&] {
    refresh();
    const auto [w, h] = term->size();
    term->draw(model.frame(w, h));
    last_draw = SteadyClock::now();
    dirty = false;
  };
  auto act = [&](const tui::Action& a) {
    using Kind = tui::Action::Kind;
    const std::string later = link.link == tui::Link::online ? "" : " (offline: sent when the server is back)";
    switch (a.kind) {
      case Kind::none: return;
      case Kind::quit: quit = true; return;
      case Kind::ack_alerts:
        store().mark("ack", a.alerts);
        model.say(a.what);
        return;
      case Kind::query:
        if (link.link != tui::Link::online) {
          model.say("offline: the acknowledgements are the server's to count; try again when online", true);
          return;
        }
        queries.push_back(protocol::Query{ids_.next(SystemClock().now_ms()), a.query_name, a.body});
        asked[queries.back().id] = a.body.value("notice", "");
        model.say("asking the server for the " + a.what);
        return;
      case Kind::queue: break;
    }
    Result<domain::Op> op = make_op(a.op_kind, a.body);
    const bool form = a.op_kind == "task.create" || a.op_kind == "notice.post" || a.op_kind == "message.send" ||
                      a.op_kind == "hotline.log";
    if (form) {
      op = form_op(a.op_kind, a.body);
    } else if (a.op_kind.rfind("task.", 0) == 0) {
      op = make_op(a.op_kind, task_transition_body(a.body.value("task", ""), non_empty(a.body, "note")));
    } else if (a.op_kind == "notice.ack") {
      op = make_op(a.op_kind, notice_ack_body(a.body.value("notice", "")));
    } else if (a.op_kind.rfind("shift.", 0) == 0) {
      op = make_op(a.op_kind, shift_body(a.body.value("shift", "")));
    }
    if (!op) {
      model.say(op.error().message, true);
      return;
    }
    if (auto st = queue_op(store(), *id, *op, SystemClock().now_ms()); !st) {
      const auto& e = st.error();
      model.say(std::string(to_string(e.code)) + ": " + local_times(e.message), true);
      return;
    }
    if (form) model.sent();
    model.say(a.what + " queued" + later);
  };
  // Keys for up to `wait`, then a redraw if anything changed (or a second passed).
  auto pump = [&](milliseconds wait) {
    if (interrupted()) quit = true;
    // A hotline call's notes leave no trace in the WAL once its op is acknowledged (the
    // command line does this after each sync; the TUI's session never ends). Here no
    // transaction is open: drive calls keep_going after committing.
    store().scrub();
    auto k = term->key(wait);
    while (k && !quit) {
      if (*k != tui::kResize) act(model.key(*k));
      dirty = true;
      k = term->key(milliseconds{0});
    }
    const auto waiting = store().outbox_size();
    if (waiting != last_waiting) {
      // Fewer waiting while online: the server acknowledged them.
      if (waiting < last_waiting && link.link == tui::Link::online) link.last_sync = SystemClock().now_ms();
      last_waiting = waiting;
      dirty = true;
    }
    if (!quit && (dirty || SteadyClock::now() - last_draw >= kRedrawEvery)) draw();
    return !quit;
  };

  draw();
  milliseconds backoff = kFirstBackoff;
  bool attempted = false;
  while (!quit) {
    link.link = attempted ? tui::Link::reconnecting : tui::Link::connecting;
    attempted = true;
    draw();
    DriveOptions options;
    options.stay_live = true;
    options.connect_timeout = milliseconds{2000};
    options.keep_going = [&] {
      if (link.link != tui::Link::online) {
        link.link = tui::Link::online;
        link.last_sync = SystemClock().now_ms();
        backoff = kFirstBackoff;
        dirty = true;
      }
      return pump(milliseconds{0});
    };
    options.next_query = [&]() -> std::optional<protocol::Query> {
      if (queries.empty()) return std::nullopt;
      auto q = queries.front();
      queries.pop_front();
      return q;
    };
    options.on_result = [&](const protocol::QueryResult& r) {
      auto it = asked.find(r.id);
      if (it == asked.end()) return;
      if (r.ok) {
        rollups[it->second] = r.body;
        model.say("");
      } else if (r.error) {
        model.say(std::string(to_string(r.error->code)) + ": " + r.error->message, true);
      }
      asked.erase(it);
      dirty = true;
    };
    auto r = drive(connect_, store(), *id, {}, options, [&](const domain::Event&) {
      link.last_sync = SystemClock().now_ms();
      dirty = true;
    });
    if (quit || r.status.ok()) break;
    if (r.status.error().code == Errc::forbidden) {
      fatal = r.status.error().message;
      break;
    }
    if (link.link == tui::Link::online || link.offline_since == 0) link.offline_since = SystemClock().now_ms();
    link.link = tui::Link::offline;
    queries.clear();
    asked.clear();
    dirty = true;
    const auto until = SteadyClock::now() + backoff;
    while (!quit && SteadyClock::now() < until) pump(milliseconds{50});
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  if (link.last_sync != 0) store().set_config("last_sync", format_utc(link.last_sync));
  term.reset();  // the terminal back as it was, before anything is printed
  if (!fatal.empty()) return fail(kRejected, fatal);
  return kOk;
}

}  // namespace muster::client
