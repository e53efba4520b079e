#include "auth/rate_limiter.hpp"

#include <algorithm>
#include <functional>

namespace mh::auth {

RateLimiter::RateLimiter(double rate_per_second, double burst, std::size_t max_addresses)
    : rate_(rate_per_second), burst_(burst), max_per_shard_(std::max<std::size_t>(1, max_addresses / 16)) {}

bool RateLimiter::allow(std::string_view address, double now) {
  Shard& s = shards_[std::hash<std::string_view>{}(address) % shards_.size()];
  std::lock_guard lock(s.mutex);
  auto it = s.buckets.find(std::string(address));
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= max_per_shard_) forget_idle(s, now);
    // Under a flood of distinct addresses keep refusing newcomers rather than growing.
    if (s.buckets.size() >= max_per_shard_) return false;
    it = s.buckets.emplace(std::string(address), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + (now - b.last) * rate_);
  b.last = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void RateLimiter::forget_idle(Shard& s, double now) {
  std::erase_if(s.buckets, [&](const auto& kv) { return kv.second.tokens + (now - kv.second.last) * rate_ >= burst_; });
}

}  // namespace mh::auth
