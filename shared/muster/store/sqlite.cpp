#include "muster/store/sqlite.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

namespace muster::store {
namespace {

// The message is built from sqlite3_errmsg before anything else touches the
// connection: any later call (even a reset) may overwrite it.
std::string describe(sqlite3* db, int code, std::string_view context, std::string_view sql) {
  std::string message = "sqlite: ";
  message += context;
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  message += " (code ";
  message += std::to_string(code);
  message += ")";
  if (!sql.empty()) {
    message += " in SQL: ";
    message += sql;
  }
  return message;
}

[[noreturn]] void fail(sqlite3* db, int code, std::string_view context, std::string_view sql = {}) {
  throw SqliteError(code, describe(db, code, context, sql));
}

std::string_view statement_sql(sqlite3_stmt* stmt) {
  const char* sql = sqlite3_sql(stmt);
  return sql != nullptr ? std::string_view(sql) : std::string_view();
}

int checked_length(std::size_t size) {
  if (size > static_cast<std::size_t>(INT_MAX)) {
    throw SqliteError(SQLITE_TOOBIG, "sqlite: SQL text longer than INT_MAX bytes");
  }
  return static_cast<int>(size);
}

bool is_memory_path(const std::string& path) { return path == ":memory:" || path.empty(); }

[[noreturn]] void fail_file(const std::string& what, const std::string& path) {
  throw SqliteError(SQLITE_CANTOPEN, "sqlite: " + what + " '" + path + "': " + std::strerror(errno));
}

// Creates `path` empty with mode 0600 if it does not exist (an empty file is an empty
// database to SQLite). With `fresh`, an existing file is an error.
void create_owner_only(const std::string& path, bool fresh) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (fresh ? O_EXCL : 0), 0600);
  if (fd < 0) fail_file(fresh ? "cannot create a new file" : "cannot create", path);
  ::close(fd);
}

// The database and the files SQLite keeps beside it, owner-only. SQLite gives a new
// -wal or -shm the database file's mode, so narrowing that one covers the later ones;
// those left by an older version that made them 0644 are narrowed here too.
void narrow_to_owner(const std::string& path, bool create) {
  if (create) create_owner_only(path, false);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string file = path + suffix;
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      fail_file("cannot read the mode of", file);
    }
    if ((st.st_mode & 0777) != 0600 && ::chmod(file.c_str(), 0600) != 0) fail_file("cannot make owner-only (chmod 600)", file);
  }
}

void remove_database_files(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
}

}  // namespace

// ---- Db ----

Db Db::open(const std::string& path, const OpenOptions& options) {
  int flags = SQLITE_OPEN_NOMUTEX;  // one thread owns a connection; skip SQLite's locking
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }

  if (options.owner_only && !options.read_only && !is_memory_path(path)) narrow_to_owner(path, options.create);

  sqlite3* handle = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  // From here on the Db owns the handle, so every throw below closes it.
  Db db(handle);
  if (rc != SQLITE_OK) fail(handle, rc, "cannot open '" + path + "'");

  sqlite3_extended_result_codes(handle, 1);
  // Set first, so the journal_mode change below already waits for other connections.
  sqlite3_busy_timeout(handle, options.busy_timeout_ms);

  // A read-only connection cannot change the journal mode; it uses whatever the
  // writer connection set up.
  if (!is_memory_path(path) && !options.read_only) {
    Stmt mode = db.prepare("PRAGMA journal_mode=WAL");
    // The pragma reports the resulting mode instead of failing, e.g. on file
    // systems without shared memory; the durability story depends on WAL, so insist.
    if (!mode.step() || mode.text(0) != "wal") {
      throw SqliteError(SQLITE_ERROR, "sqlite: cannot switch '" + path + "' to WAL journal mode");
    }
  }
  db.exec(options.durability == Durability::full ? "PRAGMA synchronous=FULL"
                                                 : "PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=ON");
  if (options.secure_delete) db.exec("PRAGMA secure_delete=ON");
  return db;
}

