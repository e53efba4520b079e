// The client registry, the replay cache and the rate limiter: semantics, bounds, and many
// threads at once (this file also runs under ThreadSanitizer: make test-tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "auth/address_group.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/registry.hpp"
#include "auth/replay_cache.hpp"
#include "core/error.hpp"
#include "support/test_support.hpp"

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

Registration reg(const std::string& name, int k, std::optional<Uuid> requested = std::nullopt,
                 std::int64_t now = 1000) {
  return Registration{name, key(k), key(k).fingerprint(), requested, "127.0.0.1", now};
}

// A fresh session each time: a random secret and keyid, as the handshake makes them.
ClientRegistry::Grant grant(std::int64_t expires = 5000) {
  return [expires](const Uuid&) {
    KeyId keyid{};
    const Bytes id = random_bytes(keyid.size());
    std::copy(id.begin(), id.end(), keyid.begin());
    return SessionGrant{SessionSecret(random_bytes(32)), keyid, expires, 262144};
  };
}

// A grant with a keyid of the caller's choosing.
ClientRegistry::Grant grant_keyid(KeyId keyid, std::int64_t expires = 5000) {
  return [=](const Uuid&) { return SessionGrant{SessionSecret(random_bytes(32)), keyid, expires, 4096}; };
}

KeyId keyid_of(std::uint8_t b) {
  KeyId k{};
  k.fill(b);
  return k;
}

using test::error_of;

// Limits that never get in the way of a test about something else.
RegistryLimits lenient() {
  RegistryLimits l;
  l.per_address = 1 << 20;
  l.unused_ttl = 1 << 30;
  return l;
}

Registration reg_from(const std::string& name, const std::string& fingerprint, const std::string& address,
                      std::int64_t now) {
  return Registration{name, key(0), fingerprint, std::nullopt, address, now};
}

TEST(Registry, RegistersFindsAndKeepsUuidPerKey) {
  auto r = make_in_memory_registry(10);
  const auto a = r->register_session(reg("alice", 0), grant());
  EXPECT_EQ(a->uuid.version(), 4);
  EXPECT_EQ(r->find_client_session(a->uuid, 1000), a);
  EXPECT_EQ(r->find_client_session(a->uuid, 5000), nullptr);  // expired
  const auto again = r->register_session(reg("alice", 0), grant());
  EXPECT_EQ(again->uuid, a->uuid);  // same key -> same UUID
  EXPECT_NE(again->keyid, a->keyid);
  EXPECT_NE(to_hex(again->session_secret.bytes()), to_hex(a->session_secret.bytes()));
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
  const auto b = r->register_session(reg("bob", 1), grant());
  ASSERT_EQ(r->find_session(a->keyid, 1000), a);
  EXPECT_TRUE(r->end_session(a->uuid));
  EXPECT_EQ(r->find_session(a->keyid, 1000), nullptr) << "a logged-out keyid names no session";
  EXPECT_EQ(r->find_client_session(a->uuid, 1000), nullptr);
  EXPECT_EQ(r->find_session(b->keyid, 1000), b) << "another client's session is untouched";
  EXPECT_EQ(r->resolve("alice"), a->uuid) << "the identity stays";
  EXPECT_FALSE(r->end_session(Uuid::random_v4()));
  EXPECT_TRUE(r->end_session(a->uuid)) << "ending an ended session again is harmless";
  EXPECT_EQ(r->find_session(a->keyid, 1000), nullptr);
  // A new handshake of the same key: the same UUID, a new keyid that finds it; the old one still nothing.
  const auto again = r->register_session(reg("alice", 0, a->uuid), grant());
  EXPECT_EQ(again->uuid, a->uuid);
  EXPECT_EQ(r->find_session(again->keyid, 1000), again);
  EXPECT_EQ(r->find_session(a->keyid, 1000), nullptr);
}

TEST(Registry, FindsASessionByItsKeyidOnlyWhileItIsLive) {
  auto r = make_in_memory_registry(10);
  const auto a = r->register_session(reg("alice", 0), grant_keyid(keyid_of(0xa1), 2000));
  const auto b = r->register_session(reg("bob", 1), grant_keyid(keyid_of(0xb2), 9000));
  EXPECT_EQ(a->keyid, keyid_of(0xa1));
  EXPECT_EQ(a->chunk_size, 4096u);
  EXPECT_EQ(r->find_session(keyid_of(0xa1), 1000), a);
  EXPECT_EQ(r->find_session(keyid_of(0xb2), 1000), b);
  EXPECT_EQ(r->find_session(keyid_of(0xc3), 1000), nullptr) << "a keyid nobody was given";
  EXPECT_EQ(r->find_session(KeyId{}, 1000), nullptr) << "the zero keyid of an ended record";
  EXPECT_EQ(r->find_session(keyid_of(0xa1), 1999), a);
  EXPECT_EQ(r->find_session(keyid_of(0xa1), 2000), nullptr) << "expired at `expires`";
  EXPECT_EQ(r->find_session(keyid_of(0xb2), 2000), b);
  // The UUID is no keyid: a keyid made of a UUID's bytes finds nothing.
  KeyId uuid_bytes{};
  std::copy(a->uuid.bytes.begin(), a->uuid.bytes.end(), uuid_bytes.begin());
  EXPECT_EQ(r->find_session(uuid_bytes, 1000), nullptr);
}

