#include "muster/base/command_line.hpp"

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>

namespace muster {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  // Optimal string alignment: insertions, deletions, substitutions and swaps of two
  // neighbours (the commonest typo, "opne") each count one.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> closest_name(const std::string& given, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(given, c);
    const std::size_t longer = std::max(given.size(), c.size());
    const std::size_t allowed = std::clamp<std::size_t>(longer / 3, 1, 3);
    const bool prefix = given.size() >= 3 && (c.rfind(given, 0) == 0 || given.rfind(c, 0) == 0);
    if (d > allowed && !prefix) continue;
    if (!best || d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

namespace {

// The long names of a CLI11 option, as typed ("--state").
std::vector<std::string> typed_names(const CLI::Option* o) {
  std::vector<std::string> out;
  for (const auto& n : o->get_lnames()) out.push_back("--" + n);
  return out;
}

bool looks_like_option(const std::string& w) {
  if (w.size() < 2 || w[0] != '-') return false;
  // -5 and -1.5 are values, not options.
  return !(std::isdigit(static_cast<unsigned char>(w[1])) || w[1] == '.');
}

std::string joined(const std::vector<std::string>& words, const std::string& sep) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : sep) + w;
  return out;
}

}  // namespace

struct CommandTree::Impl {
  std::string program;
  std::string version;
  CLI::App app;
  std::map<const CLI::App*, std::vector<CLI::Option*>> positionals;
  std::map<const CLI::Option*, std::vector<std::string>> choices;

  Impl(std::string p, std::string v) : program(std::move(p)), version(std::move(v)), app(program) {}

  // Every option a command takes: its own and, by fallthrough, those of the commands
  // above it (the global ones).
  std::vector<const CLI::Option*> options_of(const CLI::App* node) const {
    std::vector<const CLI::Option*> out;
    for (const CLI::App* n = node; n != nullptr; n = n->get_parent()) {
      for (const auto* o : n->get_options()) {
        if (!o->get_lnames().empty()) out.push_back(o);
      }
    }
    return out;
  }

  std::vector<std::string> option_names(const CLI::App* node) const {
    std::vector<std::string> out;
    for (const auto* o : options_of(node)) {
      for (const auto& n : typed_names(o)) out.push_back(n);
    }
    return out;
  }

  static std::vector<const CLI::App*> children(const CLI::App* node) {
    std::vector<const CLI::App*> out;
    for (const auto* s : const_cast<CLI::App*>(node)->get_subcommands([](CLI::App*) { return true; })) {
      out.push_back(s);
    }
    return out;
  }
};

CommandTree::CommandTree(std::string program, std::string version)
    : impl_(std::make_unique<Impl>(std::move(program), std::move(version))) {
  auto& app = impl_->app;
  app.set_help_flag();  // --help prints our synopsis, not CLI11's page
  app.allow_extras();   // left-over words are collected and reported by parse()
  app.add_flag("--help,-h");
  app.add_flag("--version");
}

CommandTree::~CommandTree() = default;
CommandTree::CommandTree(CommandTree&&) noexcept = default;
CommandTree& CommandTree::operator=(CommandTree&&) noexcept = default;

CommandTree::Node CommandTree::root() { return &impl_->app; }

CommandTree::Node CommandTree::command(Node parent, const std::string& name, const std::string& positionals,
                                       bool hidden) {
  auto* c = parent->add_subcommand(name);
  c->set_help_flag();
  c->allow_extras();
  c->fallthrough();  // the global options (--home, --json, --help) work after the command
  if (hidden) c->group("");
  std::istringstream in(positionals);
  for (std::string word; in >> word;) impl_->positionals[c].push_back(c->add_option(word));
  return c;
}

