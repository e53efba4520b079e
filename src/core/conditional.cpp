#include "core/conditional.hpp"

#include "core/ascii.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace mh {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// 1*DIGIT, as RFC 9110 writes positions; values past 2^64 - 1 are refused (the field is ignored).
std::optional<std::uint64_t> digits(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

RangeDecision decide_range(std::optional<std::string_view> range, std::uint64_t size) {
  RangeDecision whole;
  if (!range) return whole;
  std::string_view v = trim(*range);
  // The unit is case-insensitive (RFC 9110 §14.1).
  if (v.size() < 6 || (v[0] | 0x20) != 'b' || (v[1] | 0x20) != 'y' || (v[2] | 0x20) != 't' || (v[3] | 0x20) != 'e' ||
      (v[4] | 0x20) != 's' || v[5] != '=')
    return whole;
  v.remove_prefix(6);
  bool any = false;
  std::uint64_t first = 0, last = 0;
  std::size_t specs = 0;
  while (true) {
    const auto comma = v.find(',');
    const std::string_view spec = trim(v.substr(0, comma));
    if (spec.empty()) {  // RFC 9110 §5.6.1.2: empty list elements are ignored
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
      continue;
    }
    if (++specs > kMaxRangeSpecs) return whole;
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return whole;
    const std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
    std::uint64_t s = 0, e = 0;
    bool satisfiable = false;
    if (a.empty()) {  // suffix: the last n bytes
      const auto n = digits(b);
      if (!n) return whole;
      if (*n > 0 && size > 0) {
        s = size - std::min(*n, size);
        e = size - 1;
        satisfiable = true;
      }
    } else {
      const auto from = digits(a);
      if (!from) return whole;
      std::optional<std::uint64_t> to;
      if (!b.empty()) {
        to = digits(b);
        if (!to || *to < *from) return whole;
      }
      if (*from < size) {
        s = *from;
        e = to ? std::min(*to, size - 1) : size - 1;
        satisfiable = true;
      }
    }
    if (satisfiable) {
      first = any ? std::min(first, s) : s;
      last = any ? std::max(last, e) : e;
      any = true;
    }
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  if (specs == 0) return whole;
  if (!any) return RangeDecision{RangeDecision::Kind::unsatisfiable, 0, 0};
  return RangeDecision{RangeDecision::Kind::partial, first, last};
}

bool if_none_match_hits(std::string_view header, std::string_view etag) {
  const std::string_view opaque = etag.substr(etag.starts_with("W/") ? 2 : 0);
  std::size_t i = 0;
  for (;;) {
    while (i < header.size() && (is_space(header[i]) || header[i] == ',')) ++i;
    if (i == header.size()) return false;
    if (header[i] == '*') return true;
    if (header.substr(i).starts_with("W/")) i += 2;
    if (i == header.size() || header[i] != '"') return false;
    const std::size_t close = header.find('"', i + 1);
    if (close == std::string_view::npos) return false;
    if (header.substr(i, close - i + 1) == opaque) return true;
    i = close + 1;
  }
}

bool if_range_matches(std::string_view header, std::string_view etag) {
  const std::string_view h = trim(header);
  return !etag.starts_with("W/") && h.size() >= 2 && h.front() == '"' && h.back() == '"' && h == etag;
}

}  // namespace mh
