#include "muster_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace muster::testing {

namespace {
std::string describe(const std::vector<std::string>& args, const RunResult& r) {
  std::ostringstream o;
  for (const auto& a : args) o << a << ' ';
  o << "-> exit " << r.code << "\nstdout: " << r.out << "\nstderr: " << r.err;
  return o.str();
}
}  // namespace

TestCerts::TestCerts() : dir_("muster-certs-") {
  const std::string d = dir_.path();
  auto openssl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), system_program("openssl"));
    auto r = run(args, {}, std::nullopt, std::chrono::seconds(30));
    if (r.code != 0) throw std::runtime_error("openssl failed: " + describe(args, r));
  };
  const std::vector<std::string> ec{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"};
  auto self_signed = [&](const std::string& name, const std::string& subject) {
    std::vector<std::string> args{"req", "-x509"};
    args.insert(args.end(), ec.begin(), ec.end());
    args.insert(args.end(), {"-days", "2", "-subj", subject, "-keyout", d + "/" + name + ".key", "-out",
                             d + "/" + name + ".pem"});
    openssl(args);
  };
  auto signed_by_ca = [&](const std::string& name, const std::string& subject, const std::string& san) {
    std::vector<std::string> args{"req"};
    args.insert(args.end(), ec.begin(), ec.end());
    args.insert(args.end(), {"-subj", subject, "-keyout", d + "/" + name + ".key", "-out", d + "/" + name + ".csr"});
    openssl(args);
    std::ofstream(d + "/" + name + ".ext") << "subjectAltName=" << san
                                             << "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    openssl({"x509", "-req", "-in", d + "/" + name + ".csr", "-CA", ca(), "-CAkey", d + "/ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", d + "/" + name + ".ext", "-out", d + "/" + name + ".pem"});
  };
  self_signed("ca", "/CN=muster test CA");
  self_signed("wrong-ca", "/CN=muster wrong CA");
  signed_by_ca("server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost");
  signed_by_ca("other", "/CN=elsewhere.example", "DNS:elsewhere.example");
}

ServerFixture::ServerFixture() : dir_("musterd-"), port_(free_port()) {
  auto r = admin({"init"});
  if (r.code != 0) throw std::runtime_error("musterd init failed: " + r.err);
}

ServerFixture::ServerFixture(const FromBackup& from) : dir_("musterd-restored-"), port_(free_port()) {
  std::vector<std::string> args{"restore", from.backup};
  args.insert(args.end(), from.extra_args.begin(), from.extra_args.end());
  auto r = admin(args);
  if (r.code != 0) throw std::runtime_error("musterd restore failed: " + describe(args, r));
}

ServerFixture::~ServerFixture() {
  if (proc_ && proc_->running()) proc_->terminate(std::chrono::seconds(5));
}

RunResult ServerFixture::admin(std::vector<std::string> args, const std::optional<std::string>& stdin_text) {
  std::vector<std::string> argv{binary_path("musterd")};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--data");
  argv.push_back(dir_.path());
  return run(argv, {}, stdin_text, std::chrono::seconds(60));
}

void ServerFixture::add_user(const std::string& name, const std::string& roles, const std::string& area,
                             const std::string& password, const std::string& display) {
  // Tests set up their areas by naming them: --create-area.
  std::vector<std::string> args{"user", "add", name, "--role", roles, "--area", area, "--create-area", "--password-stdin"};
  if (!display.empty()) args.insert(args.end(), {"--display", display});
  auto r = admin(args, password + "\n");
  if (r.code != 0) throw std::runtime_error("user add failed: " + describe(args, r));
}