// PROTOCOL.md §3.6: a client has at most one live session; a new handshake replaces the previous
// one, whose keyid then gets 401 (finds nothing), while the new one finds the same client.
TEST(Registry, ANewerHandshakeReplacesTheKeyid) {
  auto r = make_in_memory_registry(10);
  const auto first = r->register_session(reg("alice", 0), grant_keyid(keyid_of(1)));
  const auto second = r->register_session(reg("alice", 0, first->uuid), grant_keyid(keyid_of(2)));
  EXPECT_EQ(second->uuid, first->uuid);
  EXPECT_EQ(r->find_session(keyid_of(1), 1000), nullptr) << "the replaced session's keyid finds nothing";
  EXPECT_EQ(r->find_session(keyid_of(2), 1000), second);
  EXPECT_EQ(r->find_client_session(first->uuid, 1000), second);
  // And once more: only the newest keyid of the client names a session.
  const auto third = r->register_session(reg("alice", 0), grant_keyid(keyid_of(3)));
  for (std::uint8_t k : {1, 2}) EXPECT_EQ(r->find_session(keyid_of(k), 1000), nullptr) << int(k);
  EXPECT_EQ(r->find_session(keyid_of(3), 1000), third);
  EXPECT_EQ(r->size(), 1u);
  // Another client's handshakes do not touch it.
  const auto b = r->register_session(reg("bob", 1), grant_keyid(keyid_of(4)));
  EXPECT_EQ(r->find_session(keyid_of(3), 1000), third);
  EXPECT_EQ(r->find_session(keyid_of(4), 1000), b);
}

// The keyids of identities the registry forgets (swept after their session ended, swept unused,
// evicted to make room) name nothing afterwards; the keyids of the others still do.
TEST(Registry, SweepAndEvictionForgetTheKeyids) {
  RegistryLimits l;
  l.unused_ttl = 600;
  l.unused_evictable_after = 10;
  auto r = make_in_memory_registry(3, l);
  const auto ended = r->register_session(reg_from("ended", "f1", "10.0.0.1", 1000), grant_keyid(keyid_of(1), 1100));
  const auto unused = r->register_session(reg_from("unused", "f2", "10.0.0.1", 1000), grant_keyid(keyid_of(2), 90000));
  const auto busy = r->register_session(reg_from("busy", "f3", "10.0.0.1", 1000), grant_keyid(keyid_of(3), 90000));
  ended->mark_used();
  busy->mark_used();
  EXPECT_EQ(r->sweep(1150, 100), 0u);
  EXPECT_EQ(r->find_session(keyid_of(1), 1150), nullptr) << "expired, not yet swept";
  EXPECT_EQ(r->find_session(keyid_of(2), 1150), unused);
  EXPECT_EQ(r->sweep(1600, 100), 2u);  // "ended" ended 500 s ago (retention 100), "unused" reached its ttl
  for (std::uint8_t k : {1, 2}) EXPECT_EQ(r->find_session(keyid_of(k), 1600), nullptr) << int(k);
  EXPECT_EQ(r->find_session(keyid_of(3), 1600), busy);
  EXPECT_EQ(r->size(), 1u);

  // Full again with two unused identities; a newcomer evicts the oldest of them.
  const auto old_unused = r->register_session(reg_from("old", "f4", "10.0.0.2", 1700), grant_keyid(keyid_of(4), 90000));
  const auto young = r->register_session(reg_from("young", "f5", "10.0.0.2", 1705), grant_keyid(keyid_of(5), 90000));
  const auto newcomer = r->register_session(reg_from("new", "f6", "10.0.0.3", 1711), grant_keyid(keyid_of(6), 90000));
  EXPECT_EQ(r->find_session(keyid_of(4), 1711), nullptr) << "evicted";
  EXPECT_EQ(r->resolve("old"), std::nullopt);
  EXPECT_EQ(r->find_session(keyid_of(5), 1711), young);
  EXPECT_EQ(r->find_session(keyid_of(6), 1711), newcomer);
  EXPECT_EQ(r->find_session(keyid_of(3), 1711), busy);
  (void)old_unused;
}

