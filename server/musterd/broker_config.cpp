#include "musterd/broker_config.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "muster/protocol/topics.hpp"
#include "musterd/core/credentials.hpp"

namespace musterd {

namespace fs = std::filesystem;
namespace domain = muster::domain;
using muster::Errc;
using muster::make_error;

namespace {

constexpr const char* kOutSetting = "broker_out";

// Writes `text` to `path` atomically (temp file + rename) with the given mode, so the
// broker never reads half a password file.
muster::Status write_file(const fs::path& path, const std::string& text, fs::perms mode) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(Errc::unavailable, "cannot write " + tmp.string());
    out << text;
    if (!out.flush()) return make_error(Errc::unavailable, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::permissions(tmp, mode, fs::perm_options::replace, ec);
  fs::rename(tmp, path, ec);
  if (ec) return make_error(Errc::unavailable, "cannot replace " + path.string() + ": " + ec.message());
  return {};
}

std::string current_user() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return "mosquitto";
}

std::string event_topic(const std::string& scope) {
  return muster::protocol::event_topic(muster::protocol::kDefaultTopicPrefix, scope);
}

std::string password_file(DirectoryStore& directory, const std::string& server_password) {
  std::ostringstream o;
  o << kBrokerAccount << ':' << broker_password_hash(server_password) << '\n';
  for (const auto& u : directory.users()) {
    // Disabled users and users whose password predates MQTT cannot log in to the broker;
    // nor can plugin accounts, which reach the server only through the plugin host.
    if (u.disabled || u.broker_hash.empty() || u.name == kBrokerAccount || u.roles.has(domain::Role::plugin)) continue;
    o << u.name << ':' << u.broker_hash << '\n';
  }
  return o.str();
}

std::string acl_file(DirectoryStore& directory) {
  const std::string p(muster::protocol::kDefaultTopicPrefix);
  std::ostringstream o;
  o << "# Written by musterd; rewritten whenever users change. Do not edit.\n"
    << "# Every user: its own op and req topics, its ack topic and its inbox.\n"
    << "pattern write " << p << "/op/%u\n"
    << "pattern write " << p << "/req/%u\n"
    << "pattern read " << p << "/ack/%u\n"
    << "pattern read " << p << "/ev/user/%u\n\n"
    << "user " << kBrokerAccount << "\ntopic readwrite " << p << "/#\n";
  for (const auto& u : directory.users()) {
    if (u.disabled || u.name == kBrokerAccount) continue;
    const domain::Actor actor = u.actor();
    o << "\nuser " << u.name << '\n';
    for (const auto& area : domain::area_lineage(actor.area)) o << "topic read " << event_topic(domain::area_scope(area)) << '\n';
    if (actor.roles.has(domain::Role::admin)) {
      o << "topic read " << p << "/ev/area/#\n";
    } else if (domain::is_manager(actor)) {
      o << "topic read " << event_topic(domain::area_scope(actor.area)) << "/#\n";
    }
    for (const auto& role : actor.roles.names()) o << "topic read " << event_topic(domain::role_scope(role)) << '\n';
  }
  return o.str();
}

muster::Status write_auth_files(DirectoryStore& directory, const std::string& data_dir, const fs::path& out) {
  auto server_password = broker_account_password(data_dir, true);
  if (!server_password) return server_password.error();
  if (auto st = write_file(out / "passwd", password_file(directory, *server_password), fs::perms::owner_read | fs::perms::owner_write); !st) return st;
  return write_file(out / "acl", acl_file(directory), fs::perms::owner_read | fs::perms::owner_write);
}

// The plugin binding client ids to user names (server/broker_plugin): next to musterd in
// a build tree, in PREFIX/lib/muster/ once installed (bin/musterd -> ../lib/muster/).
muster::Result<fs::path> client_ids_plugin() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path beside = exe.parent_path() / kClientIdsPlugin;
  const fs::path installed = exe.parent_path().parent_path() / "lib" / "muster" / kClientIdsPlugin;
  for (const auto& plugin : {beside, installed}) {
    if (!ec && fs::exists(plugin, ec)) return plugin;
  }
  return make_error(Errc::not_found, "cannot find the broker plugin " + std::string(kClientIdsPlugin) + " beside " +
                                         beside.parent_path().string() + " or in " +
                                         installed.parent_path().string() + ": it is built and installed with musterd");
}

}  // namespace

muster::Result<std::string> broker_account_password(const std::string& data_dir, bool create) {
  const fs::path path = fs::path(data_dir) / "broker-password";
  std::ifstream in(path);
  std::string password;
  if (in && std::getline(in, password) && !password.empty()) return password;
  if (!create) return make_error(Errc::not_found, "no broker password in " + path.string() + " (run musterd broker-config)");
  password = new_token().substr(3, 32);
  if (auto st = write_file(path, password + "\n", fs::perms::owner_read | fs::perms::owner_write); !st) return st.error();
  return password;
}

