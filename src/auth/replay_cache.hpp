#pragma once
// Remembers nonces for a bounded time and in bounded memory, so a signed request or a hello
// cannot be replayed while its timestamp is still acceptable.
//
// Each of 16 shards keeps two generations of 64-bit keyed hashes (SipHash with a per-process
// random key, so an attacker cannot aim for collisions). Generations are aligned on multiples of
// `window` seconds of the clock, and the older one is dropped when a new one starts, so an entry
// lives at least `window` and less than 2*window seconds. Callers pick window >= the whole span a
// timestamp is accepted (2 * max skew).
//
// A scope (a client) may hold at most max_per_scope live entries, counted exactly per generation,
// so that one client cannot fill the cache that every client shares: past its share it is
// refused (`scope_full`) and nobody else is.
#include <array>
#include <climits>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "auth/nonce_store.hpp"
#include "core/bytes.hpp"

namespace mh::auth {

class ReplayCache final : public NonceStore {
 public:
  // max_per_scope 0: no limit per scope.
  ReplayCache(std::int64_t window_seconds, std::size_t max_entries, std::size_t max_per_scope = 0);

  Verdict check_and_insert(std::string_view scope, ByteView nonce, std::int64_t now) override;
  std::size_t size() const;

 private:
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_set<std::uint64_t> current, previous;
    std::int64_t generation = INT64_MIN;
  };
  // Live entries per scope (by the scope's hash), in the same generations as the shards.
  struct ScopeShard {
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::uint32_t> current, previous;
    std::int64_t generation = INT64_MIN;
  };
  std::uint64_t hash(std::string_view scope, ByteView nonce) const noexcept;
  bool take_scope_share(std::string_view scope, std::int64_t generation);

  std::int64_t window_;
  std::size_t max_per_generation_;
  std::size_t max_per_scope_;
  std::array<std::uint8_t, 16> hash_key_{};
  std::array<Shard, 16> shards_;
  std::array<ScopeShard, 16> scopes_;
};

}  // namespace mh::auth
