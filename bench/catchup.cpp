// The catch-up figure: the real client (the client core's sync driver, SyncSession
// and ClientStore, as `muster sync` runs them) replaying a log it has never seen into
// a fresh replica, timed from connect and hello to caught up and committed.
#include <filesystem>
#include <iostream>

#include "bench.hpp"
#include "muster_client/sync_driver.hpp"
#include "muster_client/transports/make_connection.hpp"

namespace bench {

int cmd_catchup(const muster::Args& a) {
  namespace fs = std::filesystem;
  const std::string dir = a.get_or("dir", ".");
  const int warmup = std::stoi(a.get_or("warmup", "1"));
  const int reps = std::stoi(a.get_or("reps", "5"));
  const long long min_events = std::stoll(a.get_or("min-events", "1"));
  muster::sync::Identity id;
  id.server = a.get_or("url", "");
  id.user = a.get_or("user", "");
  id.device = a.get_or("device", "bench");
  id.token = a.get_or("token", "");
  std::vector<double> samples;
  long long events = 0;
  for (int r = 0; r < warmup + reps; ++r) {
    const fs::path home = fs::path(dir) / "catchup-home";
    fs::remove_all(home);
    double seconds = 0;
    {
      auto store = muster::sync::ClientStore::open(home.string());
      muster::client::DriveOptions options;
      options.timeout = std::chrono::seconds(300);
      const auto start = SteadyClock::now();
      auto result =
          muster::client::drive(muster::client::make_connection, store, id, muster::sync::Credentials{}, options);
      seconds = seconds_since(start);
      if (!result.status.ok()) throw std::runtime_error("sync failed: " + result.status.error().message);
      events = result.report.events;
    }
    if (events < min_events) {
      throw std::runtime_error("replayed only " + std::to_string(events) + " events, expected " +
                               std::to_string(min_events));
    }
    const double rate = static_cast<double>(events) / seconds;
    std::cerr << "catchup " << (r < warmup ? "warm-up" : "rep " + std::to_string(r - warmup + 1)) << ": " << events
              << " events in " << seconds << " s, " << static_cast<long long>(rate) << " events/s\n";
    if (r >= warmup) samples.push_back(rate);
  }
  fs::remove_all(fs::path(dir) / "catchup-home");
  Json out = summarize(samples);
  out["unit"] = "events/s";
  out["events"] = events;
  out["note"] = std::to_string(events) + " events replayed into a fresh client.db per repetition";
  emit(out);
  return 0;
}

}  // namespace bench
