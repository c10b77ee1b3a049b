// Fixtures for integration tests that drive the real programs: a musterd with its
// own data dir on a free loopback port, and muster clients each with their own home.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace muster::testing {

// A throw-away certificate authority and certificates, made with the `openssl` program
// in a fresh temp dir when constructed (throws if openssl fails): PEM files, EC P-256,
// valid for two days from now.
//   ca()             the CA that signed cert()
//   cert(), key()    the server's, for IP:127.0.0.1 and DNS:localhost
//   wrong_ca()       a CA that signed nothing here
//   other_cert(), other_key()  signed by ca(), but only for DNS:elsewhere.example
class TestCerts {
 public:
  TestCerts();
  std::string ca() const { return dir_.path() + "/ca.pem"; }
  std::string wrong_ca() const { return dir_.path() + "/wrong-ca.pem"; }
  std::string cert() const { return dir_.path() + "/server.pem"; }
  std::string key() const { return dir_.path() + "/server.key"; }
  std::string other_cert() const { return dir_.path() + "/other.pem"; }
  std::string other_key() const { return dir_.path() + "/other.key"; }

 private:
  TempDir dir_;
};

// A data dir made from a backup: `musterd restore BACKUP --data <fresh dir> EXTRA...`.
struct FromBackup {
  std::string backup;
  std::vector<std::string> extra_args;
};

class ServerFixture {
 public:
  ServerFixture();  // `musterd init` in a fresh data dir; picks a free port
  // `musterd restore` into a fresh data dir instead (throws if it fails); picks a free port.
  explicit ServerFixture(const FromBackup& from);
  ~ServerFixture();

  // `musterd user add` (throws if it fails).
  void add_user(const std::string& name, const std::string& roles, const std::string& area,
                const std::string& password = "password123",
                const std::string& display = "");
  RunResult admin(std::vector<std::string> args, const std::optional<std::string>& stdin_text = std::nullopt);

  // serve; waits for /healthz (throws if not up in 10 s). With --tls-cert among the
  // arguments: wss://, and it waits for the port and the log's "serving" line instead.
  void start(std::vector<std::string> extra_args = {});
  void kill9();                                          // SIGKILL and reap
  void stop();                                           // SIGTERM and reap
  bool running();
  pid_t pid() const;  // the serving process (-1 before start)

  int port() const { return port_; }
  std::string url() const { return (tls_ ? "wss://127.0.0.1:" : "ws://127.0.0.1:") + std::to_string(port_); }
  const std::string& data_dir() const { return dir_.path(); }
  std::string log() const;  // the server's stderr so far
  // A metric's value from GET /metrics (nullopt if unreachable or absent).
  std::optional<double> metric(const std::string& name) const;

 private:
  TempDir dir_;
  int port_;
  bool tls_ = false;
  std::unique_ptr<Process> proc_;
  std::string past_logs_;
};

class ClientFixture {
 public:
  explicit ClientFixture(std::string name = "client");

  // `muster --home HOME ARGS...`
  RunResult run(std::vector<std::string> args, const std::optional<std::string>& stdin_text = std::nullopt,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // login with --password-stdin; throws unless it exits 0.
  void login(const ServerFixture& server, const std::string& user, const std::string& password = "password123");
  const std::string& home() const { return home_.path(); }

 private:
  std::string name_;
  TempDir home_;
};

// A real Mosquitto for a ServerFixture's data dir, configured by the product itself:
// `musterd broker-config --data DIR --out <tmp>/broker --listen 127.0.0.1:<free port>`,
// then `mosquitto -c <tmp>/broker/mosquitto.conf` (it writes its pid file there, which
// `musterd user add|passwd|disable|enable` use to make it reload). Start the server
// with `server.start({"--mqtt", broker.url()})`: the server's broker password is in
// its data dir.
class BrokerFixture {
 public:
  explicit BrokerFixture(ServerFixture& server);  // broker-config, then start()
  // With a TLS listener for clients too (broker-config --tls-listen 127.0.0.1:<free port>
  // --tls-cert certs.cert() --tls-key certs.key()).
  BrokerFixture(ServerFixture& server, const TestCerts& certs);
  ~BrokerFixture();

  void start();  // (again) with the same port and config; throws unless it accepts connections within 10 s
  void stop();   // SIGTERM (Mosquitto saves its persistence file) and reap
  void kill9();  // SIGKILL and reap
  bool running();

  int port() const { return port_; }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }       // musterd serve --mqtt
  std::string mqtt_url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }  // muster login --server
  std::string mqtts_url() const { return "mqtts://127.0.0.1:" + std::to_string(tls_port_); }  // the TLS listener
  std::string out_dir() const { return dir_.path() + "/broker"; }  // mosquitto.conf, passwd, acl, mosquitto.pid
  std::string log() const;                                         // the broker's stderr so far
  // The password of the server's own broker account (kBrokerAccount "musterd").
  std::string server_password() const;

  // `mosquitto_sub -h 127.0.0.1 -p PORT -u USER -P PASSWORD -q 1 -v -d -t TOPIC...`, running,
  // line-buffered (stdbuf -oL) so its output file is current; with a client id also
  // `-i ID -c` (a persistent session; the broker takes only USER or USER/...), without
  // one `-i USER/sub-N`. Its messages: mqtt_lines(out()); -d adds a line
  // "Subscribed (mid: N): QOS…" for each SUBACK (see suback_count()).
  std::unique_ptr<Process> subscribe(const std::string& user, const std::string& password,
                                     const std::vector<std::string>& topics, const std::string& client_id = "",
                                     std::vector<std::string> extra_args = {}) const;
  // `mosquitto_pub ... -q 1 -t TOPIC -m PAYLOAD` as USER (client id USER/pub-N unless
  // extra_args has -i); waits (10 s) for it to exit.
  RunResult publish(const std::string& user, const std::string& password, const std::string& topic,
                    const std::string& payload, std::vector<std::string> extra_args = {}) const;

 private:
  TempDir dir_;
  std::string data_dir_;
  int port_;
  int tls_port_ = -1;
  std::unique_ptr<Process> proc_;
  std::string past_logs_;
};

// One line of `mosquitto_sub -v` output: "<topic> <payload>".
struct MqttLine {
  std::string topic;
  std::string payload;
};
// The messages in `mosquitto_sub -v` output: complete lines whose topic starts with
// topic_prefix (a last line without its newline is still being written and is left
// out; -d's debug lines start with "Client " or "Subscribed ").
std::vector<MqttLine> mqtt_lines(const std::string& out, const std::string& topic_prefix = "muster/");
// How many SUBACKs a `mosquitto_sub -d` has reported so far (one per (re)connect).
int suback_count(const std::string& out);

// The path of an installed program (searched in /usr/sbin, /usr/bin, /usr/local/…);
// throws if it is not installed.
std::string system_program(const std::string& name);
// True if a TCP connection to 127.0.0.1:port is accepted right now.
bool tcp_accepts(int port);

// The id printed by a changing command ("<ULID> queued"); throws if there is none.
std::string queued_id(const RunResult& r);

}  // namespace muster::testing
