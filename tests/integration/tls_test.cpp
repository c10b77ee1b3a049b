// TLS on every transport (README "Deploying"): musterd serving wss:// with a certificate,
// Mosquitto's TLS listener written by `musterd broker-config`, and the muster CLI
// verifying both against a CA given at login. The CA and certificates are made with
// `openssl` in a temp dir when each test starts (mt::TestCerts). All on 127.0.0.1.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cli_helpers.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::contains;
using mt::describe;
using mt::run_json;

constexpr const char* kPassword = "password123";
const std::string kArea = "gulou/antai/yili";
constexpr const char* kUnknownIssuer = "certificate verify failed: unable to get local issuer certificate";

mt::RunResult login(mt::ClientFixture& c, const std::string& server, const std::string& user,
                    std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"login", "--server", server, "--user", user, "--password-stdin", "--timeout", "10"};
  args.insert(args.end(), extra.begin(), extra.end());
  return c.run(args, std::string(kPassword) + "\n");
}

// A task in kArea and a sync; true if the server accepted it.
bool task_accepted(mt::ClientFixture& c, const std::string& title) {
  auto made = c.run({"task", "new", "generic", "--title", title, "--area", kArea, "--dispatch", "claim"});
  if (made.code != 0) {
    MESSAGE(describe(made));
    return false;
  }
  auto synced = c.run({"sync", "--timeout", "15"});
  if (synced.code != 0 || !contains(synced.out, "1 accepted")) {
    MESSAGE(describe(synced));
    return false;
  }
  return true;
}

bool not_logged_in(mt::ClientFixture& c) { return run_json(c, {"status"})["user"] == ""; }

// A client over wss:// (OpenSSL, blocking, no verification: this is about the frame)
// that sends the header and first 64 KiB of an oversized frame, reads the server's
// answer, then sends the rest as a slower client would. Whether all of it could be sent,
// the close code read, and how the stream ended.
struct BigFrameOverTls {
  bool sent_all = false;
  int close_code = 0;
  bool ended = false;  // the server ended the stream (with or without close_notify), no reset
  std::string error;
};

BigFrameOverTls send_big_frame_tls(int port, std::size_t payload_bytes) {
  BigFrameOverTls out;
  // OpenSSL writes with write(2): a reset must fail the write, not kill the tests.
  struct IgnorePipe {
    void (*before)(int) = std::signal(SIGPIPE, SIG_IGN);
    ~IgnorePipe() { std::signal(SIGPIPE, before); }
  } ignore_pipe;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  struct Free {
    SSL_CTX* ctx;
    SSL* ssl;
    int fd;
    ~Free() {
      SSL_free(ssl);
      SSL_CTX_free(ctx);
      ::close(fd);
    }
  } free_all{ctx, ssl, fd};
  SSL_set_fd(ssl, fd);
  REQUIRE(SSL_connect(ssl) == 1);
  auto send_all = [&](const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const int n = SSL_write(ssl, bytes.data() + sent, static_cast<int>(std::min<std::size_t>(bytes.size() - sent, 1 << 20)));
      if (n <= 0) {
        out.error += " write: SSL error " + std::to_string(SSL_get_error(ssl, n)) + " errno " + std::strerror(errno);
        ERR_clear_error();
        return false;
      }
      sent += static_cast<std::size_t>(n);
    }
    return true;
  };
  std::string in;
  auto read_some = [&]() {
    char buffer[4096];
    const int n = SSL_read(ssl, buffer, sizeof buffer);
    if (n > 0) in.append(buffer, static_cast<std::size_t>(n));
    return n;
  };
  REQUIRE(send_all("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  while (in.find("\r\n\r\n") == std::string::npos) REQUIRE(read_some() > 0);
  REQUIRE(in.rfind("HTTP/1.1 101", 0) == 0);
  in.erase(0, in.find("\r\n\r\n") + 4);
  const std::string frame =
      mt::ws_frame(1, R"({"t":"ping","pad":")" + std::string(payload_bytes, 'x') + R"("})");
  const std::size_t first = 64 * 1024;
  out.sent_all = send_all(frame.substr(0, first));
  while (in.size() < 4) {
    if (read_some() <= 0) {
      out.error += " read: no close frame";
      return out;
    }
  }
  if (static_cast<unsigned char>(in[0]) == 0x88) {
    out.close_code = (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
  }
  out.sent_all = out.sent_all && send_all(frame.substr(first));
  if (out.sent_all) send_all(mt::ws_frame(8, in.substr(2, 2)));
  // The end: a close_notify (0), or the end of the stream without one (SSL_ERROR_SYSCALL
  // or SSL_ERROR_SSL "unexpected eof" with errno 0); a reset shows as ECONNRESET.
  while (true) {
    errno = 0;
    const int n = read_some();
    if (n > 0) continue;
    const int e = SSL_get_error(ssl, n);
    out.ended = e == SSL_ERROR_ZERO_RETURN || ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) && errno == 0);
    if (!out.ended) out.error += " end: SSL error " + std::to_string(e) + " errno " + std::strerror(errno);
    ERR_clear_error();
    break;
  }
  return out;
}

}  // namespace

