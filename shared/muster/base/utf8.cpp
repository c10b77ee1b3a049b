#include "muster/base/utf8.hpp"

namespace muster {
namespace {

constexpr char32_t kReplacement = 0xFFFD;
constexpr std::string_view kEllipsis = "\u2026";  // "…", one column
constexpr std::size_t kEllipsisWidth = 1;

struct Decoded {
  char32_t code_point;
  std::size_t length;  // bytes consumed; 1 for an ill-formed byte
  bool valid;
};

// Decodes the sequence starting at text[pos] following Unicode's table of
// well-formed byte sequences (Table 3-7). Restricting the second byte per lead
// byte is what rejects overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4)
// without decoding first and checking afterwards.
Decoded decode(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};

  std::size_t length = 0;
  char32_t code_point = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1FU;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0FU;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07U;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {kReplacement, 1, false};  // continuation byte, C0/C1 or F5..FF
  }

  if (text.size() - pos < length) return {kReplacement, 1, false};
  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char b = byte(pos + i);
    const unsigned char lo = i == 1 ? low : 0x80;
    const unsigned char hi = i == 1 ? high : 0xBF;
    if (b < lo || b > hi) return {kReplacement, 1, false};
    code_point = (code_point << 6) | (b & 0x3FU);
  }
  return {code_point, length, true};
}

struct Range {
  char32_t first;
  char32_t last;
};

constexpr Range kZeroWidth[] = {
    {0x0300, 0x036F},  // combining diacritical marks
    {0x200B, 0x200F},  // zero-width space/joiners, direction marks
    {0x20D0, 0x20FF},  // combining marks for symbols
    {0xFE00, 0xFE0F},  // variation selectors
};

constexpr Range kWide[] = {
    {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
    {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
    {0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
    {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

template <std::size_t N>
bool in_ranges(char32_t cp, const Range (&ranges)[N]) {
  for (const Range& r : ranges) {
    if (cp >= r.first && cp <= r.last) return true;
  }
  return false;
}

std::size_t code_point_width(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return 0;  // C0, DEL, C1
  if (cp < 0x300) return 1;  // Latin: skip the table scans for the common case
  if (in_ranges(cp, kZeroWidth)) return 0;
  if (in_ranges(cp, kWide)) return 2;
  return 1;
}

}  // namespace

bool valid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const Decoded d = decode(text, pos);
    if (!d.valid) return false;
    pos += d.length;
  }
  return true;
}

std::size_t display_width(std::string_view text) {
  // Ill-formed bytes are a caller bug, but a width of one column each (as a
  // terminal prints U+FFFD) keeps tables aligned rather than crashing.
  std::size_t width = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const Decoded d = decode(text, pos);
    width += code_point_width(d.code_point);
    pos += d.length;
  }
  return width;
}

std::string truncate_to_width(std::string_view text, std::size_t columns) {
  if (display_width(text) <= columns) return std::string(text);
  // Not even the ellipsis fits: the width limit wins over signalling the cut.
  if (columns < kEllipsisWidth) return {};

  const std::size_t budget = columns - kEllipsisWidth;
  std::size_t used = 0;
  std::size_t pos = 0;
  // Stop at the first code point that does not fit, so zero-width marks stay with
  // the base character they follow and never dangle after a cut one.
  while (pos < text.size()) {
    const Decoded d = decode(text, pos);
    const std::size_t w = code_point_width(d.code_point);
    if (used + w > budget) break;
    used += w;
    pos += d.length;
  }
  std::string out(text.substr(0, pos));
  out += kEllipsis;
  return out;
}

std::string pad_to_width(std::string_view text, std::size_t columns) {
  std::string out = truncate_to_width(text, columns);
  // A wide character that did not fit can leave the cut text one column short.
  const std::size_t width = display_width(out);
  if (width < columns) out.append(columns - width, ' ');
  return out;
}

}  // namespace muster
