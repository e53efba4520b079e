#pragma once
// The Lua scripts of the Redis upload ledger (store/redis_upload_ledger.cpp). Each runs atomically
// in Redis: a limit is checked and the room taken in one step, so instances sharing an upload
// directory can never overcommit a client's quota together. Key layout (prefix "mh:up:"), as
// docs/ARCHITECTURE.md §7 gives it:
//   area:A    hash committed pending attempts: the books of area A (no TTL; absent = not loaded)
//   files:A   hash committed name -> charge
//   held:A    hash id -> charge: uploads in progress (holds) and attempts awaiting commit
//   exp:A     sorted set id by the second it expires (holds and attempts), purged by every script
//   att:ID    hash area name size crc created charge, TTL attempt_timeout
//   due       sorted set "A ID" by expiry: the attempts whose files the sweep removes
// Replies start with a code, in the order of auth::LedgerResult: 0 ok, 1 unloaded, 2 over_pending,
// 3 over_files, 4 over_quota, 5 no_attempt, 6 expired.
#include "store/redis_client.hpp"

namespace mh::store::upload_scripts {

#define MH_UPLOAD_LUA_COMMON                                        \
  "local P = 'mh:up:'\n"                                            \
  "local function int(x) return string.format('%d', x) end\n"       \
  "local function drop(A, id)\n"                                    \
  "  local area, held = P..'area:'..A, P..'held:'..A\n"             \
  "  local c = redis.call('HGET', held, id)\n"                      \
  "  if c and redis.call('EXISTS', area) == 1 then\n"               \
  "    redis.call('HINCRBY', area, 'pending', int(-tonumber(c)))\n" \
  "    redis.call('HINCRBY', area, 'attempts', -1)\n"               \
  "  end\n"                                                         \
  "  redis.call('HDEL', held, id)\n"                                \
  "  redis.call('ZREM', P..'exp:'..A, id)\n"                        \
  "  redis.call('DEL', P..'att:'..id)\n"                            \
  "end\n"

// ARGV[1] the area, ARGV[2] now. Not loaded: {1}. purge() drops what expired by now.
#define MH_UPLOAD_LUA_AREA                                                                      \
  MH_UPLOAD_LUA_COMMON                                                                          \
  "local A, now = ARGV[1], tonumber(ARGV[2])\n"                                                 \
  "local area, files, held, exp = P..'area:'..A, P..'files:'..A, P..'held:'..A, P..'exp:'..A\n" \
  "if redis.call('EXISTS', area) == 0 then return {1} end\n"                                    \
  "local function purge()\n"                                                                    \
  "  for _, id in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now)) do drop(A, id) end\n"   \
  "end\n"                                                                                       \
  "local function room_for(least, quota, max_files, max_pending)\n"                             \
  "  local b = redis.call('HMGET', area, 'committed', 'pending', 'attempts')\n"                 \
  "  local used, attempts = tonumber(b[1]) + tonumber(b[2]), tonumber(b[3])\n"                  \
  "  if attempts >= max_pending then return 2 end\n"                                            \
  "  if redis.call('HLEN', files) + attempts >= max_files then return 3 end\n"                  \
  "  local room = 0\n"                                                                          \
  "  if used < quota then room = quota - used end\n"                                            \
  "  if least > room then return 4 end\n"                                                       \
  "  return 0, room\n"                                                                          \
  "end\n"

// ARGV: area, now, then name, charge pairs (the committed files found on disk). Sets the books
// only if nobody has: returns 1 if it did, 0 if they were there.
inline const Script kLoad{MH_UPLOAD_LUA_COMMON R"lua(
local A = ARGV[1]
local area, files = P..'area:'..A, P..'files:'..A
if redis.call('EXISTS', area) == 1 then return 0 end
redis.call('DEL', files, P..'held:'..A, P..'exp:'..A)
local sum = 0
for i = 3, #ARGV, 2 do
  redis.call('HSET', files, ARGV[i], ARGV[i + 1])
  sum = sum + tonumber(ARGV[i + 1])
end
redis.call('HSET', area, 'committed', int(sum), 'pending', 0, 'attempts', 0)
return 1
)lua"};

// ARGV: area, now, hold id, least, capacity, quota, max_files, max_pending, expires. {0, held}.
inline const Script kReserve{MH_UPLOAD_LUA_AREA R"lua(
purge()
local code, room = room_for(tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
if code ~= 0 then return {code} end
local h = math.min(tonumber(ARGV[5]), room)
redis.call('HINCRBY', area, 'pending', int(h))
redis.call('HINCRBY', area, 'attempts', 1)
redis.call('HSET', held, ARGV[3], int(h))
redis.call('ZADD', exp, ARGV[9], ARGV[3])
return {0, h}
)lua"};

// ARGV: area, now, id. The hold goes (if it is still there).
inline const Script kRelease{MH_UPLOAD_LUA_AREA R"lua(
drop(A, ARGV[3])
return {0}
)lua"};

// ARGV: area, now, id, name, size, crc, created, charge, expires, quota, max_files, max_pending,
// attempt_timeout. The hold `id` becomes the attempt `id`.
inline const Script kAttemptReady{MH_UPLOAD_LUA_AREA R"lua(
local id, charge = ARGV[3], tonumber(ARGV[8])
purge()
local h = redis.call('HGET', held, id)
if h then
  redis.call('HINCRBY', area, 'pending', int(charge - tonumber(h)))
else  -- the hold expired while the body came: the attempt must fit as a new one
  local code = room_for(charge, tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]))
  if code ~= 0 then return {code} end
  redis.call('HINCRBY', area, 'pending', int(charge))
  redis.call('HINCRBY', area, 'attempts', 1)
end
redis.call('HSET', held, id, ARGV[8])
redis.call('ZADD', exp, ARGV[9], id)
local att = P..'att:'..id
redis.call('HSET', att, 'area', A, 'name', ARGV[4], 'size', ARGV[5], 'crc', ARGV[6], 'created', ARGV[7],
           'charge', ARGV[8])
redis.call('EXPIRE', att, math.max(1, tonumber(ARGV[13])))
redis.call('ZADD', P..'due', ARGV[9], A..' '..id)
return {0}
)lua"};

