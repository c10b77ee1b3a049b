#include "musterd/core/log_store.hpp"

#include <filesystem>

#include "muster/base/utf8.hpp"
#include "muster/protocol/frame.hpp"

namespace musterd {

using muster::store::Db;

namespace {

const std::vector<std::string> kMigrations{
    // 1: the log
    R"sql(
      CREATE TABLE events(
        gseq INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        seq INTEGER NOT NULL,
        op TEXT NOT NULL,
        kind TEXT NOT NULL,
        frame TEXT NOT NULL,
        UNIQUE(scope, seq)
      );
      CREATE TABLE ops(
        id TEXT PRIMARY KEY,
        actor TEXT NOT NULL,
        device TEXT NOT NULL,
        kind TEXT NOT NULL,
        ok INTEGER NOT NULL,
        ack TEXT NOT NULL,
        at TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE tokens(
        digest TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        device TEXT NOT NULL,
        created TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE cursors(
        user TEXT NOT NULL,
        device TEXT NOT NULL,
        scope TEXT NOT NULL,
        seq INTEGER NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY(user, device, scope)
      ) WITHOUT ROWID;
    )sql",
    // 2: named values
    R"sql(
      CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    )sql",
    // 3: the hotline's sealed notes
    R"sql(
      CREATE TABLE hotline_notes(
        call TEXT PRIMARY KEY,
        nonce BLOB NOT NULL,
        box BLOB NOT NULL,
        at TEXT NOT NULL
      );
      CREATE INDEX hotline_notes_at ON hotline_notes(at);
    )sql",
};

Db open_log(const std::string& data_dir) {
  muster::store::OpenOptions options;
  options.durability = muster::store::Durability::full;
  // A purge deletes sealed notes: overwrite them rather than leave them in free pages.
  options.secure_delete = true;
  options.owner_only = true;  // every op, token digest and sealed note
  Db db = Db::open((std::filesystem::path(data_dir) / "log.db").string(), options);
  muster::store::migrate(db, kMigrations);
  return db;
}

}  // namespace

LogStore::LogStore(const std::string& data_dir) : LogStore(open_log(data_dir)) {}

LogStore LogStore::open_read_only(const std::string& data_dir) {
  muster::store::OpenOptions options;
  options.create = false;
  options.read_only = true;
  return LogStore(Db::open((std::filesystem::path(data_dir) / "log.db").string(), options));
}

LogStore::LogStore(Db db)
    : db_(std::move(db)),
      insert_event_(db_.prepare("INSERT INTO events(gseq, scope, seq, op, kind, frame) VALUES (?1,?2,?3,?4,?5,?6)")),
      insert_op_(db_.prepare("INSERT INTO ops(id, actor, device, kind, ok, ack, at) VALUES (?1,?2,?3,?4,?5,?6,?7)")),
      find_op_(db_.prepare("SELECT actor, ack, ok FROM ops WHERE id = ?1")),
      read_scope_(db_.prepare("SELECT seq, frame FROM events WHERE scope = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")),
      upsert_cursor_(db_.prepare(
          "INSERT INTO cursors(user, device, scope, seq, updated) VALUES (?1,?2,?3,?4,?5) "
          "ON CONFLICT(user, device, scope) DO UPDATE SET seq = max(seq, excluded.seq), updated = excluded.updated")),
      read_after_(db_.prepare("SELECT gseq, scope, seq, frame FROM events WHERE gseq > ?1 ORDER BY gseq LIMIT ?2")) {}

std::vector<LogStore::LoggedEvent> LogStore::read_after(std::int64_t after_gseq, int limit) {
  std::vector<LoggedEvent> out;
  read_after_.bind(1, after_gseq).bind(2, limit);
  while (read_after_.step()) {
    out.push_back({read_after_.int64(0), read_after_.text(1), read_after_.int64(2), read_after_.text(3)});
  }
  return out;
}

std::string LogStore::meta(const std::string& key) {
  auto s = db_.prepare("SELECT value FROM meta WHERE key = ?1");
  s.bind(1, key);
  if (!s.step()) return {};
  std::string v = s.text(0);
  s.reset();
  return v;
}

std::map<std::string, std::int64_t> LogStore::read_cursors(const std::string& user, const std::string& device) {
  std::map<std::string, std::int64_t> out;
  auto s = db_.prepare("SELECT scope, seq FROM cursors WHERE user = ?1 AND device = ?2");
  s.bind(1, user).bind(2, device);
  while (s.step()) out[s.text(0)] = s.int64(1);
  return out;
}

void LogStore::set_meta(const std::string& key, const std::string& value) {
  db_.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)").bind(1, key).bind(2, value).run();
}

std::optional<StoredNote> LogStore::hotline_note(const std::string& call) {
  auto s = db_.prepare("SELECT nonce, box, at FROM hotline_notes WHERE call = ?1");
  s.bind(1, call);
  if (!s.step()) return std::nullopt;
  StoredNote note{s.blob(0), s.blob(1), s.text(2)};
  s.reset();
  return note;
}

