// Issues 12 and 13: what other people wrote reaches the reader's terminal neutralised
// (no escape sequence, control character or bidi override gets through to be acted
// on), while --json returns the exact text as stored; and tables stay aligned by
// display width with Chinese, fullwidth forms, emoji and combining marks.

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "muster/base/utf8.hpp"
#include "muster_fixture.hpp"

namespace mt = muster::testing;
using nlohmann::json;

namespace {

using mt::describe;
using mt::run_json;

// Clear the screen, set the window title, an 8-bit CSI (U+009B, as UTF-8), a
// right-to-left override, a bell: each would act on a terminal printed raw.
const std::string kHostile =
    "白菜\x1b[2J\x1b]0;owned\x07 \xC2\x9B" "31m red \xE2\x80\xAE" "gnp.exe\x07 end";

// Where `out` holds a byte a terminal would act on: below 0x20 other than LF, DEL, ESC,
// or a C1 control encoded as UTF-8. Empty when there is none.
std::string first_unsafe(const std::string& out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto b = static_cast<unsigned char>(out[i]);
    const bool c1 = b == 0xC2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) < 0xA0;
    const bool bidi = out.compare(i, 3, "\xE2\x80\xAE") == 0 || out.compare(i, 3, "\xE2\x80\xAA") == 0;
    if ((b < 0x20 && b != '\n') || b == 0x7F || c1 || bidi) {
      return "byte " + std::to_string(b) + " at " + std::to_string(i) + " in: " + out;
    }
  }
  return {};
}

void check_safe(mt::ClientFixture& c, const std::vector<std::string>& args,
                const std::string& shown = "白菜␛[2J␛]0;owned␇ \xEF\xBF\xBD" "31m red \xEF\xBF\xBDgnp.exe␇ end") {
  auto r = c.run(args);
  CAPTURE(args.front() + " " + args.at(1));
  REQUIRE_MESSAGE(r.code == 0, describe(r));
  CHECK(first_unsafe(r.out) == "");
  CHECK(first_unsafe(r.err) == "");
  // The text is still there, made visible: the escape sequence as "␛[2J", the bell as "␇".
  CHECK(r.out.find(shown) != std::string::npos);
}

// The display column at which `needle` starts in `line`; npos when it is not there.
std::size_t column_of(const std::string& line, const std::string& needle) {
  const std::size_t at = line.find(needle);
  return at == std::string::npos ? at : muster::display_width(line.substr(0, at));
}

