#pragma once
// The one-round-trip handshake (docs/PROTOCOL.md §3): wire messages, transcript hashes, and the
// client and server state machines. Pure: the caller supplies the clock, keys and, in tests,
// the ephemeral secrets; the HTTP layer only moves the JSON.
//
//   client                                   server
//   ClientHandshake::create  --hello-->      ServerHandshake::consume_hello
//                                            (registry assigns the UUID)
//   ClientHandshake::consume <--reply--      ServerHandshake::create_reply
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
#include "core/rsa.hpp"
#include "core/uuid.hpp"
#include "core/x25519.hpp"

namespace mh::handshake {

inline constexpr int kVersion = 1;
inline constexpr std::string_view kHelloLabel = "minihttps/1 client hello";
inline constexpr std::string_view kReplyLabel = "minihttps/1 server reply";
inline constexpr std::string_view kSessionKeyInfo = "minihttps/1 session key";
inline constexpr std::size_t kMaxMessageBytes = 16 * 1024;  // JSON of either message
inline constexpr std::size_t kMaxNameLength = 32;
inline constexpr std::size_t kMaxSpkiBytes = 1024;
inline constexpr std::size_t kMaxRsaSignatureBytes = 512;

using Nonce = std::array<std::uint8_t, 32>;

struct ClientHello {
  int version = kVersion;
  std::string name;
  X25519Public x25519{};
  Nonce nonce{};
  Bytes rsa_spki;
  std::optional<Uuid> uuid;  // reconnect: the UUID the client had
  std::int64_t time = 0;
  Bytes signature;  // RSA-PSS-SHA512 over TH1
};

struct ServerReply {
  int version = kVersion;
  Uuid uuid;
  X25519Public x25519{};
  Nonce nonce{};
  std::int64_t expires = 0;
  Ed25519Public server_key{};
  Ed25519Signature signature{};  // Ed25519 over TH2
};

// Names: 1..32 characters of [A-Za-z0-9._-], not starting with '.' or '-'.
bool valid_name(std::string_view name) noexcept;

// Canonical JSON of the messages (binary fields unpadded base64url) and strict parsers:
// unknown or missing fields, wrong types or lengths are Errc::bad_request with a short reason.
std::string to_json(const ClientHello& h);
std::string to_json(const ServerReply& r);
ClientHello parse_client_hello(std::string_view json);
ServerReply parse_server_reply(std::string_view json);

// Transcript hashes over the length-prefixed binary encoding of PROTOCOL.md §3.3: every field
// is a 4-byte big-endian length and its bytes; integers are 8-byte big-endian two's complement.
Bytes encode_transcript1(const ClientHello& h);
Bytes encode_transcript2(const Sha256Digest& th1, const ClientHello& h, const ServerReply& r);
Sha256Digest transcript1(const ClientHello& h);
Sha256Digest transcript2(const Sha256Digest& th1, const ClientHello& h, const ServerReply& r);
FernetKey derive_session_key(const Secret<32>& shared, const Sha256Digest& th2);

// What a successful handshake leaves the client with.
struct ClientSession {
  Uuid uuid;
  FernetKey key;
  std::int64_t expires = 0;
  Ed25519Public server_key{};
};

// Client side: create() makes the hello; consume() checks the reply and derives the session key.
class ClientHandshake {
 public:
  enum class State { hello_sent, finished, failed };

  // `ephemeral` and `nonce` are random unless a test fixes them.
  static ClientHandshake create(const RsaPrivateKey& identity, std::string name, std::optional<Uuid> uuid,
                                const Clock& clock, std::optional<X25519KeyPair> ephemeral = std::nullopt,
                                std::optional<Nonce> nonce = std::nullopt);

  const ClientHello& hello() const noexcept { return hello_; }
  std::string hello_json() const { return to_json(hello_); }
  State state() const noexcept { return state_; }

  // pinned: fingerprint of the server key the client trusts; nullopt = trust on first use (the
  // caller records the key). Errc::trust if the key is not the pinned one or its signature
  // fails, Errc::bad_request if the reply is malformed.
  ClientSession consume(std::string_view reply_json, const std::optional<std::string>& pinned_fingerprint);

 private:
  ClientHandshake(ClientHello h, X25519KeyPair e) : hello_(std::move(h)), ephemeral_(std::move(e)) {}
  ClientHello hello_;
  X25519KeyPair ephemeral_;
  State state_ = State::hello_sent;
};

struct ServerPolicy {
  std::int64_t max_skew = 60;       // |now - hello.time| allowed, seconds
  std::int64_t session_ttl = 3600;  // seconds
  int min_rsa_bits = kRsaMinBits;
  int max_rsa_bits = kRsaMaxBits;
};

// Server side: consume_hello() verifies the hello (format, time window, key size, signature) and
// computes the shared secret; the caller then checks replay and policy, lets the registry pick
// the UUID, and create_reply() signs the reply and derives the session key.
class ServerHandshake {
 public:
  enum class State { awaiting_hello, hello_verified, replied, failed };

  ServerHandshake(const Ed25519KeyPair& identity, ServerPolicy policy, const Clock& clock,
                  std::optional<X25519KeyPair> ephemeral = std::nullopt, std::optional<Nonce> nonce = std::nullopt);

  // Errc::bad_request (malformed, key size, small-order point) or Errc::forbidden (time window,
  // signature). Afterwards hello(), client_key() and client_fingerprint() are available.
  void consume_hello(std::string_view json);
  const ClientHello& hello() const noexcept { return hello_; }
  const RsaPublicKey& client_key() const { return *client_key_; }
  const std::string& client_fingerprint() const noexcept { return fingerprint_; }

  struct Result {
    std::string reply_json;
    FernetKey session_key;
    std::int64_t expires;
  };
  Result create_reply(const Uuid& uuid);
  State state() const noexcept { return state_; }

 private:
  const Ed25519KeyPair& identity_;
  ServerPolicy policy_;
  const Clock& clock_;
  X25519KeyPair ephemeral_;
  Nonce nonce_{};
  State state_ = State::awaiting_hello;
  ClientHello hello_;
  std::optional<RsaPublicKey> client_key_;
  std::string fingerprint_;
  Sha256Digest th1_{};
  Secret<32> shared_;
};

}  // namespace mh::handshake
