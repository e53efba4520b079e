// The registry in Redis, as several instances see it: two registries (two instances, each with
// its own one-second cache) on one real redis-server.
#include <gtest/gtest.h>

#include <ctime>
#include <thread>

#include "core/error.hpp"
#include "core/rsa.hpp"
#include "store/redis_client.hpp"
#include "store/redis_registry.hpp"
#include "store/sealed_value.hpp"
#include "support/redis_server.hpp"
#include "support/test_support.hpp"

namespace mh::store {
namespace {

const RsaPublicKey& key(int i) {
  static const std::vector<RsaPublicKey> keys = [] {
    std::vector<RsaPublicKey> v;
    for (int k = 0; k < 4; ++k) v.push_back(RsaPrivateKey::generate(2048).public_key());
    return v;
  }();
  return keys[static_cast<std::size_t>(i)];
}

std::int64_t now() { return std::time(nullptr); }

auth::Registration reg(const std::string& name, int k, std::optional<Uuid> requested = std::nullopt,
                       const std::string& address = "127.0.0.1") {
  return auth::Registration{name, key(k), key(k).fingerprint(), requested, address, now()};
}

// A fresh session each time, as the handshake makes one; `secret` receives its bytes.
auth::ClientRegistry::Grant grant(Bytes* secret = nullptr) {
  return [secret](const Uuid&) {
    KeyId keyid{};
    const Bytes id = random_bytes(keyid.size());
    std::copy(id.begin(), id.end(), keyid.begin());
    const Bytes s = random_bytes(32);
    if (secret) *secret = s;
    return auth::SessionGrant{SessionSecret(s), keyid, now() + 600, 262144};
  };
}

std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) { return std::to_string(http_status(e.code())) + " " + e.what(); }
  return "no error";
}

void wait_past_cache() { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); }

class RedisRegistryTest : public ::testing::Test {
 protected:
  RedisRegistryTest() { rebuild({}); }

  void rebuild(RedisRegistryOptions o) {
    a_.reset();
    b_.reset();
    a_ = make_redis_registry(redis_a_, sealer_, o);
    b_ = make_redis_registry(redis_b_, sealer_, o);
  }

  static RedisOptions options(const test::RedisServer& s) {
    RedisOptions o;
    o.address = parse_redis_url(s.url());
    o.timeout = std::chrono::milliseconds(500);
    return o;
  }

  test::RedisServer server_;
  const Ed25519KeyPair identity_ = Ed25519KeyPair::generate();
  ValueSealer sealer_{identity_};
  RedisClient redis_a_{options(server_)};
  RedisClient redis_b_{options(server_)};
  RedisClient admin_{options(server_)};
  std::unique_ptr<auth::ClientRegistry> a_, b_;
};

TEST_F(RedisRegistryTest, ASessionMadeOnOneInstanceIsFoundOnAnother) {
  Bytes secret;
  const auto rec = a_->register_session(reg("alice", 0), grant(&secret));
  const auto found = b_->find_session(rec->keyid, now());
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->uuid, rec->uuid);
  EXPECT_EQ(found->name, "alice");
  EXPECT_EQ(found->fingerprint, key(0).fingerprint());
  EXPECT_EQ(Bytes(found->session_secret.bytes().begin(), found->session_secret.bytes().end()), secret);
  EXPECT_EQ(found->chunk_size, 262144u);
  EXPECT_EQ(found->key.spki_der(), key(0).spki_der());
  EXPECT_EQ(b_->find_client_session(rec->uuid, now())->keyid, rec->keyid);
  EXPECT_EQ(b_->resolve("alice"), rec->uuid);
  EXPECT_EQ(b_->resolve(rec->uuid.to_string()), rec->uuid);
  EXPECT_EQ(b_->resolve("nobody"), std::nullopt);
  ASSERT_EQ(b_->list().size(), 1u);
  EXPECT_EQ(b_->list()[0].name, "alice");
  EXPECT_EQ(b_->size(), 1u);
}

