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

class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst, std::size_t max_addresses = 65536);
  // now: seconds on a monotonic clock. True if the event is allowed (and counted).
  bool allow(std::string_view address, double now);

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
