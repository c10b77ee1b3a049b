// Fair use (issue 13, must-be-true 5) and the server's own order of messages, against a
// real musterd on 127.0.0.1:
//
//   1. a volunteer flooding area messages over WebSocket gets `rate_limited` answers
//      with a wait, nothing of them written, the session up; after the wait the op goes
//      through; the server's RSS (VmRSS from /proc) stays under a generous ceiling and is
//      printed; meanwhile a lead's ops keep being acked
//   2. a client whose clock says 2090 (its op ids, the only clock a client puts on the
//      wire, made with a 2090 time) or 1971 does not sort its message there: `muster msg
//      list`, a client process, shows messages in the order the server received them,
//      with the sender's clock kept as sent_at

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "frames.hpp"
#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kArea = "gulou/antai/yili";
constexpr const char* kAreaTo = "area:gulou/antai/yili";
constexpr const char* kPassword = "password123";

using mt::Frame;
using mt::new_id;
using mt::next_frame;

std::string op_frame(const std::string& id, const std::string& kind, const json& body) {
  return json{{"t", "op"}, {"id", id}, {"kind", kind}, {"body", body}}.dump();
}

// Logged in and caught up (the replay read and dropped).
std::unique_ptr<mt::RawWs> login(int port, const std::string& user, const std::string& device) {
  auto ws = std::make_unique<mt::RawWs>();
  REQUIRE(ws->connect(port));
  REQUIRE(ws->send_text(
      json{{"t", "hello"}, {"v", 1}, {"user", user}, {"password", kPassword}, {"device", device}}.dump()));
  for (int i = 0; i < 100000; ++i) {
    auto f = next_frame(*ws, 10s);
    REQUIRE_MESSAGE(f.has_value(), "no caught_up for " << user << "; close " << ws->close_code());
    if (f->type() == "caught_up") return ws;
    REQUIRE_MESSAGE((f->type() == "welcome" || f->type() == "event"), f->raw);
  }
  FAIL("no caught_up for " << user);
  return nullptr;
}

// Reads until the ack of `id` (events and other acks on the way are dropped).
std::optional<Frame> ack_of(mt::RawWs& ws, const std::string& id, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = mt::SteadyClock::now() + timeout;
  while (mt::SteadyClock::now() < deadline) {
    auto f = next_frame(ws, mt::left_until(deadline));
    if (!f) return std::nullopt;
    if (f->type() == "ack" && f->str("id") == id) return f;
  }
  return std::nullopt;
}

std::string error_code(const Frame& ack) {
  if (!ack.j.contains("error") || !ack.j["error"].is_object()) return "";
  return ack.j["error"].value("code", "");
}

