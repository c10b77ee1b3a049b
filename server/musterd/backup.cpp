#include "musterd/backup.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "muster/base/json_parse.hpp"
#include "muster/base/result.hpp"
#include "muster/base/time.hpp"
#include "muster/store/sqlite.hpp"
#include "musterd/core/directory.hpp"
#include "musterd/core/hotline_vault.hpp"
#include "musterd/core/log_store.hpp"

#ifndef MUSTER_VERSION
#define MUSTER_VERSION "unknown"
#endif

namespace musterd {

namespace fs = std::filesystem;
using muster::Errc;
using muster::make_error;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "muster-backup";
constexpr int kFormatVersion = 1;
constexpr const char* kManifest = "manifest.json";
// The databases, in the order they are copied: the log first, so the directory (copied
// a moment later) has every user the log names.
const std::vector<std::string> kDatabases{"log.db", "directory.db"};
// Small files copied as they are, where the data dir has them.
const std::vector<std::string> kPlainFiles{"policy.json", "broker-password"};
constexpr std::size_t kMaxManifestBytes = 1024 * 1024;

int usage_error(const std::string& problem) {
  std::cerr << "musterd: " << problem << "\n(see musterd help)\n";
  return 1;
}

int refused(const std::string& problem) {
  std::cerr << "musterd: " << problem << '\n';
  return 2;
}

std::string errno_text() { return std::strerror(errno); }

std::string calls(std::int64_t n) { return std::to_string(n) + (n == 1 ? " call" : " calls"); }

// The lower-case hex SHA-256 of a file's bytes and its size, or an error.
muster::Result<std::pair<std::string, std::uintmax_t>> digest_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::unavailable, "cannot read " + path.string());
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::vector<char> buffer(1 << 16);
  std::uintmax_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(buffer.data()), n);
    size += n;
  }
  if (in.bad()) return make_error(Errc::unavailable, "cannot read " + path.string());
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, out);
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return std::make_pair(std::string(hex), size);
}

// Writes `bytes` to a new file `path` (never replacing one), mode 0600, synced.
muster::Status write_new_file(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(Errc::unavailable, "cannot create " + path.string() + ": " + errno_text());
  std::size_t written = 0;
  bool ok = ::fchmod(fd, 0600) == 0;
  while (ok && written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else written += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const std::string problem = ok ? std::string() : errno_text();
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return make_error(Errc::unavailable, "cannot write " + path.string() + ": " + problem);
  }
  return {};
}

muster::Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::unavailable, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(Errc::unavailable, "cannot read " + path.string());
  return text.str();
}

bool is_empty_dir(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_empty(path, ec) && !ec;
}

// Makes `path` an empty directory, mode 0700: a missing one is created, an existing
// empty one kept; anything else is refused. Says whether it created it.
muster::Result<bool> prepare_empty_dir(const fs::path& path, const std::string& what) {
  std::error_code ec;
  const auto status = fs::symlink_status(path, ec);
  if (fs::exists(status)) {
    if (!is_empty_dir(path)) {
      return make_error(Errc::conflict, what + " " + path.string() + " exists and is not an empty directory");
    }
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return make_error(Errc::unavailable, "cannot set the mode of " + path.string() + ": " + ec.message());
    return false;
  }
  fs::create_directories(path, ec);
  if (ec) return make_error(Errc::unavailable, "cannot create " + path.string() + ": " + ec.message());
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return make_error(Errc::unavailable, "cannot set the mode of " + path.string() + ": " + ec.message());
  return true;
}

// Leaves `dir` as it was before a failed command: removed if the command made it,
// otherwise emptied of what it wrote.
void undo_dir(const fs::path& dir, bool created) {
  std::error_code ec;
  if (created) {
    fs::remove_all(dir, ec);
    return;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
}

muster::store::Db open_read_only(const fs::path& path) {
  muster::store::OpenOptions options;
  options.create = false;
  options.read_only = true;
  return muster::store::Db::open(path.string(), options);
}

json describe_log(LogStore& log) {
  return json{{"last_gseq", log.last_gseq()},
              {"events", log.count_events()},
              {"scopes", log.scope_heads()},
              {"hotline_notes", log.count_hotline_notes()}};
}

// Copies the key to a new file of its own, 0600, never replacing one.
muster::Status write_key_copy(const std::string& data_dir, const fs::path& out) {
  auto key = read_file(hotline_key_path(data_dir));
  if (!key) return key.error();
  auto st = write_new_file(out, *key);
  sodium_memzero(key->data(), key->size());
  return st;
}

}  // namespace

