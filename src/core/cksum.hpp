#pragma once
// The POSIX `cksum` CRC: CRC-32 with polynomial 0x04C11DB7, most significant bit first,
// over the data followed by its length (least significant byte first, as few bytes as needed),
// then complemented. Equals the first number the `cksum` command prints.
#include <cstdint>

#include "core/bytes.hpp"

namespace mh {

class Cksum {
 public:
  void update(ByteView data) noexcept;
  std::uint32_t value() const noexcept;  // of everything so far; update may continue
  std::uint64_t size() const noexcept { return size_; }

 private:
  std::uint32_t crc_ = 0;
  std::uint64_t size_ = 0;
};

std::uint32_t cksum(ByteView data) noexcept;

}  // namespace mh
