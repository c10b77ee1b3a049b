// What residents type to the community's chat bot, read into commands. Pure: no I/O.
//
//   代买 白菜2斤 鸡蛋10个 送3栋502             an errand: items, then 送/送到/送至/地址 and the address
//   买药 布洛芬 一盒 送5号楼2单元301            (a quantity on its own belongs to the item before it)
//   buy 2kg rice, deliver to b3-502            items separated by commas or "and", then "deliver to"/"to"
//   状态 / 查询 / status                        the resident's open requests
//   取消 2 / 取消#2 / cancel 2                  cancel the resident's request #2
//   anything else                              help, in the resident's language
//
// The language is Chinese when the text holds any CJK character, else English.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace xmpp_bridge {

enum class Lang { zh, en };

Lang detect_language(std::string_view text);

struct ErrandRequest {
  std::string category;            // "代买", "买药" or "buy": the first word, normalised
  std::vector<std::string> items;  // as written, e.g. "白菜2斤", "布洛芬 一盒", "2kg rice"
  std::string address;             // as written, e.g. "3栋502", "b3-502"
  std::optional<int> building;     // 3 for 3栋… / 3号楼… / b3-… / building 3 …
};
struct StatusCommand {};
struct CancelCommand {
  int number = 0;
};
struct HelpCommand {
  enum class Why { unknown, no_items, no_address, too_long } why = Why::unknown;
};

using Command = std::variant<ErrandRequest, StatusCommand, CancelCommand, HelpCommand>;

struct Parsed {
  Lang lang = Lang::en;
  Command command;
};

// The longest message (bytes) the parser reads; a longer one is help with Why::too_long,
// whatever its caller cuts it to (the bridge keeps 2000 bytes of a chat message).
inline constexpr std::size_t kMaxRequestBytes = 4096;

Parsed parse_message(std::string_view text);

// The building number an address names, if any: 3栋502, 5号楼2单元301, 7幢, b3-502,
// B3 502, building 3, bldg 3, 3-502. None for an address over kMaxRequestBytes.
std::optional<int> building_of(std::string_view address);

// The area for an errand: the sub-area of `served` (among `areas`) that is the
// building — its last segment is b<N>, <N>, <N>栋, <N>号楼, <N>幢 or building<N> — else
// `served` itself.
std::string area_for(std::optional<int> building, const std::string& served, const std::vector<std::string>& areas);

}  // namespace xmpp_bridge
