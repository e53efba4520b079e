#pragma once
// The auth part of minihttpsd: the public server description and the handshake endpoint.
// HTTP-free: the router hands it request bodies and maps the mh::Error it throws to a status.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "auth/nonce_store.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/registry.hpp"
#include "auth/replay_cache.hpp"
#include "core/clock.hpp"
#include "core/ed25519.hpp"
#include "core/handshake.hpp"

namespace mh::auth {

struct AuthConfig {
  handshake::ServerPolicy policy;
  double handshakes_per_second = 10;  // per client address group (auth/address_group.hpp)
  double handshake_burst = 20;
  // All addresses together: what one attacker with many addresses can take, leaving the rest of
  // the CPU to requests.
  double server_handshakes_per_second = 1000;
  double server_handshake_burst = 2000;
  std::size_t replay_capacity = 1 << 20;
  std::optional<std::unordered_set<std::string>> authorized;  // key fingerprints, when restricted
  // The operator's bans (auth/bans.hpp: KEYS/banned, or the store): true refuses the key's handshakes with 403.
  std::function<bool(const std::string& fingerprint)> banned;
  // Where the hello nonces and the handshake budgets live when several instances share them
  // (--store redis, docs/ARCHITECTURE.md §7); null: in this process.
  NonceStore* shared_hello_nonces = nullptr;
  Limiter* shared_handshake_limiter = nullptr;         // per address group
  Limiter* shared_server_handshake_limiter = nullptr;  // the whole server
};

class AuthService {
 public:
  AuthService(const Ed25519KeyPair& identity, const X25519KeyPair& static_key, ClientRegistry& registry,
              AuthConfig config, const Clock& clock);

  // GET /.well-known/minihttps
  const std::string& well_known_json() const noexcept { return well_known_; }

  // POST /auth/handshake: the reply JSON, or mh::Error (400 malformed, 403 refused, 409 name
  // taken, 429 too many handshakes or identities from this address, 503 registry full or the
  // server-wide handshake budget spent).
  std::string handshake(std::string_view body, const std::string& address);

  const Ed25519KeyPair& identity() const noexcept { return identity_; }
  ClientRegistry& registry() noexcept { return registry_; }
  const AuthConfig& config() const noexcept { return config_; }

 private:
  const Ed25519KeyPair& identity_;
  const X25519KeyPair& static_key_;
  ClientRegistry& registry_;
  AuthConfig config_;
  const Clock& clock_;
  // This process's own, used unless AuthConfig names shared ones.
  ReplayCache local_hello_nonces_;
  RateLimiter local_limiter_;
  RateLimiter local_server_limiter_;
  NonceStore& hello_nonces_;
  Limiter& limiter_;         // per address group
  Limiter& server_limiter_;  // one bucket for everyone
  std::string well_known_;
};

}  // namespace mh::auth
