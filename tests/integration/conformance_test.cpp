// The transport conformance suite: one table of session-protocol cases (docs/protocol.md,
// "Sessions"), run against each transport musterd speaks:
//
//   ws      a WebSocket connection (RawWs)
//   mqtt    a Paho client of a real Mosquitto configured by `musterd broker-config`
//   plugin  the plugin line protocol, through muster-test-plugin in relay mode (the test
//           writes the lines the plugin sends and reads the lines it is sent)
//
// Each transport gets a fresh server seeded the same way, and the same user `bridge` in
// yili: with the plugin role for the plugin transport, and as a lead for WebSocket and
// MQTT (a plugin account logs in only through the plugin host). Both may create an
// errand in yili and neither may post a notice above it. Every case's frames
// are written down in one normalised form (ids of this run replaced by names) and
// compared with what the table expects, so a case that behaves differently on one
// transport fails there, naming the transport.
//
// What each transport does differently by design, and so is not compared:
//   - the start of a session: hello -> welcome over WebSocket and MQTT; init (at the
//     plugin's start) and subscribe for a plugin. Both name the scopes, which are compared.
//   - MQTT delivers at least once: an event may come both live (on its scope's topic)
//     and in a replay (on the user's ack topic); the MQTT peer drops a live repeat by
//     seq, as the muster client does.

#include <sys/types.h>

#include <mqtt/async_client.h>

#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "frames.hpp"
#include "muster/protocol/topics.hpp"
#include "muster/store/sqlite.hpp"
#include "muster_fixture.hpp"

// Transcripts print as their lines when a check fails.
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& lines) {
    std::string out = "[";
    for (const auto& l : lines) out += "\n  " + l;
    return (out + "\n]").c_str();
  }
};
}  // namespace doctest

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kPassword = "password123";
const std::string kYili = "gulou/antai/yili";
const std::string kYiliScope = "area:" + kYili;
const std::string kUser = "bridge";

// bridge's role on a transport (see the top).
std::string role_on(const std::string& transport) { return transport == "plugin" ? "plugin" : "lead"; }
const std::string kPrefix = "muster/v1";
constexpr auto kQuiet = 600ms;  // how long "nothing more comes" is watched for

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---------------------------------------------------------------- the peers

// One client of one transport, speaking the session protocol as user `bridge`.
class Peer {
 public:
  virtual ~Peer() = default;
  // Starts a session from these cursors; returns the scopes it was given.
  virtual std::vector<std::string> begin(const json& cursors) = 0;
  // One client frame, as text.
  virtual void send(const std::string& text) = 0;
  // The next frame from the server, or nothing within `timeout`.
  virtual std::optional<json> next(std::chrono::milliseconds timeout) = 0;
  // The device its receipts are stored under.
  virtual std::string device() const = 0;
};

class WsPeer final : public Peer {
 public:
  explicit WsPeer(int port) : port_(port) {}
  std::vector<std::string> begin(const json& cursors) override {
    ws_ = std::make_unique<mt::RawWs>();
    REQUIRE(ws_->connect(port_));
    send(json{{"t", "hello"}, {"v", 1}, {"user", kUser}, {"password", kPassword}, {"device", device()},
              {"cursors", cursors}}
             .dump());
    auto welcome = next(10s);
    REQUIRE(welcome.has_value());
    REQUIRE_MESSAGE((*welcome)["t"] == "welcome", welcome->dump());
    return (*welcome)["scopes"].get<std::vector<std::string>>();
  }
  void send(const std::string& text) override { REQUIRE(ws_->send_text(text)); }
  std::optional<json> next(std::chrono::milliseconds timeout) override {
    auto f = mt::next_frame(*ws_, timeout);
    if (!f) return std::nullopt;
    return f->j;
  }
  std::string device() const override { return "conformance"; }

 private:
  int port_;
  std::unique_ptr<mt::RawWs> ws_;
};

