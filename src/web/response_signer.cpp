#include "web/response_signer.hpp"

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/httpsig.hpp"

namespace mh::web {
namespace {

constexpr std::size_t kReadSize = 64 * 1024;

// What a response signature needs of the verified request, copied so that the signature can be
// made after the request's handler has returned (a digest pass runs later, in the server).
struct SigningContext {
  std::string label;         // the request's label ("sig1"), for "signature";req;key=...
  httpsig::Message request;  // the request as its signature base saw it
  const Ed25519KeyPair& key;
  std::int64_t now;
};

// Adds Content-Digest, Signature-Input and Signature for a body whose SHA-512 is `digest`.
void put_signature(net::Response& res, const Sha512Digest& digest, const SigningContext& c) {
  res.set("Content-Digest", "sha-512=:" + base64_encode(digest) + ":");
  const auto params = httpsig::make_params(
      response_components(c.label),
      {.created = c.now, .alg = "ed25519", .keyid = ed25519_fingerprint(c.key.public_key())});
  httpsig::Message m{"", c.request.scheme, c.request.authority, c.request.target, res.status, {}, &c.request};
  for (const auto& h : res.headers) m.headers.emplace_back(h.name, h.value);
  const std::string base = httpsig::signature_base(m, params);
  res.set("Signature-Input", httpsig::signature_input_member("sig1", params));
  res.set("Signature", httpsig::signature_member("sig1", c.key.sign(as_bytes(base))));
}

// A small body is digested in memory and then sent as a plain body.
Sha512Digest digest_small_body(net::Response& res) {
  if (res.stream) {
    std::string body;
    body.reserve(static_cast<std::size_t>(res.stream->size()));
    std::vector<char> buf(kReadSize);
    while (const std::size_t n = res.stream->read(buf.data(), buf.size())) body.append(buf.data(), n);
    res.stream.reset();
    res.body = std::move(body);
  }
  return sha512(as_bytes(res.body));
}

// The digest pass over a large streamed body, run by the server in steps (net::HeadWork): the
// server can abandon it when the client goes away, and bounds how many run at once. After the
// last step the stream is rewound, so the same bytes are sent, and the response is signed.
class DigestPass final : public net::HeadWork {
 public:
  explicit DigestPass(SigningContext c) : c_(std::move(c)), buf_(kReadSize) {}

  bool step(net::Response& res) override {
    for (std::size_t i = 0; i < kDigestStepBytes / kReadSize; ++i) {
      const std::size_t n = res.stream->read(buf_.data(), buf_.size());
      if (n == 0) return false;
      h_.update(ByteView(reinterpret_cast<const std::uint8_t*>(buf_.data()), n));
    }
    return true;
  }

  void finish(net::Response& res) override {
    if (!res.stream->rewind()) throw Error(Errc::internal, "response body cannot be signed (not rewindable)");
    put_signature(res, h_.finish(), c_);
  }

  void refuse(net::Response& res, const Error& e) override {
    res = net::error_response(e);
    put_signature(res, digest_small_body(res), c_);
  }

 private:
  SigningContext c_;
  Sha512 h_;
  std::vector<char> buf_;
};

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
  SigningContext c{v.label, v.message, server_key, now};
  // HEAD and 304 answers carry no body: their digest is that of the empty content.
  if (res.head_only || res.status == 304) return put_signature(res, sha512({}), c);
  if (res.stream && res.stream->size() > kBufferedDigestLimit) {
    // Large: the server runs the pass (see DigestPass) and signs once it is over.
    res.head_work = std::make_unique<DigestPass>(std::move(c));
    return;
  }
  put_signature(res, digest_small_body(res), c);
}

}  // namespace mh::web
