#include "muster_client/tui/model.hpp"

#include <algorithm>
#include <tuple>

#include "muster/base/utf8.hpp"
#include "muster/domain/actor.hpp"
#include "muster/domain/kinds.hpp"

namespace muster::client::tui {

namespace domain = muster::domain;
using domain::Json;

namespace {

// A cell of exactly `w` columns of someone else's text.
std::string cell(std::string_view text, std::size_t w) { return pad_to_width(display_safe(text), w); }
std::string fit(std::string_view text, int w) { return pad_to_width(text, static_cast<std::size_t>(std::max(0, w))); }

// An area path cut from the left ("…antai/yili/b3"): its end (the building) says most.
std::string area_cell(const std::string& area, std::size_t w) {
  std::string safe = display_safe(area);
  if (display_width(safe) <= w) return pad_to_width(safe, w);
  std::u32string cps = decode_utf8(safe);
  while (!cps.empty() && display_width(encode_utf8(cps)) + 1 > w) cps.erase(0, 1);
  return pad_to_width("…" + encode_utf8(cps), w);
}

// The end of an id: ULIDs differ in their last (random) characters, and `muster task
// accept` takes a unique suffix of 4 or more.
std::string short_id(const std::string& id) { return id.size() > 6 ? id.substr(id.size() - 6) : id; }

// A bar of `width` cells, `done` of `total` filled.
std::string bar(int done, int total, int width) {
  if (width <= 0) return "";
  const int filled = total <= 0 ? 0 : std::min(width, done * width / total);
  std::string out;
  for (int i = 0; i < width; ++i) out += i < filled ? "█" : "░";
  return out;
}

bool is_manager_of(const domain::Actor& a, const std::string& area) { return domain::manages(a, area); }

// The first `n` of a list around `focus`: where the visible window starts.
std::size_t window_top(std::size_t focus, std::size_t n, std::size_t total) {
  if (n == 0 || total <= n) return 0;
  if (focus < n) return 0;
  return std::min(focus - n + 1, total - n);
}

// Edit distance, for telling a misspelt state ("opne") from words of a title. Hand-written:
// a dozen lines over seven short words, not worth a library.
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

const std::vector<std::string>& task_states() {
  static const std::vector<std::string> kStates{"open", "offered", "accepted", "started", "done", "failed", "cancelled"};
  return kStates;
}

const std::vector<std::string>& task_kinds() {
  static const std::vector<std::string> kKinds{"errand", "sampling", "doorknock", "hotline_followup", "generic"};
  return kKinds;
}

}  // namespace

const char* screen_title(Screen s) {
  switch (s) {
    case Screen::inbox: return "Inbox";
    case Screen::tasks: return "Tasks";
    case Screen::roster: return "Roster";
    case Screen::notices: return "Notices";
    case Screen::headcount: return "Head-count";
    case Screen::hotline: return "Hotline";
    case Screen::compose: return "Compose";
  }
  return "";
}

const Form::Field* Form::field(const std::string& name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string Form::value(const std::string& name) const {
  const auto* f = field(name);
  return f ? f->value : "";
}

Model::Model() { open_compose("task"); }

std::vector<Screen> Model::screens() const {
  std::vector<Screen> out{Screen::inbox, Screen::tasks, Screen::roster, Screen::notices, Screen::headcount};
  if (snap_.actor.roles.has(domain::Role::hotline)) out.push_back(Screen::hotline);
  out.push_back(Screen::compose);
  return out;
}

void Model::show(Screen s) {
  screen_ = s;
  help_ = false;
  if (s == Screen::hotline && hotline_.fields.empty()) open_hotline();
}

bool Model::update(Snapshot snapshot) {
  const bool was_empty = snap_.user.empty();
  // The focus stays on the same object when the list changes under it (an accepted offer
  // becomes a task further down; a new offer arrives above).
  std::string focused;
  {
    const auto before = rows();
    const std::size_t f = focus_of(screen_);
    if (f < before.size()) focused = before[f].id;
  }
  snap_ = std::move(snapshot);
  if (!focused.empty()) {
    const auto after = rows();
    for (std::size_t i = 0; i < after.size(); ++i) {
      if (after[i].id == focused) {
        focus_[screen_] = i;
        break;
      }
    }
  }
  if (was_empty && compose_.kind == "task") {
    // Volunteers cannot create tasks: their Compose starts on a message.
    open_compose(domain::is_manager(snap_.actor) ? "task" : "message");
  }
  bool ring = false;
  for (const auto& item : snap_.inbox) {
    if (item.kind != "offer" && item.kind != "escalation") continue;
    const std::string key = item.kind + ' ' + item.id + ' ' + item.at + ' ' + item.detail;
    if (rung_.insert(key).second && !first_update_) ring = true;
  }
  first_update_ = false;
  return ring;
}

void Model::sent() {
  if (screen_ == Screen::compose) {
    open_compose(compose_.kind);
  } else if (screen_ == Screen::hotline) {
    open_hotline();
  }
}

void Model::say(std::string message, bool error) {
  message_ = std::move(message);
  message_error_ = error;
}

std::size_t& Model::focus() { return focus_[screen_]; }

std::size_t Model::focus_of(Screen s) const {
  auto it = focus_.find(s);
  return it == focus_.end() ? 0 : it->second;
}

// ---------------------------------------------------------------- rows and focus

std::vector<const domain::Task*> Model::filtered_tasks() const {
  std::vector<const domain::Task*> out;
  const std::string& me = snap_.user;
  for (const auto& [id, t] : snap_.state.tasks) {
    if (filter_.mine && t.assignee != me && t.offered_to != me && t.creator != me) continue;
    if (!filter_.state.empty() && std::string(domain::to_string(t.state)) != filter_.state) continue;
    if (!filter_.area.empty() && !domain::area_contains(filter_.area, t.area)) continue;
    if (!filter_.words.empty() && t.title.find(filter_.words) == std::string::npos) continue;
    out.push_back(&t);
  }
  // Open work first, newest first within a state.
  std::stable_sort(out.begin(), out.end(), [](const domain::Task* a, const domain::Task* b) {
    return std::make_tuple(domain::is_final(a->state), b->created_at) <
           std::make_tuple(domain::is_final(b->state), a->created_at);
  });
  return out;
}

std::vector<Model::Row> Model::rows() const {
  std::vector<Row> out;
  switch (screen_) {
    case Screen::inbox:
      for (const auto& item : snap_.inbox) out.push_back(Row{item.id, item.kind, item.alerts});
      break;
    case Screen::tasks:
      for (const auto* t : filtered_tasks()) out.push_back(Row{t->id.str(), "task", {}});
      break;
    case Screen::notices: {
      std::vector<const domain::Notice*> ns;
      for (const auto& [id, n] : snap_.state.notices) {
        if (!n.area.empty()) ns.push_back(&n);
      }
      std::stable_sort(ns.begin(), ns.end(),
                       [](const domain::Notice* a, const domain::Notice* b) { return a->posted_at > b->posted_at; });
      for (const auto* n : ns) out.push_back(Row{n->id, "notice", {}});
      break;
    }
    default: break;
  }
  return out;
}

const domain::Task* Model::focused_task() const {
  const auto rs = rows();
  const std::size_t f = focus_of(screen_);
  if (f >= rs.size()) return nullptr;
  auto it = snap_.state.tasks.find(domain::TaskId(rs[f].id));
  return it == snap_.state.tasks.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------- keys

Action Model::task_action(const std::string& verb, const std::optional<std::string>& note) {
  const auto* t = focused_task();
  if (t == nullptr) {
    say("no task in focus to " + verb, true);
    return {};
  }
  Action a;
  a.kind = Action::Kind::queue;
  a.op_kind = "task." + verb;
  a.body = Json{{"task", t->id.str()}};
  if (note && !note->empty()) a.body["note"] = *note;
  a.what = verb + " " + short_id(t->id.str());
  return a;
}

Action Model::ack_focused() {
  const auto rs = rows();
  const std::size_t f = focus_of(screen_);
  if (f >= rs.size()) {
    say("nothing in focus to acknowledge", true);
    return {};
  }
  const Row& row = rs[f];
  Action a;
  if (row.kind == "notice") {
    a.kind = Action::Kind::queue;
    a.op_kind = "notice.ack";
    a.body = Json{{"notice", row.id}};
    a.what = "acknowledge notice " + short_id(row.id);
    return a;
  }
  if (!row.alerts.empty()) {
    a.kind = Action::Kind::ack_alerts;
    a.alerts = row.alerts;
    a.what = "dismiss " + row.kind + " " + short_id(row.id);
    return a;
  }
  say("k acknowledges a notice, an escalation, a reminder or a gap", true);
  return {};
}

Result<Model::TaskFilter> Model::parse_filter(const std::string& text) {
  TaskFilter f;
  std::string words;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find(' ', at), text.size());
    const std::string w = text.substr(at, end - at);
    at = end + 1;
    if (w.empty()) continue;
    if (w == "all") {
      f = TaskFilter{};
      words.clear();
    } else if (w == "mine") {
      f.mine = true;
    } else if (w.rfind("area:", 0) == 0) {
      f.area = w.substr(5);
    } else if (w.rfind("state:", 0) == 0 || domain::task_state_from_string(w)) {
      const std::string s = w.rfind("state:", 0) == 0 ? w.substr(6) : w;
      if (!domain::task_state_from_string(s)) {
        return make_error(Errc::invalid, "no task state '" + s +
                                             "' (open offered accepted started done failed cancelled)");
      }
      f.state = s;
    } else {
      // A word one or two letters from a state is a misspelt state, not a title's word.
      for (const auto& st : task_states()) {
        if (w.size() >= 3 && distance(w, st) <= 2) {
          return make_error(Errc::invalid, "no task state '" + w + "': did you mean " + st + "?");
        }
      }
      words += (words.empty() ? "" : " ") + w;
    }
  }
  f.words = words;
  return f;
}

Action Model::prompt_key(std::int32_t key) {
  if (key == kEscape) {
    prompt_ = Prompt::none;
    input_.clear();
    say("cancelled");
    return {};
  }
  if (key == kBackspace || key == 8) {
    if (!input_.empty()) input_.pop_back();
    return {};
  }
  if (key == kEnter || key == '\r') {
    const std::string text = encode_utf8(input_);
    const Prompt p = prompt_;
    prompt_ = Prompt::none;
    input_.clear();
    if (p == Prompt::filter) {
      auto f = parse_filter(text);
      if (!f) {
        say(f.error().message, true);
        return {};
      }
      filter_ = *f;
      focus_[Screen::tasks] = 0;
      say("filter: " + (text.empty() ? std::string("all") : text));
      return {};
    }
    if (p == Prompt::done_note) {
      // The task may have moved in the list meanwhile: act on the one asked about.
      Action a;
      a.kind = Action::Kind::queue;
      a.op_kind = "task.done";
      a.body = Json{{"task", done_task_}};
      if (!text.empty()) a.body["note"] = text;
      a.what = "done " + short_id(done_task_);
      return a;
    }
    if (p == Prompt::field) {
      if (Form* form = current_form(); form != nullptr && form->focus < form->fields.size()) {
        form->fields[form->focus].value = text;
        if (form->focus + 1 <= form->fields.size()) ++form->focus;
      }
    }
    return {};
  }
  if (key >= 32 && key < 0x110000 && key != kBackspace) input_.push_back(static_cast<char32_t>(key));
  return {};
}

Form* Model::current_form() {
  if (screen_ == Screen::compose) return &compose_;
  if (screen_ == Screen::hotline) return &hotline_;
  return nullptr;
}

void Model::open_compose(const std::string& kind) {
  Form f;
  f.kind = kind;
  f.fields.push_back({"form", "Form", kind, {"task", "notice", "message"}});
  const std::string area = snap_.actor.area;
  if (kind == "task") {
    f.fields.push_back({"kind", "Kind", "errand", task_kinds()});
    f.fields.push_back({"title", "Title", ""});
    f.fields.push_back({"area", "Area", area});
    f.fields.push_back({"dispatch", "Dispatch", "", {"", "offer", "claim", "direct"}});
    f.fields.push_back({"assignee", "Assignee", ""});
    f.fields.push_back({"priority", "Priority", "normal", {"normal", "high", "urgent", "low"}});
    f.fields.push_back({"due", "Due", ""});
  } else if (kind == "notice") {
    f.fields.push_back({"area", "Area", area});
    f.fields.push_back({"text", "Text", ""});
    f.fields.push_back({"ack", "Ask to ack", "yes", {"yes", "no"}});
    f.fields.push_back({"priority", "Priority", "normal", {"normal", "high", "urgent", "low"}});
  } else {
    f.fields.push_back({"to", "To", ""});
    f.fields.push_back({"text", "Text", ""});
  }
  f.focus = 1;
  compose_ = std::move(f);
}

void Model::open_hotline() {
  Form f;
  f.kind = "call";
  f.fields.push_back({"started", "Started", snap_.local_time ? snap_.local_time(snap_.now) : ""});
  f.fields.push_back({"duration", "Minutes", ""});
  f.fields.push_back({"category", "Category", ""});
  f.fields.push_back({"risk", "Risk 0-5", "0", {"0", "1", "2", "3", "4", "5"}});
  f.fields.push_back({"area", "Area", ""});
  f.fields.push_back({"notes", "Notes", "", {}, true});
  f.fields.push_back({"followup", "Follow-up", ""});
  f.focus = 1;
  hotline_ = std::move(f);
}

Action Model::submit_form(Form& form) {
  Action a;
  a.kind = Action::Kind::queue;
  a.op_kind = form.kind == "task"     ? "task.create"
              : form.kind == "notice" ? "notice.post"
              : form.kind == "message" ? "message.send"
                                       : "hotline.log";
  // The fields as typed: the loop builds the op with the command line's code (ops.hpp)
  // and reads times in the server's zone.
  a.body = Json::object();
  for (const auto& f : form.fields) {
    if (f.name != "form") a.body[f.name] = f.value;
  }
  a.what = "new " + form.kind;
  return a;
}

Action Model::form_key(Form& form, std::int32_t key) {
  const std::size_t n = form.fields.size();
  if (key == kUp) {
    if (form.focus > 0) --form.focus;
  } else if (key == kDown) {
    if (form.focus < n) ++form.focus;
  } else if ((key == kLeft || key == kRight || key == ' ') && form.focus < n && !form.fields[form.focus].choices.empty()) {
    auto& f = form.fields[form.focus];
    auto it = std::find(f.choices.begin(), f.choices.end(), f.value);
    std::size_t i = it == f.choices.end() ? 0 : static_cast<std::size_t>(it - f.choices.begin());
    i = key == kLeft ? (i + f.choices.size() - 1) % f.choices.size() : (i + 1) % f.choices.size();
    f.value = f.choices[i];
    if (f.name == "form") {
      open_compose(f.value);
      compose_.focus = 0;
    }
  } else if (key == kEnter || key == '\r') {
    if (form.focus >= n) return submit_form(form);
    auto& f = form.fields[form.focus];
    if (!f.choices.empty()) {
      ++form.focus;
      return {};
    }
    prompt_ = Prompt::field;
    prompt_label_ = f.label + ": ";
    input_ = decode_utf8(f.value);
  }
  return {};
}

Action Model::key(std::int32_t k) {
  if (prompt_ != Prompt::none) return prompt_key(k);
  if (help_) {
    help_ = false;  // any key
    return {};
  }
  const auto order = screens();
  auto index = static_cast<std::size_t>(std::find(order.begin(), order.end(), screen_) - order.begin());
  switch (k) {
    case kTab: show(order[(index + 1) % order.size()]); return {};
    case kBackTab: show(order[(index + order.size() - 1) % order.size()]); return {};
    case '?': help_ = true; return {};
    case 'q': {
      Action a;
      a.kind = Action::Kind::quit;
      return a;
    }
    default: break;
  }
  if (Form* form = current_form()) {
    if (k == kEscape) {
      show(Screen::inbox);
      return {};
    }
    if (k == kUp || k == kDown || k == kLeft || k == kRight || k == kEnter || k == '\r' || k == ' ') {
      return form_key(*form, k);
    }
  }
  const std::size_t count = rows().size();
  std::size_t& f = focus();
  if (count > 0 && f >= count) f = count - 1;  // the list shrank under it: the last, as drawn
  switch (k) {
    case kUp: if (f > 0) --f; return {};
    case kDown: if (f + 1 < count) ++f; return {};
    case kPageUp: f = f > 10 ? f - 10 : 0; return {};
    case kPageDown: f = count == 0 ? 0 : std::min(count - 1, f + 10); return {};
    case kHome: f = 0; return {};
    case kEnd: f = count == 0 ? 0 : count - 1; return {};
    case kEscape: message_.clear(); return {};
    case '/':
      show(Screen::tasks);
      prompt_ = Prompt::filter;
      prompt_label_ = "filter (a state, area:PATH, mine, words; all clears): ";
      input_.clear();
      return {};
    case 'n':
      show(Screen::compose);
      return {};
    case 'k': return ack_focused();
    default: break;
  }
  // The inbox's shift items: accept a gap offer is signing up; start a reminded shift is
  // checking in.
  if (screen_ == Screen::inbox && f < count) {
    const auto& item = snap_.inbox[f];
    if ((k == 'a' && item.kind == "gap_offer") || (k == 's' && item.kind == "reminder")) {
      Action a;
      a.kind = Action::Kind::queue;
      a.op_kind = k == 'a' ? "shift.signup" : "shift.checkin";
      a.body = Json{{"shift", item.id}};
      a.what = (k == 'a' ? "sign up for " : "check in to ") + short_id(item.id);
      return a;
    }
  }
  switch (k) {
    case 'a': return task_action("accept");
    case 'd': return task_action("decline");
    case 's': return task_action("start");
    case 'c': return task_action("claim");
    case 'D': {
      const auto* t = focused_task();
      if (t == nullptr) {
        say("no task in focus to mark done", true);
        return {};
      }
      done_task_ = t->id.str();
      prompt_ = Prompt::done_note;
      prompt_label_ = "done " + short_id(done_task_) + ", note (Enter sends, Esc cancels): ";
      input_.clear();
      return {};
    }
    case kEnter:
    case '\r':
      if (screen_ == Screen::notices && f < count) {
        Action a;
        a.kind = Action::Kind::query;
        a.query_name = "notice.status";
        a.body = Json{{"notice", rows()[f].id}, {"by", "building"}, {"missing", false}};  // every building, lagging or not
        a.what = "acknowledgements of " + short_id(rows()[f].id);
        return a;
      }
      return {};
    default: return {};
  }
}

// ---------------------------------------------------------------- drawing

std::string Model::time_text(UnixMs t) const {
  return snap_.local_time ? snap_.local_time(t) : format_utc(t).substr(0, 16);
}

std::string Model::rfc_time_text(const std::string& rfc3339) const {
  auto t = parse_utc(rfc3339);
  return t ? time_text(*t) : rfc3339;
}

std::vector<std::string> Model::draw_inbox(int width, int height, std::vector<Style>& styles) const {
  std::vector<std::string> out;
  const auto& items = snap_.inbox;
  if (items.empty()) {
    out.push_back(fit(" Nothing needs you now.", width));
    styles.push_back(Style::dim);
    return out;
  }
  const int kind_w = 11, when_w = 17;
  const int area_w = width >= 120 ? 30 : 16;
  const int title_w = std::max(8, width - kind_w - 2 - area_w - when_w - 1);
  out.push_back(fit(" " + fit("KIND", kind_w - 1) + "  " + fit("TITLE", title_w) + fit("AREA", area_w) + "WHEN", width));
  styles.push_back(Style::header);
  const std::size_t list_h = static_cast<std::size_t>(std::max(1, height - 4));
  const std::size_t f = std::min(focus_of(Screen::inbox), items.size() - 1);
  const std::size_t top = window_top(f, list_h, items.size());
  bool any_pending = false;
  for (std::size_t i = top; i < items.size() && i < top + list_h; ++i) {
    const auto& item = items[i];
    std::string when;
    if (item.kind == "offer" && !item.expires.empty()) {
      auto until = parse_utc(item.expires);
      const long long left = until ? (*until - snap_.now) / 1000 : 0;
      when = left <= 0 ? "expired" : "⏱ " + std::to_string(left / 60) + ":" + (left % 60 < 10 ? "0" : "") +
                                         std::to_string(left % 60) + " left";
    } else if (!item.due.empty()) {
      when = rfc_time_text(item.due).substr(5);
    } else {
      when = rfc_time_text(item.at).substr(5);
    }
    const bool pending = snap_.pending.count(item.id) > 0;
    any_pending = any_pending || pending;
    // A message says who wrote it, as `muster msg list` does: "王芳 (wang): 白菜已送到".
    std::string title = item.title;
    if (item.kind == "message") {
      if (auto m = snap_.state.messages.find(item.id); m != snap_.state.messages.end()) {
        title = snap_.people.person(m->second.from) + ": " + title;
      }
    }
    out.push_back(fit(" " + cell(item.kind, static_cast<std::size_t>(kind_w - 1)) + (pending ? "* " : "  ") +
                          cell(title, static_cast<std::size_t>(title_w - 1)) + " " +
                          area_cell(item.area, static_cast<std::size_t>(area_w - 1)) + " " + when,
                      width));
    styles.push_back(i == f ? Style::focus : (item.kind == "offer" || item.kind == "escalation" ? Style::alert
                                                                                                 : Style::normal));
  }
  out.push_back(std::string(static_cast<std::size_t>(width), ' '));
  styles.push_back(Style::normal);
  const auto& item = items[f];
  std::string keys;
  if (item.kind == "offer") keys = "a accept  d decline";
  else if (item.kind == "task") keys = "s start  D done";
  else if (item.kind == "notice") keys = "k acknowledge";
  else if (item.kind == "gap_offer") keys = "a sign up  k dismiss";
  else if (item.kind == "reminder") keys = "s check in  k dismiss";
  else if (item.kind == "escalation" || item.kind == "gap") keys = "k dismiss";
  out.push_back(fit(" → " + display_safe(item.action) + (keys.empty() ? "" : "   [" + keys + "]"), width));
  styles.push_back(Style::dim);
  if (any_pending) {
    out.push_back(fit(" * not yet confirmed by the server", width));
    styles.push_back(Style::dim);
  }
  return out;
}

std::vector<std::string> Model::draw_tasks(int width, int height, std::vector<Style>& styles) const {
  std::vector<std::string> out;
  std::string filter = " filter: state " + (filter_.state.empty() ? std::string("any") : filter_.state) + ", area " +
                       (filter_.area.empty() ? std::string("any") : display_safe(filter_.area)) +
                       (filter_.mine ? ", mine" : "") +
                       (filter_.words.empty() ? "" : ", \"" + display_safe(filter_.words) + "\"") + "   (/ to change)";
  out.push_back(fit(filter, width));
  styles.push_back(Style::dim);
  const auto tasks = filtered_tasks();
  const int id_w = 8, state_w = 12, pri_w = 8, holder_w = width >= 120 ? 18 : 15;  // "→王芳 (wang)" is 12
  const int area_w = width >= 120 ? 28 : (width >= 100 ? 18 : 0);
  const int title_w = std::max(8, width - 1 - id_w - state_w - pri_w - holder_w - area_w);
  out.push_back(fit(" " + fit("ID", id_w) + fit("STATE", state_w) + fit("PRI", pri_w) + fit("HOLDER", holder_w) +
                        (area_w > 0 ? fit("AREA", area_w) : "") + "TITLE",
                    width));
  styles.push_back(Style::header);
  // The detail pane takes the lower part: a third of the screen, at least 7 lines.
  const int detail_h = std::max(7, height / 3);
  const std::size_t list_h = static_cast<std::size_t>(std::max(2, height - 2 - detail_h - 1));
  if (tasks.empty()) {
    out.push_back(fit(" no tasks" + std::string(filter_.state.empty() && filter_.area.empty() && !filter_.mine &&
                                                        filter_.words.empty()
                                                    ? ""
                                                    : " match the filter (/ all clears it)"),
                      width));
    styles.push_back(Style::dim);
    return out;
  }
  const std::size_t f = std::min(focus_of(Screen::tasks), tasks.size() - 1);
  const std::size_t top = window_top(f, list_h, tasks.size());
  bool any_pending = false, any_escalated = false;
  for (std::size_t i = top; i < tasks.size() && i < top + list_h; ++i) {
    const auto& t = *tasks[i];
    const bool pending = snap_.pending.count(t.id.str()) > 0;
    const bool escalated = !t.escalated.empty() && !domain::is_final(t.state);
    any_pending = any_pending || pending;
    any_escalated = any_escalated || escalated;
    const std::string state = std::string(domain::to_string(t.state)) + (pending ? "*" : "") + (escalated ? "!" : "");
    const std::string holder = !t.assignee.empty() ? snap_.people.person(t.assignee)
                               : !t.offered_to.empty() ? "→" + snap_.people.person(t.offered_to)
                                                        : "-";
    out.push_back(fit(" " + cell(short_id(t.id.str()), id_w) + cell(state, state_w) +
                          cell(domain::to_string(t.priority), pri_w) + cell(holder, holder_w - 1) + " " +
                          (area_w > 0 ? area_cell(t.area, static_cast<std::size_t>(area_w - 1)) + " " : "") +
                          cell(t.title, static_cast<std::size_t>(title_w)),
                      width));
    styles.push_back(i == f ? Style::focus : (escalated ? Style::alert : Style::normal));
  }
  std::string legend;
  if (any_pending) legend += " * not yet confirmed by the server";
  if (any_escalated) legend += " ! escalated to the leads";
  out.push_back(fit(legend, width));
  styles.push_back(Style::dim);

  // The detail pane: the focused task, its history as far as this replica knows it
  // (created, offered, declined, escalated, last change) and its notes.
  const auto& t = *tasks[f];
  std::vector<std::string> d;
  d.push_back(display_safe(t.title));
  d.push_back("id " + t.id.str() + "  " + display_safe(t.kind) + "  " + std::string(domain::to_string(t.state)) +
              "  " + std::string(domain::to_string(t.priority)) + "  " + std::string(domain::to_string(t.dispatch)));
  std::string who = "area " + display_safe(t.area);
  if (!t.assignee.empty()) who += "  held by " + person(t.assignee);
  if (!t.offered_to.empty()) {
    who += "  offered to " + person(t.offered_to);
    if (!t.offer_expires.empty()) who += " until " + rfc_time_text(t.offer_expires).substr(11);
  }
  if (!t.due.empty()) who += "  due " + rfc_time_text(t.due);
  if (!t.skill.empty()) who += "  skill " + display_safe(t.skill);
  d.push_back(who);
  d.push_back("created  " + rfc_time_text(t.created_at) + " by " + person(t.creator));
  if (!t.offered.empty()) {
    std::string line = "offered  ";
    for (std::size_t i = 0; i < t.offered.size(); ++i) line += (i ? " → " : "") + person(t.offered[i]);
    if (!t.declined_by.empty()) {
      line += "  (declined:";
      for (const auto& u : t.declined_by) line += " " + person(u);
      line += ")";
    }
    d.push_back(line);
  }
  if (!t.escalated.empty()) {
    std::string line = "escalated";
    for (const auto& s : t.escalated) line += " " + display_safe(s);
    d.push_back(line);
  }
  if (!t.updated_at.empty()) d.push_back("changed  " + rfc_time_text(t.updated_at) + " by " + person(t.updated_by));
  if (!t.note.empty()) d.push_back("note     " + display_safe(t.note));
  for (const auto& [k, v] : t.details) d.push_back(display_safe(k) + ": " + display_safe(v));
  for (std::size_t i = 0; i < d.size() && static_cast<int>(i) < detail_h; ++i) {
    out.push_back(fit(" " + d[i], width));
    styles.push_back(i == 0 ? Style::title : Style::normal);
  }
  return out;
}

std::vector<std::string> Model::draw_roster(int width, int height, std::vector<Style>& styles) const {
  std::vector<std::string> out;
  const std::string& me = snap_.user;
  auto shift_line = [&](const domain::Shift& s, const std::string& state) {
    const int names_w = width >= 120 ? 26 : 11;  // room for "王芳 (wang)" at least
    const int post_w = std::max(10, width - 1 - 17 - 6 - 7 - 12 - (width >= 120 ? 30 : 16) - names_w);
    std::string line = " " + fit(time_text(s.start), 17) + fit(time_text(s.end).substr(11), 6) + cell(s.post, post_w) +
                       cell(s.area, width >= 120 ? 30 : 16) +
                       fit(std::to_string(static_cast<int>(s.signups.size())) + "/" + std::to_string(s.seats), 7) +
                       fit(state, 12);
    // Who signed up, "王芳 (wang) 李强 (li)", as many as fit whole; "…" for the rest.
    for (std::size_t i = 0; i < s.signups.size(); ++i) {
      const std::string name = person(s.signups[i].user);
      const bool last = i + 1 == s.signups.size();
      if (display_width(line) + display_width(name) + (last ? 0 : 2) > static_cast<std::size_t>(width)) {
        if (display_width(line) + 1 <= static_cast<std::size_t>(width)) line += "…";
        break;
      }
      line += name + (last ? "" : " ");
    }
    return fit(line, width);
  };
  std::vector<const domain::Shift*> mine;
  for (const auto& [id, s] : snap_.state.shifts) {
    if (s.signup_of(me) != nullptr && s.end > snap_.now) mine.push_back(&s);
  }
  std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->start < b->start; });
  out.push_back(fit(" My shifts", width));
  styles.push_back(Style::title);
  if (mine.empty()) {
    out.push_back(fit("   none ahead", width));
    styles.push_back(Style::dim);
  }
  for (const auto* s : mine) {
    const auto* su = s->signup_of(me);
    out.push_back(shift_line(*s, !su->checkout_at.empty() ? "checked out"
                                 : !su->checkin_at.empty() ? "checked in"
                                                           : "signed up"));
    styles.push_back(Style::normal);
  }
  if (domain::is_manager(snap_.actor)) {
    out.push_back(std::string(static_cast<std::size_t>(width), ' '));
    styles.push_back(Style::normal);
    out.push_back(fit(" Next 24 h in " + display_safe(snap_.actor.area) + " (gaps marked)", width));
    styles.push_back(Style::title);
    std::vector<const domain::Shift*> area;
    for (const auto& [id, s] : snap_.state.shifts) {
      if (is_manager_of(snap_.actor, s.area) && s.end > snap_.now && s.start < snap_.now + 24LL * 3600 * 1000) {
        area.push_back(&s);
      }
    }
    std::sort(area.begin(), area.end(), [](auto* a, auto* b) { return a->start < b->start; });
    if (area.empty()) {
      out.push_back(fit("   no shifts", width));
      styles.push_back(Style::dim);
    }
    for (const auto* s : area) {
      if (static_cast<int>(out.size()) >= height) break;
      const int free = s->free_seats();
      out.push_back(shift_line(*s, free > 0 ? "GAP " + std::to_string(free) : "full"));
      styles.push_back(free > 0 ? Style::alert : Style::normal);
    }
  }
  return out;
}

