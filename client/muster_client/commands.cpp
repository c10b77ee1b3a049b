#include "muster_client/commands.hpp"
#include "muster_client/cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "muster/base/args.hpp"
#include "muster/base/command_line.hpp"
#include "muster/base/ulid.hpp"
#include "muster/base/utf8.hpp"
#include "muster_client/command_tree.hpp"
#include "muster_client/ops.hpp"
#include "muster_client/platform.hpp"
#include "muster_client/sync_driver.hpp"
#include "muster_client/connection.hpp"

namespace muster::client {

namespace domain = muster::domain;
using domain::Json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kUsageText = R"(usage: muster [--home DIR] COMMAND [--json]
  login --server wss://HOST:PORT|mqtts://HOST:PORT --user NAME [--password-stdin] [--ca FILE]
                                           over wss:// the server issues a device token;
                                           over mqtts:// the broker checks the password on
                                           every connection, so it is kept in the home
                                           (client.db, readable only by you). The server's
                                           certificate must verify against --ca FILE (PEM,
                                           kept for later commands) or the system's store.
                                           ws:// and mqtt:// (no TLS): a trusted network only
  status                                   online/offline, pending outbox, last sync,
                                           items in your inbox
  inbox                                    what needs you now (offers, your tasks,
                                           escalations, reminders, gaps, notices to
                                           acknowledge, unread messages, follow-ups),
                                           each with the command that settles it
  inbox ack ID                             dismiss an escalation, reminder or gap
  tui [--no-bell]                          full screen: inbox with offer countdowns,
                                           tasks, roster, notices, head-count, hotline,
                                           compose; keys a d s D k c n / Tab ? q; stays
                                           connected and syncs by itself; rings the bell
                                           on a new offer or escalation unless --no-bell
  sync [--timeout S]                       push the outbox, pull missed events (S: the
                                           longest the server may stay silent, 30)
  task new KIND --title T --area A [--assignee U] [--dispatch direct|offer|claim]
           [--skill S] [--due TIME] [--priority low|normal|high|urgent] [--detail KEY=VALUE]...
                                           without --assignee or --dispatch the server's
                                           policy for KIND decides (errands are offered)
  task list [--mine] [--state S] [--area A]
  task show ID
  task claim|accept|decline|start|done|fail|cancel ID [--note T]
  notice post --area A --text T [--ack] [--priority P]
  notice list | notice ack ID
  notice status ID [--by building|area] [--missing]
                                           acknowledged/total per home area (building) or
                                           per area just below the notice's; --missing
                                           shows only the lagging ones
  msg send --to USER|area:PATH --text T
  msg list
  roster add --post P --area A --start T --end T [--seats N]
  roster list [--area A] [--from T] [--to T] [--mine]
  roster signup|withdraw|checkin|checkout SHIFT
  roster swap SHIFT --to USER | roster swap-accept|swap-decline SHIFT
  roster gaps --area A --from T --to T     seats not covered, per shift and time range
                                           times: 2026-11-25T08:00 in the server's time
                                           zone, or with Z / an offset
  headcount open --area A --title T [--closes TIME]
                                           a round over every household under A
  headcount mark ROUND HOUSEHOLD done|absent|exempt|moved [--people N]
  headcount mark ROUND --file F            F (or - for stdin): `HOUSEHOLD STATUS [PEOPLE]`
                                           a line, # comments; every line is checked
                                           first, then one op a line is queued
  headcount status ROUND [--by building] [--missing]
                                           expected/counted/missing/people, from the
                                           local replica (works offline)
  headcount close ROUND                    missing households become doorknock tasks
  headcount list
  headcount household ID                   the registry's row with the phone (leads;
                                           asks the server)
  hotline log --started T --duration MIN --category C --risk 0-5 [--area A]
              [--notes-file F | --notes T] [--followup BRIEF]
                                           hotline users only; the notes go to the server,
                                           which keeps them encrypted; --notes-file - reads
                                           stdin; a follow-up becomes a hotline_followup
                                           task in the area carrying only BRIEF
  hotline list                             the calls this device knows (no notes)
  hotline show CALL                        the call and its notes, from the server
  watch [--timeout S]                      live events as JSON lines; exit 3 if the
                                           server cannot be reached, retried once live
task kinds: errand sampling doorknock hotline_followup generic
exit codes: 0 ok, 1 usage, 2 rejected, 3 server unreachable
)";

}  // namespace

const char* usage_text() { return kUsageText; }

int usage(const std::string& problem) {
  std::cerr << "muster: " << display_safe_lines(problem) << "\n" << kUsageText;
  return kUsage;
}

// Messages can quote what someone typed or sent (a title, an id): neutralised like
// every other text that reaches the terminal (display_safe, README "On the terminal").
int fail(int code, const std::string& message) {
  std::cerr << "muster: " << display_safe_lines(message) << '\n';
  return code;
}