// The serving process's resident set size in KiB, from /proc/PID/status (-1 if unread).
long rss_kib(pid_t pid, const char* field = "VmRSS:") {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return -1;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("fair use: a flooding volunteer is rate limited, the server's memory stays bounded, a lead is still served") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kArea);
    server.add_user("wang", "volunteer", kArea);
    // A budget bigger than the default, so that the flood writes megabytes before it is
    // cut off (the default would stop it at 1 MiB): what is written must not stay in
    // the server's memory either.
    std::ofstream(server.data_dir() + "/policy.json")
        << R"({"limits": {"volunteer": {"ops_per_minute": 60, "op_burst": 1500, "kib_per_minute": 240, "kib_burst": 8192}}})";
    server.start();
    auto lead = login(server.port(), "lin", "lin-desk");
    auto flooder = login(server.port(), "wang", "wang-phone");
    const long rss_before = rss_kib(server.pid());
    REQUIRE(rss_before > 0);

    // 3,000 area messages of 4,000 bytes (12 MB), 32 in flight, as fast as the server answers.
    constexpr int kFlood = 3000;
    const std::string text(4000, 'x');
    int accepted = 0, limited = 0, other = 0, lead_acked = 0, lead_failed = 0;
    std::int64_t longest_wait = 0;
    std::string first_limit, lead_problem;
    int in_flight = 0, sent = 0;
    auto read_flooder_ack = [&]() -> bool {
      for (int i = 0; i < 100000; ++i) {
        auto f = next_frame(*flooder, 15s);
        if (!f) return false;
        if (f->type() != "ack") continue;
        --in_flight;
        if (f->j.value("ok", false)) {
          ++accepted;
        } else if (error_code(*f) == "rate_limited") {
          if (++limited == 1) first_limit = f->raw;
          longest_wait = std::max<std::int64_t>(longest_wait, f->j["error"].value("retry_after_ms", std::int64_t{-1}));
        } else {
          ++other;
          if (first_limit.empty()) first_limit = f->raw;
        }
        return true;
      }
      return false;
    };
    long rss_peak = rss_before;
    while (sent < kFlood) {
      REQUIRE(flooder->send_text(op_frame(new_id(), "message.send", {{"to", kAreaTo}, {"text", text}})));
      ++sent;
      ++in_flight;
      while (in_flight >= 32) REQUIRE_MESSAGE(read_flooder_ack(), "the flooder lost its answers; close " << flooder->close_code());
      if (sent % 250 == 0) {
        // Another user, meanwhile: a task of the lead's, acked.
        const std::string id = new_id();
        REQUIRE(lead->send_text(op_frame(id, "task.create",
                                         {{"kind", "generic"}, {"title", "洪水中的任务 " + std::to_string(sent)},
                                          {"area", kArea}, {"dispatch", "claim"}})));
        auto ack = ack_of(*lead, id);
        if (ack && ack->j.value("ok", false)) {
          ++lead_acked;
        } else {
          ++lead_failed;
          if (lead_problem.empty()) lead_problem = ack ? ack->raw : "no ack";
        }
        rss_peak = std::max(rss_peak, rss_kib(server.pid()));
      }
    }
    while (in_flight > 0) REQUIRE_MESSAGE(read_flooder_ack(), "the flooder lost its answers");
    const long rss_after = rss_kib(server.pid());
    rss_peak = std::max(rss_peak, rss_after);

    MESSAGE("flood of " << kFlood << " messages of " << text.size() << " bytes: " << accepted << " accepted ("
                        << accepted * text.size() / (1024 * 1024) << " MiB written), " << limited
                        << " rate_limited (longest wait " << longest_wait << " ms); musterd VmRSS " << rss_before
                        << " KiB before, " << rss_peak << " KiB at most during, " << rss_after << " KiB after; lead "
                        << lead_acked << " of " << lead_acked + lead_failed << " ops acked");

    CHECK_MESSAGE(other == 0, first_limit);
    CHECK(limited > 0);
    CHECK(accepted > 0);
    CHECK(accepted + limited == kFlood);
    CHECK(accepted < kFlood);  // the budget of 1,500 ops and 8 MiB, plus what refilled meanwhile
    CHECK(longest_wait > 0);
    CHECK_MESSAGE(first_limit.find("rate_limited") != std::string::npos, first_limit);
    CHECK_MESSAGE(lead_failed == 0, lead_problem);
    CHECK(lead_acked == kFlood / 250);
    // Nothing of a limited op was written: the log holds the accepted messages and the
    // lead's tasks, one event each, and the audit only decided ops.
    CHECK(server.metric("muster_last_gseq") == accepted + lead_acked);
    CHECK(server.metric("muster_ops_rate_limited_total") == limited);
    CHECK(server.metric("muster_ops_accepted_total") == accepted + lead_acked);
    // Bounded: the flood wrote megabytes of text; the server's memory is far from holding
    // it all and stays under a generous ceiling (send windows, SQLite's cache, the loop's
    // buffers; not every message ever sent).
    CHECK(rss_peak < rss_before + 96 * 1024);

    // The session is up and "later" works: after the named wait, the op goes through.
    const std::string late = new_id();
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(longest_wait, 10000) + 100));
    bool through = false;
    for (int attempt = 0; attempt < 5 && !through; ++attempt) {
      REQUIRE(flooder->send_text(op_frame(late, "message.send", {{"to", kAreaTo}, {"text", "水停了吗"}})));
      auto ack = ack_of(*flooder, late);
      REQUIRE_MESSAGE(ack.has_value(), "no answer after the wait; close " << flooder->close_code());
      through = ack->j.value("ok", false);
      if (!through) {
        REQUIRE_MESSAGE(error_code(*ack) == "rate_limited", ack->raw);
        std::this_thread::sleep_for(std::chrono::milliseconds(ack->j["error"].value("retry_after_ms", 1000) + 50));
      }
    }
    CHECK(through);
    CHECK_FALSE(flooder->closed());
  }

  TEST_CASE("fair use: a client's queued ops wait out rate_limited and are all sent, none dropped") {
    mt::ServerFixture server;
    server.add_user("wang", "volunteer", kArea);
    // Three ops at once, then one every 200 ms.
    std::ofstream(server.data_dir() + "/policy.json")
        << R"({"limits": {"volunteer": {"ops_per_minute": 300, "op_burst": 3, "kib_per_minute": 1024, "kib_burst": 1024}}})";
    server.start();
    mt::ClientFixture wang("wang");
    wang.login(server, "wang");
    std::vector<std::string> ids;
    for (int i = 0; i < 12; ++i) {
      auto r = wang.run({"msg", "send", "--to", kAreaTo, "--text", "第" + std::to_string(i) + "条"});
      REQUIRE_MESSAGE(r.code == 0, r.err);
      ids.push_back(mt::queued_id(r));
    }
    auto s = wang.run({"sync", "--timeout", "60", "--json"});
    INFO(s.out << s.err);
    REQUIRE(s.code == 0);
    auto j = json::parse(s.out, nullptr, false);
    CHECK(j.value("pending", -1) == 0);
    CHECK(j["rejected"] == json::array());
    CHECK(j.value("rate_limited", 0) > 0);
    CHECK(server.metric("muster_ops_rate_limited_total") > 0);
    CHECK(server.metric("muster_ops_accepted_total") == 12);
    // In the order they were queued.
    auto list = json::parse(wang.run({"msg", "list", "--json"}).out, nullptr, false);
    REQUIRE(list.is_array());
    REQUIRE(list.size() == ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) CHECK(list[i]["id"] == ids[i]);
  }

  // issue 13: a big outbox used to be cut at --timeout (the whole sync), so it took
  // several runs. The timeout is now how long the server may stay silent: this sync
  // takes longer than --timeout (the budget lets one op through every 200 ms after a
  // burst of 3), but an answer comes every 200 ms, so it ends in one run.
  TEST_CASE("sync: --timeout bounds the server's silence, not a long sync that is being answered") {
    mt::ServerFixture server;
    server.add_user("wang", "volunteer", kArea);
    std::ofstream(server.data_dir() + "/policy.json")
        << R"({"limits": {"volunteer": {"ops_per_minute": 300, "op_burst": 3, "kib_per_minute": 1024, "kib_burst": 1024}}})";
    server.start();
    mt::ClientFixture wang("wang");
    wang.login(server, "wang");
    constexpr int kOps = 20;  // 17 after the burst, 200 ms apart: over 3 s, beyond --timeout 2
    for (int i = 0; i < kOps; ++i) {
      auto r = wang.run({"msg", "send", "--to", kAreaTo, "--text", "第" + std::to_string(i) + "条"});
      REQUIRE_MESSAGE(r.code == 0, r.err);
    }
    auto s = wang.run({"sync", "--timeout", "2", "--json"});
    INFO(s.out << s.err);
    REQUIRE(s.code == 0);
    auto j = json::parse(s.out, nullptr, false);
    CHECK(j.value("pending", -1) == 0);
    CHECK(j.value("rate_limited", 0) > 0);
    CHECK(server.metric("muster_ops_accepted_total") == kOps);
  }

  TEST_CASE("message order: the server's time of receipt, not the sender's clock (2090, 1971)") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", kArea);
    server.add_user("wang", "volunteer", kArea);
    server.add_user("bob", "volunteer", kArea);
    server.start();
    const auto real_now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    const std::int64_t year = 365LL * 24 * 60 * 60 * 1000;
    // wang's phone says it is 64 years later; bob's, 55 years earlier (1971 from 2026):
    // the op ids they make carry those times.
    muster::UlidGenerator future_ids, past_ids;
    const std::int64_t future = real_now + 64 * year;
    const std::int64_t past = real_now - 55 * year;
    auto lead = login(server.port(), "lin", "lin-desk");
    auto wang = login(server.port(), "wang", "wang-phone");
    auto bob = login(server.port(), "bob", "bob-phone");

    // Sent in this order: wang (2090), lin (now), bob (1971), lin (now).
    const std::string first = future_ids.next(future);
    REQUIRE(wang->send_text(op_frame(first, "message.send", {{"to", kAreaTo}, {"text", "一号楼停电"}})));
    REQUIRE(ack_of(*wang, first)->j.value("ok", false));
    std::this_thread::sleep_for(1100ms);  // the server's times are in seconds: a second apart
    const std::string second = new_id();
    REQUIRE(lead->send_text(op_frame(second, "message.send", {{"to", kAreaTo}, {"text", "收到，马上去"}})));
    REQUIRE(ack_of(*lead, second)->j.value("ok", false));
    const std::string third = past_ids.next(past);
    REQUIRE(bob->send_text(op_frame(third, "message.send", {{"to", kAreaTo}, {"text", "我也去"}})));
    REQUIRE(ack_of(*bob, third)->j.value("ok", false));
    std::this_thread::sleep_for(1100ms);
    const std::string fourth = new_id();
    REQUIRE(lead->send_text(op_frame(fourth, "message.send", {{"to", kAreaTo}, {"text", "已恢复供电"}})));
    REQUIRE(ack_of(*lead, fourth)->j.value("ok", false));

    // A reader's client, as a process.
    mt::ClientFixture reader("lin");
    reader.login(server, "lin");
    auto r = reader.run({"msg", "list", "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    auto list = json::parse(r.out, nullptr, false);
    REQUIRE(list.is_array());
    REQUIRE(list.size() == 4);
    CHECK(list[0]["id"] == first);
    CHECK(list[1]["id"] == second);
    CHECK(list[2]["id"] == third);
    CHECK(list[3]["id"] == fourth);
    // The sender's clock is kept as sent_at; received_at is the server's.
    CHECK(list[0]["sent_at"] == muster::format_utc(future));
    CHECK(list[2]["sent_at"] == muster::format_utc(past));
    for (const auto& m : list) {
      const auto received = muster::parse_utc(m.value("received_at", ""));
      REQUIRE(received.has_value());
      CHECK(*received > real_now - 60000);
      CHECK(*received < real_now + 60000);
    }
    // The text listing, in the same order.
    auto text = reader.run({"msg", "list"}).out;
    const auto a = text.find("一号楼停电"), b = text.find("收到，马上去"), c = text.find("我也去"),
               d = text.find("已恢复供电");
    CHECK(a < b);
    CHECK(b < c);
    CHECK(c < d);
    CHECK(d != std::string::npos);
  }
}
