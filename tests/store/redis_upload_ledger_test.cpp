// The upload books in a real redis-server, used by two "instances" (two clients, two ledgers): an
// attempt made on one is committed or discarded on the other, and the quota holds across them.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "store/redis_client.hpp"
#include "store/redis_upload_ledger.hpp"
#include "store/redis_test_util.hpp"
#include "support/redis_server.hpp"

namespace mh::store {
namespace {

using auth::LedgerResult;

constexpr const char* kArea = "ab12";
constexpr const char* kId1 = "00000000000000000000000000000001";
constexpr const char* kId2 = "00000000000000000000000000000002";
constexpr const char* kId3 = "00000000000000000000000000000003";
constexpr std::int64_t kNow = 1'000'000;

auth::UploadLimits limits() {
  auth::UploadLimits l;
  l.quota = 10000;
  l.max_files = 4;
  l.max_pending = 3;
  l.attempt_timeout = 60;
  return l;
}

struct RedisUploadLedger : ::testing::Test {
  test::RedisServer server;
  RedisClient ra{testing::options_for(server)}, rb{testing::options_for(server)};
  std::unique_ptr<auth::UploadLedger> a = make_redis_upload_ledger(ra, limits());
  std::unique_ptr<auth::UploadLedger> b = make_redis_upload_ledger(rb, limits());