int exit_for(const Status& st) {
  if (st.ok()) return kOk;
  switch (st.error().code) {
    case Errc::unavailable: return kUnreachable;
    case Errc::invalid: return kUsage;
    default: return kRejected;
  }
}

std::string now_text() { return format_utc(SystemClock().now_ms()); }

sync::ClientStore& Cli::store() {
  if (!store_) {
    // The home holds the device token and, over MQTT, the password: owner-only.
    create_private_home(home());
    store_ = std::make_unique<sync::ClientStore>(sync::ClientStore::open(home()));
    restrict_home_files(home());
  }
  return *store_;
}

std::string Cli::home() const { return a_.get("home").value_or(default_home()); }

domain::Op Cli::make_op(const std::string& kind, domain::Json body) {
  return domain::Op{domain::OpId(ids_.next(SystemClock().now_ms())), kind, std::move(body)};
}

const Zone& Cli::zone() {
  if (!zone_) {
    std::string name = store().config("tz");
    if (name.empty()) name = "Asia/Shanghai";
    auto z = Zone::load(name);
    if (z) {
      zone_ = *z;
    } else {
      // Times shown in UTC as if they were local would send people to the wrong place at
      // the wrong hour; in UTC, marked and announced, they are still right.
      zone_ = Zone::utc();
      zone_missing_ = name;
      const char* tzdir = std::getenv("TZDIR");
      const std::string where =
          tzdir != nullptr && *tzdir != '\0' ? "TZDIR=" + std::string(tzdir) : Zone::database_dir();
      if (z.error().code == Errc::not_found) {
        std::cerr << "muster: warning: time zone " << name << " not found in the tz database (" << where
                  << "): times are shown in UTC\n";
      } else {
        std::cerr << "muster: warning: " << z.error().message << ": times are shown in UTC\n";
      }
    }
  }
  return *zone_;
}

const People& Cli::people() {
  if (!people_) people_ = People::from_json(store().config("people"));
  return *people_;
}

std::string Cli::person(const std::string& name) { return people().person(name); }

std::string Cli::short_time(UnixMs t) {
  std::string text = format_local_short(t, zone());
  if (!zone_missing_.empty()) text += 'Z';
  return text;
}

std::string Cli::local_times(const std::string& text) {
  // The reducers are shared with the server and speak UTC; only the client knows the zone.
  static const std::regex kUtc(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  std::string out;
  std::size_t done = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kUtc); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    const auto at = static_cast<std::size_t>(m.position(0));
    out += text.substr(done, at - done);
    auto t = parse_utc(m.str(0));
    out += t ? format_local(*t, zone()) : m.str(0);
    done = at + static_cast<std::size_t>(m.length(0));
  }
  return out + text.substr(done);
}

Result<std::optional<UnixMs>> Cli::time_option(const char* name) {
  auto text = a_.get(name);
  if (!text) return std::optional<UnixMs>{};
  auto t = parse_time(*text, zone());
  if (!t) {
    return make_error(Errc::invalid, std::string("--") + name + " takes a time like 2026-11-25T08:00 (in " +
                                         zone().name() + ") or 2026-11-25T00:00:00Z");
  }
  // A local time means a different instant in every zone; read in UTC it would be wrong.
  if (!zone_missing_.empty() && parse_time(*text, Zone::fixed("+01:00", 3600)) != t) {
    return make_error(Errc::invalid, std::string("--") + name + " " + *text + " is a local time in " + zone_missing_ +
                                         ", which this machine's tz database does not have: give it with its "
                                         "offset (2026-11-25T08:00:00+08:00) or in UTC (2026-11-25T00:00:00Z)");
  }
  return std::optional<UnixMs>{*t};
}

namespace {
bool is_mqtt(const std::string& server) {
  return server.rfind("mqtt://", 0) == 0 || server.rfind("mqtts://", 0) == 0;
}
bool is_tls(const std::string& server) {
  return server.rfind("wss://", 0) == 0 || server.rfind("mqtts://", 0) == 0;
}
bool is_ws(const std::string& server) { return server.rfind("ws://", 0) == 0 || server.rfind("wss://", 0) == 0; }
// The host of a server address is this machine: 127.x.x.x, ::1 or localhost.
bool is_loopback_address(const std::string& server) {
  const auto start = server.find("://");
  if (start == std::string::npos) return false;
  std::string host = server.substr(start + 3);
  if (!host.empty() && host.front() == '[') return host.rfind("[::1]", 0) == 0;
  host = host.substr(0, host.find_first_of(":/"));
  return host == "localhost" || host.rfind("127.", 0) == 0;
}
}  // namespace

// Logged in once a welcome was stored: over WebSocket it carries our device token;
// over MQTT the broker authenticates us with the stored password instead.
std::optional<sync::Identity> Cli::identity() {
  auto id = store().identity();
  if (!id || (id->token.empty() && !is_mqtt(id->server))) return std::nullopt;
  return id;
}

