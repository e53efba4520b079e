#include "auth/auth_service.hpp"

#include <nlohmann/json.hpp>

#include "auth/address_group.hpp"
#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/routes.hpp"
#include "core/seal.hpp"

namespace mh::auth {

AuthService::AuthService(const Ed25519KeyPair& identity, const X25519KeyPair& static_key, ClientRegistry& registry,
                         AuthConfig config, const Clock& clock)
    : identity_(identity),
      static_key_(static_key),
      registry_(registry),
      config_(std::move(config)),
      clock_(clock),
      // A hello is acceptable for 2 * max_skew seconds; remember its nonce at least that long.
      local_hello_nonces_(2 * config_.policy.max_skew + 1, config_.replay_capacity),
      local_limiter_(config_.handshakes_per_second, config_.handshake_burst),
      local_server_limiter_(config_.server_handshakes_per_second, config_.server_handshake_burst, 16),
      hello_nonces_(config_.shared_hello_nonces ? *config_.shared_hello_nonces : local_hello_nonces_),
      limiter_(config_.shared_handshake_limiter ? *config_.shared_handshake_limiter : local_limiter_),
      server_limiter_(config_.shared_server_handshake_limiter ? *config_.shared_server_handshake_limiter
                                                              : local_server_limiter_) {
  const auto b64u = [](ByteView b) { return base64_encode(b, Alphabet::url, false); };
  well_known_ =
      nlohmann::json{{"protocol", "minihttps/2"},
                     {"version", handshake::kVersion},
                     {"public_key", b64u(identity_.public_key())},
                     {"fingerprint", ed25519_fingerprint(identity_.public_key())},
                     {"handshake", std::string(routes::kHandshake)},
                     {"sealed", std::string(seal::kSealedPath)},
                     {"static_key", b64u(static_key_.public_key)},
                     {"static_signature", b64u(handshake::sign_static_key(identity_, static_key_.public_key))},
                     {"chunk_size", config_.policy.chunk_size}}
          .dump();
}

std::string AuthService::handshake(std::string_view body, const std::string& address) {
  const double mono = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  // The address's own budget first, so that one address's flood does not spend everyone's.
  if (!limiter_.allow(address_group(address), mono))
    throw Error(Errc::rate_limited, "too many handshakes from this address, slow down");
  if (!server_limiter_.allow("", mono))
    throw Error(Errc::unavailable, "handshake: too many handshakes on this server right now, try again shortly");

  handshake::ServerHandshake hs(identity_, static_key_, config_.policy, clock_);
  hs.consume_hello(body);
  const auto& hello = hs.identity();
  // Only after the signature verified: junk cannot fill the nonce cache.
  switch (hello_nonces_.check_and_insert("hello", hello.nonce, clock_.now())) {
    case NonceStore::Verdict::fresh: break;
    case NonceStore::Verdict::replayed: throw Error(Errc::forbidden, "handshake: hello replayed");
    case NonceStore::Verdict::full:
    case NonceStore::Verdict::scope_full: throw Error(Errc::unavailable, "handshake: server busy, try again later");
  }
  if (hello.time < hello_nonces_.vouches_from())
    throw Error(Errc::unavailable,
                "store: restarted; a hello made before it cannot be checked for replay, send a new one");
  if (config_.authorized && !config_.authorized->count(hs.client_fingerprint()))
    throw Error(Errc::forbidden,
                "handshake: this key is not authorized on this server (" + hs.client_fingerprint() + ")");
  if (config_.banned && config_.banned(hs.client_fingerprint()))
    throw Error(Errc::forbidden, "handshake: this key is banned on this server (" + hs.client_fingerprint() + ")");

  std::string reply;
  Registration reg{hello.name, hs.client_key(), hs.client_fingerprint(), hello.uuid, address, clock_.now(), hello.time};
  registry_.register_session(reg, [&](const Uuid& uuid) {
    auto result = hs.create_reply(uuid);
    reply = std::move(result.reply_json);
    return SessionGrant{std::move(result.secret), result.keyid, result.expires, config_.policy.chunk_size};
  });
  return reply;
}

}  // namespace mh::auth
