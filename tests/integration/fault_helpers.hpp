// What the fault matrix (fault_*_test.cpp, issue 13) reads back from a server's log.db
// after the fault: how often each op made its event, whether every scope's seqs and the
// global order are gap-free. Read-only, so the server may be running.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "muster/store/sqlite.hpp"

namespace muster::testing {

struct LogFacts {
  std::map<std::string, int> events_of_op;  // op id -> its events of the kind asked for
  std::set<std::string> accepted_ops;       // the ops audit: acked ok
  std::int64_t events = 0;
  std::int64_t max_gseq = 0;
  std::map<std::string, std::int64_t> scope_count;
  std::map<std::string, std::int64_t> scope_max;
  std::map<std::string, std::int64_t> scope_min;
};

inline LogFacts read_log(const std::string& data_dir, const std::string& kind) {
  muster::store::OpenOptions options;
  options.read_only = true;
  options.create = false;
  auto db = muster::store::Db::open(data_dir + "/log.db", options);
  LogFacts f;
  {
    auto s = db.prepare("SELECT op, count(*) FROM events WHERE kind = ?1 GROUP BY op");
    s.bind(1, kind);
    while (s.step()) f.events_of_op[s.text(0)] = static_cast<int>(s.int64(1));
  }
  {
    auto s = db.prepare("SELECT id FROM ops WHERE ok = 1");
    while (s.step()) f.accepted_ops.insert(s.text(0));
  }
  {
    auto s = db.prepare("SELECT count(*), coalesce(max(gseq), 0) FROM events");
    REQUIRE(s.step());
    f.events = s.int64(0);
    f.max_gseq = s.int64(1);
  }
  {
    auto s = db.prepare("SELECT scope, count(*), min(seq), max(seq) FROM events GROUP BY scope");
    while (s.step()) {
      f.scope_count[s.text(0)] = s.int64(1);
      f.scope_min[s.text(0)] = s.int64(2);
      f.scope_max[s.text(0)] = s.int64(3);
    }
  }
  return f;
}

// Every scope numbered 1..n without a gap, and the global order 1..events.
inline void check_gap_free(const LogFacts& f) {
  CHECK(f.events == f.max_gseq);
  for (const auto& [scope, n] : f.scope_count) {
    CAPTURE(scope);
    CHECK(f.scope_min.at(scope) == 1);
    CHECK(f.scope_max.at(scope) == n);
  }
}

// Each of `ops` made exactly one event of the kind read and was acked ok, and no other
// op made one.
inline void check_exactly_once(const LogFacts& f, const std::set<std::string>& ops) {
  std::set<std::string> missing;
  std::set<std::string> twice;
  for (const auto& op : ops) {
    auto it = f.events_of_op.find(op);
    if (it == f.events_of_op.end()) {
      missing.insert(op);
    } else if (it->second != 1) {
      twice.insert(op);
    }
    if (!f.accepted_ops.count(op)) missing.insert(op);
  }
  CHECK_MESSAGE(missing.empty(), "not in the log: " << nlohmann::json(missing).dump());
  CHECK_MESSAGE(twice.empty(), "in the log more than once: " << nlohmann::json(twice).dump());
  CHECK(f.events_of_op.size() == ops.size());
}

}  // namespace muster::testing
