#pragma once
// A token bucket in Redis: `rate` events per second with bursts up to `burst`, shared by every
// instance, so that several instances together allow what one would. One EVALSHA per event; the
// clock is Redis's own (TIME), so instances' clocks need not agree. An idle bucket expires once it
// would be full again. Redis unreachable throws Errc::unavailable.
#include <string>

#include "auth/rate_limiter.hpp"
#include "store/redis_client.hpp"

namespace mh::store {

class RedisLimiter final : public auth::Limiter {
 public:
  // prefix: e.g. "mh:hl:" (handshakes per address group) or "mh:hs:" (the whole server).
  RedisLimiter(RedisClient& redis, std::string prefix, double rate_per_second, double burst);
  bool allow(std::string_view key, double now) override;  // `now` unused: Redis keeps the time

 private:
  RedisClient& redis_;
  std::string prefix_;
  double rate_, burst_;
};

}  // namespace mh::store
