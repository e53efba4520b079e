// The POSIX cksum CRC equals what the system `cksum` command prints.
#include <gtest/gtest.h>

#include "core/cksum.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

std::string system_cksum(const std::filesystem::path& file) {
  const auto r = test::run_command({"cksum", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find(' '));
}

TEST(Cksum, MatchesSystemCommand) {
  test::TempDir dir;
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{(1u << 20) + 3}}) {
    const Bytes data = test::pattern_bytes(n, static_cast<std::uint32_t>(n + 7));
    const auto file = dir / ("f" + std::to_string(n));
    test::write_file(file, as_chars(data));
    EXPECT_EQ(std::to_string(cksum(data)), system_cksum(file)) << n;
  }
}

TEST(Cksum, KnownValues) {
  EXPECT_EQ(cksum({}), 4294967295u);                                  // `printf '' | cksum`
  EXPECT_EQ(cksum(as_bytes("{\"hello\": \"world\"}")), 4013623040u);  // RFC 9530 sample
  EXPECT_EQ(cksum(as_bytes("123456789")), 930766865u);                // CRC-32/CKSUM check value 0x765E7680 + length
}

TEST(Cksum, IncrementalEqualsOneShot) {
  const Bytes data = test::pattern_bytes(100000);
  for (std::size_t step : {1u, 15u, 16u, 17u, 4096u}) {
    Cksum c;
    for (std::size_t off = 0; off < data.size(); off += step)
      c.update(ByteView(data).subspan(off, std::min(step, data.size() - off)));
    EXPECT_EQ(c.value(), cksum(data)) << step;
    EXPECT_EQ(c.size(), data.size());
  }
}

}  // namespace
}  // namespace mh