// ARGV: area, now, id, name, attempt_timeout, mode ('find' | 'discard'). find: {0, size, crc,
// created, charge}, unchanged; discard: {0}, dropped. An expired one is dropped: {6}.
inline const Script kAttempt{MH_UPLOAD_LUA_AREA R"lua(
local id = ARGV[3]
local a = redis.call('HMGET', P..'att:'..id, 'area', 'name', 'size', 'crc', 'created', 'charge')
if not a[1] or a[1] ~= A or a[2] ~= ARGV[4] then purge() return {5} end
local expired = now >= tonumber(a[5]) + tonumber(ARGV[5])
if expired or ARGV[6] == 'discard' then
  drop(A, id)
  redis.call('ZREM', P..'due', A..' '..id)
end
purge()
if expired then return {6} end
if ARGV[6] == 'discard' then return {0} end
return {0, a[3], a[4], a[5], a[6]}
)lua"};

// ARGV: area, now, id, name, charge. The attempt's file is in place as `name`.
inline const Script kCommitted{MH_UPLOAD_LUA_AREA R"lua(
local id, name, charge = ARGV[3], ARGV[4], tonumber(ARGV[5])
drop(A, id)
redis.call('ZREM', P..'due', A..' '..id)
purge()
local old = tonumber(redis.call('HGET', files, name)) or 0
redis.call('HSET', files, name, ARGV[5])
redis.call('HINCRBY', area, 'committed', int(charge - old))
return {0}
)lua"};

// ARGV: area, now, name. The committed file is gone.
inline const Script kRemoved{MH_UPLOAD_LUA_AREA R"lua(
purge()
local c = redis.call('HGET', files, ARGV[3])
if c then
  redis.call('HDEL', files, ARGV[3])
  redis.call('HINCRBY', area, 'committed', int(-tonumber(c)))
end
return {0}
)lua"};

// ARGV: area, now. {0, committed, pending, files, attempts}.
inline const Script kBooks{MH_UPLOAD_LUA_AREA R"lua(
purge()
local b = redis.call('HMGET', area, 'committed', 'pending', 'attempts')
return {0, tonumber(b[1]), tonumber(b[2]), redis.call('HLEN', files), tonumber(b[3])}
)lua"};

// ARGV: now, limit. The attempts due by now, dropped: {"A ID", ...}.
inline const Script kSweep{MH_UPLOAD_LUA_COMMON R"lua(
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P..'due', '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  redis.call('ZREM', P..'due', m)
  local sp = string.find(m, ' ', 1, true)
  if sp then drop(string.sub(m, 1, sp - 1), string.sub(m, sp + 1)) end
  out[#out + 1] = m
end
return out
)lua"};

#undef MH_UPLOAD_LUA_AREA
#undef MH_UPLOAD_LUA_COMMON

}  // namespace mh::store::upload_scripts
