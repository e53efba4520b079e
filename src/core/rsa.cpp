#include "core/rsa.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/rsa_spki.hpp"

namespace mh {
namespace {

using PkeyPtr = std::shared_ptr<EVP_PKEY>;

PkeyPtr adopt(EVP_PKEY* k) { return PkeyPtr(k, EVP_PKEY_free); }

[[noreturn]] void fail(const char* what) { throw Error(Errc::internal, std::string("rsa: ") + what); }

bool is_rsa(const EVP_PKEY* k) { return EVP_PKEY_is_a(k, "RSA") == 1 || EVP_PKEY_is_a(k, "RSA-PSS") == 1; }

PkeyPtr require_rsa(EVP_PKEY* k, const char* what) {
  if (k == nullptr) throw Error(Errc::bad_request, std::string("rsa: cannot parse ") + what);
  PkeyPtr key = adopt(k);
  if (!is_rsa(k)) throw Error(Errc::bad_request, std::string("rsa: ") + what + " is not an RSA key");
  return key;
}

// Decodes with OpenSSL's decoder from memory (no file I/O); structure = "SubjectPublicKeyInfo" etc.
EVP_PKEY* decode(ByteView data, const char* format, const char* structure, int selection) {
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* dctx = OSSL_DECODER_CTX_new_for_pkey(&key, format, structure, nullptr, selection, nullptr, nullptr);
  if (dctx == nullptr) return nullptr;
  const unsigned char* p = data.data();
  std::size_t len = data.size();
  const int ok = OSSL_DECODER_from_data(dctx, &p, &len);
  OSSL_DECODER_CTX_free(dctx);
  if (ok != 1 || len != 0) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return key;
}

std::string encode(const EVP_PKEY* key, const char* format, const char* structure, int selection) {
  OSSL_ENCODER_CTX* ectx = OSSL_ENCODER_CTX_new_for_pkey(key, selection, format, structure, nullptr);
  if (ectx == nullptr) fail("no encoder");
  unsigned char* data = nullptr;
  std::size_t len = 0;
  const int ok = OSSL_ENCODER_to_data(ectx, &data, &len);
  OSSL_ENCODER_CTX_free(ectx);
  if (ok != 1) fail("encode");
  std::string out(reinterpret_cast<char*>(data), len);
  OPENSSL_clear_free(data, len);
  return out;
}

struct MdCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
};

const EVP_MD* sha512_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  if (md == nullptr) fail("SHA512 unavailable");
  return md;
}

bool set_pss(EVP_PKEY_CTX* pctx, int salt) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, sha512_md()) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1;
}

Bytes sign(const PkeyPtr& key, const char* digest, bool pss, ByteView message) {
  MdCtx m;
  EVP_PKEY_CTX* pctx = nullptr;
  if (m.ctx == nullptr || EVP_DigestSignInit_ex(m.ctx, &pctx, digest, nullptr, nullptr, key.get(), nullptr) != 1)
    fail("sign init");
  if (pss ? !set_pss(pctx, 64) : EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) fail("padding parameters");
  std::size_t len = 0;
  if (EVP_DigestSign(m.ctx, nullptr, &len, message.data(), message.size()) != 1) fail("sign size");
  Bytes sig(len);
  if (EVP_DigestSign(m.ctx, sig.data(), &len, message.data(), message.size()) != 1) fail("sign");
  sig.resize(len);
  return sig;
}

bool verify(const PkeyPtr& key, const char* digest, bool pss, ByteView message, ByteView sig) {
  MdCtx m;
  EVP_PKEY_CTX* pctx = nullptr;
  if (m.ctx == nullptr || EVP_DigestVerifyInit_ex(m.ctx, &pctx, digest, nullptr, nullptr, key.get(), nullptr) != 1)
    return false;
  if (pss) {
    // Any salt length; a key restricted by its id-RSASSA-PSS parameters refuses "auto", so fall
    // back to the salt length our signers use. Parameters the key refuses mean "does not verify".
    if (!set_pss(pctx, RSA_PSS_SALTLEN_AUTO) && !set_pss(pctx, 64)) return false;
  } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  return EVP_DigestVerify(m.ctx, sig.data(), sig.size(), message.data(), message.size()) == 1;
}

int key_bits(const PkeyPtr& k) { return EVP_PKEY_get_bits(k.get()); }

// A DigestVerify context set up once per key for RSA-PSS-SHA512 with any salt length. Setting
// one up fetches the digest and the signature implementation by name under OpenSSL's global
// locks; copying a prepared one does not, which is most of the per-request overhead around the
// RSA arithmetic when a server verifies many requests from one client. nullptr if the key
// refuses these parameters (then every call sets up its own).
std::shared_ptr<EVP_MD_CTX> prepare_pss_verify(const PkeyPtr& key) {
  std::shared_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pctx, "SHA512", nullptr, nullptr, key.get(), nullptr) != 1 ||
      !set_pss(pctx, RSA_PSS_SALTLEN_AUTO))
    return nullptr;
  return ctx;
}

