#include "store/redis_limiter.hpp"

#include <cmath>
#include <cstdio>

#include "core/error.hpp"

namespace mh::store {
namespace {

// KEYS[1] the bucket (a hash: tokens, last). ARGV[1] rate per second, ARGV[2] burst.
// Returns 1 if allowed (a token taken), 0 if not.
const Script kTake{R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens, last = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, last = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1)
return allowed
)lua"};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

RedisLimiter::RedisLimiter(RedisClient& redis, std::string prefix, double rate_per_second, double burst)
    : redis_(redis), prefix_(std::move(prefix)), rate_(rate_per_second), burst_(burst) {}

bool RedisLimiter::allow(std::string_view key, double) {
  const Reply r = redis_.eval(kTake, {prefix_ + std::string(key)}, {number(rate_), number(burst_)});
  if (r.type != Reply::Type::integer) throw Error(Errc::unavailable, "store: rate limit check failed: " + r.str);
  return r.integer == 1;
}

}  // namespace mh::store