class MqttPeer final : public Peer {
 public:
  MqttPeer(const std::string& uri, const std::vector<std::string>& scopes)
      : client_(uri, kUser + "/conformance-" + std::to_string(++clients_)) {  // the broker takes only USER/...
    client_.start_consuming();
    auto options = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_3_1_1)
                       .clean_session(true)
                       .user_name(kUser)
                       .password(kPassword)
                       .finalize();
    REQUIRE(client_.connect(options)->wait_for(5s));
    std::vector<std::string> topics{muster::protocol::ack_topic(kPrefix, kUser)};
    for (const auto& scope : scopes) topics.push_back(muster::protocol::event_topic(kPrefix, scope));
    REQUIRE(client_.subscribe(mqtt::string_collection::create(topics), std::vector<int>(topics.size(), 1))
                ->wait_for(5s));
  }
  ~MqttPeer() override {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (const mqtt::exception&) {
    }
  }
  std::vector<std::string> begin(const json& cursors) override {
    send(json{{"t", "hello"}, {"v", 1}, {"user", kUser}, {"device", device()}, {"cursors", cursors}}.dump());
    for (auto deadline = mt::SteadyClock::now() + 10s;;) {
      auto f = next(mt::left_until(deadline));
      REQUIRE(f.has_value());
      if ((*f)["t"] == "welcome") return (*f)["scopes"].get<std::vector<std::string>>();
    }
  }
  void send(const std::string& text) override {
    const auto j = json::parse(text, nullptr, false);
    const bool op = j.is_object() && j.value("t", "") == "op";
    const std::string topic =
        op ? muster::protocol::op_topic(kPrefix, kUser) : muster::protocol::req_topic(kPrefix, kUser);
    REQUIRE(client_.publish(mqtt::make_message(topic, text, 1, false))->wait_for(5s));
  }
  std::optional<json> next(std::chrono::milliseconds timeout) override {
    for (auto deadline = mt::SteadyClock::now() + timeout;;) {
      mqtt::const_message_ptr m;
      if (!client_.try_consume_message_for(&m, mt::left_until(deadline)) || !m) return std::nullopt;
      json j = json::parse(m->to_string(), nullptr, false);
      if (j.is_object() && j.value("t", "") == "event") {
        // At least once: a live copy (on the scope's topic) of an event this peer has
        // already had counts once. What the session sends (replay, backfill) counts
        // every time: it was asked for.
        const bool live = m->get_topic() != muster::protocol::ack_topic(kPrefix, kUser);
        const bool fresh = seen_.insert({j["scope"].get<std::string>(), j["seq"].get<std::int64_t>()}).second;
        if (live && !fresh) continue;
      }
      return j;
    }
  }
  std::string device() const override { return "mqtt"; }

 private:
  static inline int clients_ = 0;
  mqtt::async_client client_;
  std::set<std::pair<std::string, std::int64_t>> seen_;
};

// The plugin transport: the test writes what the plugin says into `in` and reads what
// it is told from `out` (muster-test-plugin in relay mode).
class PluginPeer final : public Peer {
 public:
  PluginPeer(std::string in, std::string out) : in_(std::move(in)), out_(std::move(out)) {
    REQUIRE_MESSAGE(mt::wait_until([&] { return !lines().empty(); }, 10s), "the plugin was never sent init");
    init_ = lines().front();
    REQUIRE(init_["t"] == "init");
    read_ = 1;
  }
  std::vector<std::string> begin(const json& cursors) override {
    auto scopes = init_["scopes"].get<std::vector<std::string>>();
    send(json{{"t", "subscribe"}, {"scopes", scopes}, {"cursors", cursors}}.dump());
    return scopes;
  }
  void send(const std::string& text) override {
    std::ofstream(in_, std::ios::app) << text << '\n';
  }
  std::optional<json> next(std::chrono::milliseconds timeout) override {
    std::optional<json> got;
    mt::wait_until(
        [&] {
          auto all = lines();
          if (all.size() <= read_) return false;
          got = all[read_++];
          return true;
        },
        timeout, 5ms);
    return got;
  }
  std::string device() const override { return "plugin"; }

 private:
  std::vector<json> lines() const {
    std::vector<json> out;
    const std::string text = read_text(out_);
    std::size_t start = 0;
    for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
      out.push_back(json::parse(text.substr(start, nl - start), nullptr, false));
      start = nl + 1;
    }
    return out;
  }

  std::string in_;
  std::string out_;
  json init_;
  std::size_t read_ = 0;
};

// ---------------------------------------------------------------- one transport's world

