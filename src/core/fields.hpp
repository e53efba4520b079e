#pragma once
// The canonical binary encoding that transcripts, bindings and key-derivation info are computed
// over (docs/PROTOCOL.md §1): F(x) = 4-byte big-endian length || x; an integer is F of its
// 8-byte big-endian two's complement; a flag is F of one byte 00 or 01. Never JSON text.
#include <cstdint>
#include <string_view>
#include <utility>

#include "core/bytes.hpp"

namespace mh {

class FieldWriter {
 public:
  FieldWriter() = default;
  explicit FieldWriter(std::string_view label) { field(label); }

  FieldWriter& field(ByteView b) {
    const auto n = static_cast<std::uint32_t>(b.size());
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(n >> shift));
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  FieldWriter& field(std::string_view s) { return field(as_bytes(s)); }
  FieldWriter& integer(std::int64_t v) {
    std::uint8_t be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (56 - 8 * i));
    return field(ByteView(be, 8));
  }
  FieldWriter& flag(bool v) {
    const std::uint8_t b = v ? 1 : 0;
    return field(ByteView(&b, 1));
  }

  const Bytes& bytes() const noexcept { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

}  // namespace mh
