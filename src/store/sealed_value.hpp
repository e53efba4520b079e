#pragma once
// Values the store must not reveal (a session's secret) are kept sealed: XChaCha20-Poly1305
// (libsodium) under a key every instance derives from the server identity they all hold, and
// bound to the store key they are kept under, so a dump of Redis alone reveals no session key and
// a value copied under another key does not open (docs/ARCHITECTURE.md §7).
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/ed25519.hpp"

namespace mh::store {

class ValueSealer {
 public:
  // key = HKDF-SHA256(IKM = the identity's 32-byte seed, no salt, info "minihttps store v1", 32)
  explicit ValueSealer(const Ed25519KeyPair& identity);

  // random 24-byte nonce || ciphertext || 16-byte tag; `bound_to` is the associated data.
  std::string seal(std::string_view plaintext, std::string_view bound_to) const;
  // nullopt if it does not open: another key, another binding, or altered.
  std::optional<SecretBytes> open(std::string_view sealed, std::string_view bound_to) const;

 private:
  Secret<32> key_;
};

}  // namespace mh::store
