// Request paths (core/path.hpp): parse_request_path on the input.
//  * Accept/refuse must match an independent reference of the documented rules (split on '/',
//    drop empty segments, percent-decode once, then: 1..255 bytes, no NUL, '/', '\', '%' or
//    control byte, not "." or "..", no leading '.', strict UTF-8; at most 32 segments, at most
//    4096 raw bytes); on acceptance the segments must be the reference's decoded segments.
//  * Every refusal is Errc::bad_request or Errc::forbidden with one of the documented reasons.
//  * Accepted segments satisfy the invariants directly (checked again, independently of the
//    reference) and segment_refusal() agrees with them.
//  * Round trips: join_request_path -> parse gives the same path; a random re-encoding (each byte
//    raw or %XX in either case) parses to the same path, or is refused as "path: too long".
#include <optional>
#include <set>

#include "core/path.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using mh::fuzz::Rng;

const std::set<std::string_view> kReasons = {
    "path: must start with '/'", "path: too long",          "path: bad percent-encoding", "path: too many segments",
    "path: segment too long",    "path: control character", "path: invalid UTF-8",        "path: NUL byte",
    "path: backslash",           "path: encoded slash",     "path: double encoding",      "path: dot segment",
    "path: hidden name"};

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict UTF-8 by decoding code points: no overlong forms, no surrogates, nothing above U+10FFFF.
bool utf8_ok(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80)
      len = 1, cp = c;
    else if ((c & 0xe0) == 0xc0)
      len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
      len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

bool name_ok(std::string_view n) {
  if (n.empty() || n.size() > kMaxSegmentBytes) return false;
  for (char ch : n) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '%') return false;
  }
  if (n.front() == '.') return false;  // covers "." and ".." too
  return utf8_ok(n);
}

// nullopt = must be refused.
std::optional<RequestPath> reference(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > kMaxPathBytes) return std::nullopt;
  RequestPath out;
  out.trailing_slash = path.back() == '/';
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view raw = path.substr(start, end - start);
    start = end + 1;
    if (raw.empty()) continue;
    if (out.segments.size() == kMaxSegments) return std::nullopt;
    std::string name;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '%') {
        name += raw[i];
        continue;
      }
      if (i + 2 >= raw.size() || hex(raw[i + 1]) < 0 || hex(raw[i + 2]) < 0) return std::nullopt;
      name += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
      i += 2;
    }
    if (!name_ok(name)) return std::nullopt;
    out.segments.push_back(std::move(name));
  }
  return out;
}

std::optional<RequestPath> parse(std::string_view path, std::string* reason = nullptr) {
  try {
    return parse_request_path(path);
  } catch (const Error& e) {
    MH_FUZZ_CHECK(e.code() == Errc::bad_request || e.code() == Errc::forbidden);
    MH_FUZZ_CHECK(kReasons.contains(e.what()));
    if (reason) *reason = e.what();
    return std::nullopt;
  }
}

bool same(const RequestPath& a, const RequestPath& b) {
  return a.segments == b.segments && a.trailing_slash == b.trailing_slash;
}

void check_segments(const RequestPath& p, std::string_view raw) {
  MH_FUZZ_CHECK(p.segments.size() <= kMaxSegments);
  MH_FUZZ_CHECK(p.trailing_slash == (raw.back() == '/'));
  for (const std::string& s : p.segments) {
    MH_FUZZ_CHECK(!s.empty() && s.size() <= kMaxSegmentBytes);
    MH_FUZZ_CHECK(s != "." && s != "..");
    MH_FUZZ_CHECK(s.front() != '.');
    MH_FUZZ_CHECK(s.find_first_of(std::string_view("/\\\0%", 4)) == std::string::npos);
    MH_FUZZ_CHECK(utf8_ok(s));
    MH_FUZZ_CHECK(!segment_refusal(s).has_value());
    MH_FUZZ_CHECK(is_servable_name(s));
  }
}

std::string reencode(const RequestPath& p, Rng& rng) {
  static constexpr char kUpper[] = "0123456789ABCDEF";
  static constexpr char kLower[] = "0123456789abcdef";
  std::string out;
  for (const std::string& s : p.segments) {
    out += '/';
    if (rng.range(0, 7) == 0) out += '/';  // empty segments are dropped
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (rng.coin()) {
        out += ch;  // every byte a segment can hold is also valid raw
      } else {
        const char* digits = rng.coin() ? kUpper : kLower;
        out += '%';
        out += digits[c >> 4];
        out += digits[c & 15];
      }
    }
  }
  if (out.empty() || p.trailing_slash) out += '/';
  return out;
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = fuzz::text(data, size);
  Rng rng(data, size);

  const std::optional<RequestPath> want = reference(in);
  const std::optional<RequestPath> got = parse(in);
  MH_FUZZ_CHECK(got.has_value() == want.has_value());
  if (!got) return;
  MH_FUZZ_CHECK(same(*got, *want));
  check_segments(*got, in);

  const std::string joined = join_request_path(got->segments, got->trailing_slash);
  MH_FUZZ_CHECK(joined.size() <= in.size());
  const std::optional<RequestPath> again = parse(joined);
  MH_FUZZ_CHECK(again && same(*again, *got));

  const std::string encoded = reencode(*got, rng);
  std::string reason;
  const std::optional<RequestPath> decoded = parse(encoded, &reason);
  if (encoded.size() > kMaxPathBytes) {
    MH_FUZZ_CHECK(!decoded && reason == "path: too long");
  } else {
    MH_FUZZ_CHECK(decoded && same(*decoded, *got));
  }

  // target_path never leaves the path part and never grows.
  const std::string_view tp = target_path(in);
  MH_FUZZ_CHECK(tp.size() <= in.size() && tp.find('?') == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
