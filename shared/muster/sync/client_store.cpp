#include "muster/sync/client_store.hpp"

#include <filesystem>

namespace muster::sync {

using domain::Json;

namespace {

const std::vector<std::string> kMigrations{
    // 1: identity, outbox, replica, cursors, rejections
    R"sql(
      CREATE TABLE config(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE outbox(
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        created TEXT NOT NULL
      );
      CREATE TABLE objects(
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY(type, id)
      ) WITHOUT ROWID;
      CREATE TABLE cursors(scope TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE rejections(
        op TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        at TEXT NOT NULL
      ) WITHOUT ROWID;
    )sql",
    // 2: the inbox: alerts the server made for this user, and what the user did with
    // items outside the replica (kind "read": a direct message `msg list` showed; kind
    // "ack": an alert dismissed with `inbox ack`)
    R"sql(
      CREATE TABLE alerts(id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE marks(kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(kind, id)) WITHOUT ROWID;
    )sql",
};

}  // namespace

domain::Actor Identity::actor() const {
  domain::Actor a;
  a.name = user;
  for (const auto& r : roles) {
    if (auto role = domain::role_from_string(r)) a.roles.add(*role);
  }
  a.area = area;
  return a;
}

ClientStore::ClientStore(store::Db db) : db_(std::move(db)) { store::migrate(db_, kMigrations); }

ClientStore ClientStore::open(const std::string& home) {
  std::filesystem::create_directories(home);
  store::OpenOptions options;
  options.durability = store::Durability::full;
  // A hotline operator's outbox holds a call's notes until the server confirms it:
  // deleting the row then overwrites them instead of leaving them in a free page.
  options.secure_delete = true;
  return ClientStore(store::Db::open((std::filesystem::path(home) / "client.db").string(), options));
}

ClientStore ClientStore::open_memory() { return ClientStore(store::Db::open(":memory:")); }

std::string ClientStore::config(const std::string& key) {
  auto s = db_.prepare("SELECT value FROM config WHERE key = ?1");
  s.bind(1, key);
  if (!s.step()) return {};
  std::string v = s.text(0);
  s.reset();
  return v;
}

void ClientStore::set_config(const std::string& key, const std::string& value) {
  db_.prepare("INSERT OR REPLACE INTO config(key, value) VALUES (?1, ?2)").bind(1, key).bind(2, value).run();
}

std::optional<Identity> ClientStore::identity() {
  Identity id;
  id.user = config("user");
  if (id.user.empty()) return std::nullopt;
  id.server = config("server");
  id.device = config("device");
  id.token = config("token");
  id.area = config("area");
  auto roles = Json::parse(config("roles"), nullptr, false);
  if (roles.is_array()) id.roles = roles.get<std::vector<std::string>>();
  auto scopes = Json::parse(config("scopes"), nullptr, false);
  if (scopes.is_array()) id.scopes = scopes.get<std::vector<std::string>>();
  id.tz = config("tz");
  return id;
}

void ClientStore::save_identity(const Identity& id) {
  store::Transaction tx(db_);
  set_config("server", id.server);
  set_config("user", id.user);
  set_config("device", id.device);
  set_config("token", id.token);
  set_config("area", id.area);
  set_config("roles", Json(id.roles).dump());
  set_config("scopes", Json(id.scopes).dump());
  if (!id.tz.empty()) set_config("tz", id.tz);
  tx.commit();
}

void ClientStore::reset_replica() {
  db_.exec("DELETE FROM objects; DELETE FROM cursors; DELETE FROM rejections; DELETE FROM alerts; DELETE FROM marks;");
}

void ClientStore::enqueue(const domain::Op& op, UnixMs now) { enqueue(std::vector<domain::Op>{op}, now); }

void ClientStore::enqueue(const std::vector<domain::Op>& ops, UnixMs now) {
  store::Transaction tx(db_);
  auto insert = db_.prepare("INSERT INTO outbox(id, kind, body, created) VALUES (?1, ?2, ?3, ?4)");
  for (const auto& op : ops) insert.bind(1, op.id.str()).bind(2, op.kind).bind(3, op.body.dump()).bind(4, format_utc(now)).run();
  tx.commit();
}

std::vector<OutboxEntry> ClientStore::outbox() {
  std::vector<OutboxEntry> out;
  auto s = db_.prepare("SELECT n, id, kind, body, created FROM outbox ORDER BY n");
  while (s.step()) {
    OutboxEntry e;
    e.n = s.int64(0);
    e.op.id = domain::OpId(s.text(1));
    e.op.kind = s.text(2);
    e.op.body = Json::parse(s.text_view(3), nullptr, false);
    e.created = s.text(4);
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<OutboxEntry> ClientStore::outbox_entry(const domain::OpId& op_id) {
  auto s = db_.prepare("SELECT n, id, kind, body, created FROM outbox WHERE id = ?1");
  s.bind(1, op_id.str());
  if (!s.step()) return std::nullopt;
  OutboxEntry e;
  e.n = s.int64(0);
  e.op.id = domain::OpId(s.text(1));
  e.op.kind = s.text(2);
  e.op.body = Json::parse(s.text_view(3), nullptr, false);
  e.created = s.text(4);
  s.reset();
  return e;
}

std::int64_t ClientStore::outbox_size() {
  auto s = db_.prepare("SELECT count(*) FROM outbox");
  s.step();
  auto n = s.int64(0);
  s.reset();
  return n;
}

void ClientStore::remove_from_outbox(const domain::OpId& op_id) {
  auto s = db_.prepare("DELETE FROM outbox WHERE id = ?1 RETURNING kind");
  s.bind(1, op_id.str());
  while (s.step()) {
    if (s.text_view(0) == "hotline.log") scrub_due_ = true;
  }
}

void ClientStore::scrub() {
  if (!scrub_due_) return;
  scrub_due_ = false;
  try {
    db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const store::SqliteError&) {
    // Another process reading in the way: the next checkpoint reuses the WAL anyway.
  }
}

void ClientStore::record_rejection(const Rejection& r) {
  db_.prepare("INSERT OR REPLACE INTO rejections(op, kind, code, message, at) VALUES (?1,?2,?3,?4,?5)")
      .bind(1, r.op_id.str())
      .bind(2, r.kind)
      .bind(3, std::string(to_string(r.error.code)))
      .bind(4, r.error.message)
      .bind(5, r.at)
      .run();
}

std::vector<Rejection> ClientStore::rejections(int limit) {
  std::vector<Rejection> out;
  auto s = db_.prepare("SELECT op, kind, code, message, at FROM rejections ORDER BY at DESC LIMIT ?1");
  s.bind(1, limit);
  while (s.step()) {
    out.push_back(Rejection{domain::OpId(s.text(0)), s.text(1), make_error(errc_from_string(s.text_view(2)), s.text(3)), s.text(4)});
  }
  return out;
}

domain::State ClientStore::load_state() {
  domain::State state;
  auto s = db_.prepare("SELECT type, json FROM objects");
  while (s.step()) {
    if (const auto* kind = domain::find_kind(s.text_view(0))) kind->load(state, Json::parse(s.text_view(1), nullptr, false));
  }
  domain::rebuild_tallies(state.headcount);
  return state;
}

void ClientStore::save_object(const domain::State& state, const domain::ObjectRef& ref) {
  const auto* kind = domain::find_kind(ref.first);
  if (!kind) return;
  const Json j = kind->save(state, ref.second);
  if (!save_object_) {
    save_object_ = std::make_unique<store::Stmt>(db_.prepare("INSERT OR REPLACE INTO objects(type, id, json) VALUES (?1, ?2, ?3)"));
  }
  save_object_->bind(1, ref.first).bind(2, ref.second).bind(3, j.dump()).run();
}

void ClientStore::save_alert(const domain::Alert& alert) {
  if (!save_alert_) {
    save_alert_ = std::make_unique<store::Stmt>(db_.prepare("INSERT OR REPLACE INTO alerts(id, json) VALUES (?1, ?2)"));
  }
  save_alert_->bind(1, alert.id).bind(2, domain::to_json(alert).dump()).run();
}

domain::AlertBook ClientStore::alerts() {
  domain::AlertBook out;
  auto s = db_.prepare("SELECT json FROM alerts");
  while (s.step()) {
    if (auto a = domain::alert_from_json(Json::parse(s.text_view(0), nullptr, false))) out[a->id] = std::move(*a);
  }
  return out;
}

void ClientStore::mark(const std::string& kind, const std::vector<std::string>& ids) {
  store::Transaction tx(db_);
  auto insert = db_.prepare("INSERT OR IGNORE INTO marks(kind, id) VALUES (?1, ?2)");
  for (const auto& id : ids) insert.bind(1, kind).bind(2, id).run();
  tx.commit();
}

domain::InboxMarks ClientStore::inbox_marks() {
  domain::InboxMarks out;
  auto s = db_.prepare("SELECT kind, id FROM marks");
  while (s.step()) {
    if (s.text_view(0) == "read") out.read_messages.insert(s.text(1));
    if (s.text_view(0) == "ack") out.acked_alerts.insert(s.text(1));
  }
  return out;
}

protocol::Cursors ClientStore::cursors() {
  protocol::Cursors out;
  auto s = db_.prepare("SELECT scope, seq FROM cursors");
  while (s.step()) out[s.text(0)] = s.int64(1);
  return out;
}

void ClientStore::save_cursor(const std::string& scope, std::int64_t seq) {
  if (!save_cursor_) {
    save_cursor_ = std::make_unique<store::Stmt>(db_.prepare("INSERT OR REPLACE INTO cursors(scope, seq) VALUES (?1, ?2)"));
  }
  save_cursor_->bind(1, scope).bind(2, seq).run();
}

domain::State ClientStore::view(std::set<std::string>* pending) {
  domain::State state = load_state();
  auto id = identity();
  if (!id) return state;
  const domain::Actor actor = id->actor();
  const domain::UnknownDirectory unknown;
  for (const auto& entry : outbox()) {
    const UnixMs now = parse_utc(entry.created).value_or(0);
    auto drafts = domain::apply(state, entry.op, domain::Context{actor, now, unknown});
    if (!drafts) continue;
    for (auto& d : *drafts) {
      domain::Event e;
      e.scope = d.scope;
      e.op = entry.op.id;
      e.kind = d.kind;
      e.actor = actor.name;
      e.at = entry.created;
      e.body = d.body;
      auto ref = domain::fold(state, e);
      if (pending && !ref.second.empty()) pending->insert(ref.second);
    }
  }
  return state;
}

}  // namespace muster::sync
