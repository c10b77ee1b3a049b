#include "musterd/commands.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "muster/base/args.hpp"
#include "muster/base/command_line.hpp"
#include "muster/base/csv.hpp"
#include "muster/base/json_parse.hpp"
#include "muster/base/time.hpp"
#include "muster/base/timezone.hpp"
#include "muster/base/ulid.hpp"
#include "muster/domain/policy.hpp"
#include "musterd/backup.hpp"
#include "musterd/broker_config.hpp"
#include "musterd/command_tree.hpp"
#include "musterd/core/credentials.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/engine.hpp"
#include "musterd/file_clock.hpp"
#include "musterd/core/household_csv.hpp"
#include "musterd/core/hotline_vault.hpp"
#include "musterd/core/log.hpp"
#include "musterd/core/log_store.hpp"
#include "musterd/adapters/plugin_host.hpp"
#include "musterd/serve.hpp"

namespace musterd {

namespace fs = std::filesystem;
namespace domain = muster::domain;

namespace {

constexpr const char* kUsage = R"(usage:
  musterd init --data DIR [--admin NAME [--area PATH] [--password-stdin]]
  musterd user add NAME --role R[,R] --area PATH [--create-area] [--display TEXT] [--skills S[,S]] [--password-stdin] --data DIR
      the area must exist (musterd area add PATH) unless --create-area
  musterd user skills NAME S[,S]... --data DIR      (an empty list "" clears them)
  musterd user passwd NAME [--password-stdin] --data DIR
  musterd user disable|enable NAME --data DIR
  musterd user import FILE [--device NAME] [--create-area] --data DIR
      every area named must exist unless --create-area
      bulk setup (benchmarks, large teams): one user a row, `name,roles,area,password[,token[,display]]`
      (CSV with RFC 4180 quoting, e.g. "Wang, Li" for a display name with a comma; roles
      separated by `;`; a line starting with `#` is a comment); all or nothing. Each distinct
      password is hashed once. A token pre-registers a device token for --device (default
      `bench`), so those users can say hello with the token alone; musterd must not be serving
      DIR then. An empty token is none; an empty or missing display is the name.
  musterd user list --data DIR [--json]
  musterd area add PATH --data DIR
  musterd area list --data DIR [--json]
  musterd import households FILE.csv --data DIR
      the household registry: a header row area,household,address,members[,phone], then one
      household a row (UTF-8, RFC 4180 quoting; members 0-99). All or nothing: a bad row is
      reported as FILE:LINE and nothing changes. Re-importing updates households by id; a
      file without the phone column keeps the stored phones. A running musterd publishes
      the changes (never the phones) within a second.
  musterd serve --data DIR [--listen 127.0.0.1:8080] [--max-frame BYTES] [--allow-origin ORIGIN]...
                [--tls-cert CHAIN.pem --tls-key KEY.pem]   (wss://; plain ws:// listens on
                                      loopback only, unless --insecure-listen)
                [--metrics-token FILE]   (GET /metrics wants Authorization: Bearer <the file's token>)
                [--metrics-listen 127.0.0.1:PORT]   (/metrics and /healthz there, not on --listen)
                [--max-unauthenticated N] [--max-unauthenticated-per-address N]
                                      (connections not logged in yet, default 1000 and 50: beyond,
                                      the oldest are closed)
                [--login-workers N] [--max-pending-logins N]   (password checks: threads,
                                      default 2; waiting at most, default 32, beyond: rate_limited)
                [--mqtt tcp://HOST:PORT [--mqtt-user U --mqtt-password-file F]]
                [--plugin PATH --plugin-config FILE]...   (plugins/README.md)
                [--clock-file F]      (tests and drills: the server's time is read from F)
                [--log-level trace|debug|info|warn|error]   (default info; the log is stderr)
  musterd policy --data DIR          the dispatch policy in force: DIR/policy.json over the defaults
  musterd broker-config --data DIR --out DIR [--listen HOST:PORT]
                [--tls-listen HOST:PORT --tls-cert CHAIN.pem --tls-key KEY.pem]
      # then: mosquitto -c DIR/mosquitto.conf. The plain listener is for musterd (keep it on
      # loopback); users connect to the TLS one (mqtts://).
  musterd hotline purge --older-than DAYS --data DIR [--wait S] [--clock-file F]
      deletes the sealed notes of calls logged more than DAYS ago and records it in the log
      (hotline.purged); while musterd serves DIR it asks the server to do it and waits
  musterd backup --data DIR --out BACKUP_DIR [--key-out FILE]
      a consistent copy of the data dir while musterd serves it or not (SQLite online backup),
      into a new or empty directory; the hotline key only with --key-out, into a file of its own
  musterd restore BACKUP_DIR --data NEWDIR [--key FILE]
      checks the backup against its manifest and makes NEWDIR (new or empty) a data dir from it
roles: admin coordinator lead volunteer hotline plugin
)";

int usage(const std::string& problem) {
  std::cerr << "musterd: " << problem << '\n' << kUsage;
  return 1;
}

int refused(const muster::Error& e) {
  std::cerr << "musterd: " << e.message << '\n';
  return 2;
}

// A password from the first line of stdin, or a fresh random one that is printed.
std::string read_or_make_password(bool from_stdin, bool& generated) {
  generated = !from_stdin;
  if (from_stdin) {
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  return new_token().substr(3, 16);
}

// The data dir's hotline key, made if missing: unless log.db already holds notes sealed
// under a key that is gone, when a new key would only hide the loss.
muster::Result<bool> ensure_hotline_key(const std::string& dir, LogStore& log) {
  const std::string path = hotline_key_path(dir);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) {
    if (const auto sealed = log.count_hotline_notes(); sealed > 0) {
      return muster::make_error(muster::Errc::not_found,
                                path + " is missing, but log.db holds the sealed notes of " + std::to_string(sealed) +
                                    " calls, which only that key opens: put it back from a backup");
    }
  }
  return create_hotline_key(path);
}

// The program's one wall clock: every command reads the time here, or from the file
// of --clock-file (tests and drills) where it takes one.
const muster::Clock& wall_clock() {
  static const muster::SystemClock clock;
  return clock;
}

// A command's clock: the file's time with --clock-file F, else the wall clock.
// `holder` keeps the file clock alive.
const muster::Clock& command_clock(const muster::Args& a, std::unique_ptr<FileClock>& holder) {
  if (auto file = a.get("clock-file")) {
    holder = std::make_unique<FileClock>(*file, wall_clock());
    return *holder;
  }
  return wall_clock();
}

bool data_dir_ready(const std::string& dir) {
  return fs::exists(fs::path(dir) / "directory.db") && fs::exists(fs::path(dir) / "log.db");
}

int cmd_init(const muster::Args& a) {
  auto dir = a.get("data");
  if (!dir) return usage("init needs --data DIR");
  std::error_code ec;
  fs::create_directories(*dir, ec);
  if (ec) return usage("cannot create " + *dir + ": " + ec.message());
  fs::permissions(*dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  auto directory = DirectoryStore::open(*dir, true, wall_clock());
  LogStore log(*dir);
  // The key the hotline's notes are sealed with; an existing one is kept (re-running
  // init must not make the notes already sealed unreadable).
  const std::string key_path = hotline_key_path(*dir);
  auto made_key = ensure_hotline_key(*dir, log);
  if (!made_key) return refused(made_key.error());
  if (*made_key) std::cout << "made the hotline key " << key_path << " (mode 0600)\n";
  if (auto admin = a.get("admin")) {
    bool generated = false;
    std::string password = read_or_make_password(a.flag("password-stdin"), generated);
    if (password.size() < 8) return usage("passwords have at least 8 characters");
    UserRecord u;
    u.name = *admin;
    u.roles = domain::Roles{domain::Role::admin};
    u.area = a.get_or("area", "city");
    u.password_hash = hash_password(password);
    u.broker_hash = broker_password_hash(password);
    if (auto st = directory.add_user(u); !st) return refused(st.error());
    if (generated) std::cout << "admin " << u.name << " password: " << password << '\n';
  }
  std::cout << "initialised " << *dir << '\n';
  return 0;
}

// One serving process per data dir: the log has exactly one writer.
bool lock_data_dir(const std::string& dir) {
  std::string path = (fs::path(dir) / "musterd.lock").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  return true;  // held until the process exits
}

muster::Status check_user_area(DirectoryStore& directory, const std::string& area, bool create);

// `musterd user import FILE`: many users in one transaction, argon2id once per
// distinct password, and optionally a device token each (stored as its digest).
// The file is CSV (muster/base/csv.hpp) with `#` comment lines and no header.
int cmd_user_import(const muster::Args& a, const std::string& dir, DirectoryStore& directory) {
  const std::string file = a.word(2);
  if (file.empty()) return usage("user import needs a FILE");
  std::ifstream in(file, std::ios::binary);
  if (!in) return usage("cannot read " + file);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string device = a.get_or("device", "bench");
  if (device.empty() || device.size() > 128) return usage("--device takes a name of 1-128 bytes");
  std::vector<UserRecord> users;
  std::vector<std::pair<std::string, std::string>> tokens;  // user, token
  std::map<std::string, std::pair<std::string, std::string>> hashes;  // password -> argon2id, broker hash
  std::set<std::string> areas_checked;  // each area is looked up once (bench files name few)
  const std::string csv = text.str();
  muster::CsvOptions options;
  options.comment = '#';
  muster::CsvReader reader(csv, options);
  while (auto record = reader.next()) {
    const auto& cols = record->fields;
    const std::string where = file + ":" + std::to_string(record->line) + ": ";
    if (cols.size() < 4 || cols.size() > 6) return usage(where + "expected name,roles,area,password[,token[,display]]");
    std::string roles_text = cols[1];
    for (char& c : roles_text) c = c == ';' ? ',' : c;
    auto roles = domain::Roles::parse(roles_text);
    if (!roles) return usage(where + "unknown role in '" + cols[1] + "'");
    if (cols[3].size() < 8) return usage(where + "passwords have at least 8 characters");
    const std::string token = cols.size() > 4 ? cols[4] : std::string();
    if (!token.empty() && token.size() < 16) return usage(where + "tokens have at least 16 characters");
    UserRecord u;
    u.name = cols[0];
    u.display = cols.size() > 5 && !cols[5].empty() ? cols[5] : cols[0];
    u.roles = *roles;
    u.area = cols[2];
    if (areas_checked.insert(u.area).second) {
      if (auto known = check_user_area(directory, u.area, a.flag("create-area")); !known) {
        muster::Error e = known.error();
        e.message = where + e.message;
        return refused(e);
      }
    }
    auto& hash = hashes[cols[3]];
    if (hash.first.empty()) hash = {hash_password(cols[3]), broker_password_hash(cols[3])};
    u.password_hash = hash.first;
    u.broker_hash = hash.second;
    users.push_back(std::move(u));
    if (!token.empty()) tokens.emplace_back(cols[0], token);
  }
  if (const auto& problem = reader.problem()) {
    return usage(file + ":" + std::to_string(problem->line) + ": " + problem->message);
  }
  // Tokens live in log.db, which only the serving process writes while it runs.
  if (!tokens.empty() && !lock_data_dir(dir)) {
    std::cerr << "musterd: musterd is serving " << dir << ": stop it before importing tokens\n";
    return 2;
  }
  if (auto st = directory.add_users(users); !st) return refused(st.error());
  if (!tokens.empty()) {
    LogStore log(dir);
    muster::store::Transaction tx(log.db());
    const std::string now = muster::format_utc(wall_clock().now_ms());
    for (const auto& [user, token] : tokens) log.save_token(token_digest(token), user, device, now);
    tx.commit();
  }
  std::cout << "imported " << users.size() << " users (" << hashes.size() << " distinct passwords, " << tokens.size()
            << " device tokens for " << device << ")\n";
  return 0;
}

// A user's area must be one the directory has: a misspelt path would otherwise become
// a new area nobody else is in. --create-area makes a new one on purpose.
muster::Status check_user_area(DirectoryStore& directory, const std::string& area, bool create) {
  if (!domain::valid_area_path(area)) return muster::make_error(muster::Errc::invalid, "invalid area path '" + area + "'");
  const auto areas = directory.areas();
  if (create || std::find(areas.begin(), areas.end(), area) != areas.end()) return {};
  std::string known;
  for (const auto& a : areas) known += (known.empty() ? "" : ", ") + a;
  return muster::make_error(muster::Errc::not_found,
                            "no area '" + area + "' (known: " + (known.empty() ? "none" : known) +
                                "); add it first with musterd area add " + area + ", or pass --create-area");
}

int cmd_user(const muster::Args& a) {
  const std::string verb = a.word(1);
  auto dir = a.get("data");
  if (!dir) return usage("user commands need --data DIR");
  if (!data_dir_ready(*dir)) return usage(*dir + " is not a muster data dir (run musterd init first)");
  auto directory = DirectoryStore::open(*dir, true, wall_clock());
  if (verb == "list") {
    auto users = directory.users();
    if (a.flag("json")) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& u : users) {
        out.push_back({{"name", u.name}, {"display", u.display}, {"roles", u.roles.names()}, {"area", u.area},
                       {"skills", u.skills}, {"disabled", u.disabled}});
      }
      std::cout << out.dump(2) << '\n';
    } else {
      for (const auto& u : users) {
        std::cout << u.name << '\t' << u.roles.to_string() << '\t' << u.area
                  << (u.skills.empty() ? "" : "\tskills " + join_skills(u.skills)) << (u.disabled ? "\tdisabled" : "")
                  << '\n';
      }
    }
    return 0;
  }
  if (verb == "import") return cmd_user_import(a, *dir, directory);
  const std::string name = a.word(2);
  if (name.empty()) return usage("user " + verb + " needs a NAME");
  if (verb == "add") {
    auto roles = domain::Roles::parse(a.get_or("role", ""));
    if (!roles) return usage("--role takes a comma-separated list of known roles");
    auto area = a.get("area");
    if (!area) return usage("user add needs --area PATH");
    if (auto known = check_user_area(directory, *area, a.flag("create-area")); !known) return refused(known.error());
    auto skills = parse_skills(a.get_or("skills", ""));
    if (!skills) return usage("--skills takes a comma-separated list of one-word skills");
    bool generated = false;
    std::string password = read_or_make_password(a.flag("password-stdin"), generated);
    if (password.size() < 8) return usage("passwords have at least 8 characters");
    UserRecord u;
    u.name = name;
    u.display = a.get_or("display", name);
    u.roles = *roles;
    u.area = *area;
    u.password_hash = hash_password(password);
    u.broker_hash = broker_password_hash(password);
    u.skills = *skills;
    if (auto st = directory.add_user(u); !st) return refused(st.error());
    std::cout << "added " << name << " (" << roles->to_string() << ", " << *area << ")";
    if (generated) std::cout << " password: " << password;
    std::cout << '\n';
    return 0;
  }
  if (verb == "passwd") {
    bool generated = false;
    std::string password = read_or_make_password(a.flag("password-stdin"), generated);
    if (password.size() < 8) return usage("passwords have at least 8 characters");
    if (auto st = directory.set_password(name, hash_password(password), broker_password_hash(password)); !st) {
      return refused(st.error());
    }
    std::cout << "password changed for " << name;
    if (generated) std::cout << ": " << password;
    std::cout << '\n';
    return 0;
  }
  if (verb == "skills") {
    auto skills = parse_skills(a.word(3));
    if (!skills) return usage("user skills takes a comma-separated list of one-word skills");
    if (auto st = directory.set_skills(name, *skills); !st) return refused(st.error());
    std::cout << name << " skills: " << (skills->empty() ? "(none)" : join_skills(*skills)) << '\n';
    return 0;
  }
  if (verb == "disable" || verb == "enable") {
    if (auto st = directory.set_disabled(name, verb == "disable"); !st) return refused(st.error());
    std::cout << name << ' ' << verb << "d\n";
    return 0;
  }
  return usage("unknown user command '" + verb + "'");
}

int cmd_area(const muster::Args& a) {
  auto dir = a.get("data");
  if (!dir) return usage("area commands need --data DIR");
  if (!data_dir_ready(*dir)) return usage(*dir + " is not a muster data dir (run musterd init first)");
  auto directory = DirectoryStore::open(*dir, true, wall_clock());
  if (a.word(1) == "add") {
    const std::string path = a.word(2);
    if (!domain::valid_area_path(path)) return usage("invalid area path '" + path + "'");
    directory.add_area(path);
    std::cout << "added area " << path << '\n';
    return 0;
  }
  if (a.word(1) == "list") {
    auto areas = directory.areas();
    if (a.flag("json")) {
      std::cout << nlohmann::json(areas).dump(2) << '\n';
    } else {
      for (const auto& p : areas) std::cout << p << '\n';
    }
    return 0;
  }
  return usage("unknown area command '" + a.word(1) + "'");
}

// `musterd import households FILE.csv`: the registry, all or nothing.
int cmd_import(const muster::Args& a) {
  if (a.word(1) != "households") return usage("unknown import '" + a.word(1) + "' (try: import households FILE.csv)");
  const std::string file = a.word(2);
  if (file.empty()) return usage("import households needs a FILE.csv");
  auto dir = a.get("data");
  if (!dir) return usage("import needs --data DIR");
  if (!data_dir_ready(*dir)) return usage(*dir + " is not a muster data dir (run musterd init first)");
  std::ifstream in(file, std::ios::binary);
  if (!in) return usage("cannot read " + file);
  std::ostringstream text;
  text << in.rdbuf();
  const HouseholdCsv csv = parse_household_csv(text.str());
  if (!csv.ok()) {
    std::cerr << file << ':' << csv.error_line << ": " << csv.error << '\n';
    return 1;
  }
  std::vector<HouseholdRecord> records;
  records.reserve(csv.rows.size());
  for (const auto& row : csv.rows) {
    records.push_back(HouseholdRecord{row.household, row.area, row.address, row.members, row.phone, ""});
  }
  auto directory = DirectoryStore::open(*dir, true, wall_clock());
  auto counts = directory.import_households(records, csv.has_phone);
  if (!counts) return refused(counts.error());
  std::cout << "added " << counts->added << ", updated " << counts->updated << ", unchanged " << counts->unchanged
            << '\n';
  return 0;
}

// After a user changed: the broker's password and ACL files follow, and the broker
// reloads them (a disabled user is disconnected at once).
void keep_broker_in_step(const std::string& dir) {
  auto directory = DirectoryStore::open(dir, true, wall_clock());
  auto note = refresh_broker(directory, dir);
  if (!note) {
    std::cerr << "musterd: the broker was not updated: " << note.error().message << '\n';
  } else if (!note->empty()) {
    std::cerr << "musterd: " << *note << '\n';
  }
}

int cmd_broker_config(const muster::Args& a) {
  auto dir = a.get("data");
  auto out = a.get("out");
  if (!dir || !out) return usage("broker-config needs --data DIR and --out DIR");
  if (!data_dir_ready(*dir)) return usage(*dir + " is not a muster data dir (run musterd init first)");
  auto directory = DirectoryStore::open(*dir, true, wall_clock());
  BrokerConfigOptions options;
  options.data_dir = *dir;
  options.out_dir = *out;
  options.listen = a.get_or("listen", options.listen);
  options.tls_listen = a.get_or("tls-listen", options.tls_listen);
  options.tls_cert = a.get_or("tls-cert", "");
  options.tls_key = a.get_or("tls-key", "");
  if (auto st = write_broker_config(directory, options); !st) return refused(st.error());
  std::cout << "wrote " << *out << "/mosquitto.conf, passwd and acl; run: mosquitto -c " << *out
            << "/mosquitto.conf\nthen: musterd serve --data " << *dir << " --mqtt tcp://" << options.listen << '\n';
  if (!options.tls_cert.empty()) {
    std::cout << "clients: muster login --server mqtts://HOST:" << options.tls_listen.substr(options.tls_listen.rfind(':') + 1)
              << " (HOST as named in the certificate)\n";
  }
  return 0;
}

// DATA/policy.json over the built-in defaults; a missing file means the defaults.
constexpr std::size_t kMaxPolicyDepth = 16;
constexpr std::size_t kMaxPolicyBytes = 1024 * 1024;

muster::Result<domain::Policy> load_policy(const std::string& dir) {
  const fs::path path = fs::path(dir) / "policy.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return domain::Policy::defaults();
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  auto j = muster::parse_limited(text.str(), kMaxPolicyDepth, kMaxPolicyBytes, path.string());
  if (!j) return j.error();
  auto policy = domain::Policy::from_json(*j);
  if (!policy) return muster::make_error(muster::Errc::invalid, path.string() + ": " + policy.error().message);
  return policy;
}

int cmd_policy(const muster::Args& a) {
  auto dir = a.get("data");
  if (!dir) return usage("policy needs --data DIR");
  auto policy = load_policy(*dir);
  if (!policy) return refused(policy.error());
  std::cout << policy->to_json().dump(2) << '\n';
  return 0;
}

int cmd_serve(const muster::Args& a) {
  const std::string level_name = a.get_or("log-level", "info");
  const auto level = parse_log_level(level_name);
  if (!level) return usage("unknown --log-level '" + level_name + "' (one of " + log_level_names() + ")");
  set_log_level(*level);
  auto dir = a.get("data");
  if (!dir) return usage("serve needs --data DIR");
  if (!data_dir_ready(*dir)) return usage(*dir + " is not a muster data dir (run musterd init first)");
  ServeOptions options;
  options.data_dir = *dir;
  const std::string listen = a.get_or("listen", "127.0.0.1:8080");
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return usage("--listen takes HOST:PORT");
  options.ws.host = listen.substr(0, colon);
  try {
    int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    options.ws.port = static_cast<std::uint16_t>(port);
    if (auto mf = a.get("max-frame")) options.ws.max_frame_bytes = std::stoul(*mf);
  } catch (const std::exception&) {
    return usage("--listen port and --max-frame must be numbers");
  }
  options.ws.allowed_origins = a.all("allow-origin");
  options.ws.tls_cert = a.get_or("tls-cert", "");
  options.ws.tls_key = a.get_or("tls-key", "");
  if (options.ws.tls_cert.empty() != options.ws.tls_key.empty()) return usage("--tls-cert and --tls-key go together");
  options.ws.insecure_listen = a.flag("insecure-listen");
  try {
    auto positive = [&a](const char* name, int fallback) {
      const auto v = a.get(name);
      if (!v) return fallback;
      const int n = std::stoi(*v);
      if (n < 1) throw std::out_of_range(name);
      return n;
    };
    options.ws.max_unauthenticated = positive("max-unauthenticated", options.ws.max_unauthenticated);
    options.ws.max_unauthenticated_per_address =
        positive("max-unauthenticated-per-address", options.ws.max_unauthenticated_per_address);
    options.login_workers = positive("login-workers", options.login_workers);
    options.hub.max_pending_logins = positive("max-pending-logins", options.hub.max_pending_logins);
  } catch (const std::exception&) {
    return usage("--max-unauthenticated, --max-unauthenticated-per-address, --login-workers and "
                 "--max-pending-logins take a number of at least 1");
  }
  if (auto file = a.get("metrics-token")) {
    std::ifstream in(*file);
    std::string token;
    if (!in || !std::getline(in, token)) return usage("cannot read the metrics token from " + *file);
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    if (token.size() < 16) return usage("the metrics token in " + *file + " is too short (16 characters at least)");
    options.ws.metrics_token = token;
  }
  if (auto where = a.get("metrics-listen")) {
    const auto c = where->rfind(':');
    int port = -1;
    try {
      if (c != std::string::npos) port = std::stoi(where->substr(c + 1));
    } catch (const std::exception&) {
      port = -1;
    }
    if (c == std::string::npos || port < 1 || port > 65535) return usage("--metrics-listen takes 127.0.0.1:PORT");
    options.ws.metrics_host = where->substr(0, c);
    options.ws.metrics_port = static_cast<std::uint16_t>(port);
  }
  if (auto url = a.get("mqtt")) {
    options.mqtt.url = *url;
    options.mqtt.user = a.get_or("mqtt-user", kBrokerAccount);
    if (auto file = a.get("mqtt-password-file")) {
      std::ifstream in(*file);
      if (!in || !std::getline(in, options.mqtt.password)) return usage("cannot read " + *file);
    } else {
      auto password = broker_account_password(*dir, false);
      if (!password) return usage(password.error().message);
      options.mqtt.password = *password;
    }
  }
  const auto plugin_paths = a.all("plugin");
  const auto plugin_configs = a.all("plugin-config");
  if (plugin_configs.size() > plugin_paths.size()) return usage("each --plugin-config follows its --plugin PATH");
  for (std::size_t i = 0; i < plugin_paths.size(); ++i) {
    auto spec = load_plugin_spec(plugin_paths[i], i < plugin_configs.size() ? plugin_configs[i] : std::string());
    if (!spec) return usage(spec.error().message);
    options.plugins.push_back(std::move(*spec));
  }
  if (!lock_data_dir(*dir)) {
    log_error("another musterd is serving " + *dir);
    return 2;
  }
  // A data dir made before the hotline existed gets its key now; a key others can read
  // stops the server, since it would protect nothing.
  LogStore log(*dir);
  const std::string key_path = hotline_key_path(*dir);
  auto made_key = ensure_hotline_key(*dir, log);
  if (!made_key) {
    log_error("refusing to start: " + made_key.error().message);
    return 2;
  }
  if (*made_key) log_info("made the hotline key " + key_path + " (mode 0600)");
  auto vault = HotlineVault::load(key_path);
  if (!vault) {
    log_error("refusing to start: " + vault.error().message);
    return 2;
  }
  auto policy = load_policy(*dir);
  if (!policy) return refused(policy.error());
  // Clients show every time in this zone: a name this machine cannot load (a typo, or
  // no tz database here) stops serve.
  if (auto zone = muster::Zone::load(policy->timezone); !zone) {
    return refused(muster::make_error(muster::Errc::invalid, "refusing to start: policy: timezone: " +
                                                                 zone.error().message));
  }
  std::unique_ptr<FileClock> file_clock;
  const muster::Clock& clock = command_clock(a, file_clock);
  // A clock file may jump at any moment: look at the timers every second.
  if (file_clock) options.hub.max_timer_wait = std::chrono::seconds(1);
  // Bring directory.db to this version's schema (a short write), then only read it.
  DirectoryStore::open(*dir, true, clock);
  auto directory = DirectoryStore::open(*dir, false, clock);
  for (const auto& plugin : options.plugins) {
    auto user = directory.user(plugin.user);
    if (!user || !user->roles.has(domain::Role::plugin)) {
      return usage("plugin " + plugin.name + ": its user " + plugin.user + " must exist with the plugin role (musterd user add " +
                   plugin.user + " --role plugin --area AREA)");
    }
  }
  Engine engine(log, clock, std::move(*policy));
  engine.set_hotline_vault(std::make_shared<const HotlineVault>(*vault));
  engine.load();
  return serve(std::move(options), log, directory, engine, clock);
}

// `musterd plugin-exec PATH`: how the plugin supervisor starts a plugin. The child of
// a fork inherits every descriptor the server had open without close-on-exec (Asio's
// sockets among them); this closes all but stdin, stdout and stderr, then becomes the
// plugin. Never returns on success.
int plugin_exec(const std::string& path) {
  if (::close_range(3, ~0U, 0) != 0) {
    const long max = ::sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (max > 0 ? max : 65536); ++fd) ::close(static_cast<int>(fd));
  }
  std::vector<char*> argv{const_cast<char*>(path.c_str()), nullptr};
  ::execv(path.c_str(), argv.data());
  std::cerr << "musterd: cannot run plugin " << path << ": " << std::strerror(errno) << '\n';
  return 127;
}

void print_purge(const HotlinePurge& done) {
  std::cout << "deleted the notes of " << done.calls.size() << (done.calls.size() == 1 ? " call" : " calls")
            << " logged before " << done.before << " (older than " << done.older_than_days << " days)";
  if (!done.calls.empty()) std::cout << "; recorded as hotline.purged events, op " << done.request;
  std::cout << '\n';
}

// `musterd hotline purge`: log.db has one writer. Not serving: we take the data dir's
// lock and are that writer. Serving: the server is, so we leave it a request in
// directory.db and watch log.db (read-only) for the outcome it records.
int cmd_hotline(const muster::Args& a) {
  if (a.word(1) != "purge") return usage("unknown hotline command '" + a.word(1) + "'");
  auto dir = a.get("data");
  if (!dir) return usage("hotline purge needs --data DIR");
  if (!data_dir_ready(*dir)) return usage(*dir + " is not a muster data dir (run musterd init first)");
  auto days_text = a.get("older-than");
  if (!days_text) return usage("hotline purge needs --older-than DAYS");
  int days = -1;
  double wait_seconds = 10;
  try {
    std::size_t used = 0;
    days = std::stoi(*days_text, &used);
    if (used != days_text->size() || days < 0 || days > 100000) throw std::out_of_range("days");
    if (auto w = a.get("wait")) wait_seconds = std::stod(*w);
  } catch (const std::exception&) {
    return usage("--older-than takes a whole number of days (0 or more), --wait a number of seconds");
  }
  std::unique_ptr<FileClock> file_clock;
  const muster::Clock& clock = command_clock(a, file_clock);
  const std::string request = muster::UlidGenerator().next(clock.now_ms());

  if (lock_data_dir(*dir)) {
    auto policy = load_policy(*dir);
    if (!policy) return refused(policy.error());
    LogStore log(*dir);
    Engine engine(log, clock, std::move(*policy));
    engine.load();  // numbers the purge's events after the log's current heads
    engine.set_directory(DirectoryStore::open(*dir, false, clock).snapshot());
    auto done = engine.purge_hotline_notes(days, request);
    if (!done) return refused(done.error());
    print_purge(*done);
    return 0;
  }

  {
    auto directory = DirectoryStore::open(*dir, true, wall_clock());
    directory.set_setting(kHotlinePurgeRequestSetting,
                          nlohmann::json{{"id", request},
                                         {"older_than_days", days},
                                         {"requested_at", muster::format_utc(clock.now_ms())}}
                              .dump());
  }
  std::cerr << "musterd: musterd is serving " << *dir << ": asked it to purge (request " << request
            << "), waiting for it\n";
  auto log = LogStore::open_read_only(*dir);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long long>(std::max(0.0, wait_seconds) * 1000));
  for (;;) {
    auto done = nlohmann::json::parse(log.meta(kHotlinePurgeMeta), nullptr, false);
    if (done.is_object() && done.value("request", "") == request) {
      HotlinePurge outcome;
      outcome.request = request;
      outcome.calls = done.value("calls", std::vector<std::string>{});
      outcome.before = done.value("before", "");
      outcome.older_than_days = done.value("older_than_days", days);
      print_purge(outcome);
      return 0;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "musterd: the serving musterd has not carried out the purge within " << wait_seconds
            << " s (request " << request << "); it will at its next housekeeping, and its log will say so\n";
  return 3;
}

}  // namespace

int run_command(const std::vector<std::string>& words) {
  if (words.size() == 2 && words[0] == "plugin-exec") return plugin_exec(words[1]);
  muster::CommandTree tree("musterd", MUSTER_VERSION);
  declare_commands(tree);
  auto parsed = tree.parse(words);
  if (!parsed.error.empty()) {
    // A command nobody declared: the whole list; a mistake within a command: its synopsis.
    if (parsed.unknown_command || parsed.path.empty()) return usage(parsed.error);
    std::cerr << "musterd: " << parsed.error << "\nusage:\n" << muster::synopsis(kUsage, parsed.path, "musterd ");
    return 1;
  }
  if (parsed.version) {
    std::cout << "musterd " << MUSTER_VERSION << '\n';
    return 0;
  }
  if (parsed.path == std::vector<std::string>{"completion"} ||
      parsed.path == std::vector<std::string>{"completion", "bash"}) {
    std::cout << tree.bash_completion();
    return 0;
  }
  if (parsed.help && !parsed.path.empty() && parsed.path.front() != "help") {
    const std::string text = muster::synopsis(kUsage, parsed.path, "musterd ");
    std::cout << (text.empty() ? std::string(kUsage) : "usage:\n" + text);
    return 0;
  }
  const muster::Args& a = parsed.args;
  const std::string cmd = a.word(0);
  if (cmd.empty() || a.flag("help") || cmd == "help") {
    std::cout << kUsage;
    return cmd.empty() ? 1 : 0;
  }
  try {
    if (cmd == "init") return cmd_init(a);
    if (cmd == "user") {
      const int rc = cmd_user(a);
      if (rc == 0 && a.word(1) != "list") keep_broker_in_step(*a.get("data"));
      return rc;
    }
    if (cmd == "broker-config") return cmd_broker_config(a);
    if (cmd == "policy") return cmd_policy(a);
    if (cmd == "area") return cmd_area(a);
    if (cmd == "import") return cmd_import(a);
    if (cmd == "serve") return cmd_serve(a);
    if (cmd == "hotline") return cmd_hotline(a);
    if (cmd == "backup") return cmd_backup(a);
    if (cmd == "restore") return cmd_restore(a);
  } catch (const std::exception& e) {
    // A serving process's last words go to its log; a one-shot command's to its user.
    if (cmd == "serve") {
      log_error(std::string("stopped: ") + e.what());
    } else {
      std::cerr << "musterd: " << e.what() << '\n';
    }
    return 2;
  }
  return usage("unknown command '" + cmd + "'");
}

}  // namespace musterd