// True if `j` holds the string `text` anywhere, as a value.
bool holds_string(const json& j, const std::string& text) {
  if (j.is_string()) return j.get_ref<const std::string&>() == text;
  if (j.is_structured()) {
    for (const auto& item : j) {
      if (holds_string(item, text)) return true;
    }
  }
  return false;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("terminal: escape sequences from other users are neutralised in text output, exact in --json") {
    mt::ServerFixture server;
    server.add_user("chen", "coordinator", "gulou/antai");
    server.add_user("lin", "lead", "gulou/antai/yili");
    server.add_user("wang", "volunteer", "gulou/antai/yili");
    server.start();
    // wang's second device, for `watch`: logged in before anything is sent, so its watch
    // replays what it missed.
    mt::ClientFixture coord("chen"), lead("lin"), reader("wang"), watcher("wang-watch");
    coord.login(server, "chen");
    lead.login(server, "lin");
    reader.login(server, "wang");
    watcher.login(server, "wang");

    auto sent = lead.run({"msg", "send", "--to", "wang", "--text", kHostile});
    REQUIRE_MESSAGE(sent.code == 0, describe(sent));
    auto task = lead.run({"task", "new", "generic", "--title", kHostile, "--area", "gulou/antai/yili", "--dispatch",
                          "claim", "--detail", "where=" + kHostile});
    REQUIRE_MESSAGE(task.code == 0, describe(task));
    const std::string task_id = mt::queued_id(task);
    // A notice's body keeps its line breaks; the rest is neutralised as in a one-line cell.
    auto notice = coord.run({"notice", "post", "--area", "gulou/antai/yili", "--text", kHostile + "\n第二行\r"});
    REQUIRE_MESSAGE(notice.code == 0, describe(notice));
    REQUIRE(mt::sync(lead, "lin") == 0);
    REQUIRE(mt::sync(coord, "chen") == 0);
    REQUIRE(mt::sync(reader, "wang") == 0);

    check_safe(reader, {"msg", "list"});
    check_safe(reader, {"task", "list"}, "白菜␛[2J␛]0;owned␇ ");  // titles are cut at 40 columns
    check_safe(reader, {"task", "show", task_id});
    check_safe(reader, {"notice", "list"});
    auto notices = reader.run({"notice", "list"});
    CHECK(notices.out.find("end\n    第二行␍\n") != std::string::npos);

    // Stored as sent: --json gives back the exact text, and its bytes are as safe.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"msg", "list"}, {"task", "list"}, {"task", "show", task_id}, {"notice", "list"}}) {
      auto r = reader.run([&] {
        auto a = args;
        a.push_back("--json");
        return a;
      }());
      REQUIRE_MESSAGE(r.code == 0, describe(r));
      CHECK(first_unsafe(r.out) == "");
    }
    auto messages = run_json(reader, {"msg", "list"});
    REQUIRE(messages.size() == 1);
    CHECK(messages[0]["text"].get<std::string>() == kHostile);
    auto tasks = run_json(reader, {"task", "list"});
    REQUIRE(tasks.size() == 1);
    CHECK(tasks[0]["title"].get<std::string>() == kHostile);
    auto shown = run_json(reader, {"task", "show", task_id});
    CHECK(shown["title"].get<std::string>() == kHostile);
    CHECK(shown["details"]["where"].get<std::string>() == kHostile);
    auto posted = run_json(reader, {"notice", "list"});
    REQUIRE(posted.size() == 1);
    CHECK(posted[0]["text"].get<std::string>() == kHostile + "\n第二行\r");

    // watch prints each event as one line of JSON: the same JSON, its bytes as safe.
    auto watched = watcher.run({"watch", "--timeout", "3"});
    CHECK_MESSAGE(first_unsafe(watched.out) == "", describe(watched));
    int hostile_events = 0;
    for (const auto& line : lines_of(watched.out)) {
      const json event = json::parse(line);
      if (holds_string(event, kHostile)) ++hostile_events;
    }
    CHECK_MESSAGE(hostile_events >= 2, describe(watched));  // the message and the task at least

    // An error that quotes what was typed is neutralised too.
    auto missing = reader.run({"task", "show", "\x1b[2Jnope"});
    CHECK(missing.code != 0);
    CHECK(first_unsafe(missing.err) == "");
  }

  TEST_CASE("terminal: task list columns stay aligned with CJK, fullwidth forms, emoji and combining marks") {
    // The widths the alignment rests on (utf8proc's, per grapheme cluster).
    REQUIRE(muster::display_width("救护🚑") == 6);
    REQUIRE(muster::display_width("（北）") == 6);
    REQUIRE(muster::display_width("か\xE3\x82\x99") == 2);

    mt::ServerFixture server;
    server.add_user("lin", "lead", "gulou/antai/yili");
    // The areas below the lead's exist once someone lives there.
    server.add_user("wang", "volunteer", "gulou/antai/yili/救护🚑");
    server.add_user("li", "volunteer", "gulou/antai/yili/（北）");
    server.add_user("zhou", "volunteer", "gulou/antai/yili/か\xE3\x82\x99");
    server.start();
    mt::ClientFixture lead("lin");
    lead.login(server, "lin");
    // Areas below the lead's of different display widths, and titles to match.
    const std::vector<std::pair<std::string, std::string>> tasks{
        {"gulou/antai/yili", "搬运物资到3栋"},
        {"gulou/antai/yili/救护🚑", "🚑 送医 布洛芬"},
        {"gulou/antai/yili/（北）", "Ｂ栋 全角"},
        {"gulou/antai/yili/か\xE3\x82\x99", "e\xCC\x81t\xC3\xA9 か\xE3\x82\x99"},
    };
    for (const auto& [area, title] : tasks) {
      auto r = lead.run({"task", "new", "generic", "--title", title, "--area", area, "--dispatch", "claim"});
      REQUIRE_MESSAGE(r.code == 0, describe(r));
    }
    REQUIRE(mt::sync(lead, "lin") == 0);

    auto r = lead.run({"task", "list"});
    REQUIRE_MESSAGE(r.code == 0, describe(r));
    const auto lines = lines_of(r.out);
    REQUIRE(lines.size() >= tasks.size() + 1);
    const std::size_t area_column = column_of(lines[0], "AREA");
    const std::size_t title_column = column_of(lines[0], "TITLE");
    REQUIRE(area_column != std::string::npos);
    REQUIRE(title_column != std::string::npos);
    for (const auto& [area, title] : tasks) {
      CAPTURE(title);
      std::string line;
      for (const auto& l : lines) {
        if (l.find(title) != std::string::npos) line = l;
      }
      REQUIRE_MESSAGE(!line.empty(), r.out);
      CAPTURE(line);
      CHECK(column_of(line, area) == area_column);
      CHECK(column_of(line, title) == title_column);
    }
  }
}
