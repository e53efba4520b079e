#pragma once
// RSA keys and signatures through OpenSSL 3 EVP: generation, PEM and DER, RSA-PSS-SHA512
// (MGF1-SHA512; salt 64 when signing, any salt length accepted when verifying) and
// RSASSA-PKCS1-v1_5 with SHA-256 (for the RFC 9421 example).
// A parsed key is immutable and may be used from many threads at once.
#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.hpp"

struct evp_pkey_st;
struct evp_md_ctx_st;

namespace mh {

inline constexpr int kRsaMinBits = 2048;
inline constexpr int kRsaMaxBits = 4096;

class RsaPublicKey {
 public:
  // SubjectPublicKeyInfo DER; rsaEncryption or id-RSASSA-PSS keys.
  static RsaPublicKey from_spki_der(ByteView der);
  // "PUBLIC KEY" (SPKI) or "RSA PUBLIC KEY" (PKCS#1) PEM.
  static RsaPublicKey from_pem(std::string_view pem);

  int bits() const;
  // The only public exponent the protocol accepts (PROTOCOL.md §3.2): e = 1 needs no private key
  // at all, other small ones make one modulus many identities, and a huge one costs the verifier
  // many times the work of 65537.
  bool has_exponent_65537() const;
  Bytes spki_der() const;
  std::string pem() const;
  // "SHA256:" + unpadded base64 of SHA-256 over the SPKI DER.
  std::string fingerprint() const;

  bool verify_pss_sha512(ByteView message, ByteView signature) const;
  bool verify_pkcs1_sha256(ByteView message, ByteView signature) const;

  evp_pkey_st* native() const noexcept { return key_.get(); }

 private:
  explicit RsaPublicKey(std::shared_ptr<evp_pkey_st> k);  // encodes spki_ from the key
  RsaPublicKey(std::shared_ptr<evp_pkey_st> k, Bytes canonical_spki);
  std::shared_ptr<evp_pkey_st> key_;
  Bytes spki_;  // canonical SubjectPublicKeyInfo DER, kept: encoding it again costs ~0.1 ms
  std::shared_ptr<evp_md_ctx_st> pss_verify_;  // prepared once, copied per verification (rsa.cpp)
};

class RsaPrivateKey {
 public:
  // bits in [kRsaMinBits, kRsaMaxBits] and a multiple of 8, else Errc::bad_request.
  static RsaPrivateKey generate(int bits);
  // PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY" PEM (unencrypted).
  static RsaPrivateKey from_pem(std::string_view pem);

  int bits() const;
  std::string pem() const;  // PKCS#8
  RsaPublicKey public_key() const;

  Bytes sign_pss_sha512(ByteView message) const;
  Bytes sign_pkcs1_sha256(ByteView message) const;

 private:
  explicit RsaPrivateKey(std::shared_ptr<evp_pkey_st> k) : key_(std::move(k)) {}
  std::shared_ptr<evp_pkey_st> key_;
};

}  // namespace mh
