#include "muster/base/args.hpp"

namespace muster {

Result<Args> Args::parse(const std::vector<std::string>& words, const std::set<std::string>& flags) {
  Args a;
  bool only_positional = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (only_positional || w.size() < 3 || w.compare(0, 2, "--") != 0) {
      if (w == "--") {
        only_positional = true;
        continue;
      }
      a.positional_.push_back(w);
      continue;
    }
    std::string name = w.substr(2);
    if (auto eq = name.find('='); eq != std::string::npos) {
      a.options_.emplace(name.substr(0, eq), name.substr(eq + 1));
      continue;
    }
    if (flags.count(name)) {
      a.flags_.insert(name);
      continue;
    }
    if (i + 1 >= words.size()) return make_error(Errc::invalid, "option --" + name + " needs a value");
    a.options_.emplace(name, words[++i]);
  }
  return a;
}

Args Args::make(std::vector<std::string> positional, std::multimap<std::string, std::string> options,
                std::set<std::string> flags) {
  Args a;
  a.positional_ = std::move(positional);
  a.options_ = std::move(options);
  a.flags_ = std::move(flags);
  return a;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto range = options_.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second;  // the last one wins
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  auto range = options_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

std::vector<std::string> Args::unknown(const std::set<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [name, value] : options_) {
    if (!known.count(name)) out.push_back("--" + name);
  }
  for (const auto& f : flags_) {
    if (!known.count(f)) out.push_back("--" + f);
  }
  return out;
}

}  // namespace muster
