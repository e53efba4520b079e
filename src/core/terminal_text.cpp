#include "core/terminal_text.hpp"

#include <cstdint>

#include "core/utf8.hpp"

namespace mh {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Characters that show nothing at all, so two names that look the same can differ ("report.pdf"
// and "re<U+200B>port.pdf"). ZWJ and ZWNJ (U+200D, U+200C) are kept: emoji sequences and several
// scripts (Persian, the Indic ones) need them to render correctly.
bool is_invisible(char32_t cp) noexcept {
  return cp == 0x00ad ||                    // soft hyphen
         cp == 0x180e ||                    // Mongolian vowel separator
         cp == 0x200b ||                    // zero width space
         (cp >= 0x2060 && cp <= 0x2064) ||  // word joiner, invisible operators
         cp == 0xfeff;                      // zero width no-break space (BOM)
}

// Characters that are valid UTF-8 but act on the terminal or on the order of what it shows.
bool is_hidden_control(char32_t cp) noexcept {
  return (cp >= 0x80 && cp <= 0x9f) ||                    // C1 controls (U+009B is CSI)
         cp == 0x061c || cp == 0x200e || cp == 0x200f ||  // ALM, LRM, RLM
         (cp >= 0x202a && cp <= 0x202e) ||                // LRE RLE PDF LRO RLO
         (cp >= 0x2066 && cp <= 0x2069) ||                // LRI RLI FSI PDI
         cp == 0x2028 || cp == 0x2029 ||                  // line and paragraph separators
         is_invisible(cp);
}

std::string byte_escape(unsigned char c) {
  switch (c) {
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\\': return "\\\\";
    default: return {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
  }
}

std::string code_point_escape(char32_t cp) {
  std::string out = "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 15];
  return out;
}

struct Rules {
  std::size_t max_bytes;
  bool keep_newline_and_backslash;
};

// The next piece of output for the input at s[i]: the input bytes it stands for (`used`) and
// what to print for them.
std::string next_piece(std::string_view s, std::size_t i, const Rules& r, std::size_t& used) {
  const auto c = static_cast<unsigned char>(s[i]);
  used = 1;
  if (c < 0x80) {
    if (r.keep_newline_and_backslash && (c == '\n' || c == '\\')) return std::string(1, static_cast<char>(c));
    if (c < 0x20 || c == 0x7f || c == '\\') return byte_escape(c);
    return std::string(1, static_cast<char>(c));
  }
  char32_t cp = 0;
  const std::size_t len = utf8_sequence(s, i, cp);
  if (len == 0) return byte_escape(c);  // not UTF-8: this byte alone, then try again after it
  used = len;
  if (is_hidden_control(cp)) return code_point_escape(cp);
  return std::string(s.substr(i, len));
}

std::string escape(std::string_view s, const Rules& r) {
  std::string out;
  out.reserve(s.size() < 4096 ? s.size() : 4096);
  for (std::size_t i = 0; i < s.size();) {
    std::size_t used = 0;
    const std::string piece = next_piece(s, i, r, used);
    if (out.size() + piece.size() > r.max_bytes) {
      const std::size_t left = s.size() - i;
      out += "\u2026 (" + std::to_string(left) + (left == 1 ? " more byte)" : " more bytes)");
      break;
    }
    out += piece;
    i += used;
  }
  return out;
}

}  // namespace

std::vector<std::string> wrap_for_terminal(std::string_view line, std::size_t width, std::size_t indent) {
  if (width < indent + 8) return {std::string(line)};
  std::vector<std::string> pieces(1);
  std::size_t columns = 0;
  for (std::size_t i = 0; i < line.size();) {
    const auto c = static_cast<unsigned char>(line[i]);
    const std::size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;  // a lead byte's length
    const std::size_t cols = c < 0x80 ? 1 : 2;
    if (columns + cols > width) {
      pieces.emplace_back(indent, ' ');
      columns = indent;
    }
    pieces.back().append(line.substr(i, len));
    columns += cols;
    i += len;
  }
  return pieces;
}

std::string terminal_safe(std::string_view text, std::size_t max_bytes) { return escape(text, {max_bytes, false}); }

std::string terminal_safe_message(std::string_view text) { return escape(text, {kNoTextLimit, true}); }

}  // namespace mh
