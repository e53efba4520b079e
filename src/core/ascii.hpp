#pragma once
// ASCII character helpers the parsers share. Protocol text (field names, hex, percent-escapes) is
// ASCII whatever the locale, so none of these looks at std::locale or <cctype>.
#include <algorithm>
#include <string_view>

namespace mh {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive equality of ASCII text (HTTP field names, tokens).
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// The value of a hex digit of either case, or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `s` without the characters of `set` at either end (HTTP's OWS is the default: SP and HTAB).
constexpr std::string_view trim(std::string_view s, std::string_view set = " \t") noexcept {
  const auto b = s.find_first_not_of(set);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(set) - b + 1);
}

}  // namespace mh