TEST(Registry, SweepForgetsLongEndedSessions) {
  auto r = make_in_memory_registry(10, lenient());
  const auto a = r->register_session(reg("alice", 0), grant(2000));
  const auto b = r->register_session(reg("bob", 1), grant(9000));
  EXPECT_EQ(r->sweep(2500, 1000), 0u);  // ended 500 s ago, retention 1000
  EXPECT_EQ(r->sweep(3001, 1000), 1u);
  EXPECT_EQ(r->resolve("alice"), std::nullopt);
  EXPECT_EQ(r->resolve(b->uuid.to_string()), b->uuid);
  EXPECT_EQ(r->size(), 1u);
  EXPECT_NE(r->register_session(reg("alice", 0), grant())->uuid, a->uuid);  // forgotten: a new UUID
}

// The attack review filled a registry with identities that only ever made a handshake. Those are
// forgotten early, and when the registry is full the oldest of them makes room for a new key.
TEST(Registry, UnusedIdentitiesMakeRoomWhenFull) {
  RegistryLimits l;
  l.unused_evictable_after = 10;
  auto r = make_in_memory_registry(3, l);
  const auto a = r->register_session(reg_from("a", "fa", "10.0.0.1", 1000), grant());
  const auto b = r->register_session(reg_from("b", "fb", "10.0.0.1", 1001), grant());
  const auto c = r->register_session(reg_from("c", "fc", "10.0.0.1", 1002), grant());
  a->mark_used();  // a made a request: it stays
  Errc code{};
  // Nobody is old enough to be evicted yet.
  EXPECT_EQ(error_of([&] { r->register_session(reg_from("d", "fd", "10.0.0.2", 1010), grant()); }, &code),
            "registry: full, try again later");
  EXPECT_EQ(code, Errc::unavailable);
  const auto d = r->register_session(reg_from("d", "fd", "10.0.0.2", 1011), grant());
  EXPECT_EQ(r->size(), 3u);
  EXPECT_NE(r->find_client_session(a->uuid, 1011), nullptr);
  EXPECT_EQ(r->find_client_session(b->uuid, 1011), nullptr) << "the oldest unused identity made room";
  EXPECT_EQ(r->resolve("b"), std::nullopt);
  EXPECT_NE(r->find_client_session(c->uuid, 1011), nullptr);
  const auto e = r->register_session(reg_from("e", "fe", "10.0.0.2", 1012), grant());
  EXPECT_EQ(r->find_client_session(c->uuid, 1012), nullptr);
  // Left: a (used), d and e (too young): full again.
  EXPECT_EQ(error_of([&] { r->register_session(reg_from("f", "ff", "10.0.0.3", 1013), grant()); }, &code),
            "registry: full, try again later");
  // The evicted key registers again as a new identity once there is room.
  d->mark_used();
  e->mark_used();
  EXPECT_EQ(error_of([&] { r->register_session(reg_from("b", "fb", "10.0.0.1", 1100), grant()); }, &code),
            "registry: full, try again later");
}

TEST(Registry, UnusedIdentitiesAreSweptAfterTheirTtl) {
  RegistryLimits l;
  l.unused_ttl = 600;
  auto r = make_in_memory_registry(10, l);
  const auto idle = r->register_session(reg_from("idle", "fi", "10.0.0.1", 1000), grant(1000 + 3600));
  const auto busy = r->register_session(reg_from("busy", "fb", "10.0.0.1", 1000), grant(1000 + 3600));
  busy->mark_used();
  EXPECT_EQ(r->sweep(1599, 3600), 0u);
  EXPECT_EQ(r->sweep(1600, 3600), 1u);
  EXPECT_EQ(r->resolve("idle"), std::nullopt);
  EXPECT_NE(r->find_client_session(busy->uuid, 1600), nullptr);
  // Used once is used for good: a new handshake of that key keeps the mark.
  const auto again = r->register_session(reg_from("busy", "fb", "10.0.0.1", 1700), grant(1700 + 3600));
  EXPECT_EQ(again->uuid, busy->uuid);
  EXPECT_TRUE(again->used.load());
  EXPECT_EQ(r->sweep(2400, 3600), 0u);
  (void)idle;
}

