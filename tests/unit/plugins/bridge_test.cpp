// The XMPP bridge's decisions (plugins/xmpp-bridge/bridge.hpp), driven directly: no
// XMPP server, no musterd. Its state is an in-memory SQLite database; a "restart" is a
// new Bridge over the same database, as a new instance opens the same file.
#include "xmpp-bridge/bridge.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "muster/protocol/frame.hpp"

using namespace xmpp_bridge;
using nlohmann::json;
namespace protocol = muster::protocol;

namespace {

constexpr muster::UnixMs kStart = 1795420800000;  // 2026-11-23T08:00:00Z
const std::string kAlice = "alice@localhost";
const std::string kBob = "bob@localhost";

BridgeConfig config(int max_open = 3) {
  BridgeConfig c;
  c.jid = "helper@localhost";
  c.password_file = "pw";
  c.residents = {kAlice, kBob};
  c.max_open_requests = max_open;
  c.dispatch = "claim";
  return c;
}

protocol::PluginInit init() {
  protocol::PluginInit i;
  i.user = "bridge";
  i.area = "gulou/antai/yili";
  i.areas = {"gulou", "gulou/antai", "gulou/antai/yili", "gulou/antai/yili/b3", "gulou/antai/yili/b5"};
  return i;
}

json parse(const std::string& line) { return json::parse(line); }

std::string ack(const std::string& id, bool ok = true, const std::string& code = "") {
  protocol::Ack a;
  a.id = muster::domain::OpId(id);
  a.ok = ok;
  if (!ok) a.error = muster::make_error(muster::errc_from_string(code), "refused: " + code);
  return protocol::encode(protocol::ServerFrame{a});
}

std::int64_t next_seq = 1;

std::string event(const std::string& kind, const std::string& task, const std::string& actor,
                  const std::string& scope = "area:gulou/antai/yili/b3") {
  muster::domain::Event e;
  e.scope = scope;
  e.seq = next_seq++;
  e.gseq = e.seq;
  e.id = "01KEVENT" + std::to_string(e.seq);
  e.op = muster::domain::OpId(task);
  e.kind = kind;
  e.actor = actor;
  e.at = "2026-11-23T08:00:00Z";
  e.body = kind == "task.created" ? json{{"id", task}, {"state", "open"}} : json{{"task", task}};
  return protocol::encode_event(e);
}

struct World {
  muster::store::Db db = muster::store::Db::open(":memory:");
  muster::ManualClock clock{kStart};
  std::unique_ptr<Bridge> bridge = std::make_unique<Bridge>(config(), db, clock);

  explicit World(BridgeConfig c = config()) : bridge(std::make_unique<Bridge>(c, db, clock)) {}

  // Everything residents are waiting to hear, marked as told.
  std::vector<Reply> told() {
    auto r = bridge->unsent_replies(100);
    std::vector<std::int64_t> ids;
    for (const auto& x : r) ids.push_back(x.id);
    bridge->mark_sent(ids);
    return r;
  }
  std::vector<std::string> texts_to(const std::string& who) {
    std::vector<std::string> out;
    for (const auto& r : told()) {
      if (r.to == who) out.push_back(r.text);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("init subscribes to the served area and every area below it") {
  World w;
  auto lines = w.bridge->on_init(init());
  REQUIRE(lines.size() == 1);
  auto sub = parse(lines[0]);
  CHECK(sub["t"] == "subscribe");
  CHECK(sub["scopes"] == json::array({"area:gulou/antai/yili", "area:gulou/antai/yili/b3", "area:gulou/antai/yili/b5"}));
  CHECK(w.bridge->served_area() == "gulou/antai/yili");
}

TEST_CASE("a Chinese request becomes one errand op in the building's area; the resident hears the number once") {
  World w;
  w.bridge->on_init(init());
  auto lines = w.bridge->on_chat(kAlice, "代买 白菜2斤 鸡蛋10个 送3栋502");
  REQUIRE(lines.size() == 1);
  auto op = parse(lines[0]);
  CHECK(op["t"] == "op");
  CHECK(op["kind"] == "task.create");
  const std::string task = op["id"];
  CHECK(muster::is_ulid(task));
  const json& body = op["body"];
  CHECK(body["kind"] == "errand");
  CHECK(body["area"] == "gulou/antai/yili/b3");
  CHECK(body["title"] == "代买：白菜2斤、鸡蛋10个");
  CHECK(body["dispatch"] == "claim");
  CHECK(body["details"]["items"] == "白菜2斤、鸡蛋10个");
  CHECK(body["details"]["address"] == "3栋502");
  CHECK(body["details"]["request"] == "#1");
  const std::string contact = body["details"]["contact"];
  CHECK(contact.rfind("xmpp:r-", 0) == 0);
  CHECK(contact.find("alice") == std::string::npos);  // the JID never leaves the bridge
  CHECK(w.told().empty());                            // nothing to say before musterd answers

  w.bridge->on_host_lines({ack(task)});
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"已登记 #1：白菜2斤、鸡蛋10个，送 3栋502。有志愿者接单时会通知您。"});
  // The task's own event says the same: nobody is told twice.
  auto cursor = w.bridge->on_host_lines({event("task.created", task, "bridge")});
  REQUIRE(cursor.size() == 1);
  CHECK(parse(cursor[0])["t"] == "cursor");
  CHECK(w.told().empty());

  w.bridge->on_host_lines({event("task.claimed", task, "wang")});
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"#1 已有志愿者接单：wang。"});
  w.bridge->on_host_lines({event("task.claimed", task, "wang")});  // fed again after a restart
  CHECK(w.told().empty());
  w.bridge->on_host_lines({event("task.started", task, "wang"), event("task.done", task, "wang")});
  CHECK(w.texts_to(kAlice) ==
        std::vector<std::string>{"#1 志愿者 wang 已开始办理。", "#1 已完成，送到 3栋502。"});
}

