#include "muster/base/utf8.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using muster::display_safe;
using muster::display_safe_json;
using muster::display_safe_lines;
using muster::display_width;
using muster::pad_to_width;
using muster::truncate_to_width;
using muster::utf8_prefix;
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

TEST_CASE("utf8_prefix keeps at most the bytes asked, never half a character") {
  CHECK(utf8_prefix("abc", 10) == "abc");
  CHECK(utf8_prefix("abcdef", 3) == "abc");
  CHECK(utf8_prefix("", 0).empty());
  // 白菜 is 6 bytes: 4 or 5 keep only 白, 6 keeps both, 2 keeps nothing.
  CHECK(utf8_prefix("白菜", 6) == "白菜");
  CHECK(utf8_prefix("白菜", 5) == "白");
  CHECK(utf8_prefix("白菜", 4) == "白");
  CHECK(utf8_prefix("白菜", 3) == "白");
  CHECK(utf8_prefix("白菜", 2).empty());
  CHECK(utf8_prefix("a\xF0\x9F\x98\x80" "b", 4) == "a");  // an emoji's 4 bytes are kept whole or not at all
  CHECK(utf8_prefix("a\xF0\x9F\x98\x80" "b", 5) == "a\xF0\x9F\x98\x80");
  const std::string long_text(1000, 'x');
  CHECK(valid_utf8(utf8_prefix("户" + long_text, 2)));
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
  CHECK(display_width("\xE2\x9D\xA4") == 1);                  // ❤ alone: text presentation
  CHECK(display_width("\xE2\x9D\xA4\xEF\xB8\x8F") == 2);      // ❤ + VS16: one emoji cluster
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

TEST_CASE("display_width counts grapheme clusters with utf8proc's widths") {
  CHECK(display_width("\xF0\x9F\x9A\x91") == 2);          // 🚑 U+1F691 ambulance
  CHECK(display_width("救护车\xF0\x9F\x9A\x91") == 8);
  CHECK(display_width("\xE3\x81\x8B\xE3\x82\x99") == 2);  // か + U+3099 combining voiced mark
  CHECK(display_width("\xE3\x82\x99") == 0);              // U+3099 alone
  CHECK(display_width("\xCC\x81") == 0);                   // U+0301 alone
  CHECK(display_width("a\xCC\x81\xCC\x81") == 1);          // two marks on one base
  CHECK(display_width("（张伟）") == 8);                    // fullwidth parentheses
  CHECK(display_width("！？：；") == 8);                    // fullwidth punctuation
  CHECK(display_width("「」『』【】") == 12);                // CJK brackets
  // 👨‍👩‍👧 man ZWJ woman ZWJ girl: one cluster, two columns.
  CHECK(display_width("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7") == 2);
  CHECK(display_width("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD") == 2);  // 👍🏽 thumbs up + skin tone
  CHECK(display_width("\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3") == 2);  // 🇨🇳 a flag: two regional indicators
  CHECK(display_width("\xE2\x98\x8E\xEF\xB8\x8F") == 2);          // ☎️ U+260E + VS16
  CHECK(display_width("\xED\x95\x9C") == 2);                      // 한 precomposed
  CHECK(display_width("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB") == 2);  // 한 as jamo L V T
  CHECK(display_width("\xFF" "a") == 2);                          // an ill-formed byte counts 1
  CHECK(display_width("a\xE2\x80\x8D" "b") == 2);                 // ZWJ between letters: no emoji
  CHECK(display_width("a\xEF\xB8\x8F") == 1);                     // VS16 after a letter: no emoji
  CHECK(display_width("\xF0\x9F\x87\xA8") == 1);                 // one regional indicator alone
}

TEST_CASE("truncate_to_width never splits a grapheme cluster") {
  const std::string family =
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
  CHECK(truncate_to_width("ab" + family + "cd", 4) == "ab…");  // the family does not fit whole
  CHECK(truncate_to_width("ab" + family + "cd", 5) == "ab" + family + "…");
  CHECK(truncate_to_width("か\xE3\x82\x99か\xE3\x82\x99か", 5) == "か\xE3\x82\x99か\xE3\x82\x99…");
  CHECK(truncate_to_width("e\xCC\x81" "e\xCC\x81" "e\xCC\x81", 2) == "e\xCC\x81…");
  CHECK(truncate_to_width("\xF0\x9F\x9A\x91\xF0\x9F\x9A\x91", 3) == "\xF0\x9F\x9A\x91…");
  CHECK(truncate_to_width("\xF0\x9F\x9A\x91\xF0\x9F\x9A\x91", 2) == "…");  // 🚑 never half-fits
  CHECK(pad_to_width("\xF0\x9F\x9A\x91\xF0\x9F\x9A\x91", 2) == "… ");     // it leaves a space
  CHECK(pad_to_width("！？：", 4) == "！… ");
  CHECK(pad_to_width("か\xE3\x82\x99", 3) == "か\xE3\x82\x99 ");

  const std::string samples[] = {"救护车\xF0\x9F\x9A\x91到了", family + family + "x",
                                 "か\xE3\x82\x99き\xE3\x82\x99（张伟）",
                                 "\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3\xE2\x9D\xA4\xEF\xB8\x8F" "a"};
  for (const std::string& text : samples) {
    for (std::size_t columns = 0; columns <= 16; ++columns) {
      CAPTURE(text);
      CAPTURE(columns);
      const std::string cut = truncate_to_width(text, columns);
      CHECK(display_width(cut) <= columns);
      CHECK(display_width(pad_to_width(text, columns)) == columns);
      if (cut != text && !cut.empty()) {
        // What was kept is a prefix of whole clusters: its width plus the rest's is the
        // whole (a split cluster would change the sum).
        const std::size_t kept = cut.size() - std::string("…").size();
        CHECK(text.compare(0, kept, cut, 0, kept) == 0);
        CHECK(display_width(text.substr(0, kept)) + display_width(text.substr(kept)) ==
              display_width(text));
      }
    }
  }
}

TEST_CASE("display_safe makes control characters visible") {
  CHECK(display_safe("白菜2斤 plain") == "白菜2斤 plain");
  CHECK(display_safe("\x1b[2J") == "␛[2J");                       // ESC: the sequence is inert text
  CHECK(display_safe("\x1b]0;owned\x07") == "␛]0;owned␇");        // OSC set-title, BEL
  CHECK(display_safe("\xC2\x9B" "31m") == "\xEF\xBF\xBD" "31m");      // U+009B, the 8-bit CSI
  CHECK(display_safe("\xC2\x85") == "\xEF\xBF\xBD");                 // U+0085 NEL
  CHECK(display_safe("\x9B" "31m") == "\xEF\xBF\xBD" "31m");          // a raw 0x9B byte: ill-formed
  CHECK(display_safe("a\nb") == "a␊b");
  CHECK(display_safe("a\r\nb") == "a␍␊b");
  CHECK(display_safe("a\tb") == "a b");
  CHECK(display_safe("\x7F") == "␡");
  CHECK(display_safe(std::string_view("a\0b", 3)) == "a␀b");
  CHECK(display_safe("\x08") == "␈");                               // backspace
  CHECK(display_safe("abc\xE2\x80\xAE" "fdp.exe") == "abc\xEF\xBF\xBD" "fdp.exe");  // RLO U+202E
  CHECK(display_safe("\xE2\x80\xAA\xE2\x81\xA6\xE2\x81\xA9") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(display_safe("\xC2\xA0\xE2\x80\x8D") == "\xC2\xA0\xE2\x80\x8D");  // NBSP, ZWJ: printable
  CHECK(display_safe("\xF0\x9F\x9A\x91") == "\xF0\x9F\x9A\x91");
}

TEST_CASE("display_safe output holds no byte a terminal acts on") {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  for (char32_t c = 0x80; c < 0xA0; ++c) {
    all += static_cast<char>(0xC0 | (c >> 6));
    all += static_cast<char>(0x80 | (c & 0x3F));
  }
  all += "\x80\x9B\xFF\xC3";  // ill-formed bytes
  for (const bool lines : {false, true}) {
    CAPTURE(lines);
    const std::string safe = lines ? display_safe_lines(all) : display_safe(all);
    CHECK(valid_utf8(safe));
    for (std::size_t i = 0; i < safe.size(); ++i) {
      const auto b = static_cast<unsigned char>(safe[i]);
      CAPTURE(i);
      CHECK((b >= 0x20 || (lines && b == '\n')));
      CHECK(b != 0x7F);
      // No C1 control encoded as UTF-8 (C2 80..C2 9F).
      if (b == 0xC2 && i + 1 < safe.size()) CHECK(static_cast<unsigned char>(safe[i + 1]) >= 0xA0);
    }
  }
}

TEST_CASE("display_safe_lines keeps line breaks only") {
  CHECK(display_safe_lines("第一行\n第二行\n") == "第一行\n第二行\n");
  CHECK(display_safe_lines("a\r\nb") == "a␍\nb");
  CHECK(display_safe_lines("\x1b[1A\x1b[2Kfake\n") == "␛[1A␛[2Kfake\n");
  CHECK(display_safe_lines("a\tb") == "a b");
}

TEST_CASE("display_safe_json escapes what JSON may carry raw, and stays the same JSON") {
  CHECK(display_safe_json(R"({"text":"白菜\u001b[2J"})") == R"({"text":"白菜\u001b[2J"})");
  CHECK(display_safe_json("{\"t\":\"a\x7F\"}") == R"({"t":"a\u007f"})");
  CHECK(display_safe_json("{\"t\":\"\xC2\x9B" "31m\"}") == R"({"t":"\u009b31m"})");
  CHECK(display_safe_json("{\"t\":\"\xE2\x80\xAE\"}") == R"({"t":"\u202e"})");
  CHECK(display_safe_json("[1,\n 2]") == "[1,\n 2]");  // JSON's own whitespace stays
  CHECK(display_safe_json("\x1b") == R"(\u001b)");
  CHECK(display_safe_json("\xF0\x9F\x9A\x91") == "\xF0\x9F\x9A\x91");
}

TEST_CASE("decode_utf8 and encode_utf8 round-trip text and replace each bad byte") {
  const std::string text = "代买 白菜2斤 🚑 e\u0301";
  const std::u32string cps = muster::decode_utf8(text);
  CHECK(cps == U"代买 白菜2斤 🚑 e\u0301");
  CHECK(muster::encode_utf8(cps) == text);
  CHECK(muster::decode_utf8("a\xff" "b") == U"a\uFFFDb");
  CHECK(muster::decode_utf8("\xe4\xbb") == U"\uFFFD\uFFFD");  // a cut sequence: one per byte
}
