// The bridge's side of the plugin protocol's pipes: JSON lines from musterd on stdin,
// JSON lines to musterd on stdout. Neither ever blocks the bridge: stdin is polled,
// stdout is non-blocking with a buffer (musterd may pause reading a plugin), so the
// XMPP session keeps running whatever musterd does.
//
// Thread: the bridge's one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xmpp_bridge {

class HostPipe {
 public:
  HostPipe();  // makes stdout non-blocking

  // Blocks for the first line (init); nullopt if stdin ends first.
  std::optional<std::string> read_first_line();
  // The complete lines that arrived since the last call (never waits).
  std::vector<std::string> read_available();
  // musterd is gone: stdin reached its end or stdout broke.
  bool closed() const { return closed_; }

  // Queues lines for musterd and writes what the pipe takes now (dropped once closed).
  void write(const std::vector<std::string>& lines);
  // Writes more of what is queued, if the pipe takes it.
  void flush();
  // Something waits to be written (poll stdout for POLLOUT).
  bool wants_write() const { return !out_.empty() && !closed_; }

 private:
  bool fill(bool block);
  std::string in_;
  std::string out_;
  bool closed_ = false;
};

}  // namespace xmpp_bridge
