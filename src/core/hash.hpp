#pragma once
// SHA-256, SHA-512, HMAC-SHA256 and HKDF-SHA256, all through OpenSSL's EVP interfaces.
#include <array>
#include <cstdint>
#include <memory>

#include "core/bytes.hpp"

namespace mh {

using Sha256Digest = std::array<std::uint8_t, 32>;
using Sha512Digest = std::array<std::uint8_t, 64>;

Sha256Digest sha256(ByteView data);
Sha512Digest sha512(ByteView data);

// Incremental digest; finish() may be called once.
class Sha512 {
 public:
  Sha512();
  ~Sha512();
  Sha512(Sha512&&) noexcept;
  Sha512& operator=(Sha512&&) noexcept;
  void update(ByteView data);
  Sha512Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(ByteView data);
  Sha256Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Sha256Digest hmac_sha256(ByteView key, ByteView data);

// Incremental HMAC-SHA256; finish() may be called once.
class HmacSha256 {
 public:
  explicit HmacSha256(ByteView key);
  ~HmacSha256();
  HmacSha256(HmacSha256&&) noexcept;
  HmacSha256& operator=(HmacSha256&&) noexcept;
  void update(ByteView data);
  Sha256Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// RFC 5869 HKDF (extract and expand) with SHA-256. length <= 255 * 32.
SecretBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length);

}  // namespace mh
