#pragma once
// The minihttps/2 handshake (docs/PROTOCOL.md §3): one round trip in which the client's
// identity (name, RSA key, UUID, signature) travels sealed to the server's static X25519 key, as
// in Noise IK, and the reply (UUID, keyid, expiry, chunk size, the server's Ed25519 signature)
// travels sealed under a key only the two ends can compute. Pure: the caller supplies the clock
// and, in tests, every random value.
//
//   client                                         server
//   ClientHandshake::create  --{x25519, sealed}-->  ServerHandshake::consume_hello
//                                                   (replay, registry: the caller)
//   ClientHandshake::consume <--{x25519, sealed}--  ServerHandshake::create_reply

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/ed25519.hpp"
#include "core/fernet.hpp"
#include "core/hash.hpp"
#include "core/key_schedule.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"
#include "core/x25519.hpp"

namespace mh::handshake {

inline constexpr int kVersion = 2;
inline constexpr std::size_t kMaxMessageBytes = 16 * 1024;  // JSON of either message
inline constexpr std::size_t kMaxSealedChars = 8192;        // the token inside either message
inline constexpr std::size_t kMaxSpkiBytes = 1024;
inline constexpr std::size_t kMaxRsaSignatureBytes = 512;

inline constexpr std::size_t kMaxNameLength = 32;

using Nonce = std::array<std::uint8_t, 32>;

// Names (and chat rooms): 1..32 characters of [A-Za-z0-9._-], not starting with '.' or '-'.
bool valid_name(std::string_view name) noexcept;

// What a client must know of the server before its hello: the pinned identity key and the static
// key that identity vouched for.
struct ServerKeys {
  Ed25519Public identity{};
  X25519Public static_key{};
};

// static signature = Ed25519(identity, F("minihttps/2 static key") || F(static public)).
Bytes static_key_message(const X25519Public& static_key);
Ed25519Signature sign_static_key(const Ed25519KeyPair& identity, const X25519Public& static_key);
// Errc::trust when the signature does not verify with the pinned identity key.
void verify_static_key(const Ed25519Public& identity, const X25519Public& static_key, ByteView signature);

// The sealed part of the hello.
struct HelloIdentity {
  std::string name;
  Nonce nonce{};
  Bytes rsa_spki;
  std::optional<Uuid> uuid;  // reconnect: the UUID the client had
  std::int64_t time = 0;
  Bytes signature;  // RSA-PSS-SHA512 over TH1
};

// The sealed part of the reply.
struct ReplyIdentity {
  Uuid uuid;
  KeyId keyid{};
  std::int64_t expires = 0;
  Nonce nonce{};
  std::uint32_t chunk_size = 0;
  Ed25519Signature signature{};  // Ed25519 over TH2
};

// The outer message, either direction: {"sealed": token, "version": 2, "x25519": key}.
struct Envelope {
  X25519Public x25519{};
  std::string sealed;
};

std::string to_json(const Envelope& e);
// Errc::bad_request; a version-1 message gets its own reason (PROTOCOL.md §3.8).
Envelope parse_envelope(std::string_view json);
std::string to_json(const HelloIdentity& h);
std::string to_json(const ReplyIdentity& r);
HelloIdentity parse_hello_identity(std::string_view json);
ReplyIdentity parse_reply_identity(std::string_view json);

// H0 and the hello key; TH1; the reply key; TH2; the session secret (§3.1-§3.4).
Sha256Digest hello_key_salt(const ServerKeys& server, const X25519Public& client_ephemeral);
FernetKey hello_key(const Secret<32>& es, const Sha256Digest& h0);
Bytes encode_transcript1(const ServerKeys& server, const X25519Public& client_ephemeral, const HelloIdentity& h);
Sha256Digest transcript1(const ServerKeys& server, const X25519Public& client_ephemeral, const HelloIdentity& h);
FernetKey reply_key(const Secret<32>& ee, const Secret<32>& es, const Sha256Digest& th1);
Bytes encode_transcript2(const Sha256Digest& th1, ByteView client_signature, const X25519Public& server_ephemeral,
                         const ReplyIdentity& r);
Sha256Digest transcript2(const Sha256Digest& th1, ByteView client_signature, const X25519Public& server_ephemeral,
                         const ReplyIdentity& r);
SessionSecret session_secret(const Secret<32>& ee, const Secret<32>& es, const Sha256Digest& th2);

// What a successful handshake leaves the client with.
struct ClientSession {
  KeyId keyid{};
  Uuid uuid;
  SessionSecret secret;
  std::int64_t expires = 0;
  std::uint32_t chunk_size = 0;
};

// Fixed values for tests and the worked example; random when absent.
struct ClientRandom {
  std::optional<X25519KeyPair> ephemeral{};
  std::optional<Nonce> nonce{};
  std::optional<FernetIv> iv{};
};

class ClientHandshake {
 public:
  // `server` must already be checked: identity pinned, static key verified (verify_static_key).
  static ClientHandshake create(const RsaPrivateKey& rsa, std::string name, std::optional<Uuid> uuid,
                                const ServerKeys& server, const Clock& clock, ClientRandom random = {});

