#include "core/utf8.hpp"

namespace mh {
namespace {
bool in(unsigned char c, unsigned char lo, unsigned char hi) noexcept { return c >= lo && c <= hi; }
}  // namespace

std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char c = p[i];
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (in(c, 0xc2, 0xdf))
    len = 2;
  else if (c == 0xe0)
    len = 3, lo = 0xa0;
  else if (in(c, 0xe1, 0xec) || in(c, 0xee, 0xef))
    len = 3;
  else if (c == 0xed)
    len = 3, hi = 0x9f;
  else if (c == 0xf0)
    len = 4, lo = 0x90;
  else if (in(c, 0xf1, 0xf3))
    len = 4;
  else if (c == 0xf4)
    len = 4, hi = 0x8f;
  else
    return 0;
  if (s.size() - i < len || !in(p[i + 1], lo, hi)) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (!in(p[i + k], 0x80, 0xbf)) return 0;
  cp = c & (0x7f >> len);
  for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3f);
  return len;
}

bool valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t cp = 0;
    const std::size_t len = utf8_sequence(s, i, cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace mh
