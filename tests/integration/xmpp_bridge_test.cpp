// SPEC §7, the residents' chat bridge: a real Prosody on loopback (accounts made with
// prosodyctl), a real musterd running plugins/xmpp-bridge as its plugin, residents who
// are libstrophe clients in this process, and volunteers who use the muster CLI.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "muster_fixture.hpp"
#include "xmpp_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kBot = "helper@localhost";
const std::string kAlice = "alice@localhost";
const std::string kBob = "bob@localhost";
const std::string kYili = "gulou/antai/yili";

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  | " + l + "\n";
  return out;
}

bool has(const std::vector<std::string>& heard, const std::string& prefix) {
  return std::any_of(heard.begin(), heard.end(), [&](const std::string& h) { return h.rfind(prefix, 0) == 0; });
}

int count(const std::vector<std::string>& heard, const std::string& prefix) {
  return static_cast<int>(
      std::count_if(heard.begin(), heard.end(), [&](const std::string& h) { return h.rfind(prefix, 0) == 0; }));
}

// The pid written into a lock file by the instance holding it (0 if none).
int lock_holder_pid(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  const int rc = ::fcntl(fd, F_GETLK, &l);
  ::close(fd);
  return rc == 0 && l.l_type != F_UNLCK ? l.l_pid : 0;
}

bool alive(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("State:", 0) == 0) return line.find('Z') == std::string::npos;  // a zombie has left
  }
  return false;
}

// musterd + its XMPP bridge + Prosody, with a small grid:
//   gulou/antai/yili      lin (lead), bridge (plugin: the chat bot's muster account)
//   gulou/antai/yili/b3   wang (volunteer)
//   gulou/antai/yili/b5   li (volunteer)
struct BridgeWorld {
  mt::ProsodyFixture prosody;
  mt::ServerFixture server;
  mt::TempDir dir{"xmpp-bridge-"};
  std::string config_path = dir.path() + "/bridge.json";
  std::string lock_path = dir.path() + "/xmpp-bridge.db.lock";

  explicit BridgeWorld(json extra = json::object()) {
    prosody.add_user("helper", "helper-secret");
    prosody.add_user("alice", "alice-secret");
    prosody.add_user("bob", "bob-secret");
    prosody.add_user("mallory", "mallory-secret");
    for (const char* area : {"gulou/antai/yili/b3", "gulou/antai/yili/b5"}) server.admin({"area", "add", area});
    server.add_user("lin", "lead", kYili);
    // wang has a display name, which residents are told; li has none: his user name.
    server.add_user("wang", "volunteer", "gulou/antai/yili/b3", "password123", "王芳");
    server.add_user("li", "volunteer", "gulou/antai/yili/b5");
    server.add_user("bridge", "plugin", kYili);
    std::ofstream(dir.path() + "/helper.password") << "helper-secret\n";
    json config{{"user", "bridge"},
                {"name", "xmpp"},
                {"jid", kBot},
                {"password_file", "helper.password"},
                {"host", "127.0.0.1"},
                {"port", prosody.port()},
                {"tls", "off"},
                {"residents", {kAlice, kBob}},
                {"max_open_requests", 3},
                {"state", "xmpp-bridge.db"},
                {"orphan_exit_after_s", 120}};  // a safety net: a failed test leaves nothing behind for long
    config.update(extra);
    std::ofstream(config_path) << config.dump(2) << '\n';
  }

  ~BridgeWorld() {
    server.stop();
    stop_bridge();
  }

  void start() { server.start({"--plugin", mt::binary_path("muster-xmpp-bridge"), "--plugin-config", config_path}); }

  int bridge_pid() const { return lock_holder_pid(lock_path); }

  // Waits until the bridge has logged in to XMPP (its stderr is in the server's log).
  void wait_bridge_online(int times = 1) {
    REQUIRE_MESSAGE(mt::wait_until(
                        [&] {
                          const std::string log = server.log();
                          int n = 0;
                          for (auto at = log.find("xmpp: logged in as"); at != std::string::npos;
                               at = log.find("xmpp: logged in as", at + 1)) {
                            ++n;
                          }
                          return n >= times;
                        },
                        20s),
                    server.log());
  }

