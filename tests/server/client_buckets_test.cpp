// The per-client token buckets behind the chat's limits (web/client_buckets.hpp): exact counts
// with a hand-moved clock, expiry only once a bucket is full again, and memory that follows the
// registry (clients it forgot) rather than the number of clients ever seen.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <set>

#include "web/client_buckets.hpp"

namespace mh::web {
namespace {

TEST(ClientBuckets, BurstThenRateExactly) {
  ClientBuckets b(10, 20);
  const Uuid alice = Uuid::random_v4(), bob = Uuid::random_v4();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(b.take(alice, 100.0)) << i;
  EXPECT_FALSE(b.take(alice, 100.0));
  EXPECT_DOUBLE_EQ(b.wait(alice, 100.0), 0.1);
  EXPECT_TRUE(b.take(bob, 100.0));    // another client: its own bucket
  EXPECT_TRUE(b.take(alice, 100.5));  // half a second: 5 tokens
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.take(alice, 100.5)) << i;
  EXPECT_FALSE(b.take(alice, 100.5));
  EXPECT_FALSE(b.take(alice, 90.0));  // a clock going backwards refills nothing
  EXPECT_FALSE(b.take(alice, 100.5));
  EXPECT_EQ(b.wait(bob, 100.5), 0.0);
  EXPECT_EQ(b.wait(Uuid::random_v4(), 100.5), 0.0);  // unknown: a full bucket
}

TEST(ClientBuckets, PruneForgetsOnlyFullBucketsOrClientsThatLeftTheRegistry) {
  std::set<Uuid> registered;
  ClientBuckets b(1, 2, [&](const Uuid& u) { return registered.count(u) > 0; });
  const Uuid alice = Uuid::random_v4(), bob = Uuid::random_v4(), carol = Uuid::random_v4();
  registered = {alice, bob, carol};
  ASSERT_TRUE(b.take(alice, 0));
  ASSERT_TRUE(b.take(alice, 0));  // empty
  ASSERT_TRUE(b.take(bob, 0));    // one left
  ASSERT_TRUE(b.take(carol, 0));
  EXPECT_EQ(b.prune(0.5), 0u);  // nobody full yet
  EXPECT_EQ(b.prune(1.0), 2u);  // bob and carol are full again
  EXPECT_EQ(b.size(), 1u);
  EXPECT_TRUE(b.take(alice, 1.0));  // alice's was kept: one token back in a second, not two
  EXPECT_FALSE(b.take(alice, 1.0));
  registered.erase(alice);
  EXPECT_EQ(b.prune(1.0), 1u);  // not full, but its client is gone
  EXPECT_EQ(b.size(), 0u);
}

// Far more clients than the registry holds at any one time pass through (as when keys come and
// go): the map follows what the registry holds, within twice it plus the prune threshold.
TEST(ClientBuckets, MemoryFollowsTheRegistryNotEveryClientEverSeen) {
  std::deque<Uuid> registry;  // holds the last 4 clients, like a small --max-clients
  auto known = [&](const Uuid& u) { return std::find(registry.begin(), registry.end(), u) != registry.end(); };
  ClientBuckets b(1, 5, known, 8);
  std::size_t largest = 0;
  for (int i = 0; i < 10000; ++i) {
    registry.push_back(Uuid::random_v4());
    if (registry.size() > 4) registry.pop_front();
    ASSERT_TRUE(b.take(registry.back(), 0.0));  // the clock stands still: no bucket is full again
    largest = std::max(largest, b.size());
  }
  EXPECT_LE(largest, 8u);
  // Every registered client is still limited: nothing was forgiven.
  for (const Uuid& u : registry) {
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.take(u, 0.0));
    EXPECT_FALSE(b.take(u, 0.0));
  }
}

}  // namespace
}  // namespace mh::web
