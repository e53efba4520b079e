#include "core/handshake.hpp"

#include "core/error.hpp"
#include "core/fields.hpp"
#include "core/stream.hpp"
#include "core/strict_json.hpp"

namespace mh::handshake {
namespace {

using json = nlohmann::json;
const StrictJson kJson("handshake");

constexpr std::string_view kStaticKeyLabel = "minihttps/2 static key";
constexpr std::string_view kHelloKeyLabel = "minihttps/2 hello key";
constexpr std::string_view kHelloLabel = "minihttps/2 client hello";
constexpr std::string_view kReplyKeyLabel = "minihttps/2 reply key";
constexpr std::string_view kReplyLabel = "minihttps/2 server reply";
constexpr std::string_view kSessionLabel = "minihttps/2 session secret";

FernetKey hkdf_key(ByteView ikm, ByteView salt, std::string_view info) {
  const SecretBytes okm = hkdf_sha256(ikm, salt, as_bytes(info), 32);
  return FernetKey::from_bytes(okm.view());
}

// IKM = ee || es for the reply key and the session secret.
SecretBytes both(const Secret<32>& ee, const Secret<32>& es) {
  SecretBytes ikm(64);
  std::copy(ee.view().begin(), ee.view().end(), ikm.data());
  std::copy(es.view().begin(), es.view().end(), ikm.data() + 32);
  return ikm;
}

std::string seal(const FernetKey& key, std::string_view plaintext, std::int64_t now,
                 const std::optional<FernetIv>& iv) {
  return iv ? fernet_encrypt(key, as_bytes(plaintext), now, *iv) : fernet_encrypt(key, as_bytes(plaintext), now);
}

}  // namespace

bool valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxNameLength || name[0] == '.' || name[0] == '-') return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// ---- the static key ------------------------------------------------------------------------------

Bytes static_key_message(const X25519Public& static_key) {
  return FieldWriter(kStaticKeyLabel).field(static_key).take();
}

Ed25519Signature sign_static_key(const Ed25519KeyPair& identity, const X25519Public& static_key) {
  return identity.sign(static_key_message(static_key));
}

void verify_static_key(const Ed25519Public& identity, const X25519Public& static_key, ByteView signature) {
  if (!ed25519_verify(identity, static_key_message(static_key), signature))
    throw Error(Errc::trust, "handshake: the server's static key is not signed by its identity key");
}

// ---- messages ------------------------------------------------------------------------------------

std::string to_json(const Envelope& e) {
  return json{{"version", kVersion}, {"x25519", b64u(e.x25519)}, {"sealed", e.sealed}}.dump();
}

Envelope parse_envelope(std::string_view text) {
  const json j = kJson.parse_object(text, kMaxMessageBytes);
  // The version decides which fields to expect, so it is read first: a v1 hello is refused as such.
  const std::int64_t version = kJson.need_int(j, "version");
  if (version == 1)
    kJson.malformed("protocol version 1 is not supported; this server speaks minihttps/2 (update the client)");
  if (version != kVersion) kJson.malformed("unsupported protocol version");
  kJson.only_fields(j, {"version", "x25519", "sealed"});
  Envelope e;
  e.x25519 = kJson.need_fixed<32>(j, "x25519");
  e.sealed = kJson.need_string(j, "sealed", kMaxSealedChars);
  return e;
}

std::string to_json(const HelloIdentity& h) {
  json j = {{"name", h.name},
            {"nonce", b64u(h.nonce)},
            {"rsa_spki", b64u(h.rsa_spki)},
            {"time", h.time},
            {"signature", b64u(h.signature)}};
  if (h.uuid) j["uuid"] = h.uuid->to_string();
  return j.dump();
}

std::string to_json(const ReplyIdentity& r) {
  return json{{"uuid", r.uuid.to_string()}, {"keyid", b64u(r.keyid)},     {"expires", r.expires},
              {"nonce", b64u(r.nonce)},     {"chunk_size", r.chunk_size}, {"signature", b64u(r.signature)}}
      .dump();
}

HelloIdentity parse_hello_identity(std::string_view text) {
  const json j = kJson.parse_object(text, kMaxSealedChars);
  kJson.only_fields(j, {"name", "nonce", "rsa_spki", "uuid", "time", "signature"});
  HelloIdentity h;
  h.name = kJson.need_string(j, "name", 256);
  if (!valid_name(h.name)) kJson.malformed("name must be 1-32 characters of A-Z a-z 0-9 . _ -");
  h.nonce = kJson.need_fixed<32>(j, "nonce");
  h.rsa_spki = kJson.need_b64u(j, "rsa_spki", 1, kMaxSpkiBytes);
  h.uuid = kJson.maybe_uuid(j, "uuid");
  h.time = kJson.need_int(j, "time");
  h.signature = kJson.need_b64u(j, "signature", 1, kMaxRsaSignatureBytes);
  return h;
}

