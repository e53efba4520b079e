#pragma once
// Remembers nonces for a bounded time and in bounded memory, so a signed request or a hello
// cannot be replayed while its timestamp is still acceptable.
//
// Each of 16 shards keeps two generations of 64-bit keyed hashes (SipHash with a per-process
// random key, so an attacker cannot aim for collisions); the older generation is dropped every
// `window` seconds, so an entry lives between window and 2*window seconds. Callers pick window
// >= the whole span a timestamp is accepted (2 * max skew).
#include <array>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_set>

#include "core/bytes.hpp"

namespace mh::auth {

class ReplayCache {
 public:
  enum class Verdict { fresh, replayed, full };

  ReplayCache(std::int64_t window_seconds, std::size_t max_entries);

  // Records the nonce (scoped by e.g. the key id) and says whether it was seen before.
  // `full` means the cache cannot remember more: the caller must refuse (503), not accept.
  Verdict check_and_insert(std::string_view scope, ByteView nonce, std::int64_t now);
  std::size_t size() const;

 private:
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_set<std::uint64_t> current, previous;
    std::int64_t generation_start = 0;
  };
  std::uint64_t hash(std::string_view scope, ByteView nonce) const noexcept;

  std::int64_t window_;
  std::size_t max_per_generation_;
  std::array<std::uint8_t, 16> hash_key_{};
  std::array<Shard, 16> shards_;
};

}  // namespace mh::auth
