#include "musterd/core/directory.hpp"

#include <algorithm>
#include <filesystem>

#include "muster/base/time.hpp"
#include "muster/domain/headcount.hpp"

namespace musterd {

using muster::Errc;
using muster::make_error;
using muster::Status;
using muster::store::Db;
using muster::store::Transaction;
namespace domain = muster::domain;

namespace {

const std::vector<std::string> kMigrations{
    // 1: users and areas
    R"sql(
      CREATE TABLE areas(path TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE users(
        name TEXT PRIMARY KEY,
        display TEXT NOT NULL,
        roles TEXT NOT NULL,
        area TEXT NOT NULL REFERENCES areas(path),
        password TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
      ) WITHOUT ROWID;
    )sql",
    // 2: broker credentials and settings
    R"sql(
      ALTER TABLE users ADD COLUMN broker_hash TEXT NOT NULL DEFAULT '';
      CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    )sql",
    // 3: skills, comma-separated
    R"sql(
      ALTER TABLE users ADD COLUMN skills TEXT NOT NULL DEFAULT '';
    )sql",
    // 4: the household registry
    R"sql(
      CREATE TABLE households(
        id TEXT PRIMARY KEY,
        area TEXT NOT NULL REFERENCES areas(path),
        address TEXT NOT NULL,
        members INTEGER NOT NULL,
        phone TEXT NOT NULL DEFAULT '',
        updated TEXT NOT NULL
      ) WITHOUT ROWID;
    )sql",
};

UserRecord read_user(muster::store::Stmt& s) {
  UserRecord u;
  u.name = s.text(0);
  u.display = s.text(1);
  u.roles = domain::Roles::parse(s.text(2)).value_or(domain::Roles{});
  u.area = s.text(3);
  u.password_hash = s.text(4);
  u.disabled = s.int64(5) != 0;
  u.broker_hash = s.text(6);
  u.skills = parse_skills(s.text(7)).value_or(std::vector<std::string>{});
  return u;
}

constexpr const char* kUserColumns =
    "SELECT name, display, roles, area, password, disabled, broker_hash, skills FROM users";

}  // namespace

bool UserRecord::has_skill(const std::string& skill) const {
  return std::find(skills.begin(), skills.end(), skill) != skills.end();
}

std::optional<std::vector<std::string>> parse_skills(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string skill(text.substr(start, comma - start));
    if (skill.empty() || skill.size() > 64 || skill.find_first_of(" \t\r\n") != std::string::npos) return std::nullopt;
    if (std::find(out.begin(), out.end(), skill) == out.end()) out.push_back(std::move(skill));
    start = comma + 1;
  }
  return out;
}

std::string join_skills(const std::vector<std::string>& skills) {
  std::string out;
  for (const auto& s : skills) out += (out.empty() ? "" : ",") + s;
  return out;
}

Directory::Directory(std::vector<UserRecord> users, std::vector<std::string> areas,
                     std::vector<HouseholdRecord> households)
    : areas_(std::move(areas)) {
  for (auto& u : users) {
    std::string name = u.name;
    users_.emplace(std::move(name), std::move(u));
  }
  area_set_.insert(areas_.begin(), areas_.end());
  for (auto& h : households) {
    std::string id = h.id;
    households_.emplace(std::move(id), std::move(h));
  }
}

const HouseholdRecord* Directory::household(std::string_view id) const {
  auto it = households_.find(id);
  return it == households_.end() ? nullptr : &it->second;
}

