// A small command-line parser for both programs: positional words, `--name value`
// options (repeatable), and `--flag` switches declared up front so that a value is
// never mistaken for a flag.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "muster/base/result.hpp"

namespace muster {

class Args {
 public:
  // `flags` take no value; every other `--name` takes the next word (or `--name=value`).
  // Errors (Errc::invalid): an option without its value.
  static Result<Args> parse(const std::vector<std::string>& words, const std::set<std::string>& flags);
  // The words as a parser that knows the commands read them (muster/base/command_line).
  static Args make(std::vector<std::string> positional, std::multimap<std::string, std::string> options,
                   std::set<std::string> flags);

  const std::vector<std::string>& positional() const { return positional_; }
  std::string word(std::size_t i) const { return i < positional_.size() ? positional_[i] : std::string(); }
  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> all(const std::string& name) const;
  // Options given that are not in `known` (to report typos as usage errors).
  std::vector<std::string> unknown(const std::set<std::string>& known) const;

 private:
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> options_;
  std::set<std::string> flags_;
};

}  // namespace muster
