#pragma once
// The client registry in Redis, shared by every instance (docs/ARCHITECTURE.md §7 gives the key
// layout and TTLs). Registration is two atomic Lua scripts (check, then commit the session the
// handshake made for the UUID the check chose); a session is one sealed value under its keyid, so
// finding it is one GET. Each instance keeps what it found for at most one second, so an ended
// session (logout, kick, a newer handshake) is refused everywhere within a second; what requests
// teach an instance (last seen, first use) is written back by flush().
#include <memory>

#include "auth/registry.hpp"
#include "store/redis_client.hpp"
#include "store/sealed_value.hpp"

namespace mh::store {

struct RedisRegistryOptions {
  std::size_t capacity = 100000;  // identities, all instances together
  auth::RegistryLimits limits;
  std::int64_t retention = 3600;  // seconds an identity is kept after its session ended
};

std::unique_ptr<auth::ClientRegistry> make_redis_registry(RedisClient& redis, const ValueSealer& sealer,
                                                          RedisRegistryOptions options);

}  // namespace mh::store
