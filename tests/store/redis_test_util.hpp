#pragma once
// What the store's tests share: options pointing at a test server, and waiting for a condition.
#include <chrono>
#include <functional>
#include <thread>

#include "store/redis_client.hpp"
#include "support/redis_server.hpp"

namespace mh::store::testing {

inline RedisOptions options_for(const test::RedisServer& server,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds(1000)) {
  RedisOptions o;
  o.address = parse_redis_url(server.url());
  o.timeout = timeout;
  return o;
}

// Polls `done` every 5 ms for up to 10 s: what a test waits for happens on another thread or in
// another process.
inline bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace mh::store::testing
