// muster hotline …: the psychological hotline's call log (SPEC §3 Hotline).
//
// `log` is an op like any other (queued offline, decided by the server); a user without
// the hotline role is refused here and nothing is queued. `list` reads the replica: call
// metadata only, which reaches hotline users alone (role:hotline). `show` asks the server,
// the only place the notes are kept (sealed), and prints them; nothing of them is stored
// on this device.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <tuple>
#include <vector>

#include "muster/base/utf8.hpp"
#include "muster/domain/hotline.hpp"
#include "muster/domain/task.hpp"
#include "muster_client/cli.hpp"
#include "muster_client/ops.hpp"

namespace muster::client {

namespace domain = muster::domain;
using domain::Json;

namespace {

// The notes from --notes-file F ("-" for stdin), at most one byte more than allowed so
// the reducer can say they are too long.
Result<std::string> read_notes_file(const std::string& path) {
  const std::size_t limit = domain::kMaxNotesBytes + 1;
  std::string text;
  auto read_from = [&](std::istream& in) {
    std::istreambuf_iterator<char> it(in), end;
    for (; it != end && text.size() < limit; ++it) text.push_back(*it);
  };
  if (path == "-") {
    read_from(std::cin);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Errc::invalid, "cannot read " + path);
    read_from(in);
  }
  return text;
}

std::string notes_state(const domain::Call& c) {
  if (c.notes_purged) return "purged";
  return c.has_notes ? "yes" : "-";
}

}  // namespace

int Cli::hotline() {
  const std::string verb = a_.word(1);
  if (verb == "list") return hotline_list();
  if (verb == "show") return hotline_show();
  if (verb != "log") return usage("unknown hotline command '" + verb + "'");

  auto started = time_option("started");
  if (!started) return usage(started.error().message);
  auto duration_text = a_.get("duration");
  auto category = a_.get("category");
  auto risk_text = a_.get("risk");
  if (!*started || !duration_text || !category || !risk_text) {
    return usage("hotline log needs --started, --duration, --category and --risk");
  }
  auto duration = whole_number(*duration_text);
  if (!duration) return usage("--duration takes whole minutes");
  auto risk = whole_number(*risk_text);
  if (!risk) return usage("--risk takes a whole number from 0 to 5");
  NewCall call{**started, *duration, *category, *risk, a_.get("area"), "", a_.get("followup")};

  auto notes_text = a_.get("notes");
  auto notes_file = a_.get("notes-file");
  if (notes_text && notes_file) return usage("give the notes with --notes or --notes-file, not both");
  if (notes_file) {
    auto read = read_notes_file(*notes_file);
    if (!read) return usage(read.error().message);
    call.notes = std::move(*read);
  } else if (notes_text) {
    call.notes = *notes_text;
  }
  auto body = hotline_log_body(std::move(call));
  if (!body) return usage(body.error().message);
  return submit(make_op("hotline.log", std::move(*body)));
}

int Cli::hotline_list() {
  std::set<std::string> pending;
  auto view = store().view(&pending);
  std::vector<const domain::Call*> rows;
  for (const auto& [id, c] : view.calls) rows.push_back(&c);
  std::sort(rows.begin(), rows.end(), [](const domain::Call* x, const domain::Call* y) {
    return std::tie(x->started, x->id) < std::tie(y->started, y->id);
  });
  if (json_) {
    Json out = Json::array();
    for (const auto* c : rows) {
      Json j = domain::to_json(*c);
      j["pending"] = pending.count(c->id) > 0;
      out.push_back(std::move(j));
    }
    std::cout << display_safe_json(out.dump()) << '\n';
    return kOk;
  }
  if (rows.empty()) {
    std::cout << "no calls\n";
    return kOk;
  }
  std::cout << pad_to_width("CALL", 28) << pad_to_width("STARTED", 18) << pad_to_width("MIN", 5)
            << pad_to_width("RISK", 6) << pad_to_width("CATEGORY", 14) << pad_to_width("AREA", 22)
            << pad_to_width("OPERATOR", 14) << pad_to_width("NOTES", 8) << "FOLLOW-UP\n";
  bool any_escalated = false;
  for (const auto* c : rows) {
    auto started = parse_utc(c->started);
    any_escalated = any_escalated || c->escalated;
    std::cout << pad_to_width(display_safe(c->id) + (pending.count(c->id) ? "*" : ""), 28)
              << pad_to_width(started ? short_time(*started) : c->started, 18)
              << pad_to_width(std::to_string(c->duration_minutes), 5)
              << pad_to_width(std::to_string(c->risk) + (c->escalated ? "!" : ""), 6)
              << pad_to_width(truncate_to_width(display_safe(c->category), 13), 14)
              << pad_to_width(truncate_to_width(display_safe(c->area), 21), 22)
              << pad_to_width(truncate_to_width(display_safe(person(c->operator_name)), 13), 14) << pad_to_width(notes_state(*c), 8)
              << (c->followup_task.empty() ? "-" : display_safe(c->followup_task)) << '\n';
  }
  if (any_escalated) std::cout << "! escalated to the hotline's leads of the area\n";
  if (!pending.empty()) std::cout << "* not yet confirmed by the server (run muster sync)\n";
  std::cout << "times in " << zone().name() << "; notes: muster hotline show CALL\n";
  return kOk;
}