Db::Db(Db&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

// close_v2 rather than close: statements that outlive their Db are not a leak or
// an error, the connection is freed once the last of them is finalized.
Db::~Db() { sqlite3_close_v2(db_); }

void Db::exec(std::string_view sql) {
  // Statement by statement instead of sqlite3_exec, so an error names the one
  // statement of a multi-statement script (e.g. a migration) that failed.
  while (!sql.empty()) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.data(), checked_length(sql.size()), &raw, &tail);
    if (rc != SQLITE_OK) fail(db_, rc, "prepare failed", sql);
    const auto consumed = static_cast<std::size_t>(tail - sql.data());
    if (raw != nullptr) {  // null for whitespace or comments only
      Stmt stmt(raw, db_);
      stmt.run();
    }
    sql.remove_prefix(consumed);
  }
}

Stmt Db::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), checked_length(sql.size()), &raw, &tail);
  if (rc != SQLITE_OK) fail(db_, rc, "prepare failed", sql);
  if (raw == nullptr) throw SqliteError(SQLITE_MISUSE, "sqlite: prepare of empty SQL");
  Stmt stmt(raw, db_);

  // SQLite silently ignores everything after the first statement; a second one
  // here is a bug that would otherwise just never run.
  const std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  sqlite3_stmt* extra = nullptr;
  if (sqlite3_prepare_v2(db_, rest.data(), checked_length(rest.size()), &extra, nullptr) ==
          SQLITE_OK &&
      extra == nullptr) {
    return stmt;
  }
  sqlite3_finalize(extra);
  throw SqliteError(SQLITE_MISUSE,
                    "sqlite: prepare takes exactly one statement, got more in SQL: " +
                        std::string(sql));
}

std::int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int Db::changes() const { return sqlite3_changes(db_); }

std::int64_t Db::total_changes() const { return sqlite3_total_changes64(db_); }

void Db::set_busy_timeout(int ms) { sqlite3_busy_timeout(db_, ms); }

int Db::user_version() {
  Stmt stmt = prepare("PRAGMA user_version");
  if (!stmt.step()) throw SqliteError(SQLITE_ERROR, "sqlite: PRAGMA user_version returned no row");
  return static_cast<int>(stmt.int64(0));
}

