#include "web/response_signer.hpp"

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/httpsig.hpp"

namespace mh::web {
namespace {

// The response body's SHA-512, leaving the response able to send the same bytes afterwards.
Sha512Digest digest_body(net::Response& res) {
  if (!res.stream) return sha512(as_bytes(res.body));
  Sha512 h;
  std::vector<char> buf(64 * 1024);
  if (res.stream->size() <= kBufferedDigestLimit) {
    // Small: keep the bytes and send them as a plain body.
    std::string body;
    body.reserve(static_cast<std::size_t>(res.stream->size()));
    while (const std::size_t n = res.stream->read(buf.data(), buf.size())) body.append(buf.data(), n);
    res.stream.reset();
    res.body = std::move(body);
    return sha512(as_bytes(res.body));
  }
  while (const std::size_t n = res.stream->read(buf.data(), buf.size()))
    h.update(ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), n));
  if (!res.stream->rewind()) throw Error(Errc::internal, "response body cannot be signed (not rewindable)");
  return h.finish();
}

}  // namespace

std::vector<httpsig::Component> response_components(const std::string& request_label) {
  sfv::Parameters req_sig;
  req_sig.set("req", true);
  req_sig.set("key", request_label);
  return {{"@status", {}}, {"content-digest", {}}, {"signature", req_sig}};
}

void sign_response(net::Response& res, const net::Request& req, const VerifiedRequest& v,
                   const Ed25519KeyPair& server_key, std::int64_t now) {
  if (!req.header("Accept-Signature")) return;
  // HEAD and 304 answers carry no body: their digest is that of the empty content.
  const Sha512Digest digest = res.head_only || res.status == 304 ? sha512({}) : digest_body(res);
  res.set("Content-Digest", "sha-512=:" + base64_encode(digest) + ":");
  const auto params = httpsig::make_params(
      response_components(v.label),
      {.created = now, .alg = "ed25519", .keyid = ed25519_fingerprint(server_key.public_key())});
  httpsig::Message m{"", v.message.scheme, v.message.authority, v.message.target, res.status, {}, &v.message};
  for (const auto& h : res.headers) m.headers.emplace_back(h.name, h.value);
  const std::string base = httpsig::signature_base(m, params);
  res.set("Signature-Input", httpsig::signature_input_member("sig1", params));
  res.set("Signature", httpsig::signature_member("sig1", server_key.sign(as_bytes(base))));
}

}  // namespace mh::web
