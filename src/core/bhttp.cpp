#include "core/bhttp.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace mh::bhttp {
namespace {

[[noreturn]] void fail(const std::string& why) { throw Error(Errc::bad_request, "sealed: " + why); }

constexpr std::uint64_t kRequestFraming = 0;
constexpr std::uint64_t kResponseFraming = 1;

constexpr const char* kFieldsMisfit = "field lines do not fill the field section exactly";

// The size of a varint, from the top two bits of its first byte (RFC 9000 §16).
constexpr std::size_t varint_size(std::uint8_t first) noexcept { return std::size_t{1} << (first >> 6); }

// A cursor over one span: the whole head, or the field section inside it. The three reasons say
// what is wrong when the span ends where a varint should start, inside a varint, or inside a
// length-prefixed string.
class Cursor {
 public:
  Cursor(ByteView in, const char* missing, const char* cut, const char* past_end) noexcept
      : in_(in), missing_(missing), cut_(cut), past_end_(past_end) {}

  bool at_end() const noexcept { return pos_ == in_.size(); }
  ByteView rest() const noexcept { return in_.subspan(pos_); }

  std::uint64_t varint() {
    if (at_end()) fail(missing_);
    if (in_.size() - pos_ < varint_size(in_[pos_])) fail(cut_);
    return get_varint(in_, pos_);
  }
  ByteView prefixed() {
    const std::uint64_t n = varint();
    if (n > in_.size() - pos_) fail(past_end_);
    const ByteView b = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += b.size();
    return b;
  }
  std::string text() { return std::string(as_chars(prefixed())); }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
  const char* missing_;
  const char* cut_;
  const char* past_end_;
};

// The head itself: RFC 9292 §3.8 lets a message stop after any section, but a sealed head always
// has all of them, so running out where a section starts is a head cut short.
Cursor head_cursor(ByteView in) {
  return Cursor(in, "truncated head", "truncated varint", "a length runs past the end of the head");
}

// tchar of RFC 9110 §5.6.2.
bool is_tchar(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Space and control characters can never be part of an authority or a request target (RFC 9112
// §3.2), and refusing them here keeps them out of every log line the path reaches.
bool has_space_or_control(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

void check_name(std::string_view name, const Limits& limits) {
  if (name.empty()) fail("empty field name");
  if (name.size() > limits.max_name) fail("field name longer than " + std::to_string(limits.max_name) + " bytes");
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') fail("field names must be lower case");
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) fail("field name has a character outside a-z 0-9 - _ .");
  }
}

void check_value(std::string_view value, const Limits& limits) {
  if (value.size() > limits.max_value) fail("field value longer than " + std::to_string(limits.max_value) + " bytes");
  // RFC 9110 §5.5: field values hold visible characters, SP, HTAB and obs-text; no controls.
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) fail("field value has a control character");
  }
}

void read_framing(Cursor& head, std::uint64_t want) {
  const std::uint64_t framing = head.varint();
  if (framing == want) return;
  if (framing == 2 || framing == 3) fail("indeterminate-length messages are not used");
  fail("framing indicator " + std::to_string(framing) + " is not a known-length " +
       (want == kRequestFraming ? "request" : "response"));
}

// The header field section: its length, then field lines (name, value) that fill it exactly.
std::vector<Field> read_fields(Cursor& head, const Limits& limits) {
  Cursor lines(head.prefixed(), kFieldsMisfit, kFieldsMisfit, kFieldsMisfit);
  std::vector<Field> out;
  while (!lines.at_end()) {
    if (out.size() == limits.max_fields) fail("more than " + std::to_string(limits.max_fields) + " field lines");
    Field f;
    f.name = lines.text();
    check_name(f.name, limits);
    f.value = lines.text();
    check_value(f.value, limits);
    out.push_back(std::move(f));
  }
  return out;
}

// What follows the header section of a head: empty content, empty trailers, zero padding.
void read_tail(Cursor& head) {
  if (head.varint() != 0) fail("the head carries content");
  if (head.varint() != 0) fail("the head carries trailers");
  if (!is_all_zero(head.rest())) fail("padding is not zero");
}

