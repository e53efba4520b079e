#pragma once
// X25519 key agreement (RFC 7748) through libsodium.
#include <array>
#include <cstdint>

#include "core/bytes.hpp"

namespace mh {

using X25519Public = std::array<std::uint8_t, 32>;

struct X25519KeyPair {
  Secret<32> secret;
  X25519Public public_key{};

  static X25519KeyPair generate();
  static X25519KeyPair from_secret(ByteView secret32);
};

// The shared secret. A peer key of the wrong length is Errc::bad_request; a result of all zeros
// (small-order peer point) is Errc::bad_request too: the peer chose a key that gives no secrecy.
Secret<32> x25519_shared(const Secret<32>& our_secret, ByteView their_public);

// The raw scalar multiplication, for the RFC 7748 known-answer tests.
std::array<std::uint8_t, 32> x25519_scalarmult(ByteView scalar32, ByteView u32);

}  // namespace mh
