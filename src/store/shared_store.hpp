#pragma once
// What several minihttpsd instances share through Redis (--store redis://..., docs/ARCHITECTURE.md
// §7): the registry, the request and hello nonces and the handshake budgets, built on one
// RedisClient. The store is claimed by the first server identity that uses it (key mh:owner); an
// instance with another identity is refused, since it could open none of the sessions.
//
// Fail closed: every part throws Errc::unavailable (503) while Redis cannot be reached and
// recovers by itself. When Redis comes back from a snapshot (mh:owner survived a restart), nonces
// recorded after that snapshot may be gone, so requests made before the restart plus the allowed
// skew are refused (vouches_from) instead of checked. When it comes back empty, every session is
// gone with the nonces: nothing old can be replayed.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "auth/nonce_store.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/registry.hpp"
#include "core/ed25519.hpp"
#include "store/redis_client.hpp"
#include "store/redis_registry.hpp"
#include "store/sealed_value.hpp"

namespace mh::store {

struct SharedStoreOptions {
  RedisAddress address;
  std::chrono::milliseconds timeout{1000};
  std::size_t connections = 8;
  std::int64_t max_skew = 30;
  std::size_t replay_per_client = 0;
  RedisRegistryOptions registry;
  double handshakes_per_second = 10, handshake_burst = 20;
  double server_handshakes_per_second = 1000, server_handshake_burst = 2000;
  // Link state changes, restarts, the owner claimed: one line each (warn = true for trouble).
  std::function<void(bool warn, const std::string& line)> log;
};

class SharedStore {
 public:
  // Does not need Redis to be up: the first use connects. Throws Error(Errc::forbidden) at once if
  // Redis is reachable and belongs to another server identity.
  SharedStore(const Ed25519KeyPair& identity, SharedStoreOptions options);
  ~SharedStore();

  auth::ClientRegistry& registry() noexcept;
  auth::NonceStore& request_nonces() noexcept;
  auth::NonceStore& hello_nonces() noexcept;
  auth::Limiter& handshake_limiter() noexcept;         // per address group
  auth::Limiter& server_handshake_limiter() noexcept;  // the whole server
  RedisClient& redis() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mh::store
