// Range and validator conditions (docs/PROTOCOL.md §7.1, §7.2), at every boundary.
#include <gtest/gtest.h>

#include "core/conditional.hpp"

namespace mh {
namespace {

using Kind = RangeDecision::Kind;

std::string show(const RangeDecision& d) {
  switch (d.kind) {
    case Kind::whole: return "whole";
    case Kind::unsatisfiable: return "416";
    case Kind::partial: return std::to_string(d.first) + "-" + std::to_string(d.last);
  }
  return "?";
}
std::string decide(const char* range, std::uint64_t size) { return show(decide_range(std::string_view(range), size)); }

TEST(Range, AbsentOrInvalidIsIgnored) {
  EXPECT_EQ(show(decide_range(std::nullopt, 100)), "whole");
  for (const char* bad :
       {"", "bytes", "bytes=", "items=0-1", "bytes=a-1", "bytes=1-a", "bytes=5-4", "bytes=-", "bytes=1", "bytes=,",
        "bytes=0-1;x", "bytes=-1-2", "bytes=+1-2", "bytes=18446744073709551616-", "bytes 0-1", "bytes=0 -1"})
    EXPECT_EQ(decide(bad, 100), "whole") << bad;
}

TEST(Range, SingleSpecsAtEveryBoundary) {
  EXPECT_EQ(decide("bytes=0-0", 100), "0-0");      // the first byte
  EXPECT_EQ(decide("bytes=99-99", 100), "99-99");  // the last byte
  EXPECT_EQ(decide("bytes=99-", 100), "99-99");
  EXPECT_EQ(decide("bytes=0-", 100), "0-99");
  EXPECT_EQ(decide("bytes=10-1000", 100), "10-99");  // last capped
  EXPECT_EQ(decide("bytes=-1", 100), "99-99");
  EXPECT_EQ(decide("bytes=-100", 100), "0-99");
  EXPECT_EQ(decide("bytes=-1000", 100), "0-99");
  EXPECT_EQ(decide("BYTES=1-2", 100), "1-2");
  EXPECT_EQ(decide("  bytes=1-2  ", 100), "1-2");
  EXPECT_EQ(decide("bytes=1-2,", 100), "1-2");  // empty list elements are ignored
  EXPECT_EQ(decide("bytes=, ,1-2", 100), "1-2");
  EXPECT_EQ(decide("bytes=100-", 100), "416");  // one past the end
  EXPECT_EQ(decide("bytes=100-200", 100), "416");
  EXPECT_EQ(decide("bytes=-0", 100), "416");
  EXPECT_EQ(decide("bytes=0-", 0), "416");  // any range of an empty file
  EXPECT_EQ(decide("bytes=-5", 0), "416");
}

TEST(Range, SeveralSpecsBecomeOneCoveringSpan) {
  EXPECT_EQ(decide("bytes=50-59, 10-19", 100), "10-59");
  EXPECT_EQ(decide("bytes=0-0,-1", 100), "0-99");
  EXPECT_EQ(decide("bytes=200-300, 5-6", 100), "5-6");  // unsatisfiable specs are left out
  EXPECT_EQ(decide("bytes=200-300, 100-", 100), "416");
  std::string sixteen = "bytes=0-0", seventeen;
  for (int i = 1; i < 16; ++i) sixteen += "," + std::to_string(i) + "-" + std::to_string(i);
  seventeen = sixteen + ",16-16";
  EXPECT_EQ(decide(sixteen.c_str(), 100), "0-15");
  EXPECT_EQ(decide(seventeen.c_str(), 100), "whole");
}

TEST(Range, HugeFiles) {
  const std::uint64_t size = (std::uint64_t{5} << 30) + 7;  // over 4 GiB
  EXPECT_EQ(decide("bytes=-1", size), std::to_string(size - 1) + "-" + std::to_string(size - 1));
  EXPECT_EQ(decide("bytes=5368709120-", size), "5368709120-" + std::to_string(size - 1));
}

TEST(Conditions, IfNoneMatchComparesWeakly) {
  EXPECT_TRUE(if_none_match_hits("\"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match_hits("W/\"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match_hits("\"x\", \"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match_hits("*", "\"a\""));
  EXPECT_FALSE(if_none_match_hits("\"b\"", "\"a\""));
  EXPECT_FALSE(if_none_match_hits("a", "\"a\""));
  EXPECT_FALSE(if_none_match_hits("\"a", "\"a\""));
  EXPECT_FALSE(if_none_match_hits("", "\"a\""));
}

TEST(Conditions, IfRangeComparesStrongly) {
  EXPECT_TRUE(if_range_matches("\"a\"", "\"a\""));
  EXPECT_TRUE(if_range_matches(" \"a\" ", "\"a\""));
  EXPECT_FALSE(if_range_matches("W/\"a\"", "\"a\""));
  EXPECT_FALSE(if_range_matches("\"a\"", "W/\"a\""));
  EXPECT_FALSE(if_range_matches("\"b\"", "\"a\""));
  EXPECT_FALSE(if_range_matches("Wed, 21 Oct 2015 07:28:00 GMT", "\"a\""));
  EXPECT_FALSE(if_range_matches("\"a\", \"b\"", "\"a\""));
  EXPECT_FALSE(if_range_matches("", "\"a\""));
}

}  // namespace
}  // namespace mh
