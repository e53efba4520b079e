// RFC 9421 fields (core/httpsig.hpp) on the input as a header value:
//  * parse_signature_input: each parsed SignatureParams builds a signature base for a fixed
//    request and a fixed response (RFC 9421's test messages plus a few headers, the input itself
//    among them as "Signature-Input" and "X-Fuzz", so ;sf, ;key and ;bs read fuzzed fields).
//    Refusals are Errc::bad_request only: Errc::internal would mean parse and base disagree.
//    A base has exactly one line per covered component (no value can add a line), holds only
//    printable ASCII, HTAB and LF, and ends with the canonical "@signature-params" line.
//    signature_input_member() of the parsed params reparses to the same params.
//  * parse_signature: every member is a byte sequence; signature_member() reparses to it.
//  * content_digest_sha512_value: a 64-byte digest or nullopt or bad_request; and
//    content_digest_sha512(input) -> value round-trips to sha512(input).
#include <optional>

#include "core/hash.hpp"
#include "core/httpsig.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using namespace mh::httpsig;

Message make_request(std::string_view input) {
  Message m;
  m.method = "POST";
  m.scheme = "https";
  m.authority = "example.com";
  m.target = "/foo?param=Value&Pet=dog&a=%20b+c&x=%F0%9F%98%80&empty";
  m.headers = {
      {"Host", "example.com"},
      {"Date", "Tue, 20 Apr 2021 02:07:55 GMT"},
      {"Content-Type", "application/json"},
      {"Content-Digest",
       "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"},
      {"Content-Length", "18"},
      {"Example-Dict", " a=1, b=2;x=1;y=2, c=(a   b    c), d"},
      {"Example-Dict", "e=?0"},
      {"Cache-Status", "ExampleCache; hit, Other; fwd=uri-miss"},
      {"X-Empty-Header", ""},
      {"X-Obs", "  spaced\tvalue  "},
      {"Signature-Input", std::string(input)},
      {"X-Fuzz", std::string(input)},
  };
  return m;
}

Message make_response(const Message& request, std::string_view input) {
  Message m;
  m.status = 200;
  m.request = &request;
  m.headers = {
      {"Date", "Tue, 20 Apr 2021 02:07:56 GMT"},
      {"Content-Type", "application/json"},
      {"Content-Digest",
       "sha-512=:JlEy2bfUz7WrWIjc1qV6KVLpdr/7L5/L4h7Sxvh6sNHpDQWDCL+GauFQWcZBvVDhiyOnAQsxzZFYwi0wDH+1pw==:"},
      {"Content-Length", "23"},
      {"Signature", std::string(input)},
  };
  return m;
}

bool same_params(const SignatureParams& a, const SignatureParams& b) {
  return a.components == b.components && a.created == b.created && a.expires == b.expires && a.nonce == b.nonce &&
         a.alg == b.alg && a.keyid == b.keyid && a.tag == b.tag && a.raw == b.raw;
}

void check_base(const Message& msg, const SignatureParams& params) {
  std::string base;
  if (!fuzz::accepts([&] { base = signature_base(msg, params); }, {Errc::bad_request})) return;
  std::size_t lines = 0;
  for (char c : base) {
    const auto u = static_cast<unsigned char>(c);
    MH_FUZZ_CHECK(c == '\n' || c == '\t' || (u >= 0x20 && u <= 0x7e));
    lines += c == '\n';
  }
  MH_FUZZ_CHECK(lines == params.components.size());
  const std::string last = "\"@signature-params\": " + sfv::serialize(params.raw);
  MH_FUZZ_CHECK(base.ends_with(last));
  std::size_t pos = 0;
  for (const Component& c : params.components) {
    const std::string id = sfv::serialize(sfv::Item{c.name, c.params}) + ": ";
    MH_FUZZ_CHECK(base.compare(pos, id.size(), id) == 0);
    pos = base.find('\n', pos) + 1;
  }
  MH_FUZZ_CHECK(base.size() - pos == last.size());
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = fuzz::text(data, size);
  const Message request = make_request(in);
  const Message response = make_response(request, in);

  std::vector<std::pair<std::string, SignatureParams>> inputs;
  if (fuzz::accepts([&] { inputs = parse_signature_input(in); }, {Errc::bad_request})) {
    for (const auto& [label, params] : inputs) {
      check_base(request, params);
      check_base(response, params);
      const std::string member = signature_input_member(label, params);
      // Canonical form may outgrow the field limit (padding added to byte sequences): see fuzz_sfv.
      if (member.size() > sfv::kMaxFieldBytes) continue;
      const auto back = parse_signature_input(member);
      MH_FUZZ_CHECK(back.size() == 1 && back[0].first == label && same_params(back[0].second, params));
      MH_FUZZ_CHECK(signature_input_member(label, back[0].second) == member);
    }
  }

  std::vector<std::pair<std::string, Bytes>> sigs;
  if (fuzz::accepts([&] { sigs = parse_signature(in); }, {Errc::bad_request})) {
    for (const auto& [label, bytes] : sigs) {
      const auto back = parse_signature(signature_member(label, bytes));
      MH_FUZZ_CHECK(back.size() == 1 && back[0].first == label && back[0].second == bytes);
    }
  }

  std::optional<Bytes> digest;
  if (fuzz::accepts([&] { digest = content_digest_sha512_value(in); }, {Errc::bad_request}) && digest)
    MH_FUZZ_CHECK(digest->size() == 64);
  const Sha512Digest want = sha512(ByteView(data, size));
  const std::optional<Bytes> own = content_digest_sha512_value(content_digest_sha512(ByteView(data, size)));
  MH_FUZZ_CHECK(own && *own == Bytes(want.begin(), want.end()));

  std::optional<std::string> value;
  if (fuzz::accepts([&] { value = field_value(request, "x-fuzz"); }, {Errc::bad_request}))
    MH_FUZZ_CHECK(value && value->size() <= size && value->find_first_of("\r\n") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
