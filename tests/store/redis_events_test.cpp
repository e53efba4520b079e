// The event bus between instances (store/redis_events.hpp) against a real redis-server: every
// other bus sees each kick and ban once, in the order published; a bus skips its own.
#include <gtest/gtest.h>

#include <mutex>

#include "core/error.hpp"
#include "store/redis_events.hpp"
#include "store/redis_test_util.hpp"

namespace mh::store {
namespace {

using test::RedisServer;
using testing::eventually;
using testing::options_for;

// What one bus's handlers saw, one line per event.
struct Heard {
  std::mutex m;
  std::vector<std::string> events;

  EventBus::Handlers handlers() {
    EventBus::Handlers h;
    h.kick = [this](const Uuid& u, const std::string& reason) { add("kick " + u.to_string() + " " + reason); };
    h.ban = [this](const std::string& fp) { add("ban " + fp); };
    return h;
  }
  void add(std::string line) {
    std::lock_guard lock(m);
    events.push_back(std::move(line));
  }
  std::vector<std::string> all() {
    std::lock_guard lock(m);
    return events;
  }
};

TEST(EventBus, EveryOtherInstanceSeesEachEventOnceInOrder) {
  RedisServer server;
  RedisClient ra(options_for(server)), rb(options_for(server)), rc(options_for(server));
  Heard a, b, c;
  EventBus on_a(ra, std::chrono::milliseconds(1000), a.handlers());
  EventBus on_b(rb, std::chrono::milliseconds(1000), b.handlers());
  EventBus on_c(rc, std::chrono::milliseconds(1000), c.handlers());
  ASSERT_TRUE(eventually([&] { return on_a.subscribed() && on_b.subscribed() && on_c.subscribed(); }));

  const Uuid alice = *Uuid::parse("0b3e6a52-5c3e-4c8a-9d57-0e0c9b1f2a11");
  const Uuid bob = *Uuid::parse("7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910");
  const std::string fp = "SHA256:" + std::string(43, 'A');
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    on_a.kick(i % 2 ? bob : alice, "kicked by the operator " + std::to_string(i));
    expected.push_back("kick " + (i % 2 ? bob : alice).to_string() + " kicked by the operator " + std::to_string(i));
    if (i % 5 == 4) {
      on_a.ban(fp);
      expected.push_back("ban " + fp);
    }
  }
  on_b.kick(bob, "banned by the operator");  // from another bus: A hears this one
  ASSERT_TRUE(eventually([&] { return b.all().size() == expected.size() && c.all().size() == expected.size() + 1; }));
  EXPECT_EQ(b.all(), expected);
  expected.push_back("kick " + bob.to_string() + " banned by the operator");
  EXPECT_EQ(c.all(), expected);
  ASSERT_TRUE(eventually([&] { return a.all().size() == 1; }));
  EXPECT_EQ(a.all(), std::vector<std::string>{"kick " + bob.to_string() + " banned by the operator"});
  EXPECT_EQ(b.all().size(), expected.size() - 1);  // its own kick is not handed back to B
}

TEST(EventBus, PublishingWithRedisDownIsUnavailable) {
  RedisServer server;
  RedisClient r(options_for(server, std::chrono::milliseconds(200)));
  Heard h;
  EventBus bus(r, std::chrono::milliseconds(200), h.handlers());
  server.stop();
  try {
    bus.kick(*Uuid::parse("0b3e6a52-5c3e-4c8a-9d57-0e0c9b1f2a11"), "kicked by the operator");
    ADD_FAILURE() << "published with Redis down";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::unavailable);
    EXPECT_EQ(std::string(e.what()).rfind("store: ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace mh::store
