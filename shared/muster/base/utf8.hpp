// UTF-8 validation and terminal display width. Names, addresses and notices are
// mostly Chinese: every text that enters muster is checked, and every table the
// terminal client prints is aligned by display width, not by bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace muster {

// True if `text` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view text);

// The code points of `text`; an ill-formed or truncated sequence gives one U+FFFD per
// byte it skips, so every input decodes.
std::u32string decode_utf8(std::string_view text);
// Appends the UTF-8 bytes of `cp` (a Unicode scalar value) to `out`.
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);
// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a
// UTF-8 sequence (for keeping a bounded, still-readable part of an oversized field).
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

// Columns `text` occupies on a terminal, counted per grapheme cluster (what a reader
// sees as one character) with utf8proc's widths: CJK, Hangul, fullwidth forms and
// punctuation 2; emoji 2, a ZWJ sequence, a VS16 sequence or a flag being one
// cluster of 2; combining marks (U+0301, U+3099) and zero-width characters 0;
// control characters 0 (display_safe makes them visible first); everything else 1.
// An ill-formed byte counts 1, as a terminal draws it as U+FFFD.
std::size_t display_width(std::string_view text);

// Truncates `text` to at most `columns` display columns, never splitting a grapheme
// cluster; appends "…" (1 column, counted) when something was cut.
std::string truncate_to_width(std::string_view text, std::size_t columns);

// Pads `text` with spaces on the right to exactly `columns` display columns
// (truncating first if it is wider).
std::string pad_to_width(std::string_view text, std::size_t columns);

// Text another person wrote, made safe to print on a terminal in one line (a table
// cell, a title): nothing in it can move the cursor, clear the screen, set the
// window title or reorder what follows. Each character that could is replaced by a
// visible stand-in:
//   C0 controls U+0000..U+001F   their Control Picture, U+2400 + code: ESC "\x1b" is
//                                "␛" (so an escape sequence prints as "␛[2J"), BEL "␇",
//                                CR "␍", LF "␊"; except TAB, which becomes one space
//   DEL U+007F                   "␡"
//   C1 controls U+0080..U+009F   "�" (U+009B is an 8-bit CSI)
//   bidi embeddings, overrides
//   and isolates U+202A..U+202E,
//   U+2066..U+2069               "�"
//   an ill-formed byte           "�"
// Everything else passes unchanged. Stored text stays as sent; only what reaches a
// terminal goes through this (--json output is JSON, whose escaping is already safe).
std::string display_safe(std::string_view text);

// The same for a multi-line field (a notice's body, a note, a message body shown on
// its own lines): keeps LF as a line break and neutralises the rest as display_safe.
std::string display_safe_lines(std::string_view text);

// JSON text (as nlohmann's dump() writes it) made as safe for a terminal, and still
// the same JSON: DEL, C1 controls and bidi controls, which JSON may carry raw inside
// strings, become \u escapes (a parser reads back the exact text); C0 controls other
// than JSON's whitespace become \u escapes too, ill-formed bytes \ufffd. For --json
// output and `muster watch`.
std::string display_safe_json(std::string_view json);

}  // namespace muster
