// SPEC §5: the MQTT transport end to end, against a real Mosquitto configured by
// `musterd broker-config` (password file + ACL with %u patterns) and a real musterd
// bridging to it, all on 127.0.0.1. Clients are the muster CLI (over ws:// and mqtt://),
// raw WebSocket sessions, and mosquitto_sub/mosquitto_pub acting as a user with its
// own password. Every wait is bounded; nothing sleeps to synchronise.

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "muster/base/ulid.hpp"
#include "cli_helpers.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::contains;
using mt::describe;
using mt::parse_json;
using mt::run_json;
using mt::sync;

using Clock = std::chrono::steady_clock;

constexpr const char* kPassword = "password123";
const std::string kArea = "gulou/antai/yili";
const std::string kAreaScope = "area:" + kArea;
const std::string kPrefix = "muster/v1";
const std::string kAreaTopic = kPrefix + "/ev/area/" + kArea;
const std::string kHotlineTopic = kPrefix + "/ev/role/hotline";

std::string op_topic(const std::string& user) { return kPrefix + "/op/" + user; }
std::string req_topic(const std::string& user) { return kPrefix + "/req/" + user; }
std::string ack_topic(const std::string& user) { return kPrefix + "/ack/" + user; }
std::string inbox_topic(const std::string& user) { return kPrefix + "/ev/user/" + user; }

std::string new_id() {
  static muster::UlidGenerator ids;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return ids.next(now);
}

std::string op_frame(const std::string& id, const std::string& kind, const json& body) {
  return json{{"t", "op"}, {"id", id}, {"kind", kind}, {"body", body}}.dump();
}

json create_body(const std::string& title) {
  return {{"kind", "generic"}, {"title", title}, {"area", kArea}, {"dispatch", "claim"}};
}

// ---------------------------------------------------------------- what subscribers saw

struct Msg {
  std::string topic;
  std::string raw;
  json j;  // discarded if the payload is not JSON

  std::string type() const { return j.is_object() && j.contains("t") && j["t"].is_string() ? j["t"].get<std::string>() : ""; }
  std::string str(const char* key) const {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
  }
  std::int64_t seq() const { return j.is_object() && j.contains("seq") && j["seq"].is_number_integer() ? j["seq"].get<std::int64_t>() : -1; }
};

// The messages a mosquitto_sub printed so far, optionally only those on `topic`.
std::vector<Msg> messages(const mt::Process& sub, const std::string& topic = "") {
  std::vector<Msg> out;
  for (auto& line : mt::mqtt_lines(sub.out())) {
    if (!topic.empty() && line.topic != topic) continue;
    out.push_back(Msg{line.topic, line.payload, json::parse(line.payload, nullptr, false)});
  }
  return out;
}

// The event frames of `scope` among msgs, in arrival order.
std::vector<Msg> events_of(const std::vector<Msg>& msgs, const std::string& scope) {
  std::vector<Msg> out;
  for (const auto& m : msgs) {
    if (m.type() == "event" && m.str("scope") == scope) out.push_back(m);
  }
  return out;
}

std::vector<std::int64_t> seqs(const std::vector<Msg>& events) {
  std::vector<std::int64_t> out;
  for (const auto& e : events) out.push_back(e.seq());
  return out;
}

