#pragma once
// Ed25519 signatures (RFC 8032) through libsodium, and the server identity's key files.
// Key files are standard PEM: PKCS#8 "PRIVATE KEY" for the secret, SPKI "PUBLIC KEY" for the
// public half, so `openssl pkey` reads them too.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace mh {

using Ed25519Public = std::array<std::uint8_t, 32>;
using Ed25519Signature = std::array<std::uint8_t, 64>;

class Ed25519KeyPair {
 public:
  static Ed25519KeyPair generate();
  static Ed25519KeyPair from_seed(ByteView seed32);
  static Ed25519KeyPair from_pem(std::string_view pkcs8_pem);

  const Ed25519Public& public_key() const noexcept { return public_; }
  ByteView seed() const noexcept { return ByteView(secret_.data(), 32); }
  Ed25519Signature sign(ByteView message) const;
  std::string private_pem() const;

 private:
  Secret<64> secret_;  // libsodium layout: seed || public key
  Ed25519Public public_{};
};

bool ed25519_verify(ByteView public_key32, ByteView message, ByteView signature);
std::string ed25519_public_pem(const Ed25519Public& pub);
Ed25519Public ed25519_public_from_pem(std::string_view spki_pem);
Ed25519Public ed25519_public_from_raw(ByteView raw32);

// "SHA256:" + unpadded base64 of SHA-256 over the raw 32-byte public key (the OpenSSH style).
std::string ed25519_fingerprint(const Ed25519Public& pub);

}  // namespace mh