std::vector<std::string> LogStore::hotline_notes_before(const std::string& before) {
  std::vector<std::string> out;
  auto s = db_.prepare("SELECT call FROM hotline_notes WHERE at < ?1 ORDER BY at, call");
  s.bind(1, before);
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::int64_t LogStore::count_hotline_notes() {
  auto s = db_.prepare("SELECT count(*) FROM hotline_notes");
  s.step();
  auto n = s.int64(0);
  s.reset();
  return n;
}

void LogStore::save_hotline_note(const std::string& call, const StoredNote& note) {
  db_.prepare("INSERT INTO hotline_notes(call, nonce, box, at) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, call)
      .bind_blob(2, note.nonce)
      .bind_blob(3, note.box)
      .bind(4, note.at)
      .run();
}

void LogStore::delete_hotline_note(const std::string& call) {
  db_.prepare("DELETE FROM hotline_notes WHERE call = ?1").bind(1, call).run();
}

void LogStore::for_each_event(const std::function<void(const muster::domain::Event&)>& fn) {
  auto s = db_.prepare("SELECT frame FROM events ORDER BY gseq");
  while (s.step()) {
    auto j = nlohmann::json::parse(s.text_view(0), nullptr, false);
    auto e = muster::protocol::event_from_json(j);
    if (!e) throw std::runtime_error("log.db holds an unreadable event: " + e.error().message);
    fn(*e);
  }
}

std::map<std::string, std::int64_t> LogStore::scope_heads() {
  std::map<std::string, std::int64_t> out;
  auto s = db_.prepare("SELECT scope, max(seq) FROM events GROUP BY scope");
  while (s.step()) out[s.text(0)] = s.int64(1);
  return out;
}

std::map<std::string, std::int64_t> LogStore::scope_heads_through(std::int64_t gseq) {
  std::map<std::string, std::int64_t> out;
  auto s = db_.prepare("SELECT scope, max(seq) FROM events WHERE gseq <= ?1 GROUP BY scope");
  s.bind(1, gseq);
  while (s.step()) out[s.text(0)] = s.int64(1);
  return out;
}

std::int64_t LogStore::last_gseq() {
  auto s = db_.prepare("SELECT coalesce(max(gseq), 0) FROM events");
  s.step();
  auto v = s.int64(0);
  s.reset();
  return v;
}

std::int64_t LogStore::count_events() {
  auto s = db_.prepare("SELECT count(*) FROM events");
  s.step();
  auto v = s.int64(0);
  s.reset();
  return v;
}

std::optional<StoredOp> LogStore::find_op(const muster::domain::OpId& id) {
  find_op_.bind(1, id.str());
  if (!find_op_.step()) return std::nullopt;
  StoredOp op{find_op_.text(0), find_op_.text(1), find_op_.int64(2) != 0};
  find_op_.reset();
  return op;
}

std::vector<std::pair<std::int64_t, std::string>> LogStore::read_scope(const std::string& scope, std::int64_t after,
                                                                       int limit) {
  std::vector<std::pair<std::int64_t, std::string>> out;
  read_scope_.bind(1, scope).bind(2, after).bind(3, limit);
  while (read_scope_.step()) out.emplace_back(read_scope_.int64(0), read_scope_.text(1));
  return out;
}

std::optional<TokenRecord> LogStore::find_token(const std::string& digest) {
  auto s = db_.prepare("SELECT user, device FROM tokens WHERE digest = ?1");
  s.bind(1, digest);
  if (!s.step()) return std::nullopt;
  TokenRecord t{s.text(0), s.text(1)};
  s.reset();
  return t;
}

void LogStore::append_event(const muster::domain::Event& e, const std::string& frame) {
  insert_event_.bind(1, e.gseq).bind(2, e.scope).bind(3, e.seq).bind(4, e.op.str()).bind(5, e.kind).bind(6, frame).run();
}

void LogStore::record_op(const muster::domain::OpId& id, const std::string& actor, const std::string& device,
                         const std::string& kind, bool ok, const std::string& ack, const std::string& at) {
  insert_op_.bind(1, id.str())
      .bind(2, actor)
      .bind(3, std::string(muster::utf8_prefix(device, kMaxAuditFieldBytes)))
      .bind(4, std::string(muster::utf8_prefix(kind, kMaxAuditFieldBytes))).bind(5, ok ? 1 : 0).bind(6, ack).bind(7, at).run();
}

void LogStore::save_token(const std::string& digest, const std::string& user, const std::string& device,
                          const std::string& at) {
  db_.prepare("INSERT OR REPLACE INTO tokens(digest, user, device, created) VALUES (?1,?2,?3,?4)")
      .bind(1, digest)
      .bind(2, user)
      .bind(3, device)
      .bind(4, at)
      .run();
}

void LogStore::save_cursor(const std::string& user, const std::string& device, const std::string& scope,
                           std::int64_t seq, const std::string& at) {
  upsert_cursor_.bind(1, user).bind(2, device).bind(3, scope).bind(4, seq).bind(5, at).run();
}

}  // namespace musterd
