#include "store/redis_limiter.hpp"

#include "core/error.hpp"
#include "store/token_bucket.hpp"

namespace mh::store {
RedisLimiter::RedisLimiter(RedisClient& redis, std::string prefix, double rate_per_second, double burst)
    : redis_(redis), prefix_(std::move(prefix)), rate_(rate_per_second), burst_(burst) {}

bool RedisLimiter::allow(std::string_view key, double) {
  const Reply r = redis_.eval(kTakeToken, {prefix_ + std::string(key)}, {exact(rate_), exact(burst_)});
  if (r.type != Reply::Type::string) throw Error(Errc::unavailable, "store: rate limit check failed: " + r.str);
  return r.str == "0";
}

}  // namespace mh::store