int cmd_backup(const muster::Args& a) {
  auto dir = a.get("data");
  auto out_arg = a.get("out");
  if (!dir || !out_arg) return usage_error("backup needs --data DIR and --out BACKUP_DIR");
  for (const auto& db : kDatabases) {
    if (!fs::exists(fs::path(*dir) / db)) return usage_error(*dir + " is not a muster data dir (no " + db + ")");
  }
  const fs::path out(*out_arg);
  const auto key_out = a.get("key-out");
  if (key_out && fs::exists(fs::symlink_status(*key_out))) return refused(*key_out + " exists: the key is never written over a file");
  if (key_out && fs::weakly_canonical(*key_out).parent_path() == fs::weakly_canonical(out)) {
    return refused("--key-out must not be inside the backup: keep the key apart from it");
  }
  if (key_out) {
    // Its folder is made (0700) if missing, so a mistake there shows before the copying.
    const fs::path key_dir = fs::absolute(*key_out).parent_path();
    std::error_code ec;
    if (fs::create_directories(key_dir, ec)) fs::permissions(key_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec || !fs::is_directory(key_dir)) return refused("cannot make the folder of --key-out " + key_dir.string());
  }
  auto created = prepare_empty_dir(out, "--out");
  if (!created) return refused(created.error().message);

  json manifest{{"format", kFormat},
                {"version", kFormatVersion},
                {"muster", MUSTER_VERSION},
                {"created_at", muster::format_utc(muster::SystemClock().now_ms())},
                {"hotline_key", key_out ? "written separately (--key-out)" : "not included"}};
  json files = json::object();
  try {
    for (const auto& name : kDatabases) {
      auto source = open_read_only(fs::path(*dir) / name);
      source.backup_to((out / name).string());
    }
    for (const auto& name : kPlainFiles) {
      const fs::path from = fs::path(*dir) / name;
      if (!fs::exists(from)) continue;
      auto bytes = read_file(from);
      if (!bytes) throw std::runtime_error(bytes.error().message);
      if (auto st = write_new_file(out / name, *bytes); !st) throw std::runtime_error(st.error().message);
    }
    for (const auto& name : kDatabases) {
      auto copy = open_read_only(out / name);
      files[name]["schema"] = copy.user_version();
    }
    for (const auto& entry : fs::directory_iterator(out)) {
      const std::string name = entry.path().filename().string();
      auto digest = digest_file(entry.path());
      if (!digest) throw std::runtime_error(digest.error().message);
      files[name]["sha256"] = digest->first;
      files[name]["bytes"] = digest->second;
    }
    manifest["files"] = files;
    {
      auto copy = LogStore::open_read_only(out.string());
      manifest["log"] = describe_log(copy);
    }
    {
      auto directory = DirectoryStore::open(out.string(), false, muster::SystemClock());
      manifest["directory"] = json{{"users", directory.users().size()}, {"areas", directory.areas().size()}};
    }
    if (auto st = write_new_file(out / kManifest, manifest.dump(2) + "\n"); !st) throw std::runtime_error(st.error().message);
    if (key_out) {
      if (auto st = write_key_copy(*dir, *key_out); !st) throw std::runtime_error(st.error().message);
    }
  } catch (const std::exception& e) {
    undo_dir(out, *created);
    return refused(std::string("backup failed, nothing kept: ") + e.what());
  }

  const json& log = manifest["log"];
  std::cout << "backed up " << *dir << " to " << out.string() << ": log.db (" << log["events"].get<std::int64_t>()
            << " events, last gseq " << log["last_gseq"].get<std::int64_t>() << ", " << log["scopes"].size()
            << " scopes), directory.db (" << manifest["directory"]["users"].get<std::size_t>() << " users, "
            << manifest["directory"]["areas"].get<std::size_t>() << " areas)";
  for (const auto& name : kPlainFiles) {
    if (files.contains(name)) std::cout << ", " << name;
  }
  std::cout << "\n";
  const auto notes = log["hotline_notes"].get<std::int64_t>();
  if (key_out) {
    std::cerr << "musterd: WARNING: wrote the hotline key to " << *key_out
              << ". Whoever holds both it and the backup reads every hotline note: store them apart.\n";
  } else {
    std::cout << "the hotline key is not in the backup";
    if (notes > 0) std::cout << " (its log holds the sealed notes of " << calls(notes) << ", which only that key opens)";
    std::cout << ": keep a copy of " << hotline_key_path(*dir) << " apart from it, or use --key-out FILE\n";
  }
  return 0;
}

