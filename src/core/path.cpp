#include "core/path.hpp"

#include <algorithm>

#include "core/ascii.hpp"
#include "core/utf8.hpp"

namespace mh {
namespace {

[[noreturn]] void refuse(const PathRefusal& r) { throw Error(r.code, std::string(r.reason)); }
[[noreturn]] void refuse(Errc code, std::string_view reason) { refuse(PathRefusal{code, reason}); }

// Percent-decodes one raw segment, exactly once. Bytes other than %XX pass through unchanged, so
// every later check sees raw and encoded forms alike.
std::string percent_decode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out.push_back(raw[i]);
      continue;
    }
    if (i + 2 >= raw.size()) refuse(Errc::bad_request, "path: bad percent-encoding");
    const int hi = hex_value(raw[i + 1]);
    const int lo = hex_value(raw[i + 2]);
    if (hi < 0 || lo < 0) refuse(Errc::bad_request, "path: bad percent-encoding");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// The first byte that may never appear in a name, if any. A decoded '%' can only come from %25:
// either double encoding aimed at a second decoder, or a literal '%' we refuse for the same reason.
std::optional<PathRefusal> byte_refusal(std::string_view name) noexcept {
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return PathRefusal{Errc::forbidden, "path: NUL byte"};
    if (c == '\\') return PathRefusal{Errc::forbidden, "path: backslash"};
    if (c == '/') return PathRefusal{Errc::forbidden, "path: encoded slash"};
    if (c == '%') return PathRefusal{Errc::forbidden, "path: double encoding"};
    if (c < 0x20 || c == 0x7f) return PathRefusal{Errc::bad_request, "path: control character"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<PathRefusal> segment_refusal(std::string_view name) noexcept {
  // parse_request_path drops empty segments; one in a hand-built RequestPath is a caller's bug.
  if (name.empty()) return PathRefusal{Errc::bad_request, "path: empty segment"};
  if (name.size() > kMaxSegmentBytes) return PathRefusal{Errc::bad_request, "path: segment too long"};
  if (auto r = byte_refusal(name)) return r;
  if (name == "." || name == "..") return PathRefusal{Errc::forbidden, "path: dot segment"};
  // Dotfiles (.git, .env, .htpasswd) are never served, whatever they hold.
  if (!name.empty() && name.front() == '.') return PathRefusal{Errc::forbidden, "path: hidden name"};
  if (!valid_utf8(name)) return PathRefusal{Errc::bad_request, "path: invalid UTF-8"};
  return std::nullopt;
}

RequestPath parse_request_path(std::string_view path) {
  if (path.empty() || path.front() != '/') refuse(Errc::bad_request, "path: must start with '/'");
  if (path.size() > kMaxPathBytes) refuse(Errc::bad_request, "path: too long");
  RequestPath out;
  out.trailing_slash = path.back() == '/';
  std::size_t pos = 1;
  while (pos <= path.size()) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    const std::string_view raw = path.substr(pos, end - pos);
    pos = end + 1;
    if (raw.empty()) continue;  // "//" and the trailing '/' add nothing
    if (out.segments.size() == kMaxSegments) refuse(Errc::bad_request, "path: too many segments");
    std::string name = percent_decode(raw);
    if (auto r = segment_refusal(name)) refuse(*r);
    out.segments.push_back(std::move(name));
  }
  return out;
}

std::string_view target_path(std::string_view target) noexcept { return target.substr(0, target.find('?')); }

std::string join_request_path(const std::vector<std::string>& segments, bool trailing_slash) {
  std::string out;
  for (const auto& s : segments) {
    out.push_back('/');
    out += s;
  }
  if (out.empty() || trailing_slash) out.push_back('/');
  return out;
}

}  // namespace mh
