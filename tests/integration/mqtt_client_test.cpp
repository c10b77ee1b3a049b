// The client's MQTT transport (client/muster_client/transports/mqtt_connection.hpp) against a real
// Mosquitto on 127.0.0.1 with a password file and an ACL, and a second Paho client in
// the test playing the server: it reads the op and req topics and publishes to the ack
// and event topics. No musterd: this pins down routing, credentials, subscriptions,
// the persistent session and failure reporting of the transport alone; the last case
// runs the muster CLI against the same fake server.
//
// Paho C 1.3.12 takes about 2 s to connect a second client in one process (its receive
// thread polls with a 1 s timeout; eclipse/paho.mqtt.c#1430), so with the fake server
// connected every MqttConnection::connect here takes that long. The CLI has one client.

#include <pwd.h>
#include <unistd.h>

#include <mqtt/async_client.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "harness.hpp"
#include "muster/protocol/topics.hpp"
#include "muster/sync/client_store.hpp"
#include "muster_client/transports/make_connection.hpp"
#include "muster_client/transports/mqtt_connection.hpp"

namespace mt = muster::testing;
namespace protocol = muster::protocol;
using muster::Errc;
using muster::client::MqttConnection;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::contains;
using mt::describe;
using mt::parse_json;
using mt::run_json;

const std::string kPrefix(protocol::kDefaultTopicPrefix);
const std::string kAlicePassword = "alice-secret";
const std::string kServerPassword = "server-secret";

std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

bool tcp_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Mosquitto on a free loopback port: no anonymous access, users alice and server, and
// an ACL like `musterd broker-config` writes: a user publishes to its own op and req
// topics and reads its own ack topic; alice reads only some event topics; the server
// account reads and writes everything under the prefix.
class Broker {
 public:
  Broker() : dir_("mqtt-client-test-"), port_(mt::free_port()) {
    const std::string mosquitto = find_program("mosquitto");
    const std::string passwd = find_program("mosquitto_passwd");
    REQUIRE_MESSAGE(!mosquitto.empty(), "mosquitto is not installed");
    REQUIRE_MESSAGE(!passwd.empty(), "mosquitto_passwd is not installed");
    const std::string passwords = dir_.path() + "/passwords";
    REQUIRE(mt::run({passwd, "-b", "-c", passwords, "alice", kAlicePassword}).code == 0);
    REQUIRE(mt::run({passwd, "-b", passwords, "server", kServerPassword}).code == 0);
    const std::string acl = dir_.path() + "/acl";
    std::ofstream(acl) << "pattern write " << kPrefix << "/op/%u\n"
                       << "pattern write " << kPrefix << "/req/%u\n"
                       << "pattern read " << kPrefix << "/ack/%u\n"
                       << "user alice\n"
                       << "topic read " << kPrefix << "/ev/area/gulou/#\n"
                       << "topic read " << kPrefix << "/ev/user/alice\n"
                       << "topic read " << kPrefix << "/ev/role/hotline\n"
                       << "user server\n"
                       << "topic readwrite " << kPrefix << "/#\n";
    conf_ = dir_.path() + "/mosquitto.conf";
    // Started as root, Mosquitto would switch to the "mosquitto" user, who cannot read
    // this private directory: stay the user we are.
    const std::string me = current_user();
    std::ofstream(conf_) << "listener " << port_ << " 127.0.0.1\n"
                         << "allow_anonymous false\n"
                         << "password_file " << passwords << "\n"
                         << "acl_file " << acl << "\n"
                         << "persistence false\n"
                         << (me.empty() ? "" : "user " + me + "\n")
                         << "log_dest stderr\nlog_type error\nlog_type warning\n";
    broker_ = std::make_unique<mt::Process>(std::vector<std::string>{mosquitto, "-c", conf_});
    REQUIRE_MESSAGE(mt::wait_until([&] { return tcp_open(port_) || !broker_->running(); }, 10s, 20ms),
                    "mosquitto did not start listening");
    REQUIRE_MESSAGE(broker_->running(), ("mosquitto exited: " + broker_->err()));
  }
  ~Broker() { stop(); }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  int port() const { return port_; }
  std::string address() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  void kill() { broker_->kill(SIGKILL); }
  void stop() {
    if (broker_ && broker_->running()) broker_->terminate(5s);
  }

 private:
  static std::string current_user() {
    const passwd* pw = ::getpwuid(::geteuid());
    return pw && pw->pw_name ? pw->pw_name : "";
  }