TEST_F(RedisRegistryTest, TheSameKeyKeepsItsUuidWhereverItHandshakesAndTheOldKeyidEnds) {
  const auto first = a_->register_session(reg("alice", 0), grant());
  const auto again = b_->register_session(reg("alice", 0), grant());
  EXPECT_EQ(again->uuid, first->uuid);
  EXPECT_NE(again->keyid, first->keyid);
  EXPECT_EQ(b_->find_session(first->keyid, now()), nullptr);  // B never cached it
  wait_past_cache();                                          // A made it: it trusts it a second
  EXPECT_EQ(a_->find_session(first->keyid, now()), nullptr);
  EXPECT_NE(a_->find_session(again->keyid, now()), nullptr);
}

TEST_F(RedisRegistryTest, RefusalsHoldAcrossInstances) {
  const auto alice = a_->register_session(reg("alice", 0), grant());
  EXPECT_EQ(refusal([&] { b_->register_session(reg("alice", 1), grant()); }),
            "409 registry: the name is held by another key");
  EXPECT_EQ(refusal([&] { b_->register_session(reg("mallory", 1, alice->uuid), grant()); }),
            "403 registry: that UUID belongs to another key");
}

TEST_F(RedisRegistryTest, AHelloOlderThanTheKeysLastOneCannotReplaceItsSession) {
  auth::Registration r = reg("alice", 0);
  r.hello_time = now();
  const auto current = a_->register_session(r, grant());
  r.hello_time -= 5;  // replayed after the store lost its nonces
  EXPECT_EQ(refusal([&] { b_->register_session(r, grant()); }), "403 handshake: hello replayed");
  EXPECT_NE(b_->find_session(current->keyid, now()), nullptr);
  r.hello_time += 5;  // the same second again is not older
  EXPECT_EQ(b_->register_session(r, grant())->uuid, current->uuid);
}

TEST_F(RedisRegistryTest, ThePerAddressLimitCountsEveryInstancesRegistrations) {
  RedisRegistryOptions o;
  o.limits.per_address = 2;
  rebuild(o);
  a_->register_session(reg("a", 0, std::nullopt, "10.0.0.1"), grant());
  b_->register_session(reg("b", 1, std::nullopt, "10.0.0.1"), grant());
  EXPECT_EQ(refusal([&] { a_->register_session(reg("c", 2, std::nullopt, "10.0.0.1"), grant()); }),
            "429 registry: too many identities registered from this address");
  b_->register_session(reg("c", 2, std::nullopt, "10.0.0.2"), grant());  // another address may
}

TEST_F(RedisRegistryTest, AFullRegistryEvictsOnlyAnOldUnusedIdentity) {
  RedisRegistryOptions o;
  o.capacity = 2;
  o.limits.unused_evictable_after = 0;
  rebuild(o);
  const auto used = a_->register_session(reg("used", 0), grant());
  used->mark_used();
  a_->flush(now());
  const auto unused = b_->register_session(reg("unused", 1), grant());
  const auto newcomer = a_->register_session(reg("new", 2), grant());  // takes the unused one's place
  newcomer->mark_used();
  a_->flush(now());
  EXPECT_EQ(b_->resolve("unused"), std::nullopt);
  EXPECT_EQ(b_->resolve("used"), used->uuid);
  EXPECT_EQ(b_->resolve("new"), newcomer->uuid);
  EXPECT_EQ(refusal([&] { b_->register_session(reg("late", 3), grant()); }), "503 registry: full, try again later");
}

TEST_F(RedisRegistryTest, EndingASessionIsSeenEverywhereWithinASecond) {
  const auto rec = a_->register_session(reg("alice", 0), grant());
  ASSERT_NE(b_->find_session(rec->keyid, now()), nullptr);  // B caches it
  EXPECT_TRUE(a_->end_session(rec->uuid));
  EXPECT_EQ(a_->find_session(rec->keyid, now()), nullptr);  // at once where it ended
  wait_past_cache();
  EXPECT_EQ(b_->find_session(rec->keyid, now()), nullptr);
  EXPECT_EQ(b_->find_client_session(rec->uuid, now()), nullptr);
  EXPECT_EQ(b_->resolve("alice"), rec->uuid);  // the identity stays
  const auto list = b_->list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].session_expires, 0);
  EXPECT_FALSE(b_->end_session(Uuid::random_v4()));
}

