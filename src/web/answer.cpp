#include "web/answer.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/httpsig.hpp"
#include "core/seal.hpp"

namespace mh::web {
namespace {

constexpr std::string_view kStreamType = "application/minihttps-stream";

// Plaintext read per step: one step fills most of the server's 64 KiB write buffer (48 KiB become
// 64 KiB of base64), small enough to stay in cache.
constexpr std::size_t kStep = 48 * 1024;

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

// The body stream of §6, made as the connection asks for bytes: each chunk's token is encoded in
// steps of kStep plaintext bytes (a streaming Fernet encoder under the chunk's own key), so memory
// stays two small buffers per response whatever the chunk size, and a peer that goes away stops
// the work within one step.
class StreamSource final : public net::BodySource {
 public:
  StreamSource(stream::ChunkKeys keys, const stream::Layout& layout, std::unique_ptr<ChunkSource> source,
               std::int64_t now)
      : keys_(std::move(keys)), layout_(layout), source_(std::move(source)), now_(now), next_(layout.first_chunk()) {}

  std::uint64_t size() const override { return layout_.stream_length(); }

  std::size_t read(char* buf, std::size_t cap) override {
    std::size_t n = 0;
    while (n < cap) {
      if (pos_ == out_len_ && !produce()) break;
      const std::size_t k = std::min(cap - n, out_len_ - pos_);
      std::copy_n(out_.get() + pos_, k, buf + n);
      pos_ += k;
      n += k;
    }
    if (n == 0 && sent_ != layout_.stream_length()) throw Error(Errc::internal, "stream shorter than its promise");
    return n;
  }

 private:
  // Encodes the next step into out_; false at the end of the stream.
  bool produce() {
    if (!encoder_) {
      if (next_ > layout_.last_chunk()) return false;
      chunk_ = next_++;
      left_ = layout_.plaintext_size(chunk_);
      offset_ = layout_.offset(chunk_);
      // The last chunk is sealed only if the representation is still the one the head describes.
      if (chunk_ == layout_.last_chunk()) source_->check_unchanged();
      encoder_.emplace(keys_.key(chunk_), now_);
      if (!out_) {
        out_ = std::make_unique_for_overwrite<char[]>(kOutCapacity);
        plain_ = std::make_unique_for_overwrite<std::uint8_t[]>(kStep);
      }
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kStep, left_));
    source_->read(offset_, std::span<std::uint8_t>(plain_.get(), n));
    offset_ += n;
    left_ -= n;
    char* end = encoder_->update(ByteView(plain_.get(), n), out_.get());
    if (left_ == 0) {
      end = encoder_->finish(end);
      encoder_.reset();
    }
    out_len_ = static_cast<std::size_t>(end - out_.get());
    pos_ = 0;
    sent_ += out_len_;
    return true;
  }

  static constexpr std::size_t kOutCapacity = FernetEncoder::max_update_output(kStep) + FernetEncoder::max_finish_output();

  stream::ChunkKeys keys_;
  stream::Layout layout_;
  std::unique_ptr<ChunkSource> source_;
  std::int64_t now_;
  std::uint64_t next_;
  std::uint64_t chunk_ = 0, left_ = 0, offset_ = 0, sent_ = 0;
  std::optional<FernetEncoder> encoder_;
  std::unique_ptr<std::uint8_t[]> plain_;
  std::unique_ptr<char[]> out_;
  std::size_t out_len_ = 0, pos_ = 0;
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
      h.content_range = "bytes " + std::to_string(a.layout->first_byte()) + "-" + std::to_string(a.layout->last_byte()) +
                        "/" + std::to_string(a.layout->size());
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
  const auto params = httpsig::make_params({{"@status", {}}, {"minihttps-sealed", {}}, {"signature", req_sig}},
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
    if (a.status == 401) res.set("WWW-Authenticate", "MiniHTTPS handshake=\"/auth/handshake\"");
    if (a.status == 426) res.set("Upgrade", "websocket");  // RFC 9110 §15.5.22; only /chat answers 426
  }
  if (a.layout) {
    if (!a.source) a.source = std::make_unique<MemorySource>(std::move(a.body));
    stream::ChunkKeys keys(c.session_secret, KeyPurpose::response_body, v.binding, a.layout->last_chunk());
    res.stream = std::make_unique<StreamSource>(std::move(keys), *a.layout, std::move(a.source), now);
  }
  if (!v.sealed && net::find_header(v.fields, "Accept-Signature")) sign(res, v, server_key, now);
  return res;
}

}  // namespace mh::web