std::vector<std::string> Model::draw_notices(int width, int height, std::vector<Style>& styles) const {
  std::vector<std::string> out;
  const auto rs = rows();
  if (rs.empty()) {
    out.push_back(fit(" no notices", width));
    styles.push_back(Style::dim);
    return out;
  }
  const std::size_t f = std::min(focus_of(Screen::notices), rs.size() - 1);
  const std::size_t list_h = static_cast<std::size_t>(std::max(2, height / 2 - 1));
  const std::size_t top = window_top(f, list_h, rs.size());
  for (std::size_t i = top; i < rs.size() && i < top + list_h; ++i) {
    const auto& n = snap_.state.notices.at(rs[i].id);
    std::string mark = !n.ack_required ? "   " : (n.acked_by.count(snap_.user) ? " ✓ " : " ! ");
    if (n.author == snap_.user) mark = " ✎ ";
    if (snap_.pending.count(n.id)) mark[0] = '*';
    out.push_back(fit(mark + fit(rfc_time_text(n.posted_at).substr(5), 12) + cell(domain::to_string(n.priority), 8) +
                          cell(snap_.people.person(n.author), width >= 120 ? 18 : 14) + display_safe(n.text),
                      width));
    styles.push_back(i == f ? Style::focus : (mark == " ! " ? Style::alert : Style::normal));
  }
  out.push_back(fit(" ! to acknowledge (k)  ✓ acknowledged  ✎ yours  * not yet confirmed", width));
  styles.push_back(Style::dim);
  const auto& n = snap_.state.notices.at(rs[f].id);
  if (!domain::is_manager(snap_.actor)) return out;
  auto it = snap_.rollups.find(n.id);
  if (it == snap_.rollups.end()) {
    out.push_back(fit(" Enter: acknowledgements of this notice per building (asks the server)", width));
    styles.push_back(Style::dim);
    return out;
  }
  const Json& b = it->second;
  const int recipients = b.value("recipients", 0), acked = b.value("acked", 0);
  out.push_back(fit(" acknowledged " + std::to_string(acked) + "/" + std::to_string(recipients) + ", " +
                        std::to_string(recipients - acked) + " missing",
                    width));
  styles.push_back(Style::title);
  const int area_w = width >= 120 ? 32 : 22, bar_w = width >= 120 ? 30 : 16;
  if (b.contains("by_area")) {
    for (const auto& a : b["by_area"]) {
      if (static_cast<int>(out.size()) >= height) break;
      const int ar = a.value("recipients", 0), aa = a.value("acked", 0);
      std::string missing;
      if (a.contains("missing")) {
        for (const auto& m : a["missing"]) missing += " " + person(m.get<std::string>());
      }
      out.push_back(fit(" " + cell(a.value("area", ""), area_w) + bar(aa, ar, bar_w) + " " +
                            fit(std::to_string(aa) + "/" + std::to_string(ar), 7) + missing,
                        width));
      styles.push_back(ar > aa ? Style::alert : Style::normal);
    }
  }
  return out;
}

