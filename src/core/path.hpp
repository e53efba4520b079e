#pragma once
// Request paths -> decoded segments (docs/PROTOCOL.md §7.4). Pure: no filesystem access. This is the
// first of two walls; the file service canonicalizes and checks containment afterwards.
//
// Refusals (mh::Error; the reason is the exact text below):
//   Errc::bad_request  "path: must start with '/'"   "path: too long"            (> kMaxPathBytes)
//                      "path: bad percent-encoding"  "path: too many segments"   (> kMaxSegments)
//                      "path: segment too long"      (> kMaxSegmentBytes, decoded)
//                      "path: control character"     (< 0x20 or 0x7f, raw or encoded, except NUL)
//                      "path: invalid UTF-8"         (includes overlong forms such as %c0%ae)
//                      "path: empty segment"         (only from segment_refusal: parsing drops them)
//   Errc::forbidden    "path: NUL byte"              (raw or %00)
//                      "path: backslash"             (raw or %5C)
//                      "path: encoded slash"         (%2F)
//                      "path: double encoding"       (a '%' left after decoding, e.g. %252e)
//                      "path: dot segment"           ("." or "..", raw or encoded)
//                      "path: hidden name"           (any other name beginning with '.')
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace mh {

inline constexpr std::size_t kMaxPathBytes = 4096;    // raw (encoded) path part
inline constexpr std::size_t kMaxSegments = 32;       // non-empty segments
inline constexpr std::size_t kMaxSegmentBytes = 255;  // decoded; NAME_MAX on Linux

struct RequestPath {
  std::vector<std::string> segments;  // decoded, each one a servable name (see below)
  bool trailing_slash = false;        // the raw path ended in '/' ("/" itself included)
};

// The path part of a request target ("/docs/a%20b.txt", no query) -> its segments, decoded once.
// Empty segments from "//" or a trailing "/" are dropped.
RequestPath parse_request_path(std::string_view path);

// The path part of an origin-form request target: everything before the first '?'.
std::string_view target_path(std::string_view target) noexcept;

// Why a decoded name could not be a segment, or nullopt when it could. The single source of the
// per-segment rules: parse_request_path applies it, and directory listings use it so that they
// never show a name that no request could reach (dotfiles, '%', invalid UTF-8, ...).
struct PathRefusal {
  Errc code;
  std::string_view reason;
};
std::optional<PathRefusal> segment_refusal(std::string_view decoded_name) noexcept;
inline bool is_servable_name(std::string_view name) noexcept { return !segment_refusal(name); }

// "/a/b" (plus a trailing '/' when asked) from decoded segments; "/" for none. For display and
// listings; it is not percent-encoded again.
std::string join_request_path(const std::vector<std::string>& segments, bool trailing_slash);

}  // namespace mh
