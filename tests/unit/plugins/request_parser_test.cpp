// What residents type to the chat bot (plugins/xmpp-bridge/request_parser.hpp).
#include "xmpp-bridge/request_parser.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <regex>
#include <string>
#include <vector>

using namespace xmpp_bridge;

namespace {

ErrandRequest errand(const std::string& text) {
  Parsed p = parse_message(text);
  const auto* r = std::get_if<ErrandRequest>(&p.command);
  REQUIRE_MESSAGE(r != nullptr, text);
  return *r;
}

HelpCommand::Why help_for(const std::string& text) {
  Parsed p = parse_message(text);
  const auto* h = std::get_if<HelpCommand>(&p.command);
  REQUIRE_MESSAGE(h != nullptr, text);
  return h->why;
}

const std::vector<std::string> kAreas{"gulou", "gulou/antai", "gulou/antai/yili", "gulou/antai/yili/b3",
                                      "gulou/antai/yili/5号楼", "gulou/antai/yili/b12", "gulou/antai/heping/b3"};

}  // namespace

TEST_CASE("the language is Chinese when the text holds a CJK character") {
  CHECK(detect_language("代买 白菜2斤") == Lang::zh);
  CHECK(detect_language("buy rice 到3栋") == Lang::zh);
  CHECK(detect_language("buy 2kg rice, deliver to b3-502") == Lang::en);
  CHECK(detect_language("？") == Lang::en);  // full-width punctuation alone is not Chinese
  CHECK(detect_language("") == Lang::en);
}

TEST_CASE("Chinese errands: items, then the address after 送") {
  auto r = errand("代买 白菜2斤 鸡蛋10个 送3栋502");
  CHECK(r.category == "代买");
  CHECK(r.items == std::vector<std::string>{"白菜2斤", "鸡蛋10个"});
  CHECK(r.address == "3栋502");
  CHECK(r.building == 3);

  r = errand("买药 布洛芬 一盒 送5号楼2单元301");
  CHECK(r.category == "买药");
  CHECK(r.items == std::vector<std::string>{"布洛芬 一盒"});  // a quantity on its own belongs to the item before it
  CHECK(r.address == "5号楼2单元301");
  CHECK(r.building == 5);

  r = errand("帮我买 大米，食用油、酱油 送到 12栋1单元101");
  CHECK(r.category == "代买");
  CHECK(r.items == std::vector<std::string>{"大米", "食用油", "酱油"});
  CHECK(r.address == "12栋1单元101");
  CHECK(r.building == 12);

  r = errand("代买白菜　两斤 地址：7幢303");  // no space after the keyword, a full-width space, 地址
  CHECK(r.items == std::vector<std::string>{"白菜 两斤"});
  CHECK(r.address == "7幢303");
  CHECK(r.building == 7);

  r = errand("代买 ３斤 土豆 送３栋５０２");  // full-width digits; a quantity before its item
  CHECK(r.items == std::vector<std::string>{"3斤 土豆"});
  CHECK(r.address == "3栋502");
}

TEST_CASE("English errands: items separated by commas or 'and', then deliver to") {
  auto r = errand("buy 2kg rice, deliver to b3-502");
  CHECK(r.category == "buy");
  CHECK(r.items == std::vector<std::string>{"2kg rice"});
  CHECK(r.address == "b3-502");
  CHECK(r.building == 3);

  r = errand("Buy milk, 10 eggs and bread, deliver to Building 12 room 301");
  CHECK(r.items == std::vector<std::string>{"milk", "10 eggs", "bread"});
  CHECK(r.address == "Building 12 room 301");
  CHECK(r.building == 12);

  r = errand("please buy paracetamol to 3-502");
  CHECK(r.items == std::vector<std::string>{"paracetamol"});
  CHECK(r.address == "3-502");
  CHECK(r.building == 3);
}

TEST_CASE("status and cancel, in both languages") {
  for (const char* text : {"状态", "查询", "status", "Status", " status "}) {
    CAPTURE(text);
    CHECK(std::holds_alternative<StatusCommand>(parse_message(text).command));
  }
  for (const auto& [text, n] : std::vector<std::pair<std::string, int>>{
           {"取消 2", 2}, {"取消#2", 2}, {"取消 ＃12", 12}, {"cancel 3", 3}, {"Cancel #4", 4}}) {
    CAPTURE(text);
    Parsed p = parse_message(text);
    REQUIRE(std::holds_alternative<CancelCommand>(p.command));
    CHECK(std::get<CancelCommand>(p.command).number == n);
  }
  CHECK(parse_message("取消 2").lang == Lang::zh);
  CHECK(parse_message("cancel 2").lang == Lang::en);
}