TEST_CASE("an English request is answered in English; events of other tasks are nobody's business") {
  World w;
  w.bridge->on_init(init());
  auto lines = w.bridge->on_chat(kBob, "buy 2kg rice, deliver to b5-101");
  REQUIRE(lines.size() == 1);
  auto op = parse(lines[0]);
  CHECK(op["body"]["area"] == "gulou/antai/yili/b5");
  CHECK(op["body"]["title"] == "buy: 2kg rice");
  w.bridge->on_host_lines({ack(op["id"])});
  CHECK(w.texts_to(kBob) ==
        std::vector<std::string>{"Request #1 registered: 2kg rice, to b5-101. You will be told when a volunteer takes it."});
  auto cursor = w.bridge->on_host_lines({event("task.claimed", "01KSOMEONEELSESTASK0000000", "wang")});
  CHECK(parse(cursor.at(0))["cursors"]["area:gulou/antai/yili/b3"].is_number());
  CHECK(w.told().empty());
  w.bridge->on_host_lines({event("task.accepted", op["id"], "li")});
  CHECK(w.texts_to(kBob) == std::vector<std::string>{"Request #1 was accepted by volunteer li."});
}

TEST_CASE("while musterd is away requests queue and are said to; the next instance submits them with the same ids") {
  World w;
  w.bridge->on_init(init());
  w.bridge->on_host_gone();
  CHECK(w.bridge->on_chat(kAlice, "代买 白菜2斤 送3栋502").empty());
  CHECK(w.bridge->on_chat(kAlice, "买药 布洛芬 一盒 送5号楼2单元301").empty());
  auto queued = w.texts_to(kAlice);
  REQUIRE(queued.size() == 2);
  CHECK(queued[0] == "已收到 #1：白菜2斤，送 3栋502。系统暂时连不上，恢复后会自动登记并通知您。");
  CHECK(queued[1].rfind("已收到 #2：布洛芬 一盒", 0) == 0);

  // musterd is back: a new instance over the same state.
  w.bridge = std::make_unique<Bridge>(config(), w.db, w.clock);
  auto lines = w.bridge->on_init(init());
  REQUIRE(lines.size() == 3);
  CHECK(parse(lines[0])["t"] == "subscribe");
  auto first = parse(lines[1]), second = parse(lines[2]);
  CHECK(first["body"]["details"]["request"] == "#1");
  CHECK(second["body"]["details"]["request"] == "#2");
  CHECK(second["body"]["area"] == "gulou/antai/yili/b5");  // 5号楼 is the area b5
  // Unanswered for a while: sent again, with the same ids (musterd answers a repeat from its log).
  w.clock.advance(11000);
  auto again = w.bridge->tick();
  REQUIRE(again.size() == 2);
  CHECK(parse(again[0])["id"] == first["id"]);
  w.bridge->on_host_lines({ack(first["id"]), ack(second["id"])});
  CHECK(w.texts_to(kAlice) ==
        std::vector<std::string>{"已登记 #1：白菜2斤，送 3栋502。有志愿者接单时会通知您。",
                                 "已登记 #2：布洛芬 一盒，送 5号楼2单元301。有志愿者接单时会通知您。"});
  w.clock.advance(11000);
  CHECK(w.bridge->tick().empty());  // acknowledged: nothing left to send
}

TEST_CASE("ops sent but never answered when musterd went away: their residents hear they are queued") {
  World w;
  w.bridge->on_init(init());
  auto lines = w.bridge->on_chat(kAlice, "代买 白菜2斤 送3栋502");
  REQUIRE(lines.size() == 1);
  w.bridge->on_host_gone();
  auto texts = w.texts_to(kAlice);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0].rfind("已收到 #1", 0) == 0);
}