muster::Status write_broker_config(DirectoryStore& directory, const BrokerConfigOptions& options) {
  const auto colon = options.listen.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::invalid, "--listen takes HOST:PORT");
  const std::string host = options.listen.substr(0, colon);
  const std::string port = options.listen.substr(colon + 1);
  const bool tls = !options.tls_cert.empty() || !options.tls_key.empty();
  std::string tls_host, tls_port;
  fs::path cert, key;
  if (tls) {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      return make_error(Errc::invalid, "--tls-cert and --tls-key go together");
    }
    const auto tls_colon = options.tls_listen.rfind(':');
    if (tls_colon == std::string::npos) return make_error(Errc::invalid, "--tls-listen takes HOST:PORT");
    tls_host = options.tls_listen.substr(0, tls_colon);
    tls_port = options.tls_listen.substr(tls_colon + 1);
    if (tls_port == port) return make_error(Errc::invalid, "--tls-listen and --listen need different ports");
    // Mosquitto reads them when it starts: absolute paths, readable now.
    for (const auto& [what, given, path] : {std::tuple{"certificate", options.tls_cert, &cert},
                                           std::tuple{"key", options.tls_key, &key}}) {
      std::error_code ec;
      *path = fs::absolute(given, ec);
      std::ifstream in(*path);
      if (ec || !in) return make_error(Errc::invalid, std::string("cannot read the TLS ") + what + ' ' + given);
    }
  }
  auto plugin = client_ids_plugin();
  if (!plugin) return plugin.error();
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) return make_error(Errc::unavailable, "cannot create " + options.out_dir + ": " + ec.message());
  const fs::path out = fs::absolute(options.out_dir);

  std::ostringstream conf;
  conf << "# Mosquitto for muster, written by `musterd broker-config`. Run: mosquitto -c " << (out / "mosquitto.conf").string() << "\n"
       << "# Started as root, mosquitto would switch to this user: the one who owns these files.\n"
       << "user " << current_user() << "\n"
       << "per_listener_settings false\n"
       << "# musterd's own connection (keep it on loopback).\n"
       << "listener " << port << ' ' << host << "\n";
  if (tls) {
    conf << "# The clients' listener (mqtts://): TLS 1.2 or later.\n"
         << "listener " << tls_port << ' ' << tls_host << "\n"
         << "certfile " << cert.string() << "\n"
         << "keyfile " << key.string() << "\n"
         << "tls_version tlsv1.2\n";
  }
  conf << "allow_anonymous false\n"
       << "# Client ids are USER or USER/DEVICE: nobody takes another user's session or the server's.\n"
       << "plugin " << plugin->string() << "\n"
       << "password_file " << (out / "passwd").string() << "\n"
       << "acl_file " << (out / "acl").string() << "\n"
       << "pid_file " << (out / "mosquitto.pid").string() << "\n"
       << "# Sessions and queued QoS 1 messages survive a broker restart (a snapshot, not\n"
       << "# durability: muster's own outboxes are the truth).\n"
       << "persistence true\n"
       << "persistence_location " << (out.string() + "/") << "\n"
       << "autosave_interval 30\n"
       << "persistent_client_expiration 14d\n"
       << "# Frames are at most 256 KiB, like over WebSocket (plus the packet's header).\n"
       << "max_packet_size 263168\n"
       << "max_queued_messages 100000\n"
       << "# Small packets (an op, its ack, an event) go out at once, not after the peer's delayed ACK.\n"
       << "set_tcp_nodelay true\n"
       << "log_dest stderr\n"
       << "log_type error\nlog_type warning\nlog_type notice\n";
  if (auto st = write_file(out / "mosquitto.conf", conf.str(), fs::perms::owner_read | fs::perms::owner_write); !st) return st;
  if (auto st = write_auth_files(directory, options.data_dir, out); !st) return st;
  directory.set_setting(kOutSetting, out.string());
  return {};
}

muster::Result<std::string> refresh_broker(DirectoryStore& directory, const std::string& data_dir) {
  const std::string out = directory.setting(kOutSetting);
  if (out.empty()) return std::string();
  if (auto st = write_auth_files(directory, data_dir, out); !st) return st.error();
  std::ifstream pid_in(fs::path(out) / "mosquitto.pid");
  long pid = 0;
  if (!(pid_in >> pid) || pid <= 0 || ::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    return "broker files in " + out + " updated (no running broker to reload)";
  }
  return "broker reloaded (" + out + ")";
}

}  // namespace musterd
