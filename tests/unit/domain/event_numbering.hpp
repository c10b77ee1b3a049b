// The reducer tests' stand-in for the server's numbering: turns an accepted draft into
// the event the server would append (gap-free seq per scope, a global gseq, the op, the
// actor and the time), so a test can fold it as a client would.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "muster/base/time.hpp"
#include "muster/domain/event.hpp"

namespace muster_test {

struct EventNumbering {
  std::map<std::string, std::int64_t> seqs;  // scope -> last seq
  std::int64_t gseq = 0;

  muster::domain::Event number(const muster::domain::Draft& d, const muster::domain::OpId& op, const std::string& actor,
                               muster::UnixMs at) {
    muster::domain::Event e;
    e.scope = d.scope;
    e.seq = ++seqs[d.scope];
    e.gseq = ++gseq;
    e.id = "01JDEVENT" + std::to_string(e.gseq);
    e.op = op;
    e.kind = d.kind;
    e.actor = actor;
    e.at = muster::format_utc(at);
    e.body = d.body;
    return e;
  }
  muster::domain::Event number(const muster::domain::Draft& d, const std::string& op, const std::string& actor,
                               muster::UnixMs at) {
    return number(d, muster::domain::OpId(op), actor, at);
  }
};

}  // namespace muster_test