// A server seeded the same way for every transport: three errands in yili and one
// message to bridge, all made by the lead li over WebSocket.
class World {
 public:
  explicit World(const std::string& transport) : transport_(transport), dir_("conformance-") {
    server_.admin({"area", "add", kYili});
    server_.add_user("li", "lead", "gulou/antai");
    server_.add_user(kUser, role_on(transport), kYili);
    std::vector<std::string> args;
    if (transport == "mqtt") {
      broker_ = std::make_unique<mt::BrokerFixture>(server_);
      args = {"--mqtt", broker_->url()};
    } else if (transport == "plugin") {
      in_ = dir_.path() + "/in.jsonl";
      out_ = dir_.path() + "/out.jsonl";
      pid_file_ = dir_.path() + "/pid";
      std::ofstream(in_).flush();
      std::ofstream(dir_.path() + "/plugin.json")
          << json{{"user", kUser}, {"name", "relay"}, {"mode", "relay"}, {"in", in_}, {"out", out_},
                  {"pid_file", pid_file_}, {"max_seconds", 120}}
                 .dump();
      args = {"--plugin", mt::binary_path("muster-test-plugin"), "--plugin-config", dir_.path() + "/plugin.json"};
    }
    server_.start(args);
    if (broker_) {
      // The WebSocket port is up before the MQTT bridge has reached the broker: a hello
      // published before the bridge subscribes would go to nobody.
      REQUIRE(mt::wait_until([&] { return server_.metric("muster_mqtt_connected").value_or(0) == 1; }, 10s));
    }
    REQUIRE(lead_.connect(server_.port()));
    REQUIRE(lead_.send_text(
        json{{"t", "hello"}, {"v", 1}, {"user", "li"}, {"password", kPassword}, {"device", "desk"}}.dump()));
    until(lead_, "caught_up");
    for (int i = 1; i <= 3; ++i) create_task("errand " + std::to_string(i));
    lead_op("message.send", {{"to", kUser}, {"text", "hello"}});
  }
  ~World() {
    if (!pid_file_.empty()) {
      std::ifstream in(pid_file_);
      int pid = 0;
      if (in >> pid && pid > 0) ::kill(pid, SIGKILL);  // it is not our child
    }
  }

  // A new session's peer (MQTT: a new client, subscribed to the scopes of `bridge`).
  std::unique_ptr<Peer> peer() {
    if (transport_ == "ws") return std::make_unique<WsPeer>(server_.port());
    if (transport_ == "mqtt") {
      return std::make_unique<MqttPeer>(broker_->url(), std::vector<std::string>{"user:bridge", "area:gulou",
                                                                                  "area:gulou/antai", kYiliScope,
                                                                                  "role:" + role_on(transport_)});
    }
    if (!plugin_) plugin_ = std::make_shared<PluginPeer>(in_, out_);
    return std::make_unique<Shared>(plugin_);
  }

  // The lead makes an errand in yili (one event there); waits for its ack.
  void create_task(const std::string& title) {
    lead_op("task.create", {{"kind", "errand"}, {"title", title}, {"area", kYili}, {"dispatch", "claim"}});
  }

  // The receipt stored for bridge's device, 0 if none.
  std::int64_t receipt(const std::string& device, const std::string& scope) {
    muster::store::OpenOptions options;
    options.read_only = true;
    auto db = muster::store::Db::open(server_.data_dir() + "/log.db", options);
    auto s = db.prepare("SELECT seq FROM cursors WHERE user = ?1 AND device = ?2 AND scope = ?3");
    s.bind(1, kUser).bind(2, device).bind(3, scope);
    const std::int64_t seq = s.step() ? s.int64(0) : 0;
    s.reset();
    return seq;
  }

  std::string log() const { return server_.log(); }

 private:
  // The plugin's one relay serves every "session" of the plugin transport.
  class Shared final : public Peer {
   public:
    explicit Shared(std::shared_ptr<PluginPeer> p) : p_(std::move(p)) {}
    std::vector<std::string> begin(const json& c) override { return p_->begin(c); }
    void send(const std::string& t) override { p_->send(t); }
    std::optional<json> next(std::chrono::milliseconds t) override { return p_->next(t); }
    std::string device() const override { return p_->device(); }

   private:
    std::shared_ptr<PluginPeer> p_;
  };

  void lead_op(const std::string& kind, const json& body) {
    const std::string id = mt::new_id();
    REQUIRE(lead_.send_text(json{{"t", "op"}, {"id", id}, {"kind", kind}, {"body", body}}.dump()));
    auto ack = until(lead_, "ack");
    REQUIRE_MESSAGE(ack["ok"] == true, ack.dump());
  }
  static json until(mt::RawWs& ws, const std::string& type) {
    for (auto deadline = mt::SteadyClock::now() + 10s;;) {
      auto f = mt::next_frame(ws, mt::left_until(deadline));
      REQUIRE_MESSAGE(f.has_value(), "no " << type);
      if (f->type() == type) return f->j;
    }
  }

