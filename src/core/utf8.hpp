#pragma once
// Strict UTF-8 (Unicode Table 3-7): no overlong forms (so %c0%ae is not a disguised '.'), no
// surrogates, nothing above U+10FFFF. One decoder for the path rules and the terminal sanitizer.
#include <cstddef>
#include <string_view>

namespace mh {

// The length of the multi-byte sequence starting at s[i] (s[i] >= 0x80), with its code point in
// `cp`; 0 when no valid sequence starts there.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) noexcept;

bool valid_utf8(std::string_view s) noexcept;

}  // namespace mh
