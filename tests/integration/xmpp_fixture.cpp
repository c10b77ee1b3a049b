#include "xmpp_fixture.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "muster_fixture.hpp"

namespace muster::testing {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

// ---------------------------------------------------------------- Prosody

ProsodyFixture::ProsodyFixture() : dir_("prosody-"), port_(free_port()) {
  const std::string d = dir_.path();
  std::filesystem::create_directories(d + "/data");
  std::filesystem::create_directories(d + "/certs");
  std::ofstream cfg(d + "/prosody.cfg.lua");
  cfg << "-- a throwaway Prosody for muster's integration tests\n"
      << "run_as_root = true\n"
      << "pidfile = \"" << d << "/prosody.pid\"\n"
      << "data_path = \"" << d << "/data\"\n"
      << "certificates = \"" << d << "/certs\"\n"
      << "admin_socket = \"" << d << "/admin.sock\"\n"
      << "interfaces = { \"127.0.0.1\" }\n"
      << "c2s_interfaces = { \"127.0.0.1\" }\n"
      << "c2s_ports = { " << port_ << " }\n"
      << "c2s_direct_tls_ports = { }\n"
      << "s2s_ports = { }\n"
      << "http_ports = { }\n"
      << "https_ports = { }\n"
      << "authentication = \"internal_plain\"\n"
      << "c2s_require_encryption = false\n"
      << "allow_unencrypted_plain_auth = true\n"
      << "modules_enabled = { \"roster\"; \"saslauth\"; \"disco\"; \"offline\"; \"ping\"; \"posix\" }\n"
      << "modules_disabled = { \"s2s\" }\n"
      << "log = { info = \"" << d << "/prosody.log\"; error = \"*stderr\" }\n"
      << "VirtualHost \"localhost\"\n";
  cfg.close();
  start();
}

ProsodyFixture::~ProsodyFixture() { stop(); }

void ProsodyFixture::start() {
  if (proc_ && proc_->running()) return;
  proc_ = std::make_unique<Process>(std::vector<std::string>{system_program("prosody"), "--config",
                                                             dir_.path() + "/prosody.cfg.lua", "-F"});
  const bool up = wait_until([&] { return !proc_->running() || tcp_accepts(port_); }, std::chrono::seconds(15),
                             std::chrono::milliseconds(50));
  if (!up || !proc_->running()) throw std::runtime_error("prosody did not come up: " + proc_->err() + log());
}

void ProsodyFixture::stop() {
  if (proc_ && proc_->running()) proc_->terminate(std::chrono::seconds(10));
}

void ProsodyFixture::add_user(const std::string& user, const std::string& password) {
  auto r = run({system_program("prosodyctl"), "--config", dir_.path() + "/prosody.cfg.lua", "register", user,
                domain(), password},
               {}, std::nullopt, std::chrono::seconds(30));
  if (r.code != 0) throw std::runtime_error("prosodyctl register " + user + " failed: " + r.out + r.err);
}

std::string ProsodyFixture::log() const { return read_file(dir_.path() + "/prosody.log"); }

}  // namespace muster::testing
