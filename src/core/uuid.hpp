#pragma once
// RFC 9562 version-4 UUIDs from the CSPRNG.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mh {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  static Uuid random_v4();
  // Canonical 36-character form, lower or upper case hex; nullopt if malformed.
  static std::optional<Uuid> parse(std::string_view text);
  std::string to_string() const;  // lower case
  int version() const noexcept { return bytes[6] >> 4; }
  auto operator<=>(const Uuid&) const = default;
};

struct UuidHash {
  std::size_t operator()(const Uuid& u) const noexcept;
};

}  // namespace mh
