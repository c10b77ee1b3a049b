// Self-test of the integration harness: processes, ports, HTTP and raw WebSocket
// against a small in-process WebSocket++ server on 127.0.0.1.

#include "harness.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

namespace mt = muster::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// WebSocket++ echo server, like musterd's stack: GET /healthz -> 200 "ok",
// other paths -> 404; WebSocket upgrades to /forbidden -> 403. Messages are
// echoed with their opcode, except "close-1008" (closes with policy
// violation), "ignore" (no reply) and "ping-me" (pings with "abc"; a pong is
// reported back as "pong:<payload>"). Messages over 4 MiB: close with 1009.
class EchoServer {
 public:
  using Server = websocketpp::server<websocketpp::config::asio>;
  static constexpr std::size_t kMaxMessageSize = 4 * 1024 * 1024;

  EchoServer() : port_(mt::free_port()) {
    server_.clear_access_channels(websocketpp::log::alevel::all);
    server_.clear_error_channels(websocketpp::log::elevel::all);
    std::error_code ec;
    server_.init_asio(ec);
    REQUIRE_FALSE(ec);
    server_.set_reuse_addr(true);
    server_.set_max_message_size(kMaxMessageSize);
    server_.set_http_handler([this](websocketpp::connection_hdl hdl) {
      auto con = server_.get_con_from_hdl(std::move(hdl));
      if (con->get_resource() == "/healthz") {
        con->set_status(websocketpp::http::status_code::ok);
        con->set_body("ok");
      } else {
        con->set_status(websocketpp::http::status_code::not_found);
        con->set_body("not found");
      }
    });
    server_.set_validate_handler([this](websocketpp::connection_hdl hdl) {
      auto con = server_.get_con_from_hdl(std::move(hdl));
      if (con->get_resource() != "/forbidden") return true;
      con->set_status(websocketpp::http::status_code::forbidden);
      return false;
    });
    server_.set_pong_handler([this](websocketpp::connection_hdl hdl, std::string payload) {
      std::error_code error;
      server_.send(std::move(hdl), "pong:" + payload, websocketpp::frame::opcode::text, error);
    });
    server_.set_message_handler([this](websocketpp::connection_hdl hdl, Server::message_ptr msg) {
      std::error_code error;
      if (msg->get_payload() == "close-1008") {
        server_.close(hdl, websocketpp::close::status::policy_violation, "go away", error);
      } else if (msg->get_payload() == "ping-me") {
        server_.ping(hdl, "abc", error);
      } else if (msg->get_payload() != "ignore") {
        server_.send(hdl, msg->get_payload(), msg->get_opcode(), error);
      }
    });
    server_.listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)),
                   ec);
    REQUIRE_FALSE(ec);
    server_.start_accept(ec);
    REQUIRE_FALSE(ec);
    thread_ = std::thread([this] { server_.run(); });
  }

  ~EchoServer() {
    // The acceptor is not thread-safe: stop the loop first, then close it.
    server_.stop();
    thread_.join();
    std::error_code ec;
    server_.stop_listening(ec);
  }

  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  int port() const { return port_; }

 private:
  int port_;
  Server server_;
  std::thread thread_;
};