  mt::TempDir dir_;
  int port_;
  std::string conf_;
  std::unique_ptr<mt::Process> broker_;
};

struct Received {
  std::string topic;
  std::string payload;
};

// The server's side of the broker, as a plain Paho client on the test thread.
class FakeServer {
 public:
  explicit FakeServer(const Broker& broker) : client_(broker.uri(), "muster-test-server") {
    client_.start_consuming();
    auto options = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_3_1_1)
                       .clean_session(true)
                       .user_name("server")
                       .password(kServerPassword)
                       .finalize();
    REQUIRE(client_.connect(options)->wait_for(5s));
    const std::vector<std::string> topics{kPrefix + "/op/+", kPrefix + "/req/+"};
    REQUIRE(client_.subscribe(mqtt::string_collection::create(topics), std::vector<int>{1, 1})->wait_for(5s));
  }
  ~FakeServer() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (const mqtt::exception&) {
    }
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  void publish(const std::string& topic, const std::string& payload) {
    REQUIRE(client_.publish(mqtt::make_message(topic, payload, 1, false))->wait_for(5s));
  }
  std::optional<Received> next(std::chrono::milliseconds timeout = 5s) {
    mqtt::const_message_ptr m;
    if (!client_.try_consume_message_for(&m, timeout) || !m) return std::nullopt;
    return Received{m->get_topic(), m->to_string()};
  }

 private:
  mqtt::async_client client_;
};

muster::sync::Identity alice(const Broker& broker, const std::string& device = "laptop-1",
                             std::vector<std::string> scopes = {}) {
  muster::sync::Identity id;
  id.server = broker.address();
  id.user = "alice";
  id.device = device;
  id.scopes = std::move(scopes);
  return id;
}

// The next frame within `timeout`, or nullopt (failing the test on an error).
std::optional<std::string> receive(MqttConnection& c, std::chrono::milliseconds timeout = 5s) {
  auto r = c.receive(timeout);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  return *r;
}

std::string status_text(const muster::Status& st) { return st.ok() ? "ok" : st.error().message; }

