#pragma once
// Hand-made minihttps/2 hellos for tests that talk to the real server without the CLI
// (docs/PROTOCOL.md §2, §3): the server's published keys, checked as a client must; hellos from
// core/handshake as the CLI makes them; and crafted ones whose sealed identity is any JSON a test
// likes — anyone who knows the public static key can seal anything to it, so the server must judge
// what it opens. Header-only, so any test binary can use it.
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/fernet.hpp"
#include "core/handshake.hpp"
#include "core/rsa.hpp"
#include "core/x25519.hpp"
#include "net/http_client.hpp"
#include "support/test_support.hpp"

namespace mh::test {

inline std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }
inline std::string b64u_text(ByteView b) { return base64_encode(b, Alphabet::url, false); }
inline Bytes b64u_bytes(const std::string& s) { return base64_decode(s, Alphabet::url, Padding::forbidden); }

template <std::size_t N>
std::array<std::uint8_t, N> b64u_fixed(const std::string& s) {
  const Bytes b = b64u_bytes(s);
  if (b.size() != N) throw std::runtime_error("expected " + std::to_string(N) + " bytes: " + s);
  std::array<std::uint8_t, N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

// GET /.well-known/minihttps, parsed (std::runtime_error unless 200 with a JSON object).
inline nlohmann::json well_known(const std::string& url) {
  net::HttpClient http(net::ServerUrl::parse(url), std::chrono::seconds(10));
  const auto r = http.send(net::Request{"GET", "/.well-known/minihttps", {}, {}, {}, {}, false});
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object()) throw std::runtime_error("well-known: HTTP " + std::to_string(r.status));
  return j;
}

// The identity and static key the server publishes, the static key checked against the identity's
// signature as a client must before it seals anything to it.
inline handshake::ServerKeys server_keys(const std::string& url) {
  const auto doc = well_known(url);
  handshake::ServerKeys k;
  k.identity = b64u_fixed<32>(doc.at("public_key").get<std::string>());
  k.static_key = b64u_fixed<32>(doc.at("static_key").get<std::string>());
  handshake::verify_static_key(k.identity, k.static_key, b64u_bytes(doc.at("static_signature").get<std::string>()));
  return k;
}

// A hello as the CLI makes it, at `time` (default now).
inline handshake::ClientHandshake make_hello(const handshake::ServerKeys& keys, const RsaPrivateKey& k,
                                             const std::string& name, std::optional<Uuid> uuid = {},
                                             std::optional<std::int64_t> time = {}) {
  const FixedClock clock(time.value_or(unix_now()));
  return handshake::ClientHandshake::create(k, name, uuid, keys, clock);
}

// A hello built field by field: `identity` is what gets sealed (changed at will after sign()),
// `ephemeral` the key in the envelope and in the transcript.
struct CraftedHello {
  handshake::ServerKeys keys;  // sealed to these
  X25519KeyPair ephemeral = X25519KeyPair::generate();
  handshake::HelloIdentity identity;

  // TH1 over `keys` (or the keys of another server), as the RSA key signs it.
  Sha256Digest transcript(const std::optional<handshake::ServerKeys>& for_keys = {}) const {
    return handshake::transcript1(for_keys.value_or(keys), ephemeral.public_key, identity);
  }
  CraftedHello& sign(const RsaPrivateKey& k, const std::optional<handshake::ServerKeys>& for_keys = {}) {
    identity.signature = k.sign_pss_sha512(transcript(for_keys));
    return *this;
  }
  // The envelope with `identity_json` sealed under the hello key, exactly as a client seals.
  std::string seal(std::string_view identity_json) const {
    const Secret<32> es = x25519_shared(ephemeral.secret, keys.static_key);
    const FernetKey key = handshake::hello_key(es, handshake::hello_key_salt(keys, ephemeral.public_key));
    const std::string token = fernet_encrypt(key, as_bytes(identity_json), unix_now());
    return handshake::to_json(handshake::Envelope{ephemeral.public_key, token});
  }
  std::string json() const { return seal(handshake::to_json(identity)); }
};

// A crafted hello of `spki` with a made-up signature of `signature_bytes` bytes (not signed).
inline CraftedHello crafted_hello(const handshake::ServerKeys& keys, Bytes spki, const std::string& name,
                                  std::size_t signature_bytes = 256) {
  CraftedHello h;
  h.keys = keys;
  h.identity.name = name;
  random_fill(h.identity.nonce);
  h.identity.rsa_spki = std::move(spki);
  h.identity.time = unix_now();
  h.identity.signature = pattern_bytes(signature_bytes, 7);
  return h;
}

// ... and one properly signed by `k`.
inline CraftedHello crafted_hello(const handshake::ServerKeys& keys, const RsaPrivateKey& k, const std::string& name,
                                  std::optional<Uuid> uuid = {}) {
  CraftedHello h = crafted_hello(keys, k.public_key().spki_der(), name);
  h.identity.uuid = uuid;
  h.sign(k);
  return h;
}

// A client home holding `k` and the session a hand-made handshake gave (what SignedClient loads),
// so hand-made sessions can make sealed requests.
inline void write_home(const std::filesystem::path& home, const RsaPrivateKey& k, const handshake::ClientSession& s) {
  std::filesystem::create_directories(home / "sessions");
  write_file(home / "identity.pem", k.pem());
  write_file(home / "sessions" / "raw.json", nlohmann::json{{"version", 2},
                                                            {"uuid", s.uuid.to_string()},
                                                            {"keyid", b64u_text(s.keyid)},
                                                            {"secret", b64u_text(s.secret.bytes())},
                                                            {"expires", s.expires},
                                                            {"chunk_size", s.chunk_size}}
                                                 .dump());
}

}  // namespace mh::test
