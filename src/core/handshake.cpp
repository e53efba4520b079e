#include "core/handshake.hpp"

#include <cstdint>

#include "core/error.hpp"
#include "core/fields.hpp"
#include "core/strict_json.hpp"

namespace mh::handshake {
namespace {

using json = nlohmann::json;
const StrictJson kJson("handshake");

[[noreturn]] void malformed(const std::string& why) { kJson.malformed(why); }

void check_version(const json& j) {
  if (kJson.need_int(j, "version") != kVersion) malformed("unsupported protocol version");
}

}  // namespace

bool valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxNameLength || name[0] == '.' || name[0] == '-') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// ---- messages ----------------------------------------------------------------------------------

std::string to_json(const ClientHello& h) {
  json j = {{"version", h.version}, {"name", h.name},           {"x25519", b64u(h.x25519)},
            {"nonce", b64u(h.nonce)}, {"rsa_spki", b64u(h.rsa_spki)}, {"time", h.time},
            {"signature", b64u(h.signature)}};
  if (h.uuid) j["uuid"] = h.uuid->to_string();
  return j.dump();
}

std::string to_json(const ServerReply& r) {
  const json j = {{"version", r.version},       {"uuid", r.uuid.to_string()},
                  {"x25519", b64u(r.x25519)},    {"nonce", b64u(r.nonce)},
                  {"expires", r.expires},       {"server_key", b64u(r.server_key)},
                  {"signature", b64u(r.signature)}};
  return j.dump();
}

ClientHello parse_client_hello(std::string_view text) {
  const json j = kJson.parse_object(text, kMaxMessageBytes);
  kJson.only_fields(j, {"version", "name", "x25519", "nonce", "rsa_spki", "uuid", "time", "signature"});
  check_version(j);
  ClientHello h;
  h.name = kJson.need_string(j, "name", 256);
  if (!valid_name(h.name)) malformed("name must be 1-32 characters of A-Z a-z 0-9 . _ -");
  h.x25519 = kJson.need_fixed<32>(j, "x25519");
  h.nonce = kJson.need_fixed<32>(j, "nonce");
  h.rsa_spki = kJson.need_b64u(j, "rsa_spki", 1, kMaxSpkiBytes);
  h.uuid = kJson.maybe_uuid(j, "uuid");
  h.time = kJson.need_int(j, "time");
  h.signature = kJson.need_b64u(j, "signature", 1, kMaxRsaSignatureBytes);
  return h;
}

ServerReply parse_server_reply(std::string_view text) {
  const json j = kJson.parse_object(text, kMaxMessageBytes);
  kJson.only_fields(j, {"version", "uuid", "x25519", "nonce", "expires", "server_key", "signature"});
  check_version(j);
  ServerReply r;
  r.uuid = kJson.need_uuid(j, "uuid");
  r.x25519 = kJson.need_fixed<32>(j, "x25519");
  r.nonce = kJson.need_fixed<32>(j, "nonce");
  r.expires = kJson.need_int(j, "expires");
  r.server_key = kJson.need_fixed<32>(j, "server_key");
  r.signature = kJson.need_fixed<64>(j, "signature");
  return r;
}

// ---- transcripts -------------------------------------------------------------------------------

Bytes encode_transcript1(const ClientHello& h) {
  FieldWriter t(kHelloLabel);
  t.integer(h.version).field(h.name).field(h.x25519).field(h.nonce).field(h.rsa_spki);
  if (h.uuid) t.field(h.uuid->bytes);
  else t.field(ByteView{});
  return t.integer(h.time).take();
}

Bytes encode_transcript2(const Sha256Digest& th1, const ClientHello& h, const ServerReply& r) {
  return FieldWriter(kReplyLabel)
      .field(th1)
      .field(h.signature)
      .integer(r.version)
      .field(r.uuid.bytes)
      .field(r.x25519)
      .field(r.nonce)
      .integer(r.expires)
      .field(r.server_key)
      .take();
}

Sha256Digest transcript1(const ClientHello& h) { return sha256(encode_transcript1(h)); }

Sha256Digest transcript2(const Sha256Digest& th1, const ClientHello& h, const ServerReply& r) {
  return sha256(encode_transcript2(th1, h, r));
}

FernetKey derive_session_key(const Secret<32>& shared, const Sha256Digest& th2) {
  const SecretBytes okm = hkdf_sha256(shared.view(), th2, as_bytes(kSessionKeyInfo), 32);
  return FernetKey::from_bytes(okm.view());
}

// ---- client ------------------------------------------------------------------------------------

