#include "core/x25519.hpp"

#include <sodium.h>

#include "core/error.hpp"

namespace mh {

X25519KeyPair X25519KeyPair::generate() {
  X25519KeyPair kp;
  random_fill(kp.secret.span());
  crypto_scalarmult_base(kp.public_key.data(), kp.secret.data());
  return kp;
}

X25519KeyPair X25519KeyPair::from_secret(ByteView secret32) {
  X25519KeyPair kp;
  kp.secret = Secret<32>(secret32);
  crypto_scalarmult_base(kp.public_key.data(), kp.secret.data());
  return kp;
}

Secret<32> x25519_shared(const Secret<32>& our_secret, ByteView their_public) {
  if (their_public.size() != 32) throw Error(Errc::bad_request, "x25519: public key must be 32 bytes");
  Secret<32> shared;
  // libsodium returns -1 when the result is all zeros; check explicitly as well.
  if (crypto_scalarmult(shared.data(), our_secret.data(), their_public.data()) != 0 || is_all_zero(shared.view()))
    throw Error(Errc::bad_request, "x25519: peer key is a small-order point");
  return shared;
}

std::array<std::uint8_t, 32> x25519_scalarmult(ByteView scalar32, ByteView u32) {
  if (scalar32.size() != 32 || u32.size() != 32) throw Error(Errc::bad_request, "x25519: need 32-byte inputs");
  std::array<std::uint8_t, 32> out{};
  if (crypto_scalarmult(out.data(), scalar32.data(), u32.data()) != 0)
    throw Error(Errc::bad_request, "x25519: all-zero result");
  return out;
}

}  // namespace mh
