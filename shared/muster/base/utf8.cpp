#include "muster/base/utf8.hpp"

#include <utf8proc.h>

#include <algorithm>

namespace muster {
namespace {

constexpr char32_t kReplacement = 0xFFFD;
constexpr std::string_view kEllipsis = "\u2026";  // "…", one column
constexpr std::size_t kEllipsisWidth = 1;
constexpr std::string_view kReplacementUtf8 = "\uFFFD";  // "�"

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

// Display width comes from utf8proc (Debian libutf8proc): its tables follow each Unicode
// release (East Asian Width, emoji presentation, combining marks) and its grapheme
// breaking follows UAX #29 (extended grapheme clusters: ZWJ sequences, emoji modifiers,
// regional-indicator pairs, Hangul syllables). Only the decoding above stays hand-written:
// it must keep going past ill-formed bytes (one U+FFFD each), which utf8proc's iterator
// reports as an error.
constexpr char32_t kZeroWidthJoiner = 0x200D;
constexpr char32_t kEmojiPresentation = 0xFE0F;  // VS16

bool is_regional_indicator(char32_t cp) { return cp >= 0x1F1E6 && cp <= 0x1F1FF; }

// One grapheme cluster: its bytes and the columns a terminal gives it.
struct Cluster {
  std::size_t length;
  std::size_t width;
};

bool is_pictographic(char32_t cp) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->boundclass ==
         UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC;
}

// The cluster starting at text[pos]. Its width is its widest code point's (the base:
// marks, joiners and selectors are 0), and 2 where a pictographic base asks for emoji
// presentation (VS16, a ZWJ sequence) or two regional indicators make a flag, as
// terminals draw those; a VS16 or ZWJ after a letter changes nothing. Control characters
// are 0: display_safe makes them visible first.
Cluster next_cluster(std::string_view text, std::size_t pos) {
  const std::size_t start = pos;
  utf8proc_int32_t state = 0;
  Decoded d = decode(text, pos);
  char32_t previous = d.code_point;
  std::size_t width = 0;
  std::size_t code_points = 0;
  const char32_t first = d.code_point;
  const bool pictographic_base = d.valid && is_pictographic(first);
  bool emoji = false;
  bool regional_pair = false;
  while (true) {
    const int w = d.valid ? utf8proc_charwidth(static_cast<utf8proc_int32_t>(d.code_point)) : 1;
    if (w > 0) width = std::max(width, static_cast<std::size_t>(w));
    if (pictographic_base && (d.code_point == kEmojiPresentation || d.code_point == kZeroWidthJoiner)) {
      emoji = true;
    }
    if (code_points == 1 && is_regional_indicator(first) &&
        is_regional_indicator(d.code_point)) {
      regional_pair = true;
    }
    ++code_points;
    pos += d.length;
    if (pos >= text.size() || !d.valid) break;
    const Decoded next = decode(text, pos);
    if (!next.valid) break;
    if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(previous),
                                         static_cast<utf8proc_int32_t>(next.code_point), &state)) {
      break;
    }
    previous = next.code_point;
    d = next;
  }
  if ((emoji || regional_pair) && width > 0) width = 2;
  return {pos - start, width};
}

}  // namespace

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Back off continuation bytes (10xxxxxx) to the start of the sequence that was cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

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
    const Cluster c = next_cluster(text, pos);
    width += c.width;
    pos += c.length;
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
  // Whole grapheme clusters only: a mark stays with its base, an emoji sequence is
  // kept or dropped whole. Stop at the first cluster that does not fit.
  while (pos < text.size()) {
    const Cluster c = next_cluster(text, pos);
    if (used + c.width > budget) break;
    used += c.width;
    pos += c.length;
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

namespace {

bool is_bidi_control(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string make_safe(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const Decoded d = decode(text, pos);
    const char32_t cp = d.code_point;
    if (!d.valid) {
      out += kReplacementUtf8;
    } else if (cp == '\n' && keep_newlines) {
      out += '\n';
    } else if (cp == '\t') {
      out += ' ';
    } else if (cp < 0x20) {
      append_utf8(out, 0x2400 + cp);  // Control Pictures: ␀ .. ␟, ESC is ␛, LF is ␊
    } else if (cp == 0x7F) {
      append_utf8(out, 0x2421);  // ␡
    } else if ((cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp)) {
      out += kReplacementUtf8;
    } else {
      out.append(text, pos, d.length);
    }
    pos += d.length;
  }
  return out;
}

}  // namespace

std::string display_safe(std::string_view text) { return make_safe(text, false); }

std::string display_safe_lines(std::string_view text) { return make_safe(text, true); }

std::string display_safe_json(std::string_view json) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(json.size());
  for (std::size_t pos = 0; pos < json.size();) {
    const Decoded d = decode(json, pos);
    const char32_t cp = d.valid ? d.code_point : kReplacement;
    const bool whitespace = cp == '\n' || cp == '\t' || cp == '\r';
    if ((cp < 0x20 && !whitespace) || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp) ||
        !d.valid) {
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
    } else {
      out.append(json, pos, d.length);
    }
    pos += d.length;
  }
  return out;
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(bytes + i, static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
    if (n <= 0) {
      out.push_back(U'\uFFFD');
      ++i;
    } else {
      out.push_back(static_cast<char32_t>(cp));
      i += static_cast<std::size_t>(n);
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

}  // namespace muster
