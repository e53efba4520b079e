// Binary HTTP heads (core/bhttp.hpp). The first input byte picks the decoder (byte % 2: 0 =
// decode_request, 1 = decode_response; the seeds use '0' and '1'), the rest is the head. The
// limits come from the input's hash: the protocol's half the time, small ones otherwise, so that
// every limit is reached. Refusals are Errc::bad_request with a "sealed: " reason. On acceptance:
//  * the message obeys every rule of the decoder, re-checked here independently (method token,
//    scheme, path, field names and values, the limits, the status range),
//  * encode() gives a head no longer than the input (shortest varints, no padding) that decodes
//    to an equal message, and encode(m, input size) has exactly the input's size and decodes too.
// Independently of acceptance, get_varint at the first offsets of the head agrees with a
// reference reading (a refusal leaves pos alone), and put_varint writes the value back in the
// shortest form, in no more bytes than it was read from.
#include <algorithm>
#include <string>
#include <string_view>

#include "core/bhttp.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using namespace mh::bhttp;

bhttp::Limits limits_for(fuzz::Rng& rng) {
  bhttp::Limits l;
  if (rng.coin()) return l;
  l.max_bytes = static_cast<std::size_t>(rng.range(0, 256));
  l.max_fields = static_cast<std::size_t>(rng.range(0, 4));
  l.max_name = static_cast<std::size_t>(rng.range(1, 8));
  l.max_value = static_cast<std::size_t>(rng.range(0, 16));
  return l;
}

bool no_space_or_control(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

void check_fields(const std::vector<Field>& fields, const bhttp::Limits& l) {
  MH_FUZZ_CHECK(fields.size() <= l.max_fields);
  for (const Field& f : fields) {
    MH_FUZZ_CHECK(!f.name.empty() && f.name.size() <= l.max_name);
    MH_FUZZ_CHECK(f.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos);
    MH_FUZZ_CHECK(f.value.size() <= l.max_value);
    MH_FUZZ_CHECK(f.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
    MH_FUZZ_CHECK(find(fields, f.name).has_value());
  }
}

void check(const Request& r, const bhttp::Limits& l) {
  static constexpr std::string_view kTchar =
      "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  MH_FUZZ_CHECK(!r.method.empty() && r.method.find_first_not_of(kTchar) == std::string::npos);
  MH_FUZZ_CHECK(r.scheme == "http" || r.scheme == "https");
  MH_FUZZ_CHECK(!r.path.empty() && no_space_or_control(r.path) && no_space_or_control(r.authority));
  check_fields(r.fields, l);
}

void check(const Response& r, const bhttp::Limits& l) {
  MH_FUZZ_CHECK(r.status >= 200 && r.status <= 599);
  check_fields(r.fields, l);
}

template <class Message, class Decode>
void round_trip(ByteView head, const bhttp::Limits& limits, Decode decode) {
  Message m;
  try {
    m = decode(head, limits);
  } catch (const Error& e) {
    MH_FUZZ_CHECK(e.code() == Errc::bad_request);
    MH_FUZZ_CHECK(std::string_view(e.what()).starts_with("sealed: "));
    return;
  }
  MH_FUZZ_CHECK(head.size() <= limits.max_bytes);
  check(m, limits);
  const Bytes once = encode(m);
  MH_FUZZ_CHECK(once.size() <= head.size());
  MH_FUZZ_CHECK(decode(once, limits) == m);
  const Bytes padded = encode(m, head.size());
  MH_FUZZ_CHECK(padded.size() == head.size());
  MH_FUZZ_CHECK(std::equal(once.begin(), once.end(), padded.begin()));
  MH_FUZZ_CHECK(decode(padded, limits) == m);
}

void check_varints(ByteView in) {
  for (std::size_t start = 0; start < std::min<std::size_t>(in.size() + 1, 16); ++start) {
    std::size_t pos = start;
    std::uint64_t got = 0;
    const bool refused = fuzz::refuses([&] { got = get_varint(in, pos); });
    const std::size_t n = start < in.size() ? std::size_t{1} << (in[start] >> 6) : 1;
    if (start + n > in.size()) {
      MH_FUZZ_CHECK(refused && pos == start);
      continue;
    }
    std::uint64_t want = in[start] & 0x3f;
    for (std::size_t i = 1; i < n; ++i) want = want * 256 + in[start + i];
    MH_FUZZ_CHECK(!refused && got == want && pos == start + n);
    Bytes again;
    put_varint(again, got);
    std::size_t p = 0;
    MH_FUZZ_CHECK(again.size() <= n && get_varint(again, p) == got && p == again.size());
  }
}

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  fuzz::Rng rng(data, size);
  const bhttp::Limits limits = limits_for(rng);
  const ByteView head(data + 1, size - 1);
  check_varints(head);
  if (data[0] % 2 == 0)
    round_trip<Request>(head, limits, [](ByteView in, const bhttp::Limits& l) { return decode_request(in, l); });
  else
    round_trip<Response>(head, limits, [](ByteView in, const bhttp::Limits& l) { return decode_response(in, l); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