TEST_F(RedisRegistryTest, FlushWritesBackLastSeenAndFirstUseWhichKeepsTheIdentityLonger) {
  RedisRegistryOptions o;
  o.limits.unused_ttl = 60;
  o.retention = 3600;
  rebuild(o);
  const auto rec = a_->register_session(reg("alice", 0), grant());
  const std::string id = "mh:id:" + rec->uuid.to_string();
  // Unused: kept until its session ends at most. The grant reads the clock after the script did, so a
  // second may have begun in between.
  EXPECT_LE(admin_.command({"TTL", id}).integer, 601);
  const auto seen = b_->find_session(rec->keyid, now());
  seen->last_seen.store(now() + 5);
  seen->mark_used();
  b_->flush(now());
  EXPECT_EQ(admin_.command({"HGET", id, "used"}).str, "1");
  EXPECT_EQ(admin_.command({"HGET", id, "last_seen"}).str, std::to_string(now() + 5));
  EXPECT_GT(admin_.command({"TTL", id}).integer, 3600);  // its session's 600 s plus the retention
  EXPECT_GT(admin_.command({"TTL", "mh:name:alice"}).integer, 3600);
}

TEST_F(RedisRegistryTest, ADumpOfRedisHoldsNoSessionSecret) {
  Bytes secret;
  const auto rec = a_->register_session(reg("alice", 0), grant(&secret));
  const std::string needle(as_chars(secret));
  const std::string hex = to_hex(secret);
  std::string dump;
  for (const auto& k : admin_.command({"KEYS", "*"}).elements) {
    const Reply type = admin_.command({"TYPE", k.str});
    if (type.str == "string") dump += admin_.command({"GET", k.str}).str;
    if (type.str == "hash")
      for (const auto& f : admin_.command({"HGETALL", k.str}).elements) dump += f.str;
  }
  ASSERT_FALSE(dump.empty());
  EXPECT_EQ(dump.find(needle), std::string::npos);
  EXPECT_EQ(dump.find(hex), std::string::npos);
  EXPECT_NE(b_->find_session(rec->keyid, now()), nullptr);
}

TEST_F(RedisRegistryTest, ASessionSealedByAnotherServerIdentityIsNotASession) {
  const auto rec = a_->register_session(reg("alice", 0), grant());
  const Ed25519KeyPair other = Ed25519KeyPair::generate();
  ValueSealer other_sealer(other);
  const auto stranger = make_redis_registry(redis_b_, other_sealer, {});
  EXPECT_EQ(stranger->find_session(rec->keyid, now()), nullptr);
  // Nor does a value moved under another keyid open.
  const auto bob = a_->register_session(reg("bob", 1), grant());
  const std::string alice_value = admin_.command({"GET", "mh:sess:" + to_hex(rec->keyid)}).str;
  admin_.command({"SET", "mh:sess:" + to_hex(bob->keyid), alice_value});
  EXPECT_EQ(b_->find_session(bob->keyid, now()), nullptr);
}

TEST_F(RedisRegistryTest, RedisDownIs503AndItRecoversByItself) {
  const auto rec = a_->register_session(reg("alice", 0), grant());
  server_.stop();
  wait_past_cache();
  const std::string down = refusal([&] { b_->find_session(rec->keyid, now()); });
  EXPECT_EQ(down.rfind("503 store: ", 0), 0u) << down;
  EXPECT_EQ(refusal([&] { a_->register_session(reg("bob", 1), grant()); }).rfind("503 store: ", 0), 0u);
  server_.start();  // empty: every session is gone with it
  EXPECT_EQ(b_->find_session(rec->keyid, now()), nullptr);
  const auto again = a_->register_session(reg("alice", 0), grant());
  EXPECT_NE(b_->find_session(again->keyid, now()), nullptr);
}

TEST_F(RedisRegistryTest, SweepDropsForgottenIdentitiesFromTheListing) {
  const auto rec = a_->register_session(reg("alice", 0), grant());
  admin_.command({"DEL", "mh:id:" + rec->uuid.to_string()});  // as its TTL would
  EXPECT_EQ(b_->size(), 1u);
  EXPECT_TRUE(b_->list().empty());
  EXPECT_EQ(b_->sweep(now(), 3600), 1u);
  EXPECT_EQ(b_->size(), 0u);
}

}  // namespace
}  // namespace mh::store
