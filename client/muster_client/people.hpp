// People as the client shows them, in the command line's tables and the TUI alike:
// "王芳 (wang)" when the server told this device wang's display name, else "wang".
// The names come from the server's welcome (`people`, {user: display}, docs/protocol.md),
// which the sync session keeps in the client store's config as "people" (JSON text).
//
// Pure: no store, no I/O; whoever has the store hands it the config's text.
#pragma once

#include <map>
#include <string>

namespace muster::client {

class People {
 public:
  People() = default;
  explicit People(std::map<std::string, std::string> names) : names_(std::move(names)) {}
  // From the stored config's text; anything but a JSON object of strings gives no names
  // (an old store, a server that sent none): people are then shown by user name alone.
  static People from_json(const std::string& text);

  // "王芳 (wang)"; "wang" without a display name (or one equal to the user name);
  // anything else ("area:…", "-") as given. Not made display-safe: callers do that.
  std::string person(const std::string& user) const;

 private:
  std::map<std::string, std::string> names_;
};

}  // namespace muster::client
