#include "store/redis_bans.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace mh::store {
namespace {

// KEYS[1] mh:bans, ARGV[1] a fingerprint: its comment, deleted in the same step (nil if none), so
// that of two instances lifting the same ban only one reports it lifted.
const Script kTake{R"lua(
local c = redis.call('HGET', KEYS[1], ARGV[1])
if c then redis.call('HDEL', KEYS[1], ARGV[1]) end
return c
)lua"};

[[noreturn]] void unexpected(const Reply& r, const char* what) {
  throw Error(Errc::unavailable, std::string("store: ") + what + " failed" + (r.is_error() ? ": " + r.str : ""));
}

long long integer(const Reply& r, const char* what) {
  if (r.type != Reply::Type::integer) unexpected(r, what);
  return r.integer;
}

}  // namespace

RedisBanList::RedisBanList(RedisClient& redis, std::vector<auth::Ban> seed,
                           std::function<void(std::size_t, std::size_t)> imported)
    : redis_(redis), seed_(std::move(seed)), imported_(std::move(imported)) {}

void RedisBanList::import_seed() const {
  std::lock_guard lock(seed_mutex_);
  if (seed_.empty()) return;
  std::vector<Command> sets;
  for (const auto& b : seed_) sets.push_back({"HSETNX", kKey, b.fingerprint, b.comment});
  std::size_t added = 0;
  for (const auto& r : redis_.pipeline(sets)) added += integer(r, "importing the bans") == 1;
  if (imported_) imported_(added, seed_.size());
  seed_.clear();
}

bool RedisBanList::contains(std::string_view fingerprint) const {
  import_seed();
  return integer(redis_.command({"HEXISTS", kKey, std::string(fingerprint)}), "checking the bans") == 1;
}

bool RedisBanList::add(const auth::Ban& ban) {
  import_seed();
  return integer(redis_.command({"HSETNX", kKey, ban.fingerprint, ban.comment}), "adding a ban") == 1;
}

std::optional<auth::Ban> RedisBanList::remove(std::string_view who) {
  std::string fingerprint(who);
  if (!auth::is_key_fingerprint(who)) {
    const auto all = list();
    const auto it = std::find_if(all.begin(), all.end(), [&](const auth::Ban& b) { return auth::names(b, who); });
    if (it == all.end()) return std::nullopt;
    fingerprint = it->fingerprint;
  } else {
    import_seed();
  }
  const Reply r = redis_.eval(kTake, {kKey}, {fingerprint});
  if (r.is_nil()) return std::nullopt;  // not banned, or lifted meanwhile on another instance
  if (r.type != Reply::Type::string) unexpected(r, "lifting a ban");
  return auth::Ban{fingerprint, r.str};
}

std::vector<auth::Ban> RedisBanList::list() const {
  import_seed();
  const Reply r = redis_.command({"HGETALL", kKey});
  if (r.type != Reply::Type::array || r.elements.size() % 2) unexpected(r, "listing the bans");
  std::vector<auth::Ban> out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) out.push_back({r.elements[i].str, r.elements[i + 1].str});
  std::sort(out.begin(), out.end(),
            [](const auth::Ban& a, const auth::Ban& b) { return a.fingerprint < b.fingerprint; });
  return out;
}

}  // namespace mh::store
