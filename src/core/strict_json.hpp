#pragma once
// Strict reading of the small JSON objects of the protocol (handshake messages and their sealed
// parts): unknown, missing or mistyped fields and wrong lengths are all Errc::bad_request with a
// short reason "<area>: ...". Include only where JSON is parsed: nlohmann's header is heavy.
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/uuid.hpp"

namespace mh {

class StrictJson {
 public:
  using json = nlohmann::json;
  explicit StrictJson(std::string area) : area_(std::move(area)) {}

  [[noreturn]] void malformed(const std::string& why) const;
  json parse_object(std::string_view text, std::size_t max_bytes) const;
  void only_fields(const json& j, std::initializer_list<const char*> allowed) const;
  const json& need(const json& j, const char* name) const;
  std::int64_t need_int(const json& j, const char* name) const;
  std::string need_string(const json& j, const char* name, std::size_t max_len) const;
  Bytes need_b64u(const json& j, const char* name, std::size_t min_len, std::size_t max_len) const;
  Uuid need_uuid(const json& j, const char* name) const;
  // An optional UUID: absent or null gives nullopt.
  std::optional<Uuid> maybe_uuid(const json& j, const char* name) const;
  template <std::size_t N>
  std::array<std::uint8_t, N> need_fixed(const json& j, const char* name) const {
    const Bytes b = need_b64u(j, name, N, N);
    std::array<std::uint8_t, N> out{};
    std::copy(b.begin(), b.end(), out.begin());
    return out;
  }

 private:
  std::string area_;
};

// Unpadded base64url, the encoding of every binary JSON field.
std::string b64u(ByteView b);

}  // namespace mh
