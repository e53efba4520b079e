#include <gtest/gtest.h>

#include <set>

#include "core/uuid.hpp"

namespace mh {
namespace {

TEST(Uuid, RandomV4HasVersionAndVariant) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto u = Uuid::random_v4();
    EXPECT_EQ(u.version(), 4);
    EXPECT_EQ(u.bytes[8] & 0xc0, 0x80);
    const std::string s = u.to_string();
    EXPECT_EQ(s.size(), 36u);
    EXPECT_EQ(s[14], '4');
    EXPECT_TRUE(seen.insert(s).second);
    EXPECT_EQ(Uuid::parse(s), u);
  }
}

TEST(Uuid, ParseIsStrict) {
  const auto u = Uuid::parse("F47AC10B-58CC-4372-A567-0E02B2C3D479");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->to_string(), "f47ac10b-58cc-4372-a567-0e02b2c3d479");
  for (const char* bad : {"", "f47ac10b58cc4372a5670e02b2c3d479", "f47ac10b-58cc-4372-a567-0e02b2c3d47",
                          "f47ac10b-58cc-4372-a567-0e02b2c3d4799", "g47ac10b-58cc-4372-a567-0e02b2c3d479",
                          "f47ac10b-58cc+4372-a567-0e02b2c3d479", "{f47ac10b-58cc-4372-a567-0e02b2c3d4}"})
    EXPECT_FALSE(Uuid::parse(bad)) << bad;
}

}  // namespace
}  // namespace mh
