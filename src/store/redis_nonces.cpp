#include "store/redis_nonces.hpp"

#include "core/error.hpp"

namespace mh::store {
namespace {

// KEYS[1] the nonce, KEYS[2] the scope's count in this generation.
// ARGV[1] window seconds, ARGV[2] the scope's share (0: none).
// Returns 0 fresh, 1 replayed, 3 scope full. The count is taken only for a fresh nonce.
const Script kCheckAndInsert{R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local share = tonumber(ARGV[2])
if share > 0 then
  local n = redis.call('INCR', KEYS[2])
  if n == 1 then redis.call('EXPIRE', KEYS[2], 2 * tonumber(ARGV[1])) end
  if n > share then return 3 end
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return 0
)lua"};

}  // namespace

RedisNonceStore::RedisNonceStore(RedisClient& redis, std::string prefix, std::int64_t window_seconds,
                                 std::size_t max_per_scope)
    : redis_(redis), prefix_(std::move(prefix)), window_(window_seconds), max_per_scope_(max_per_scope) {}

auth::NonceStore::Verdict RedisNonceStore::check_and_insert(std::string_view scope, ByteView nonce, std::int64_t now) {
  const std::string s = to_hex(as_bytes(scope));
  const std::string generation = std::to_string(now / window_);
  const Reply r = redis_.eval(
      kCheckAndInsert, {prefix_ + s + ":" + std::string(as_chars(nonce)), prefix_ + "count:" + s + ":" + generation},
      {std::to_string(window_), std::to_string(max_per_scope_)});
  if (r.is_error()) {
    // maxmemory reached: the store cannot remember more, so nothing new may be accepted.
    if (r.str.rfind("OOM", 0) == 0) return Verdict::full;
    throw Error(Errc::unavailable, "store: nonce check failed: " + r.str);
  }
  if (r.type != Reply::Type::integer) throw Error(Errc::unavailable, "store: nonce check gave an unexpected reply");
  switch (r.integer) {
    case 0: return Verdict::fresh;
    case 1: return Verdict::replayed;
    case 3: return Verdict::scope_full;
    default: throw Error(Errc::unavailable, "store: nonce check gave an unexpected reply");
  }
}

}  // namespace mh::store
