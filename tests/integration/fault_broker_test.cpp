// The fault matrix (issue 13): Mosquitto killed with SIGKILL, 8 times, while two clients
// over mqtt:// keep submitting ops and syncing, and restarted each time. A client keeps
// an op in its outbox until the server's ack comes back (a broker's PUBACK only says the
// broker has it, and a killed broker may lose what it had not saved yet), so afterwards
// every op the clients made is in the log exactly once, acked, gap-free; the server's
// bridge is connected again.

#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "fault_helpers.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int kKills = 8;

struct Loader {
  std::string user;
  std::vector<std::string> made;  // op ids, written by the loader's thread only
  int syncs_ok = 0;
  int syncs_failed = 0;
  std::string last_failure;
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("fault: the broker killed 8 times under load over MQTT; every op once, no gaps") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai/yili");
    server.add_user("xu", "lead", "gulou/antai/yili");
    mt::BrokerFixture broker(server);
    server.start({"--mqtt", broker.url()});
    auto bridged = [&] { return server.metric("muster_mqtt_connected").value_or(0) == 1; };
    REQUIRE_MESSAGE(mt::wait_until(bridged, 15s, 50ms), server.log());

    std::vector<Loader> loaders{{"lin", {}, 0, 0, ""}, {"xu", {}, 0, 0, ""}};
    std::vector<std::unique_ptr<mt::ClientFixture>> clients;
    for (auto& l : loaders) {
      clients.push_back(std::make_unique<mt::ClientFixture>(l.user));
      auto login = clients.back()->run({"login", "--server", broker.mqtt_url(), "--user", l.user, "--password-stdin"},
                                       std::string("password123\n"));
      REQUIRE_MESSAGE(login.code == 0, mt::describe(login));
    }

    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < loaders.size(); ++i) {
      threads.emplace_back([&, i] {
        Loader& l = loaders[i];
        mt::ClientFixture& c = *clients[i];
        for (int n = 0; !stop && n < 2000; ++n) {
          auto made = c.run({"task", "new", "generic", "--title", l.user + " 经MQTT 第" + std::to_string(n) + "件",
                             "--area", "gulou/antai/yili", "--dispatch", "claim"});
          if (made.code == 0) l.made.push_back(mt::queued_id(made));
          auto synced = c.run({"sync", "--timeout", "8"}, std::nullopt, 20s);
          (synced.code == 0 ? l.syncs_ok : l.syncs_failed) += 1;
          if (synced.code != 0) l.last_failure = synced.err;
        }
      });
    }

    std::mt19937 rng(std::random_device{}());
    int kills = 0;
    for (; kills < kKills; ++kills) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 1500));
      broker.kill9();
      REQUIRE_FALSE(broker.running());
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 500));
      broker.start();
    }
    std::this_thread::sleep_for(1s);
    stop = true;
    for (auto& t : threads) t.join();
    REQUIRE(server.running());
    CHECK_MESSAGE(mt::wait_until(bridged, 30s, 50ms), server.log());

    std::set<std::string> made;
    for (std::size_t i = 0; i < loaders.size(); ++i) {
      CAPTURE(loaders[i].user);
      json status;
      for (int attempt = 0; attempt < 5; ++attempt) {
        clients[i]->run({"sync", "--timeout", "30"}, std::nullopt, 60s);
        status = mt::run_json(*clients[i], {"status"});
        if (status["pending"] == 0) break;
      }
      CHECK(status["pending"] == 0);
      made.insert(loaders[i].made.begin(), loaders[i].made.end());
      MESSAGE(loaders[i].user << ": " << loaders[i].made.size() << " ops, " << loaders[i].syncs_ok << " syncs ok, "
                              << loaders[i].syncs_failed << " failed; the last: " << loaders[i].last_failure);
      CHECK(loaders[i].made.size() >= 5);
      CHECK(loaders[i].syncs_failed >= 1);  // it did meet the broker's deaths
    }
    CHECK(kills == kKills);

    auto facts = mt::read_log(server.data_dir(), "task.created");
    mt::check_exactly_once(facts, made);
    mt::check_gap_free(facts);
    CHECK(facts.events == static_cast<std::int64_t>(made.size()));
  }
}
