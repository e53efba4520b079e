#pragma once
// The Lua scripts of the Redis registry (store/redis_registry.cpp). Each runs atomically in
// Redis, which is what makes a registration seen by several instances at once consistent. Key
// layout (prefix "mh:"), as docs/ARCHITECTURE.md §7 gives it:
//   id:UUID     hash: name fp key created from address used last_seen keyid expires ended hello_time
//   fp:FP       -> UUID        name:NAME -> UUID      (same TTL as id:UUID)
//   sess:KEYID  the session, sealed (store/sealed_value.hpp), TTL = until it expires
//   clients     sorted set UUID by created (listing, capacity)
//   group:G     set of the UUIDs first registered from address group G (per-address limit)
#include "store/redis_client.hpp"

namespace mh::store::scripts {

// Shared by register and touch: when an identity is forgotten, as seconds from now.
#define MH_REGISTRY_LUA_PRELUDE                                                          \
  "local P = 'mh:'\n"                                                                    \
  "local function live(u) return u and redis.call('EXISTS', P..'id:'..u) == 1 end\n"     \
  "local function keep_for(used, created, expires, ended, now, unused_ttl, retention)\n" \
  "  local k\n"                                                                          \
  "  if used == '1' then\n"                                                              \
  "    local e = expires; if e == 0 then e = ended end\n"                                \
  "    k = e + retention - now\n"                                                        \
  "  else k = math.max(created + unused_ttl, expires) - now end\n"                       \
  "  return math.max(1, math.floor(k))\n"                                                \
  "end\n"                                                                                \
  "local function expire_identity(u, fp, name, from, keep)\n"                            \
  "  for _, k in ipairs({P..'id:'..u, P..'fp:'..fp, P..'name:'..name}) do\n"             \
  "    redis.call('EXPIRE', k, keep) end\n"                                              \
  "  local g = P..'group:'..from\n"                                                      \
  "  if redis.call('TTL', g) < keep then redis.call('EXPIRE', g, keep) end\n"            \
  "end\n"

// ARGV: mode ('check' | 'commit'), fp, name, requested UUID or '', candidate UUID for a new key,
// address group, capacity, per-address limit, now, unused TTL, evictable after, retention;
// hello time; commit adds: the UUID check chose, key DER, address, keyid hex, expires, sealed
// session. Replies {'ok', uuid, created, from, used} (check), {'ok', uuid} (commit), or one word:
// forbidden, conflict, rate_limited, full, stale (the key's last hello was newer), retry (the
// state changed between check and commit).
inline const Script kRegister{MH_REGISTRY_LUA_PRELUDE R"lua(
local mode, fp, name, req, cand, group = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local cap, per_addr, now = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local unused_ttl, evictable, retention = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local hello_time = tonumber(ARGV[13])

local function forget(u)
  local h = redis.call('HMGET', P..'id:'..u, 'fp', 'name', 'keyid', 'from')
  if h[1] and redis.call('GET', P..'fp:'..h[1]) == u then redis.call('DEL', P..'fp:'..h[1]) end
  if h[2] and redis.call('GET', P..'name:'..h[2]) == u then redis.call('DEL', P..'name:'..h[2]) end
  if h[3] and h[3] ~= '' then redis.call('DEL', P..'sess:'..h[3]) end
  if h[4] then redis.call('SREM', P..'group:'..h[4], u) end
  redis.call('DEL', P..'id:'..u)
  redis.call('ZREM', P..'clients', u)
end

local uuid = redis.call('GET', P..'fp:'..fp)
if uuid and not live(uuid) then uuid = false end
if req ~= '' and live(req) and redis.call('HGET', P..'id:'..req, 'fp') ~= fp then return {'forbidden'} end
local holder = redis.call('GET', P..'name:'..name)
if holder and holder ~= uuid and live(holder) then return {'conflict'} end

local created, from, used = now, group, '0'
if uuid then
  local h = redis.call('HMGET', P..'id:'..uuid, 'created', 'from', 'used', 'hello_time')
  created, from, used = tonumber(h[1]), h[2], h[3]
  if tonumber(h[4] or 0) > hello_time then return {'stale'} end
else
  local gk = P..'group:'..group
  if redis.call('SCARD', gk) >= per_addr then
    for _, m in ipairs(redis.call('SMEMBERS', gk)) do
      if not live(m) then redis.call('SREM', gk, m) end
    end
    if redis.call('SCARD', gk) >= per_addr then return {'rate_limited'} end
  end
  local ck = P..'clients'
  if redis.call('ZCARD', ck) >= cap then
    -- Forgotten identities leave room; else the oldest one that never made a request, if old enough.
    local victim = nil
    for _, m in ipairs(redis.call('ZRANGE', ck, 0, -1)) do
      if not live(m) then
        redis.call('ZREM', ck, m)
      elseif not victim then
        local h = redis.call('HMGET', P..'id:'..m, 'used', 'created')
        if h[1] == '0' and tonumber(h[2]) + evictable <= now then victim = m end
      end
    end
    if redis.call('ZCARD', ck) >= cap then
      if not victim then return {'full'} end
      if mode == 'commit' then forget(victim) end
    end
  end
  if live(cand) then return {'retry'} end
  uuid = cand
end
if mode == 'check' then return {'ok', uuid, tostring(created), from, used} end

if ARGV[14] ~= uuid then return {'retry'} end
local idk = P..'id:'..uuid
local old = redis.call('HMGET', idk, 'keyid', 'name')
if old[1] and old[1] ~= '' then redis.call('DEL', P..'sess:'..old[1]) end
if old[2] and old[2] ~= name and redis.call('GET', P..'name:'..old[2]) == uuid then
  redis.call('DEL', P..'name:'..old[2])
end
local keyid, expires = ARGV[17], tonumber(ARGV[18])
redis.call('HSET', idk, 'name', name, 'fp', fp, 'key', ARGV[15], 'created', created, 'from', from,
           'address', ARGV[16], 'used', used, 'last_seen', now, 'keyid', keyid, 'expires', expires, 'ended', 0,
           'hello_time', hello_time)
redis.call('SET', P..'name:'..name, uuid)
redis.call('SET', P..'fp:'..fp, uuid)
redis.call('SET', P..'sess:'..keyid, ARGV[19], 'EX', math.max(1, expires - now))
redis.call('ZADD', P..'clients', created, uuid)
redis.call('SADD', P..'group:'..from, uuid)
expire_identity(uuid, fp, name, from, keep_for(used, created, expires, 0, now, unused_ttl, retention))
return {'ok', uuid}
)lua"};

// ARGV: now, unused TTL, retention, then triples (uuid, last seen, used '0' | '1').
inline const Script kTouch{MH_REGISTRY_LUA_PRELUDE R"lua(
local now, unused_ttl, retention = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 4, #ARGV, 3 do
  local u = ARGV[i]
  if live(u) then
    local idk = P..'id:'..u
    local h = redis.call('HMGET', idk, 'last_seen', 'used', 'expires', 'fp', 'name', 'from', 'created', 'ended')
    if tonumber(ARGV[i + 1]) > tonumber(h[1]) then redis.call('HSET', idk, 'last_seen', ARGV[i + 1]) end
    if ARGV[i + 2] == '1' and h[2] == '0' then
      redis.call('HSET', idk, 'used', '1')
      expire_identity(u, h[4], h[5], h[6],
                      keep_for('1', tonumber(h[7]), tonumber(h[3]), tonumber(h[8]), now, unused_ttl, retention))
    end
  end
end
return 0
)lua"};

// ARGV: uuid, now, unused TTL, retention. Ends the session; the identity is kept `retention`.
// Replies 1, or 0 if the UUID is unknown.
inline const Script kEndSession{MH_REGISTRY_LUA_PRELUDE R"lua(
local u, now, unused_ttl, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not live(u) then return 0 end
local idk = P..'id:'..u
local h = redis.call('HMGET', idk, 'keyid', 'fp', 'name', 'from', 'used', 'created')
if h[1] and h[1] ~= '' then redis.call('DEL', P..'sess:'..h[1]) end
redis.call('HSET', idk, 'keyid', '', 'expires', 0, 'ended', now)
expire_identity(u, h[2], h[3], h[4], keep_for(h[5], tonumber(h[6]), 0, now, now, unused_ttl, retention))
return 1
)lua"};

// ARGV: uuid. The client's live session (its sealed value and keyid), or nil.
inline const Script kClientSession{R"lua(
local k = redis.call('HGET', 'mh:id:'..ARGV[1], 'keyid')
if not k or k == '' then return false end
local s = redis.call('GET', 'mh:sess:'..k)
if not s then return false end
return {k, s}
)lua"};

#undef MH_REGISTRY_LUA_PRELUDE

}  // namespace mh::store::scripts
