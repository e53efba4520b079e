#pragma once
// Range and validator conditions of a file request (docs/PROTOCOL.md §7.1, §7.2), decided
// before anything is read: which bytes to serve (all, a span, or none: 416), and whether an
// If-None-Match or If-Range names this version.
#include <cstdint>
#include <optional>
#include <string_view>

namespace mh {

inline constexpr std::size_t kMaxRangeSpecs = 16;

struct RangeDecision {
  enum class Kind { whole, partial, unsatisfiable } kind = Kind::whole;
  // partial: the span of bytes asked for, first <= last < size (the server widens it to chunks)
  std::uint64_t first = 0, last = 0;
};

// `range` is the value of a Range field ("bytes=0-99,200-", "bytes=-500"); nullopt means none.
// Invalid syntax, another unit, or more than kMaxRangeSpecs specs: the field is ignored (whole),
// as RFC 9110 §14.2 allows. No satisfiable spec (every first byte >= size, "-0", any range of an
// empty file): unsatisfiable. Otherwise partial, from the smallest first byte asked for to the
// largest last one (last capped at size - 1; "-n" is the last min(n, size) bytes).
RangeDecision decide_range(std::optional<std::string_view> range, std::uint64_t size);

// If-None-Match (RFC 9110 §13.1.2): "*" or a list of entity tags, compared weakly (a W/ prefix on
// either side is ignored). A malformed list matches nothing, so the full answer is sent.
bool if_none_match_hits(std::string_view header, std::string_view etag);

// If-Range (RFC 9110 §13.1.5): one strong entity tag equal to `etag`. A weak tag, a date or
// anything else does not match, so the whole file is sent.
bool if_range_matches(std::string_view header, std::string_view etag);

}  // namespace mh
