#include "core/cksum.hpp"

#include <array>

namespace mh {
namespace {

// Slicing-by-16 tables for the non-reflected CRC: t[0] is the classic byte table, t[k][b] is the
// CRC contribution of byte b followed by k zero bytes. 16 KiB of tables, ~1 byte/cycle or better.
struct Tables {
  std::array<std::array<std::uint32_t, 256>, 16> t{};
  Tables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i << 24;
      for (int k = 0; k < 8; ++k) c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
      t[0][i] = c;
    }
    for (std::size_t k = 1; k < 16; ++k)
      for (std::uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] << 8) ^ t[0][t[k - 1][i] >> 24];
  }
};
const Tables kTables;

inline std::uint32_t step(std::uint32_t crc, std::uint8_t b) noexcept {
  return (crc << 8) ^ kTables.t[0][(crc >> 24) ^ b];
}

std::uint32_t crc_update(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  const auto& t = kTables.t;
  while (n >= 16) {
    const std::uint32_t x =
        crc ^ (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3]);
    crc = t[15][x >> 24] ^ t[14][(x >> 16) & 0xff] ^ t[13][(x >> 8) & 0xff] ^ t[12][x & 0xff] ^ t[11][p[4]] ^
          t[10][p[5]] ^ t[9][p[6]] ^ t[8][p[7]] ^ t[7][p[8]] ^ t[6][p[9]] ^ t[5][p[10]] ^ t[4][p[11]] ^ t[3][p[12]] ^
          t[2][p[13]] ^ t[1][p[14]] ^ t[0][p[15]];
    p += 16;
    n -= 16;
  }
  while (n-- > 0) crc = step(crc, *p++);
  return crc;
}

}  // namespace

void Cksum::update(ByteView data) noexcept {
  crc_ = crc_update(crc_, data.data(), data.size());
  size_ += data.size();
}

std::uint32_t Cksum::value() const noexcept {
  std::uint32_t crc = crc_;
  for (std::uint64_t len = size_; len != 0; len >>= 8) crc = step(crc, static_cast<std::uint8_t>(len & 0xff));
  return ~crc;
}

std::uint32_t cksum(ByteView data) noexcept {
  Cksum c;
  c.update(data);
  return c.value();
}

}  // namespace mh
