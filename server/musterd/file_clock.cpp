#include "musterd/file_clock.hpp"

#include <algorithm>
#include <fstream>

namespace musterd {

FileClock::FileClock(std::string path, const muster::Clock& before_file)
    : path_(std::move(path)), last_(before_file.now_ms()) {}

muster::UnixMs FileClock::now_ms() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - read_at_ < std::chrono::milliseconds(100)) return last_;
  read_at_ = now;
  std::ifstream in(path_);
  std::string line;
  if (in && std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (auto t = muster::parse_utc(line)) last_ = std::max(last_, *t);
  }
  return last_;
}

}  // namespace musterd