std::vector<std::string> Model::draw_headcount(int width, int height, std::vector<Style>& styles) const {
  std::vector<std::string> out;
  const int area_w = width >= 120 ? 32 : 22, bar_w = width >= 120 ? 40 : 24;
  for (const auto& [id, r] : snap_.state.headcount.rounds) {
    if (r.closed) continue;
    if (static_cast<int>(out.size()) >= height) break;
    const Json st = domain::round_status(snap_.state.headcount, r, false, &snap_.actor);
    out.push_back(fit(" " + display_safe(r.title) + "  (" + display_safe(r.area) + ", " +
                          std::to_string(st.value("counted", 0)) + "/" + std::to_string(st.value("expected", 0)) +
                          " counted, " + std::to_string(st.value("people", 0)) + " people" +
                          (r.closes.empty() ? "" : ", closes " + rfc_time_text(r.closes)) + ")",
                      width));
    styles.push_back(Style::title);
    for (const auto& bld : st["by_building"]) {
      if (static_cast<int>(out.size()) >= height) break;
      const int e = bld.value("expected", 0), c = bld.value("counted", 0);
      out.push_back(fit("   " + cell(bld.value("area", ""), area_w) + bar(c, e, bar_w) + " " +
                            fit(std::to_string(c) + "/" + std::to_string(e), 9) +
                            std::to_string(bld.value("people", 0)) + " people",
                        width));
      styles.push_back(c < e ? Style::normal : Style::dim);
    }
  }
  if (out.empty()) {
    out.push_back(fit(" no open head-count round", width));
    styles.push_back(Style::dim);
  }
  return out;
}

