// A small RAII layer over SQLite: one Db per connection, prepared statements that
// are reset for reuse, transactions that roll back unless committed, and schema
// migrations numbered by PRAGMA user_version.
//
// SQLite failures (I/O error, disk full, corruption) throw SqliteError: they are
// exceptional and are turned into Errc::unavailable at the boundary that gates an
// acknowledgement. Constraint violations the caller expects are reported by
// Stmt::step returning false only where documented; otherwise they throw too.
//
// Threading: a Db and its statements belong to the thread that uses them. muster
// keeps exactly one writer connection per database file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace muster::store {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }  // the SQLite extended result code

 private:
  int code_;
};

enum class Durability {
  full,    // synchronous=FULL: a commit is on disk when it returns (gates acks)
  normal,  // synchronous=NORMAL: a commit may be lost on power failure, never corrupts
};

struct OpenOptions {
  bool create = true;            // create the file if missing
  bool read_only = false;
  Durability durability = Durability::full;
  int busy_timeout_ms = 5000;
  // PRAGMA secure_delete=ON: deleted content is overwritten with zeros in the file
  // instead of lingering in free pages (confidential data: outboxes, sealed notes).
  bool secure_delete = false;
  // The file (and its -wal and -shm) readable and writable by its owner only (0600):
  // created so, and an existing one's mode is narrowed to it. Not for read_only.
  bool owner_only = false;
};

class Stmt;

class Db {
 public:
  // Opens `path` (":memory:" for an in-memory database) in WAL mode (not for
  // :memory:), with foreign keys on and the given durability. Throws SqliteError.
  static Db open(const std::string& path, const OpenOptions& options = {});

  Db(Db&&) noexcept;
  Db& operator=(Db&&) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more SQL statements that return no rows. Throws SqliteError.
  void exec(std::string_view sql);

  // Prepares a statement. Throws SqliteError on a syntax error.
  Stmt prepare(std::string_view sql);

  std::int64_t last_insert_rowid() const;
  int changes() const;  // rows changed by the last statement
  std::int64_t total_changes() const;  // rows changed through this connection since it opened
  int user_version();
  // How long a statement waits for another connection's lock before it fails with
  // SQLITE_BUSY (OpenOptions::busy_timeout_ms at open).
  void set_busy_timeout(int ms);
  bool is_open() const { return db_ != nullptr; }  // false once moved from

  // Copies the whole database, as one consistent snapshot, into a new file at
  // `dest_path` (which must not exist; created 0600) with SQLite's online backup API.
  // The copy is made in one step, under one read transaction: in WAL mode the writer
  // goes on meanwhile. The copy is left a single file (journal_mode=DELETE) that passes
  // PRAGMA quick_check. Throws SqliteError (the partial file is removed).
  void backup_to(const std::string& dest_path);
  // PRAGMA wal_checkpoint(TRUNCATE): copies the WAL into the database and truncates it
  // to zero bytes if no reader is using it. Returns false when a reader kept part of
  // it (the next checkpoint catches up); throws SqliteError on failure.
  bool checkpoint_truncate();
  // PRAGMA quick_check: "ok", or the problems it found.
  std::string quick_check();

 private:
  friend class Transaction;
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A prepared statement. Bind indexes are 1-based as in SQLite; column indexes 0-based.
// step() returns true while there is a row; after the last row (or for statements
// without rows) it returns false and the statement is reset for reuse with its
// bindings cleared. reset() may be called at any time (it clears the bindings too).
class Stmt {
 public:
  Stmt(Stmt&&) noexcept;
  Stmt& operator=(Stmt&&) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Stmt& bind(int index, double value);
  Stmt& bind(int index, std::string_view text);   // copied (SQLITE_TRANSIENT)
  Stmt& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Stmt& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Stmt& bind_null(int index);
  Stmt& bind(int index, const std::optional<std::string>& text);  // null when empty
  Stmt& bind_blob(int index, std::string_view bytes);  // copied; an empty blob stays a blob

  bool step();   // throws SqliteError on failure (after resetting)
  void run();    // steps to completion, ignoring rows
  void reset();

  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::string_view text_view(int col) const;  // valid until the next step/reset
  std::string blob(int col) const;  // raw bytes

 private:
  friend class Db;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Db& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();  // throws SqliteError; the transaction is rolled back if COMMIT fails

 private:
  Db* db_;
  bool done_ = false;
};

// Brings the schema to the latest version. migrations[i] is the SQL that moves
// user_version from i to i+1; migrations are never edited once released, only
// appended. All pending migrations run in one transaction. Throws SqliteError, or
// std::runtime_error if the database is newer than this program (user_version >
// migrations.size()).
void migrate(Db& db, const std::vector<std::string>& migrations);

}  // namespace muster::store
