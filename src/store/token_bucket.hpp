#pragma once
// A token bucket in Redis, shared by every instance: the handshake limits (store/redis_limiter)
// and the chat budgets (store/redis_chat). The clock is Redis's own (TIME), so instances' clocks
// need not agree; an idle bucket expires once it would be full again.
#include <charconv>
#include <string>

#include "store/redis_client.hpp"

namespace mh::store {

// A token bucket (hash tokens last) on Redis's clock. KEYS: the bucket. ARGV: rate a second,
// burst. Replies the seconds until a token as text: "0" when one was taken.
inline const Script kTakeToken{R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens, last = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, last = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait, ttl = 0, 86400
if tokens >= 1 then tokens = tokens - 1
elseif rate > 0 then wait = (1 - tokens) / rate
else wait = 86400 end
if rate > 0 then ttl = math.ceil((burst - tokens) / rate) + 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('EXPIRE', KEYS[1], ttl)
return tostring(wait)
)lua"};

// A rate or burst as the script's ARGV: the shortest text that reads back as the same double.
inline std::string exact(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace mh::store
