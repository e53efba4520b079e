#include "web/answer.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/httpsig.hpp"
#include "core/routes.hpp"
#include "core/seal.hpp"
#include "web/body_stream.hpp"

namespace mh::web {
namespace {

constexpr std::string_view kStreamType = "application/minihttps-stream";

// The whole body is in memory.
class MemorySource final : public ChunkSource {
 public:
  explicit MemorySource(std::string body) : body_(std::move(body)) {}
  void read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    std::copy_n(body_.data() + offset, out.size(), out.begin());
  }

 private:
  std::string body_;
};

seal::ResponseHead head_of(const Answer& a) {
  seal::ResponseHead h;
  h.status = a.status;
  h.content_type = a.content_type;
  h.etag = a.etag;
  h.retry_after = a.retry_after;
  h.content_range = a.content_range;
  h.content_length = a.size;
  if (a.layout) {
    h.chunks = seal::Chunks{a.layout->chunk_size(), a.layout->first_chunk(), a.layout->last_chunk()};
    if (a.status == 206) {
      h.content_length = a.layout->byte_count();
      h.content_range = "bytes " + std::to_string(a.layout->first_byte()) + "-" +
                        std::to_string(a.layout->last_byte()) + "/" + std::to_string(a.layout->size());
    }
  }
  return h;
}

// Accept-Signature on an unsealed request (§5.4): the answer's status and sealed head, bound to the
// request's own signature, signed with the server's identity key.
void sign(net::Response& res, const VerifiedRequest& v, const Ed25519KeyPair& key, std::int64_t now) {
  sfv::Parameters req_sig;
  req_sig.set("req", true);
  req_sig.set("key", v.label);
  const auto params =
      httpsig::make_params({{"@status", {}}, {"minihttps-sealed", {}}, {"signature", req_sig}},
                           {.created = now, .alg = "ed25519", .keyid = ed25519_fingerprint(key.public_key())});
  httpsig::Message m{"", v.message.scheme, v.message.authority, v.message.target, res.status, {}, &v.message};
  for (const auto& h : res.headers) m.headers.emplace_back(h.name, h.value);
  const std::string base = httpsig::signature_base(m, params);
  res.set("Signature-Input", httpsig::signature_input_member(seal::kLabel, params));
  res.set("Signature", httpsig::signature_member(seal::kLabel, key.sign(as_bytes(base))));
}

}  // namespace

Answer body_answer(int status, std::string content_type, std::string body, std::uint32_t chunk_size) {
  Answer a;
  a.status = status;
  a.content_type = std::move(content_type);
  a.size = body.size();
  a.layout = stream::Layout::whole(body.size(), chunk_size);
  a.body = std::move(body);
  return a;
}

Answer error_answer(const Error& e, std::uint32_t chunk_size) {
  Answer a = body_answer(http_status(e.code()), "application/json", net::error_json(e), chunk_size);
  if (a.status == 429 || a.status == 503) a.retry_after = 1;
  return a;
}

net::Response respond(const VerifiedRequest& v, Answer a, const Ed25519KeyPair& server_key, std::int64_t now) {
  const auth::ClientRecord& c = *v.client;
  const seal::ResponseHead head = head_of(a);
  net::Response res;
  res.status = v.sealed ? 200 : a.status;
  res.set("Content-Type", std::string(kStreamType));
  res.set(std::string(seal::kSealedField), seal::seal_response_head(c.session_secret, v.binding, head, now));
  res.set("Cache-Control", "private, no-store");
  if (!v.sealed) {
    // Plain copies for stock RFC 9421 clients; the sealed head is what a client must trust.
    if (a.content_type) res.set("MiniHTTPS-Content-Type", *a.content_type);
    if (a.etag) res.set("ETag", *a.etag);
    if (head.content_range) res.set("Content-Range", *head.content_range);
    if (a.retry_after) res.set("Retry-After", std::to_string(*a.retry_after));
    if (a.status == 401) res.set("WWW-Authenticate", std::string(routes::kHandshakeChallenge));
    if (a.status == 426) res.set("Upgrade", "websocket");  // RFC 9110 §15.5.22; only /chat answers 426
  }
  if (a.layout) {
    if (!a.source) a.source = std::make_unique<MemorySource>(std::move(a.body));
    stream::ChunkKeys keys(c.session_secret, KeyPurpose::response_body, v.binding, a.layout->last_chunk());
    res.stream = encrypted_body(std::move(keys), *a.layout, std::move(a.source), now);
  }
  if (!v.sealed && net::find_header(v.fields, "Accept-Signature")) sign(res, v, server_key, now);
  return res;
}

}  // namespace mh::web