  std::string transport_;
  mt::TempDir dir_;
  mt::ServerFixture server_;
  std::unique_ptr<mt::BrokerFixture> broker_;
  std::string in_, out_, pid_file_;
  std::shared_ptr<PluginPeer> plugin_;
  mt::RawWs lead_;
};

// ---------------------------------------------------------------- transcripts

// A frame in the form the table speaks: ids of this run replaced by names.
std::string normal(const json& f, const std::map<std::string, std::string>& names) {
  const std::string t = f.value("t", "?");
  if (t == "event") {
    return "event " + f["scope"].get<std::string>() + " " + std::to_string(f["seq"].get<std::int64_t>()) + " " +
           f["kind"].get<std::string>() + " by " + f["actor"].get<std::string>();
  }
  if (t == "ack") {
    const std::string id = f.value("id", "");
    const std::string name = names.count(id) ? names.at(id) : id;
    if (f["ok"] == true) return "ack " + name + " ok";
    return "ack " + name + " " + f["error"]["code"].get<std::string>() + ": " + f["error"]["message"].get<std::string>();
  }
  if (t == "error") return "error " + f["code"].get<std::string>() + ": " + f["message"].get<std::string>();
  return t;
}

// Frames until (and with) one of type `last`, or until nothing comes for kQuiet.
std::vector<std::string> read_until(Peer& p, const std::string& last, const std::map<std::string, std::string>& names,
                                    std::vector<json>* raw = nullptr) {
  std::vector<std::string> out;
  for (auto deadline = mt::SteadyClock::now() + 15s; mt::SteadyClock::now() < deadline;) {
    auto f = p.next(last.empty() ? kQuiet : mt::left_until(deadline));
    if (!f) break;
    if (raw) raw->push_back(*f);
    out.push_back(normal(*f, names));
    if (!last.empty() && f->value("t", "") == last) break;
  }
  return out;
}

using Lines = std::vector<std::string>;

std::string op(const std::string& id, const std::string& kind, const json& body) {
  return json{{"t", "op"}, {"id", id}, {"kind", kind}, {"body", body}}.dump();
}