void CommandTree::option(Node cmd, const std::string& name, const std::string& value_name) {
  cmd->add_option(name)
      ->type_name(value_name)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void CommandTree::choice(Node cmd, const std::string& name, const std::vector<std::string>& values) {
  auto* o = cmd->add_option(name)
                ->type_name(joined(values, "|"))
                ->allow_extra_args(false)
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                ->check(CLI::IsMember(values));
  impl_->choices[o] = values;
}

void CommandTree::flag(Node cmd, const std::string& name) { cmd->add_flag(name); }

CommandTree::Parsed CommandTree::parse(const std::vector<std::string>& words) {
  auto& app = impl_->app;
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 takes them last first
  Parsed out;
  // The commands given, as far as they were recognised (for the error's synopsis too).
  auto walk = [&]() {
    std::vector<const CLI::App*> nodes{&app};
    for (;;) {
      auto subs = const_cast<CLI::App*>(nodes.back())->get_subcommands();
      if (subs.empty()) break;
      nodes.push_back(subs.front());
    }
    return nodes;
  };
  auto refuse = [&out](std::string message, bool unknown_command = false) {
    out.error = std::move(message);
    out.unknown_command = unknown_command;
    return out;
  };
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    // "--note: 1 required T missing": said as the commands always said it.
    static const std::regex kMissing(R"(^(-[-\w]+): 1 required \S+ missing$)");
    std::smatch m;
    if (std::regex_match(message, m, kMissing)) message = "option " + m.str(1) + " needs a value";
    // CLI11 says "--state: opne not in {open,done}"; said for people:
    for (const auto& [opt, values] : impl_->choices) {
      const auto names = typed_names(opt);
      if (names.empty() || message.rfind(names.front() + ": ", 0) != 0) continue;
      std::string given;
      for (std::size_t i = 0; i + 1 < words.size(); ++i) {
        if (words[i] == names.front()) given = words[i + 1];
        if (words[i].rfind(names.front() + "=", 0) == 0) given = words[i].substr(names.front().size() + 1);
      }
      message = "unknown " + names.front() + " '" + given + "' (one of " + joined(values, ", ") + ")";
      if (auto near = closest_name(given, values)) message += "; did you mean " + *near + "?";
    }
    for (const auto* n : walk()) {
      if (n != &app) out.path.push_back(n->get_name());
    }
    return refuse(message);
  }
  const auto nodes = walk();
  for (std::size_t i = 1; i < nodes.size(); ++i) out.path.push_back(nodes[i]->get_name());

  // `--tls-cert --data DIR`: CLI11 (as the hand-written parser before it) gives an
  // option its value whatever it looks like; an option's name is no value.
  const auto known = impl_->option_names(nodes.back());
  for (const auto* n : nodes) {
    for (const auto* o : n->get_options()) {
      if (o->count() == 0 || o->get_positional() || o->get_expected_max() == 0) continue;
      for (const auto& r : o->results()) {
        if (std::find(known.begin(), known.end(), r.substr(0, r.find('='))) == known.end()) continue;
        return refuse("option " + typed_names(o).front() + " needs a value (" + r + " is an option)");
      }
    }
  }
  // Left-over words, in the order given: an option this command does not take, then a
  // word beyond its positionals.
  std::vector<std::string> extras;
  for (const auto* n : nodes) {
    for (const auto& w : n->remaining()) extras.push_back(w);
  }
  const CLI::App* deepest = nodes.back();
  const std::string where = out.path.empty() ? impl_->program : impl_->program + " " + joined(out.path, " ");
  for (const auto& w : extras) {
    if (!looks_like_option(w) || w == "--") continue;
    const std::string name = w.substr(0, w.find('='));
    std::string message = where + " has no option " + name;
    if (auto near = closest_name(name, impl_->option_names(deepest))) message += " (did you mean " + *near + "?)";
    return refuse(message);
  }
  if (!extras.empty()) {
    const std::string& w = extras.front();
    const auto kids = Impl::children(deepest);
    const bool took_positional = std::any_of(impl_->positionals[deepest].begin(), impl_->positionals[deepest].end(),
                                             [](const CLI::Option* o) { return o->count() > 0; });
    if (!kids.empty() && !took_positional) {
      std::vector<std::string> names;
      for (const auto* k : kids) {
        if (!k->get_group().empty()) names.push_back(k->get_name());
      }
      std::string message = out.path.empty() ? "unknown command '" + w + "'"
                                              : "unknown " + joined(out.path, " ") + " command '" + w + "'";
      if (auto near = closest_name(w, names)) message += " (did you mean " + *near + "?)";
      return refuse(message, true);
    }
    std::string message = where + ": unexpected argument '" + w + "'";
    // `--start 2026-12-07 08:00`: the word after an option's value.
    std::vector<std::string> valued;
    for (const auto* o : impl_->options_of(deepest)) {
      if (o->get_expected_max() == 0) continue;
      for (const auto& n : typed_names(o)) valued.push_back(n);
    }
    for (std::size_t i = 2; i < words.size(); ++i) {
      if (words[i] == w && std::find(valued.begin(), valued.end(), words[i - 2]) != valued.end()) {
        message += " after " + words[i - 2] + " " + words[i - 1] + " (a value with spaces needs quotes: " +
                   words[i - 2] + " \"" + words[i - 1] + " " + w + "\")";
        break;
      }
    }
    return refuse(message);
  }

  std::vector<std::string> positional = out.path;
  std::multimap<std::string, std::string> options;
  std::set<std::string> flags;
  for (const auto* n : nodes) {
    for (const auto* o : n->get_options()) {
      if (o->count() == 0) continue;
      if (o->get_positional()) continue;
      const std::string name = o->get_lnames().empty() ? o->get_name() : o->get_lnames().front();
      if (o->get_expected_max() == 0) {
        flags.insert(name);
      } else {
        for (const auto& r : o->results()) options.emplace(name, r);
      }
    }
    auto it = impl_->positionals.find(n);
    if (it == impl_->positionals.end()) continue;
    for (const auto* o : it->second) {
      for (const auto& r : o->results()) positional.push_back(r);
    }
  }
  out.help = flags.count("help") > 0;
  out.version = flags.count("version") > 0;
  out.args = Args::make(std::move(positional), std::move(options), std::move(flags));
  return out;
}

