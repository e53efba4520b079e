#pragma once
// Token buckets kept per client (by registry UUID), for the chat's limits: messages, dropped
// messages and upgrades. A bucket belongs to the client, not to a connection, so closing and
// reopening a chat connection gives nothing back; only time does.
//
// Memory: a bucket is made only for a client that passed verification (it has a registry record),
// and is forgotten only when forgetting it forgives nothing:
//  * it is full again (a client without a bucket gets a full one: the same state), or
//  * its client is no longer registered (a new registration is a new UUID, so that bucket could
//    never be used again).
// The map is pruned that way lazily, when it has doubled since the last prune (amortised O(1) per
// new client), and whenever the owner calls prune() (the hub's periodic sweep). So it holds at
// most about twice the clients the registry holds (itself bounded by --max-clients), plus
// min_prune.
//
// Not thread-safe: the owner (ChatHub) calls it under its own mutex.
#include <cstddef>
#include <functional>
#include <unordered_map>

#include "core/uuid.hpp"

namespace mh::web {

class ClientBuckets {
 public:
  // `registered(uuid)`: whether the registry still knows the client (empty: always true).
  ClientBuckets(double rate_per_second, double burst, std::function<bool(const Uuid&)> registered = {},
                std::size_t min_prune = 1024);

  // Takes one token from the client's bucket at `now` (seconds on a monotonic clock). True if
  // there was one; false (and nothing taken) if the client is over the limit.
  bool take(const Uuid& client, double now);

  // Seconds from `now` until the client's bucket holds a whole token again; 0 if it holds one.
  double wait(const Uuid& client, double now) const;

  // Forgets the buckets that forgiving nothing allows (see above). Returns how many.
  std::size_t prune(double now);

  std::size_t size() const noexcept { return buckets_.size(); }
  double rate() const noexcept { return rate_; }
  double burst() const noexcept { return burst_; }

 private:
  struct Bucket {
    double tokens = 0;
    double last = 0;  // when `tokens` was computed
  };
  double level(const Bucket& b, double now) const noexcept;

  double rate_, burst_;
  std::function<bool(const Uuid&)> registered_;
  std::size_t min_prune_, prune_at_;
  std::unordered_map<Uuid, Bucket, UuidHash> buckets_;
};

}  // namespace mh::web
