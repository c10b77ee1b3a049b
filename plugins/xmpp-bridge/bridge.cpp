#include "xmpp-bridge/bridge.hpp"

#include <sodium.h>

#include <algorithm>

#include "muster/domain/actor.hpp"
#include "xmpp-bridge/replies.hpp"
#include "xmpp-bridge/request_parser.hpp"

namespace xmpp_bridge {

namespace protocol = muster::protocol;
using nlohmann::json;

namespace {

constexpr muster::UnixMs kResendAfterMs = 10000;
constexpr std::size_t kMaxMessageBytes = 2000;
constexpr std::size_t kMaxTitleBytes = 300;
constexpr std::size_t kMaxDetailBytes = 900;

const std::vector<std::string> kMigrations{
    // 1
    R"sql(
      CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE residents(
        jid TEXT PRIMARY KEY,
        lang TEXT NOT NULL,
        next_number INTEGER NOT NULL DEFAULT 1
      ) WITHOUT ROWID;
      CREATE TABLE requests(
        task TEXT PRIMARY KEY,
        resident TEXT NOT NULL,
        number INTEGER NOT NULL,
        lang TEXT NOT NULL,
        items TEXT NOT NULL,
        address TEXT NOT NULL,
        area TEXT NOT NULL,
        state TEXT NOT NULL,
        volunteer TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        UNIQUE(resident, number)
      ) WITHOUT ROWID;
      CREATE TABLE outbox(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        op TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        task TEXT NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE replies(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        resident TEXT NOT NULL,
        text TEXT NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX replies_unsent ON replies(sent, id);
    )sql",
};

const std::vector<std::string> kOpenStates{"queued", "open", "offered", "accepted", "started"};

bool is_open_state(const std::string& state) {
  return std::find(kOpenStates.begin(), kOpenStates.end(), state) != kOpenStates.end();
}

// Cut at a UTF-8 character boundary.
std::string cut(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

Lang lang_of(const std::string& text) { return text == "zh" ? Lang::zh : Lang::en; }
const char* lang_name(Lang lang) { return lang == Lang::zh ? "zh" : "en"; }

}  // namespace

struct Bridge::Request {
  std::string task;
  std::string resident;
  int number = 0;
  Lang lang = Lang::en;
  std::string items;
  std::string address;
  std::string state;
  std::string volunteer;

  // Residents are told the volunteer's display name (王芳) where musterd's init gave it.
  RequestView view(const std::map<std::string, std::string>& people) const {
    auto shown = people.find(volunteer);
    return RequestView{number, items, address, state, shown == people.end() ? volunteer : shown->second};
  }
};

Bridge::Bridge(BridgeConfig config, muster::store::Db& db, const muster::Clock& clock)
    : config_(std::move(config)), db_(db), clock_(clock) {
  muster::store::migrate(db_, kMigrations);
  ensure_salt();
}

void Bridge::ensure_salt() {
  auto s = db_.prepare("SELECT value FROM meta WHERE key = 'contact_salt'");
  if (s.step()) {
    salt_ = s.text(0);
    s.reset();
    return;
  }
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  char hex[2 * sizeof bytes + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  salt_ = hex;
  db_.prepare("INSERT INTO meta(key, value) VALUES ('contact_salt', ?1)").bind(1, salt_).run();
}

// A resident's pseudonym in muster: a keyed hash of the JID with this bridge's own
// salt, so nobody who reads the task can tell (or guess) the address; the bridge's
// state file maps it back.
std::string Bridge::contact_of(const std::string& bare_jid) {
  unsigned char out[5];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(bare_jid.data()), bare_jid.size(),
                     reinterpret_cast<const unsigned char*>(salt_.data()), salt_.size());
  char hex[2 * sizeof out + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return std::string("xmpp:r-") + hex;
}

std::vector<std::string> Bridge::on_init(const protocol::PluginInit& init) {
  online_ = true;
  areas_ = init.areas;
  people_ = init.people;
  served_ = config_.area.empty() ? init.area : config_.area;
  if (!muster::domain::area_contains(init.area, served_)) {
    log("config area " + served_ + " is outside " + init.user + "'s home area " + init.area + "; serving " +
        init.area);
    served_ = init.area;
  }
  std::vector<std::string> scopes;
  for (const auto& area : areas_) {
    if (muster::domain::area_contains(served_, area)) scopes.push_back(muster::domain::area_scope(area));
  }
  if (scopes.empty()) scopes.push_back(muster::domain::area_scope(served_));
  std::vector<std::string> lines{protocol::encode(protocol::PluginLine{protocol::PluginSubscribe{scopes}})};
  muster::store::Transaction tx(db_);
  auto s = db_.prepare("SELECT op, kind, body FROM outbox ORDER BY seq");
  const muster::UnixMs now = clock_.now_ms();
  while (s.step()) {
    lines.push_back(op_line(s.text(0), s.text(1), s.text(2)));
    sent_at_[s.text(0)] = now;
  }
  db_.exec("UPDATE outbox SET sent = 1 WHERE sent = 0");
  tx.commit();
  return lines;
}

void Bridge::on_host_gone() {
  if (!online_) return;
  online_ = false;
  sent_at_.clear();
  // Whoever is still waiting for their request to be registered hears that it is queued.
  muster::store::Transaction tx(db_);
  auto s = db_.prepare("SELECT task FROM requests WHERE state = 'queued'");
  std::vector<std::string> waiting;
  while (s.step()) waiting.push_back(s.text(0));
  for (const auto& task : waiting) {
    auto r = find_request(task);
    if (r) reply(task + ":queued", r->resident, say_queued(r->lang, r->view(people_)));
  }
  tx.commit();
}

std::vector<std::string> Bridge::on_chat(const std::string& bare_jid, const std::string& raw_text) {
  std::vector<std::string> lines;
  const std::string text = cut(raw_text, kMaxMessageBytes);
  const Parsed parsed = parse_message(text);
  const Lang lang = parsed.lang;
  const std::string said = "in:" + ids_.next(clock_.now_ms());  // the key of this message's one reply
  muster::store::Transaction tx(db_);
  db_.prepare(
         "INSERT INTO residents(jid, lang) VALUES (?1, ?2) ON CONFLICT(jid) DO UPDATE SET lang = excluded.lang")
      .bind(1, bare_jid)
      .bind(2, lang_name(lang))
      .run();

  if (!resident_allowed(config_, bare_jid)) {
    reply(said, bare_jid, say_not_registered(lang));
  } else if (const auto* errand = std::get_if<ErrandRequest>(&parsed.command)) {
    auto count = db_.prepare(
        "SELECT count(*) FROM requests WHERE resident = ?1 AND state IN ('queued','open','offered','accepted','started')");
    count.bind(1, bare_jid);
    count.step();
    const auto open = count.int64(0);
    count.reset();
    if (open >= config_.max_open_requests) {
      reply(said, bare_jid, say_too_many(lang, config_.max_open_requests));
    } else {
      auto next = db_.prepare("SELECT next_number FROM residents WHERE jid = ?1");
      next.bind(1, bare_jid);
      next.step();
      const int number = static_cast<int>(next.int64(0));
      next.reset();
      db_.prepare("UPDATE residents SET next_number = next_number + 1 WHERE jid = ?1").bind(1, bare_jid).run();

      const std::string task = ids_.next(clock_.now_ms());
      const std::string items = cut(join_items(lang, errand->items), kMaxDetailBytes);
      const std::string address = cut(errand->address, kMaxDetailBytes);
      const std::string area = area_for(errand->building, served_, areas_);
      json body{{"kind", "errand"},
                {"title", cut(errand->category + (lang == Lang::zh ? "：" : ": ") + items, kMaxTitleBytes)},
                {"area", area},
                {"details",
                 {{"items", items},
                  {"address", address},
                  {"contact", contact_of(bare_jid)},
                  {"request", "#" + std::to_string(number)},
                  {"source", "xmpp-bridge"}}}};
      if (!config_.dispatch.empty()) body["dispatch"] = config_.dispatch;
      db_.prepare(
             "INSERT INTO requests(task, resident, number, lang, items, address, area, state, created_at) "
             "VALUES (?1,?2,?3,?4,?5,?6,?7,'queued',?8)")
          .bind(1, task)
          .bind(2, bare_jid)
          .bind(3, number)
          .bind(4, lang_name(lang))
          .bind(5, items)
          .bind(6, address)
          .bind(7, area)
          .bind(8, muster::format_utc(clock_.now_ms()))
          .run();
      // The task id is the op id, made now: however often it is sent, musterd makes one task.
      lines.push_back(add_op(task, "task.create", body, task));
      if (!online_) {
        RequestView v{number, items, address, "queued", ""};
        reply(task + ":queued", bare_jid, say_queued(lang, v));
        lines.clear();
      }
    }
  } else if (std::holds_alternative<StatusCommand>(parsed.command)) {
    auto s = db_.prepare(
        "SELECT task FROM requests WHERE resident = ?1 AND state IN ('queued','open','offered','accepted','started') "
        "ORDER BY number");
    s.bind(1, bare_jid);
    std::vector<std::string> tasks;
    while (s.step()) tasks.push_back(s.text(0));
    std::vector<RequestView> views;
    for (const auto& t : tasks) {
      if (auto r = find_request(t)) views.push_back(r->view(people_));
    }
    reply(said, bare_jid, say_status(lang, views));
  } else if (const auto* cancel = std::get_if<CancelCommand>(&parsed.command)) {
    auto r = find_request(bare_jid, cancel->number);
    if (!r) {
      reply(said, bare_jid, say_no_such_request(lang, cancel->number));
    } else if (!is_open_state(r->state)) {
      reply(said, bare_jid, say_cannot_cancel(lang, r->view(people_)));
    } else {
      auto unsent = db_.prepare("SELECT count(*) FROM outbox WHERE op = ?1 AND sent = 0");
      unsent.bind(1, r->task);
      unsent.step();
      const bool never_sent = unsent.int64(0) > 0;
      unsent.reset();
      if (never_sent) {
        // musterd never saw it: withdrawing it here is all there is to do.
        db_.prepare("DELETE FROM outbox WHERE op = ?1").bind(1, r->task).run();
        set_state(r->task, "cancelled");
        r->state = "cancelled";
        reply(r->task + ":cancelled", bare_jid, say_cancelled(r->lang, r->view(people_)));
      } else {
        const std::string op = ids_.next(clock_.now_ms());
        std::string line = add_op(op, "task.cancel", json{{"task", r->task}}, r->task);
        if (online_) lines.push_back(std::move(line));
        reply(op + ":cancelling", bare_jid, say_cancelling(lang, r->view(people_)));
      }
    }
  } else {
    reply(said, bare_jid, say_help(lang, std::get<HelpCommand>(parsed.command).why));
  }
  tx.commit();
  return lines;
}

std::string Bridge::add_op(const std::string& op, const std::string& kind, const json& body, const std::string& task) {
  const std::string body_text = body.dump();
  db_.prepare("INSERT INTO outbox(op, kind, body, task, sent) VALUES (?1,?2,?3,?4,?5)")
      .bind(1, op)
      .bind(2, kind)
      .bind(3, body_text)
      .bind(4, task)
      .bind(5, online_ ? 1 : 0)
      .run();
  if (online_) sent_at_[op] = clock_.now_ms();
  return op_line(op, kind, body_text);
}

std::string Bridge::op_line(const std::string& op, const std::string& kind, const std::string& body) {
  return protocol::encode(protocol::PluginLine{protocol::OpFrame{muster::domain::Op{muster::domain::OpId(op), kind, json::parse(body)}}});
}

std::vector<std::string> Bridge::on_host_lines(const std::vector<std::string>& lines) {
  std::map<std::string, std::int64_t> cursors;
  {
    muster::store::Transaction tx(db_);
    for (const auto& line : lines) {
      auto decoded = protocol::decode_host_line(line);
      if (!decoded) {
        log("a line from musterd that the bridge cannot read: " + decoded.error().message);
        continue;
      }
      if (auto* e = std::get_if<protocol::EventFrame>(&*decoded)) {
        on_event(e->event);
        auto& c = cursors[e->event.scope];
        c = std::max(c, e->event.seq);
      } else if (auto* ack = std::get_if<protocol::Ack>(&*decoded)) {
        on_ack(*ack);
      } else if (auto* err = std::get_if<protocol::ErrorFrame>(&*decoded)) {
        log("musterd: " + err->code + ": " + err->message);
      }
    }
    tx.commit();
  }
  if (cursors.empty()) return {};
  return {protocol::encode(protocol::PluginLine{protocol::CursorFrame{cursors}})};
}

void Bridge::on_event(const muster::domain::Event& e) {
  if (e.kind.rfind("task.", 0) != 0 || e.body.contains("snapshot")) return;
  const std::string task = e.kind == "task.created" ? e.body.value("id", "") : e.body.value("task", "");
  auto r = find_request(task);
  if (!r) return;  // not a resident's errand of this bridge
  auto tell = [&](const std::string& what, const std::string& text) { reply(task + ":" + what, r->resident, text); };
  if (e.kind == "task.created") {
    if (r->state == "queued") set_state(task, "open");
    r->state = "open";
    tell("registered", say_registered(r->lang, r->view(people_)));
  } else if (e.kind == "task.offered") {
    if (r->state == "queued" || r->state == "open") set_state(task, "offered");
  } else if (e.kind == "task.declined" || e.kind == "task.offer_expired") {
    if (r->state == "offered") set_state(task, "open");
  } else if (e.kind == "task.accepted" || e.kind == "task.claimed") {
    set_state(task, "accepted", e.actor);
    r->volunteer = e.actor;
    tell("accepted", say_accepted(r->lang, r->view(people_)));
  } else if (e.kind == "task.started") {
    set_state(task, "started", r->volunteer.empty() ? e.actor : r->volunteer);
    if (r->volunteer.empty()) r->volunteer = e.actor;
    tell("started", say_started(r->lang, r->view(people_)));
  } else if (e.kind == "task.done") {
    set_state(task, "done");
    tell("done", say_done(r->lang, r->view(people_)));
  } else if (e.kind == "task.failed") {
    set_state(task, "failed");
    tell("failed", say_failed(r->lang, r->view(people_)));
  } else if (e.kind == "task.cancelled") {
    set_state(task, "cancelled");
    r->state = "cancelled";
    tell("cancelled", say_cancelled(r->lang, r->view(people_)));
  }
}

void Bridge::on_ack(const protocol::Ack& ack) {
  const std::string& op = ack.id.str();  // the bridge keeps its ops as text
  auto s = db_.prepare("SELECT kind, task FROM outbox WHERE op = ?1");
  s.bind(1, op);
  if (!s.step()) return;  // answered before
  const std::string kind = s.text(0), task = s.text(1);
  s.reset();
  if (!ack.ok && ack.error && ack.error->code == muster::Errc::unavailable) return;  // not decided: sent again later
  if (!ack.ok && ack.error && ack.error->code == muster::Errc::rate_limited) {
    // Over the plugin's budget (README "Policy"): not decided either. Due again once the
    // server's wait is over, not after the usual resend delay.
    sent_at_[op] = clock_.now_ms() - kResendAfterMs + ack.error->retry_after_ms;
    return;
  }
  db_.prepare("DELETE FROM outbox WHERE op = ?1").bind(1, op).run();
  sent_at_.erase(op);
  auto r = find_request(task);
  if (!r) return;
  if (kind == "task.create") {
    if (ack.ok) {
      if (r->state == "queued") {
        set_state(task, "open");
        r->state = "open";
      }
      reply(task + ":registered", r->resident, say_registered(r->lang, r->view(people_)));
    } else {
      set_state(task, "rejected");
      const std::string reason = ack.error ? ack.error->message : "refused";
      log("musterd refused request #" + std::to_string(r->number) + " of a resident: " + reason);
      reply(task + ":rejected", r->resident, say_rejected(r->lang, r->view(people_), reason));
    }
  } else if (kind == "task.cancel" && !ack.ok) {
    reply(op + ":refused", r->resident, say_cannot_cancel(r->lang, r->view(people_)));
  }
}

std::vector<std::string> Bridge::tick() {
  if (!online_) return {};
  std::vector<std::string> lines;
  const muster::UnixMs now = clock_.now_ms();
  auto s = db_.prepare("SELECT op, kind, body FROM outbox ORDER BY seq");
  bool resend = false;
  while (s.step()) {
    const std::string op = s.text(0);
    auto it = sent_at_.find(op);
    // Once one op is due again, everything after it goes too, so the order holds.
    resend = resend || it == sent_at_.end() || now - it->second >= kResendAfterMs;
    if (!resend) continue;
    lines.push_back(op_line(op, s.text(1), s.text(2)));
    sent_at_[op] = now;
  }
  return lines;
}

std::vector<Reply> Bridge::unsent_replies(int limit) {
  std::vector<Reply> out;
  auto s = db_.prepare("SELECT id, resident, text FROM replies WHERE sent = 0 ORDER BY id LIMIT ?1");
  s.bind(1, limit);
  while (s.step()) out.push_back(Reply{s.int64(0), s.text(1), s.text(2)});
  return out;
}

void Bridge::mark_sent(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return;
  muster::store::Transaction tx(db_);
  auto s = db_.prepare("UPDATE replies SET sent = 1 WHERE id = ?1");
  for (auto id : ids) s.bind(1, id).run();
  tx.commit();
}

std::optional<Bridge::Request> Bridge::find_request(const std::string& task) {
  auto s = db_.prepare(
      "SELECT task, resident, number, lang, items, address, state, volunteer FROM requests WHERE task = ?1");
  s.bind(1, task);
  if (!s.step()) return std::nullopt;
  Request r{s.text(0), s.text(1), static_cast<int>(s.int64(2)), lang_of(s.text(3)), s.text(4), s.text(5), s.text(6),
            s.text(7)};
  s.reset();
  return r;
}

std::optional<Bridge::Request> Bridge::find_request(const std::string& resident, int number) {
  auto s = db_.prepare("SELECT task FROM requests WHERE resident = ?1 AND number = ?2");
  s.bind(1, resident).bind(2, number);
  if (!s.step()) return std::nullopt;
  const std::string task = s.text(0);
  s.reset();
  return find_request(task);
}

void Bridge::set_state(const std::string& task, const std::string& state, const std::string& volunteer) {
  if (volunteer.empty()) {
    db_.prepare("UPDATE requests SET state = ?2 WHERE task = ?1").bind(1, task).bind(2, state).run();
  } else {
    db_.prepare("UPDATE requests SET state = ?2, volunteer = ?3 WHERE task = ?1")
        .bind(1, task)
        .bind(2, state)
        .bind(3, volunteer)
        .run();
  }
}

void Bridge::reply(const std::string& key, const std::string& to, const std::string& text) {
  db_.prepare("INSERT OR IGNORE INTO replies(key, resident, text) VALUES (?1,?2,?3)")
      .bind(1, key)
      .bind(2, to)
      .bind(3, text)
      .run();
}

}  // namespace xmpp_bridge