bool verify_prepared(const EVP_MD_CTX* prepared, ByteView message, ByteView sig) {
  MdCtx m;
  if (m.ctx == nullptr || EVP_MD_CTX_copy_ex(m.ctx, prepared) != 1) return false;
  return EVP_DigestVerify(m.ctx, sig.data(), sig.size(), message.data(), message.size()) == 1;
}

}  // namespace

// ---- public key ------------------------------------------------------------------------------

RsaPublicKey::RsaPublicKey(std::shared_ptr<evp_pkey_st> k)
    : RsaPublicKey(k, to_bytes(encode(k.get(), "DER", "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY))) {}

RsaPublicKey::RsaPublicKey(std::shared_ptr<evp_pkey_st> k, Bytes canonical_spki)
    : key_(std::move(k)), spki_(std::move(canonical_spki)), pss_verify_(prepare_pss_verify(key_)) {}

RsaPublicKey RsaPublicKey::from_spki_der(ByteView der) {
  // Canonical rsaEncryption DER (what clients send) skips OpenSSL's slow generic decoder and is
  // its own encoding; anything else goes the general way.
  if (EVP_PKEY* k = detail::parse_rsa_spki_strict(der)) return RsaPublicKey(adopt(k), Bytes(der.begin(), der.end()));
  return RsaPublicKey(require_rsa(decode(der, "DER", "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY), "public key"));
}

RsaPublicKey RsaPublicKey::from_pem(std::string_view pem) {
  const bool pkcs1 = pem.find("BEGIN RSA PUBLIC KEY") != std::string_view::npos;
  return RsaPublicKey(
      require_rsa(decode(as_bytes(pem), "PEM", pkcs1 ? "type-specific" : "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY),
                  "public key"));
}

int RsaPublicKey::bits() const { return key_bits(key_); }

bool RsaPublicKey::has_exponent_65537() const {
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e) != 1) return false;
  const bool ok = BN_is_word(e, RSA_F4) == 1;
  BN_free(e);
  return ok;
}

Bytes RsaPublicKey::spki_der() const { return spki_; }

std::string RsaPublicKey::pem() const { return encode(key_.get(), "PEM", "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY); }

std::string RsaPublicKey::fingerprint() const {
  return "SHA256:" + base64_encode(sha256(spki_), Alphabet::standard, false);
}

bool RsaPublicKey::verify_pss_sha512(ByteView message, ByteView signature) const {
  if (pss_verify_) return verify_prepared(pss_verify_.get(), message, signature);
  return verify(key_, "SHA512", true, message, signature);
}

bool RsaPublicKey::verify_pkcs1_sha256(ByteView message, ByteView signature) const {
  // A key restricted to PSS (id-RSASSA-PSS) must not be used for PKCS#1 v1.5.
  if (EVP_PKEY_is_a(key_.get(), "RSA-PSS") == 1) return false;
  return verify(key_, "SHA256", false, message, signature);
}

// ---- private key -----------------------------------------------------------------------------

RsaPrivateKey RsaPrivateKey::generate(int bits) {
  if (bits < kRsaMinBits || bits > kRsaMaxBits || bits % 8 != 0)
    throw Error(Errc::bad_request, "rsa: key size must be a multiple of 8 in 2048..4096 bits");
  EVP_PKEY* k = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (k == nullptr) fail("key generation");
  return RsaPrivateKey(adopt(k));
}

RsaPrivateKey RsaPrivateKey::from_pem(std::string_view pem) {
  const bool pkcs1 = pem.find("BEGIN RSA PRIVATE KEY") != std::string_view::npos;
  return RsaPrivateKey(require_rsa(
      decode(as_bytes(pem), "PEM", pkcs1 ? "type-specific" : "PrivateKeyInfo", EVP_PKEY_KEYPAIR), "private key"));
}

int RsaPrivateKey::bits() const { return key_bits(key_); }

std::string RsaPrivateKey::pem() const { return encode(key_.get(), "PEM", "PrivateKeyInfo", EVP_PKEY_KEYPAIR); }

RsaPublicKey RsaPrivateKey::public_key() const {
  const std::string der = encode(key_.get(), "DER", "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY);
  return RsaPublicKey::from_spki_der(as_bytes(der));
}

Bytes RsaPrivateKey::sign_pss_sha512(ByteView message) const { return sign(key_, "SHA512", true, message); }

Bytes RsaPrivateKey::sign_pkcs1_sha256(ByteView message) const {
  if (EVP_PKEY_is_a(key_.get(), "RSA-PSS") == 1) throw Error(Errc::bad_request, "rsa: key is restricted to PSS");
  return sign(key_, "SHA256", false, message);
}

}  // namespace mh