  // The bridge outlives musterd on purpose: end it the way a new instance would.
  void stop_bridge() {
    for (int sig : {SIGTERM, SIGKILL}) {
      const int pid = bridge_pid();
      if (pid <= 0) return;
      ::kill(pid, sig);
      mt::wait_until([&] { return bridge_pid() == 0; }, 10s);
    }
  }

  // A volunteer's CLI, logged in.
  std::unique_ptr<mt::ClientFixture> volunteer(const std::string& name) {
    auto c = std::make_unique<mt::ClientFixture>(name);
    c->login(server, name);
    return c;
  }
};

void sync(mt::ClientFixture& c) {
  auto r = c.run({"sync", "--timeout", "15"});
  REQUIRE_MESSAGE(r.code == 0, mt::describe(r));
}

// The id of the task offered to or held by this volunteer whose details say `request`.
std::string task_of(mt::ClientFixture& c, const std::string& title_prefix) {
  std::string id;
  REQUIRE_MESSAGE(mt::wait_until(
                      [&] {
                        sync(c);
                        for (const auto& t : mt::run_json(c, {"task", "list"})) {
                          if (t["title"].get<std::string>().rfind(title_prefix, 0) == 0) id = t["id"];
                        }
                        return !id.empty();
                      },
                      15s),
                  "no task titled " << title_prefix);
  return id;
}