TEST_CASE("anything else is help, and a half-written errand says what is missing") {
  CHECK(help_for("你好") == HelpCommand::Why::unknown);
  CHECK(help_for("hello?") == HelpCommand::Why::unknown);
  CHECK(help_for("取消订单") == HelpCommand::Why::unknown);
  CHECK(help_for("cancel everything") == HelpCommand::Why::unknown);
  CHECK(help_for("buyer wanted") == HelpCommand::Why::unknown);  // "buy" is a word of its own
  CHECK(help_for("代买 白菜2斤") == HelpCommand::Why::no_address);
  CHECK(help_for("buy 2kg rice") == HelpCommand::Why::no_address);
  CHECK(help_for("代买 送3栋502") == HelpCommand::Why::no_items);
  CHECK(help_for("buy, deliver to b3-502") == HelpCommand::Why::no_items);
  CHECK(parse_message("你好").lang == Lang::zh);
  CHECK(parse_message("hello?").lang == Lang::en);
}

TEST_CASE("building numbers in addresses") {
  CHECK(building_of("3栋502") == 3);
  CHECK(building_of("5号楼2单元301") == 5);
  CHECK(building_of("b3-502") == 3);
  CHECK(building_of("B12 room 4") == 12);
  CHECK(building_of("bldg. 7") == 7);
  CHECK(building_of("3-502") == 3);
  CHECK(building_of("the corner shop") == std::nullopt);
  CHECK(building_of("room 502") == std::nullopt);
}

TEST_CASE("an errand goes to the building's area below the served area, else to the served area") {
  CHECK(area_for(3, "gulou/antai/yili", kAreas) == "gulou/antai/yili/b3");
  CHECK(area_for(5, "gulou/antai/yili", kAreas) == "gulou/antai/yili/5号楼");
  CHECK(area_for(12, "gulou/antai/yili", kAreas) == "gulou/antai/yili/b12");
  CHECK(area_for(4, "gulou/antai/yili", kAreas) == "gulou/antai/yili");  // no such building
  CHECK(area_for(std::nullopt, "gulou/antai/yili", kAreas) == "gulou/antai/yili");
  CHECK(area_for(3, "gulou/antai/heping", kAreas) == "gulou/antai/heping/b3");  // never another compound's b3
}

// The patterns building_of() read with std::regex before it scanned by hand, as the
// oracle for short addresses (where the regex's recursion is no risk).
std::optional<int> building_by_regex(const std::string& text) {
  static const std::regex kChinese("([0-9]{1,4}) *(栋|号楼|幢|座|楼)");
  static const std::regex kLatin("(^|[^a-z])(b|bldg\\.?|building|block|blk) *-? *([0-9]{1,4})", std::regex::icase);
  static const std::regex kPair("^ *([0-9]{1,4}) *- *[0-9]+");
  std::smatch m;
  if (std::regex_search(text, m, kChinese)) return std::stoi(m[1].str());
  if (std::regex_search(text, m, kLatin)) return std::stoi(m[3].str());
  if (std::regex_search(text, m, kPair)) return std::stoi(m[1].str());
  return std::nullopt;
}

TEST_CASE("building numbers are read as the three patterns read them, without std::regex") {
  const std::vector<std::string> pieces{"",  "3",  "12345", "0042", " ",  "  ", "-",  "栋", "号楼", "幢", "座", "楼",
                                        "b", "B",  "bldg",  "BLDG.", "building", "Block", "blk", "x", "单元", "#", "502"};
  int checked = 0;
  for (const auto& a : pieces) {
    for (const auto& b : pieces) {
      for (const auto& c : pieces) {
        for (const auto& d : {std::string(), std::string("7"), std::string(" 301")}) {
          const std::string text = a + b + c + d;
          CHECK_MESSAGE(building_of(text) == building_by_regex(text), text);
          ++checked;
        }
      }
    }
  }
  CHECK(checked > 30000);
  CHECK(building_of("12345栋") == 2345);
  CHECK(building_of("blk - 4") == 4);
  CHECK(building_of("xb3") == std::nullopt);
}

TEST_CASE("a message of 10-20 KB of digits is refused as too long, and the parser does not overflow its stack") {
  for (std::size_t n : {10 * 1024, 20 * 1024}) {
    const std::string digits(n, '7');
    CHECK(help_for("代买 白菜 送" + digits + "栋") == HelpCommand::Why::too_long);
    CHECK(help_for("buy rice, deliver to b" + digits) == HelpCommand::Why::too_long);
    CHECK(parse_message(digits).lang == Lang::en);
    CHECK(building_of(digits + "栋") == std::nullopt);
    CHECK(building_of("b" + digits) == std::nullopt);
  }
  // Just under the limit: read as usual.
  const std::string address = std::string(kMaxRequestBytes - 40, '7') + "栋";
  const auto r = errand("代买 白菜 送" + address);
  CHECK(r.building == 7777);
  CHECK(help_for(std::string(kMaxRequestBytes + 1, 'a')) == HelpCommand::Why::too_long);
}
