#include "web/client_buckets.hpp"

#include <algorithm>
#include <utility>

namespace mh::web {

ClientBuckets::ClientBuckets(double rate_per_second, double burst, std::function<bool(const Uuid&)> registered,
                             std::size_t min_prune)
    : rate_(rate_per_second),
      burst_(burst),
      registered_(std::move(registered)),
      min_prune_(std::max<std::size_t>(1, min_prune)),
      prune_at_(min_prune_) {}

// The tokens at `now`: refilled at rate_ since b.last, never beyond the burst. A clock that goes
// backwards refills nothing.
double ClientBuckets::level(const Bucket& b, double now) const noexcept {
  return std::min(burst_, b.tokens + std::max(0.0, now - b.last) * rate_);
}

bool ClientBuckets::take(const Uuid& client, double now) {
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= prune_at_) {
      prune(now);
      // Next prune when the map has doubled again: a full scan costs O(1) per new client.
      prune_at_ = std::max(min_prune_, 2 * buckets_.size());
    }
    it = buckets_.emplace(client, Bucket{burst_, now}).first;  // a new client starts full
  }
  Bucket& b = it->second;
  b.tokens = level(b, now);
  b.last = std::max(b.last, now);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

double ClientBuckets::wait(const Uuid& client, double now) const {
  const auto it = buckets_.find(client);
  if (it == buckets_.end()) return 0;
  const double tokens = level(it->second, now);
  return tokens >= 1.0 ? 0.0 : (1.0 - tokens) / rate_;
}

std::size_t ClientBuckets::prune(double now) {
  return std::erase_if(buckets_, [&](const auto& kv) {
    return level(kv.second, now) >= burst_ || (registered_ && !registered_(kv.first));
  });
}

}  // namespace mh::web
