#include "core/key_schedule.hpp"

#include "core/fields.hpp"
#include "core/hash.hpp"

namespace mh {

std::string_view purpose_label(KeyPurpose p) noexcept {
  switch (p) {
    case KeyPurpose::request_head: return "request head";
    case KeyPurpose::request_body: return "request body";
    case KeyPurpose::response_head: return "response head";
    case KeyPurpose::response_body: return "response body";
    case KeyPurpose::chat_to_server: return "chat to server";
    case KeyPurpose::chat_to_client: return "chat to client";
  }
  return "?";
}

Binding head_binding(ByteView keyid, std::int64_t created, std::string_view nonce) {
  FieldWriter w("minihttps/2 request head");
  w.field(keyid).integer(created).field(nonce);
  return sha256(w.bytes());
}

Binding request_binding(std::string_view signature_base, ByteView signature) {
  FieldWriter w("minihttps/2 request");
  w.field(signature_base).field(signature);
  return sha256(w.bytes());
}

Bytes key_info(KeyPurpose purpose, const Binding& binding, std::uint64_t index, bool last) {
  std::string label = "minihttps/2 ";
  label += purpose_label(purpose);
  FieldWriter w(label);
  w.field(binding).integer(static_cast<std::int64_t>(index)).flag(last);
  return w.take();
}

SessionSecret::SessionSecret(ByteView secret32) : secret_(secret32) {
  // RFC 5869: an absent salt is HashLen zero bytes; HMAC pads its key with zeros anyway.
  const std::uint8_t zero_salt[32] = {};
  Sha256Digest prk = hmac_sha256(ByteView(zero_salt, 32), secret_.view());
  prk_ = Secret<32>(prk);
  secure_wipe(prk.data(), prk.size());
}

FernetKey SessionSecret::derive(KeyPurpose purpose, const Binding& binding, std::uint64_t index, bool last) const {
  // HKDF-Expand for L = 32 (one hash length): T(1) = HMAC(PRK, info || 0x01).
  HmacSha256 mac(prk_.view());
  mac.update(key_info(purpose, binding, index, last));
  const std::uint8_t one = 1;
  mac.update(ByteView(&one, 1));
  Sha256Digest okm = mac.finish();
  FernetKey key = FernetKey::from_bytes(okm);
  secure_wipe(okm.data(), okm.size());
  return key;
}

}  // namespace mh
