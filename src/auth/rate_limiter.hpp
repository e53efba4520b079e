#pragma once
// Per-address token buckets: `rate` events per second with bursts up to `burst`. Memory is
// bounded: idle buckets (full again) are forgotten when a shard grows past its share.
#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mh::auth {

// Allows an event under a key (an address group, or "" for the whole server) or not: in this
// process (RateLimiter) or in the store every instance shares (store/redis_limiter.hpp).
class Limiter {
 public:
  virtual ~Limiter() = default;
  // now: seconds on a monotonic clock (an implementation with a clock of its own may ignore it).
  // True if the event is allowed (and counted).
  virtual bool allow(std::string_view key, double now) = 0;
};

class RateLimiter final : public Limiter {
 public:
  RateLimiter(double rate_per_second, double burst, std::size_t max_addresses = 65536);
  bool allow(std::string_view address, double now) override;

 private:
  struct Bucket {
    double tokens;
    double last;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
  };
  void forget_idle(Shard& s, double now);

  double rate_, burst_;
  std::size_t max_per_shard_;
  std::array<Shard, 16> shards_;
};

}  // namespace mh::auth