int cmd_restore(const muster::Args& a) {
  const std::string from_arg = a.word(1);
  auto dir = a.get("data");
  if (from_arg.empty() || !dir) return usage_error("restore needs a BACKUP_DIR and --data NEWDIR");
  const fs::path from(from_arg);
  const fs::path target(*dir);
  const auto key = a.get("key");

  // Everything about the backup is checked before anything is written.
  auto manifest_text = read_file(from / kManifest);
  if (!manifest_text) return refused(from_arg + " is not a muster backup (no readable " + kManifest + ")");
  auto parsed = muster::parse_limited(*manifest_text, 16, kMaxManifestBytes, (from / kManifest).string());
  if (!parsed) return refused(parsed.error().message);
  const json manifest = std::move(*parsed);
  if (!manifest.is_object() || manifest.value("format", "") != kFormat) {
    return refused((from / kManifest).string() + " is not a muster backup manifest");
  }
  const json version = manifest.value("version", json());
  if (!version.is_number_integer() || version.get<int>() != kFormatVersion) {
    return refused((from / kManifest).string() + ": backup format version " + version.dump() +
                   " is not one this musterd (" + MUSTER_VERSION + ") reads (it reads " + std::to_string(kFormatVersion) + ")");
  }
  const json files = manifest.value("files", json::object());
  const json log_summary = manifest.value("log", json::object());
  if (!files.is_object() || !log_summary.is_object() || !log_summary.value("last_gseq", json()).is_number_integer()) {
    return refused((from / kManifest).string() + ": the manifest lacks its files or its log summary");
  }
  for (const auto& db : kDatabases) {
    if (!files.contains(db)) return refused("the backup has no " + db);
  }
  for (const auto& [name, expect] : files.items()) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return refused((from / kManifest).string() + ": a file name that is not a plain name: " + name);
    }
    auto digest = digest_file(from / name);
    if (!digest) return refused("the backup is incomplete: " + digest.error().message);
    if (!expect.is_object() || expect.value("sha256", "") != digest->first || expect.value("bytes", std::uintmax_t{0}) != digest->second) {
      return refused("the backup is damaged: " + (from / name).string() + " differs from its manifest");
    }
  }
  const auto notes = log_summary.value("hotline_notes", std::int64_t{0});
  std::optional<std::string> key_bytes;
  if (key) {
    auto vault = HotlineVault::load(*key);
    if (!vault) return refused("--key: " + vault.error().message);
    auto bytes = read_file(*key);
    if (!bytes) return refused(bytes.error().message);
    key_bytes = std::move(*bytes);
  } else if (notes > 0) {
    return refused("the backup's log holds the sealed notes of " + calls(notes) +
                   ": give the hotline key written with it (--key FILE); without it they can never be read");
  }

  auto created = prepare_empty_dir(target, "--data");
  if (!created) return refused(created.error().message);
  json restored_log;
  try {
    for (const auto& name : kDatabases) {
      auto source = open_read_only(from / name);
      source.backup_to((target / name).string());
    }
    for (const auto& name : kPlainFiles) {
      if (!files.contains(name)) continue;
      auto bytes = read_file(from / name);
      if (!bytes) throw std::runtime_error(bytes.error().message);
      if (auto st = write_new_file(target / name, *bytes); !st) throw std::runtime_error(st.error().message);
    }
    if (key_bytes) {
      auto st = write_new_file(hotline_key_path(target.string()), *key_bytes);
      sodium_memzero(key_bytes->data(), key_bytes->size());
      if (!st) throw std::runtime_error(st.error().message);
    }
    // This version's schema (a backup made by an older musterd is upgraded here; one
    // made by a newer one is refused), in WAL mode as the server runs them.
    DirectoryStore::open(target.string(), true, muster::SystemClock());
    LogStore upgraded(target.string());
    restored_log = describe_log(upgraded);
    const json expected_gseq = log_summary.value("last_gseq", json());
    if (restored_log["last_gseq"] != expected_gseq || restored_log["scopes"] != log_summary.value("scopes", json::object())) {
      throw std::runtime_error("the restored log (last gseq " + restored_log["last_gseq"].dump() +
                               ") is not the one the manifest describes (last gseq " + expected_gseq.dump() + ")");
    }
  } catch (const std::exception& e) {
    undo_dir(target, *created);
    return refused(std::string("restore failed, ") + *dir + " left as it was: " + e.what());
  }
  std::cout << "restored " << from_arg << " (made " << manifest.value("created_at", "?") << ") into " << *dir
            << ": " << restored_log["events"].get<std::int64_t>() << " events, last gseq "
            << restored_log["last_gseq"].get<std::int64_t>() << ", " << restored_log["scopes"].size() << " scopes\n";
  if (!key) std::cout << "no hotline key given: musterd serve makes a new one (the log holds no sealed notes)\n";
  std::cout << "next: musterd serve --data " << *dir << "\n";
  return 0;
}

}  // namespace musterd
