#include "muster/store/sqlite.hpp"

#include <doctest/doctest.h>

#include "../temp_dir.hpp"
#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using muster::store::Db;
using muster::store::Durability;
using muster::store::OpenOptions;
using muster::store::SqliteError;
using muster::store::Stmt;
using muster::store::Transaction;

namespace {

using muster_test::TempDir;

std::string query_text(Db& db, const std::string& sql) {
  Stmt stmt = db.prepare(sql);
  REQUIRE(stmt.step());
  return stmt.text(0);
}

std::int64_t query_int(Db& db, const std::string& sql) {
  Stmt stmt = db.prepare(sql);
  REQUIRE(stmt.step());
  return stmt.int64(0);
}

bool has_table(Db& db, const std::string& name) {
  Stmt stmt = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
  stmt.bind(1, name);
  REQUIRE(stmt.step());
  return stmt.int64(0) == 1;
}

std::vector<std::int64_t> migration_log(Db& db) {
  std::vector<std::int64_t> steps;
  Stmt stmt = db.prepare("SELECT step FROM log ORDER BY rowid");
  while (stmt.step()) steps.push_back(stmt.int64(0));
  return steps;
}

// Each migration records itself, so the log shows which ran and in what order.
const std::vector<std::string> kMigrations = {
    "CREATE TABLE log(step INTEGER NOT NULL); INSERT INTO log VALUES (1);",
    "CREATE TABLE task(id TEXT PRIMARY KEY); INSERT INTO log VALUES (2);",
    "ALTER TABLE task ADD COLUMN title TEXT; INSERT INTO log VALUES (3);",
};

}  // namespace

TEST_CASE("a file database opens in WAL mode with foreign keys on") {
  TempDir dir;
  const std::string path = dir.sub("muster.db");
  Db db = Db::open(path);
  CHECK(std::filesystem::exists(path));
  CHECK(query_text(db, "PRAGMA journal_mode") == "wal");
  CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
  CHECK(query_int(db, "PRAGMA synchronous") == 2);  // FULL

  db.exec("CREATE TABLE area(id INTEGER PRIMARY KEY);"
          "CREATE TABLE task(area INTEGER REFERENCES area(id));");
  try {
    db.exec("INSERT INTO task VALUES (42)");
    FAIL("a dangling foreign key was accepted");
  } catch (const SqliteError& e) {
    CHECK(e.code() == SQLITE_CONSTRAINT_FOREIGNKEY);
  }
}

TEST_CASE("open options: durability, in-memory, read-only, no create") {
  TempDir dir;
  const std::string path = dir.sub("muster.db");
  {
    OpenOptions normal;
    normal.durability = Durability::normal;
    Db db = Db::open(path, normal);
    CHECK(query_int(db, "PRAGMA synchronous") == 1);  // NORMAL
    db.exec("CREATE TABLE t(x)");
  }

  Db memory = Db::open(":memory:");
  CHECK(query_text(memory, "PRAGMA journal_mode") == "memory");
  CHECK(query_int(memory, "PRAGMA foreign_keys") == 1);

  OpenOptions read_only;
  read_only.read_only = true;
  Db reader = Db::open(path, read_only);
  CHECK(query_text(reader, "PRAGMA journal_mode") == "wal");
  try {
    reader.exec("INSERT INTO t VALUES (1)");
    FAIL("a read-only connection wrote");
  } catch (const SqliteError& e) {
    CHECK((e.code() & 0xFF) == SQLITE_READONLY);
  }

  OpenOptions no_create;
  no_create.create = false;
  const std::string missing = dir.sub("missing.db");
  try {
    Db::open(missing, no_create);
    FAIL("opened a missing file without create");
  } catch (const SqliteError& e) {
    CHECK(e.code() == SQLITE_CANTOPEN);
    CHECK(std::string(e.what()).find(missing) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(missing));
}

TEST_CASE("a statement is reset for reuse when step returns false") {
  Db db = Db::open(":memory:");
  db.exec("CREATE TABLE t(n INTEGER)");
  Stmt insert = db.prepare("INSERT INTO t VALUES (?1)");
  for (int n = 1; n <= 3; ++n) {
    CHECK_FALSE(insert.bind(1, n).step());
    CHECK(db.changes() == 1);
    CHECK(db.last_insert_rowid() == n);
  }

  Stmt select = db.prepare("SELECT n FROM t ORDER BY n");
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    std::vector<std::int64_t> seen;
    while (select.step()) seen.push_back(select.int64(0));
    CHECK(seen == std::vector<std::int64_t>{1, 2, 3});
  }

  // Reset mid-way, then the statement starts from the first row again.
  REQUIRE(select.step());
  REQUIRE(select.step());
  CHECK(select.int64(0) == 2);
  select.reset();
  REQUIRE(select.step());
  CHECK(select.int64(0) == 1);
}