bool can_listen_on(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 1) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_SUITE("harness") {
  TEST_CASE("TempDir creates a private directory and removes it recursively") {
    std::string kept;
    {
      mt::TempDir dir;
      kept = dir.path();
      CHECK(fs::is_directory(kept));
      fs::create_directories(kept + "/a/b");
      std::ofstream(kept + "/a/b/file.txt") << "data";
      CHECK(fs::exists(kept + "/a/b/file.txt"));

      mt::TempDir other;
      CHECK(other.path() != dir.path());

      mt::TempDir moved(std::move(other));
      CHECK(fs::is_directory(moved.path()));
    }
    CHECK_FALSE(fs::exists(kept));
  }

  TEST_CASE("free_port returns distinct ports that can be bound") {
    std::set<int> ports;
    for (int i = 0; i < 10; ++i) {
      int port = mt::free_port();
      CHECK(port > 0);
      CHECK(port < 65536);
      CHECK(can_listen_on(port));
      ports.insert(port);
    }
    CHECK(ports.size() == 10);
  }

  TEST_CASE("Process captures stdout and stderr and reports exit codes") {
    auto hi = mt::run({"echo", "hi"});
    CHECK(hi.code == 0);
    CHECK(hi.out == "hi\n");
    CHECK(hi.err.empty());

    CHECK(mt::run({"sh", "-c", "exit 3"}).code == 3);

    auto oops = mt::run({"sh", "-c", "echo oops >&2; exit 1"});
    CHECK(oops.code == 1);
    CHECK(oops.out.empty());
    CHECK(oops.err == "oops\n");
  }

  TEST_CASE("Process passes stdin text, or /dev/null without it") {
    auto echoed = mt::run({"cat"}, {}, std::string("hello\nworld"));
    CHECK(echoed.code == 0);
    CHECK(echoed.out == "hello\nworld");

    auto empty = mt::run({"cat"}, {}, std::nullopt, 5s);
    CHECK(empty.code == 0);
    CHECK(empty.out.empty());
  }

  TEST_CASE("Process adds env vars to the inherited environment") {
    auto result = mt::run({"sh", "-c", "echo \"$FOO:$MUSTER_HARNESS_UNSET\"; test -n \"$PATH\""},
                          {{"FOO", "bar baz"}});
    CHECK(result.code == 0);
    CHECK(result.out == "bar baz:\n");

    ::setenv("MUSTER_HARNESS_OVERRIDE", "inherited", 1);
    CHECK(mt::run({"sh", "-c", "echo $MUSTER_HARNESS_OVERRIDE"}).out == "inherited\n");
    CHECK(mt::run({"sh", "-c", "echo $MUSTER_HARNESS_OVERRIDE"}, {{"MUSTER_HARNESS_OVERRIDE", "mine"}}).out ==
          "mine\n");
    ::unsetenv("MUSTER_HARNESS_OVERRIDE");
  }

  TEST_CASE("Process handles large output without blocking") {
    auto result = mt::run({"head", "-c", "5000000", "/dev/zero"}, {}, std::nullopt, 10s);
    CHECK(result.code == 0);
    CHECK(result.out.size() == 5000000);
  }

  TEST_CASE("Process throws when the program cannot be spawned") {
    CHECK_THROWS_AS(mt::Process({"muster-no-such-program-xyz"}), std::runtime_error);
  }

  TEST_CASE("Process output is readable while it runs") {
    mt::Process process({"sh", "-c", "echo ready; exec sleep 30"});
    CHECK(process.pid() > 0);
    CHECK(mt::wait_until([&] { return process.out() == "ready\n"; }, 5s));
    CHECK(process.running());
  }

  TEST_CASE("Process::wait kills a process that outlives the timeout") {
    mt::Process process({"sleep", "30"});
    auto start = Clock::now();
    CHECK_THROWS_AS(process.wait(200ms), mt::TimeoutError);
    CHECK(Clock::now() - start < 5s);
    CHECK_FALSE(process.running());
    CHECK(process.exit_code() == 128 + SIGKILL);

    try {
      mt::Process again({"sleep", "30"});
      again.wait(50ms);
      FAIL("expected TimeoutError");
    } catch (const mt::TimeoutError& error) {
      CHECK(std::string(error.what()).find("[sleep 30]") != std::string::npos);
    }
  }

  TEST_CASE("Process::terminate and kill") {
    SUBCASE("SIGTERM is enough") {
      mt::Process process({"sleep", "30"});
      CHECK(process.running());
      auto start = Clock::now();
      CHECK(process.terminate() == 128 + SIGTERM);
      CHECK(Clock::now() - start < 4s);
      CHECK_FALSE(process.running());
    }
    SUBCASE("escalates to SIGKILL when SIGTERM is ignored") {
      mt::Process process({"sh", "-c", "trap '' TERM; echo armed; exec sleep 30"});
      REQUIRE(mt::wait_until([&] { return process.out() == "armed\n"; }, 5s));
      CHECK(process.terminate(300ms) == 128 + SIGKILL);
      CHECK_FALSE(process.running());
    }
    SUBCASE("kill sends the given signal") {
      mt::Process process({"sleep", "30"});
      process.kill(SIGINT);
      CHECK(process.wait(5s) == 128 + SIGINT);
      process.kill();  // already reaped: a no-op
    }
  }

  TEST_CASE("Process destructor kills and reaps the child") {
    pid_t pid = -1;
    {
      mt::Process process({"sleep", "30"});
      pid = process.pid();
      CHECK(process.running());
    }
    int status = 0;
    pid_t rc = ::waitpid(pid, &status, WNOHANG);
    int error = errno;
    CHECK(rc == -1);
    CHECK(error == ECHILD);  // no such child: it was reaped
  }

  TEST_CASE("wait_until is bounded") {
    int calls = 0;
    CHECK(mt::wait_until([&] { return ++calls >= 3; }, 2s, 1ms));
    CHECK(calls == 3);

    auto start = Clock::now();
    CHECK_FALSE(mt::wait_until([] { return false; }, 100ms));
    auto elapsed = Clock::now() - start;
    CHECK(elapsed >= 100ms);
    CHECK(elapsed < 2s);
  }

  TEST_CASE("binary_dir comes from MUSTER_BIN_DIR") {
    const char* dir = std::getenv("MUSTER_BIN_DIR");
    if (dir != nullptr && *dir != '\0') {
      CHECK(mt::binary_dir() == dir);
      CHECK(mt::binary_path("musterd") == std::string(dir) + "/musterd");
    } else {
      CHECK_THROWS_AS(mt::binary_dir(), std::runtime_error);
    }
  }

  TEST_CASE("http_get and http_status against an in-process server") {
    EchoServer server;
    CHECK(mt::http_get(server.port(), "/healthz") == std::optional<std::string>("ok"));
    CHECK(mt::http_status(server.port(), "/healthz") == 200);
    CHECK(mt::http_status(server.port(), "/nope") == 404);
    CHECK_FALSE(mt::http_get(server.port(), "/nope").has_value());

    int unused = mt::free_port();
    CHECK_FALSE(mt::http_get(unused, "/healthz").has_value());
    CHECK(mt::http_status(unused, "/healthz") == -1);
  }

  TEST_CASE("RawWs against an in-process echo server") {
    EchoServer server;

    SUBCASE("echo in order, text and binary") {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      CHECK(ws.handshake_status() == 101);
      CHECK_FALSE(ws.closed());
      CHECK(ws.send_text("hello"));
      CHECK(ws.recv() == std::optional<std::string>("hello"));

      std::string bytes("\0\x01\xff", 3);
      CHECK(ws.send_binary(bytes));
      CHECK(ws.recv() == std::optional<std::string>(bytes));

      for (int i = 0; i < 20; ++i) CHECK(ws.send_text("m" + std::to_string(i)));
      for (int i = 0; i < 20; ++i) CHECK(ws.recv() == std::optional<std::string>("m" + std::to_string(i)));

      std::string big(2 * 1024 * 1024, 'x');
      CHECK(ws.send_text(big));
      auto echoed = ws.recv(10s);
      REQUIRE(echoed.has_value());
      CHECK(echoed->size() == big.size());

      ws.close();
      CHECK(ws.closed());
      CHECK(ws.close_code() == 1000);
      CHECK_FALSE(ws.send_text("after close"));
    }

    SUBCASE("recv times out") {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      CHECK(ws.send_text("ignore"));
      auto start = Clock::now();
      CHECK_FALSE(ws.recv(150ms).has_value());
      auto elapsed = Clock::now() - start;
      CHECK(elapsed >= 150ms);
      CHECK(elapsed < 2s);
      CHECK_FALSE(ws.closed());
    }

    SUBCASE("server-initiated close is observed with its code") {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      CHECK(ws.close_code() == 0);
      CHECK(ws.send_text("close-1008"));
      REQUIRE(ws.wait_closed(3s));
      CHECK(ws.closed());
      CHECK(ws.close_code() == 1008);
      CHECK(ws.close_reason() == "go away");
      auto start = Clock::now();
      CHECK_FALSE(ws.recv(2s).has_value());  // closed and drained: no waiting
      CHECK(Clock::now() - start < 1s);
      CHECK_FALSE(ws.send_text("too late"));
    }

    SUBCASE("an oversized message is sent; the server closes with 1009") {
      // The server resets the connection with most of the message unread; the
      // close frame it sent first must still be observed.
      for (int round = 0; round < 5; ++round) {
        mt::RawWs ws;
        REQUIRE(ws.connect(server.port()));
        CHECK(ws.send_binary(std::string(EchoServer::kMaxMessageSize + 1, 'y')));
        REQUIRE(ws.wait_closed(5s));
        CHECK(ws.close_code() == 1009);
      }
    }

    SUBCASE("raw frames: fragments are reassembled by the server") {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      CHECK(ws.send_raw(mt::ws_frame(0x1, "hel", false) + mt::ws_frame(0x0, "lo", true)));
      CHECK(ws.recv() == std::optional<std::string>("hello"));
    }

    SUBCASE("raw frames: an unmasked client frame is a protocol error") {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      CHECK(ws.send_raw(mt::ws_frame(0x1, "naked", true, false)));
      REQUIRE(ws.wait_closed(3s));
      CHECK(ws.close_code() == 1002);
    }

    SUBCASE("server pings are answered") {
      mt::RawWs ws;
      REQUIRE(ws.connect(server.port()));
      CHECK(ws.send_text("ping-me"));
      CHECK(ws.recv() == std::optional<std::string>("pong:abc"));
    }

    SUBCASE("a refused handshake reports its status") {
      mt::RawWs ws;
      CHECK_FALSE(ws.connect(server.port(), 3s, "/forbidden"));
      CHECK(ws.handshake_status() == 403);
      CHECK(ws.closed());
      CHECK(ws.close_code() == 0);
    }

    SUBCASE("connect fails when nothing listens") {
      mt::RawWs ws;
      auto start = Clock::now();
      CHECK_FALSE(ws.connect(mt::free_port(), 1s));
      CHECK(Clock::now() - start < 2s);
      CHECK(ws.closed());
      CHECK_FALSE(ws.send_text("nobody"));
    }

    SUBCASE("destructor of an open connection does not hang") {
      auto start = Clock::now();
      {
        mt::RawWs ws;
        REQUIRE(ws.connect(server.port()));
      }
      CHECK(Clock::now() - start < 4s);
    }
  }
}