void ServerFixture::start(std::vector<std::string> extra_args) {
  if (proc_) past_logs_ += proc_->err();
  std::vector<std::string> argv{binary_path("musterd"), "serve", "--data", dir_.path(), "--listen",
                                "127.0.0.1:" + std::to_string(port_)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  tls_ = std::find(extra_args.begin(), extra_args.end(), "--tls-cert") != extra_args.end();
  proc_ = std::make_unique<Process>(argv);
  const bool up = wait_until(
      [&] {
        if (!proc_->running()) return true;
        if (tls_) return tcp_accepts(port_) && proc_->err().find(" serving ") != std::string::npos;
        return http_get(port_, "/healthz", std::chrono::milliseconds(500)).has_value();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
  if (!up || !proc_->running()) throw std::runtime_error("musterd did not come up: " + proc_->err());
}

void ServerFixture::kill9() {
  if (proc_) {
    proc_->kill(SIGKILL);
    proc_->wait(std::chrono::seconds(10));
  }
}

void ServerFixture::stop() {
  if (proc_ && proc_->running()) proc_->terminate(std::chrono::seconds(10));
}

bool ServerFixture::running() { return proc_ && proc_->running(); }

pid_t ServerFixture::pid() const { return proc_ ? proc_->pid() : -1; }

std::string ServerFixture::log() const { return past_logs_ + (proc_ ? proc_->err() : std::string()); }

std::optional<double> ServerFixture::metric(const std::string& name) const {
  auto body = http_get(port_, "/metrics");
  if (!body) return std::nullopt;
  std::istringstream in(*body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

ClientFixture::ClientFixture(std::string name) : name_(std::move(name)), home_("muster-" + name_ + "-") {}

RunResult ClientFixture::run(std::vector<std::string> args, const std::optional<std::string>& stdin_text,
                             std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{binary_path("muster"), "--home", home_.path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::run(argv, {}, stdin_text, timeout);
}

void ClientFixture::login(const ServerFixture& server, const std::string& user, const std::string& password) {
  std::vector<std::string> args{"login", "--server", server.url(), "--user", user, "--password-stdin"};
  auto r = run(args, password + "\n");
  if (r.code != 0) throw std::runtime_error(name_ + ": login failed: " + describe(args, r));
}

// ---------------------------------------------------------------- BrokerFixture

std::string system_program(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  throw std::runtime_error(name + " is not installed (Debian: mosquitto, mosquitto-clients)");
}

bool tcp_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

BrokerFixture::BrokerFixture(ServerFixture& server)
    : dir_("mosquitto-"), data_dir_(server.data_dir()), port_(free_port()) {
  std::vector<std::string> args{"broker-config", "--out", out_dir(), "--listen", "127.0.0.1:" + std::to_string(port_)};
  auto r = server.admin(args);
  if (r.code != 0) throw std::runtime_error("musterd broker-config failed: " + describe(args, r));
  start();
}

BrokerFixture::BrokerFixture(ServerFixture& server, const TestCerts& certs)
    : dir_("mosquitto-"), data_dir_(server.data_dir()), port_(free_port()), tls_port_(free_port()) {
  std::vector<std::string> args{"broker-config", "--out", out_dir(), "--listen", "127.0.0.1:" + std::to_string(port_),
                                "--tls-listen", "127.0.0.1:" + std::to_string(tls_port_),
                                "--tls-cert", certs.cert(), "--tls-key", certs.key()};
  auto r = server.admin(args);
  if (r.code != 0) throw std::runtime_error("musterd broker-config failed: " + describe(args, r));
  start();
}

BrokerFixture::~BrokerFixture() {
  if (proc_ && proc_->running()) proc_->terminate(std::chrono::seconds(5));
}

void BrokerFixture::start() {
  if (proc_ && proc_->running()) throw std::logic_error("the broker is already running");
  if (proc_) past_logs_ += proc_->err();
  proc_ = std::make_unique<Process>(
      std::vector<std::string>{system_program("mosquitto"), "-c", out_dir() + "/mosquitto.conf"});
  const bool up = wait_until(
      [&] { return !proc_->running() || (tcp_accepts(port_) && (tls_port_ < 0 || tcp_accepts(tls_port_))); },
      std::chrono::seconds(10),
                             std::chrono::milliseconds(20));
  if (!up || !proc_->running()) throw std::runtime_error("mosquitto did not come up: " + proc_->err());
}

void BrokerFixture::stop() {
  if (proc_ && proc_->running()) proc_->terminate(std::chrono::seconds(10));
}

void BrokerFixture::kill9() {
  if (proc_) {
    proc_->kill(SIGKILL);
    proc_->wait(std::chrono::seconds(10));
  }
}

bool BrokerFixture::running() { return proc_ && proc_->running(); }

std::string BrokerFixture::log() const { return past_logs_ + (proc_ ? proc_->err() : std::string()); }

std::string BrokerFixture::server_password() const {
  std::ifstream in(data_dir_ + "/broker-password");
  std::string password;
  if (!in || !std::getline(in, password) || password.empty()) {
    throw std::runtime_error("no broker password in " + data_dir_);
  }
  return password;
}

std::unique_ptr<Process> BrokerFixture::subscribe(const std::string& user, const std::string& password,
                                                  const std::vector<std::string>& topics,
                                                  const std::string& client_id,
                                                  std::vector<std::string> extra_args) const {
  std::vector<std::string> argv{system_program("stdbuf"), "-oL", system_program("mosquitto_sub"),
                                "-h", "127.0.0.1", "-p", std::to_string(port_), "-u", user, "-P", password,
                                "-q", "1", "-v", "-d"};
  // The broker takes only ids of the connecting user (USER or USER/...): without one,
  // a fresh USER/sub-N on a clean session.
  static int subscribers = 0;
  if (!client_id.empty()) {
    argv.insert(argv.end(), {"-i", client_id, "-c"});
  } else {
    argv.insert(argv.end(), {"-i", user + "/sub-" + std::to_string(++subscribers)});
  }
  for (const auto& t : topics) argv.insert(argv.end(), {"-t", t});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return std::make_unique<Process>(argv);
}

RunResult BrokerFixture::publish(const std::string& user, const std::string& password, const std::string& topic,
                                 const std::string& payload, std::vector<std::string> extra_args) const {
  std::vector<std::string> argv{system_program("mosquitto_pub"), "-h", "127.0.0.1", "-p", std::to_string(port_),
                                "-u", user, "-P", password, "-q", "1", "-t", topic};
  // One argument may not exceed 128 KiB (MAX_ARG_STRLEN): a larger payload goes through a file.
  std::optional<TempDir> spool;
  if (payload.size() > 64 * 1024) {
    spool.emplace("mqtt-payload-");
    const std::string path = spool->path() + "/payload";
    std::ofstream(path, std::ios::binary) << payload;
    argv.insert(argv.end(), {"-f", path});
  } else {
    argv.insert(argv.end(), {"-m", payload});
  }
  static int publishers = 0;
  if (std::find(extra_args.begin(), extra_args.end(), "-i") == extra_args.end()) {
    argv.insert(argv.end(), {"-i", user + "/pub-" + std::to_string(++publishers)});
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return run(argv, {}, std::nullopt, std::chrono::seconds(10));
}

std::vector<MqttLine> mqtt_lines(const std::string& out, const std::string& topic_prefix) {
  std::vector<MqttLine> lines;
  std::size_t start = 0;
  while (true) {
    const auto end = out.find('\n', start);
    if (end == std::string::npos) break;
    const std::string line = out.substr(start, end - start);
    start = end + 1;
    if (line.rfind(topic_prefix, 0) != 0) continue;
    const auto space = line.find(' ');
    if (space == std::string::npos) {
      lines.push_back({line, ""});
    } else {
      lines.push_back({line.substr(0, space), line.substr(space + 1)});
    }
  }
  return lines;
}

int suback_count(const std::string& out) {
  int n = 0;
  for (std::size_t at = out.find("Subscribed (mid:"); at != std::string::npos; at = out.find("Subscribed (mid:", at + 1)) {
    if (at == 0 || out[at - 1] == '\n') ++n;
  }
  return n;
}

std::string queued_id(const RunResult& r) {
  std::istringstream in(r.out);
  std::string id, word;
  in >> id >> word;
  if (id.size() != 26 || word != "queued") throw std::runtime_error("no queued id in: " + r.out + r.err);
  return id;
}

}  // namespace muster::testing
