#include "muster_fixture.hpp"

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

ServerFixture::ServerFixture() : dir_("musterd-"), port_(free_port()) {
  auto r = admin({"init"});
  if (r.code != 0) throw std::runtime_error("musterd init failed: " + r.err);
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
                             const std::string& password) {
  std::vector<std::string> args{"user", "add", name, "--role", roles, "--area", area, "--password-stdin"};
  auto r = admin(args, password + "\n");
  if (r.code != 0) throw std::runtime_error("user add failed: " + describe(args, r));
}

void ServerFixture::start(std::vector<std::string> extra_args) {
  if (proc_) past_logs_ += proc_->err();
  std::vector<std::string> argv{binary_path("musterd"), "serve", "--data", dir_.path(), "--listen",
                                "127.0.0.1:" + std::to_string(port_)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<Process>(argv);
  const bool up = wait_until(
      [&] { return !proc_->running() || http_get(port_, "/healthz", std::chrono::milliseconds(500)).has_value(); },
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

std::string queued_id(const RunResult& r) {
  std::istringstream in(r.out);
  std::string id, word;
  in >> id >> word;
  if (id.size() != 26 || word != "queued") throw std::runtime_error("no queued id in: " + r.out + r.err);
  return id;
}

}  // namespace muster::testing
