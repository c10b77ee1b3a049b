// A clock that reads the time from a file: `musterd serve --clock-file F`, for tests
// and drills that need hours to pass in seconds (offer time-outs, escalations,
// reminders). The file holds one RFC 3339 time ("2026-11-25T08:00:00Z"); the clock
// re-reads it at most every 100 ms and keeps the last good value (the time of
// `before_file` until the file first holds one). Time never goes back.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "muster/base/time.hpp"

namespace musterd {

class FileClock final : public muster::Clock {
 public:
  FileClock(std::string path, const muster::Clock& before_file);
  muster::UnixMs now_ms() const override;

 private:
  std::string path_;
  mutable std::mutex mutex_;
  mutable muster::UnixMs last_;
  mutable std::chrono::steady_clock::time_point read_at_{};
};

}  // namespace musterd