void Db::backup_to(const std::string& dest_path) {
  create_owner_only(dest_path, true);
  try {
    sqlite3* handle = nullptr;
    const int rc = sqlite3_open_v2(dest_path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    Db dest(handle);
    if (rc != SQLITE_OK) fail(handle, rc, "cannot open '" + dest_path + "'");
    sqlite3_extended_result_codes(handle, 1);
    sqlite3_backup* backup = sqlite3_backup_init(handle, "main", db_, "main");
    if (backup == nullptr) fail(handle, sqlite3_extended_errcode(handle), "cannot start the backup to '" + dest_path + "'");
    // All pages in one step: one read transaction, so one snapshot. The source is
    // busy only while another connection recovers its WAL; a bounded wait covers it.
    int step = SQLITE_OK;
    for (int attempt = 0; attempt < 100; ++attempt) {
      step = sqlite3_backup_step(backup, -1);
      if (step != SQLITE_BUSY && step != SQLITE_LOCKED) break;
      sqlite3_sleep(50);
    }
    const int finish = sqlite3_backup_finish(backup);
    if (step != SQLITE_DONE) fail(nullptr, step, "backup to '" + dest_path + "' failed");
    if (finish != SQLITE_OK) fail(handle, finish, "backup to '" + dest_path + "' failed");
    // The copy took the source's WAL mode from its header: one self-contained file instead.
    Stmt mode = dest.prepare("PRAGMA journal_mode=DELETE");
    if (!mode.step() || mode.text(0) != "delete") {
      throw SqliteError(SQLITE_ERROR, "sqlite: cannot make the backup '" + dest_path + "' a single file");
    }
    mode.reset();
    const std::string check = dest.quick_check();
    if (check != "ok") throw SqliteError(SQLITE_CORRUPT, "sqlite: the backup '" + dest_path + "' fails its check: " + check);
  } catch (...) {
    remove_database_files(dest_path);
    throw;
  }
}

bool Db::checkpoint_truncate() {
  Stmt stmt = prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  if (!stmt.step()) throw SqliteError(SQLITE_ERROR, "sqlite: PRAGMA wal_checkpoint returned no row");
  const bool complete = stmt.int64(0) == 0;
  stmt.reset();
  return complete;
}

std::string Db::quick_check() {
  Stmt stmt = prepare("PRAGMA quick_check");
  std::string out;
  while (stmt.step()) {
    if (!out.empty()) out += "; ";
    out += stmt.text(0);
  }
  return out;
}

// ---- Stmt ----

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(std::exchange(other.db_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

namespace {

void check_bind(sqlite3* db, sqlite3_stmt* stmt, int rc, int index) {
  if (rc != SQLITE_OK) {
    fail(db, rc, "bind of parameter " + std::to_string(index) + " failed", statement_sql(stmt));
  }
}

}  // namespace

Stmt& Stmt::bind(int index, std::int64_t value) {
  check_bind(db_, stmt_, sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Stmt& Stmt::bind(int index, double value) {
  check_bind(db_, stmt_, sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  // An empty string_view may have a null data(), which SQLite would bind as NULL;
  // an empty string must stay an empty string.
  const char* data = text.empty() ? "" : text.data();
  check_bind(db_, stmt_,
             sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
             index);
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  check_bind(db_, stmt_, sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Stmt& Stmt::bind(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bind_null(index);
}

Stmt& Stmt::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob with a null pointer would bind as NULL.
  static const char kNothing = 0;
  const char* data = bytes.empty() ? &kNothing : bytes.data();
  check_bind(db_, stmt_, sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT), index);
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    reset();
    return false;
  }
  const std::string message = describe(db_, rc, "step failed", statement_sql(stmt_));
  sqlite3_reset(stmt_);
  throw SqliteError(rc, message);
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  // sqlite3_reset repeats the error of the last step, which step() already threw.
  sqlite3_reset(stmt_);
  // Cleared as well, so a reused statement never silently runs with stale values
  // for a parameter the caller forgot to bind.
  sqlite3_clear_bindings(stmt_);
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Stmt::text(int col) const { return std::string(text_view(col)); }

std::string_view Stmt::text_view(int col) const {
  // Text first, then bytes: that order is what SQLite documents as safe, since the
  // text call may convert the value and change its length.
  const unsigned char* data = sqlite3_column_text(stmt_, col);
  if (data == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, col);
  return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
}

std::string Stmt::blob(int col) const {
  // Blob first, then bytes, as for text.
  const void* data = sqlite3_column_blob(stmt_, col);
  if (data == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, col);
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

// ---- Transaction ----

Transaction::Transaction(Db& db) : db_(&db) {
  // IMMEDIATE takes the write lock now: a deferred transaction that upgrades later
  // can fail with SQLITE_BUSY midway, which busy_timeout cannot retry.
  db_->exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (done_) return;
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) already rolled back; ROLLBACK would
  // then fail, and a destructor has nowhere to report that.
  if (sqlite3_get_autocommit(db_->db_) == 0) {
    sqlite3_exec(db_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  done_ = true;
  try {
    db_->exec("COMMIT");
  } catch (...) {
    // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open; leaving it
    // open would make the next BEGIN on this connection fail too.
    if (sqlite3_get_autocommit(db_->db_) == 0) {
      sqlite3_exec(db_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    throw;
  }
}

// ---- migrations ----

void migrate(Db& db, const std::vector<std::string>& migrations) {
  const auto latest = static_cast<std::int64_t>(migrations.size());
  const auto checked_version = [&] {
    const int version = db.user_version();
    if (version < 0) {
      throw std::runtime_error("database schema version " + std::to_string(version) +
                               " is not one muster writes");
    }
    if (version > latest) {
      throw std::runtime_error("database schema version " + std::to_string(version) +
                               " is newer than this program supports (" +
                               std::to_string(latest) + ")");
    }
    return version;
  };

  // Checked before BEGIN IMMEDIATE so an up-to-date database never takes the write lock.
  if (checked_version() == latest) return;

  Transaction tx(db);
  // Read again under the write lock: another process may have migrated between
  // the check above and BEGIN IMMEDIATE.
  const int current = checked_version();
  // Migrations run inside this transaction, so they must not BEGIN/COMMIT
  // themselves, and PRAGMA foreign_keys is a no-op for them.
  for (auto i = static_cast<std::size_t>(current); i < migrations.size(); ++i) {
    try {
      db.exec(migrations[i]);
    } catch (const SqliteError& e) {
      throw SqliteError(e.code(), "migration " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  db.exec("PRAGMA user_version=" + std::to_string(latest));
  tx.commit();
}

}  // namespace muster::store
