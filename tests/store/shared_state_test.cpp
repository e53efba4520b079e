// Nonces, handshake budgets and the store's owner, shared by instances through a real
// redis-server: what one instance saw, another refuses.
#include <gtest/gtest.h>

#include <ctime>
#include <thread>

#include "core/error.hpp"
#include "store/redis_client.hpp"
#include "store/redis_limiter.hpp"
#include "store/redis_nonces.hpp"
#include "store/sealed_value.hpp"
#include "store/shared_store.hpp"
#include "support/redis_server.hpp"
#include "support/test_support.hpp"

namespace mh::store {
namespace {

using Verdict = auth::NonceStore::Verdict;

RedisOptions options(const test::RedisServer& s) {
  RedisOptions o;
  o.address = parse_redis_url(s.url());
  o.timeout = std::chrono::milliseconds(500);
  return o;
}

std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) { return std::to_string(http_status(e.code())) + " " + e.what(); }
  return "no error";
}

TEST(RedisNonces, ANonceSeenByOneInstanceIsAReplayOnAnother) {
  test::RedisServer server;
  RedisClient ra(options(server)), rb(options(server));
  RedisNonceStore a(ra, "mh:rn:", 61), b(rb, "mh:rn:", 61);
  const auto t = std::time(nullptr);
  EXPECT_EQ(a.check_and_insert("client-1", as_bytes("n-1"), t), Verdict::fresh);
  EXPECT_EQ(b.check_and_insert("client-1", as_bytes("n-1"), t), Verdict::replayed);
  EXPECT_EQ(a.check_and_insert("client-1", as_bytes("n-1"), t), Verdict::replayed);
  EXPECT_EQ(b.check_and_insert("client-2", as_bytes("n-1"), t), Verdict::fresh);  // scoped
  // Binary nonces (a hello's 32 bytes) are kept as they are.
  const Bytes raw = {0, 1, 2, 0xff, 0};
  EXPECT_EQ(a.check_and_insert("hello", raw, t), Verdict::fresh);
  EXPECT_EQ(b.check_and_insert("hello", raw, t), Verdict::replayed);
  // Kept for the window, then forgotten by Redis itself.
  const Reply ttl = ra.command({"TTL", "mh:rn:" + to_hex(as_bytes("client-1")) + ":n-1"});
  EXPECT_GT(ttl.integer, 55);
  EXPECT_LE(ttl.integer, 61);
}

TEST(RedisNonces, OneScopesShareIsCountedAcrossInstancesAndRefusedPastIt) {
  test::RedisServer server;
  RedisClient ra(options(server)), rb(options(server));
  RedisNonceStore a(ra, "mh:rn:", 61, 3), b(rb, "mh:rn:", 61, 3);
  const auto t = std::time(nullptr);
  EXPECT_EQ(a.check_and_insert("c", as_bytes("1"), t), Verdict::fresh);
  EXPECT_EQ(b.check_and_insert("c", as_bytes("2"), t), Verdict::fresh);
  EXPECT_EQ(a.check_and_insert("c", as_bytes("2"), t), Verdict::replayed);  // a replay takes no share
  EXPECT_EQ(a.check_and_insert("c", as_bytes("3"), t), Verdict::fresh);
  EXPECT_EQ(b.check_and_insert("c", as_bytes("4"), t), Verdict::scope_full);
  EXPECT_EQ(b.check_and_insert("other", as_bytes("4"), t), Verdict::fresh);  // nobody else is refused
}

TEST(RedisNonces, RedisOutOfMemoryIsFullAndRedisDownIsUnavailableNeverFresh) {
  test::RedisServer server;
  RedisClient r(options(server));
  RedisNonceStore n(r, "mh:rn:", 61);
  const auto t = std::time(nullptr);
  r.command({"CONFIG", "SET", "maxmemory", "1"});
  EXPECT_EQ(n.check_and_insert("c", as_bytes("1"), t), Verdict::full);
  r.command({"CONFIG", "SET", "maxmemory", "0"});
  EXPECT_EQ(n.check_and_insert("c", as_bytes("1"), t), Verdict::fresh);
  server.stop();
  EXPECT_EQ(refusal([&] { n.check_and_insert("c", as_bytes("2"), t); }).rfind("503 store: ", 0), 0u);
}