// The notes live only on the server: ask it (it answers hotline users only).
int Cli::hotline_show() {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  auto call_id = resolve(a_.word(2), "call");
  if (!call_id) return fail(call_id.error().code == Errc::invalid ? kUsage : kRejected, call_id.error().message);
  DriveOptions options;
  options.timeout = timeout(30);
  options.query = protocol::Query{ids_.next(SystemClock().now_ms()), "hotline.show", Json{{"call", *call_id}}};
  auto r = drive(connect_, store(), *id, {}, options);
  if (!r.status.ok()) return fail(exit_for(r.status), r.status.error().message);
  if (!r.query_result) return fail(kUnreachable, "the server did not answer");
  const auto& q = *r.query_result;
  if (!q.ok) {
    const Error e = q.error.value_or(make_error(Errc::invalid, "refused"));
    return fail(e.code == Errc::unavailable ? kUnreachable : kRejected, std::string(to_string(e.code)) + ": " + e.message);
  }
  if (json_) {
    std::cout << display_safe_json(q.body.dump()) << '\n';
    return kOk;
  }
  auto c = domain::call_from_json(q.body.value("call", Json()));
  if (!c) return fail(kRejected, "the server sent a call this client cannot read");
  auto local = [&](const std::string& text) {
    auto t = parse_utc(text);
    return t ? format_local(*t, zone()) : text;
  };
  std::cout << pad_to_width("call", 14) << display_safe(c->id) << '\n'
            << pad_to_width("operator", 14) << display_safe(person(c->operator_name)) << '\n'
            << pad_to_width("started", 14) << display_safe(local(c->started)) << '\n'
            << pad_to_width("duration", 14) << c->duration_minutes << " min\n"
            << pad_to_width("category", 14) << display_safe(c->category) << '\n'
            << pad_to_width("risk", 14) << c->risk << (c->escalated ? " (escalated)" : "") << '\n'
            << pad_to_width("area", 14) << display_safe(c->area) << '\n';
  if (!c->followup_task.empty()) {
    std::cout << pad_to_width("follow-up", 14) << display_safe(c->followup_task);
    // Its state, from the server: the task is the hotline's, whoever does it.
    if (auto t = domain::task_from_json(q.body.value("followup", Json()))) {
      std::cout << "  " << domain::to_string(t->state);
      if (!t->assignee.empty()) std::cout << " by " << display_safe(person(t->assignee));
      else if (!t->offered_to.empty()) std::cout << " to " << display_safe(t->offered_to);
    }
    std::cout << '\n';
  }
  std::cout << pad_to_width("logged_at", 14) << display_safe(local(c->logged_at)) << '\n';
  const Json& notes = q.body["notes"];
  if (notes.is_string()) {
    std::cout << "notes:\n" << display_safe_lines(notes.get<std::string>());
    if (!notes.get_ref<const std::string&>().empty() && notes.get_ref<const std::string&>().back() != '\n') {
      std::cout << '\n';
    }
  } else if (q.body.value("notes_purged", false)) {
    std::cout << "notes:        deleted by the retention purge\n";
  } else {
    std::cout << "notes:        (none)\n";
  }
  const Json& outcome = q.body["followup_note"];
  if (outcome.is_string()) {
    std::cout << "follow-up note:\n" << display_safe_lines(outcome.get<std::string>());
    if (!outcome.get_ref<const std::string&>().empty() && outcome.get_ref<const std::string&>().back() != '\n') {
      std::cout << '\n';
    }
  }
  return kOk;
}

}  // namespace muster::client
