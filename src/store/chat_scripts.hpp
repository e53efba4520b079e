#pragma once
// The Lua scripts of the shared chat (store/redis_chat.cpp). Each runs atomically in Redis, on
// Redis's clock, which is what keeps a room's seat count and the order of the log consistent
// across instances. Key layout (prefix "mh:chat:"), as docs/ARCHITECTURE.md §7 gives it:
//   log          stream of events, one field "e" (JSON); trimmed to about kLogLength entries
//   rooms        sorted set: room -> when its last seat lapses (ms)
//   room:ROOM    sorted set: "NAME:SEAT" -> when the seat lapses (ms)
//   name:NAME    sorted set: SEAT -> when it lapses (ms): who can be sent a private message
//   BUCKET:UUID  hash: tokens last (a client's chat budget: msg, up; store/token_bucket.hpp)
#include "store/redis_client.hpp"

namespace mh::store::chat_scripts {

inline constexpr const char* kLogLength = "100000";

#define MH_CHAT_LUA_PRELUDE                                                                                 \
  "local function now_ms()\n"                                                                               \
  "  local t = redis.call('TIME')\n"                                                                        \
  "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                                    \
  "end\n"                                                                                                   \
  "local function post(log, length, event)\n"                                                               \
  "  redis.call('XADD', log, 'MAXLEN', '~', length, '*', 'e', event)\n"                                     \
  "end\n"                                                                                                   \
  "local function names(room, now)\n"                                                                       \
  "  local seen, out = {}, {}\n"                                                                            \
  "  for _, m in ipairs(redis.call('ZRANGEBYSCORE', room, '(' .. now, '+inf')) do\n"                        \
  "    local n = string.match(m, '^[^:]*')\n"                                                               \
  "    if not seen[n] then seen[n] = true; out[#out + 1] = n end\n"                                         \
  "  end\n"                                                                                                 \
  "  table.sort(out)\n"                                                                                     \
  "  return out\n"                                                                                          \
  "end\n"                                                                                                   \
  "local function seat(rooms, room_key, name_key, room, name, id, now, life)\n"                             \
  "  local lapse = now + tonumber(life)\n"                                                                  \
  "  redis.call('ZADD', room_key, lapse, name .. ':' .. id)\n"                                              \
  "  redis.call('ZADD', name_key, lapse, id)\n"                                                             \
  "  redis.call('ZADD', rooms, 'GT', lapse, room)\n"                                                        \
  "  for _, k in ipairs({room_key, name_key, rooms}) do redis.call('PEXPIRE', k, life) end\n"               \
  "end\n"                                                                                                   \
  "local function unseat(rooms, room_key, name_key, room, name, id, now)\n"                                 \
  "  redis.call('ZREM', room_key, name .. ':' .. id)\n"                                                     \
  "  redis.call('ZREM', name_key, id)\n"                                                                    \
  "  if redis.call('ZCOUNT', room_key, '(' .. now, '+inf') == 0 then redis.call('ZREM', rooms, room) end\n" \
  "end\n"

// KEYS: log, rooms, room:ROOM, name:NAME, room:OLD (room:ROOM again if none).
// ARGV: log length, seat lifetime (ms), max seats, room, name, seat, join event (JSON), old room
// ('' if none), leave event. Replies 1 (seated, events posted) or 0 (full, nothing done).
inline const Script kSit{MH_CHAT_LUA_PRELUDE R"lua(
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then return 0 end
if ARGV[8] ~= '' then
  unseat(KEYS[2], KEYS[5], KEYS[4], ARGV[8], ARGV[5], ARGV[6], now)
  post(KEYS[1], ARGV[1], ARGV[9])
end
seat(KEYS[2], KEYS[3], KEYS[4], ARGV[4], ARGV[5], ARGV[6], now, ARGV[2])
local e = cjson.decode(ARGV[7])
e['members'] = names(KEYS[3], now)
post(KEYS[1], ARGV[1], cjson.encode(e))
return 1
)lua"};

// KEYS: log, rooms, room:ROOM, name:NAME. ARGV: log length, room, name, seat, leave event.
inline const Script kStand{MH_CHAT_LUA_PRELUDE R"lua(
unseat(KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[3], ARGV[4], now_ms())
post(KEYS[1], ARGV[1], ARGV[5])
return 1
)lua"};

// KEYS: rooms, then room:ROOM and name:NAME of each seat. ARGV: seat lifetime (ms), then room,
// name, seat of each. A seat the store lost (an empty restart) is taken again.
inline const Script kKeep{MH_CHAT_LUA_PRELUDE R"lua(
local now = now_ms()
for i = 0, (#ARGV - 1) / 3 - 1 do
  seat(KEYS[1], KEYS[2 + 2 * i], KEYS[3 + 2 * i], ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i], now, ARGV[1])
end
return 1
)lua"};

// KEYS: log, name:TO (the log again if to is ''). ARGV: log length, event, to, except (a seat).
// Replies 1 (posted) or 0 (nobody but `except` is seated under that name: nothing posted).
inline const Script kPost{MH_CHAT_LUA_PRELUDE R"lua(
if ARGV[3] ~= '' then
  local found = false
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now_ms(), '+inf')) do
    if id ~= ARGV[4] then found = true; break end
  end
  if not found then return 0 end
end
post(KEYS[1], ARGV[1], ARGV[2])
return 1
)lua"};

// KEYS: room:ROOM. Replies the live seats (seated) or the names seated, sorted, each once (names).
inline const Script kSeated{MH_CHAT_LUA_PRELUDE R"lua(
return redis.call('ZCOUNT', KEYS[1], '(' .. now_ms(), '+inf')
)lua"};
inline const Script kNames{MH_CHAT_LUA_PRELUDE R"lua(
return names(KEYS[1], now_ms())
)lua"};

// KEYS: rooms. ARGV: the prefix of room keys. Replies room, names seated, room, names, ...
inline const Script kRooms{MH_CHAT_LUA_PRELUDE R"lua(
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, room in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local n = #names(ARGV[1] .. room, now)
  if n > 0 then out[#out + 1] = room; out[#out + 1] = n end
end
return out
)lua"};

#undef MH_CHAT_LUA_PRELUDE

}  // namespace mh::store::chat_scripts