std::vector<std::int64_t> range(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> out;
  for (std::int64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : "…" + text.substr(text.size() - n);
}

// Until the subscriber has reported `n` SUBACKs (it is subscribed from then on).
void wait_subscribed(const mt::Process& sub, int n = 1) {
  const bool ok = mt::wait_until([&] { return mt::suback_count(sub.out()) >= n; }, 10s);
  REQUIRE_MESSAGE(ok, "mosquitto_sub did not subscribe: " << tail(sub.out()) << tail(sub.err()));
}

// Until at least `n` messages on `topic` (any topic if empty) arrived at `sub`.
bool wait_messages(const mt::Process& sub, std::size_t n, std::chrono::milliseconds timeout,
                   const std::string& topic = "") {
  return mt::wait_until([&] { return messages(sub, topic).size() >= n; }, timeout);
}

// Until `scope` events with every seq from `first` to `last` arrived at `sub` (duplicates allowed).
bool wait_seqs(const mt::Process& sub, const std::string& scope, std::int64_t first, std::int64_t last,
               std::chrono::milliseconds timeout) {
  return mt::wait_until(
      [&] {
        std::set<std::int64_t> have;
        for (auto s : seqs(events_of(messages(sub), scope))) have.insert(s);
        for (std::int64_t s = first; s <= last; ++s) {
          if (!have.count(s)) return false;
        }
        return true;
      },
      timeout, 50ms);
}

// ---------------------------------------------------------------- the server's metrics

double metric(const mt::ServerFixture& server, const std::string& name) {
  auto v = server.metric(name);
  REQUIRE_MESSAGE(v.has_value(), "metric " << name << " missing");
  return *v;
}

bool wait_metric(const mt::ServerFixture& server, const std::string& name, const std::function<bool(double)>& pred,
                 std::chrono::milliseconds timeout = 20s) {
  return mt::wait_until(
      [&] {
        auto v = server.metric(name);
        return v && pred(*v);
      },
      timeout, 50ms);
}

// Starts the server bridged to the broker and waits until the bridge is connected.
void start_bridged(mt::ServerFixture& server, const mt::BrokerFixture& broker) {
  server.start({"--mqtt", broker.url()});
  const bool connected = wait_metric(server, "muster_mqtt_connected", [](double v) { return v == 1; }, 10s);
  REQUIRE_MESSAGE(connected, "musterd did not connect to the broker: " << server.log());
}

// ---------------------------------------------------------------- the CLI

// `muster task new generic` for kArea (claim dispatch); the op id.
std::string new_task(mt::ClientFixture& c, const std::string& title) {
  auto r = c.run({"task", "new", "generic", "--title", title, "--area", kArea, "--dispatch", "claim"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  return mt::queued_id(r);
}

// ---------------------------------------------------------------- raw WebSocket

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : 0ms;
}

// A live WebSocket session of `user`: hello with the password, welcome, replay, caught_up.
std::unique_ptr<mt::RawWs> ws_login(int port, const std::string& user, const std::string& device) {
  auto ws = std::make_unique<mt::RawWs>();
  REQUIRE(ws->connect(port));
  json hello{{"t", "hello"}, {"v", 1}, {"user", user}, {"password", kPassword}, {"device", device},
             {"cursors", json::object()}};
  REQUIRE(ws->send_text(hello.dump()));
  const auto deadline = Clock::now() + 10s;
  bool welcomed = false;
  while (true) {
    auto m = ws->recv(left_until(deadline));
    REQUIRE_MESSAGE(m.has_value(), "no welcome/caught_up; close code " << ws->close_code());
    auto j = json::parse(*m, nullptr, false);
    const std::string t = j.is_object() ? j.value("t", "") : "";
    if (t == "welcome") welcomed = true;
    if (t == "caught_up") break;
  }
  REQUIRE(welcomed);
  return ws;
}

// Sends every op of `frames` (id, frame) at once and waits for all their acks; each must be ok.
void send_ops_and_wait(mt::RawWs& ws, const std::vector<std::pair<std::string, std::string>>& frames,
                       std::chrono::milliseconds timeout) {
  std::set<std::string> waiting;
  for (const auto& [id, frame] : frames) {
    waiting.insert(id);
    REQUIRE(ws.send_text(frame));
  }
  const auto deadline = Clock::now() + timeout;
  while (!waiting.empty()) {
    auto m = ws.recv(left_until(deadline));
    REQUIRE_MESSAGE(m.has_value(), waiting.size() << " acks missing");
    auto j = json::parse(*m, nullptr, false);
    if (!j.is_object() || j.value("t", "") != "ack") continue;
    REQUIRE_MESSAGE(j.value("ok", false), *m);
    waiting.erase(j.value("id", ""));
  }
}

// ---------------------------------------------------------------- MQTT as a user

// A subscriber to `user`'s ack topic that is known to be heard by the server: a ping on
// the user's req topic came back as a pong.
std::unique_ptr<mt::Process> ack_listener(const mt::BrokerFixture& broker, const std::string& user,
                                          const std::string& password = kPassword) {
  auto sub = broker.subscribe(user, password, {ack_topic(user)});
  wait_subscribed(*sub);
  auto pongs = [&] {
    std::size_t n = 0;
    for (const auto& m : messages(*sub, ack_topic(user))) n += m.type() == "pong";
    return n;
  };
  const bool ok = mt::wait_until(
      [&] {
        auto r = broker.publish(user, password, req_topic(user), R"({"t":"ping"})");
        if (r.code != 0) return false;
        return mt::wait_until([&] { return pongs() > 0; }, 1s);
      },
      15s, 10ms);
  REQUIRE_MESSAGE(ok, "no pong on " << ack_topic(user) << ": " << tail(sub->out()));
  return sub;
}

}  // namespace

TEST_SUITE("mqtt") {
  // ------------------------------------------------------------------------------ 1
  TEST_CASE("mqtt: a task from a lead over WebSocket reaches a volunteer over MQTT, and the claim comes back") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    mt::ClientFixture lead("lin"), volunteer("wang");
    lead.login(server, "lin");
    auto login = volunteer.run({"login", "--server", broker.mqtt_url(), "--user", "wang", "--password-stdin"},
                               std::string(kPassword) + "\n");
    REQUIRE_MESSAGE(login.code == 0, describe(login));
    CHECK(run_json(volunteer, {"status"})["server"] == broker.mqtt_url());

    const std::string task = new_task(lead, "buy rice for 3-502");
    REQUIRE(sync(lead, "lead") == 0);

    // The volunteer talks to the broker only: not one WebSocket connection from it.
    const double ws_connections = metric(server, "muster_connections_total");
    REQUIRE(sync(volunteer, "volunteer") == 0);
    auto seen = run_json(volunteer, {"task", "show", task});
    CHECK(seen["id"] == task);
    CHECK(seen["title"] == "buy rice for 3-502");
    CHECK(seen["state"] == "open");
    CHECK(seen["creator"] == "lin");
    CHECK(seen["pending"] == false);

    const double accepted = metric(server, "muster_ops_accepted_total");
    auto claim = volunteer.run({"task", "claim", task});
    REQUIRE_MESSAGE(claim.code == 0, describe(claim));
    REQUIRE(sync(volunteer, "volunteer") == 0);
    CHECK(run_json(volunteer, {"status"})["pending"] == 0);
    CHECK(metric(server, "muster_ops_accepted_total") == accepted + 1);
    CHECK(metric(server, "muster_connections_total") == ws_connections);
    auto mine = run_json(volunteer, {"task", "show", task});
    CHECK(mine["state"] == "accepted");
    CHECK(mine["assignee"] == "wang");
    CHECK(mine["pending"] == false);

    // The lead, over WebSocket, learns who has it.
    REQUIRE(sync(lead, "lead") == 0);
    auto theirs = run_json(lead, {"task", "show", task});
    CHECK(theirs["state"] == "accepted");
    CHECK(theirs["assignee"] == "wang");
  }

  // ------------------------------------------------------------------------------ 2
  TEST_CASE("mqtt: broker down, ops over WebSocket are still acked; the outbox drains in order when it returns") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    // A persistent session that subscribed before the outage.
    auto sub = broker.subscribe("wang", kPassword, {kAreaTopic}, "wang/outage");
    wait_subscribed(*sub);

    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    std::vector<std::string> ops{new_task(lead, "before the outage")};
    REQUIRE(sync(lead, "lead") == 0);
    REQUIRE_MESSAGE(wait_seqs(*sub, kAreaScope, 1, 1, 10s), tail(sub->out()));
    REQUIRE(wait_metric(server, "muster_mqtt_outbox_depth", [](double v) { return v == 0; }));
    const double gseq0 = metric(server, "muster_last_gseq");
    const double published0 = metric(server, "muster_mqtt_published_total");
    REQUIRE(gseq0 == 1);

    broker.stop();
    REQUIRE(wait_metric(server, "muster_mqtt_connected", [](double v) { return v == 0; }, 10s));

    constexpr int kDuringOutage = 5;
    for (int i = 0; i < kDuringOutage; ++i) ops.push_back(new_task(lead, "during the outage " + std::to_string(i)));
    CHECK(sync(lead, "lead") == 0);  // accepted and acked without the broker
    CHECK(run_json(lead, {"status"})["pending"] == 0);
    const double gseq1 = metric(server, "muster_last_gseq");
    CHECK(gseq1 == gseq0 + kDuringOutage);
    const double depth = metric(server, "muster_mqtt_outbox_depth");
    CHECK(depth > 0);
    CHECK(depth == gseq1 - gseq0);
    CHECK(metric(server, "muster_mqtt_connected") == 0);

    broker.start();
    CHECK_MESSAGE(wait_metric(server, "muster_mqtt_outbox_depth", [](double v) { return v == 0; }, 30s),
                  server.log());
    CHECK(metric(server, "muster_mqtt_connected") == 1);
    // Each queued event went out once.
    CHECK(metric(server, "muster_mqtt_published_total") == published0 + kDuringOutage);

    const std::int64_t last = 1 + kDuringOutage;
    REQUIRE_MESSAGE(wait_seqs(*sub, kAreaScope, 1, last, 20s), tail(sub->out()) << broker.log());
    // In order, no gap, nothing twice, and they are the lead's ops in the order made.
    auto events = events_of(messages(*sub), kAreaScope);
    CHECK(seqs(events) == range(1, last));
    std::vector<std::string> made_by;
    for (const auto& e : events) made_by.push_back(e.str("op"));
    CHECK(made_by == ops);
    std::int64_t previous_gseq = 0;
    for (const auto& e : events) {
      CHECK(e.j["gseq"].get<std::int64_t>() > previous_gseq);
      previous_gseq = e.j["gseq"].get<std::int64_t>();
      CHECK(e.str("kind") == "task.created");
    }
  }

  // ------------------------------------------------------------------------------ 3
  TEST_CASE("mqtt: a client offline while 1,000 events are posted catches up completely") {
    constexpr int kOffline = 1000;
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    auto lead = ws_login(server.port(), "lin", "lin-desk");
    auto first = broker.subscribe("wang", kPassword, {kAreaTopic}, "wang/phone");
    wait_subscribed(*first);
    const std::string id0 = new_id();
    send_ops_and_wait(*lead, {{id0, op_frame(id0, "task.create", create_body("task 0"))}}, 10s);
    REQUIRE_MESSAGE(wait_seqs(*first, kAreaScope, 1, 1, 10s), tail(first->out()));
    first->terminate(5s);  // disconnects; the broker keeps the session (-c) and queues for it
    REQUIRE_FALSE(first->running());

    std::vector<std::pair<std::string, std::string>> frames;
    for (int i = 1; i <= kOffline; ++i) {
      const std::string id = new_id();
      frames.emplace_back(id, op_frame(id, "task.create", create_body("task " + std::to_string(i))));
    }
    send_ops_and_wait(*lead, frames, 30s);
    const std::int64_t last = 1 + kOffline;
    CHECK(metric(server, "muster_last_gseq") == last);
    REQUIRE_MESSAGE(wait_metric(server, "muster_mqtt_outbox_depth", [](double v) { return v == 0; }, 30s),
                    "outbox depth " << metric(server, "muster_mqtt_outbox_depth") << ", published "
                                    << metric(server, "muster_mqtt_published_total") << ", failures "
                                    << metric(server, "muster_mqtt_publish_failures_total") << "\n"
                                    << tail(server.log()) << tail(broker.log()));

    // Through the broker's persistent session: the same client id comes back.
    {
      auto again = broker.subscribe("wang", kPassword, {kAreaTopic}, "wang/phone");
      const bool all = wait_seqs(*again, kAreaScope, 2, last, 30s);
      std::set<std::int64_t> have;
      for (auto s : seqs(events_of(messages(*first), kAreaScope))) have.insert(s);
      auto later = seqs(events_of(messages(*again), kAreaScope));
      for (auto s : later) have.insert(s);
      CHECK_MESSAGE(all, "got " << have.size() << " of " << last << " seqs");
      const auto every = range(1, last);
      CHECK(have == std::set<std::int64_t>(every.begin(), every.end()));
      CHECK(std::is_sorted(later.begin(), later.end()));
      CHECK(later.size() >= static_cast<std::size_t>(kOffline));
    }

    // Through hello replay on the req/ack topics, from a cursor.
    {
      auto acks = ack_listener(broker, "wang");
      json hello{{"t", "hello"}, {"v", 1}, {"user", "wang"}, {"device", "wang-mqtt"},
                 {"cursors", {{kAreaScope, 1}}}};
      auto r = broker.publish("wang", kPassword, req_topic("wang"), hello.dump());
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      auto caught_up = [&] {
        for (const auto& m : messages(*acks, ack_topic("wang"))) {
          if (m.type() == "caught_up") return true;
        }
        return false;
      };
      REQUIRE_MESSAGE(mt::wait_until(caught_up, 30s, 50ms), messages(*acks).size() << " messages so far");
      std::vector<Msg> replayed;
      bool welcomed = false;
      for (const auto& m : messages(*acks, ack_topic("wang"))) {
        if (m.type() == "welcome") {
          welcomed = true;
          CHECK(m.str("user") == "wang");
          CHECK(replayed.empty());
        }
        if (m.type() == "event") replayed.push_back(m);
        if (m.type() == "caught_up") break;
      }
      CHECK(welcomed);
      // Every event after the cursor, in order, once; only scopes wang can see.
      CHECK(seqs(events_of(replayed, kAreaScope)) == range(2, last));
      CHECK(replayed.size() == static_cast<std::size_t>(kOffline));
    }
  }

  // ------------------------------------------------------------------------------ 4
  TEST_CASE("mqtt: the generated ACL keeps users to their own topics; a disabled user is cut off at once") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    server.add_user("zhao", "volunteer", kArea);
    server.add_user("mei", "hotline", kArea);
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    // wang asks for zhao's inbox and ack topic and the hotline role besides its own inbox.
    auto wang = broker.subscribe("wang", kPassword,
                                 {inbox_topic("zhao"), ack_topic("zhao"), kHotlineTopic, inbox_topic("wang")});
    auto zhao = broker.subscribe("zhao", kPassword, {inbox_topic("zhao")});
    auto mei = broker.subscribe("mei", kPassword, {kHotlineTopic});
    wait_subscribed(*wang);
    wait_subscribed(*zhao);
    wait_subscribed(*mei);

    // Something on role:hotline (the server's account may publish anywhere under muster/v1).
    const std::string probe = R"({"t":"event","scope":"role:hotline","probe":"confidential"})";
    auto pub = broker.publish("musterd", broker.server_password(), kHotlineTopic, probe);
    REQUIRE_MESSAGE(pub.code == 0, describe(pub));
    REQUIRE_MESSAGE(wait_messages(*mei, 1, 10s, kHotlineTopic), tail(mei->out()));
    CHECK(messages(*mei, kHotlineTopic).front().raw == probe);

    // A message to zhao, then one to wang: when wang has its own, zhao's would have come first.
    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    auto to_zhao = lead.run({"msg", "send", "--to", "zhao", "--text", "for zhao only"});
    REQUIRE_MESSAGE(to_zhao.code == 0, describe(to_zhao));
    auto to_wang = lead.run({"msg", "send", "--to", "wang", "--text", "for wang"});
    REQUIRE_MESSAGE(to_wang.code == 0, describe(to_wang));
    REQUIRE(sync(lead, "lead") == 0);
    REQUIRE_MESSAGE(wait_messages(*zhao, 1, 10s, inbox_topic("zhao")), tail(zhao->out()));
    REQUIRE_MESSAGE(wait_messages(*wang, 1, 10s, inbox_topic("wang")), tail(wang->out()));
    CHECK(messages(*zhao, inbox_topic("zhao")).front().str("op") == mt::queued_id(to_zhao));
    {
      auto got = messages(*wang);
      REQUIRE(got.size() == 1);
      CHECK(got.front().topic == inbox_topic("wang"));
      CHECK(got.front().str("op") == mt::queued_id(to_wang));
      CHECK_FALSE(contains(wang->out(), "for zhao only"));
      CHECK_FALSE(contains(wang->out(), "confidential"));
    }

    // wang publishes a lead's op into lin's op topic: the broker drops it.
    auto lin_acks = ack_listener(broker, "lin");
    auto wang_acks = ack_listener(broker, "wang");
    const double accepted = metric(server, "muster_ops_accepted_total");
    const double rejected = metric(server, "muster_ops_rejected_total");
    const double gseq = metric(server, "muster_last_gseq");
    const std::string forged = new_id();
    broker.publish("wang", kPassword, op_topic("lin"), op_frame(forged, "task.create", create_body("forged")));
    // Then an op of wang's own, on its own topic: answered, so the forged one (published
    // before it) has been dropped by the broker rather than still on its way.
    const std::string own = new_id();
    auto r = broker.publish("wang", kPassword, op_topic("wang"),
                            op_frame(own, "message.send", json{{"to", "lin"}, {"text", "hello lin"}}));
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    auto own_ack = [&]() -> std::optional<Msg> {
      for (const auto& m : messages(*wang_acks, ack_topic("wang"))) {
        if (m.type() == "ack" && m.str("id") == own) return m;
      }
      return std::nullopt;
    };
    REQUIRE_MESSAGE(mt::wait_until([&] { return own_ack().has_value(); }, 10s), tail(wang_acks->out()));
    CHECK(own_ack()->j.value("ok", false));
    CHECK(metric(server, "muster_ops_accepted_total") == accepted + 1);
    CHECK(metric(server, "muster_ops_rejected_total") == rejected);
    CHECK(metric(server, "muster_last_gseq") == gseq + 2);  // the message in wang's and lin's inbox
    for (const auto& m : messages(*lin_acks, ack_topic("lin"))) CHECK_MESSAGE(m.type() == "pong", m.raw);
    CHECK_FALSE(contains(lin_acks->out() + wang_acks->out(), forged));
    REQUIRE(sync(lead, "lead") == 0);
    CHECK(run_json(lead, {"task", "list"}) == json::array());

    // Disabling wang: the broker reloads and drops wang's connections; wang cannot come back.
    REQUIRE(wang->running());
    auto disabled = server.admin({"user", "disable", "wang"});
    REQUIRE_MESSAGE(disabled.code == 0, describe(disabled));
    CHECK_MESSAGE(contains(disabled.err, "broker reloaded"), describe(disabled));
    CHECK_MESSAGE(mt::wait_until([&] { return !wang->running(); }, 10s), tail(wang->out()) << tail(broker.log()));
    CHECK_MESSAGE(mt::wait_until([&] { return !wang_acks->running(); }, 10s), tail(wang_acks->out()));
    CHECK(wang->exit_code().value_or(0) != 0);
    auto refused = broker.publish("wang", kPassword, op_topic("wang"),
                                  op_frame(new_id(), "message.send", json{{"to", "lin"}, {"text", "still here?"}}));
    CHECK_MESSAGE(refused.code != 0, describe(refused));
    auto resubscribe = broker.subscribe("wang", kPassword, {inbox_topic("wang")});
    CHECK(resubscribe->wait(10s) != 0);
    // The others keep their access.
    CHECK(zhao->running());
    CHECK(mei->running());
    CHECK(lin_acks->running());
    auto still = broker.publish("zhao", kPassword, req_topic("zhao"), R"({"t":"ping"})");
    CHECK_MESSAGE(still.code == 0, describe(still));
  }

  // ------------------------------------------------------------------------------ 5
  TEST_CASE("mqtt: malformed payloads on an op topic get an error answer and change nothing") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    const std::string task = new_task(lead, "claim me");
    REQUIRE(sync(lead, "lead") == 0);

    auto acks = ack_listener(broker, "wang");
    const double gseq = metric(server, "muster_last_gseq");
    const double accepted = metric(server, "muster_ops_accepted_total");
    const double bad_frames = metric(server, "muster_bad_frames_total");
    REQUIRE(gseq == 1);

    struct Bad {
      const char* what;
      std::string payload;
      std::string answer;  // "error" (with code bad_frame) or "ack" (ok:false for id)
      std::string id;
    };
    const std::string ulid = new_id();
    const std::vector<Bad> cases{
        {"not JSON", "claim " + task, "error", ""},
        {"empty", "", "error", ""},
        {"a JSON array", "[1,2,3]", "error", ""},
        {"an op without an id", json{{"t", "op"}, {"kind", "task.claim"}, {"body", {{"task", task}}}}.dump(), "error", ""},
        {"an op whose id is not a string", json{{"t", "op"}, {"id", 42}, {"kind", "task.claim"}, {"body", {{"task", task}}}}.dump(), "error", ""},
        {"an op without kind and body", json{{"t", "op"}, {"id", ulid}}.dump(), "ack", ulid},
        {"an op whose body is not an object", json{{"t", "op"}, {"id", ulid}, {"kind", "task.claim"}, {"body", "x"}}.dump(), "ack", ulid},
        {"an op with a non-ULID id", op_frame("not-a-ulid", "task.claim", {{"task", task}}), "ack", "not-a-ulid"},
        {"a ping on the op topic", R"({"t":"ping"})", "error", ""},
        {"a hello on the op topic", json{{"t", "hello"}, {"v", 1}, {"user", "wang"}, {"device", "d"}}.dump(), "error", ""},
    };
    std::size_t answered = messages(*acks, ack_topic("wang")).size();
    for (const auto& c : cases) {
      INFO("payload: " << c.what << ": " << c.payload);
      auto r = broker.publish("wang", kPassword, op_topic("wang"), c.payload);
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      REQUIRE_MESSAGE(wait_messages(*acks, answered + 1, 10s, ack_topic("wang")), tail(acks->out()));
      const Msg answer = messages(*acks, ack_topic("wang")).at(answered);
      answered += 1;
      INFO("answer: " << answer.raw);
      CHECK(answer.type() == c.answer);
      if (c.answer == "error") {
        CHECK(answer.str("code") == "bad_frame");
        CHECK_FALSE(answer.str("message").empty());
      } else {
        CHECK(answer.str("id") == c.id);
        CHECK(answer.j.value("ok", true) == false);
        CHECK(answer.j["error"]["code"] == "invalid");
      }
    }
    CHECK(metric(server, "muster_last_gseq") == gseq);
    CHECK(metric(server, "muster_ops_accepted_total") == accepted);
    CHECK(metric(server, "muster_bad_frames_total") > bad_frames);
    REQUIRE(sync(lead, "lead") == 0);
    auto still = run_json(lead, {"task", "show", task});
    CHECK(still["state"] == "open");
    CHECK(still["assignee"] == "");

    // The bridge still serves wang: a well-formed claim is acked and applied.
    const std::string claim = new_id();
    auto r = broker.publish("wang", kPassword, op_topic("wang"), op_frame(claim, "task.claim", {{"task", task}}));
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    REQUIRE_MESSAGE(wait_messages(*acks, answered + 1, 10s, ack_topic("wang")), tail(acks->out()));
    const Msg ack = messages(*acks, ack_topic("wang")).at(answered);
    CHECK(ack.type() == "ack");
    CHECK(ack.str("id") == claim);
    CHECK(ack.j.value("ok", false));
    CHECK(metric(server, "muster_last_gseq") == gseq + 1);
  }

  // Issue 13, must-be-true 2 over MQTT: a payload nested 100,000 levels deep (it once
  // overflowed the server's stack) is answered bad_frame on the op topic and the req
  // topic; nothing is written, and another client's session goes on being served.
  TEST_CASE("mqtt: 100,000 nested arrays get bad_frame; the server keeps serving another connected client") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    auto lin = ws_login(server.port(), "lin", "lin-ws");  // connected before, and after
    auto acks = ack_listener(broker, "wang");
    const double gseq = metric(server, "muster_last_gseq");
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const std::string id = new_id();
    const std::vector<std::pair<std::string, std::string>> cases{
        {op_topic("wang"), R"({"t":"op","id":")" + id + R"(","kind":"task.claim","body":{"task":)" + deep + "}}"},
        {op_topic("wang"), deep},
        {req_topic("wang"), R"({"t":"query","id":"q1","name":"hotline.show","args":)" + deep + "}"},
    };
    std::size_t answered = messages(*acks, ack_topic("wang")).size();
    for (const auto& [topic, payload] : cases) {
      INFO("topic " << topic << ", payload of " << payload.size() << " bytes");
      auto r = broker.publish("wang", kPassword, topic, payload);
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      REQUIRE_MESSAGE(wait_messages(*acks, answered + 1, 10s, ack_topic("wang")), tail(acks->out()));
      const Msg answer = messages(*acks, ack_topic("wang")).at(answered);
      answered += 1;
      CHECK(answer.type() == "error");
      CHECK(answer.str("code") == "bad_frame");
      CHECK(answer.str("message") == "frame is nested deeper than the limit of 64 levels");
    }
    REQUIRE(server.running());
    CHECK(metric(server, "muster_last_gseq") == gseq);

    // The other client, connected all along, is served: its op is acked.
    const std::string op = new_id();
    send_ops_and_wait(*lin,
                      {{op, op_frame(op, "task.create",
                                     {{"kind", "generic"}, {"title", "深嵌套之后"}, {"area", kArea}, {"dispatch", "claim"}})}},
                      10s);
    CHECK(metric(server, "muster_last_gseq") == gseq + 1);
    // And wang, over MQTT, too.
    auto r = broker.publish("wang", kPassword, req_topic("wang"), R"({"t":"ping"})");
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    REQUIRE_MESSAGE(wait_messages(*acks, answered + 1, 10s, ack_topic("wang")), tail(acks->out()));
    CHECK(messages(*acks, ack_topic("wang")).at(answered).type() == "pong");
  }

  // ------------------------------------------------------------------------------ 6
  TEST_CASE("mqtt: kill -9 of musterd with undelivered events in its outbox; they all go out after restart") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    auto sub = broker.subscribe("wang", kPassword, {kAreaTopic}, "wang/crash");
    wait_subscribed(*sub);
    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    new_task(lead, "before");
    REQUIRE(sync(lead, "lead") == 0);
    REQUIRE_MESSAGE(wait_seqs(*sub, kAreaScope, 1, 1, 10s), tail(sub->out()));

    broker.stop();
    REQUIRE(wait_metric(server, "muster_mqtt_connected", [](double v) { return v == 0; }, 10s));
    constexpr int kQueued = 7;
    for (int i = 0; i < kQueued; ++i) new_task(lead, "queued " + std::to_string(i));
    REQUIRE(sync(lead, "lead") == 0);
    REQUIRE(metric(server, "muster_mqtt_outbox_depth") == kQueued);

    server.kill9();
    REQUIRE_FALSE(server.running());
    broker.start();
    start_bridged(server, broker);
    CHECK_MESSAGE(wait_metric(server, "muster_mqtt_outbox_depth", [](double v) { return v == 0; }, 30s),
                  server.log());
    const std::int64_t last = 1 + kQueued;
    CHECK(metric(server, "muster_last_gseq") == last);
    REQUIRE_MESSAGE(wait_seqs(*sub, kAreaScope, 1, last, 20s), tail(sub->out()) << broker.log());
    // At least once, in order: a repeat of an event the broker already had is allowed
    // (the published mark is saved periodically), but each new seq comes after the last.
    auto got = seqs(events_of(messages(*sub), kAreaScope));
    std::int64_t highest = 0;
    for (auto s : got) {
      CHECK(s <= highest + 1);
      highest = std::max(highest, s);
    }
    CHECK(highest == last);
  }

  // ------------------------------------------------------------------------------ broker-config
  TEST_CASE("mqtt: broker-config writes a closed broker: no anonymous access, password file, %u ACL") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::TempDir out("broker-config-");
    const std::string dir = out.path() + "/b";
    auto r = server.admin({"broker-config", "--out", dir, "--listen", "127.0.0.1:42883"});
    REQUIRE_MESSAGE(r.code == 0, describe(r));

    auto read = [](const std::string& path) {
      std::ifstream in(path);
      std::ostringstream text;
      text << in.rdbuf();
      return text.str();
    };
    auto lines = [](const std::string& text) {
      std::vector<std::string> all;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) all.push_back(line);
      return all;
    };
    auto has_line = [&](const std::string& text, const std::string& line) {
      auto all = lines(text);
      return std::find(all.begin(), all.end(), line) != all.end();
    };
    const std::string conf = read(dir + "/mosquitto.conf");
    const std::string acl = read(dir + "/acl");
    const std::string passwd = read(dir + "/passwd");
    INFO("mosquitto.conf:\n" << conf << "\nacl:\n" << acl);
    CHECK(has_line(conf, "allow_anonymous false"));
    CHECK(has_line(conf, "password_file " + dir + "/passwd"));
    CHECK(has_line(conf, "acl_file " + dir + "/acl"));
    CHECK(has_line(conf, "listener 42883 127.0.0.1"));
    CHECK(has_line(conf, "pid_file " + dir + "/mosquitto.pid"));
    CHECK(has_line(conf, "plugin " + mt::binary_path("muster_broker_ids.so")));
    CHECK_FALSE(has_line(conf, "allow_anonymous true"));
    CHECK(has_line(conf, "set_tcp_nodelay true"));

    CHECK(has_line(acl, "pattern write muster/v1/op/%u"));
    CHECK(has_line(acl, "pattern write muster/v1/req/%u"));
    CHECK(has_line(acl, "pattern read muster/v1/ack/%u"));
    CHECK(has_line(acl, "pattern read muster/v1/ev/user/%u"));
    CHECK_FALSE(contains(acl, "%c"));
    for (const auto& line : lines(acl)) {
      // Nobody but the server's account writes anything but its own %u topics.
      if (line.rfind("topic", 0) == 0 && !contains(line, "topic read ")) CHECK_MESSAGE(line == "topic readwrite muster/v1/#", line);
      if (line.rfind("pattern", 0) == 0) CHECK_MESSAGE(contains(line, "%u"), line);
    }
    CHECK(has_line(acl, "user wang"));
    CHECK(has_line(acl, "topic read muster/v1/ev/area/" + kArea));

    for (const auto& name : {"musterd:", "lin:", "wang:"}) {
      const bool listed = passwd.rfind(name, 0) == 0 || contains(passwd, std::string("\n") + name);
      CHECK_MESSAGE(listed, name);
    }
    CHECK_FALSE(contains(passwd, kPassword));
    for (const auto& file : {"/mosquitto.conf", "/passwd", "/acl"}) {
      struct stat st {};
      REQUIRE(::stat((dir + file).c_str(), &st) == 0);
      CHECK_MESSAGE((st.st_mode & 0077) == 0, file << " is readable by others");
    }

    // A user change rewrites both files (there is no broker to signal here).
    auto disabled = server.admin({"user", "disable", "wang"});
    REQUIRE_MESSAGE(disabled.code == 0, describe(disabled));
    const std::string passwd2 = read(dir + "/passwd");
    const std::string acl2 = read(dir + "/acl");
    CHECK_FALSE(contains(passwd2, "\nwang:"));
    CHECK(contains(passwd2, "\nlin:"));
    CHECK_FALSE(has_line(acl2, "user wang"));
    CHECK(has_line(acl2, "user lin"));
  }

  TEST_CASE("mqtt: nobody connects as the server's client id or another user's; the server keeps every op") {
    mt::ServerFixture server;
    server.add_user("wang", "volunteer", kArea);
    server.add_user("lin", "lead", "gulou/antai");
    mt::BrokerFixture broker(server);
    start_bridged(server, broker);

    // wang's phone: a persistent session subscribed to its area, then offline.
    {
      auto phone = broker.subscribe("wang", kPassword, {kAreaTopic}, "wang/phone");
      wait_subscribed(*phone);
      phone->terminate();
    }

    // lin tries the server's client id and wang's: refused (CONNACK 5) before taking a session.
    const json ping{{"t", "ping"}};
    for (const std::string id : {"musterd", "musterd/x", "wang/phone", "wang", "li", "linwang"}) {
      auto r = broker.publish("lin", kPassword, req_topic("lin"), ping.dump(), {"-i", id});
      CHECK_MESSAGE(r.code != 0, id << ": " << describe(r));
      CHECK_MESSAGE(contains(r.err + r.out, "not authorised"), id << ": " << describe(r));
    }
    // lin's own ids are fine.
    for (const std::string id : {"lin", "lin/tablet"}) {
      auto r = broker.publish("lin", kPassword, req_topic("lin"), ping.dump(), {"-i", id});
      CHECK_MESSAGE(r.code == 0, id << ": " << describe(r));
    }
    CHECK_MESSAGE(!contains(broker.log(), "already connected, closing old connection"), tail(broker.log()));
    CHECK(metric(server, "muster_mqtt_connected") == 1);

    // An op lin sends now is taken and acked by the server, and the event it makes waits
    // in wang's session for the phone.
    mt::ClientFixture lin("lin");
    auto login = lin.run({"login", "--server", broker.mqtt_url(), "--user", "lin", "--password-stdin"},
                        std::string(kPassword) + "\n");
    REQUIRE_MESSAGE(login.code == 0, describe(login));
    new_task(lin, "楼道灯不亮");
    auto synced = lin.run({"sync", "--timeout", "15"});
    REQUIRE_MESSAGE(synced.code == 0, describe(synced));
    CHECK_MESSAGE(contains(synced.out, "1 accepted"), describe(synced));

    auto phone = broker.subscribe("wang", kPassword, {kAreaTopic}, "wang/phone");
    const bool queued = mt::wait_until(
        [&] {
          for (const auto& m : messages(*phone, kAreaTopic)) {
            if (contains(m.raw, "楼道灯不亮")) return true;
          }
          return false;
        },
        15s);
    CHECK_MESSAGE(queued, tail(phone->out()) << tail(broker.log()));
    CHECK(metric(server, "muster_mqtt_connected") == 1);
    CHECK_MESSAGE(!contains(broker.log(), "already connected, closing old connection"), tail(broker.log()));
  }
}