TEST_SUITE("tls") {
  // Issue 13: as over ws:// (protocol_test), a frame over --max-frame is answered 1009 and
  // a client still sending it can finish and read the close, instead of being reset.
  TEST_CASE("tls: a 2 MiB frame over wss:// gets close 1009, not a reset") {
    mt::TestCerts certs;
    mt::ServerFixture server;
    server.start({"--tls-cert", certs.cert(), "--tls-key", certs.key()});
    for (int i = 0; i < 5; ++i) {
      CAPTURE(i);
      auto r = send_big_frame_tls(server.port(), 2 * 1024 * 1024);
      INFO(r.error);
      CHECK(r.sent_all);
      CHECK(r.close_code == 1009);
      CHECK(r.ended);
    }
    CHECK(server.running());
  }

  TEST_CASE("tls: login over wss:// with --ca; later commands keep the CA; a wrong CA, the system's store and a "
            "wrong host name are refused, naming the problem") {
    mt::TestCerts certs;
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    server.start({"--tls-cert", certs.cert(), "--tls-key", certs.key()});
    REQUIRE(server.url().rfind("wss://127.0.0.1:", 0) == 0);
    CHECK_MESSAGE(contains(server.log(), "on " + server.url()), server.log());

    mt::ClientFixture lead("lin");
    auto ok = login(lead, server.url(), "lin", {"--ca", certs.ca()});
    REQUIRE_MESSAGE(ok.code == 0, describe(ok));
    CHECK(contains(ok.out, "logged in as lin"));
    CHECK(run_json(lead, {"status"})["server"] == server.url());
    // No --ca from here on: the one given at login is kept with the server's address.
    CHECK(task_accepted(lead, "检查楼道灯"));

    // The server's certificate is not signed by this CA.
    mt::ClientFixture wrong("wrong-ca");
    auto refused = login(wrong, server.url(), "lin", {"--ca", certs.wrong_ca()});
    CHECK(refused.code == 3);
    CHECK_MESSAGE(contains(refused.err, kUnknownIssuer), describe(refused));
    CHECK(not_logged_in(wrong));

    // Without --ca the system's store decides, and it does not know the test CA.
    mt::ClientFixture system("system-store");
    auto unknown = login(system, server.url(), "lin");
    CHECK(unknown.code == 3);
    CHECK_MESSAGE(contains(unknown.err, kUnknownIssuer), describe(unknown));
    CHECK(not_logged_in(system));

    // A certificate from the right CA, but for another name.
    mt::ServerFixture elsewhere;
    elsewhere.add_user("lin", "lead", "gulou/antai");
    elsewhere.start({"--tls-cert", certs.other_cert(), "--tls-key", certs.other_key()});
    mt::ClientFixture misnamed("hostname");
    auto mismatch = login(misnamed, elsewhere.url(), "lin", {"--ca", certs.ca()});
    CHECK(mismatch.code == 3);
    CHECK_MESSAGE(contains(mismatch.err, "certificate verify failed: hostname mismatch"), describe(mismatch));
    CHECK(not_logged_in(misnamed));

    // A failed login changes nothing: lin's home still works with its CA.
    auto again = login(lead, server.url(), "lin", {"--ca", certs.wrong_ca()});
    CHECK(again.code == 3);
    CHECK(task_accepted(lead, "检查消防通道"));

    // Plain ws:// beyond this machine works but says it is not encrypted (nothing listens
    // on 192.0.2.1, TEST-NET-1: the login fails after the warning).
    mt::ClientFixture plain("plain");
    auto clear = plain.run({"login", "--server", "ws://192.0.2.1:8080", "--user", "lin", "--password-stdin",
                            "--timeout", "1"},
                           std::string(kPassword) + "\n");
    CHECK_MESSAGE(contains(clear.err, "ws:// is not encrypted"), describe(clear));
    CHECK_FALSE(contains(ok.err, "not encrypted"));

    // Bad input: --ca for a plain server, or a file that is not there.
    mt::ClientFixture bad("bad-ca");
    CHECK(login(bad, "ws://127.0.0.1:1", "lin", {"--ca", certs.ca()}).code == 1);
    auto missing = login(bad, server.url(), "lin", {"--ca", certs.ca() + ".missing"});
    CHECK(missing.code == 1);
    CHECK_MESSAGE(contains(missing.err, "cannot read the CA file"), describe(missing));
  }

  TEST_CASE("tls: musterd refuses to start with a key that is not the certificate's, an unreadable certificate, "
            "or plain ws:// beyond loopback") {
    mt::TestCerts certs;
    mt::ServerFixture server;
    const std::string listen = "127.0.0.1:" + std::to_string(server.port());
    auto serve = [&](std::vector<std::string> args) {
      std::vector<std::string> argv{mt::binary_path("musterd"), "serve", "--data", server.data_dir()};
      argv.insert(argv.end(), args.begin(), args.end());
      return mt::run(argv, {}, std::nullopt, 20s);
    };
    auto mismatched = serve({"--listen", listen, "--tls-cert", certs.cert(), "--tls-key", certs.other_key()});
    CHECK(mismatched.code != 0);
    CHECK_MESSAGE(contains(mismatched.err, "does not belong to the certificate"), describe(mismatched));

    auto unreadable = serve({"--listen", listen, "--tls-cert", certs.cert() + ".missing", "--tls-key", certs.key()});
    CHECK(unreadable.code != 0);
    CHECK_MESSAGE(contains(unreadable.err, "cannot read the TLS certificate"), describe(unreadable));

    auto half = serve({"--listen", listen, "--tls-cert", certs.cert()});
    CHECK(half.code == 1);
    CHECK(contains(half.err, "--tls-cert and --tls-key go together"));

    // 192.0.2.1 (TEST-NET-1) is not this machine's: nothing is bound either way.
    auto open = serve({"--listen", "192.0.2.1:" + std::to_string(server.port())});
    CHECK(open.code != 0);
    CHECK_MESSAGE(contains(open.err, "refusing to serve plain ws://"), describe(open));
    CHECK_MESSAGE(contains(open.err, "--tls-cert"), describe(open));
  }

  TEST_CASE("tls: mqtts:// through the broker's TLS listener with --ca; a wrong CA is refused, naming the problem") {
    mt::TestCerts certs;
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai");
    server.add_user("wang", "volunteer", kArea);
    mt::BrokerFixture broker(server, certs);
    server.start({"--mqtt", broker.url()});
    const bool bridged =
        mt::wait_until([&] { return server.metric("muster_mqtt_connected").value_or(0) == 1; }, 10s, 50ms);
    REQUIRE_MESSAGE(bridged, server.log());

    mt::ClientFixture lead("lin");
    auto ok = login(lead, broker.mqtts_url(), "lin", {"--ca", certs.ca()});
    REQUIRE_MESSAGE(ok.code == 0, describe(ok) << broker.log());
    CHECK(run_json(lead, {"status"})["server"] == broker.mqtts_url());
    CHECK(task_accepted(lead, "送药到3号楼"));

    mt::ClientFixture wrong("wrong-ca");
    auto refused = login(wrong, broker.mqtts_url(), "wang", {"--ca", certs.wrong_ca()});
    CHECK(refused.code == 3);
    CHECK_MESSAGE(contains(refused.err, kUnknownIssuer), describe(refused));
    CHECK(not_logged_in(wrong));
  }
}