milliseconds Cli::timeout(int default_seconds) const {
  double s = default_seconds;
  if (auto t = a_.get("timeout")) {
    try {
      s = std::stod(*t);
    } catch (const std::exception&) {
      s = default_seconds;
    }
  }
  return milliseconds(static_cast<long long>(std::max(0.1, s) * 1000));
}

// Accepts a full id or a unique suffix of at least 4 characters (the end of a ULID is
// its random part, so suffixes are what differ between ids made close together).
Result<std::string> Cli::resolve(const std::string& given, const std::string& type) {
  if (given.empty()) return make_error(Errc::invalid, type + " ID is missing");
  auto state = store().view();
  const auto* kind = domain::find_kind(type);
  const std::vector<std::string> ids = kind ? kind->ids(state) : std::vector<std::string>{};
  if (std::find(ids.begin(), ids.end(), given) != ids.end() || is_ulid(given)) return given;
  std::string match;
  for (const auto& id : ids) {
    if (given.size() >= 4 && id.size() >= given.size() &&
        id.compare(id.size() - given.size(), given.size(), given) == 0) {
      if (!match.empty()) return make_error(Errc::invalid, "'" + given + "' matches more than one " + type);
      match = id;
    }
  }
  if (match.empty()) return make_error(Errc::not_found, "no " + type + " " + given + " (not found)");
  return match;
}

// Checks the op against the local view, then queues it: online or not, the command
// succeeds as soon as the op is durable in the outbox.
int Cli::submit(domain::Op op) {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  if (auto st = queue_op(store(), *id, op, SystemClock().now_ms()); !st) {
    const auto& e = st.error();
    std::string hint = e.code == Errc::not_found ? " (run muster sync to refresh)" : "";
    return fail(e.code == Errc::invalid ? kUsage : kRejected,
                std::string(to_string(e.code)) + ": " + local_times(e.message) + hint);
  }
  if (json_) {
    std::cout << Json{{"id", op.id}, {"kind", op.kind}, {"queued", true}}.dump() << '\n';
  } else {
    std::cout << op.id << " queued\n";
  }
  return kOk;
}

int Cli::print_sync(const DriveResult& r, bool quiet_success) {
  const auto& rep = r.report;
  for (const auto& rej : rep.rejected) {
    std::cerr << "rejected " << display_safe(rej.op_id.str()) << ' ' << display_safe(rej.kind) << ": "
              << to_string(rej.error.code) << ": " << display_safe(local_times(rej.error.message)) << '\n';
  }
  const auto pending = store().outbox_size();
  if (json_) {
    Json rejected = Json::array();
    for (const auto& rej : rep.rejected) {
      rejected.push_back({{"op", rej.op_id}, {"kind", rej.kind}, {"code", to_string(rej.error.code)},
                          {"message", rej.error.message}});
    }
    const Json out{{"ok", r.status.ok()},
                   {"pushed", rep.pushed},
                   {"accepted", rep.accepted},
                   {"rejected", rejected},
                   {"events", rep.events},
                   {"rate_limited", rep.rate_limited},
                   {"pending", pending},
                   {"error", r.status.ok() ? "" : r.status.error().message}};
    std::cout << display_safe_json(out.dump()) << '\n';
  } else if (!r.status.ok() && rep.pushed == 0 && rep.events == 0) {
    // Nothing happened: the error line below says why.
  } else if (!quiet_success || !r.status.ok()) {
    std::cout << "pushed " << rep.pushed << " op" << (rep.pushed == 1 ? "" : "s") << " (" << rep.accepted
              << " accepted, " << rep.rejected.size() << " rejected), received " << rep.events << " event"
              << (rep.events == 1 ? "" : "s") << ", " << pending << " still queued";
    if (rep.rate_limited > 0) {
      std::cout << " (the server asked to slow down " << rep.rate_limited << (rep.rate_limited == 1 ? " time" : " times")
                << "; sent again after its wait)";
    }
    std::cout << '\n';
  }
  if (!r.status.ok()) {
    std::cerr << "muster: " << display_safe_lines(r.status.error().message) << '\n';
    return exit_for(r.status);
  }
  store().set_config("last_sync", now_text());
  return rep.rejected.empty() ? kOk : kRejected;
}