void act(mt::ClientFixture& c, const std::string& verb, const std::string& task) {
  auto r = c.run({"task", verb, task});
  REQUIRE_MESSAGE(r.code == 0, mt::describe(r));
  sync(c);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("xmpp_bridge: a Chinese and an English request each become one errand; residents hear the number, the acceptance and the end") {
    BridgeWorld w;
    w.start();
    w.wait_bridge_online();
    mt::XmppResident alice(w.prosody.port(), kAlice, "alice-secret");
    mt::XmppResident bob(w.prosody.port(), kBob, "bob-secret");

    alice.say(kBot, "代买 白菜2斤 鸡蛋10个 送3栋502");
    bob.say(kBot, "buy 2kg rice, deliver to b5-502");
    REQUIRE_MESSAGE(alice.wait_count(1, 15s), w.server.log());
    REQUIRE(bob.wait_count(1, 15s));
    CHECK(alice.heard()[0] == "已登记 #1：白菜2斤、鸡蛋10个，送 3栋502。有志愿者接单时会通知您。");
    CHECK(bob.heard()[0] == "Request #1 registered: 2kg rice, to b5-502. You will be told when a volunteer takes it.");

    // One task each, in the building's area, with the items, the address and a pseudonym.
    auto lin = w.volunteer("lin");
    sync(*lin);
    auto tasks = mt::run_json(*lin, {"task", "list"});
    REQUIRE(tasks.size() == 2);
    json cabbage, rice;
    for (const auto& t : tasks) (t["area"] == "gulou/antai/yili/b3" ? cabbage : rice) = t;
    CHECK(cabbage["kind"] == "errand");
    CHECK(cabbage["title"] == "代买：白菜2斤、鸡蛋10个");
    CHECK(cabbage["creator"] == "bridge");
    CHECK(cabbage["details"]["items"] == "白菜2斤、鸡蛋10个");
    CHECK(cabbage["details"]["address"] == "3栋502");
    CHECK(cabbage["details"]["request"] == "#1");
    const std::string contact = cabbage["details"]["contact"];
    CHECK(contact.rfind("xmpp:r-", 0) == 0);
    CHECK(cabbage.dump().find("alice") == std::string::npos);
    CHECK(rice["area"] == "gulou/antai/yili/b5");
    CHECK(rice["details"]["items"] == "2kg rice");
    CHECK(rice["details"]["address"] == "b5-502");
    CHECK(rice["details"]["contact"] != contact);

    // Offer dispatch (the policy's default for errands) offers each to the volunteer of its building.
    auto wang = w.volunteer("wang");
    const std::string cabbage_id = task_of(*wang, "代买：白菜2斤");
    act(*wang, "accept", cabbage_id);
    REQUIRE_MESSAGE(alice.wait_count(2, 15s), (joined(alice.heard()) + w.server.log()));
    CHECK(alice.heard()[1] == "#1 已有志愿者接单：王芳。");
    act(*wang, "done", cabbage_id);
    REQUIRE(alice.wait_count(3, 15s));
    CHECK(alice.heard()[2] == "#1 已完成，送到 3栋502。");

    auto li = w.volunteer("li");
    const std::string rice_id = task_of(*li, "buy: 2kg rice");
    act(*li, "accept", rice_id);
    REQUIRE(bob.wait_count(2, 15s));
    CHECK(bob.heard()[1] == "Request #1 was accepted by volunteer li.");
    act(*li, "done", rice_id);
    REQUIRE(bob.wait_count(3, 15s));
    CHECK(bob.heard()[2] == "Request #1 is done: delivered to b5-502.");

    // Each exactly once.
    std::this_thread::sleep_for(1500ms);
    CHECK_MESSAGE(alice.heard().size() == 3, joined(alice.heard()));
    CHECK_MESSAGE(bob.heard().size() == 3, joined(bob.heard()));
  }

  TEST_CASE("xmpp_bridge: kill -9 of the bridge while events flow: it is restarted and the resident hears every change exactly once") {
    BridgeWorld w;
    w.start();
    w.wait_bridge_online();
    mt::XmppResident alice(w.prosody.port(), kAlice, "alice-secret");
    alice.say(kBot, "代买 白菜2斤 送3栋502");
    alice.say(kBot, "代买 鸡蛋10个 送3栋502");
    alice.say(kBot, "买药 布洛芬 一盒 送3栋502");
    REQUIRE_MESSAGE(alice.wait_count(3, 20s), (joined(alice.heard()) + w.server.log()));

    auto wang = w.volunteer("wang");
    const std::string one = task_of(*wang, "代买：白菜2斤");
    const std::string two = task_of(*wang, "代买：鸡蛋10个");
    const std::string three = task_of(*wang, "买药：布洛芬 一盒");
    act(*wang, "accept", one);
    act(*wang, "accept", two);
    const int first_pid = w.bridge_pid();
    REQUIRE(first_pid > 0);
    REQUIRE(::kill(first_pid, SIGKILL) == 0);
    // The events keep coming while it is dead and while it starts again.
    act(*wang, "start", one);
    act(*wang, "done", one);
    act(*wang, "accept", three);
    act(*wang, "done", two);
    act(*wang, "start", three);
    act(*wang, "done", three);

    const std::vector<std::string> expected{
        "已登记 #1", "已登记 #2", "已登记 #3", "#1 已有志愿者接单：王芳", "#2 已有志愿者接单：王芳",
        "#1 志愿者 王芳 已开始办理", "#1 已完成", "#3 已有志愿者接单：王芳", "#2 已完成",
        "#3 志愿者 王芳 已开始办理", "#3 已完成"};
    REQUIRE_MESSAGE(alice.wait_for(
                        [&](const std::vector<std::string>& heard) {
                          return std::all_of(expected.begin(), expected.end(),
                                             [&](const std::string& e) { return has(heard, e); });
                        },
                        30s),
                    (joined(alice.heard()) + w.server.log()));
    std::this_thread::sleep_for(2s);  // nothing more may come
    const auto heard = alice.heard();
    for (const auto& e : expected) CHECK_MESSAGE(count(heard, e) == 1, e << "\n" << joined(heard));
    CHECK_MESSAGE(heard.size() == expected.size(), joined(heard));
    CHECK(w.bridge_pid() != first_pid);
    CHECK(mt::contains(w.server.log(), "plugin xmpp: was killed by signal 9; restarting in 0.5 s"));
  }

  TEST_CASE("xmpp_bridge: while musterd is stopped requests are queued and said to be; they become tasks, once, when it is back") {
    BridgeWorld w;
    w.start();
    w.wait_bridge_online();
    mt::XmppResident alice(w.prosody.port(), kAlice, "alice-secret");
    const int first_pid = w.bridge_pid();
    REQUIRE(first_pid > 0);

    w.server.stop();  // the bridge stays: its stdin ends, it serves on alone
    alice.say(kBot, "代买 白菜2斤 送3栋502");
    alice.say(kBot, "buy 2kg rice, deliver to b3-502");
    REQUIRE_MESSAGE(alice.wait_count(2, 15s), joined(alice.heard()));
    CHECK(alice.heard()[0] == "已收到 #1：白菜2斤，送 3栋502。系统暂时连不上，恢复后会自动登记并通知您。");
    CHECK(alice.heard()[1] ==
          "Request #2 received: 2kg rice, to b3-502. The system is offline for now; it will be registered as soon as "
          "it is back, and you will be told.");
    CHECK(alive(first_pid));

    // musterd is back: a new bridge takes over from the old one and submits the queue.
    w.start();
    REQUIRE_MESSAGE(alice.wait_count(4, 30s), (joined(alice.heard()) + w.server.log()));
    CHECK(alice.heard()[2] == "已登记 #1：白菜2斤，送 3栋502。有志愿者接单时会通知您。");
    CHECK(alice.heard()[3] == "Request #2 registered: 2kg rice, to b3-502. You will be told when a volunteer takes it.");
    CHECK(w.bridge_pid() != first_pid);
    CHECK(mt::wait_until([&] { return !alive(first_pid); }, 10s));
    CHECK(mt::contains(w.server.log(), "asking it to hand over"));

    auto lin = w.volunteer("lin");
    sync(*lin);
    auto tasks = mt::run_json(*lin, {"task", "list"});
    CHECK_MESSAGE(tasks.size() == 2, tasks.dump(2));
    // And the new instance serves: a third request goes straight through.
    alice.say(kBot, "代买 鸡蛋10个 送3栋502");
    REQUIRE(alice.wait_count(5, 15s));
    CHECK(alice.heard()[4] == "已登记 #3：鸡蛋10个，送 3栋502。有志愿者接单时会通知您。");
    std::this_thread::sleep_for(1s);
    CHECK_MESSAGE(alice.heard().size() == 5, joined(alice.heard()));
  }

  TEST_CASE("xmpp_bridge: what the bot cannot read gets help; the open-request limit holds; strangers are turned away") {
    BridgeWorld w;
    w.start();
    w.wait_bridge_online();
    mt::XmppResident alice(w.prosody.port(), kAlice, "alice-secret");
    mt::XmppResident bob(w.prosody.port(), kBob, "bob-secret");
    mt::XmppResident mallory(w.prosody.port(), "mallory@localhost", "mallory-secret");

    alice.say(kBot, "你好，请问怎么用？");
    bob.say(kBot, "hi, what is this?");
    mallory.say(kBot, "代买 白菜2斤 送3栋502");
    REQUIRE(alice.wait_count(1, 15s));
    REQUIRE(bob.wait_count(1, 15s));
    REQUIRE(mallory.wait_count(1, 15s));
    CHECK(alice.heard()[0].rfind("您好，我是社区代办助手。可以这样发：", 0) == 0);
    CHECK(bob.heard()[0].rfind("Hello, I am the neighbourhood errand bot. You can write:", 0) == 0);
    CHECK(mallory.heard()[0] == "抱歉，您的账号还没有登记，请联系社区居委会。");
    bob.say(kBot, "buy 2kg rice");
    REQUIRE(bob.wait_count(2, 15s));
    CHECK(bob.heard()[1].rfind("Please say where to deliver.", 0) == 0);

    for (const char* text : {"代买 白菜2斤 送3栋502", "代买 鸡蛋10个 送3栋502", "代买 大米 送3栋502", "代买 酱油 送3栋502"}) {
      alice.say(kBot, text);
    }
    REQUIRE_MESSAGE(alice.wait_count(5, 20s), joined(alice.heard()));
    const auto heard = alice.heard();
    CHECK(count(heard, "已登记 #") == 3);
    CHECK(count(heard, "您已有 3 个未完成的请求") == 1);
    alice.say(kBot, "状态");
    REQUIRE(alice.wait_count(6, 15s));
    CHECK(alice.heard()[5] ==
          "您的请求：\n#1 白菜2斤 — 等待志愿者接单\n#2 鸡蛋10个 — 等待志愿者接单\n#3 大米 — 等待志愿者接单");

    // Cancelling one makes room again.
    alice.say(kBot, "取消 2");
    REQUIRE(alice.wait_for([](const auto& h) { return has(h, "#2 已取消"); }, 15s));
    alice.say(kBot, "代买 酱油 送3栋502");
    REQUIRE(alice.wait_for([](const auto& h) { return has(h, "已登记 #4"); }, 15s));
    auto lin = w.volunteer("lin");
    sync(*lin);
    int open = 0, cancelled = 0;
    for (const auto& t : mt::run_json(*lin, {"task", "list"})) {
      if (t["state"] == "cancelled") ++cancelled;
      if (t["state"] == "open" || t["state"] == "offered") ++open;
    }
    CHECK(open == 3);
    CHECK(cancelled == 1);
  }
}
