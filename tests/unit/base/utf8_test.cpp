#include "muster/base/utf8.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using muster::display_width;
using muster::pad_to_width;
using muster::truncate_to_width;
using muster::valid_utf8;

TEST_CASE("valid_utf8 accepts well-formed text") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ASCII"));
  CHECK(valid_utf8(std::string_view("nul\0inside", 10)));
  CHECK(valid_utf8("白菜2斤"));
  CHECK(valid_utf8("한국"));
  CHECK(valid_utf8("caf\xC3\xA9"));          // é, 2 bytes
  CHECK(valid_utf8("\xC2\x80"));              // U+0080, smallest 2-byte
  CHECK(valid_utf8("\xE0\xA0\x80"));          // U+0800, smallest 3-byte
  CHECK(valid_utf8("\xED\x9F\xBF"));          // U+D7FF, just below the surrogates
  CHECK(valid_utf8("\xEE\x80\x80"));          // U+E000, just above them
  CHECK(valid_utf8("\xF0\x90\x80\x80"));      // U+10000, smallest 4-byte
  CHECK(valid_utf8("\xF0\x9F\x98\x80"));      // 😀
  CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF, the last code point
}

TEST_CASE("valid_utf8 rejects ill-formed text") {
  CHECK_FALSE(valid_utf8("\xC0\xAF"));              // overlong "/"
  CHECK_FALSE(valid_utf8("\xC1\xBF"));              // overlong
  CHECK_FALSE(valid_utf8("\xE0\x80\xAF"));          // overlong 3-byte
  CHECK_FALSE(valid_utf8("\xF0\x80\x80\xAF"));      // overlong 4-byte
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));          // U+D800, a surrogate
  CHECK_FALSE(valid_utf8("\xED\xBF\xBF"));          // U+DFFF, a surrogate
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));      // U+110000
  CHECK_FALSE(valid_utf8("\xF5\x80\x80\x80"));      // lead byte beyond U+10FFFF
  CHECK_FALSE(valid_utf8("\xFF"));
  CHECK_FALSE(valid_utf8("\xE7\x99"));              // "白" cut after 2 of 3 bytes
  CHECK_FALSE(valid_utf8("\xF0\x9F\x98"));          // 😀 cut after 3 of 4 bytes
  CHECK_FALSE(valid_utf8("ab\xC3"));                // cut at the very end
  CHECK_FALSE(valid_utf8("\xC3" "a"));              // continuation replaced by ASCII
  CHECK_FALSE(valid_utf8("\x80"));                  // lone continuation byte
  CHECK_FALSE(valid_utf8("a\xBF" "b"));
  CHECK_FALSE(valid_utf8("\xE7\x99\xBD\xBD"));      // "白" plus a stray continuation
}

TEST_CASE("display_width counts terminal columns") {
  CHECK(display_width("") == 0);
  CHECK(display_width("abc") == 3);
  CHECK(display_width("白菜2斤") == 7);
  CHECK(display_width("한국") == 4);
  CHECK(display_width("\xC3\xA9") == 1);        // é, precomposed
  CHECK(display_width("e\xCC\x81") == 1);       // e + U+0301 combining acute
  CHECK(display_width("\xF0\x9F\x98\x80") == 2);  // 😀 U+1F600
  CHECK(display_width("\xF0\x9F\xA4\x9D") == 2);  // 🤝 U+1F91D
  CHECK(display_width("ＡＢ") == 4);            // fullwidth forms
  CHECK(display_width("\xE3\x80\x80") == 2);    // U+3000 ideographic space
  CHECK(display_width("，。") == 4);            // CJK punctuation
  CHECK(display_width("a\xE2\x80\x8B" "b") == 2);  // zero-width space
  CHECK(display_width("\xE2\x9D\xA4\xEF\xB8\x8F") == 1);  // ❤ + VS16: selector adds nothing
  CHECK(display_width("a\tb\n") == 2);          // C0 controls
  CHECK(display_width("\x7F") == 0);            // DEL
  CHECK(display_width("\xC2\x85") == 0);        // U+0085, a C1 control
  CHECK(display_width("\xC2\xA0") == 1);        // U+00A0 no-break space is printable
}

TEST_CASE("truncate_to_width keeps text that fits") {
  CHECK(truncate_to_width("安泰街道", 8) == "安泰街道");
  CHECK(truncate_to_width("安泰街道", 20) == "安泰街道");
  CHECK(truncate_to_width("abc", 3) == "abc");
  CHECK(truncate_to_width("", 0) == "");
}

TEST_CASE("truncate_to_width cuts at code points and counts the ellipsis") {
  CHECK(truncate_to_width("安泰街道", 5) == "安泰…");
  CHECK(truncate_to_width("安泰街道", 7) == "安泰街…");
  CHECK(truncate_to_width("安泰街道", 4) == "安…");   // a wide char never half-fits
  CHECK(truncate_to_width("安泰街道", 2) == "…");
  CHECK(truncate_to_width("安泰街道", 1) == "…");
  CHECK(truncate_to_width("安泰街道", 0) == "");
  CHECK(truncate_to_width("abcdef", 4) == "abc…");
  CHECK(truncate_to_width("白菜2斤", 6) == "白菜2…");
  CHECK(truncate_to_width("e\xCC\x81xyz", 2) == "e\xCC\x81…");  // the mark stays with its base
}

TEST_CASE("truncate_to_width never exceeds the width nor splits a code point") {
  const std::string samples[] = {"安泰街道 Block 12", "e\xCC\x81\xF0\x9F\x98\x80ＡＢ한국", "abc"};
  for (const std::string& text : samples) {
    for (std::size_t columns = 0; columns <= 20; ++columns) {
      CAPTURE(text);
      CAPTURE(columns);
      const std::string cut = truncate_to_width(text, columns);
      CHECK(valid_utf8(cut));
      CHECK(display_width(cut) <= columns);
      if (display_width(text) <= columns) {
        CHECK(cut == text);
      } else if (columns > 0) {
        const std::string_view ellipsis = "…";
        REQUIRE(cut.size() >= ellipsis.size());
        CHECK(std::string_view(cut).substr(cut.size() - ellipsis.size()) == ellipsis);
        CHECK(text.compare(0, cut.size() - ellipsis.size(), cut, 0,
                           cut.size() - ellipsis.size()) == 0);
        // It kept as much as fits: the cut loses at most one wide column.
        CHECK(display_width(cut) + 1 >= columns);
      }
    }
  }
}

TEST_CASE("pad_to_width pads to exactly the width") {
  CHECK(pad_to_width("abc", 6) == "abc   ");
  CHECK(pad_to_width("abc", 3) == "abc");
  CHECK(pad_to_width("安泰街道", 10) == "安泰街道  ");
  CHECK(pad_to_width("安泰街道", 5) == "安泰…");
  CHECK(pad_to_width("安泰街道", 4) == "安… ");  // short by the half of a wide char
  CHECK(pad_to_width("", 2) == "  ");
  CHECK(pad_to_width("abc", 0) == "");
  for (std::size_t columns = 0; columns <= 12; ++columns) {
    CAPTURE(columns);
    CHECK(display_width(pad_to_width("白菜2斤é", columns)) == columns);
  }
}