ClientHandshake ClientHandshake::create(const RsaPrivateKey& identity, std::string name, std::optional<Uuid> uuid,
                                        const Clock& clock, std::optional<X25519KeyPair> ephemeral,
                                        std::optional<Nonce> nonce) {
  if (!valid_name(name)) throw Error(Errc::bad_request, "name must be 1-32 characters of A-Z a-z 0-9 . _ -");
  X25519KeyPair e = ephemeral ? std::move(*ephemeral) : X25519KeyPair::generate();
  ClientHello h;
  h.name = std::move(name);
  h.x25519 = e.public_key;
  if (nonce) h.nonce = *nonce;
  else random_fill(h.nonce);
  h.rsa_spki = identity.public_key().spki_der();
  h.uuid = uuid;
  h.time = clock.now();
  const Sha256Digest th1 = transcript1(h);
  h.signature = identity.sign_pss_sha512(th1);
  return ClientHandshake(std::move(h), std::move(e));
}

ClientSession ClientHandshake::consume(std::string_view reply_json, const std::optional<std::string>& pinned) {
  if (state_ != State::hello_sent) throw Error(Errc::internal, "handshake: reply already consumed");
  state_ = State::failed;
  const ServerReply r = parse_server_reply(reply_json);
  if (pinned && ed25519_fingerprint(r.server_key) != *pinned)
    throw Error(Errc::trust, "handshake: the server's key " + ed25519_fingerprint(r.server_key) +
                                 " is not the pinned key " + *pinned);
  const Sha256Digest th2 = transcript2(transcript1(hello_), hello_, r);
  if (!ed25519_verify(r.server_key, th2, r.signature))
    throw Error(Errc::trust, "handshake: the server's signature does not verify");
  ClientSession s{r.uuid, derive_session_key(x25519_shared(ephemeral_.secret, r.x25519), th2), r.expires,
                  r.server_key};
  state_ = State::finished;
  return s;
}

// ---- server ------------------------------------------------------------------------------------

ServerHandshake::ServerHandshake(const Ed25519KeyPair& identity, ServerPolicy policy, const Clock& clock,
                                 std::optional<X25519KeyPair> ephemeral, std::optional<Nonce> nonce)
    : identity_(identity),
      policy_(policy),
      clock_(clock),
      ephemeral_(ephemeral ? std::move(*ephemeral) : X25519KeyPair::generate()) {
  if (nonce) nonce_ = *nonce;
  else random_fill(nonce_);
}

void ServerHandshake::consume_hello(std::string_view json) {
  if (state_ != State::awaiting_hello) throw Error(Errc::internal, "handshake: hello already consumed");
  state_ = State::failed;
  hello_ = parse_client_hello(json);
  const std::int64_t now = clock_.now();
  if (hello_.time < now - policy_.max_skew || hello_.time > now + policy_.max_skew)
    throw Error(Errc::forbidden, "handshake: hello time outside the allowed window");
  RsaPublicKey key = RsaPublicKey::from_spki_der(hello_.rsa_spki);
  const int bits = key.bits();
  if (bits < policy_.min_rsa_bits || bits > policy_.max_rsa_bits)
    throw Error(Errc::bad_request, "handshake: RSA key size must be " + std::to_string(policy_.min_rsa_bits) + "-" +
                                       std::to_string(policy_.max_rsa_bits) + " bits");
  if (!key.has_exponent_65537()) throw Error(Errc::bad_request, "handshake: RSA public exponent must be 65537");
  th1_ = transcript1(hello_);
  if (!key.verify_pss_sha512(th1_, hello_.signature))
    throw Error(Errc::forbidden, "handshake: client signature does not verify");
  shared_ = x25519_shared(ephemeral_.secret, hello_.x25519);
  fingerprint_ = key.fingerprint();
  client_key_ = std::move(key);
  state_ = State::hello_verified;
}

ServerHandshake::Result ServerHandshake::create_reply(const Uuid& uuid) {
  if (state_ != State::hello_verified) throw Error(Errc::internal, "handshake: no verified hello");
  ServerReply r;
  r.uuid = uuid;
  r.x25519 = ephemeral_.public_key;
  r.nonce = nonce_;
  r.expires = clock_.now() + policy_.session_ttl;
  r.server_key = identity_.public_key();
  const Sha256Digest th2 = transcript2(th1_, hello_, r);
  r.signature = identity_.sign(th2);
  state_ = State::replied;
  return Result{to_json(r), derive_session_key(shared_, th2), r.expires};
}

}  // namespace mh::handshake
