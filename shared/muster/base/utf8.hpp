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

// Columns `text` occupies on a terminal: East Asian Wide/Fullwidth code points
// (CJK, Hangul, fullwidth forms, most emoji) count 2, combining marks and
// zero-width characters 0, control characters 0, everything else 1.
// `text` must be valid UTF-8.
std::size_t display_width(std::string_view text);

// Truncates `text` to at most `columns` display columns, never splitting a code
// point; appends "…" (1 column, counted) when something was cut.
std::string truncate_to_width(std::string_view text, std::size_t columns);

// Pads `text` with spaces on the right to exactly `columns` display columns
// (truncating first if it is wider).
std::string pad_to_width(std::string_view text, std::size_t columns);

}  // namespace muster
