#pragma once
// What one instance tells the others at once, on the Redis channel mh:events: a kick (close that
// client's chat sockets and connections here too) and a ban (its key is refused from now on).
// The state itself is already in the store — the session ended, the ban in mh:bans — so an event
// only hurries what an instance would otherwise find out later (the chat sweep, the next request).
//
// Pub/sub delivers at most once, to whoever is subscribed at the time: while the subscription is
// down (handlers.link(false)) events are missed, and the caller must fall back on what the store
// says (main.cpp sweeps the chat every second while a store is shared).
//
// Each bus has a random instance id, carried in what it publishes; it skips its own events, as
// the instance that publishes has already done the work (the operator's reply follows it).
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/uuid.hpp"
#include "store/redis_client.hpp"

namespace mh::store {

class EventBus {
 public:
  struct Handlers {
    std::function<void(const Uuid& client, const std::string& reason)> kick;
    std::function<void(const std::string& fingerprint)> ban;
    std::function<void(bool subscribed)> link;
  };
  // Publishes through `redis`; subscribes on a connection and thread of its own (same address,
  // `timeout`). The handlers run on that thread, in the order the events were published.
  EventBus(RedisClient& redis, std::chrono::milliseconds timeout, Handlers handlers);
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Throw Errc::unavailable when Redis cannot be reached.
  void kick(const Uuid& client, const std::string& reason);
  void ban(const std::string& fingerprint);

  bool subscribed() const noexcept;

  static constexpr const char* kChannel = "mh:events";

 private:
  void publish(const std::string& payload);
  void receive(const std::string& payload) const;

  RedisClient& redis_;
  const std::string instance_;
  Handlers handlers_;
  std::unique_ptr<RedisSubscriber> subscriber_;  // last: stopped before the rest goes
};

}  // namespace mh::store