std::vector<std::string> Model::draw_form(const Form& form, int width, int /*height*/,
                                          std::vector<Style>& styles) const {
  std::vector<std::string> out;
  const std::string title = form.kind == "call" ? " Log a hotline call (the notes go to the server only, sealed)"
                                                : " New " + form.kind;
  out.push_back(fit(title, width));
  styles.push_back(Style::title);
  for (std::size_t i = 0; i < form.fields.size(); ++i) {
    const auto& f = form.fields[i];
    std::string value = f.secret && !f.value.empty() ? "(" + std::to_string(display_width(f.value)) + " columns typed)"
                                                     : display_safe(f.value);
    if (!f.choices.empty()) value = "‹ " + (f.value.empty() ? std::string("(server's policy)") : value) + " ›";
    out.push_back(fit("   " + fit(f.label, 12) + value, width));
    styles.push_back(i == form.focus ? Style::focus : Style::normal);
  }
  out.push_back(fit("   [ send ]", width));
  styles.push_back(form.focus == form.fields.size() ? Style::focus : Style::normal);
  out.push_back(std::string(static_cast<std::size_t>(width), ' '));
  styles.push_back(Style::normal);
  out.push_back(fit(" ↑↓ field  Enter edit / send  ←→ choice  Esc leave; times as 2026-11-25 08:00, in " +
                        display_safe(snap_.link.zone),
                    width));
  styles.push_back(Style::dim);
  return out;
}

