#include "core/ed25519.hpp"

#include <sodium.h>

#include <algorithm>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/pem.hpp"

namespace mh {
namespace {
// DER prefixes of the only encodings an Ed25519 key has (RFC 8410): what follows is the raw key.
constexpr std::uint8_t kPkcs8Prefix[] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                         0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
constexpr std::uint8_t kSpkiPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

ByteView strip_prefix(const Bytes& der, ByteView prefix, const char* what) {
  if (der.size() != prefix.size() + 32 || !std::equal(prefix.begin(), prefix.end(), der.begin()))
    throw Error(Errc::bad_request, std::string("ed25519: not an Ed25519 ") + what);
  return ByteView(der).subspan(prefix.size());
}
}  // namespace

Ed25519KeyPair Ed25519KeyPair::generate() {
  Secret<32> seed;
  random_fill(seed.span());
  return from_seed(seed.view());
}

Ed25519KeyPair Ed25519KeyPair::from_seed(ByteView seed32) {
  if (seed32.size() != 32) throw Error(Errc::bad_request, "ed25519: seed must be 32 bytes");
  Ed25519KeyPair kp;
  crypto_sign_seed_keypair(kp.public_.data(), kp.secret_.data(), seed32.data());
  return kp;
}

Ed25519KeyPair Ed25519KeyPair::from_pem(std::string_view pem) {
  Bytes der = pem_decode(pem, "PRIVATE KEY");
  Ed25519KeyPair kp = from_seed(strip_prefix(der, kPkcs8Prefix, "private key"));
  secure_wipe(der.data(), der.size());
  return kp;
}

Ed25519Signature Ed25519KeyPair::sign(ByteView message) const {
  Ed25519Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

std::string Ed25519KeyPair::private_pem() const {
  SecretBytes der(sizeof kPkcs8Prefix + 32);
  std::copy(std::begin(kPkcs8Prefix), std::end(kPkcs8Prefix), der.data());
  std::copy_n(secret_.data(), 32, der.data() + sizeof kPkcs8Prefix);
  return pem_encode("PRIVATE KEY", der.view());
}

bool ed25519_verify(ByteView pub, ByteView message, ByteView sig) {
  if (pub.size() != 32 || sig.size() != 64) return false;
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), pub.data()) == 0;
}

std::string ed25519_public_pem(const Ed25519Public& pub) {
  Bytes der(std::begin(kSpkiPrefix), std::end(kSpkiPrefix));
  der.insert(der.end(), pub.begin(), pub.end());
  return pem_encode("PUBLIC KEY", der);
}

Ed25519Public ed25519_public_from_pem(std::string_view pem) {
  return ed25519_public_from_raw(strip_prefix(pem_decode(pem, "PUBLIC KEY"), kSpkiPrefix, "public key"));
}

Ed25519Public ed25519_public_from_raw(ByteView raw) {
  if (raw.size() != 32) throw Error(Errc::bad_request, "ed25519: public key must be 32 bytes");
  Ed25519Public pub{};
  std::copy(raw.begin(), raw.end(), pub.begin());
  return pub;
}

std::string ed25519_fingerprint(const Ed25519Public& pub) {
  return "SHA256:" + base64_encode(sha256(pub), Alphabet::standard, false);
}

}  // namespace mh
