#pragma once
// Nonces remembered in Redis, so that a request or a hello seen by one instance is refused by
// every other: one EVALSHA per check (one round trip). The nonce is kept with SET NX under a TTL of
// `window` seconds (the whole span a timestamp is accepted); the per-scope share is counted per
// `window`-aligned generation, as ReplayCache counts it. Redis out of memory answers `full`; Redis
// unreachable throws Errc::unavailable (never `fresh`).
#include <string>

#include "auth/nonce_store.hpp"
#include "store/redis_client.hpp"

namespace mh::store {

class RedisNonceStore final : public auth::NonceStore {
 public:
  // prefix: e.g. "mh:rn:" (requests) or "mh:hn:" (hellos). max_per_scope 0: no share per scope.
  RedisNonceStore(RedisClient& redis, std::string prefix, std::int64_t window_seconds, std::size_t max_per_scope = 0);
  Verdict check_and_insert(std::string_view scope, ByteView nonce, std::int64_t now) override;

 private:
  RedisClient& redis_;
  std::string prefix_;
  std::int64_t window_;
  std::size_t max_per_scope_;
};

}  // namespace mh::store