int Cli::run() {
  const std::string cmd = a_.word(0);
  if (cmd.empty() || cmd == "help" || a_.flag("help")) {
    std::cout << kUsageText;
    return cmd.empty() ? kUsage : kOk;
  }
  if (cmd == "login") return login();
  if (cmd == "status") return status();
  // Every other command reads or writes this user's replica: in a home that never
  // logged in, an empty list would look like "nothing for you" when it means "no you".
  static const std::set<std::string> kCommands{"sync",      "task",    "notice", "msg",  "watch",
                                               "roster",    "headcount", "hotline", "inbox", "tui"};
  if (kCommands.count(cmd) && !store().identity()) {
    return fail(kUsage, "not logged in here (home " + home() + "): run muster login --server URL --user NAME first");
  }
  if (cmd == "sync") return sync_cmd();
  if (cmd == "task") return task();
  if (cmd == "notice") return notice();
  if (cmd == "msg") return msg();
  if (cmd == "watch") return watch();
  if (cmd == "roster") return roster();
  if (cmd == "headcount") return headcount();
  if (cmd == "hotline") return hotline();
  if (cmd == "inbox") return inbox();
  if (cmd == "tui") return tui();
  return usage("unknown command '" + cmd + "'");
}

// ---------------------------------------------------------------- login / status / sync

int Cli::login() {
  auto server = a_.get("server");
  auto user = a_.get("user");
  if (!server || !user) return usage("login needs --server wss://HOST:PORT (or mqtts://HOST:PORT) and --user NAME");
  if (!is_ws(*server) && !is_mqtt(*server)) {
    return usage("the server address starts with wss:// or mqtts:// (ws:// or mqtt:// without TLS)");
  }
  // The CA the server's certificate must verify against, as an absolute path: later
  // commands run from anywhere.
  std::string ca;
  if (auto given = a_.get("ca")) {
    if (!is_tls(*server)) return usage("--ca is for wss:// and mqtts:// servers");
    std::error_code ec;
    ca = std::filesystem::absolute(*given, ec).string();
    std::ifstream in(ca);
    if (ec || given->empty() || !in) return usage("cannot read the CA file " + *given);
  }
  if (!is_tls(*server) && !is_loopback_address(*server)) {
    std::cerr << "muster: warning: " << server->substr(0, server->find("://") + 3)
              << " is not encrypted: the password and everything after it cross the network in clear "
                 "(use wss:// or mqtts://)\n";
  }
  std::string password = a_.flag("password-stdin") ? read_secret("") : read_secret("password for " + *user + ": ");
  if (password.empty()) return usage("no password given");

  auto previous = store().identity();
  if (previous && previous->user != *user) {
    if (store().outbox_size() > 0) {
      return fail(kRejected, std::to_string(store().outbox_size()) + " ops of " + previous->user +
                                 " are still queued here: run muster sync as " + previous->user + " first");
    }
    store().reset_replica();
  }
  sync::Identity id;
  id.server = *server;
  id.user = *user;
  id.device = previous && !previous->device.empty() ? previous->device
                                                     : host_name() + "-" + ids_.next(SystemClock().now_ms()).substr(16);
  DriveOptions options;
  options.timeout = timeout(30);
  // The transport reads the CA from the store; a failed login puts the old one back.
  const std::string previous_ca = store().config(kTlsCaKey);
  store().set_config(kTlsCaKey, ca);
  auto r = drive(connect_, store(), id, sync::Credentials{password}, options);
  if (!r.status.ok()) store().set_config(kTlsCaKey, previous_ca);
  if (!r.status.ok() && r.report.pushed == 0 && r.report.events == 0 && !store().identity()) {
    return fail(exit_for(r.status), "login failed: " + r.status.error().message);
  }
  if (!r.status.ok()) return fail(exit_for(r.status), "login failed: " + r.status.error().message);
  // Over MQTT every later connection needs the password; over WebSocket the device
  // token replaces it, so a password kept from an earlier MQTT login goes away.
  if (is_mqtt(*server)) {
    store().set_config(kMqttPasswordKey, password);
    restrict_home_files(home());
  } else if (!store().config(kMqttPasswordKey).empty()) {
    store().set_config(kMqttPasswordKey, "");
  }
  auto now_id = store().identity();
  store().set_config("last_sync", now_text());
  if (json_) {
    std::cout << Json{{"user", now_id->user}, {"server", now_id->server}, {"device", now_id->device},
                      {"roles", now_id->roles}, {"area", now_id->area}}
                     .dump()
              << '\n';
  } else {
    std::string roles;
    for (const auto& r2 : now_id->roles) roles += (roles.empty() ? "" : ",") + r2;
    std::cout << "logged in as " << display_safe(now_id->user) << " (" << display_safe(roles) << ", "
              << display_safe(now_id->area) << ") at " << now_id->server
              << ", device " << now_id->device << '\n';
  }
  return kOk;
}

