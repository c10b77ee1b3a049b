// What a reducer may know besides the object it decides on.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/base/time.hpp"
#include "muster/domain/actor.hpp"

namespace muster::domain {

struct Policy;

// The user and area directory as seen by whoever runs the reducer. The server knows
// everything; a client knows only itself, and answers "unknown" (nullopt), in which
// case the reducer skips the check and the server decides on sync.
class Directory {
 public:
  virtual ~Directory() = default;
  virtual std::optional<bool> area_exists(std::string_view path) const = 0;
  // The enabled user of that name, if known; nullopt if this directory cannot tell.
  virtual std::optional<std::optional<Actor>> find_user(std::string_view name) const = 0;
};

// A directory that knows nothing: the client's optimistic view.
class UnknownDirectory final : public Directory {
 public:
  std::optional<bool> area_exists(std::string_view) const override { return std::nullopt; }
  std::optional<std::optional<Actor>> find_user(std::string_view) const override { return std::nullopt; }
};

// What the server lets a plugin account do beyond its role: its config's
// `message_to` (SPEC §7). Only the server knows it.
struct Grants {
  std::vector<std::string> message_to;  // user names, or "area:<path>"
};

struct Context {
  const Actor& actor;
  UnixMs now;
  const Directory& directory;
  const Policy* policy = nullptr;  // the server's dispatch policy; null: the defaults
  const Grants* grants = nullptr;  // a plugin's grants; null: unknown (a client), the check is skipped
};

}  // namespace muster::domain
