// One declaration of a program's commands and options (CLI11, Debian libcli11-dev),
// used for three things: parsing a command line strictly, printing a command's
// synopsis, and writing the bash completion script. Both programs (muster, musterd)
// declare their tree with it and hand the commands the same Args they always read.
//
// Strict means: an option the command does not take is an error that names it and
// suggests the closest one it does take (CLI11 2.1 suggests nothing by itself, hence
// closest_name below); an enumerated value outside its set is an error naming the
// option and the allowed values; a word left over after the command's arguments (the
// `08:00` of an unquoted `--start 2026-12-07 08:00`) is an error naming it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "muster/base/args.hpp"
#include "muster/base/result.hpp"

namespace CLI {
class App;
}

namespace muster {

// The edit distance between two byte strings (option names are ASCII): insertions,
// deletions, substitutions and swaps of neighbours count one each.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The candidate nearest to `given`, if it is near enough to be a likely typo: at most
// a third of the longer name's length in edits (and at least 1, at most 3), or one is a
// prefix of the other. Ties go to the first candidate.
std::optional<std::string> closest_name(const std::string& given, const std::vector<std::string>& candidates);

class CommandTree {
 public:
  // `program` names the binary in messages ("muster"); `version` answers --version.
  CommandTree(std::string program, std::string version);
  ~CommandTree();
  CommandTree(const CommandTree&) = delete;
  CommandTree& operator=(const CommandTree&) = delete;
  CommandTree(CommandTree&&) noexcept;  // the nodes stay where they are
  CommandTree& operator=(CommandTree&&) noexcept;

  using Node = CLI::App*;
  Node root();

  // A (sub)command under `parent`; `positionals` names its positional words in order
  // ("ID", "ROUND HOUSEHOLD STATUS"): more words than these are refused. A hidden
  // command works but is not completed.
  Node command(Node parent, const std::string& name, const std::string& positionals = "", bool hidden = false);
  // `--name VALUE` (repeatable; the last one counts where one value is read).
  void option(Node cmd, const std::string& name, const std::string& value_name = "VALUE");
  // `--name VALUE` where VALUE is one of `values`.
  void choice(Node cmd, const std::string& name, const std::vector<std::string>& values);
  // `--name` without a value.
  void flag(Node cmd, const std::string& name);

  struct Parsed {
    Args args;                      // the words as the commands have always read them
    std::vector<std::string> path;  // the commands given, e.g. {"task", "list"}
    bool help = false;              // --help anywhere
    bool version = false;           // --version
    // Why the words were refused, naming the offending one; empty if they were not.
    std::string error;
    bool unknown_command = false;  // the error is a command name nothing declares
  };
  Parsed parse(const std::vector<std::string>& words);

  // A bash completion script for the program (commands, options, enumerated values).
  std::string bash_completion();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The blocks of a usage text that describe the command `path` ({"task", "new"}): a
// block is a line indented by two spaces whose words (after `prefix`, e.g. "musterd ")
// start with `path`, with the more indented lines below it. Empty if none matches.
std::string synopsis(const std::string& usage_text, const std::vector<std::string>& path,
                     const std::string& prefix = "");

}  // namespace muster