ReplyIdentity parse_reply_identity(std::string_view text) {
  const json j = kJson.parse_object(text, kMaxSealedChars);
  kJson.only_fields(j, {"uuid", "keyid", "expires", "nonce", "chunk_size", "signature"});
  ReplyIdentity r;
  r.uuid = kJson.need_uuid(j, "uuid");
  r.keyid = kJson.need_fixed<16>(j, "keyid");
  r.expires = kJson.need_int(j, "expires");
  r.nonce = kJson.need_fixed<32>(j, "nonce");
  const std::int64_t c = kJson.need_int(j, "chunk_size");
  if (c < 0 || !stream::valid_chunk_size(static_cast<std::uint64_t>(c)))
    kJson.malformed("chunk_size must be a power of two from 4096 to 4194304");
  r.chunk_size = static_cast<std::uint32_t>(c);
  r.signature = kJson.need_fixed<64>(j, "signature");
  return r;
}

// ---- transcripts and keys ------------------------------------------------------------------------

Sha256Digest hello_key_salt(const ServerKeys& server, const X25519Public& client_ephemeral) {
  return sha256(
      FieldWriter(kHelloKeyLabel).field(server.identity).field(server.static_key).field(client_ephemeral).bytes());
}

FernetKey hello_key(const Secret<32>& es, const Sha256Digest& h0) { return hkdf_key(es.view(), h0, kHelloKeyLabel); }

Bytes encode_transcript1(const ServerKeys& server, const X25519Public& client_ephemeral, const HelloIdentity& h) {
  FieldWriter t(kHelloLabel);
  t.integer(kVersion).field(server.identity).field(server.static_key).field(client_ephemeral);
  t.field(h.name).field(h.nonce).field(h.rsa_spki);
  t.field(h.uuid ? ByteView(h.uuid->bytes) : ByteView{});
  return t.integer(h.time).take();
}

Sha256Digest transcript1(const ServerKeys& server, const X25519Public& client_ephemeral, const HelloIdentity& h) {
  return sha256(encode_transcript1(server, client_ephemeral, h));
}

FernetKey reply_key(const Secret<32>& ee, const Secret<32>& es, const Sha256Digest& th1) {
  return hkdf_key(both(ee, es).view(), th1, kReplyKeyLabel);
}

Bytes encode_transcript2(const Sha256Digest& th1, ByteView client_signature, const X25519Public& server_ephemeral,
                         const ReplyIdentity& r) {
  return FieldWriter(kReplyLabel)
      .field(th1)
      .field(client_signature)
      .field(server_ephemeral)
      .field(r.uuid.bytes)
      .field(r.keyid)
      .integer(r.expires)
      .field(r.nonce)
      .integer(r.chunk_size)
      .take();
}

Sha256Digest transcript2(const Sha256Digest& th1, ByteView client_signature, const X25519Public& server_ephemeral,
                         const ReplyIdentity& r) {
  return sha256(encode_transcript2(th1, client_signature, server_ephemeral, r));
}

SessionSecret session_secret(const Secret<32>& ee, const Secret<32>& es, const Sha256Digest& th2) {
  const SecretBytes okm = hkdf_sha256(both(ee, es).view(), th2, as_bytes(kSessionLabel), 32);
  return SessionSecret(okm.view());
}

// ---- client --------------------------------------------------------------------------------------

ClientHandshake ClientHandshake::create(const RsaPrivateKey& rsa, std::string name, std::optional<Uuid> uuid,
                                        const ServerKeys& server, const Clock& clock, ClientRandom random) {
  if (!valid_name(name)) throw Error(Errc::bad_request, "name must be 1-32 characters of A-Z a-z 0-9 . _ -");
  ClientHandshake c;
  c.server_ = server;
  c.ephemeral_ = random.ephemeral ? std::move(*random.ephemeral) : X25519KeyPair::generate();
  // A static key of small order would give no secrecy to the identity: refuse it like any peer key.
  c.es_ = x25519_shared(c.ephemeral_.secret, server.static_key);
  HelloIdentity& h = c.identity_;
  h.name = std::move(name);
  if (random.nonce)
    h.nonce = *random.nonce;
  else
    random_fill(h.nonce);
  h.rsa_spki = rsa.public_key().spki_der();
  h.uuid = uuid;
  h.time = clock.now();
  c.th1_ = transcript1(server, c.ephemeral_.public_key, h);
  h.signature = rsa.sign_pss_sha512(c.th1_);
  c.envelope_.x25519 = c.ephemeral_.public_key;
  c.envelope_.sealed =
      seal(hello_key(c.es_, hello_key_salt(server, c.ephemeral_.public_key)), to_json(h), clock.now(), random.iv);
  return c;
}

