#include "xmpp-bridge/request_parser.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "muster/base/utf8.hpp"
#include "muster/domain/actor.hpp"

namespace xmpp_bridge {

namespace {

// ------------------------------------------------------------ UTF-8

using muster::decode_utf8;
using muster::encode_utf8;

bool is_cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2A6DF);
}

// Full-width forms to ASCII, CJK punctuation to the ASCII separators the parser splits on.
std::string normalise(std::string_view text) {
  std::u32string cps = decode_utf8(text);
  for (char32_t& cp : cps) {
    if (cp >= 0xFF01 && cp <= 0xFF5E) {
      cp -= 0xFEE0;
    } else if (cp == 0x3000 || cp == U'\t' || cp == U'\n' || cp == U'\r') {
      cp = U' ';
    } else if (cp == U'、' || cp == U'，') {
      cp = U',';
    } else if (cp == U'；') {
      cp = U';';
    } else if (cp == U'：') {
      cp = U':';
    } else if (cp == U'。') {
      cp = U' ';
    }
  }
  return encode_utf8(cps);
}

std::string trim(std::string_view s, std::string_view chars = " ") {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(chars);
  return std::string(s.substr(first, last - first + 1));
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// ------------------------------------------------------------ items

// "一盒", "2斤", "10个", "1kg": a quantity standing on its own.
bool is_quantity(std::string_view token) {
  static const std::u32string kNumerals = U"0123456789.一二两三四五六七八九十百千半几";
  static const std::u32string kMeasures = U"个只盒瓶包袋斤克箱支片份把条块罐板粒根颗桶听打提双两公升";
  const std::u32string cps = decode_utf8(token);
  if (cps.empty() || cps.size() > 6) return false;
  std::size_t i = 0;
  while (i < cps.size() && kNumerals.find(cps[i]) != std::u32string::npos) ++i;
  if (i == 0) return false;
  const std::size_t numerals = i;
  while (i < cps.size() && (kMeasures.find(cps[i]) != std::u32string::npos ||
                            (cps[i] < 0x80 && std::isalpha(static_cast<int>(cps[i])) != 0))) {
    ++i;
  }
  return i == cps.size() && cps.size() - numerals <= 3;
}

std::vector<std::string> split_any(std::string_view s, std::string_view separators) {
  std::vector<std::string> out;
  std::string current;
  for (char c : s) {
    if (separators.find(c) != std::string_view::npos) {
      if (!trim(current).empty()) out.push_back(trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!trim(current).empty()) out.push_back(trim(current));
  return out;
}

std::vector<std::string> chinese_items(std::string_view text) {
  std::vector<std::string> items;
  std::string held;  // a quantity written before its item
  for (auto& token : split_any(text, " ,;")) {
    if (is_quantity(token)) {
      if (!items.empty() && held.empty()) {
        items.back() += " " + token;
      } else {
        held += (held.empty() ? "" : " ") + token;
      }
      continue;
    }
    items.push_back(held.empty() ? token : held + " " + token);
    held.clear();
  }
  if (!held.empty()) items.push_back(held);
  return items;
}

std::vector<std::string> english_items(const std::string& text) {
  std::vector<std::string> items;
  // " and " separates items like a comma does.
  std::string commas;
  const std::string lower = lower_ascii(text);
  for (std::size_t i = 0; i < text.size();) {
    if (lower.compare(i, 5, " and ") == 0) {
      commas += ',';
      i += 5;
    } else {
      commas += text[i++];
    }
  }
  for (auto& item : split_any(commas, ",;")) items.push_back(item);
  return items;
}

// ------------------------------------------------------------ the address

// Where the address starts: after the last delivery marker. npos if there is none.
struct Split {
  std::size_t items_end = std::string::npos;
  std::size_t address_start = std::string::npos;
};

Split split_address(const std::string& lower, Lang lang) {
  Split best;
  auto consider = [&](std::string_view marker, bool needs_space_before) {
    for (std::size_t at = lower.rfind(marker); at != std::string::npos;
         at = at == 0 ? std::string::npos : lower.rfind(marker, at - 1)) {
      if (needs_space_before && at > 0 && lower[at - 1] != ' ' && lower[at - 1] != ',') continue;
      if (best.items_end == std::string::npos || at > best.items_end ||
          (at == best.items_end && at + marker.size() > best.address_start)) {
        best = {at, at + marker.size()};
      }
      return;
    }
  };
  if (lang == Lang::zh) {
    for (std::string_view m : {"送到", "送至", "送往", "送", "地址:", "地址"}) consider(m, false);
  }
  for (std::string_view m : {"deliver to", "delivered to", "deliver", "address:", "address"}) consider(m, true);
  if (best.items_end == std::string::npos) consider(" to ", false);
  return best;
}

const std::array<std::pair<std::string_view, std::string_view>, 9> kKeywords{{
    {"帮我买", "代买"},
    {"代买", "代买"},
    {"帮买", "代买"},
    {"代购", "代买"},
    {"买药", "买药"},
    {"买菜", "代买"},
    {"买", "代买"},
    {"please buy", "buy"},
    {"buy", "buy"},
}};

}  // namespace

Lang detect_language(std::string_view text) {
  const std::u32string cps = decode_utf8(text);
  return std::any_of(cps.begin(), cps.end(), is_cjk) ? Lang::zh : Lang::en;
}

// Read by hand, not with std::regex: libstdc++'s regex matcher recurses once per
// character it tries, so a long run of digits (10-20 KB) overflowed the stack. These
// scans are linear and answer what the three patterns they replace did, leftmost match
// first: "([0-9]{1,4}) *(栋|号楼|幢|座|楼)", then "(^|[^a-z])(b|bldg\.?|building|block|blk)
// *-? *([0-9]{1,4})" (ASCII case ignored), then "^ *([0-9]{1,4}) *- *[0-9]+".
std::optional<int> building_of(std::string_view address) {
  if (address.size() > kMaxRequestBytes) return std::nullopt;
  const std::string_view text = address;
  const std::size_t n = text.size();
  auto digit = [&](std::size_t i) { return i < n && text[i] >= '0' && text[i] <= '9'; };
  auto skip = [&](std::size_t i, char c) {
    while (i < n && text[i] == c) ++i;
    return i;
  };
  // 1-4 digits from i (no digit right after them): their value, and where they end.
  auto number = [&](std::size_t i) -> std::optional<std::pair<int, std::size_t>> {
    std::size_t end = i;
    while (end < i + 4 && digit(end)) ++end;
    if (end == i || digit(end)) return std::nullopt;
    return std::pair<int, std::size_t>{std::stoi(std::string(text.substr(i, end - i))), end};
  };
  auto letter = [&](std::size_t i) {
    const char c = text[i];
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  // Chinese: 3栋, 5号楼, 7幢 ... The regex may start inside a longer run of digits: its
  // last four.
  for (std::size_t i = 0; i < n; ++i) {
    if (!digit(i)) continue;
    std::size_t end = i;
    while (end < i + 4 && digit(end)) ++end;
    if (digit(end)) continue;
    const std::size_t after = skip(end, ' ');
    for (std::string_view suffix : {"栋", "号楼", "幢", "座", "楼"}) {
      if (text.substr(after, suffix.size()) == suffix) return std::stoi(std::string(text.substr(i, end - i)));
    }
  }
  // Latin: b3, bldg. 7, building 3, block 2, blk-4, at the start or after a non-letter.
  auto keyword_at = [&](std::size_t k) -> std::optional<int> {
    for (std::string_view word : {"b", "bldg.", "bldg", "building", "block", "blk"}) {
      if (k + word.size() > n) continue;
      bool same = true;
      for (std::size_t j = 0; j < word.size() && same; ++j) {
        same = (text[k + j] | (letter(k + j) ? 0x20 : 0)) == word[j];
      }
      if (!same) continue;
      std::size_t i = skip(k + word.size(), ' ');
      if (i < n && text[i] == '-') i = skip(i + 1, ' ');
      std::size_t end = i;
      while (end < i + 4 && digit(end)) ++end;
      if (end > i) return std::stoi(std::string(text.substr(i, end - i)));
    }
    return std::nullopt;
  };
  for (std::size_t p = 0; p < n; ++p) {
    if (p == 0) {
      if (auto b = keyword_at(0)) return b;
    }
    if (!letter(p)) {
      if (auto b = keyword_at(p + 1)) return b;
    }
  }
  // A pair: 3-502.
  if (auto first = number(skip(0, ' '))) {
    std::size_t i = skip(first->second, ' ');
    if (i < n && text[i] == '-' && digit(skip(i + 1, ' '))) return first->first;
  }
  return std::nullopt;
}

std::string area_for(std::optional<int> building, const std::string& served, const std::vector<std::string>& areas) {
  if (!building) return served;
  const std::string n = std::to_string(*building);
  const std::vector<std::string> names{"b" + n, n, n + "栋", n + "号楼", n + "幢", "building" + n, "bldg" + n};
  std::string best;
  for (const auto& area : areas) {
    if (area == served || !muster::domain::area_contains(served, area)) continue;
    const std::string last = lower_ascii(area.substr(area.rfind('/') + 1));
    if (std::find(names.begin(), names.end(), last) == names.end()) continue;
    if (best.empty() || std::count(area.begin(), area.end(), '/') < std::count(best.begin(), best.end(), '/')) {
      best = area;
    }
  }
  return best.empty() ? served : best;
}

Parsed parse_message(std::string_view raw) {
  Parsed out;
  out.lang = detect_language(raw);
  if (raw.size() > kMaxRequestBytes) {
    out.command = HelpCommand{HelpCommand::Why::too_long};
    return out;
  }
  const std::string text = trim(normalise(raw));
  const std::string lower = lower_ascii(text);

  for (std::string_view word : {"状态", "查询", "查看", "我的请求", "status", "list", "my requests"}) {
    if (lower == word) {
      out.command = StatusCommand{};
      return out;
    }
  }
  for (std::string_view word : {"取消", "cancel"}) {
    if (!starts_with(lower, word)) continue;
    std::string rest = trim(std::string_view(text).substr(word.size()), " #");
    if (!rest.empty() && rest.size() <= 6 && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      out.command = CancelCommand{std::stoi(rest)};
    } else {
      out.command = HelpCommand{};
    }
    return out;
  }

  for (const auto& [keyword, category] : kKeywords) {
    if (!starts_with(lower, keyword)) continue;
    // English words end at a space; Chinese ones need none ("代买白菜").
    const bool latin = static_cast<unsigned char>(keyword[0]) < 0x80;
    if (latin && lower.size() > keyword.size() && lower[keyword.size()] != ' ' && lower[keyword.size()] != ',') {
      continue;
    }
    ErrandRequest r;
    r.category = std::string(category);
    const std::string rest = text.substr(keyword.size());
    const std::string rest_lower = lower.substr(keyword.size());
    const Split split = split_address(rest_lower, out.lang);
    const std::string items_text = split.items_end == std::string::npos ? rest : rest.substr(0, split.items_end);
    r.items = out.lang == Lang::zh ? chinese_items(items_text) : english_items(items_text);
    if (split.address_start != std::string::npos) r.address = trim(rest.substr(split.address_start), " ,;:");
    if (r.items.empty()) {
      out.command = HelpCommand{HelpCommand::Why::no_items};
    } else if (r.address.empty()) {
      out.command = HelpCommand{HelpCommand::Why::no_address};
    } else {
      r.building = building_of(r.address);
      out.command = std::move(r);
    }
    return out;
  }
  out.command = HelpCommand{};
  return out;
}

}  // namespace xmpp_bridge
