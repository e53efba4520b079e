#include "store/sealed_value.hpp"

#include <sodium.h>

#include "core/hash.hpp"

namespace mh::store {
namespace {
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
}  // namespace

ValueSealer::ValueSealer(const Ed25519KeyPair& identity)
    : key_(hkdf_sha256(identity.seed(), {}, as_bytes("minihttps store v1"), 32).view()) {}

std::string ValueSealer::seal(std::string_view plaintext, std::string_view bound_to) const {
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  random_fill(std::span<std::uint8_t>(p, kNonce));
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + kNonce, &n, reinterpret_cast<const unsigned char*>(plaintext.data()),
                                             plaintext.size(), reinterpret_cast<const unsigned char*>(bound_to.data()),
                                             bound_to.size(), nullptr, p, key_.data());
  return out;
}

std::optional<SecretBytes> ValueSealer::open(std::string_view sealed, std::string_view bound_to) const {
  if (sealed.size() < kNonce + kTag) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  SecretBytes out(sealed.size() - kNonce - kTag);
  unsigned long long n = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &n, nullptr, p + kNonce, sealed.size() - kNonce,
                                                 reinterpret_cast<const unsigned char*>(bound_to.data()),
                                                 bound_to.size(), p, key_.data()) != 0)
    return std::nullopt;
  return out;
}

}  // namespace mh::store