int Cli::status() {
  auto id = store().identity();
  const auto pending = store().outbox_size();
  bool online = false;
  if (id) {
    if (auto probe = connect_(store(), *id, std::nullopt)) {
      online = (*probe)->connect(timeout(2)).ok();
      (*probe)->close();
    }
  }
  const std::string last = store().config("last_sync");
  const std::size_t waiting = identity() ? inbox_items(*identity()).size() : 0;
  if (json_) {
    std::cout << Json{{"online", online},
                      {"pending", pending},
                      {"inbox", waiting},
                      {"user", id ? id->user : ""},
                      {"server", id ? id->server : ""},
                      {"device", id ? id->device : ""},
                      {"last_sync", last}}
                     .dump()
              << '\n';
    return kOk;
  }
  if (!id) {
    std::cout << "not logged in (home " << home() << ")\n";
    return kOk;
  }
  std::cout << id->user << " at " << id->server << ": " << (online ? "online" : "offline") << '\n'
            << pending << " op" << (pending == 1 ? "" : "s") << " waiting to be sent\n"
            << "last sync: " << (last.empty() ? "never" : last) << '\n'
            << waiting << (waiting == 1 ? " item" : " items") << " in your inbox (muster inbox)\n";
  for (const auto& r : store().rejections(5)) {
    std::cout << "recently rejected: " << display_safe(r.op_id.str()) << ' ' << display_safe(r.kind) << ": "
              << to_string(r.error.code) << ": " << display_safe(local_times(r.error.message)) << '\n';
  }
  return kOk;
}

int Cli::sync_cmd() {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  DriveOptions options;
  options.timeout = timeout(30);
  return print_sync(drive(connect_, store(), *id, {}, options), false);
}

// ---------------------------------------------------------------- tasks

int Cli::task() {
  const std::string verb = a_.word(1);
  if (verb == "list") return task_list();
  if (verb == "show") return task_show();
  if (verb == "new") {
    auto title = a_.get("title");
    auto area = a_.get("area");
    const std::string kind = a_.word(2);
    if (kind.empty() || !title || !area) return usage("task new needs KIND, --title and --area");
    NewTask t{kind, *title, *area, a_.get("assignee"), a_.get("dispatch"), a_.get("priority"), a_.get("skill"), {}};
    auto due = time_option("due");  // local, as --start and the others are
    if (!due) return usage(due.error().message);
    t.due = *due;
    for (const auto& kv : a_.all("detail")) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return usage("--detail takes KEY=VALUE");
      t.details[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    auto body = task_create_body(t);
    if (!body) return usage(body.error().message);
    return submit(make_op("task.create", std::move(*body)));
  }
  if (!is_task_transition(verb)) return usage("unknown task command '" + verb + "'");
  auto task_id = resolve(a_.word(2), "task");
  if (!task_id) return fail(task_id.error().code == Errc::invalid ? kUsage : kRejected, task_id.error().message);
  return submit(make_op("task." + verb, task_transition_body(*task_id, a_.get("note"))));
}

int Cli::task_list() {
  auto id = store().identity();
  std::set<std::string> pending;
  auto view = store().view(&pending);
  const std::string me = id ? id->user : "";
  auto state_filter = a_.get("state");
  auto area_filter = a_.get("area");
  std::vector<const domain::Task*> rows;
  for (const auto& [tid, t] : view.tasks) {
    if (a_.flag("mine") && t.assignee != me && t.offered_to != me && t.creator != me) continue;
    if (state_filter && std::string(domain::to_string(t.state)) != *state_filter) continue;
    if (area_filter && !domain::area_contains(*area_filter, t.area)) continue;
    rows.push_back(&t);
  }
  if (json_) {
    Json out = Json::array();
    for (const auto* t : rows) {
      Json j = domain::to_json(*t);
      j["pending"] = pending.count(t->id.str()) > 0;
      out.push_back(std::move(j));
    }
    std::cout << display_safe_json(out.dump()) << '\n';
    return kOk;
  }
  if (rows.empty()) {
    std::cout << "no tasks\n";
    return kOk;
  }
  // One row per task; every column but the title is as wide as its widest cell. To fit
  // the terminal, the title is cut first, then the least needed columns go (area, since,
  // kind); the id, state, priority, holder and next step never.
  bool any_escalated = false;
  const std::string today_date = short_time(SystemClock().now_ms()).substr(0, 10);  // in the server's zone
  auto cell = [&](const domain::Task& t, const std::string& head) -> std::string {
    if (head == "ID") return t.id.str();
    if (head == "STATE") {
      std::string state = std::string(domain::to_string(t.state)) + (pending.count(t.id.str()) ? "*" : "");
      if (!t.escalated.empty() && !domain::is_final(t.state)) {
        state += "!";
        any_escalated = true;
      }
      return state;
    }
    if (head == "PRI") return std::string(domain::to_string(t.priority));
    if (head == "KIND") return t.kind;
    if (head == "HOLDER") {
      return !t.assignee.empty() ? person(t.assignee) : (!t.offered_to.empty() ? "→" + person(t.offered_to) : "-");
    }
    if (head == "SINCE") {
      const std::string since_text = !t.since.empty() ? t.since : t.updated_at;
      auto since = parse_utc(since_text);
      return since ? short_time(*since) : since_text;
    }
    if (head == "NEXT") {
      if (t.state == domain::TaskState::offered && !t.offer_expires.empty()) {
        // Offers last minutes: today's show the time alone.
        if (auto until = parse_utc(t.offer_expires)) {
          const std::string at = short_time(*until);
          const bool today = at.substr(0, 10) == today_date;
          return "offer to " + (today ? at.substr(11) : at.substr(5));
        }
      }
      if (!t.due.empty() && !domain::is_final(t.state)) {
        if (auto due = parse_utc(t.due)) return "due " + short_time(*due).substr(5);
      }
      return "-";
    }
    return t.area;
  };
  struct Column {
    std::string head;
    int drop_order;  // 0: never dropped; higher goes first
    std::vector<std::string> cells{};
    std::size_t width = 0;
  };
  std::vector<Column> columns{{"ID", 0},     {"STATE", 0}, {"PRI", 0},  {"KIND", 3},
                              {"HOLDER", 0}, {"SINCE", 2}, {"NEXT", 0}, {"AREA", 4}};
  for (auto& c : columns) {
    c.width = display_width(c.head);
    for (const auto* t : rows) {
      c.cells.push_back(display_safe(cell(*t, c.head)));
      c.width = std::max(c.width, display_width(c.cells.back()));
    }
    c.width += 2;
  }
  constexpr std::size_t kMinTitle = 16;
  const std::size_t term = terminal_columns();
  auto fixed = [&columns] {
    std::size_t w = 0;
    for (const auto& c : columns) w += c.width;
    return w;
  };
  while (term > 0 && fixed() + kMinTitle > term) {
    auto drop = std::max_element(columns.begin(), columns.end(),
                                 [](const Column& a, const Column& b) { return a.drop_order < b.drop_order; });
    if (drop == columns.end() || drop->drop_order == 0) break;
    columns.erase(drop);
  }
  // Unknown width (a file, a pipe): titles are cut at 40 columns, as before.
  constexpr std::size_t kTinyTitle = 8;  // below this even a cut title says nothing
  const std::size_t title_width = term == 0 ? 40 : (term > fixed() + kTinyTitle ? term - fixed() : kTinyTitle);
  for (const auto& c : columns) std::cout << pad_to_width(c.head, c.width);
  std::cout << "TITLE\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (const auto& c : columns) std::cout << pad_to_width(c.cells[i], c.width);
    std::cout << truncate_to_width(display_safe(rows[i]->title), title_width) << '\n';
  }
  if (any_escalated) std::cout << "! escalated to the leads (muster task show ID)\n";
  if (!pending.empty()) std::cout << "* not yet confirmed by the server (run muster sync)\n";
  return kOk;
}

