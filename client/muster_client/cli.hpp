// The command line's shared context: one Cli per invocation, with the helpers every
// command uses (the client store, the identity, submitting an op, resolving ids,
// exit codes). Each group of commands lives in its own file: commands.cpp (login,
// sync, tasks, notices, messages, watch), roster_commands.cpp, headcount_commands.cpp, ...
// Internal to the client library.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "muster/base/args.hpp"
#include "muster/base/timezone.hpp"
#include "muster/base/ulid.hpp"
#include "muster/sync/client_store.hpp"
#include "muster_client/connection.hpp"
#include "muster_client/people.hpp"
#include "muster_client/sync_driver.hpp"
#include "muster_client/tui/terminal.hpp"

namespace muster::client {

// README "The client": 4 is this device's own storage (its client.db or home cannot be
// read or written), never something the server said.
enum Exit { kOk = 0, kUsage = 1, kRejected = 2, kUnreachable = 3, kLocal = 4 };

const char* usage_text();
int usage(const std::string& problem);
int fail(int code, const std::string& message);
int exit_for(const Status& st);
std::string now_text();

class Cli {
 public:
  Cli(const Args& args, ConnectionFactory connect, tui::TerminalFactory terminal = {})
      : a_(args), json_(args.flag("json")), connect_(std::move(connect)), terminal_(std::move(terminal)) {}

  int run();

 private:
  // --- helpers ---
  sync::ClientStore& store();
  std::string home() const;
  std::optional<sync::Identity> identity();
  std::chrono::milliseconds timeout(int default_seconds) const;
  Result<std::string> resolve(const std::string& given, const std::string& type);
  int submit(domain::Op op);
  domain::Op make_op(const std::string& kind, domain::Json body);
  int print_sync(const DriveResult& r, bool quiet_success);
  // The server's time zone (from its welcome; Asia/Shanghai until one said otherwise).
  // If it cannot be loaded (no tz database here, or not this zone in it), UTC, after a
  // warning on stderr naming the zone and the database: times are then shown marked as
  // UTC, never as if they were local.
  const Zone& zone();
  // A person as tables show them: "王芳 (wang)" when the server told this device wang's
  // display name (its welcome's `people`), else the user name alone ("area:…" as given).
  std::string person(const std::string& name);
  // The display names this device was told (people.hpp), for the TUI's snapshot too.
  const People& people();
  // A time for a table: "2026-11-25 08:00" in zone(), "2026-11-25 00:00Z" when zone()
  // stands in for a zone that could not be loaded.
  std::string short_time(UnixMs t);
  // `text` (a server's or the local view's error message) with every RFC 3339 UTC time in
  // it written in the server's zone, as everywhere else ("2026-11-25T06:00:00+08:00").
  std::string local_times(const std::string& text);
  // Reads --NAME as a time in the server's zone; nullopt if absent; an error if malformed,
  // or if it is a local time while the server's zone could not be loaded.
  Result<std::optional<UnixMs>> time_option(const char* name);

  // --- commands ---
  int login();
  int status();
  int sync_cmd();
  int task();
  int task_list();
  int task_show();
  int notice();
  int notice_status();
  int msg();
  int watch();
  int roster();  // roster_commands.cpp
  int roster_list();
  int roster_gaps();
  int headcount();  // headcount_commands.cpp
  int headcount_mark();
  int headcount_mark_file(const std::string& round, const std::string& file);
  int headcount_status();
  int headcount_list();
  int headcount_household();
  int inbox();  // inbox_commands.cpp
  int inbox_ack(const sync::Identity& id);
  std::vector<domain::InboxItem> inbox_items(const sync::Identity& id);
  int tui();  // tui_command.cpp
  // The op a TUI form asks for (its fields as typed), made as the command line makes it.
  Result<domain::Op> form_op(const std::string& kind, const domain::Json& fields);
  int hotline();    // hotline_commands.cpp
  int hotline_list();
  int hotline_show();

  const Args& a_;
  bool json_;
  ConnectionFactory connect_;  // the transports (main.cpp)
  tui::TerminalFactory terminal_;  // the terminal for `muster tui` (main.cpp), or none
  std::unique_ptr<sync::ClientStore> store_;
  std::optional<Zone> zone_;
  std::optional<People> people_;  // read from the store once, at the first person()
  std::string zone_missing_;  // the zone that could not be loaded, if zone_ is UTC instead
  UlidGenerator ids_;
};

}  // namespace muster::client