const UserRecord* Directory::user(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

std::optional<bool> Directory::area_exists(std::string_view path) const { return area_set_.count(path) > 0; }

std::optional<std::optional<domain::Actor>> Directory::find_user(std::string_view name) const {
  const UserRecord* u = user(name);
  if (!u || u->disabled) return std::optional<domain::Actor>{};
  return std::optional<domain::Actor>{u->actor()};
}

DirectoryStore DirectoryStore::open(const std::string& data_dir, bool writable, const muster::Clock& clock) {
  std::string path = (std::filesystem::path(data_dir) / "directory.db").string();
  muster::store::OpenOptions options;
  options.create = writable;
  options.read_only = !writable;
  options.owner_only = writable;  // password hashes, phone numbers
  DirectoryStore store(Db::open(path, options), clock);
  if (writable) muster::store::migrate(store.db_, kMigrations);
  return store;
}

void DirectoryStore::add_area(const std::string& path) {
  auto stmt = db_.prepare("INSERT OR IGNORE INTO areas(path) VALUES (?1)");
  for (const auto& a : domain::area_lineage(path)) stmt.bind(1, a).run();
}

Status DirectoryStore::add_user(const UserRecord& u) { return add_users({u}); }

Status DirectoryStore::add_users(const std::vector<UserRecord>& users) {
  Transaction tx(db_);
  for (const auto& u : users) {
    if (auto st = insert_user(u); !st) return st;
  }
  tx.commit();
  return {};
}

Status DirectoryStore::insert_user(const UserRecord& u) {
  if (!domain::valid_user_name(u.name)) {
    return make_error(Errc::invalid, "user names are 1-64 characters of a-z 0-9 . _ - : '" + u.name + "'");
  }
  if (!domain::valid_area_path(u.area)) return make_error(Errc::invalid, "invalid area path '" + u.area + "'");
  if (u.name == "musterd") return make_error(Errc::invalid, "the name musterd is reserved for the server");
  if (u.roles.empty()) return make_error(Errc::invalid, "a user needs at least one role");
  if (user(u.name)) return make_error(Errc::conflict, "user " + u.name + " already exists");
  add_area(u.area);
  db_.prepare(
         "INSERT INTO users(name, display, roles, area, password, disabled, created, broker_hash, skills) "
         "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)")
      .bind(1, u.name)
      .bind(2, u.display.empty() ? u.name : u.display)
      .bind(3, u.roles.to_string())
      .bind(4, u.area)
      .bind(5, u.password_hash)
      .bind(6, u.disabled ? 1 : 0)
      .bind(7, muster::format_utc(clock_->now_ms()))
      .bind(8, u.broker_hash)
      .bind(9, join_skills(u.skills))
      .run();
  return {};
}

Status DirectoryStore::set_skills(const std::string& name, const std::vector<std::string>& skills) {
  db_.prepare("UPDATE users SET skills = ?2 WHERE name = ?1").bind(1, name).bind(2, join_skills(skills)).run();
  if (db_.changes() == 0) return make_error(Errc::not_found, "no user " + name);
  return {};
}

Status DirectoryStore::set_password(const std::string& name, const std::string& hash,
                                    const std::string& broker_hash) {
  db_.prepare("UPDATE users SET password = ?2, broker_hash = ?3 WHERE name = ?1")
      .bind(1, name)
      .bind(2, hash)
      .bind(3, broker_hash)
      .run();
  if (db_.changes() == 0) return make_error(Errc::not_found, "no user " + name);
  return {};
}

Status DirectoryStore::set_disabled(const std::string& name, bool disabled) {
  db_.prepare("UPDATE users SET disabled = ?2 WHERE name = ?1").bind(1, name).bind(2, disabled ? 1 : 0).run();
  if (db_.changes() == 0) return make_error(Errc::not_found, "no user " + name);
  return {};
}

std::vector<UserRecord> DirectoryStore::users() {
  std::vector<UserRecord> out;
  auto s = db_.prepare(std::string(kUserColumns) + " ORDER BY name");
  while (s.step()) out.push_back(read_user(s));
  return out;
}

std::optional<UserRecord> DirectoryStore::user(const std::string& name) {
  auto s = db_.prepare(std::string(kUserColumns) + " WHERE name = ?1");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  auto u = read_user(s);
  s.reset();
  return u;
}

muster::Result<HouseholdImport> DirectoryStore::import_households(const std::vector<HouseholdRecord>& households,
                                                                 bool with_phone) {
  HouseholdImport counts;
  const std::string now = muster::format_utc(clock_->now_ms());
  Transaction tx(db_);
  auto find = db_.prepare("SELECT area, address, members, phone FROM households WHERE id = ?1");
  auto insert = db_.prepare(
      "INSERT INTO households(id, area, address, members, phone, updated) VALUES (?1,?2,?3,?4,?5,?6)");
  auto update = db_.prepare(
      "UPDATE households SET area = ?2, address = ?3, members = ?4, phone = ?5, updated = ?6 WHERE id = ?1");
  std::set<std::string> areas;
  for (const auto& h : households) {
    if (!domain::valid_household_id(h.id)) return make_error(Errc::invalid, "invalid household id '" + h.id + "'");
    if (!domain::valid_area_path(h.area)) return make_error(Errc::invalid, "invalid area path '" + h.area + "'");
    areas.insert(h.area);
  }
  for (const auto& a : areas) add_area(a);  // first: a household's area references areas(path)
  for (const auto& h : households) {
    HouseholdRecord want = h;
    find.bind(1, h.id);
    if (!find.step()) {
      insert.bind(1, want.id).bind(2, want.area).bind(3, want.address).bind(4, want.members).bind(5, want.phone)
          .bind(6, now).run();
      ++counts.added;
      continue;
    }
    HouseholdRecord have{h.id, find.text(0), find.text(1), static_cast<int>(find.int64(2)), find.text(3), ""};
    find.reset();
    if (!with_phone) want.phone = have.phone;
    if (want == have) {
      ++counts.unchanged;
      continue;
    }
    update.bind(1, want.id).bind(2, want.area).bind(3, want.address).bind(4, want.members).bind(5, want.phone)
        .bind(6, now).run();
    ++counts.updated;
  }
  tx.commit();
  return counts;
}

std::vector<HouseholdRecord> DirectoryStore::households() {
  std::vector<HouseholdRecord> out;
  auto s = db_.prepare("SELECT id, area, address, members, phone, updated FROM households ORDER BY id");
  while (s.step()) {
    out.push_back(HouseholdRecord{s.text(0), s.text(1), s.text(2), static_cast<int>(s.int64(3)), s.text(4), s.text(5)});
  }
  return out;
}

std::vector<std::string> DirectoryStore::areas() {
  std::vector<std::string> out;
  auto s = db_.prepare("SELECT path FROM areas ORDER BY path");
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::shared_ptr<const Directory> DirectoryStore::snapshot() {
  auto s = db_.prepare("BEGIN");  // one read transaction: users, areas and households from the same version
  s.run();
  auto d = std::make_shared<const Directory>(users(), areas(), households());
  db_.exec("COMMIT");
  return d;
}

std::string DirectoryStore::setting(const std::string& key) {
  auto s = db_.prepare("SELECT value FROM settings WHERE key = ?1");
  s.bind(1, key);
  if (!s.step()) return {};
  std::string v = s.text(0);
  s.reset();
  return v;
}

void DirectoryStore::set_setting(const std::string& key, const std::string& value) {
  db_.prepare("INSERT OR REPLACE INTO settings(key, value) VALUES (?1, ?2)").bind(1, key).bind(2, value).run();
}

std::int64_t DirectoryStore::data_version() {
  auto s = db_.prepare("PRAGMA data_version");
  s.step();
  auto v = s.int64(0);
  s.reset();
  return v;
}

}  // namespace musterd
