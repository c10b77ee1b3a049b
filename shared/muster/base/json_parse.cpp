#include "muster/base/json_parse.hpp"

#include <string>

#include "muster/base/utf8.hpp"

namespace muster {

std::size_t json_depth(std::string_view text, std::size_t stop_after) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, which may be a quote
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > stop_after) break;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<nlohmann::json> parse_limited(std::string_view text, std::size_t max_depth, std::size_t max_bytes,
                                     std::string_view what) {
  auto bad = [&](const std::string& problem) { return make_error(Errc::invalid, std::string(what) + " " + problem); };
  if (text.size() > max_bytes) return bad("is larger than the limit of " + std::to_string(max_bytes) + " bytes");
  if (!valid_utf8(text)) return bad("is not valid UTF-8");
  if (json_depth(text, max_depth) > max_depth) {
    return bad("is nested deeper than the limit of " + std::to_string(max_depth) + " levels");
  }
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("is not valid JSON");
  return j;
}

}  // namespace muster