std::string CommandTree::bash_completion() {
  const std::string fn = "_" + impl_->program;
  std::set<std::string> valued;
  std::ostringstream cases;
  std::ostringstream value_cases;
  std::ostringstream paths;
  // Depth first over the visible commands: what each offers next.
  std::vector<std::pair<const CLI::App*, std::string>> todo{{&impl_->app, ""}};
  while (!todo.empty()) {
    auto [node, path] = todo.back();
    todo.pop_back();
    std::vector<std::string> subs;
    for (const auto* k : Impl::children(node)) {
      if (k->get_group().empty()) continue;
      subs.push_back(k->get_name());
      todo.emplace_back(k, path + "/" + k->get_name());
      paths << (paths.tellp() > 0 ? "|" : "") << '"' << path << "/" << k->get_name() << '"';
    }
    std::vector<std::string> opts;
    for (const auto* o : impl_->options_of(node)) {
      for (const auto& n : typed_names(o)) {
        opts.push_back(n);
        if (o->get_expected_max() != 0) valued.insert(n);
      }
      auto c = impl_->choices.find(o);
      if (c != impl_->choices.end() && !typed_names(o).empty()) {
        value_cases << "    \"" << path << ' ' << typed_names(o).front() << "\") words=\"" << joined(c->second, " ")
                    << "\";;\n";
      }
    }
    cases << "    \"" << path << "\") subs=\"" << joined(subs, " ") << "\"; opts=\"" << joined(opts, " ")
          << "\";;\n";
  }
  std::ostringstream s;
  s << "# bash completion for " << impl_->program << ", written by `" << impl_->program
    << " completion bash` from the same\n# declaration its command line is parsed with.\n"
    << fn << "() {\n"
    << "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
    << "  local node=\"\" w i subs=\"\" opts=\"\" words=\"\"\n"
    << "  local valued=\" " << joined(std::vector<std::string>(valued.begin(), valued.end()), " ") << " \"\n"
    << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    << "    w=\"${COMP_WORDS[i]}\"\n"
    << "    if [[ $w == -* ]]; then\n"
    << "      [[ $valued == *\" $w \"* ]] && ((i++))\n"
    << "      continue\n"
    << "    fi\n"
    << "    case \"$node/$w\" in\n"
    << "      " << (paths.tellp() > 0 ? paths.str() : "\"\"") << ") node=\"$node/$w\";;\n"
    << "    esac\n"
    << "  done\n"
    << "  case \"$node $prev\" in\n"
    << value_cases.str() << "  esac\n"
    << "  if [[ -n $words ]]; then\n"
    << "    mapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")\n"
    << "    return\n"
    << "  fi\n"
    << "  if [[ $valued == *\" $prev \"* ]]; then\n"
    << "    mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
    << "    return\n"
    << "  fi\n"
    << "  case \"$node\" in\n"
    << cases.str() << "  esac\n"
    << "  if [[ $cur == -* ]]; then\n"
    << "    mapfile -t COMPREPLY < <(compgen -W \"$opts\" -- \"$cur\")\n"
    << "  else\n"
    << "    mapfile -t COMPREPLY < <(compgen -W \"$subs\" -- \"$cur\")\n"
    << "  fi\n"
    << "}\n"
    << "complete -o default " << fn << " " << impl_->program << '\n';
  return s.str();
}

std::string synopsis(const std::string& usage_text, const std::vector<std::string>& path, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(usage_text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  // Does a block's first line describe `path` (or its first n words)? A line can
  // name several commands: `notice list | notice ack ID`, `task claim|accept ID`.
  auto describes = [&](const std::string& line, std::size_t n) {
    std::string rest = line.substr(2);
    if (rest.rfind(prefix, 0) != 0) return false;
    rest = rest.substr(prefix.size());
    for (std::size_t start = 0; start <= rest.size();) {
      std::size_t bar = rest.find(" | ", start);
      std::istringstream words(rest.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
      bool all = true;
      for (std::size_t i = 0; i < n && all; ++i) {
        std::string w;
        words >> w;
        std::vector<std::string> alternatives;
        std::istringstream alts(w);
        for (std::string a; std::getline(alts, a, '|');) alternatives.push_back(a);
        all = std::find(alternatives.begin(), alternatives.end(), path[i]) != alternatives.end();
      }
      if (all) return true;
      if (bar == std::string::npos) break;
      start = bar + 3;
    }
    return false;
  };
  for (std::size_t n = path.size(); n > 0; --n) {
    std::string out;
    bool in_block = false;
    for (const auto& line : lines) {
      const bool head = line.size() > 2 && line.compare(0, 2, "  ") == 0 && line[2] != ' ';
      const bool continuation = line.size() > 2 && line.compare(0, 3, "   ") == 0;
      if (head) {
        in_block = describes(line, n);
      } else if (!continuation) {
        in_block = false;
      }
      if (in_block) out += line + '\n';
    }
    if (!out.empty()) return out;
  }
  return "";
}

}  // namespace muster