int Cli::task_show() {
  auto task_id = resolve(a_.word(2), "task");
  if (!task_id) return fail(task_id.error().code == Errc::invalid ? kUsage : kRejected, task_id.error().message);
  std::set<std::string> pending;
  auto view = store().view(&pending);
  auto it = view.tasks.find(domain::TaskId(*task_id));
  if (it == view.tasks.end()) return fail(kRejected, "no task " + *task_id + " (not found)");
  const auto& t = it->second;
  Json j = domain::to_json(t);
  j["pending"] = pending.count(t.id.str()) > 0;
  if (json_) {
    std::cout << display_safe_json(j.dump()) << '\n';
    return kOk;
  }
  for (const char* key : {"id", "kind", "title", "area", "state", "dispatch", "priority", "skill", "assignee",
                          "offered_to", "offer_expires", "since", "creator", "due", "note", "created_at", "updated_at",
                          "updated_by"}) {
    const auto& v = j[key];
    if (v.is_string() && v.get_ref<const std::string&>().empty()) continue;
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    const std::string k = key;
    if (k == "assignee" || k == "offered_to" || k == "creator" || k == "updated_by") text = person(text);
    if (k == "offer_expires" || k == "since" || k == "due" || k == "created_at" || k == "updated_at") {
      if (auto t2 = parse_utc(text)) text = format_local(*t2, zone());
    }
    // A note may run over lines; every other field is one line.
    std::cout << pad_to_width(key, 14) << (k == "note" ? display_safe_lines(text) : display_safe(text)) << '\n';
  }
  if (!t.offered.empty()) std::cout << pad_to_width("offered", 14) << display_safe(Json(t.offered).dump()) << '\n';
  if (!t.escalated.empty()) {
    std::cout << pad_to_width("escalated", 14) << display_safe(Json(t.escalated).dump()) << '\n';
  }
  for (const auto& [k, v] : t.details) std::cout << pad_to_width(display_safe(k), 14) << display_safe(v) << '\n';
  if (!t.declined_by.empty()) {
    std::cout << pad_to_width("declined_by", 14) << display_safe(Json(t.declined_by).dump()) << '\n';
  }
  if (j["pending"].get<bool>()) std::cout << "(changes not yet confirmed by the server)\n";
  return kOk;
}

