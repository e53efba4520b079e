#pragma once
// Binary HTTP (RFC 9292) known-length messages as minihttps/2 uses them for the sealed request and
// response heads (docs/PROTOCOL.md §5.1, §5.3), and the QUIC varint (RFC 9000 §16) they are
// written in.
//
// A head is a whole message without content: framing indicator, control data, the header field
// section, an empty content section, an empty trailer section, then optional zero padding (which
// hides the head's real length inside the seal). The decoders are stricter than RFC 9292: they
// refuse the indeterminate-length forms, a message cut short after any section, content,
// trailers, upper-case or odd field names, a space or control character in the authority or
// path, CR, LF or NUL in a value, and anything over the Limits. Every refusal is
// Error(Errc::bad_request, "sealed: <reason>"), which the server answers as `400` unchanged.
// The decoders know nothing of the route table: the method list, the leading "/" of the path and
// the authority against the outer Host are the caller's checks.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"

namespace mh::bhttp {

struct Field {
  std::string name;  // lower case
  std::string value;
  bool operator==(const Field&) const = default;
};

struct Request {
  std::string method, scheme, authority, path;
  std::vector<Field> fields;
  bool operator==(const Request&) const = default;
};

struct Response {
  int status = 200;
  std::vector<Field> fields;
  bool operator==(const Response&) const = default;
};

// The defaults are the protocol's (§5.1): a head of at most 8192 bytes, 64 field lines, names of
// 1..64 bytes, values of at most 4096 bytes. A value exactly at a limit is accepted.
struct Limits {
  std::size_t max_bytes = 8192;
  std::size_t max_fields = 64;
  std::size_t max_name = 64;
  std::size_t max_value = 4096;
};

// ---- QUIC variable-length integers -----------------------------------------------------------

inline constexpr std::uint64_t kMaxVarint = (std::uint64_t{1} << 62) - 1;

// Appends v in the shortest of the 1, 2, 4, 8-byte forms. v > kMaxVarint is a bug of the caller:
// Error(Errc::internal).
void put_varint(Bytes& out, std::uint64_t v);
// Reads the varint at in[pos] in any of its forms (non-shortest ones included, as RFC 9000 allows)
// and advances pos past it. Error(bad_request, "sealed: truncated varint") when it runs past the
// end of in (pos == in.size() included); pos is then unchanged.
std::uint64_t get_varint(ByteView in, std::size_t& pos);

// ---- heads -----------------------------------------------------------------------------------

// The known-length message (framing indicator 0 for a request, 1 for a response), then zero bytes
// up to pad_to bytes in all; no padding when pad_to is at most the unpadded size. The encoders
// write what they are given (the decoders are the gate); a negative status is Error(internal).
Bytes encode(const Request& r, std::size_t pad_to = 0);
Bytes encode(const Response& r, std::size_t pad_to = 0);

// Strict decoders (see the top of this file); every refusal is Error(bad_request, "sealed: ...").
Request decode_request(ByteView in, const Limits& limits = {});
Response decode_response(ByteView in, const Limits& limits = {});

// The value of the first field line named exactly `name` (give it in lower case), if any.
std::optional<std::string_view> find(const std::vector<Field>& fields, std::string_view name);

}  // namespace mh::bhttp