// Plays the server for one `muster` conversation: waits for the hello on alice's req
// topic, answers with a welcome and caught_up on her ack topic, and returns the hello.
json answer_hello(FakeServer& server) {
  std::optional<Received> got;
  do {
    got = server.next(10s);
    REQUIRE_MESSAGE(got, "no hello from the client");
  } while (got->topic != kPrefix + "/req/alice" || json::parse(got->payload, nullptr, false).value("t", "") != "hello");
  const json welcome = {{"t", "welcome"},        {"user", "alice"}, {"roles", json::array({"volunteer"})},
                        {"area", "gulou/antai"}, {"token", ""},     {"scopes", json::array({"user:alice"})}};
  server.publish(kPrefix + "/ack/alice", welcome.dump());
  server.publish(kPrefix + "/ack/alice", R"({"t":"caught_up"})");
  return json::parse(got->payload);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("mqtt client: broker addresses") {
    CHECK(MqttConnection::broker_uri("mqtt://127.0.0.1:1884") == "tcp://127.0.0.1:1884");
    CHECK(MqttConnection::broker_uri("mqtt://broker.example") == "tcp://broker.example:1883");
    CHECK(MqttConnection::broker_uri("mqtt://[::1]:1884") == "tcp://[::1]:1884");
    CHECK_FALSE(MqttConnection::broker_uri("ws://127.0.0.1:1884"));
    CHECK(MqttConnection::broker_uri("mqtts://127.0.0.1:8884") == "ssl://127.0.0.1:8884");
    CHECK(MqttConnection::broker_uri("mqtts://broker.example") == "ssl://broker.example:8883");
    CHECK_FALSE(MqttConnection::broker_uri("mqtt://"));
    CHECK_FALSE(MqttConnection::broker_uri("mqtt://host:0"));
    CHECK_FALSE(MqttConnection::broker_uri("mqtt://host:99999"));
    CHECK_FALSE(MqttConnection::broker_uri("mqtt://host:12/path"));
    CHECK_FALSE(MqttConnection::broker_uri("mqtt://user@host:12"));
  }

  TEST_CASE("mqtt client: connects with the password; a wrong one is forbidden; no broker is unavailable") {
    Broker broker;
    {
      MqttConnection c(alice(broker), kAlicePassword);
      CHECK(c.client_id() == "alice/laptop-1");
      auto st = c.connect(5s);
      REQUIRE_MESSAGE(st.ok(), status_text(st));
      c.close();
      c.close();  // twice is fine
    }
    {
      MqttConnection c(alice(broker), "wrong");
      auto st = c.connect(5s);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == Errc::forbidden);
      CHECK(st.error().message == "the broker refused user alice");
      auto r = c.receive(100ms);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Errc::unavailable);
    }
    {
      auto id = alice(broker);
      id.user = "mallory";
      MqttConnection c(id, kAlicePassword);
      auto st = c.connect(5s);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == Errc::forbidden);
    }
    {
      auto id = alice(broker);
      id.server = "mqtt://127.0.0.1:" + std::to_string(mt::free_port());  // nobody listens
      MqttConnection c(id, kAlicePassword);
      const auto started = std::chrono::steady_clock::now();
      auto st = c.connect(2s);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == Errc::unavailable);
      CHECK(std::chrono::steady_clock::now() - started < 5s);
      CHECK(c.send(R"({"t":"ping"})").error().code == Errc::unavailable);
    }
    {
      auto id = alice(broker);
      id.server = "mqtt://127.0.0.1:notaport";
      MqttConnection c(id, kAlicePassword);
      auto st = c.connect(1s);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == Errc::invalid);
    }
  }

  TEST_CASE("mqtt client: make_connection picks the transport and the stored password") {
    Broker broker;
    auto store = muster::sync::ClientStore::open_memory();
    auto id = alice(broker);
    {
      auto made = muster::client::make_connection(store, id, std::nullopt);
      REQUIRE(made.ok());
      auto st = (*made)->connect(5s);  // nothing stored: the broker refuses
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == Errc::forbidden);
    }
    store.set_config(muster::client::kMqttPasswordKey, kAlicePassword);
    {
      auto made = muster::client::make_connection(store, id, std::nullopt);
      REQUIRE(made.ok());
      auto st = (*made)->connect(5s);
      CHECK_MESSAGE(st.ok(), status_text(st));
      (*made)->close();
    }
    {
      auto made = muster::client::make_connection(store, id, std::string("wrong"));  // the given one wins
      REQUIRE(made.ok());
      auto st = (*made)->connect(5s);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().code == Errc::forbidden);
    }
    id.server = "http://127.0.0.1:1";
    auto bad = muster::client::make_connection(store, id, std::nullopt);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::invalid);
    broker.stop();
  }

  TEST_CASE("mqtt client: ops go to the op topic, other frames to req, and a hello carries no credentials") {
    Broker broker;
    FakeServer server(broker);
    MqttConnection c(alice(broker), kAlicePassword);
    REQUIRE(c.connect(5s).ok());

    const std::string op =
        R"({"t":"op","id":"01KAQ3M6ZP7G8C5V8N1S2T3W4X","kind":"task.claim","body":{"task":"01KAQ3M6ZP7G8C5V8N1S2T3W4Y"}})";
    auto st = c.send(op);
    REQUIRE_MESSAGE(st.ok(), status_text(st));
    auto got = server.next();
    REQUIRE(got);
    CHECK(got->topic == kPrefix + "/op/alice");
    CHECK(got->payload == op);

    const json hello = {{"t", "hello"},     {"v", 1},          {"user", "alice"},
                        {"device", "laptop-1"}, {"password", kAlicePassword}, {"token", "tok-123"},
                        {"cursors", {{"user:alice", 3}}}};
    REQUIRE(c.send(hello.dump()).ok());
    got = server.next();
    REQUIRE(got);
    CHECK(got->topic == kPrefix + "/req/alice");
    CHECK(got->payload.find(kAlicePassword) == std::string::npos);
    CHECK(got->payload.find("tok-123") == std::string::npos);
    const json sent = json::parse(got->payload);
    CHECK_FALSE(sent.contains("password"));
    CHECK_FALSE(sent.contains("token"));
    CHECK(sent["t"] == "hello");
    CHECK(sent["user"] == "alice");
    CHECK(sent["device"] == "laptop-1");
    CHECK(sent["cursors"]["user:alice"] == 3);

    for (const std::string frame : {R"({"t":"ping"})", R"({"t":"cursor","cursors":{}})",
                                    R"({"t":"backfill","scope":"user:alice","from":2})",
                                    R"({"t":"query","id":"q1","name":"notice.status","args":{}})"}) {
      REQUIRE(c.send(frame).ok());
      got = server.next();
      REQUIRE(got);
      CHECK(got->topic == kPrefix + "/req/alice");
      CHECK(got->payload == frame);
    }

    auto bad = c.send("not json");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::invalid);
    c.close();
  }

  TEST_CASE("mqtt client: receives its ack topic and its scopes' events; a welcome subscribes its scopes") {
    Broker broker;
    FakeServer server(broker);
    MqttConnection c(alice(broker, "laptop-1", {"area:gulou/antai", "user:alice"}), kAlicePassword);
    REQUIRE(c.connect(5s).ok());
    CHECK_FALSE(receive(c, 100ms));  // nothing yet

    server.publish(kPrefix + "/ack/alice", R"({"t":"pong"})");
    server.publish(kPrefix + "/ack/alice", R"({"t":"caught_up"})");
    CHECK(receive(c) == R"({"t":"pong"})");
    CHECK(receive(c) == R"({"t":"caught_up"})");  // in order

    server.publish(protocol::event_topic(kPrefix, "area:gulou/antai"), R"({"t":"event","n":1})");
    server.publish(protocol::event_topic(kPrefix, "user:alice"), R"({"t":"event","n":2})");
    server.publish(kPrefix + "/ack/bob", R"({"t":"pong","for":"bob"})");            // not alice's
    server.publish(protocol::event_topic(kPrefix, "role:hotline"), R"({"t":"event","n":3})");  // not yet subscribed
    CHECK(receive(c) == R"({"t":"event","n":1})");
    CHECK(receive(c) == R"({"t":"event","n":2})");
    CHECK_FALSE(receive(c, 300ms));

    // A welcome names the scopes: role:hotline becomes live; area:secret is refused by
    // the broker's ACL, which must not end the session.
    const std::string welcome =
        json{{"t", "welcome"},  {"user", "alice"}, {"roles", json::array({"volunteer"})}, {"area", "gulou/antai"},
             {"token", ""}, {"scopes", json::array({"area:gulou/antai", "user:alice", "role:hotline", "area:secret"})}}
            .dump();
    server.publish(kPrefix + "/ack/alice", welcome);
    CHECK(receive(c) == welcome);
    server.publish(protocol::event_topic(kPrefix, "area:secret"), R"({"t":"event","n":4})");
    server.publish(protocol::event_topic(kPrefix, "role:hotline"), R"({"t":"event","n":5})");
    CHECK(receive(c) == R"({"t":"event","n":5})");
    CHECK_FALSE(receive(c, 300ms));

    // Still usable after the refused subscription.
    REQUIRE(c.send(R"({"t":"ping"})").ok());
    auto got = server.next();
    REQUIRE(got);
    CHECK(got->topic == kPrefix + "/req/alice");
    c.close();
  }

  TEST_CASE("mqtt client: a first login learns its scopes from the welcome") {
    Broker broker;
    FakeServer server(broker);
    MqttConnection c(alice(broker), kAlicePassword);  // no scopes known yet
    REQUIRE(c.connect(5s).ok());
    server.publish(protocol::event_topic(kPrefix, "user:alice"), R"({"t":"event","n":0})");
    CHECK_FALSE(receive(c, 300ms));
    const std::string welcome = json{{"t", "welcome"}, {"user", "alice"},    {"roles", json::array()},
                                     {"area", "gulou"}, {"token", "t"}, {"scopes", json::array({"user:alice"})}}
                                    .dump();
    server.publish(kPrefix + "/ack/alice", welcome);
    CHECK(receive(c) == welcome);
    server.publish(protocol::event_topic(kPrefix, "user:alice"), R"({"t":"event","n":1})");
    CHECK(receive(c) == R"({"t":"event","n":1})");
    c.close();
  }

  TEST_CASE("mqtt client: the persistent session keeps QoS 1 messages while the device is offline") {
    Broker broker;
    FakeServer server(broker);
    {
      MqttConnection c(alice(broker, "phone-7", {"user:alice"}), kAlicePassword);
      REQUIRE(c.connect(5s).ok());
      c.close();
    }
    server.publish(kPrefix + "/ack/alice", R"({"t":"ack","id":"A","ok":true})");
    server.publish(protocol::event_topic(kPrefix, "user:alice"), R"({"t":"event","n":7})");
    {
      MqttConnection c(alice(broker, "phone-7", {"user:alice"}), kAlicePassword);
      REQUIRE(c.connect(5s).ok());
      std::multiset<std::string> got;
      for (int i = 0; i < 2; ++i) {
        auto frame = receive(c);
        REQUIRE(frame);
        got.insert(*frame);
      }
      CHECK(got == std::multiset<std::string>{R"({"t":"ack","id":"A","ok":true})", R"({"t":"event","n":7})"});
      c.close();
    }
    {
      // Another device of the same user has its own session: it got none of that.
      MqttConnection other(alice(broker, "tablet-2", {"user:alice"}), kAlicePassword);
      REQUIRE(other.connect(5s).ok());
      CHECK_FALSE(receive(other, 300ms));
      other.close();
    }
  }

  TEST_CASE("mqtt client: a killed broker ends receive and send with unavailable") {
    Broker broker;
    MqttConnection c(alice(broker, "laptop-1", {"user:alice"}), kAlicePassword);
    REQUIRE(c.connect(5s).ok());
    broker.kill();
    std::optional<muster::Error> error;
    REQUIRE(mt::wait_until(
        [&] {
          auto r = c.receive(100ms);
          if (!r.ok()) error = r.error();
          return error.has_value();
        },
        10s, 1ms));
    CHECK(error->code == Errc::unavailable);
    auto again = c.receive(10ms);  // stays gone
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Errc::unavailable);
    auto st = c.send(R"({"t":"ping"})");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Errc::unavailable);
    c.close();
    auto reconnect = c.connect(1s);
    REQUIRE_FALSE(reconnect.ok());
    CHECK(reconnect.error().code == Errc::unavailable);
  }

  TEST_CASE("mqtt client: muster login over mqtt:// keeps the password in a private home; sync reuses it") {
    namespace fs = std::filesystem;
    Broker broker;
    FakeServer server(broker);
    mt::TempDir dir("mqtt-client-home-");
    const std::string home = dir.path() + "/home";  // muster creates it
    auto muster = [&](std::vector<std::string> args, const std::optional<std::string>& input = std::nullopt) {
      args.insert(args.begin(), {mt::binary_path("muster"), "--home", home});
      return mt::Process(std::move(args), {}, input);
    };

    {  // a wrong password: the broker refuses, nothing is kept
      auto login = muster({"login", "--server", broker.address(), "--user", "alice", "--password-stdin"}, "wrong\n");
      CHECK(login.wait(20s) == 2);
      CHECK_MESSAGE(login.err().find("the broker refused user alice") != std::string::npos, login.err());
      CHECK(muster::sync::ClientStore::open(home).config(muster::client::kMqttPasswordKey).empty());
    }
    fs::remove_all(home);

    auto login = muster({"login", "--server", broker.address(), "--user", "alice", "--password-stdin"},
                        kAlicePassword + "\n");
    const json hello = answer_hello(server);
    REQUIRE(login.wait(20s) == 0);
    CHECK_MESSAGE(login.out().find("logged in as alice") != std::string::npos, (login.out() + login.err()));
    CHECK_FALSE(hello.contains("password"));
    CHECK_FALSE(hello.contains("token"));
    CHECK(hello["device"].is_string());

    CHECK((fs::status(home).permissions() & fs::perms::all) == fs::perms::owner_all);
    CHECK((fs::status(home + "/client.db").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(muster::sync::ClientStore::open(home).config(muster::client::kMqttPasswordKey) == kAlicePassword);

    // sync and status take the stored password (the broker would refuse them otherwise).
    auto sync = muster({"sync", "--timeout", "15"});
    answer_hello(server);
    const int sync_code = sync.wait(20s);
    CHECK_MESSAGE(sync_code == 0, sync.err());
    auto status = mt::run({mt::binary_path("muster"), "--home", home, "status", "--json"});
    REQUIRE_MESSAGE(status.code == 0, describe(status));
    CHECK(json::parse(status.out)["online"] == true);

    broker.stop();
    status = mt::run({mt::binary_path("muster"), "--home", home, "status", "--json"});
    REQUIRE_MESSAGE(status.code == 0, describe(status));
    CHECK(json::parse(status.out)["online"] == false);
    auto offline = mt::run({mt::binary_path("muster"), "--home", home, "sync", "--timeout", "5"});
    CHECK_MESSAGE(offline.code == 3, describe(offline));
  }
}
