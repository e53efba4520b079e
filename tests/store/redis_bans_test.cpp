// The bans shared through Redis (store/redis_bans.hpp) against a real redis-server: what one
// instance bans another refuses at once; lifting, listing, and importing a KEYS/banned file.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "store/redis_bans.hpp"
#include "store/redis_test_util.hpp"

namespace mh::store {
namespace {

using auth::Ban;
using test::RedisServer;
using testing::options_for;

const std::string kAlice = "SHA256:" + std::string(42, 'a') + "1";
const std::string kBob = "SHA256:" + std::string(42, 'b') + "2";
const std::string kCarol = "SHA256:" + std::string(42, 'c') + "3";

TEST(RedisBanList, ABanOnOneInstanceHoldsOnAnotherUntilLifted) {
  RedisServer server;
  RedisClient ra(options_for(server)), rb(options_for(server));
  RedisBanList on_a(ra), on_b(rb);
  const Ban alice{kAlice, "alice 0b3e6a52-5c3e-4c8a-9d57-0e0c9b1f2a11 banned 2026-12-02T13:00:00Z"};
  EXPECT_FALSE(on_b.contains(kAlice));
  EXPECT_TRUE(on_a.add(alice));
  EXPECT_TRUE(on_b.contains(kAlice));
  EXPECT_FALSE(on_b.add(Ban{kAlice, "again"}));  // already banned: the first comment stays
  EXPECT_TRUE(on_b.add(Ban{kBob, ""}));
  EXPECT_EQ(on_a.list(), (std::vector<Ban>{alice, {kBob, ""}}));

  EXPECT_EQ(on_b.remove("nobody"), std::nullopt);
  EXPECT_EQ(on_b.remove("alice"), alice);  // by the name in the comment
  EXPECT_FALSE(on_a.contains(kAlice));
  EXPECT_EQ(on_a.remove("alice"), std::nullopt);
  EXPECT_EQ(on_a.remove(kBob), (Ban{kBob, ""}));  // by fingerprint
  EXPECT_EQ(on_b.remove(kBob), std::nullopt);     // lifted already
  EXPECT_TRUE(on_b.list().empty());

  EXPECT_TRUE(on_a.add(alice));
  EXPECT_EQ(on_b.remove("0b3e6a52-5c3e-4c8a-9d57-0e0c9b1f2a11"), alice);  // by the UUID in the comment
}

TEST(RedisBanList, ImportsAKeysBannedFileOnceAndKeepsWhatTheStoreHas) {
  RedisServer server;
  RedisClient r(options_for(server));
  RedisBanList(r).add(Ban{kBob, "bob banned on another instance"});
  test::TempDir dir;
  test::write_file(dir.path() / "banned", "# minihttpsd bans\n" + kAlice +
                                              "  # alice 0b3e banned 2026-12-02T13:00:00Z\n\n" + kBob +
                                              "  # bob here\n" + kCarol + "\n");
  const auto file = auth::parse_bans(test::read_file(dir.path() / "banned"), "banned");
  ASSERT_EQ(file.size(), 3u);
  std::vector<std::pair<std::size_t, std::size_t>> reports;
  RedisBanList bans(r, file, [&](std::size_t added, std::size_t of) { reports.emplace_back(added, of); });
  EXPECT_TRUE(bans.contains(kCarol));
  EXPECT_EQ(reports, (std::vector<std::pair<std::size_t, std::size_t>>{{2, 3}}));
  EXPECT_EQ(RedisBanList(r).list(), (std::vector<Ban>{{kAlice, "alice 0b3e banned 2026-12-02T13:00:00Z"},
                                                      {kBob, "bob banned on another instance"},
                                                      {kCarol, ""}}));
  ASSERT_TRUE(bans.remove(kCarol));
  EXPECT_FALSE(bans.contains(kCarol));  // imported once: a lifted ban does not come back
  EXPECT_EQ(reports.size(), 1u);
}

TEST(RedisBanList, RedisDownIsUnavailableAndTheImportWaitsForIt) {
  RedisServer server;
  RedisClient r(options_for(server, std::chrono::milliseconds(200)));
  std::size_t imported = 0;
  RedisBanList bans(r, {Ban{kAlice, "alice"}}, [&](std::size_t added, std::size_t) { imported += added; });
  server.stop();
  try {
    bans.contains(kAlice);
    ADD_FAILURE() << "a ban was checked with Redis down";
  } catch (const Error& e) { EXPECT_EQ(e.code(), Errc::unavailable); }
  EXPECT_EQ(imported, 0u);
  server.start();
  EXPECT_TRUE(bans.contains(kAlice));
  EXPECT_EQ(imported, 1u);
}

TEST(BanFileFormat, ParsesWhatItFormatsAndNamesTheBadLine) {
  const std::vector<Ban> bans{{kAlice, "alice 0b3e banned 2026-12-02T13:00:00Z"}, {kBob, ""}};
  EXPECT_EQ(auth::parse_bans(auth::format_bans(bans), "f"), bans);
  try {
    auth::parse_bans(kAlice + "\nnot-a-key # x\n", "KEYS/banned");
    ADD_FAILURE();
  } catch (const Error& e) { EXPECT_STREQ(e.what(), "KEYS/banned:2: not a key fingerprint (SHA256:...)"); }
  EXPECT_TRUE(auth::names(bans[0], "alice"));
  EXPECT_TRUE(auth::names(bans[0], "0b3e"));
  EXPECT_TRUE(auth::names(bans[0], kAlice));
  EXPECT_FALSE(auth::names(bans[0], "banned"));
}

}  // namespace
}  // namespace mh::store
