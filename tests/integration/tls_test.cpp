// TLS on every transport (README "Deploying"): musterd serving wss:// with a certificate,
// Mosquitto's TLS listener written by `musterd broker-config`, and the muster CLI
// verifying both against a CA given at login. The CA and certificates are made with
// `openssl` in a temp dir when each test starts (mt::TestCerts). All on 127.0.0.1.

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

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

}  // namespace

TEST_SUITE("tls") {
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
