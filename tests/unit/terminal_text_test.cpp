// The terminal sanitizer (core/terminal_text.hpp): every escape sequence and invisible control a
// hostile server or peer could print comes out as visible ASCII, exactly; legitimate text is kept.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/terminal_text.hpp"

namespace mh {
namespace {

TEST(TerminalText, EscapeSequencesAreShownNotSent) {
  // OSC 0: set the window title; BEL ends it.
  EXPECT_EQ(terminal_safe("\x1b]0;pwned\x07"), R"(\x1b]0;pwned\x07)");
  // CSI 2 J: clear the screen; CSI H: cursor home.
  EXPECT_EQ(terminal_safe("\x1b[2J\x1b[H$ "), R"(\x1b[2J\x1b[H$ )");
  // Other C0 controls, NUL and DEL.
  EXPECT_EQ(terminal_safe(std::string("a\0b\x08\x7f", 5)), R"(a\x00b\x08\x7f)");
}

TEST(TerminalText, C1ControlsAreShownWhetherRawOrUtf8) {
  // A raw 0x9b byte (CSI on terminals that take 8-bit C1) is not UTF-8: shown as the byte.
  EXPECT_EQ(terminal_safe("a\x9b"
                          "2Jb"),
            R"(a\x9b2Jb)");
  // U+009B written as UTF-8 (what a valid-UTF-8 file name can hold): shown as the code point.
  EXPECT_EQ(terminal_safe("a\xc2\x9b"
                          "31mb"),
            R"(a\u009b31mb)");
  EXPECT_EQ(terminal_safe("\xc2\x80\xc2\x85\xc2\x9f"), R"(\u0080\u0085\u009f)");
}

TEST(TerminalText, BidiControlsAreShown) {
  // "invoice_" RLO "fdp.exe" would read as "invoice_exe.pdf".
  EXPECT_EQ(terminal_safe("invoice_\u202e"
                          "fdp.exe"),
            R"(invoice_\u202efdp.exe)");
  EXPECT_EQ(terminal_safe("\u202a\u202b\u202c\u202d\u202e"), R"(\u202a\u202b\u202c\u202d\u202e)");
  EXPECT_EQ(terminal_safe("\u2066\u2067\u2068\u2069"), R"(\u2066\u2067\u2068\u2069)");
  EXPECT_EQ(terminal_safe("\u200e\u200f\u061c"), R"(\u200e\u200f\u061c)");
  EXPECT_EQ(terminal_safe("a\u2028b\u2029c"), R"(a\u2028b\u2029c)");
}

TEST(TerminalText, InvisibleCharactersAreShownSoLookalikeNamesDiffer) {
  EXPECT_EQ(terminal_safe("re\u200bport.pdf"), R"(re\u200bport.pdf)");
  EXPECT_EQ(terminal_safe("\u00ad\u180e\u2060\u2061\u2064\ufeff"), R"(\u00ad\u180e\u2060\u2061\u2064\ufeff)");
  // Joiners that text needs stay: a family emoji (ZWJ) and Persian "mi-khaham" (ZWNJ).
  EXPECT_EQ(terminal_safe("\U0001f468\u200d\U0001f469"), "\U0001f468\u200d\U0001f469");
  EXPECT_EQ(terminal_safe("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645");
  EXPECT_EQ(terminal_safe("\u2065"), "\u2065");  // unassigned, between the operators and the isolates
}

TEST(TerminalText, LineBreaksCannotStartAFakeLine) {
  EXPECT_EQ(terminal_safe("hi\r\n[12:00:00] bob (private): send me your key"),
            R"(hi\r\n[12:00:00] bob (private): send me your key)");
  EXPECT_EQ(terminal_safe("a\tb"), R"(a\tb)");
}

TEST(TerminalText, InvalidUtf8IsShownByteByByte) {
  EXPECT_EQ(terminal_safe("\xff"), R"(\xff)");
  EXPECT_EQ(terminal_safe("\xc0\xae"), R"(\xc0\xae)");                  // overlong '.'
  EXPECT_EQ(terminal_safe("\xed\xa0\x80"), R"(\xed\xa0\x80)");          // a surrogate
  EXPECT_EQ(terminal_safe("\xf4\x90\x80\x80"), R"(\xf4\x90\x80\x80)");  // above U+10FFFF
  EXPECT_EQ(terminal_safe("x\xe6\x97"), R"(x\xe6\x97)");                // 日 cut short
  EXPECT_EQ(terminal_safe("\xe6\x97"
                          "a"),
            R"(\xe6\x97a)");
}

TEST(TerminalText, LegitimateTextIsKept) {
  EXPECT_EQ(terminal_safe("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"), "café 日本 😀");
  EXPECT_EQ(terminal_safe("plain ASCII, ~!@#$%^&*()"), "plain ASCII, ~!@#$%^&*()");
  EXPECT_EQ(terminal_safe("\xef\xbf\xbd"), "\xef\xbf\xbd");  // U+FFFD itself is printable
  EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalText, BackslashIsEscapedSoEscapesAreUnambiguous) {
  // Someone typing the four characters \x1b is not confused with an ESC.
  EXPECT_EQ(terminal_safe(R"(\x1b)"), R"(\\x1b)");
  EXPECT_EQ(terminal_safe("\\\x1b"), R"(\\\x1b)");
}

TEST(TerminalText, OverlongTextIsCutVisiblyAndNeverInsideAnEscape) {
  EXPECT_EQ(terminal_safe(std::string(500, 'a'), 300), std::string(300, 'a') + "\u2026 (200 more bytes)");
  EXPECT_EQ(terminal_safe("abc", 3), "abc");
  // "aa" then ESC: its escape (4 bytes) would not fit in 5; it is left out whole.
  EXPECT_EQ(terminal_safe("aa\x1b", 5), "aa\u2026 (1 more byte)");
  // A UTF-8 character is not cut in two either.
  EXPECT_EQ(terminal_safe("a\xe6\x97\xa5", 3), "a\u2026 (3 more bytes)");
}

TEST(TerminalText, MessageFormKeepsItsOwnLinesAndEscapesEverythingElse) {
  EXPECT_EQ(terminal_safe_message("line one\n  line two"), "line one\n  line two");
  // Already escaped text is not escaped twice.
  EXPECT_EQ(terminal_safe_message(terminal_safe("\x1b[2J")), R"(\x1b[2J)");
  // A raw sequence that slipped into a message is still neutralized.
  EXPECT_EQ(terminal_safe_message("x\x1b]0;t\x07\r\xc2\x9b\u202e\xff"), R"(x\x1b]0;t\x07\r\u009b\u202e\xff)");
}

TEST(TerminalText, LongLinesAreWrappedWithAnIndentSoNoTailStartsALine) {
  using V = std::vector<std::string>;
  // 20 columns: "[12:00:00] m: " then padding, then a forged message line.
  const std::string forged = "[12:00:00] m: xxxxxx[12:00:00] bob (private): key?";
  EXPECT_EQ(wrap_for_terminal(forged, 20, 11), (V{"[12:00:00] m: xxxxxx", "           [12:00:00",
                                                  "           ] bob (pr", "           ivate): k", "           ey?"}));
  EXPECT_EQ(wrap_for_terminal("short", 20, 11), V{"short"});
  EXPECT_EQ(wrap_for_terminal("", 20, 11), V{""});
  // Exactly the width fits on one line.
  EXPECT_EQ(wrap_for_terminal(std::string(20, 'a'), 20, 4), V{std::string(20, 'a')});
  // Non-ASCII counts two columns and is never split.
  EXPECT_EQ(wrap_for_terminal("\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5", 9, 1),
            (V{"\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5", " \xe6\x97\xa5"}));
  // Too narrow to indent: left alone.
  EXPECT_EQ(wrap_for_terminal(std::string(30, 'a'), 12, 11), V{std::string(30, 'a')});
}

}  // namespace
}  // namespace mh
