// muster-bench: the load generators and peers behind scripts/bench (SPEC §8), one
// executable with sub-commands so that WebSocket++ is compiled in few translation units.
//
// Every sub-command prints one JSON object on its last stdout line (progress goes to
// stderr), and bounds every loop in time and count.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "muster/base/args.hpp"

namespace bench {

using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// One line of a `musterd user import` file: name,roles,area,password[,token].
struct BenchUser {
  std::string name;
  std::string roles;
  std::string area;
  std::string password;
  std::string token;  // device "bench"
};

// Reads an import file (throws std::runtime_error on a bad line).
std::vector<BenchUser> read_users(const std::string& file);
// The users of `file` whose name starts with `prefix`, in file order (at most `limit`).
std::vector<BenchUser> select_users(const std::vector<BenchUser>& all, const std::string& prefix,
                                    std::size_t limit = static_cast<std::size_t>(-1));
const BenchUser& find_user(const std::vector<BenchUser>& all, const std::string& name);

double median(std::vector<double> v);
// p in [0, 1], nearest rank.
double percentile(std::vector<double> v, double p);
// {"samples":[…],"median":…,"min":…,"max":…}
Json summarize(const std::vector<double>& samples);

double seconds_since(SteadyClock::time_point t);
SteadyClock::time_point after(double seconds);
std::int64_t unix_ms();

// VmRSS of a process in KiB (-1 if unreadable).
long rss_kib(pid_t pid);

// Payloads shared by muster's generators and the peers, so both carry the same bytes.
inline constexpr std::string_view kMessageText =
    "bench: 代买 白菜2斤 鸡蛋10个 送3栋502 — payload of about a hundred bytes";
inline constexpr std::string_view kNoticeText = "bench notice: 今晚8点 3栋核酸采样, please come down with your ID card";

// Frame type of a server frame. Fast path: nlohmann sorts keys, so `t` is the last key
// of events, acks and caught_up; anything else is parsed.
std::string frame_type(const std::string& payload);

// Prints the JSON result line.
void emit(const Json& result);

// --- sub-commands (each returns the process exit code) ---
int cmd_fsync_probe(const muster::Args& a);
int cmd_free_port(const muster::Args& a);
int cmd_sqlite_ingest(const muster::Args& a);
int cmd_sqlite_catchup(const muster::Args& a);
int cmd_users(const muster::Args& a);
int cmd_report(const muster::Args& a);
int cmd_ingest(const muster::Args& a);
int cmd_seed(const muster::Args& a);
int cmd_delivery(const muster::Args& a);
int cmd_fanout(const muster::Args& a);
int cmd_hold(const muster::Args& a);
int cmd_echo_server(const muster::Args& a);
int cmd_catchup(const muster::Args& a);
int cmd_mqtt_delivery(const muster::Args& a);
int cmd_mqtt_fanout(const muster::Args& a);

}  // namespace bench
