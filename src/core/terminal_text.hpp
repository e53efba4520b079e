#pragma once
// Text from the network made safe to show on a terminal or to write to a log (issue 12, item 4).
// Pure string work. The client passes every server-supplied string it prints through it (error
// reasons, listing names, chat names, text, rooms and notices), and the server its access log's
// request target. Nothing is dropped: what could act on the terminal is shown as an escape.
//
// What is kept as it is: printable ASCII and every other valid UTF-8 character ("é", "日本").
// What becomes a visible ASCII escape:
//   \\          a backslash, so that an escape in the output always stands for an escaped byte
//   \n \r \t    LF, CR and TAB: a name or a chat text can never start a line of its own
//   \xHH        the other C0 controls (ESC is \x1b), DEL (\x7f), and each byte that is not part of
//               valid UTF-8 (overlong forms, surrogates, stray continuation bytes: a lone 0x9b is \x9b)
//   \uHHHH      C1 controls U+0080-U+009F written as UTF-8 (U+009B, the one-character CSI, is
//               \u009b); bidirectional controls U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069
//               (they reorder what follows them on the line); line and paragraph separators U+2028,
//               U+2029; characters that show nothing (U+00AD, U+180E, U+200B, U+2060-U+2064,
//               U+FEFF), so that two names that look alike are told apart; ZWJ and ZWNJ are kept
// Why escapes rather than '?' or U+FFFD: they keep the information (which byte it was, e.g. to
// find the file a listing shows), they are ASCII so they print the same in any locale, and with
// the backslash escaped they are unambiguous. Hex digits are lower case.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mh {

inline constexpr std::size_t kNoTextLimit = static_cast<std::size_t>(-1);

// `text` with the escapes above. When the escaped text would exceed max_bytes, it is cut between
// two characters or escapes (never inside one) and "… (N more bytes)" is appended, N counting the
// input bytes left out, so an overlong reason cannot fill the screen yet is visibly cut.
std::string terminal_safe(std::string_view text, std::size_t max_bytes = kNoTextLimit);

// For a message this program composed itself around network text that already went through
// terminal_safe (an error message on its way to stderr): the same escapes, except that '\n' and
// '\\' pass unchanged, so the message keeps its own line breaks and escapes are not doubled. A
// safety net for network text that reached a message without terminal_safe: nothing that acts on
// the terminal survives it.
std::string terminal_safe_message(std::string_view text);

// An escaped line (terminal_safe output) as a terminal `width` columns wide would show it, broken
// here rather than by the terminal: every piece after the first starts with `indent` spaces. A
// chat text padded to the terminal's width then cannot make its tail look like a line of its own
// ("[12:00:00] bob (private): ..."). Widths are over-estimated (every non-ASCII character counts
// as 2 columns), so the terminal never wraps a piece itself. A width too small to hold the indent
// and some text leaves the line whole.
std::vector<std::string> wrap_for_terminal(std::string_view escaped_line, std::size_t width, std::size_t indent);

}  // namespace mh