std::vector<std::string> Model::draw_help(int width, int /*height*/) const {
  static const std::vector<std::pair<const char*, const char*>> kKeys{
      {"Tab Shift-Tab", "next / previous screen"},
      {"↑ ↓ PgUp PgDn", "move the focus (Home, End)"},
      {"a", "accept the focused offer or task (a gap offer: sign up)"},
      {"d", "decline the focused offer"},
      {"s", "start the focused task (a reminder: check in)"},
      {"D", "done: asks for a note, Enter sends it"},
      {"c", "claim the focused task"},
      {"k", "acknowledge a notice; dismiss an escalation, reminder or gap"},
      {"n", "new task, notice or message (Compose)"},
      {"/", "filter the tasks: a state, area:PATH, mine, words; all clears"},
      {"Enter", "notices: acknowledgements per building; forms: edit, send"},
      {"← →", "forms: change a choice"},
      {"Esc", "cancel a prompt, leave a form, close this help"},
      {"?", "this help"},
      {"q", "quit"},
  };
  std::vector<std::string> out;
  out.push_back(fit(" Keys (any key closes this help)", width));
  for (const auto& [k, what] : kKeys) out.push_back(fit("   " + fit(k, 16) + what, width));
  out.push_back(fit(" Marks: * not yet confirmed by the server, ! escalated, ⏱ an offer's time left", width));
  return out;
}

