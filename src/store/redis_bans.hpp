#pragma once
// The operator's bans when instances share a store: one hash, mh:bans (fingerprint -> comment),
// so that a ban made on any instance refuses the key's next handshake on every other one at once
// (one HEXISTS per handshake, no cache to go stale). The comment is the one KEYS/banned keeps;
// list() is ordered by fingerprint, as a hash has no order. Redis unreachable throws
// Errc::unavailable: a handshake that cannot be checked against the bans is refused (503).
#include <functional>
#include <mutex>

#include "auth/bans.hpp"
#include "store/redis_client.hpp"

namespace mh::store {

class RedisBanList final : public auth::BanList {
 public:
  // `seed`: bans to add where missing (HSETNX, one round trip), e.g. this instance's KEYS/banned
  // from before the store was shared. Done by the first call that reaches Redis — every call tries
  // it first until it is done, so no handshake is checked against a list that lacks them — and
  // reported once to `imported` (how many were new, of how many).
  explicit RedisBanList(RedisClient& redis, std::vector<auth::Ban> seed = {},
                        std::function<void(std::size_t added, std::size_t of)> imported = {});

  bool contains(std::string_view fingerprint) const override;
  bool add(const auth::Ban& ban) override;
  std::optional<auth::Ban> remove(std::string_view who) override;
  std::vector<auth::Ban> list() const override;

  static constexpr const char* kKey = "mh:bans";

 private:
  void import_seed() const;

  RedisClient& redis_;
  mutable std::mutex seed_mutex_;
  mutable std::vector<auth::Ban> seed_;  // emptied once imported
  std::function<void(std::size_t, std::size_t)> imported_;
};

}  // namespace mh::store