// The table: every case, in the order they run on one transport's world. Each checks
// its transcript against what it expects and returns nothing; CAPTURE names the transport.
void run_cases(const std::string& transport) {
  CAPTURE(transport);
  World w(transport);
  const Lines all_scopes{"user:bridge", "area:gulou", "area:gulou/antai", kYiliScope, "role:" + role_on(transport)};
  std::map<std::string, std::string> names;

  {
    INFO("hello with cursors: the scopes, then every event after the cursors, scope by scope in seq order, then "
         "caught_up");
    auto p = w.peer();
    auto scopes = p->begin({{kYiliScope, 1}});
    CHECK(Lines(scopes.begin(), scopes.end()) == all_scopes);
    CHECK(read_until(*p, "caught_up", names) == Lines{"event user:bridge 1 message.sent by li",
                                                      "event " + kYiliScope + " 2 task.created by li",
                                                      "event " + kYiliScope + " 3 task.created by li", "caught_up"});
    CHECK(read_until(*p, "", names).empty());
  }

  auto p = w.peer();
  {
    INFO("replay from no cursors: everything, then caught_up");
    p->begin(json::object());
    CHECK(read_until(*p, "caught_up", names) == Lines{"event user:bridge 1 message.sent by li",
                                                      "event " + kYiliScope + " 1 task.created by li",
                                                      "event " + kYiliScope + " 2 task.created by li",
                                                      "event " + kYiliScope + " 3 task.created by li", "caught_up"});
  }
  {
    INFO("live: an event committed after caught_up arrives at once");
    w.create_task("errand 4");
    CHECK(read_until(*p, "event", names) == Lines{"event " + kYiliScope + " 4 task.created by li"});
  }
  {
    INFO("backfill: the scope again from `from`, then caught_up");
    p->send(json{{"t", "backfill"}, {"scope", kYiliScope}, {"from", 3}}.dump());
    CHECK(read_until(*p, "caught_up", names) == Lines{"event " + kYiliScope + " 3 task.created by li",
                                                      "event " + kYiliScope + " 4 task.created by li", "caught_up"});
  }
  {
    INFO("a backfill of a scope the user cannot see: bad_frame");
    p->send(json{{"t", "backfill"}, {"scope", "user:li"}, {"from", 1}}.dump());
    CHECK(read_until(*p, "error", names) == Lines{"error bad_frame: backfill: scope user:li is not visible to bridge"});
  }
  {
    INFO("a receipt up to what was delivered is stored, and answered with nothing");
    p->send(json{{"t", "cursor"}, {"cursors", {{kYiliScope, 4}, {"user:bridge", 1}}}}.dump());
    CHECK(read_until(*p, "", names).empty());
    CHECK(mt::wait_until([&] { return w.receipt(p->device(), kYiliScope) == 4; }, 5s));
    CHECK(w.receipt(p->device(), "user:bridge") == 1);
  }
  {
    INFO("a receipt beyond what was delivered: bad_frame, and nothing of it is stored");
    p->send(json{{"t", "cursor"}, {"cursors", {{kYiliScope, 9}}}}.dump());
    CHECK(read_until(*p, "error", names) ==
          Lines{"error bad_frame: cursor: " + kYiliScope +
                " 9 was not delivered (delivered up to 4); nothing recorded for it"});
    CHECK(read_until(*p, "", names).empty());
    CHECK(w.receipt(p->device(), kYiliScope) == 4);
  }
  const std::string created = mt::new_id();
  names[created] = "create";
  std::string first_ack;
  {
    INFO("an op: its events, then its ack");
    std::vector<json> raw;
    p->send(op(created, "task.create", {{"kind", "errand"}, {"title", "代买 白菜2斤"}, {"area", kYili}, {"dispatch", "claim"}}));
    CHECK(read_until(*p, "ack", names, &raw) ==
          Lines{"event " + kYiliScope + " 5 task.created by bridge", "ack create ok"});
    if (!raw.empty()) first_ack = raw.back().dump();
  }
  {
    INFO("the same op again: the same ack, nothing decided again");
    std::vector<json> raw;
    p->send(op(created, "task.create", {{"kind", "errand"}, {"title", "代买 白菜2斤"}, {"area", kYili}, {"dispatch", "claim"}}));
    CHECK(read_until(*p, "ack", names, &raw) == Lines{"ack create ok"});
    if (!raw.empty()) CHECK(raw.back().dump() == first_ack);
    CHECK(read_until(*p, "", names).empty());
  }
  {
    INFO("a forbidden op: a rejecting ack, no event");
    const std::string notice = mt::new_id();
    names[notice] = "notice";
    p->send(op(notice, "notice.post", {{"area", "gulou/antai"}, {"text", "hello all"}}));
    auto got = read_until(*p, "ack", names);
    REQUIRE(got.size() == 1);
    CHECK(got[0].rfind("ack notice forbidden: ", 0) == 0);
    CHECK(read_until(*p, "", names).empty());
  }
  {
    INFO("an op of an unknown kind: invalid");
    const std::string odd = mt::new_id();
    names[odd] = "odd";
    p->send(op(odd, "task.teleport", {{"task", created}}));
    CHECK(read_until(*p, "ack", names) == Lines{"ack odd invalid: unknown op kind 'task.teleport'"});
  }
  {
    INFO("bad frames: bad_frame errors naming the problem; the session goes on");
    p->send(json{{"t", "backfill"}, {"scope", kYiliScope}, {"from", -1}}.dump());
    CHECK(read_until(*p, "error", names) ==
          Lines{"error bad_frame: backfill: field 'from' must be a non-negative integer"});
    p->send(json{{"t", "cursor"}, {"cursors", json::array()}}.dump());
    auto got = read_until(*p, "error", names);
    REQUIRE(got.size() == 1);
    CHECK(got[0].rfind("error bad_frame: cursor: field 'cursors'", 0) == 0);
    w.create_task("errand 6");
    CHECK(read_until(*p, "event", names) == Lines{"event " + kYiliScope + " 6 task.created by li"});
  }
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("conformance: the session protocol over WebSocket") { run_cases("ws"); }
  TEST_CASE("conformance: the session protocol over MQTT") { run_cases("mqtt"); }
  TEST_CASE("conformance: the session protocol over the plugin line protocol") { run_cases("plugin"); }
}
