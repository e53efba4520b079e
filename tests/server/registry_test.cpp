// The client registry, the replay cache and the rate limiter: semantics, bounds, and many
// threads at once (this file also runs under ThreadSanitizer: make test-tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "auth/rate_limiter.hpp"
#include "auth/registry.hpp"
#include "auth/replay_cache.hpp"
#include "core/error.hpp"

namespace mh::auth {
namespace {

const RsaPublicKey& key(int i) {
  static const std::vector<RsaPublicKey> keys = [] {
    std::vector<RsaPublicKey> v;
    for (int k = 0; k < 3; ++k) v.push_back(RsaPrivateKey::generate(2048).public_key());
    return v;
  }();
  return keys[static_cast<std::size_t>(i)];
}

Registration reg(const std::string& name, int k, std::optional<Uuid> requested = std::nullopt, std::int64_t now = 1000) {
  return Registration{name, key(k), key(k).fingerprint(), requested, "127.0.0.1", now};
}

ClientRegistry::Grant grant(std::int64_t expires = 5000) {
  return [expires](const Uuid&) { return SessionGrant{FernetKey::generate(), expires}; };
}

std::string error_of(const std::function<void()>& f, Errc* code) {
  try {
    f();
  } catch (const Error& e) {
    *code = e.code();
    return e.what();
  }
  return "no error";
}

TEST(Registry, RegistersFindsAndKeepsUuidPerKey) {
  auto r = make_in_memory_registry(10);
  const auto a = r->register_session(reg("alice", 0), grant());
  EXPECT_EQ(a->uuid.version(), 4);
  EXPECT_EQ(r->find_session(a->uuid, 1000), a);
  EXPECT_EQ(r->find_session(a->uuid, 5000), nullptr);  // expired
  const auto again = r->register_session(reg("alice", 0), grant());
  EXPECT_EQ(again->uuid, a->uuid);  // same key -> same UUID
  EXPECT_NE(again->session_key.format(), a->session_key.format());
  const auto renamed = r->register_session(reg("alicia", 0, a->uuid), grant());
  EXPECT_EQ(renamed->uuid, a->uuid);
  EXPECT_EQ(r->resolve("alicia"), a->uuid);
  EXPECT_EQ(r->resolve("alice"), std::nullopt);  // the old name is free again
  const auto b = r->register_session(reg("bob", 1), grant());
  EXPECT_NE(b->uuid, a->uuid);
  EXPECT_EQ(r->size(), 2u);
}

TEST(Registry, RefusesNameOfAnotherKeyUuidOfAnotherKeyAndWhenFull) {
  auto r = make_in_memory_registry(2);
  const auto a = r->register_session(reg("alice", 0), grant());
  Errc code{};
  EXPECT_EQ(error_of([&] { r->register_session(reg("alice", 1), grant()); }, &code),
            "registry: the name 'alice' is held by another key");
  EXPECT_EQ(code, Errc::conflict);
  EXPECT_EQ(error_of([&] { r->register_session(reg("mallory", 1, a->uuid), grant()); }, &code),
            "registry: that UUID belongs to another key");
  EXPECT_EQ(code, Errc::forbidden);
  r->register_session(reg("bob", 1), grant());
  EXPECT_EQ(error_of([&] { r->register_session(reg("carol", 2), grant()); }, &code), "registry: full, try again later");
  EXPECT_EQ(code, Errc::unavailable);
  // A known key still re-registers when full.
  EXPECT_EQ(r->register_session(reg("alice", 0), grant())->uuid, a->uuid);
}

TEST(Registry, EndSessionRevokesAtOnceButKeepsIdentity) {
  auto r = make_in_memory_registry(10);
  const auto a = r->register_session(reg("alice", 0), grant());
  EXPECT_TRUE(r->end_session(a->uuid));
  EXPECT_EQ(r->find_session(a->uuid, 1000), nullptr);
  EXPECT_FALSE(r->end_session(Uuid::random_v4()));
  EXPECT_EQ(r->register_session(reg("alice", 0, a->uuid), grant())->uuid, a->uuid);
}

TEST(Registry, SweepForgetsLongEndedSessions) {
  auto r = make_in_memory_registry(10);
  const auto a = r->register_session(reg("alice", 0), grant(2000));
  const auto b = r->register_session(reg("bob", 1), grant(9000));
  EXPECT_EQ(r->sweep(2500, 1000), 0u);  // ended 500 s ago, retention 1000
  EXPECT_EQ(r->sweep(3001, 1000), 1u);
  EXPECT_EQ(r->resolve("alice"), std::nullopt);
  EXPECT_EQ(r->resolve(b->uuid.to_string()), b->uuid);
  EXPECT_EQ(r->size(), 1u);
  EXPECT_NE(r->register_session(reg("alice", 0), grant())->uuid, a->uuid);  // forgotten: a new UUID
}

TEST(Registry, ConcurrentRegistrationsAndLookups) {
  auto r = make_in_memory_registry(100000);
  const auto a = r->register_session(reg("alice", 0), grant(1 << 30));
  std::atomic<int> found{0};
  std::vector<std::thread> threads;
  std::vector<std::set<std::string>> uuids(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        // Distinct "keys" by fingerprint; the same parsed key object is fine here.
        Registration rg{"c" + std::to_string(t) + "_" + std::to_string(i), key(1), "fp" + std::to_string(t) + "_" + std::to_string(i),
                        std::nullopt, "127.0.0.1", 1000};
        uuids[static_cast<std::size_t>(t)].insert(r->register_session(rg, grant())->uuid.to_string());
        if (r->find_session(a->uuid, 1000)) ++found;
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& s : uuids) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), 800u);
  EXPECT_EQ(found.load(), 800);
  EXPECT_EQ(r->size(), 801u);
}

