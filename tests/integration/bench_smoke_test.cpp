// A smoke run of muster-bench (the load generators and peers behind scripts/bench) so
// they do not rot: a few hundred ops, a few dozen connections, a tiny fan-out, the
// SQLite peers, the echo server, the MQTT peers when Mosquitto is installed, and the
// report. No timing assertions: benchmarks are measured by scripts/bench only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "muster_fixture.hpp"

namespace mt = muster::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Runs muster-bench and returns its result line (the last stdout line) as JSON.
json bench(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
  std::vector<std::string> argv{mt::binary_path("muster-bench")};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = mt::run(argv, {}, std::nullopt, timeout);
  INFO("muster-bench " << args.at(0) << " -> exit " << r.code << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
  std::istringstream in(r.out);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  auto j = json::parse(last, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE_FALSE(j.contains("error"));
  return j;
}

void users(const std::string& file, const std::string& prefix, int count, const std::string& area,
           const std::string& roles = "volunteer") {
  bench({"users", "--out", file, "--prefix", prefix, "--count", std::to_string(count), "--area", area, "--roles",
         roles});
}

void append_line(const std::string& path, const json& j) { std::ofstream(path, std::ios::app) << j.dump() << '\n'; }

bool has_samples(const json& j) { return j.contains("samples") && j["samples"].is_array() && !j["samples"].empty(); }

bool tcp_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string find_mosquitto() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

}  // namespace

TEST_CASE("bench smoke: every muster-bench generator and peer runs end to end") {
  mt::ServerFixture server;
  mt::TempDir work("bench-smoke-");
  const std::string results = work.path() + "/results";
  std::filesystem::create_directories(results);
  const std::string u = work.path() + "/users.csv";
  users(u, "ing", 5, "bench/ing");
  users(u, "dsend", 1, "bench/dl");
  users(u, "drecv", 1, "bench/dl");
  users(u, "fw", 20, "bench/fan");
  users(u, "fpost", 1, "bench/fan", "lead");
  users(u, "cuseed", 1, "bench/cu");
  users(u, "cureader", 1, "bench/cu");
  users(u, "mem", 30, "bench/mem");
  auto imported = server.admin({"user", "import", u, "--create-area"});
  INFO(imported.err);
  REQUIRE(imported.code == 0);
  {
    // As scripts/bench does: the generators flood on purpose, so the fair-use budgets
    // (README "Policy") are lifted for this server.
    const std::string b =
        R"({"ops_per_minute": 100000000, "op_burst": 100000000, "kib_per_minute": 100000000, "kib_burst": 100000000})";
    std::ofstream(server.data_dir() + "/policy.json")
        << R"({"limits": {"volunteer": )" << b << R"(, "lead": )" << b << R"(, "plugin": )" << b << "}}";
  }
  server.start();
  const std::string url = server.url();

  auto limits = bench({"fsync-probe", "--dir", work.path(), "--seconds", "0.2"});
  CHECK(limits["fsync_per_s"].get<double>() > 0);
  append_line(results + "/limits.json", {{"fsync_per_s", limits["fsync_per_s"]}, {"cores", 2}});

  SUBCASE("ingest and its SQLite peer") {
    auto m = bench({"ingest", "--url", url, "--users-file", u, "--connections", "5", "--window", "4", "--warmup",
                    "0.2", "--duration", "0.3", "--reps", "2"});
    CHECK(has_samples(m));
    REQUIRE(m.contains("batch"));
    auto p = bench({"sqlite-ingest", "--dir", work.path(), "--batch", std::to_string(m["batch"].get<double>()),
                    "--warmup", "0.1", "--duration", "0.2", "--reps", "2"});
    CHECK(has_samples(p));
    append_line(results + "/ingest.muster.jsonl", m);
    append_line(results + "/ingest.peer.jsonl", p);
  }

  SUBCASE("delivery, fan-out, catch-up and memory, and the report") {
    auto d = bench({"delivery", "--url", url, "--users-file", u, "--sender", "dsend", "--recipient", "drecv",
                    "--window", "8", "--warmup", "0.2", "--duration", "0.3", "--reps", "1", "--save-payload",
                    work.path() + "/delivery-payload.txt"});
    CHECK(has_samples(d));
    CHECK(d["payload_bytes"].get<int>() > 100);

    auto f = bench({"fanout", "--url", url, "--users-file", u, "--clients", "20", "--poster", "fpost", "--area",
                    "bench/fan", "--warmup", "0", "--reps", "2", "--save-payload", work.path() + "/fanout-payload.txt"});
    CHECK(f["missing"] == 0);
    CHECK(has_samples(f));

    bench({"seed", "--url", url, "--users-file", u, "--user", "cuseed", "--to", "area:bench/cu", "--count", "300",
           "--window", "50"});
    auto c = bench({"catchup", "--url", url, "--user", "cureader", "--token",
                    "benchtoken-cureader-0123456789abcdef", "--dir", work.path(), "--warmup", "0", "--reps", "1",
                    "--min-events", "300"});
    CHECK(c["events"].get<int>() >= 300);
    auto cp = bench({"sqlite-catchup", "--src", server.data_dir() + "/log.db", "--scopes",
                     "area:bench,area:bench/cu,user:cureader,role:volunteer", "--dir", work.path(), "--warmup-reps",
                     "0", "--reps", "1"});
    CHECK(cp["events"].get<int>() >= 300);

    auto mm = bench({"hold", "--url", url, "--users-file", u, "--count", "30", "--pid", std::to_string(server.pid()),
                     "--settle", "0.1"});
    CHECK(mm["connections"] == 30);
    {
      const int port = mt::free_port();
      mt::Process echo({mt::binary_path("muster-bench"), "echo-server", "--listen", "127.0.0.1:" + std::to_string(port)});
      REQUIRE(mt::wait_until([&] { return mt::http_get(port, "/healthz", 500ms).has_value(); }, 10s, 50ms));
      auto me = bench({"hold", "--url", "ws://127.0.0.1:" + std::to_string(port), "--users-file", u, "--count", "30",
                       "--pid", std::to_string(echo.pid()), "--settle", "0.1", "--echo"});
      CHECK(me["connections"] == 30);
      append_line(results + "/memory.peer.jsonl", me);
      echo.terminate(5s);
    }

    const std::string mosquitto = find_mosquitto();
    if (!mosquitto.empty()) {
      const int port = mt::free_port();
      const std::string conf = work.path() + "/mosquitto.conf";
      std::ofstream(conf) << "listener " << port << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
                          << "log_dest stderr\nlog_type error\n";
      mt::Process broker({mosquitto, "-c", conf});
      REQUIRE(mt::wait_until([&] { return tcp_open(port) || !broker.running(); }, 10s, 50ms));
      REQUIRE(broker.running());
      auto md = bench({"mqtt-delivery", "--broker", "tcp://127.0.0.1:" + std::to_string(port), "--window", "8",
                       "--warmup", "0.2", "--duration", "0.3", "--reps", "1", "--payload-file",
                       work.path() + "/delivery-payload.txt"});
      CHECK(has_samples(md));
      auto mf = bench({"mqtt-fanout", "--port", std::to_string(port), "--clients", "20", "--warmup", "0", "--reps", "2",
                       "--payload-file", work.path() + "/fanout-payload.txt"});
      CHECK(mf["missing"] == 0);
      append_line(results + "/delivery.peer.jsonl", md);
      append_line(results + "/fanout.peer.jsonl", mf);
      broker.terminate(5s);
    }

    append_line(results + "/delivery.muster.jsonl", d);
    append_line(results + "/fanout.muster.jsonl", f);
    append_line(results + "/catchup.muster.jsonl", c);
    append_line(results + "/catchup.peer.jsonl", cp);
    append_line(results + "/memory.muster.jsonl", mm);
    const std::string out = work.path() + "/bench-results.json";
    auto rep = mt::run({mt::binary_path("muster-bench"), "report", "--dir", results, "--out", out});
    INFO(rep.out << rep.err);
    REQUIRE(rep.code == 0);
    CHECK(rep.out.find("memory") != std::string::npos);
    std::ifstream in(out);
    auto report = json::parse(in, nullptr, false);
    REQUIRE(report.is_object());
    CHECK(report["limits"]["cores"] == 2);
    REQUIRE(report["figures"].size() == 5);
    for (const auto& fig : report["figures"]) {
      INFO(fig.dump());
      CHECK(fig.contains("met"));
      CHECK(fig.contains("goal"));
      if (fig["name"] != "ingest") CHECK_FALSE(fig["muster"].is_null());  // ingest ran in the other subcase
    }
  }
}