ClientSession ClientHandshake::consume(std::string_view reply_json) {
  if (consumed_) throw Error(Errc::internal, "handshake: reply already consumed");
  consumed_ = true;
  const Envelope e = parse_envelope(reply_json);
  const Secret<32> ee = x25519_shared(ephemeral_.secret, e.x25519);
  Bytes plain;
  try {
    plain = fernet_decrypt(reply_key(ee, es_, th1_), e.sealed, 0);
  } catch (const FernetError&) {
    throw Error(Errc::trust, "handshake: the reply does not open: not the server holding the static key");
  }
  const ReplyIdentity r = parse_reply_identity(as_chars(plain));
  const Sha256Digest th2 = transcript2(th1_, identity_.signature, e.x25519, r);
  if (!ed25519_verify(server_.identity, th2, r.signature))
    throw Error(Errc::trust, "handshake: the server's signature does not verify");
  return ClientSession{r.keyid, r.uuid, session_secret(ee, es_, th2), r.expires, r.chunk_size};
}

// ---- server --------------------------------------------------------------------------------------

ServerHandshake::ServerHandshake(const Ed25519KeyPair& identity, const X25519KeyPair& static_key, ServerPolicy policy,
                                 const Clock& clock, ServerRandom random)
    : identity_key_(identity), static_key_(static_key), policy_(policy), clock_(clock), random_(std::move(random)) {
  if (!stream::valid_chunk_size(policy_.chunk_size)) throw Error(Errc::internal, "handshake: invalid chunk size");
  ephemeral_ = random_.ephemeral ? std::move(*random_.ephemeral) : X25519KeyPair::generate();
}

void ServerHandshake::consume_hello(std::string_view text) {
  if (state_ != State::awaiting_hello) throw Error(Errc::internal, "handshake: hello already consumed");
  state_ = State::failed;
  const Envelope e = parse_envelope(text);
  client_ephemeral_ = e.x25519;
  try {
    es_ = x25519_shared(static_key_.secret, e.x25519);
  } catch (const Error&) { throw Error(Errc::bad_request, "handshake: small-order X25519 key"); }
  const ServerKeys mine{identity_key_.public_key(), static_key_.public_key};
  Bytes plain;
  try {
    plain = fernet_decrypt(hello_key(es_, hello_key_salt(mine, e.x25519)), e.sealed, 0);
  } catch (const FernetError&) {
    throw Error(Errc::bad_request,
                "handshake: the hello is not sealed to this server's static key (fetch /.well-known/minihttps again)");
  }
  identity_ = parse_hello_identity(as_chars(plain));
  const std::int64_t now = clock_.now();
  if (identity_.time < now - policy_.max_skew || identity_.time > now + policy_.max_skew)
    throw Error(Errc::forbidden, "handshake: hello time outside the allowed window");
  RsaPublicKey key = RsaPublicKey::from_spki_der(identity_.rsa_spki);
  const int bits = key.bits();
  if (bits < policy_.min_rsa_bits || bits > policy_.max_rsa_bits)
    throw Error(Errc::bad_request, "handshake: RSA key size must be " + std::to_string(policy_.min_rsa_bits) + "-" +
                                       std::to_string(policy_.max_rsa_bits) + " bits");
  if (!key.has_exponent_65537()) throw Error(Errc::bad_request, "handshake: RSA public exponent must be 65537");
  th1_ = transcript1(mine, e.x25519, identity_);
  if (!key.verify_pss_sha512(th1_, identity_.signature))
    throw Error(Errc::forbidden, "handshake: client signature does not verify");
  fingerprint_ = key.fingerprint();
  client_key_ = std::move(key);
  state_ = State::hello_verified;
}

ServerHandshake::Result ServerHandshake::create_reply(const Uuid& uuid) {
  if (state_ != State::hello_verified) throw Error(Errc::internal, "handshake: no verified hello");
  state_ = State::failed;
  const Secret<32> ee = x25519_shared(ephemeral_.secret, client_ephemeral_);
  ReplyIdentity r;
  r.uuid = uuid;
  if (random_.keyid)
    r.keyid = *random_.keyid;
  else
    random_fill(r.keyid);
  r.expires = clock_.now() + policy_.session_ttl;
  if (random_.nonce)
    r.nonce = *random_.nonce;
  else
    random_fill(r.nonce);
  r.chunk_size = policy_.chunk_size;
  const Sha256Digest th2 = transcript2(th1_, identity_.signature, ephemeral_.public_key, r);
  r.signature = identity_key_.sign(th2);
  const Envelope e{ephemeral_.public_key, seal(reply_key(ee, es_, th1_), to_json(r), clock_.now(), random_.iv)};
  state_ = State::replied;
  return Result{to_json(e), r.keyid, session_secret(ee, es_, th2), r.expires};
}

}  // namespace mh::handshake