TEST(RedisLimiter, InstancesShareOneBucket) {
  test::RedisServer server;
  RedisClient ra(options(server)), rb(options(server));
  RedisLimiter a(ra, "mh:hl:", 0.01, 3), b(rb, "mh:hl:", 0.01, 3);
  EXPECT_TRUE(a.allow("10.0.0.1", 0));
  EXPECT_TRUE(b.allow("10.0.0.1", 0));
  EXPECT_TRUE(a.allow("10.0.0.1", 0));
  EXPECT_FALSE(b.allow("10.0.0.1", 0));  // the burst of 3 is spent, whoever spent it
  EXPECT_FALSE(a.allow("10.0.0.1", 0));
  EXPECT_TRUE(b.allow("10.0.0.2", 0));                          // per key
  EXPECT_GT(ra.command({"TTL", "mh:hl:10.0.0.1"}).integer, 0);  // an idle bucket expires
}

TEST(RedisLimiter, RefillsAtItsRate) {
  test::RedisServer server;
  RedisClient r(options(server));
  RedisLimiter l(r, "mh:hl:", 20, 1);
  EXPECT_TRUE(l.allow("k", 0));
  EXPECT_FALSE(l.allow("k", 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // 3 tokens' worth, capped at 1
  EXPECT_TRUE(l.allow("k", 0));
}

struct Logged {
  std::mutex m;
  std::vector<std::string> lines;
  std::function<void(bool, const std::string&)> sink() {
    return [this](bool warn, const std::string& line) {
      std::lock_guard lock(m);
      lines.push_back((warn ? "warn " : "info ") + line);
    };
  }
  bool has(const std::string& part) {
    std::lock_guard lock(m);
    for (const auto& l : lines)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }
};

SharedStoreOptions shared_options(const test::RedisServer& s, Logged& log) {
  SharedStoreOptions o;
  o.address = parse_redis_url(s.url());
  o.timeout = std::chrono::milliseconds(500);
  o.max_skew = 30;
  o.log = log.sink();
  return o;
}

TEST(SharedStore, TheStoreBelongsToTheFirstServerIdentityThatUsesIt) {
  test::RedisServer server;
  Logged log;
  const Ed25519KeyPair ours = Ed25519KeyPair::generate();
  SharedStore a(ours, shared_options(server, log));
  SharedStore b(ours, shared_options(server, log));  // another instance of the same server
  RedisClient admin(options(server));
  EXPECT_EQ(admin.command({"GET", "mh:owner"}).str, ed25519_fingerprint(ours.public_key()));
  const Ed25519KeyPair theirs = Ed25519KeyPair::generate();
  const std::string refused = refusal([&] { SharedStore c(theirs, shared_options(server, log)); });
  EXPECT_EQ(refused, "403 store: " + server.url() + " holds the state of another server (" +
                         ed25519_fingerprint(ours.public_key()) + "); this server is " +
                         ed25519_fingerprint(theirs.public_key()) +
                         ": give it a copy of that server's keys, or a store of its own (another Redis, or another "
                         "database: redis://HOST:PORT/N)");
}

TEST(SharedStore, StartsWithoutRedisAnswering503AndRecoversSayingSo) {
  test::RedisServer server;
  Logged log;
  server.stop();
  SharedStore s(Ed25519KeyPair::generate(), shared_options(server, log));
  EXPECT_TRUE(log.has("warn store: "));
  const auto t = std::time(nullptr);
  EXPECT_EQ(refusal([&] { s.request_nonces().check_and_insert("c", as_bytes("1"), t); }).rfind("503 store: ", 0), 0u);
  server.start();
  EXPECT_EQ(s.request_nonces().check_and_insert("c", as_bytes("1"), t), Verdict::fresh);
  EXPECT_TRUE(log.has("info store: " + server.url() + " reachable again; serving"));
}

TEST(SharedStore, ARestartFromASnapshotRefusesWhatWasSignedBeforeItARestartEmptyNeedNot) {
  test::RedisServer server;
  Logged log;
  const Ed25519KeyPair id = Ed25519KeyPair::generate();
  SharedStore s(id, shared_options(server, log));
  const auto t = std::time(nullptr);
  EXPECT_EQ(s.request_nonces().check_and_insert("c", as_bytes("1"), t), Verdict::fresh);
  EXPECT_EQ(s.request_nonces().vouches_from(), INT64_MIN);

  // The first call after a restart may meet the broken connection (503) or dial again at once.
  const auto settled = [&](const char* nonce) {
    for (int i = 0;; ++i) try {
        return s.request_nonces().check_and_insert("c", as_bytes(nonce), t);
      } catch (const Error& e) {
        if (e.code() != Errc::unavailable || i == 2) throw;
      }
  };
  server.restart();  // empty, as --save "" leaves it: the sessions went with the nonces
  EXPECT_EQ(settled("1"), Verdict::fresh);
  EXPECT_EQ(s.request_nonces().vouches_from(), INT64_MIN);
  EXPECT_TRUE(log.has("Redis restarted empty"));

  // As a snapshot would bring it back: the owner is there, the last nonces may not be.
  server.restart();
  {
    RedisClient admin(options(server));
    admin.command({"SET", "mh:owner", ed25519_fingerprint(id.public_key())});
    admin.command({"SET", "mh:claimed_in", "an earlier run"});
  }
  const auto restarted = std::time(nullptr);
  // The call that finds the restart already answers with the new rule in force.
  EXPECT_EQ(settled("1"), Verdict::fresh);
  EXPECT_GE(s.request_nonces().vouches_from(), restarted + 31);
  EXPECT_LE(s.request_nonces().vouches_from(), std::time(nullptr) + 31);
  EXPECT_EQ(s.hello_nonces().vouches_from(), s.request_nonces().vouches_from());
  EXPECT_TRUE(log.has("Redis restarted with its data"));
}

TEST(SharedStore, EveryInstanceKnowsAStoreFoundEmptyAfterARestartWhoeverClaimedItAgain) {
  test::RedisServer server;
  Logged log_a, log_b;
  const Ed25519KeyPair id = Ed25519KeyPair::generate();
  SharedStore a(id, shared_options(server, log_a)), b(id, shared_options(server, log_b));
  const auto t = std::time(nullptr);
  EXPECT_EQ(a.request_nonces().check_and_insert("c", as_bytes("1"), t), Verdict::fresh);
  EXPECT_EQ(b.request_nonces().check_and_insert("c", as_bytes("2"), t), Verdict::fresh);
  server.restart();
  EXPECT_EQ(a.request_nonces().check_and_insert("c", as_bytes("3"), t), Verdict::fresh);  // a claims it again
  EXPECT_EQ(b.request_nonces().check_and_insert("c", as_bytes("4"), t), Verdict::fresh);
  EXPECT_EQ(a.request_nonces().vouches_from(), INT64_MIN);
  EXPECT_EQ(b.request_nonces().vouches_from(), INT64_MIN);
  EXPECT_TRUE(log_b.has("Redis restarted empty"));
}

TEST(SharedStore, ARedisThatMayEvictKeysIsRefusedUntilItIsSetToNoeviction) {
  test::RedisServer server;
  RedisClient admin(options(server));
  admin.command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  Logged log;
  SharedStore s(Ed25519KeyPair::generate(), shared_options(server, log));
  const auto t = std::time(nullptr);
  const std::string why =
      "503 store: Redis may evict keys (maxmemory-policy allkeys-lru), which would forget nonces: set "
      "maxmemory-policy noeviction";
  EXPECT_EQ(refusal([&] { s.request_nonces().check_and_insert("c", as_bytes("1"), t); }), why);
  EXPECT_TRUE(log.has(why.substr(4)));  // said at start too
  admin.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  EXPECT_EQ(s.request_nonces().check_and_insert("c", as_bytes("1"), t), Verdict::fresh);
}

}  // namespace
}  // namespace mh::store