// ---------------------------------------------------------------- notices

int Cli::notice() {
  const std::string verb = a_.word(1);
  if (verb == "post") {
    auto area = a_.get("area");
    auto text = a_.get("text");
    if (!area || !text) return usage("notice post needs --area and --text");
    auto body = notice_post_body(*area, *text, a_.flag("ack"), a_.get("priority"));
    if (!body) return usage(body.error().message);
    return submit(make_op("notice.post", std::move(*body)));
  }
  if (verb == "ack") {
    auto nid = resolve(a_.word(2), "notice");
    if (!nid) return fail(nid.error().code == Errc::invalid ? kUsage : kRejected, nid.error().message);
    return submit(make_op("notice.ack", notice_ack_body(*nid)));
  }
  if (verb == "status") return notice_status();
  if (verb != "list") return usage("unknown notice command '" + verb + "'");
  auto id = store().identity();
  auto view = store().view();
  const std::string me = id ? id->user : "";
  Json out = Json::array();
  std::vector<const domain::Notice*> rows;
  for (const auto& [nid, n] : view.notices) {
    if (!n.area.empty()) rows.push_back(&n);
  }
  if (json_) {
    for (const auto* n : rows) {
      Json j = domain::to_json(*n);
      j["acked"] = n->acked_by.count(me) > 0;
      out.push_back(std::move(j));
    }
    std::cout << display_safe_json(out.dump()) << '\n';
    return kOk;
  }
  if (rows.empty()) std::cout << "no notices\n";
  for (const auto* n : rows) {
    std::string ack = !n->ack_required ? "" : (n->acked_by.count(me) ? " [acknowledged]" : " [please acknowledge]");
    if (n->chased.count("resent") && !n->acked_by.count(me)) ack += " [sent again]";
    auto posted = parse_utc(n->posted_at);
    // The body keeps its line breaks, each line indented under the heading.
    std::string body = display_safe_lines(n->text);
    for (std::size_t at = body.find('\n'); at != std::string::npos; at = body.find('\n', at + 5)) {
      body.replace(at, 1, "\n    ");
    }
    std::cout << display_safe(n->id) << "  " << display_safe(posted ? short_time(*posted) : n->posted_at) << "  "
              << domain::to_string(n->priority) << "  " << display_safe(n->area) << "  " << display_safe(person(n->author))
              << ack << "\n    " << body << '\n';
  }
  return kOk;
}

int Cli::notice_status() {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  auto nid = resolve(a_.word(2), "notice");
  if (!nid) return fail(nid.error().code == Errc::invalid ? kUsage : kRejected, nid.error().message);
  DriveOptions options;
  options.timeout = timeout(30);
  Json args{{"notice", *nid}, {"missing", a_.flag("missing")}};
  if (auto by = a_.get("by")) {
    if (*by != "building" && *by != "area") return usage("--by takes building or area");
    args["by"] = *by;
  }
  options.query = protocol::Query{ids_.next(SystemClock().now_ms()), "notice.status", args};
  auto r = drive(connect_, store(), *id, {}, options);
  if (!r.status.ok()) return fail(exit_for(r.status), r.status.error().message);
  if (!r.query_result) return fail(kUnreachable, "the server did not answer");
  const auto& q = *r.query_result;
  if (!q.ok) return fail(kRejected, std::string(to_string(q.error->code)) + ": " + q.error->message);
  const Json& b = q.body;
  if (json_) {
    std::cout << display_safe_json(b.dump()) << '\n';
    return kOk;
  }
  const int recipients = b.value("recipients", 0);
  const int acked = b.value("acked", 0);
  std::cout << acked << '/' << recipients << " acknowledged, " << (recipients - acked) << " missing\n";
  for (const auto& area : b["by_area"]) {
    const int ar = area.value("recipients", 0);
    const int aa = area.value("acked", 0);
    std::cout << "  " << pad_to_width(display_safe(area.value("area", "")), 30) << aa << '/' << ar;
    if (ar > aa) {
      std::cout << "  missing:";
      for (const auto& m : area["missing"]) std::cout << ' ' << display_safe(person(m.get<std::string>()));
    }
    std::cout << '\n';
  }
  return kOk;
}

// ---------------------------------------------------------------- messages