std::string Model::person(const std::string& user) const { return display_safe(snap_.people.person(user)); }

std::string Model::status_line(int width) const {
  const auto& l = snap_.link;
  std::string link;
  switch (l.link) {
    case Link::connecting: link = "connecting"; break;
    case Link::online: link = "online"; break;
    case Link::offline: link = "offline since " + time_text(l.offline_since).substr(11); break;
    case Link::reconnecting: link = "reconnecting (offline since " + time_text(l.offline_since).substr(11) + ")"; break;
  }
  const std::string rest = " · " + link + " · " + std::to_string(l.waiting) + (l.waiting == 1 ? " op" : " ops") +
                           " waiting · synced " +
                           (l.last_sync == 0 ? std::string("never") : time_text(l.last_sync).substr(11)) + " · " +
                           display_safe(l.zone);
  const std::string right = "? help  q quit ";
  // "王芳 (wang)" while the help hint still fits beside it; else the user name alone.
  std::string text = " " + person(snap_.user) + rest;
  if (display_width(text) + display_width(right) + 1 > static_cast<std::size_t>(width)) {
    text = " " + display_safe(snap_.user) + rest;
  }
  const auto used = display_width(text);
  if (used + display_width(right) + 1 <= static_cast<std::size_t>(width)) {
    text += std::string(static_cast<std::size_t>(width) - used - display_width(right), ' ') + right;
  }
  return fit(text, width);
}

