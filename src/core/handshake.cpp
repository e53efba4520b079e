#include "core/handshake.hpp"

#include <nlohmann/json.hpp>

#include <climits>
#include <cstdint>

#include "core/base64.hpp"
#include "core/error.hpp"

namespace mh::handshake {
namespace {

using json = nlohmann::json;

[[noreturn]] void malformed(const std::string& why) { throw Error(Errc::bad_request, "handshake: " + why); }

// ---- canonical binary encoding: every field is u32be(length) || bytes ----------------------------
class Transcript {
 public:
  explicit Transcript(std::string_view label) { field(as_bytes(label)); }
  Transcript& field(ByteView b) {
    const auto n = static_cast<std::uint32_t>(b.size());
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(n >> shift));
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  Transcript& integer(std::int64_t v) {
    std::uint8_t be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (56 - 8 * i));
    return field(be);
  }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

std::string b64(ByteView b) { return base64_encode(b, Alphabet::url, false); }

// ---- strict JSON field access ------------------------------------------------------------------
void only_fields(const json& j, std::initializer_list<const char*> allowed) {
  for (const auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) malformed("unknown field '" + k + "'");
  }
}

const json& need(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) malformed(std::string("missing field '") + name + "'");
  return *it;
}

std::int64_t need_int(const json& j, const char* name) {
  const json& v = need(j, name);
  if (!v.is_number_integer()) malformed(std::string("field '") + name + "' must be an integer");
  // JSON integers above INT64_MAX arrive as unsigned: refuse them rather than let them wrap.
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    malformed(std::string("field '") + name + "' is out of range");
  return v.get<std::int64_t>();
}

std::string need_string(const json& j, const char* name, std::size_t max_len) {
  const json& v = need(j, name);
  if (!v.is_string()) malformed(std::string("field '") + name + "' must be a string");
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max_len) malformed(std::string("field '") + name + "' too long");
  return s;
}

Bytes need_b64(const json& j, const char* name, std::size_t min_len, std::size_t max_len) {
  const std::string s = need_string(j, name, (max_len + 2) / 3 * 4);
  Bytes b;
  try {
    b = base64_decode(s, Alphabet::url, Padding::forbidden);
  } catch (const Error&) {
    malformed(std::string("field '") + name + "' is not unpadded base64url");
  }
  if (b.size() < min_len || b.size() > max_len) {
    malformed(std::string("field '") + name + "' has the wrong length");
  }
  return b;
}

template <std::size_t N>
std::array<std::uint8_t, N> need_fixed(const json& j, const char* name) {
  const Bytes b = need_b64(j, name, N, N);
  std::array<std::uint8_t, N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

Uuid need_uuid(const json& j, const char* name) {
  const auto u = Uuid::parse(need_string(j, name, 36));
  if (!u) malformed(std::string("field '") + name + "' is not a UUID");
  return *u;
}

json parse_object(std::string_view text) {
  if (text.size() > kMaxMessageBytes) malformed("message too large");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) malformed("message is not a JSON object");
  return j;
}

void check_version(const json& j) {
  if (need_int(j, "version") != kVersion) malformed("unsupported protocol version");
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
  json j = {{"version", h.version}, {"name", h.name},           {"x25519", b64(h.x25519)},
            {"nonce", b64(h.nonce)}, {"rsa_spki", b64(h.rsa_spki)}, {"time", h.time},
            {"signature", b64(h.signature)}};
  if (h.uuid) j["uuid"] = h.uuid->to_string();
  return j.dump();
}

std::string to_json(const ServerReply& r) {
  const json j = {{"version", r.version},       {"uuid", r.uuid.to_string()},
                  {"x25519", b64(r.x25519)},    {"nonce", b64(r.nonce)},
                  {"expires", r.expires},       {"server_key", b64(r.server_key)},
                  {"signature", b64(r.signature)}};
  return j.dump();
}

ClientHello parse_client_hello(std::string_view text) {
  const json j = parse_object(text);
  only_fields(j, {"version", "name", "x25519", "nonce", "rsa_spki", "uuid", "time", "signature"});
  check_version(j);
  ClientHello h;
  h.name = need_string(j, "name", 256);
  if (!valid_name(h.name)) malformed("name must be 1-32 characters of A-Z a-z 0-9 . _ -");
  h.x25519 = need_fixed<32>(j, "x25519");
  h.nonce = need_fixed<32>(j, "nonce");
  h.rsa_spki = need_b64(j, "rsa_spki", 1, kMaxSpkiBytes);
  if (j.contains("uuid") && !j["uuid"].is_null()) h.uuid = need_uuid(j, "uuid");
  h.time = need_int(j, "time");
  h.signature = need_b64(j, "signature", 1, kMaxRsaSignatureBytes);
  return h;
}

ServerReply parse_server_reply(std::string_view text) {
  const json j = parse_object(text);
  only_fields(j, {"version", "uuid", "x25519", "nonce", "expires", "server_key", "signature"});
  check_version(j);
  ServerReply r;
  r.uuid = need_uuid(j, "uuid");
  r.x25519 = need_fixed<32>(j, "x25519");
  r.nonce = need_fixed<32>(j, "nonce");
  r.expires = need_int(j, "expires");
  r.server_key = need_fixed<32>(j, "server_key");
  r.signature = need_fixed<64>(j, "signature");
  return r;
}

// ---- transcripts -------------------------------------------------------------------------------

Bytes encode_transcript1(const ClientHello& h) {
  Transcript t(kHelloLabel);
  t.integer(h.version).field(as_bytes(h.name)).field(h.x25519).field(h.nonce).field(h.rsa_spki);
  if (h.uuid) t.field(h.uuid->bytes);
  else t.field({});
  return t.integer(h.time).take();
}

Bytes encode_transcript2(const Sha256Digest& th1, const ClientHello& h, const ServerReply& r) {
  return Transcript(kReplyLabel)
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