void check_size(ByteView in, const Limits& limits) {
  if (in.size() > limits.max_bytes) fail("the head is longer than " + std::to_string(limits.max_bytes) + " bytes");
}

void put_text(Bytes& out, std::string_view s) {
  put_varint(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void put_fields_and_tail(Bytes& out, const std::vector<Field>& fields, std::size_t pad_to) {
  Bytes lines;
  for (const Field& f : fields) {
    put_text(lines, f.name);
    put_text(lines, f.value);
  }
  put_varint(out, lines.size());
  out.insert(out.end(), lines.begin(), lines.end());
  put_varint(out, 0);  // content
  put_varint(out, 0);  // trailers
  if (out.size() < pad_to) out.resize(pad_to, 0);
}

}  // namespace

void put_varint(Bytes& out, std::uint64_t v) {
  if (v > kMaxVarint) throw Error(Errc::internal, "bhttp: " + std::to_string(v) + " does not fit a varint");
  const std::size_t n = v < (1u << 6) ? 1 : v < (1u << 14) ? 2 : v < (1u << 30) ? 4 : 8;
  const std::size_t first = out.size();
  for (std::size_t i = n; i-- > 0;) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  // The length code (0..3 for 1, 2, 4, 8 bytes) goes in the two top bits, which v leaves clear.
  out[first] |= static_cast<std::uint8_t>((n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3) << 6);
}

std::uint64_t get_varint(ByteView in, std::size_t& pos) {
  if (pos >= in.size() || in.size() - pos < varint_size(in[pos])) fail("truncated varint");
  const std::size_t n = varint_size(in[pos]);
  std::uint64_t v = in[pos] & 0x3f;
  for (std::size_t i = 1; i < n; ++i) v = (v << 8) | in[pos + i];
  pos += n;
  return v;
}

Bytes encode(const Request& r, std::size_t pad_to) {
  Bytes out;
  put_varint(out, kRequestFraming);
  for (const std::string* s : {&r.method, &r.scheme, &r.authority, &r.path}) put_text(out, *s);
  put_fields_and_tail(out, r.fields, pad_to);
  return out;
}

Bytes encode(const Response& r, std::size_t pad_to) {
  Bytes out;
  put_varint(out, kResponseFraming);
  // A negative status becomes a value of 2^63 or more, which put_varint refuses as a bug.
  put_varint(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(r.status)));
  put_fields_and_tail(out, r.fields, pad_to);
  return out;
}

Request decode_request(ByteView in, const Limits& limits) {
  check_size(in, limits);
  Cursor head = head_cursor(in);
  read_framing(head, kRequestFraming);
  Request r;
  r.method = head.text();
  if (r.method.empty() || !std::all_of(r.method.begin(), r.method.end(), is_tchar)) fail("the method is not a token");
  r.scheme = head.text();
  if (r.scheme != "http" && r.scheme != "https") fail("the scheme is not http or https");
  r.authority = head.text();
  if (has_space_or_control(r.authority)) fail("the authority has a space or control character");
  r.path = head.text();
  if (r.path.empty()) fail("empty path");
  if (has_space_or_control(r.path)) fail("the path has a space or control character");
  r.fields = read_fields(head, limits);
  read_tail(head);
  return r;
}

Response decode_response(ByteView in, const Limits& limits) {
  check_size(in, limits);
  Cursor head = head_cursor(in);
  read_framing(head, kResponseFraming);
  const std::uint64_t status = head.varint();
  if (status >= 100 && status <= 199) fail("informational responses are not used");
  if (status < 200 || status > 599) fail("status out of range");
  Response r;
  r.status = static_cast<int>(status);
  r.fields = read_fields(head, limits);
  read_tail(head);
  return r;
}

std::optional<std::string_view> find(const std::vector<Field>& fields, std::string_view name) {
  for (const Field& f : fields)
    if (f.name == name) return f.value;
  return std::nullopt;
}

}  // namespace mh::bhttp