  auth::UploadBooks books(auth::UploadLedger& l, std::int64_t now = kNow) {
    auth::UploadBooks out;
    EXPECT_EQ(l.books(kArea, now, out), LedgerResult::ok);
    return out;
  }
  // A PUT that ended on `l`: hold `id` of `held` bytes, then the attempt at `charge`.
  void attempt(auth::UploadLedger& l, const std::string& id, const std::string& name, std::uint64_t charge,
               std::int64_t now = kNow) {
    std::uint64_t held = 0;
    ASSERT_EQ(l.reserve(kArea, id, charge, charge, now, held), LedgerResult::ok);
    ASSERT_EQ(held, charge);
    ASSERT_EQ(l.attempt_ready(kArea, id, auth::UploadAttempt{name, charge - 1, 77, now, charge}, now),
              LedgerResult::ok);
  }
};

TEST_F(RedisUploadLedger, TheBooksAreLearntFromDiskOnceWhoeverLoadsFirst) {
  std::uint64_t held = 0;
  EXPECT_EQ(a->reserve(kArea, kId1, 4096, 4096, kNow, held), LedgerResult::unloaded);
  auth::UploadBooks out;
  EXPECT_EQ(b->books(kArea, kNow, out), LedgerResult::unloaded);
  a->load(kArea, {{"x.txt", 4096}, {"d/y.txt", 5000}});
  b->load(kArea, {{"x.txt", 4096}, {"d/y.txt", 5000}});  // B scanned too: not counted twice
  const auth::UploadBooks got = books(*b);
  EXPECT_EQ(got.committed, 9096u);
  EXPECT_EQ(got.files, 2u);
  EXPECT_EQ(got.pending, 0u);
  EXPECT_EQ(got.attempts, 0u);
}

TEST_F(RedisUploadLedger, AnAttemptMadeOnOneIsCommittedOnTheOther) {
  a->load(kArea, {});
  attempt(*a, kId1, "a/b.txt", 5000);
  EXPECT_TRUE(b->live(kArea, kId1, kNow));
  auth::UploadAttempt found;
  ASSERT_EQ(b->find(kArea, kId1, "a/b.txt", kNow + 1, found), LedgerResult::ok);
  EXPECT_EQ(found.size, 4999u);
  EXPECT_EQ(found.crc, 77u);
  EXPECT_EQ(found.created, kNow);
  EXPECT_EQ(found.charge, 5000u);
  EXPECT_EQ(b->find(kArea, kId1, "other.txt", kNow, found), LedgerResult::no_attempt);
  EXPECT_EQ(b->find("cd34", kId1, "a/b.txt", kNow, found), LedgerResult::unloaded);  // another area's
  ASSERT_EQ(b->committed(kArea, kId1, "a/b.txt", 5000, kNow + 1), LedgerResult::ok);
  const auth::UploadBooks got = books(*a);
  EXPECT_EQ(got.committed, 5000u);
  EXPECT_EQ(got.pending, 0u);
  EXPECT_EQ(got.files, 1u);
  EXPECT_EQ(got.attempts, 0u);
  EXPECT_EQ(a->find(kArea, kId1, "a/b.txt", kNow + 1, found), LedgerResult::no_attempt);
  EXPECT_FALSE(a->live(kArea, kId1, kNow + 1));
  // Replacing it counts only the difference; removing it frees it.
  attempt(*b, kId2, "a/b.txt", 4096);
  ASSERT_EQ(a->committed(kArea, kId2, "a/b.txt", 4096, kNow), LedgerResult::ok);
  EXPECT_EQ(books(*b).committed, 4096u);
  EXPECT_EQ(books(*b).files, 1u);
  ASSERT_EQ(b->removed(kArea, "a/b.txt", kNow), LedgerResult::ok);
  EXPECT_EQ(books(*a).committed, 0u);
  EXPECT_EQ(books(*a).files, 0u);
}

TEST_F(RedisUploadLedger, TheQuotaHoldsAcrossInstancesAtTheBoundary) {
  a->load(kArea, {});
  std::uint64_t held = 0;
  ASSERT_EQ(a->reserve(kArea, kId1, 4096, 4096, kNow, held), LedgerResult::ok);
  EXPECT_EQ(held, 4096u);
  ASSERT_EQ(b->reserve(kArea, kId2, 4096, 4096, kNow, held), LedgerResult::ok);
  EXPECT_EQ(held, 4096u);
  // 10000 - 8192 = 1808 left: not 1809 more, on either instance; exactly 1808 fits.
  EXPECT_EQ(a->reserve(kArea, kId3, 1809, 4096, kNow, held), LedgerResult::over_quota);
  EXPECT_EQ(b->reserve(kArea, kId3, 1809, 4096, kNow, held), LedgerResult::over_quota);
  ASSERT_EQ(b->reserve(kArea, kId3, 1808, 4096, kNow, held), LedgerResult::ok);
  EXPECT_EQ(held, 1808u);  // up to what is left
  EXPECT_EQ(books(*a).pending, 10000u);
  // Three holds: the pending limit, whichever instance asks.
  EXPECT_EQ(a->reserve(kArea, "00000000000000000000000000000004", 0, 0, kNow, held), LedgerResult::over_pending);
  a->release(kArea, kId3);
  a->release(kArea, kId2);  // B's hold, released through A
  const auth::UploadBooks got = books(*b);
  EXPECT_EQ(got.pending, 4096u);
  EXPECT_EQ(got.attempts, 1u);
  ASSERT_EQ(b->reserve(kArea, kId2, 5904, 9000, kNow, held), LedgerResult::ok);
  EXPECT_EQ(held, 5904u);
}

TEST_F(RedisUploadLedger, FilesAndAttemptsTogetherAreCapped) {
  a->load(kArea, {{"1", 4096}, {"2", 10}, {"3", 10}});
  std::uint64_t held = 0;
  ASSERT_EQ(a->reserve(kArea, kId1, 0, 100, kNow, held), LedgerResult::ok);
  EXPECT_EQ(b->reserve(kArea, kId2, 0, 100, kNow, held), LedgerResult::over_files);
}

TEST_F(RedisUploadLedger, AnAttemptDiscardedOnOneIsGoneOnBoth) {
  a->load(kArea, {});
  attempt(*a, kId1, "x", 4096);
  EXPECT_EQ(b->discard(kArea, kId1, "y", kNow), LedgerResult::no_attempt);  // not that name
  EXPECT_EQ(b->discard(kArea, kId1, "x", kNow), LedgerResult::ok);
  EXPECT_EQ(a->discard(kArea, kId1, "x", kNow), LedgerResult::no_attempt);
  auth::UploadAttempt found;
  EXPECT_EQ(a->find(kArea, kId1, "x", kNow, found), LedgerResult::no_attempt);
  EXPECT_FALSE(a->live(kArea, kId1, kNow));
  const auth::UploadBooks got = books(*a);
  EXPECT_EQ(got.pending, 0u);
  EXPECT_EQ(got.attempts, 0u);
  EXPECT_TRUE(a->sweep(kNow + 3600).empty());  // nothing left for the sweep
}

TEST_F(RedisUploadLedger, AttemptsAndHoldsExpireAfterTheTimeout) {
  a->load(kArea, {});
  attempt(*a, kId1, "x", 4096);
  const Reply ttl = ra.command({"TTL", std::string("mh:up:att:") + kId1});
  EXPECT_GT(ttl.integer, 0);
  EXPECT_LE(ttl.integer, 60);
  auth::UploadAttempt found;
  EXPECT_EQ(b->find(kArea, kId1, "x", kNow + 59, found), LedgerResult::ok);
  EXPECT_TRUE(b->live(kArea, kId1, kNow + 59));
  EXPECT_FALSE(b->live(kArea, kId1, kNow + 60));
  EXPECT_EQ(b->find(kArea, kId1, "x", kNow + 60, found), LedgerResult::expired);
  EXPECT_EQ(books(*a, kNow + 60).pending, 0u);
  EXPECT_EQ(a->find(kArea, kId1, "x", kNow + 60, found), LedgerResult::no_attempt);

  // One the sweep finds: dropped once, by whichever instance sweeps first.
  attempt(*a, kId2, "y", 4096, kNow + 100);
  EXPECT_TRUE(b->sweep(kNow + 159).empty());
  const auto gone = b->sweep(kNow + 160);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].first, kArea);
  EXPECT_EQ(gone[0].second, kId2);
  EXPECT_TRUE(a->sweep(kNow + 160).empty());
  EXPECT_EQ(books(*a, kNow + 160).attempts, 0u);

