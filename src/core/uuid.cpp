#include "core/uuid.hpp"

#include <cstring>

#include "core/bytes.hpp"

namespace mh {

Uuid Uuid::random_v4() {
  Uuid u;
  random_fill(u.bytes);
  u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0f) | 0x40);  // version 4
  u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3f) | 0x80);  // variant 10
  return u;
}

std::optional<Uuid> Uuid::parse(std::string_view t) {
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') return std::nullopt;
  std::string hex;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (i != 8 && i != 13 && i != 18 && i != 23) hex.push_back(t[i]);
  try {
    const Bytes b = from_hex(hex);
    Uuid u;
    std::memcpy(u.bytes.data(), b.data(), 16);
    return u;
  } catch (...) { return std::nullopt; }
}

std::string Uuid::to_string() const {
  const std::string h = to_hex(bytes);
  return h.substr(0, 8) + '-' + h.substr(8, 4) + '-' + h.substr(12, 4) + '-' + h.substr(16, 4) + '-' + h.substr(20);
}

std::size_t UuidHash::operator()(const Uuid& u) const noexcept {
  // Random v4 bytes are already uniformly distributed; any 8 of them make a good hash.
  std::uint64_t h;
  std::memcpy(&h, u.bytes.data() + 8, 8);
  std::uint64_t l;
  std::memcpy(&l, u.bytes.data(), 8);
  return static_cast<std::size_t>(h ^ (l * 0x9e3779b97f4a7c15ull));
}

}  // namespace mh