Frame Model::frame(int width, int height) const {
  width = std::max(width, 20);
  height = std::max(height, 6);
  Frame fr;
  fr.width = width;
  fr.height = height;
  // The tab bar.
  std::string tabs;
  for (Screen s : screens()) {
    std::string name = screen_title(s);
    if (s == Screen::inbox && !snap_.inbox.empty()) name += " " + std::to_string(snap_.inbox.size());
    tabs += s == screen_ && !help_ ? "[" + name + "]" : " " + name + " ";
  }
  fr.lines.push_back({fit(tabs, width), Style::header});
  const int body_h = height - 3;
  std::vector<std::string> body;
  std::vector<Style> styles;
  if (help_) {
    body = draw_help(width, body_h);
    styles.assign(body.size(), Style::normal);
  } else {
    switch (screen_) {
      case Screen::inbox: body = draw_inbox(width, body_h, styles); break;
      case Screen::tasks: body = draw_tasks(width, body_h, styles); break;
      case Screen::roster: body = draw_roster(width, body_h, styles); break;
      case Screen::notices: body = draw_notices(width, body_h, styles); break;
      case Screen::headcount: body = draw_headcount(width, body_h, styles); break;
      case Screen::hotline: body = draw_form(hotline_, width, body_h, styles); break;
      case Screen::compose: body = draw_form(compose_, width, body_h, styles); break;
    }
  }
  for (int i = 0; i < body_h; ++i) {
    const auto at = static_cast<std::size_t>(i);
    if (at < body.size()) {
      fr.lines.push_back({body[at], at < styles.size() ? styles[at] : Style::normal});
    } else {
      fr.lines.push_back({std::string(static_cast<std::size_t>(width), ' '), Style::normal});
    }
  }
  // The message line: the open prompt, or the last feedback.
  if (prompt_ != Prompt::none) {
    std::string typed = encode_utf8(input_);
    const bool secret = prompt_ == Prompt::field && screen_ == Screen::hotline && hotline_.focus < hotline_.fields.size() &&
                        hotline_.fields[hotline_.focus].secret;
    if (secret) typed = std::string(display_width(typed), '*');
    std::string line = " " + prompt_label_ + display_safe(typed);
    // Keep the end of a long input in view.
    while (display_width(line) + 1 > static_cast<std::size_t>(width) && line.size() > 1) {
      auto cps = decode_utf8(line);
      cps.erase(1, 1);
      line = encode_utf8(cps);
    }
    fr.cursor_column = static_cast<int>(display_width(line));
    fr.lines.push_back({fit(line, width), Style::normal});
  } else {
    fr.lines.push_back({fit(" " + display_safe(message_), width), message_error_ ? Style::alert : Style::dim});
  }
  fr.lines.push_back({status_line(width), Style::status});
  return fr;
}

}  // namespace muster::client::tui