  // A hold (an instance killed mid-upload never releases it) frees its room by itself.
  std::uint64_t held = 0;
  ASSERT_EQ(a->reserve(kArea, kId3, 10000, 10000, kNow + 200, held), LedgerResult::ok);
  EXPECT_EQ(b->reserve(kArea, kId1, 1, 1, kNow + 259, held), LedgerResult::over_quota);
  EXPECT_EQ(b->reserve(kArea, kId1, 1, 1, kNow + 260, held), LedgerResult::ok);
  EXPECT_EQ(held, 1u);
  // The upload of the expired hold finishes: it must fit as a new attempt, and 9999 left does not hold 10000.
  EXPECT_EQ(a->attempt_ready(kArea, kId3, auth::UploadAttempt{"z", 10000, 1, kNow + 200, 10000}, kNow + 260),
            LedgerResult::over_quota);
}

TEST_F(RedisUploadLedger, LiveAttemptsAndHoldsOfOtherInstancesAreKnownAtStartUp) {
  a->load(kArea, {});
  std::uint64_t held = 0;
  ASSERT_EQ(a->reserve(kArea, kId1, 10, 10, kNow, held), LedgerResult::ok);  // in progress on A
  attempt(*a, kId2, "x", 4096);                                              // awaiting commit on A
  // A new instance C asks before it removes leftovers from the shared directory.
  RedisClient rc{testing::options_for(server)};
  const auto c = make_redis_upload_ledger(rc, limits());
  EXPECT_TRUE(c->live(kArea, kId1, kNow + 1));
  EXPECT_TRUE(c->live(kArea, kId2, kNow + 1));
  EXPECT_FALSE(c->live(kArea, kId3, kNow + 1));   // never made
  EXPECT_FALSE(c->live("ffff", kId2, kNow + 1));  // not in that area
  EXPECT_FALSE(c->live(kArea, kId2, kNow + 60));  // expired
}

TEST_F(RedisUploadLedger, RedisUnreachableIsUnavailable) {
  a->load(kArea, {});
  server.stop();
  std::uint64_t held = 0;
  try {
    a->reserve(kArea, kId1, 1, 1, kNow, held);
    FAIL() << "no error";
  } catch (const Error& e) { EXPECT_EQ(e.code(), Errc::unavailable); }
  EXPECT_THROW(b->live(kArea, kId1, kNow), Error);
}

}  // namespace
}  // namespace mh::store
