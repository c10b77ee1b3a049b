// The fault matrix (issue 13): the disk fills up under a running musterd. The "disk" is
// the serving process's file-size limit (RLIMIT_FSIZE, set on it with prlimit(1) once it
// runs): a write past it fails with EFBIG exactly where a full disk fails with ENOSPC,
// needs no root or mount, and is lifted again without a restart. While it is full: ops
// are refused (`unavailable`, not acked, kept in the client's outbox), the server stays
// up and goes on serving reads to another client; once there is room again, the outbox
// drains and every op is in the log exactly once, gap-free.

#include <sys/types.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "fault_helpers.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using mt::describe;

// The largest file in `dir`.
std::uintmax_t largest_file(const std::string& dir) {
  std::uintmax_t out = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    if (entry.is_regular_file(ec)) out = std::max(out, entry.file_size(ec));
  }
  return out;
}

void set_file_limit(pid_t pid, const std::string& soft) {
  auto r = mt::run({"prlimit", "--pid", std::to_string(pid), "--fsize=" + soft + ":unlimited"});
  REQUIRE_MESSAGE(r.code == 0, describe(r));
}

// A task of about 10 KiB: ten details of 1,000 bytes.
std::vector<std::string> big_task(int n) {
  std::vector<std::string> args{"task",       "new",    "generic", "--title", "满盘测试 第" + std::to_string(n) + "件",
                                "--area",     "gulou/antai/yili", "--dispatch", "claim"};
  for (int d = 0; d < 10; ++d) {
    args.push_back("--detail");
    args.push_back("k" + std::to_string(d) + "=" + std::string(1000 - 3, 'x'));
  }
  return args;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("fault: a full disk refuses ops and keeps serving; they are all saved once there is room again") {
    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai/yili");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.start();
    mt::ClientFixture lin("lin"), wang("wang");
    lin.login(server, "lin");
    wang.login(server, "wang");

    std::set<std::string> made;
    int n = 0;
    for (; n < 3; ++n) {
      auto r = lin.run(big_task(n));
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      made.insert(mt::queued_id(r));
    }
    REQUIRE(mt::sync(lin, "lin") == 0);
    const pid_t pid = server.pid();

    // The disk is full: no file of the server may grow more than a few pages.
    set_file_limit(pid, std::to_string(largest_file(server.data_dir()) + 16 * 1024));
    const double refused_before = server.metric("muster_ops_unavailable_total").value_or(-1);
    bool refused = false;
    for (int round = 0; round < 40 && !refused; ++round) {
      for (int i = 0; i < 5; ++i, ++n) {
        auto r = lin.run(big_task(n));
        REQUIRE_MESSAGE(r.code == 0, describe(r));
        made.insert(mt::queued_id(r));
      }
      lin.run({"sync", "--timeout", "10"}, std::nullopt, 30s);
      refused = server.metric("muster_ops_unavailable_total").value_or(-1) > refused_before;
    }
    REQUIRE_MESSAGE(refused, "no op was refused: " << server.log());

    // Refused, not acked: they wait in lin's outbox. The server is the same process, up.
    auto status = mt::run_json(lin, {"status"});
    CHECK(status["pending"] > 0);
    REQUIRE(server.running());
    CHECK(server.pid() == pid);
    auto still = lin.run({"sync", "--timeout", "10"}, std::nullopt, 30s);
    CHECK_MESSAGE(mt::contains(still.out, "(0 accepted, 0 rejected)"), describe(still));
    CHECK_MESSAGE(mt::contains(still.out, "still queued"), describe(still));
    CHECK(mt::run_json(lin, {"status"})["pending"] == status["pending"]);
    CHECK(mt::contains(server.log(), "commit: "));
    MESSAGE("the server's log: " << server.log().substr(server.log().rfind("commit: ")).substr(0, 300));

    // What the log has is what was acked, once, without gaps; and another client reads it.
    auto during = mt::read_log(server.data_dir(), "task.created");
    mt::check_gap_free(during);
    for (const auto& [op, count] : during.events_of_op) {
      CAPTURE(op);
      CHECK(count == 1);
      CHECK(during.accepted_ops.count(op) == 1);
    }
    REQUIRE(mt::sync(wang, "wang") == 0);
    CHECK(mt::run_json(wang, {"task", "list"}).size() == during.events_of_op.size());

    // Room again: the outbox drains, every op once, the same server all along.
    set_file_limit(pid, "unlimited");
    json after;
    for (int attempt = 0; attempt < 5; ++attempt) {
      lin.run({"sync", "--timeout", "30"}, std::nullopt, 60s);
      after = mt::run_json(lin, {"status"});
      if (after["pending"] == 0) break;
    }
    CHECK(after["pending"] == 0);
    CHECK(server.pid() == pid);
    auto facts = mt::read_log(server.data_dir(), "task.created");
    mt::check_exactly_once(facts, made);
    mt::check_gap_free(facts);
    REQUIRE(mt::sync(wang, "wang") == 0);
    CHECK(mt::run_json(wang, {"task", "list"}).size() == made.size());
    MESSAGE(made.size() << " ops, " << during.events_of_op.size() << " saved before the disk was full");
  }
}