  std::string hello_json() const { return to_json(envelope_); }
  const HelloIdentity& identity() const noexcept { return identity_; }

  // Errc::trust when the reply does not open or its signature does not verify with the pinned
  // key; Errc::bad_request when it is malformed. May be called once.
  ClientSession consume(std::string_view reply_json);

 private:
  ClientHandshake() = default;
  ServerKeys server_;
  X25519KeyPair ephemeral_;
  Secret<32> es_;
  HelloIdentity identity_;
  Envelope envelope_;
  Sha256Digest th1_{};
  bool consumed_ = false;
};

struct ServerPolicy {
  std::int64_t max_skew = 60;       // |now - time| allowed, seconds
  std::int64_t session_ttl = 3600;  // seconds
  std::uint32_t chunk_size = 262144;
  int min_rsa_bits = kRsaMinBits;
  int max_rsa_bits = kRsaMaxBits;
};

struct ServerRandom {
  std::optional<X25519KeyPair> ephemeral{};
  std::optional<Nonce> nonce{};
  std::optional<KeyId> keyid{};
  std::optional<FernetIv> iv{};
};

// consume_hello() performs checks 2-8 of §3.2 (envelope, small order, opening, identity JSON,
// time, RSA key, signature); the caller then checks the nonce for replay, the authorized keys and
// the registry, and create_reply() seals the reply and derives the session secret.
class ServerHandshake {
 public:
  ServerHandshake(const Ed25519KeyPair& identity, const X25519KeyPair& static_key, ServerPolicy policy,
                  const Clock& clock, ServerRandom random = {});

  void consume_hello(std::string_view json);
  const HelloIdentity& identity() const noexcept { return identity_; }
  const RsaPublicKey& client_key() const { return *client_key_; }
  const std::string& client_fingerprint() const noexcept { return fingerprint_; }

  struct Result {
    std::string reply_json;
    KeyId keyid{};
    SessionSecret secret;
    std::int64_t expires = 0;
  };
  Result create_reply(const Uuid& uuid);

 private:
  enum class State { awaiting_hello, hello_verified, replied, failed };
  const Ed25519KeyPair& identity_key_;
  const X25519KeyPair& static_key_;
  ServerPolicy policy_;
  const Clock& clock_;
  ServerRandom random_;
  X25519KeyPair ephemeral_;
  State state_ = State::awaiting_hello;
  X25519Public client_ephemeral_{};
  HelloIdentity identity_;
  std::optional<RsaPublicKey> client_key_;
  std::string fingerprint_;
  Sha256Digest th1_{};
  Secret<32> es_;
};

}  // namespace mh::handshake