TEST(Registry, OneAddressGroupHoldsAtMostItsShare) {
  RegistryLimits l;
  l.per_address = 2;
  auto r = make_in_memory_registry(100, l);
  Errc code{};
  r->register_session(reg_from("v4a", "f1", "192.0.2.7", 1000), grant());
  r->register_session(reg_from("v4b", "f2", "::ffff:192.0.2.7", 1000), grant());  // the same IPv4 host
  EXPECT_EQ(error_of([&] { r->register_session(reg_from("v4c", "f3", "192.0.2.7", 1000), grant()); }, &code),
            "registry: too many identities registered from this address");
  EXPECT_EQ(code, Errc::rate_limited);
  r->register_session(reg_from("v4c", "f3", "192.0.2.8", 1000), grant());  // another host
  // IPv6: one /64 is one group, whatever address in it the client picks.
  r->register_session(reg_from("v6a", "f4", "2001:db8:1:2::1", 1000), grant());
  r->register_session(reg_from("v6b", "f5", "2001:db8:1:2:ffff:ffff:ffff:ffff", 1000), grant());
  EXPECT_EQ(error_of([&] { r->register_session(reg_from("v6c", "f6", "2001:db8:1:2:abcd::9", 1000), grant()); }, &code),
            "registry: too many identities registered from this address");
  r->register_session(reg_from("v6c", "f6", "2001:db8:1:3::1", 1000), grant());
  // Known keys re-register from anywhere; a forgotten identity gives its share back.
  r->register_session(reg_from("v4a", "f1", "192.0.2.7", 1001), grant());
  EXPECT_EQ(r->sweep(2000, 0), 6u);  // none made a request in 600 s
  r->register_session(reg_from("v4d", "f7", "192.0.2.7", 2000), grant());
}

TEST(AddressGroup, IPv4IsTheHostAndIPv6IsTheSlash64) {
  EXPECT_EQ(address_group("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_group("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_group("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_group("2001:DB8:1:2::"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_group("::1"), "::/64");
  EXPECT_EQ(address_group("fe80::1%eth0"), "fe80::/64");
  EXPECT_EQ(address_group("not an address"), "not an address");
}

TEST(Registry, ConcurrentRegistrationsAndLookups) {
  auto r = make_in_memory_registry(100000, lenient());
  const auto a = r->register_session(reg("alice", 0), grant(1 << 30));
  std::atomic<int> found{0};
  std::vector<std::thread> threads;
  std::vector<std::set<std::string>> uuids(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        // Distinct "keys" by fingerprint; the same parsed key object is fine here.
        Registration rg{"c" + std::to_string(t) + "_" + std::to_string(i),
                        key(1),
                        "fp" + std::to_string(t) + "_" + std::to_string(i),
                        std::nullopt,
                        "127.0.0.1",
                        1000};
        uuids[static_cast<std::size_t>(t)].insert(r->register_session(rg, grant())->uuid.to_string());
        if (r->find_session(a->keyid, 1000)) ++found;
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
  EXPECT_EQ(c.check_and_insert("other", n, 1000), ReplayCache::Verdict::fresh);        // scoped per key id
  EXPECT_EQ(c.check_and_insert("k", n, 1119), ReplayCache::Verdict::replayed);         // at least one window
  EXPECT_EQ(c.check_and_insert("k", n, 1000 + 2 * 120), ReplayCache::Verdict::fresh);  // less than two
  // Generations are aligned on multiples of the window: remembered to the end of the next one.
  ReplayCache d(120, 1000);
  EXPECT_EQ(d.check_and_insert("k", n, 960), ReplayCache::Verdict::fresh);
  EXPECT_EQ(d.check_and_insert("k", n, 1199), ReplayCache::Verdict::replayed);
  EXPECT_EQ(d.check_and_insert("k", n, 1200), ReplayCache::Verdict::fresh);
}

// The attack review: at --replay-capacity 1024 one client's 512 requests made every client's
// answer 503. Each scope has its share; past it only that scope is refused.
TEST(ReplayCache, OneScopeCannotTakeOtherScopesShare) {
  ReplayCache c(60, 1 << 16, 100);
  int fresh = 0, scope_full = 0;
  for (int i = 0; i < 300; ++i) {
    const Bytes n = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8)};
    const auto v = c.check_and_insert("greedy", n, 1000);
    fresh += v == ReplayCache::Verdict::fresh;
    scope_full += v == ReplayCache::Verdict::scope_full;
  }
  EXPECT_EQ(fresh, 100);
  EXPECT_EQ(scope_full, 200);
  EXPECT_EQ(c.size(), 100u);
  // A nonce already seen is still a replay, not a quota matter.
  EXPECT_EQ(c.check_and_insert("greedy", Bytes{0, 0}, 1000), ReplayCache::Verdict::replayed);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(c.check_and_insert("other", Bytes{static_cast<std::uint8_t>(i)}, 1000), ReplayCache::Verdict::fresh) << i;
  EXPECT_EQ(c.check_and_insert("other", Bytes{0xee, 0xee}, 1000), ReplayCache::Verdict::scope_full);
  // Entries of the previous generation still count; once they are dropped the share is back.
  EXPECT_EQ(c.check_and_insert("greedy", Bytes{0xff, 0xff}, 1061), ReplayCache::Verdict::scope_full);
  EXPECT_EQ(c.check_and_insert("greedy", Bytes{0xff, 0xff}, 1140), ReplayCache::Verdict::fresh);
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