TEST_CASE("a resident may have only so many open requests") {
  World w(config(2));
  w.bridge->on_init(init());
  auto one = w.bridge->on_chat(kAlice, "buy rice, deliver to b3-502");
  auto two = w.bridge->on_chat(kAlice, "buy milk, deliver to b3-502");
  CHECK(w.bridge->on_chat(kAlice, "buy eggs, deliver to b3-502").empty());
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{
                                  "You already have 2 open requests; please wait until one is done or cancel one first."});
  CHECK(w.bridge->on_chat(kBob, "buy eggs, deliver to b3-502").size() == 1);  // per resident
  // Once one is done, there is room again.
  w.bridge->on_host_lines({ack(parse(one[0])["id"]), event("task.claimed", parse(one[0])["id"], "wang"),
                           event("task.done", parse(one[0])["id"], "wang")});
  w.told();
  CHECK(w.bridge->on_chat(kAlice, "buy eggs, deliver to b3-502").size() == 1);
  (void)two;
}

TEST_CASE("help for what the bot cannot read; strangers are told they are not registered") {
  World w;
  w.bridge->on_init(init());
  CHECK(w.bridge->on_chat(kAlice, "你好").empty());
  CHECK(w.bridge->on_chat(kAlice, "what can you do?").empty());
  CHECK(w.bridge->on_chat("mallory@localhost", "代买 白菜2斤 送3栋502").empty());
  auto told = w.told();
  REQUIRE(told.size() == 3);
  CHECK(told[0].text.rfind("您好，我是社区代办助手。可以这样发：\n代买 白菜2斤 鸡蛋10个 送3栋502", 0) == 0);
  CHECK(told[1].text.rfind("Hello, I am the neighbourhood errand bot. You can write:\nbuy 2kg rice", 0) == 0);
  CHECK(told[2].to == "mallory@localhost");
  CHECK(told[2].text == "抱歉，您的账号还没有登记，请联系社区居委会。");

  BridgeConfig open = config();
  open.residents.clear();
  open.open_registration = true;
  World anyone(open);
  anyone.bridge->on_init(init());
  CHECK(anyone.bridge->on_chat("mallory@localhost", "代买 白菜2斤 送3栋502").size() == 1);
}

TEST_CASE("status lists the open requests; cancel withdraws a queued one or asks musterd") {
  World w;
  w.bridge->on_init(init());
  auto one = parse(w.bridge->on_chat(kAlice, "代买 白菜2斤 送3栋502").at(0));
  w.bridge->on_host_lines({ack(one["id"]), event("task.claimed", one["id"], "wang")});
  w.told();
  w.bridge->on_host_gone();
  w.bridge->on_chat(kAlice, "代买 鸡蛋10个 送3栋502");
  w.told();
  w.bridge->on_chat(kAlice, "状态");
  CHECK(w.texts_to(kAlice) ==
        std::vector<std::string>{"您的请求：\n#1 白菜2斤 — 已接单（wang）\n#2 鸡蛋10个 — 排队中，等系统恢复"});

  // #2 never reached musterd: withdrawn here, nothing to send.
  w.bridge->on_chat(kAlice, "取消 2");
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"#2 已取消。"});
  // #1 is musterd's: a cancel op, queued while it is away, sent when it is back.
  w.bridge->on_chat(kAlice, "取消 1");
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"正在取消 #1。"});
  w.bridge->on_chat(kAlice, "取消 7");
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"没有 #7 这个请求。发送“状态”查看您的请求。"});

  w.bridge = std::make_unique<Bridge>(config(), w.db, w.clock);
  auto lines = w.bridge->on_init(init());
  REQUIRE(lines.size() == 2);
  auto cancel = parse(lines[1]);
  CHECK(cancel["kind"] == "task.cancel");
  CHECK(cancel["body"]["task"] == one["id"]);
  w.bridge->on_host_lines({ack(cancel["id"]), event("task.cancelled", one["id"], "bridge")});
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"#1 已取消。"});
  w.bridge->on_chat(kAlice, "取消 1");
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"#1 无法取消：已取消。"});
  w.bridge->on_chat(kAlice, "status");
  CHECK(w.texts_to(kAlice) == std::vector<std::string>{"You have no open requests."});
}

TEST_CASE("a request musterd refuses is reported to the resident; one it could not store is sent again") {
  World w;
  w.bridge->on_init(init());
  auto a = parse(w.bridge->on_chat(kAlice, "代买 白菜2斤 送3栋502").at(0));
  auto b = parse(w.bridge->on_chat(kBob, "buy milk, deliver to b3-1").at(0));
  w.bridge->on_host_lines({ack(a["id"], false, "forbidden"), ack(b["id"], false, "unavailable")});
  auto told = w.told();
  REQUIRE(told.size() == 1);
  CHECK(told[0].to == kAlice);
  CHECK(told[0].text == "#1 未能登记（refused: forbidden），请联系社区。");
  w.clock.advance(11000);
  auto again = w.bridge->tick();
  REQUIRE(again.size() == 1);
  CHECK(parse(again[0])["id"] == b["id"]);
}
