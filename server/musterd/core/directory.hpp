// The user and area directory: `directory.db` in the data dir, with the household
// registry (`musterd import households`).
//
// Written only by the admin commands (`musterd init`, `musterd user …`, `musterd
// import households`), read by the
// serving process, which reloads its in-memory Directory when the file changes
// (PRAGMA data_version). So each database file has one writer: the server writes
// only log.db, the admin commands only directory.db.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/context.hpp"
#include "muster/store/sqlite.hpp"

namespace musterd {

struct UserRecord {
  std::string name;
  std::string display;
  muster::domain::Roles roles;
  std::string area;
  std::string password_hash;
  std::string broker_hash;  // the password in Mosquitto's format; empty for users made before MQTT
  bool disabled = false;
  std::vector<std::string> skills{};  // e.g. "driver", "medic": what offer dispatch matches

  bool has_skill(const std::string& skill) const;

  muster::domain::Actor actor() const { return {name, roles, area}; }
};

// One household of the registry. The phone stays on the server: the Engine publishes
// the rest (household.registered / household.updated) and tells the phone only to
// those who manage the household's area (query household.contact).
struct HouseholdRecord {
  std::string id;    // domain::valid_household_id
  std::string area;  // its building
  std::string address;
  int members = 0;
  std::string phone;
  std::string updated{};  // when an import last added or changed it (RFC 3339)

  bool operator==(const HouseholdRecord& o) const {
    return id == o.id && area == o.area && address == o.address && members == o.members && phone == o.phone;
  }
};

struct HouseholdImport {
  int added = 0;
  int updated = 0;
  int unchanged = 0;
};

// An immutable snapshot of users, areas and the household registry. Implements the
// reducers' Directory.
class Directory final : public muster::domain::Directory {
 public:
  Directory(std::vector<UserRecord> users, std::vector<std::string> areas,
            std::vector<HouseholdRecord> households = {});

  const UserRecord* user(std::string_view name) const;  // also disabled users
  const std::vector<std::string>& areas() const { return areas_; }
  const std::map<std::string, UserRecord, std::less<>>& users() const { return users_; }
  const std::map<std::string, HouseholdRecord, std::less<>>& households() const { return households_; }
  const HouseholdRecord* household(std::string_view id) const;

  std::optional<bool> area_exists(std::string_view path) const override;
  std::optional<std::optional<muster::domain::Actor>> find_user(std::string_view name) const override;

 private:
  std::map<std::string, UserRecord, std::less<>> users_;
  std::vector<std::string> areas_;
  std::set<std::string, std::less<>> area_set_;
  std::map<std::string, HouseholdRecord, std::less<>> households_;
};

// "driver,medic" -> {"driver", "medic"}; nullopt if a skill is empty or has spaces.
std::optional<std::vector<std::string>> parse_skills(std::string_view comma_separated);
std::string join_skills(const std::vector<std::string>& skills);

class DirectoryStore {
 public:
  // Opens (and creates/migrates when writable) DIR/directory.db. `clock` stamps what
  // it writes (a user's creation, a household's update); it must outlive the store.
  static DirectoryStore open(const std::string& data_dir, bool writable, const muster::Clock& clock);

  // Adds the area and all its ancestors; existing ones are kept.
  void add_area(const std::string& path);
  // Errors: conflict if the user exists; invalid for a bad name or area.
  muster::Status add_user(const UserRecord& user);
  // All of them in one transaction, or none (the error names the first bad user).
  muster::Status add_users(const std::vector<UserRecord>& users);
  // Errors: not_found.
  muster::Status set_password(const std::string& name, const std::string& hash, const std::string& broker_hash);
  muster::Status set_disabled(const std::string& name, bool disabled);
  // Errors: not_found; invalid for a skill that is not one word.
  muster::Status set_skills(const std::string& name, const std::vector<std::string>& skills);

  // Adds or updates every household by id, and their areas, in one transaction; a
  // record equal to the stored one is left as it is. Without `with_phone` (a file
  // without the phone column) stored phones are kept. Errors: invalid for a bad id or
  // area (nothing is written).
  muster::Result<HouseholdImport> import_households(const std::vector<HouseholdRecord>& households, bool with_phone);

  std::vector<UserRecord> users();
  std::vector<std::string> areas();
  std::vector<HouseholdRecord> households();  // by id
  std::optional<UserRecord> user(const std::string& name);
  std::shared_ptr<const Directory> snapshot();

  // Changes whenever another connection commits to the file.
  std::int64_t data_version();

  // Settings kept with the directory (e.g. where the broker's files are).
  std::string setting(const std::string& key);
  void set_setting(const std::string& key, const std::string& value);

 private:
  DirectoryStore(muster::store::Db db, const muster::Clock& clock) : db_(std::move(db)), clock_(&clock) {}
  muster::Status insert_user(const UserRecord& user);  // inside a transaction
  muster::store::Db db_;
  const muster::Clock* clock_;
};

}  // namespace musterd