int Cli::msg() {
  const std::string verb = a_.word(1);
  if (verb == "send") {
    auto to = a_.get("to");
    auto text = a_.get("text");
    if (!to || !text) return usage("msg send needs --to and --text");
    auto body = message_body(*to, *text);
    if (!body) return usage(body.error().message);
    return submit(make_op("message.send", std::move(*body)));
  }
  if (verb != "list") return usage("unknown msg command '" + verb + "'");
  auto view = store().view();
  // Shown is read: direct messages to this user leave the inbox once listed here.
  if (auto id = store().identity()) {
    std::vector<std::string> shown;
    for (const auto& [mid, m] : view.messages) {
      if (m.to == id->user && m.from != id->user) shown.push_back(mid);
    }
    store().mark("read", shown);
  }
  // In the server's order (when it received them), not the senders' clocks'; the ones
  // still queued here last.
  const auto ordered = domain::in_server_order(view.messages);
  if (json_) {
    Json out = Json::array();
    for (const auto* m : ordered) out.push_back(domain::to_json(*m));
    std::cout << display_safe_json(out.dump()) << '\n';
    return kOk;
  }
  if (ordered.empty()) std::cout << "no messages\n";
  for (const auto* m : ordered) {
    auto at = parse_utc(m->received_at.empty() ? m->sent_at : m->received_at);
    std::cout << (at ? short_time(*at) : std::string("(queued)        ")) << "  " << display_safe(person(m->from)) << " → "
              << display_safe(person(m->to)) << ": " << display_safe(m->text) << '\n';
  }
  return kOk;
}

// ---------------------------------------------------------------- watch

int Cli::watch() {
  auto id = identity();
  if (!id) return fail(kUsage, "not logged in: run muster login first");
  install_interrupt_handler();
  const bool bounded = a_.get("timeout").has_value();
  const auto deadline = std::chrono::steady_clock::now() + timeout(0);
  auto keep_going = [&]() {
    return !interrupted() && (!bounded || std::chrono::steady_clock::now() < deadline);
  };
  auto print = [](const domain::Event& e) { std::cout << display_safe_json(protocol::encode_event(e)) << std::endl; };
  milliseconds backoff{500};
  bool connected = false;
  while (keep_going()) {
    DriveOptions options;
    options.stay_live = true;
    options.keep_going = keep_going;
    auto r = drive(connect_, store(), *id, {}, options, print);
    for (const auto& rej : r.report.rejected) {
      std::cerr << "rejected " << display_safe(rej.op_id.str()) << ' ' << display_safe(rej.kind) << ": "
                << to_string(rej.error.code) << ": " << display_safe(local_times(rej.error.message)) << '\n';
    }
    if (r.status.ok()) break;
    if (r.status.error().code == Errc::forbidden) return fail(kRejected, r.status.error().message);
    if (r.report.caught_up || r.report.events > 0) connected = true;
    // Never reached: said, exit 3, as every command that cannot reach the server. Once
    // it was live, a lost connection is retried (a restart of the server, a network gap).
    if (!connected && r.status.error().code == Errc::unavailable) {
      return fail(kUnreachable, r.status.error().message);
    }
    if (r.report.events > 0 || r.report.pushed > 0) backoff = milliseconds{500};
    std::cerr << "muster: " << r.status.error().message << "; retrying in " << backoff.count() << " ms\n";
    for (auto slept = milliseconds{0}; slept < backoff && keep_going(); slept += milliseconds{50}) {
      std::this_thread::sleep_for(milliseconds{50});
    }
    backoff = std::min(backoff * 2, milliseconds{30000});
  }
  return kOk;
}

int run_command(const std::vector<std::string>& words, const ConnectionFactory& connect,
                const tui::TerminalFactory& terminal) {
  CommandTree tree("muster", MUSTER_VERSION);
  declare_commands(tree);
  auto parsed = tree.parse(words);
  if (!parsed.error.empty()) {
    // A command nobody declared: the whole list. A mistake within a command: that
    // command's synopsis, so the message stays on the screen.
    if (parsed.unknown_command || parsed.path.empty()) return usage(parsed.error);
    std::cerr << "muster: " << display_safe_lines(parsed.error) << "\nusage: muster [--home DIR] ... [--json]\n"
              << synopsis(kUsageText, parsed.path);
    return kUsage;
  }
  if (parsed.version) {
    std::cout << "muster " << MUSTER_VERSION << '\n';
    return kOk;
  }
  if (parsed.help && !parsed.path.empty()) {
    const std::string text = synopsis(kUsageText, parsed.path);
    std::cout << (text.empty() ? kUsageText : "usage: muster [--home DIR] ... [--json]\n" + text);
    return kOk;
  }
  if (parsed.path == std::vector<std::string>{"completion"} ||
      parsed.path == std::vector<std::string>{"completion", "bash"}) {
    std::cout << tree.bash_completion();
    return kOk;
  }
  try {
    Cli cli(parsed.args, connect, terminal);
    return cli.run();
  } catch (const store::SqliteError& e) {
    return fail(kLocal, std::string("local database error: ") + e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    return fail(kLocal, std::string("local file error: ") + e.what());
  } catch (const std::exception& e) {
    return fail(kRejected, e.what());
  }
}

}  // namespace muster::client
