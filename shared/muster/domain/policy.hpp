// Dispatch policy: how tasks of each kind are dispatched and followed up, when
// notices are chased and shifts reminded. Configuration, not code: the server reads
// it from DATA/policy.json (every field optional, see README "Policy"); a client that
// does not know it decides with the defaults and the server's answer wins on sync.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "muster/base/result.hpp"
#include "muster/base/time.hpp"
#include "muster/domain/event.hpp"
#include "muster/domain/task.hpp"

namespace muster::domain {

struct TaskPolicy {
  Dispatch dispatch = Dispatch::claim;    // when the task names no assignee and no dispatch
  UnixMs offer_timeout = 5 * 60 * 1000;  // an offer moves on after this
  // A task still open or not accepted this long after creation escalates, one stage
  // per step: stage 1 to the leads of its area, stage 2 to the leads above, ...
  std::vector<UnixMs> escalate_after{30 * 60 * 1000, 2 * 60 * 60 * 1000};
  std::vector<UnixMs> urgent_escalate_after{10 * 60 * 1000, 30 * 60 * 1000};
};

struct NoticePolicy {
  // An urgent notice that asks for acknowledgement is re-sent to whoever has not
  // acknowledged after `resend_after`, then escalated to the leads of the lagging
  // areas after `escalate_after` (both from posting).
  UnixMs resend_after = 30 * 60 * 1000;
  UnixMs escalate_after = 60 * 60 * 1000;
};

struct RosterPolicy {
  UnixMs reminder_before = 60 * 60 * 1000;  // a reminder to each signed-up volunteer
  UnixMs gap_window = 2 * 60 * 60 * 1000;   // gaps of shifts starting this soon escalate
  UnixMs late_after = 5 * 60 * 1000;        // a check-in later than start + this is late
  UnixMs checkin_early = 2 * 60 * 60 * 1000;  // check-in opens this long before start
};

// One user's budget for ops, as two token buckets: each op takes one op token and as
// many byte tokens as its body and kind have bytes. A bucket holds at most its burst and
// refills at its rate; an op that finds either short is answered `rate_limited` with the
// wait until it would fit, and nothing is written.
struct Budget {
  std::int64_t ops_per_minute = 0;
  std::int64_t op_burst = 0;
  std::int64_t kib_per_minute = 0;
  std::int64_t kib_burst = 0;
};

// Budgets by the kind of account. A user with several roles gets the most generous:
// plugin over lead over volunteer. Leads are leads, coordinators and admins; everyone
// else (volunteers, hotline operators) is a volunteer. Plugins (a chat bridge speaks for
// many residents) get the most.
struct LimitsPolicy {
  Budget volunteer{120, 300, 512, 1024};
  Budget lead{600, 2000, 2048, 4096};
  Budget plugin{6000, 5000, 16384, 16384};
};

struct Policy {
  std::string timezone = "Asia/Shanghai";
  TaskPolicy default_task;
  std::map<std::string, TaskPolicy> tasks;  // by task kind, overriding default_task
  NoticePolicy notices;
  RosterPolicy roster;
  LimitsPolicy limits;

  const TaskPolicy& for_kind(const std::string& kind) const;

  // The built-in defaults: errands are offered, everything else is claimed.
  static Policy defaults();
  // Reads the JSON form (see to_json), starting from defaults(). Durations are
  // strings like "90s", "5m", "2h", "1d" or "1h30m". Unknown keys are an error, so a
  // typo does not silently leave a default in place.
  static Result<Policy> from_json(const Json& j);
  Json to_json() const;
};

// "90s" "5m" "2h" "1d" "1h30m" -> milliseconds; nullopt if malformed or zero.
std::optional<UnixMs> parse_duration(std::string_view text);
std::string format_duration(UnixMs ms);  // "1h30m", "5m", "90s" -> "1m30s"

}  // namespace muster::domain
