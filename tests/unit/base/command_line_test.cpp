#include "muster/base/command_line.hpp"

#include <doctest/doctest.h>

namespace {

using muster::closest_name;
using muster::CommandTree;
using muster::edit_distance;

TEST_CASE("edit_distance counts insertions, deletions and substitutions") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("--state", "--state") == 0);
  CHECK(edit_distance("--stat", "--state") == 1);
  CHECK(edit_distance("--lisen", "--listen") == 1);
  CHECK(edit_distance("--not", "--note") == 1);
  CHECK(edit_distance("--priorty", "--priority") == 1);
  CHECK(edit_distance("--dispaly", "--display") == 1);  // two letters swapped
  CHECK(edit_distance("opne", "open") == 1);
  CHECK(edit_distance("ca", "abc") == 3);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("closest_name suggests the nearest name when it is a likely typo") {
  const std::vector<std::string> options{"--mine", "--state", "--area", "--home", "--json", "--help"};
  CHECK(closest_name("--stat", options) == "--state");
  CHECK(closest_name("--stae", options) == "--state");
  CHECK(closest_name("--aera", options) == "--area");
  CHECK(closest_name("--jsn", options) == "--json");
  // Nothing near: no suggestion rather than a wild one.
  CHECK_FALSE(closest_name("--title", options));
  CHECK_FALSE(closest_name("--x", {"--listen", "--data"}));
  CHECK_FALSE(closest_name("--stat", {}));
  // A prefix counts, however much is missing.
  CHECK(closest_name("--max", {"--listen", "--max-frame"}) == "--max-frame");
  // Values too: "opne" is one of a set.
  CHECK(closest_name("opne", {"open", "offered", "done"}) == "open");
  // The nearest wins; on a tie, the first.
  CHECK(closest_name("--tex", {"--text", "--to"}) == "--text");
  CHECK(closest_name("--ab", {"--ac", "--ad"}) == "--ac");
}

CommandTree small_tree() {
  CommandTree t("prog", "1.2.3");
  auto root = t.root();
  t.option(root, "--home", "DIR");
  t.flag(root, "--json");
  auto task = t.command(root, "task");
  auto list = t.command(task, "list");
  t.choice(list, "--state", {"open", "done"});
  t.flag(list, "--mine");
  auto done = t.command(task, "done", "ID");
  t.option(done, "--note", "T");
  return t;
}

TEST_CASE("CommandTree: the words the commands read, as Args") {
  auto t = small_tree();
  auto p = t.parse({"--home", "h", "task", "done", "X", "--note", "a", "--note", "b c", "--json"});
  REQUIRE(p.error.empty());
  CHECK(p.path == std::vector<std::string>{"task", "done"});
  CHECK(p.args.positional() == std::vector<std::string>{"task", "done", "X"});
  CHECK(p.args.get("note") == "b c");  // the last one counts
  CHECK(p.args.all("note") == std::vector<std::string>{"a", "b c"});
  CHECK(p.args.get("home") == "h");
  CHECK(p.args.flag("json"));
  CHECK_FALSE(p.args.flag("mine"));
  auto eq = t.parse({"task", "list", "--state=done", "--mine"});
  REQUIRE(eq.error.empty());
  CHECK(eq.args.get("state") == "done");
  CHECK(eq.args.flag("mine"));
}

TEST_CASE("CommandTree: mistakes are refused naming the word") {
  {
    auto t = small_tree();
    auto p = t.parse({"task", "list", "--stat", "open"});
    CHECK(p.error == "prog task list has no option --stat (did you mean --state?)");
    CHECK(p.path == std::vector<std::string>{"task", "list"});
  }
  {
    auto t = small_tree();
    auto p = t.parse({"task", "list", "--state", "opne"});
    CHECK(p.error == "unknown --state 'opne' (one of open, done); did you mean open?");
  }
  {
    auto t = small_tree();
    auto p = t.parse({"task", "done", "X", "--note", "2026", "08:00"});
    CHECK(p.error ==
          "prog task done: unexpected argument '08:00' after --note 2026 (a value with spaces needs quotes: --note "
          "\"2026 08:00\")");
  }
  {
    auto t = small_tree();  // after a flag, no value to quote
    auto p = t.parse({"task", "done", "--json", "X", "Y"});
    CHECK(p.error == "prog task done: unexpected argument 'Y'");
  }
  {
    auto t = small_tree();
    auto p = t.parse({"tsak", "list"});
    CHECK(p.unknown_command);
    CHECK(p.error == "unknown command 'tsak' (did you mean task?)");
  }
  {
    auto t = small_tree();
    auto p = t.parse({"task", "dnoe", "X"});
    CHECK(p.unknown_command);
    CHECK(p.error == "unknown task command 'dnoe' (did you mean done?)");
  }
  {
    auto t = small_tree();
    auto p = t.parse({"task", "done", "X", "--note"});
    CHECK(p.error == "option --note needs a value");
  }
  {
    auto t = small_tree();
    auto p = t.parse({"task", "done", "X", "--note", "--json"});
    CHECK(p.error == "option --note needs a value (--json is an option)");
  }
}

TEST_CASE("CommandTree: --help and --version anywhere") {
  auto t = small_tree();
  auto p = t.parse({"task", "list", "--help"});
  REQUIRE(p.error.empty());
  CHECK(p.help);
  CHECK(p.path == std::vector<std::string>{"task", "list"});
  auto t2 = small_tree();
  CHECK(t2.parse({"--version"}).version);
}

TEST_CASE("synopsis picks a command's blocks out of a usage text") {
  const std::string usage =
      "usage: prog COMMAND\n"
      "  task new KIND --title T\n"
      "           [--skill S]\n"
      "  task list [--mine]\n"
      "  task claim|done ID [--note T]\n"
      "  notice list | notice ack ID\n"
      "task kinds: errand\n";
  CHECK(muster::synopsis(usage, {"task", "new"}) == "  task new KIND --title T\n           [--skill S]\n");
  CHECK(muster::synopsis(usage, {"task", "done"}) == "  task claim|done ID [--note T]\n");
  CHECK(muster::synopsis(usage, {"notice", "ack"}) == "  notice list | notice ack ID\n");
  CHECK(muster::synopsis(usage, {"task"}) ==
        "  task new KIND --title T\n           [--skill S]\n  task list [--mine]\n  task claim|done ID [--note T]\n");
  CHECK(muster::synopsis(usage, {"roster"}).empty());
  CHECK(muster::synopsis("usage:\n  prog serve --data DIR\n      what it does\n", {"serve"}, "prog ") ==
        "  prog serve --data DIR\n      what it does\n");
}

TEST_CASE("the completion script offers the declared commands, options and values") {
  auto t = small_tree();
  const std::string s = t.bash_completion();
  CHECK(s.find("complete -o default _prog prog") != std::string::npos);
  CHECK(s.find("\"/task\") subs=\"list done\"") != std::string::npos);
  CHECK(s.find("\"/task/list --state\") words=\"open done\"") != std::string::npos);
  CHECK(s.find("\"/task/done\") subs=\"\"; opts=\"--note --help --version --home --json\"") != std::string::npos);
}

}  // namespace
