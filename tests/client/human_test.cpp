// Sizes, times and summaries as the client prints them (client/human.hpp): the unit boundaries,
// the rounding that must never print "1024 KiB" or "10.0 MiB", and ls's two time formats.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "client/human.hpp"

namespace mh::client {
namespace {

TEST(HumanSize, BinaryUnitsOneDecimalBelowTen) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1024), "1.0 KiB");
  EXPECT_EQ(human_size(1536), "1.5 KiB");
  EXPECT_EQ(human_size(10188), "9.9 KiB");
  EXPECT_EQ(human_size(10200), "10 KiB");  // 9.96: not "10.0"
  EXPECT_EQ(human_size(1048063), "1023 KiB");
  EXPECT_EQ(human_size(1048064), "1.0 MiB");  // 1023.5 KiB: not "1024 KiB"
  EXPECT_EQ(human_size(1536000), "1.5 MiB");
  EXPECT_EQ(human_size(3ull << 30), "3.0 GiB");
  EXPECT_EQ(human_size(~0ull), "16 EiB");
}

TEST(ListingTime, RecentShowsTheClockOlderShowsTheYear) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  const std::int64_t now = 1764678000;  // 2025-12-02T12:20:00Z
  EXPECT_EQ(listing_time(now - 60, now), "Dec  2 12:19");
  EXPECT_EQ(listing_time(now + 1800, now), "Dec  2 12:50");         // a little ahead: clock skew
  EXPECT_EQ(listing_time(now + 7200, now), "Dec  2  2025");         // far ahead
  EXPECT_EQ(listing_time(now - 180 * 86400, now), "Jun  5 12:20");  // within six months (182.6 days)
  EXPECT_EQ(listing_time(now - 185 * 86400, now), "May 31  2025");
}

TEST(TransferSummary, CountsSizeSecondsThenSkippedAndFailed) {
  EXPECT_EQ(transfer_summary(3, 1258291, 0.44, 0, 0), "3 files, 1.2 MiB in 0.4 s");
  EXPECT_EQ(transfer_summary(1, 12, 2.0, 2, 1), "1 file, 12 B in 2.0 s; 2 skipped; 1 failed");
  EXPECT_EQ(transfer_summary(0, 0, 0.0, 0, 4), "0 files, 0 B in 0.0 s; 4 failed");
}

}  // namespace
}  // namespace mh::client
