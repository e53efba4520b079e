#pragma once
// Byte containers and the few byte-level helpers everything else uses.
// Secret material lives in SecretBytes / Secret<N>, which wipe themselves with sodium_memzero.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mh {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) noexcept { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string to_hex(ByteView b);
// Lower- or upper-case hex, even length; throws Error(bad_request) otherwise.
Bytes from_hex(std::string_view hex);

// Constant-time comparison (time depends only on the lengths). Unequal lengths compare unequal.
bool ct_equal(ByteView a, ByteView b) noexcept;
void secure_wipe(void* p, std::size_t n) noexcept;
bool is_all_zero(ByteView b) noexcept;

// Bytes from the operating system's CSPRNG (libsodium randombytes).
void random_fill(std::span<std::uint8_t> out) noexcept;
Bytes random_bytes(std::size_t n);

// Fixed-size secret, wiped on destruction.
template <std::size_t N>
class Secret {
 public:
  Secret() = default;
  explicit Secret(ByteView b);  // requires b.size() == N
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  ~Secret() { secure_wipe(bytes_.data(), N); }

  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  static constexpr std::size_t size() noexcept { return N; }
  ByteView view() const noexcept { return {bytes_.data(), N}; }
  std::span<std::uint8_t, N> span() noexcept { return std::span<std::uint8_t, N>(bytes_); }

 private:
  std::array<std::uint8_t, N> bytes_{};
};

// Variable-size secret, wiped on destruction and when moved from.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n);
  explicit SecretBytes(ByteView b);
  SecretBytes(const SecretBytes& o) : SecretBytes(o.view()) {}
  SecretBytes& operator=(const SecretBytes& o);
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  ~SecretBytes();

  std::uint8_t* data() noexcept { return data_.get(); }
  const std::uint8_t* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  ByteView view() const noexcept { return {data_.get(), size_}; }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
};

void throw_size_mismatch(std::size_t want, std::size_t got);

template <std::size_t N>
Secret<N>::Secret(ByteView b) {
  if (b.size() != N) throw_size_mismatch(N, b.size());
  std::copy(b.begin(), b.end(), bytes_.begin());
}

}  // namespace mh