TEST_CASE("bindings are cleared once a statement is done") {
  Db db = Db::open(":memory:");
  Stmt stmt = db.prepare("SELECT ?1 IS NULL, ?1");
  stmt.bind(1, 7);
  REQUIRE(stmt.step());
  CHECK(stmt.int64(0) == 0);
  CHECK(stmt.int64(1) == 7);
  CHECK_FALSE(stmt.step());

  REQUIRE(stmt.step());  // rerun without binding: the old 7 is gone
  CHECK(stmt.int64(0) == 1);
}

TEST_CASE("bind and column round-trip every type") {
  Db db = Db::open(":memory:");
  db.exec("CREATE TABLE v(i INTEGER, r REAL, t TEXT, n TEXT, e TEXT, o TEXT, p TEXT, z TEXT)");
  const std::string chinese = "白菜2斤，安泰街道 ✓";
  const std::string with_nul("a\0b", 3);
  const std::optional<std::string> absent;
  const std::optional<std::string> present = "有";
  db.prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
      .bind(1, std::numeric_limits<std::int64_t>::min())
      .bind(2, 2.5)
      .bind(3, chinese)
      .bind_null(4)
      .bind(5, std::string_view())  // data() is null: must still bind '', not NULL
      .bind(6, absent)
      .bind(7, present)
      .bind(8, with_nul)
      .run();

  Stmt row = db.prepare("SELECT i, r, t, n, e, o, p, z, length(t), typeof(e) FROM v");
  REQUIRE(row.step());
  CHECK(row.int64(0) == std::numeric_limits<std::int64_t>::min());
  CHECK(row.real(1) == 2.5);
  CHECK(row.text(2) == chinese);
  CHECK(row.text_view(2) == chinese);
  CHECK(row.int64(8) == 11);  // SQLite counts characters, so it stored UTF-8 text
  CHECK_FALSE(row.is_null(2));
  CHECK(row.is_null(3));
  CHECK(row.text(3).empty());
  CHECK_FALSE(row.is_null(4));  // an empty string is not NULL
  CHECK(row.text(4).empty());
  CHECK(row.text(9) == "text");
  CHECK(row.is_null(5));
  CHECK(row.text(6) == "有");
  CHECK(row.text(7) == with_nul);
  CHECK_FALSE(row.step());

  Stmt max = db.prepare("SELECT ?1");
  max.bind(1, std::numeric_limits<std::int64_t>::max());
  REQUIRE(max.step());
  CHECK(max.int64(0) == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("a transaction rolls back unless committed") {
  TempDir dir;
  const std::string path = dir.sub("muster.db");
  {
    Db db = Db::open(path);
    db.exec("CREATE TABLE t(x TEXT)");
    {
      Transaction tx(db);
      db.exec("INSERT INTO t VALUES ('dropped')");
      CHECK(query_int(db, "SELECT count(*) FROM t") == 1);
    }
    CHECK(query_int(db, "SELECT count(*) FROM t") == 0);
    {
      Transaction tx(db);
      db.exec("INSERT INTO t VALUES ('kept')");
      tx.commit();
    }
    CHECK(query_int(db, "SELECT count(*) FROM t") == 1);

    // The connection is usable for another transaction afterwards.
    Transaction again(db);
    again.commit();
  }
  Db reopened = Db::open(path);
  CHECK(query_text(reopened, "SELECT x FROM t") == "kept");
}

TEST_CASE("BEGIN IMMEDIATE takes the write lock at once") {
  TempDir dir;
  const std::string path = dir.sub("muster.db");
  Db first = Db::open(path);
  first.exec("CREATE TABLE t(x)");
  OpenOptions impatient;
  impatient.busy_timeout_ms = 0;
  Db second = Db::open(path, impatient);

  Transaction tx(first);  // no write yet
  try {
    Transaction blocked(second);
    FAIL("two write transactions at once");
  } catch (const SqliteError& e) {
    CHECK((e.code() & 0xFF) == SQLITE_BUSY);
  }
}

TEST_CASE("migrate applies pending migrations in order, once") {
  TempDir dir;
  const std::string path = dir.sub("muster.db");
  Db db = Db::open(path);
  CHECK(db.user_version() == 0);

  muster::store::migrate(db, kMigrations);
  CHECK(db.user_version() == 3);
  CHECK(migration_log(db) == std::vector<std::int64_t>{1, 2, 3});
  db.exec("INSERT INTO task(id, title) VALUES ('a', 'b')");  // migration 3's column

  muster::store::migrate(db, kMigrations);
  CHECK(db.user_version() == 3);
  CHECK(migration_log(db) == std::vector<std::int64_t>{1, 2, 3});

  std::vector<std::string> extended = kMigrations;
  extended.push_back("CREATE TABLE notice(id TEXT); INSERT INTO log VALUES (4);");
  muster::store::migrate(db, extended);
  CHECK(db.user_version() == 4);
  CHECK(migration_log(db) == std::vector<std::int64_t>{1, 2, 3, 4});
  CHECK(has_table(db, "notice"));
}

TEST_CASE("a failing migration changes nothing") {
  Db db = Db::open(":memory:");
  muster::store::migrate(db, kMigrations);

  std::vector<std::string> broken = kMigrations;
  broken.push_back("CREATE TABLE notice(id TEXT); INSERT INTO log VALUES (4);");
  broken.push_back("CREATE TABLE extra(x); INSERT INTO nowhere VALUES (5);");
  try {
    muster::store::migrate(db, broken);
    FAIL("the broken migration succeeded");
  } catch (const SqliteError& e) {
    const std::string what = e.what();
    CHECK(what.find("migration 5") != std::string::npos);
    CHECK(what.find("no such table: nowhere") != std::string::npos);
    CHECK(what.find("INSERT INTO nowhere") != std::string::npos);
  }
  CHECK(db.user_version() == 3);
  CHECK(migration_log(db) == std::vector<std::int64_t>{1, 2, 3});
  CHECK_FALSE(has_table(db, "notice"));  // the good migration before it is undone too
  CHECK_FALSE(has_table(db, "extra"));

  // Fixed, it applies cleanly.
  broken.back() = "CREATE TABLE extra(x); INSERT INTO log VALUES (5);";
  muster::store::migrate(db, broken);
  CHECK(db.user_version() == 5);
  CHECK(migration_log(db) == std::vector<std::int64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("a database newer than the program is refused") {
  Db db = Db::open(":memory:");
  muster::store::migrate(db, kMigrations);
  db.exec("PRAGMA user_version=7");
  const std::vector<std::string> older(kMigrations.begin(), kMigrations.begin() + 2);
  CHECK_THROWS_AS(muster::store::migrate(db, older), std::runtime_error);
  CHECK_THROWS_AS(muster::store::migrate(db, kMigrations), std::runtime_error);
  CHECK(db.user_version() == 7);
  CHECK(migration_log(db) == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("SqliteError names the error and the SQL") {
  Db db = Db::open(":memory:");
  try {
    db.prepare("SELEC 1");
    FAIL("bad SQL prepared");
  } catch (const SqliteError& e) {
    CHECK(e.code() == SQLITE_ERROR);
    const std::string what = e.what();
    CHECK(what.find("syntax error") != std::string::npos);
    CHECK(what.find("SELEC 1") != std::string::npos);
  }

  // exec names the statement of a script that failed.
  try {
    db.exec("CREATE TABLE ok(x); SELECT * FROM missing_table;");
    FAIL("bad SQL ran");
  } catch (const SqliteError& e) {
    const std::string what = e.what();
    CHECK(what.find("no such table: missing_table") != std::string::npos);
    CHECK(what.find("SELECT * FROM missing_table") != std::string::npos);
  }

  CHECK_THROWS_AS(db.prepare("SELECT 1; SELECT 2"), SqliteError);
  CHECK_THROWS_AS(db.prepare("  -- nothing"), SqliteError);
  CHECK_THROWS_AS(db.prepare("SELECT ?1").bind(2, 1), SqliteError);  // no such parameter
}

TEST_CASE("a constraint violation in step throws and leaves the statement usable") {
  Db db = Db::open(":memory:");
  db.exec("CREATE TABLE t(id TEXT PRIMARY KEY)");
  Stmt insert = db.prepare("INSERT INTO t VALUES (?1)");
  insert.bind(1, "a").run();
  try {
    insert.bind(1, "a").step();
    FAIL("duplicate key accepted");
  } catch (const SqliteError& e) {
    CHECK(e.code() == SQLITE_CONSTRAINT_PRIMARYKEY);
    const std::string what = e.what();
    CHECK(what.find("UNIQUE constraint failed: t.id") != std::string::npos);
    CHECK(what.find("INSERT INTO t VALUES (?1)") != std::string::npos);
  }
  insert.bind(1, "b").run();
  CHECK(query_int(db, "SELECT count(*) FROM t") == 2);
}

TEST_CASE("Db and Stmt move") {
  Db db = Db::open(":memory:");
  db.exec("CREATE TABLE t(x)");
  Db moved = std::move(db);
  CHECK_FALSE(db.is_open());  // NOLINT(bugprone-use-after-move)
  Stmt a = moved.prepare("SELECT count(*) FROM t");
  Stmt b = std::move(a);
  REQUIRE(b.step());
  CHECK(b.int64(0) == 0);
}

TEST_CASE("blobs round-trip raw bytes, NULs and all; an empty blob is not NULL") {
  Db db = Db::open(":memory:");
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)");
  const std::string bytes("\0\x01\xff nonce\0box", 13);
  db.prepare("INSERT INTO t(id, b) VALUES (1, ?1)").bind_blob(1, bytes).run();
  db.prepare("INSERT INTO t(id, b) VALUES (2, ?1)").bind_blob(1, std::string_view()).run();
  auto s = db.prepare("SELECT b, typeof(b) FROM t ORDER BY id");
  REQUIRE(s.step());
  CHECK(s.blob(0) == bytes);
  CHECK(s.text(1) == "blob");
  REQUIRE(s.step());
  CHECK(s.blob(0).empty());
  CHECK_FALSE(s.is_null(0));
  CHECK(s.text(1) == "blob");
  CHECK_FALSE(s.step());
}

TEST_CASE("secure_delete overwrites deleted rows in the file") {
  // Debian builds SQLite with secure_delete on by default, other platforms do not: the
  // option makes it so everywhere.
  TempDir dir;
  const std::string secret = "a secret that must not outlive its row";
  const std::string path = dir.sub("secure.db");
  OpenOptions options;
  options.secure_delete = true;
  {
    Db db = Db::open(path, options);
    CHECK(query_int(db, "PRAGMA secure_delete") == 1);
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    db.prepare("INSERT INTO t(id, v) VALUES (1, ?1)").bind(1, secret).run();
    db.exec("INSERT INTO t(id, v) VALUES (2, 'keep')");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.exec("DELETE FROM t WHERE id = 1");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  std::ifstream in(path, std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(raw.find("keep") != std::string::npos);
  CHECK(raw.find(secret) == std::string::npos);
}

namespace {
int file_mode(const std::string& path) {
  std::error_code ec;
  const auto perms = std::filesystem::status(path, ec).permissions();
  return ec ? -1 : static_cast<int>(perms & std::filesystem::perms::mask);
}
}  // namespace

TEST_CASE("owner_only: a new database and its -wal and -shm are 0600, an older 0644 one is narrowed") {
  TempDir dir;
  const std::string path = dir.sub("log.db");
  OpenOptions options;
  options.owner_only = true;
  {
    Db db = Db::open(path, options);
    db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    CHECK(file_mode(path) == 0600);
    CHECK(file_mode(path + "-wal") == 0600);
    CHECK(file_mode(path + "-shm") == 0600);
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                         std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  REQUIRE(file_mode(path) == 0644);
  Db again = Db::open(path, options);
  CHECK(file_mode(path) == 0600);
  CHECK(query_int(again, "SELECT x FROM t") == 1);
}

TEST_CASE("backup_to copies one snapshot into a new single file; it never replaces one") {
  TempDir dir;
  Db db = Db::open(dir.sub("log.db"));
  db.exec("CREATE TABLE t(x); INSERT INTO t VALUES ('米'), ('药')");
  // Another connection's open read transaction does not stop it.
  Db reader = Db::open(dir.sub("log.db"));
  reader.exec("BEGIN");
  CHECK(query_int(reader, "SELECT count(*) FROM t") == 2);
  db.backup_to(dir.sub("copy.db"));
  reader.exec("COMMIT");
  CHECK(file_mode(dir.sub("copy.db")) == 0600);
  CHECK_FALSE(std::filesystem::exists(dir.sub("copy.db-wal")));
  OpenOptions read_only;
  read_only.read_only = true;
  read_only.create = false;
  Db copy = Db::open(dir.sub("copy.db"), read_only);
  CHECK(query_text(copy, "PRAGMA journal_mode") == "delete");
  CHECK(query_int(copy, "SELECT count(*) FROM t") == 2);
  CHECK(copy.quick_check() == "ok");

  db.exec("INSERT INTO t VALUES ('水')");
  CHECK_THROWS_AS(db.backup_to(dir.sub("copy.db")), SqliteError);
  CHECK(query_int(copy, "SELECT count(*) FROM t") == 2);  // untouched
}

TEST_CASE("checkpoint_truncate empties the WAL once nobody reads it") {
  TempDir dir;
  Db db = Db::open(dir.sub("log.db"));
  db.exec("CREATE TABLE t(x)");
  for (int i = 0; i < 50; ++i) db.exec("INSERT INTO t VALUES (randomblob(1000))");
  REQUIRE(std::filesystem::file_size(dir.sub("log.db-wal")) > 0);
  CHECK(db.checkpoint_truncate());
  CHECK(std::filesystem::file_size(dir.sub("log.db-wal")) == 0);
  CHECK(query_int(db, "SELECT count(*) FROM t") == 50);
}

TEST_CASE("checkpoint_truncate with no busy timeout does not wait for a reader, and finishes later") {
  TempDir dir;
  Db db = Db::open(dir.sub("log.db"));
  db.set_busy_timeout(0);  // as the server's hub does around it
  db.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
  Db reader = Db::open(dir.sub("log.db"));
  reader.exec("BEGIN");
  CHECK(query_int(reader, "SELECT count(*) FROM t") == 1);  // holds its snapshot
  db.exec("INSERT INTO t VALUES (2)");
  CHECK_FALSE(db.checkpoint_truncate());
  reader.exec("COMMIT");
  CHECK(db.checkpoint_truncate());
  CHECK(std::filesystem::file_size(dir.sub("log.db-wal")) == 0);
}
