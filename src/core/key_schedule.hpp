#pragma once
// The v2 key schedule (docs/PROTOCOL.md §4): every Fernet key of a session is derived from the
// session secret by purpose, binding, index and last flag, so a token made for one purpose,
// request, chunk or position never opens as another. The secret itself is never a Fernet key.
#include <array>
#include <cstdint>
#include <string_view>

#include "core/bytes.hpp"
#include "core/fernet.hpp"

namespace mh {

enum class KeyPurpose { request_head, request_body, response_head, response_body, chat_to_server, chat_to_client };

// "request head", "request body", ...: the words after "minihttps/2 " in HKDF's info.
std::string_view purpose_label(KeyPurpose p) noexcept;

// A session's id (docs/PROTOCOL.md §3.3): 16 random bytes chosen by the server.
using KeyId = std::array<std::uint8_t, 16>;
struct KeyIdHash {
  std::size_t operator()(const KeyId& k) const noexcept {
    std::size_t h = 0;  // a keyid is random: its first bytes are a good hash
    for (int i = 0; i < 8; ++i) h = (h << 8) | k[static_cast<std::size_t>(i)];
    return h;
  }
};

// 32 bytes tying keys to one request: BH for the sealed request head, B for everything else.
using Binding = std::array<std::uint8_t, 32>;

// BH = SHA-256(F("minihttps/2 request head") || F(keyid) || F(int created) || F(nonce)).
Binding head_binding(ByteView keyid, std::int64_t created, std::string_view nonce);
// B = SHA-256(F("minihttps/2 request") || F(signature base) || F(signature)).
Binding request_binding(std::string_view signature_base, ByteView signature);

class SessionSecret {
 public:
  SessionSecret() = default;
  explicit SessionSecret(ByteView secret32);

  // K(purpose, binding, index, last) = HKDF-SHA256(IKM = secret, no salt, info, 32). HKDF-Extract
  // is done once here; each key costs one HMAC (the expand step for L = 32).
  FernetKey derive(KeyPurpose purpose, const Binding& binding, std::uint64_t index, bool last) const;

  ByteView bytes() const noexcept { return secret_.view(); }

 private:
  Secret<32> secret_;
  Secret<32> prk_;  // HKDF-Extract(salt = 32 zero bytes, IKM = secret)
};

// The info string of K(), for tests and the worked example.
Bytes key_info(KeyPurpose purpose, const Binding& binding, std::uint64_t index, bool last);

}  // namespace mh