TEST(ReplayCache, RemembersWithinTheWindowAndForgetsAfter) {
  ReplayCache c(120, 1000);
  const Bytes n = {1, 2, 3};
  EXPECT_EQ(c.check_and_insert("k", n, 1000), ReplayCache::Verdict::fresh);
  EXPECT_EQ(c.check_and_insert("k", n, 1000), ReplayCache::Verdict::replayed);
  EXPECT_EQ(c.check_and_insert("other", n, 1000), ReplayCache::Verdict::fresh);  // scoped per key id
  EXPECT_EQ(c.check_and_insert("k", n, 1119), ReplayCache::Verdict::replayed);
  EXPECT_EQ(c.check_and_insert("k", n, 1200), ReplayCache::Verdict::replayed);  // between window and 2*window
  EXPECT_EQ(c.check_and_insert("k", n, 1000 + 3 * 120), ReplayCache::Verdict::fresh);
}

TEST(ReplayCache, IsBoundedAndSaysSo) {
  ReplayCache c(60, 64);  // 64 entries over 16 shards and 2 generations: 2 per shard generation
  int full = 0, fresh = 0;
  for (int i = 0; i < 1000; ++i) {
    const Bytes n = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8)};
    const auto v = c.check_and_insert("k", n, 1000);
    full += v == ReplayCache::Verdict::full;
    fresh += v == ReplayCache::Verdict::fresh;
  }
  EXPECT_EQ(fresh, 32);
  EXPECT_EQ(full, 968);
  EXPECT_LE(c.size(), 64u);
}

TEST(ReplayCache, ConcurrentInsertsSeeEachNonceOnce) {
  ReplayCache c(60, 1 << 20);
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        const Bytes n = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8)};
        if (c.check_and_insert("k", n, 1000) == ReplayCache::Verdict::fresh) ++fresh;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(fresh.load(), 5000);
}

TEST(RateLimiter, BurstThenRate) {
  RateLimiter l(2.0, 3.0);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += l.allow("a", 100.0);
  EXPECT_EQ(allowed, 3);
  EXPECT_TRUE(l.allow("b", 100.0));  // another address is not affected
  EXPECT_FALSE(l.allow("a", 100.4));
  EXPECT_TRUE(l.allow("a", 100.5));  // one token back after 0.5 s at 2/s
  EXPECT_FALSE(l.allow("a", 100.5));
}

TEST(RateLimiter, BoundedMemoryUnderManyAddresses) {
  RateLimiter l(1.0, 1.0, 160);  // 10 per shard
  int allowed = 0;
  for (int i = 0; i < 10000; ++i) allowed += l.allow("10.0.0." + std::to_string(i), 1.0);
  EXPECT_LE(allowed, 160);
  EXPECT_GE(allowed, 100);
  // Once idle buckets refill they are forgotten and newcomers are served again.
  EXPECT_TRUE(l.allow("192.168.1.1", 10.0));
}

}  // namespace
}  // namespace mh::auth
