#include "core/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "core/error.hpp"

namespace mh {
namespace {

[[noreturn]] void fail(const char* what) { throw Error(Errc::internal, std::string("openssl: ") + what); }

// Algorithms are fetched once: implicit fetching on every call costs more than hashing 1 KiB.
const EVP_MD* md_sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) fail("SHA256 unavailable");
  return md;
}
const EVP_MD* md_sha512() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  if (md == nullptr) fail("SHA512 unavailable");
  return md;
}
EVP_MAC* mac_hmac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) fail("HMAC unavailable");
  return mac;
}

template <std::size_t N>
std::array<std::uint8_t, N> one_shot(const EVP_MD* md, ByteView data) {
  std::array<std::uint8_t, N> out{};
  unsigned len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N) fail("digest");
  return out;
}

struct MdCtx {
  EVP_MD_CTX* ctx;
  explicit MdCtx(const EVP_MD* md) : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr || EVP_DigestInit_ex2(ctx, md, nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      fail("digest init");
    }
  }
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
  void update(ByteView d) {
    if (EVP_DigestUpdate(ctx, d.data(), d.size()) != 1) fail("digest update");
  }
  template <std::size_t N>
  std::array<std::uint8_t, N> finish() {
    std::array<std::uint8_t, N> out{};
    unsigned len = 0;
    if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != N) fail("digest final");
    return out;
  }
};

}  // namespace

Sha256Digest sha256(ByteView data) { return one_shot<32>(md_sha256(), data); }
Sha512Digest sha512(ByteView data) { return one_shot<64>(md_sha512(), data); }

struct Sha512::Impl : MdCtx {
  Impl() : MdCtx(md_sha512()) {}
};
Sha512::Sha512() : impl_(std::make_unique<Impl>()) {}
Sha512::~Sha512() = default;
Sha512::Sha512(Sha512&&) noexcept = default;
Sha512& Sha512::operator=(Sha512&&) noexcept = default;
void Sha512::update(ByteView data) { impl_->update(data); }
Sha512Digest Sha512::finish() { return impl_->finish<64>(); }

struct Sha256::Impl : MdCtx {
  Impl() : MdCtx(md_sha256()) {}
};
Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
void Sha256::update(ByteView data) { impl_->update(data); }
Sha256Digest Sha256::finish() { return impl_->finish<32>(); }

// An HMAC context with its digest already chosen. Setting the digest by name fetches it, which
// costs more than MACing a 1 KiB response; duplicating this prototype does not.
const EVP_MAC_CTX* hmac_sha256_prototype() {
  static EVP_MAC_CTX* proto = [] {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_hmac());
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (ctx == nullptr || EVP_MAC_CTX_set_params(ctx, params) != 1) fail("hmac prototype");
    return ctx;
  }();
  return proto;
}

struct HmacSha256::Impl {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(hmac_sha256_prototype());
  ~Impl() { EVP_MAC_CTX_free(ctx); }
};

HmacSha256::HmacSha256(ByteView key) : impl_(std::make_unique<Impl>()) {
  if (impl_->ctx == nullptr || EVP_MAC_init(impl_->ctx, key.data(), key.size(), nullptr) != 1) fail("hmac init");
}
HmacSha256::~HmacSha256() = default;
HmacSha256::HmacSha256(HmacSha256&&) noexcept = default;
HmacSha256& HmacSha256::operator=(HmacSha256&&) noexcept = default;

void HmacSha256::update(ByteView data) {
  if (EVP_MAC_update(impl_->ctx, data.data(), data.size()) != 1) fail("hmac update");
}

Sha256Digest HmacSha256::finish() {
  Sha256Digest out{};
  std::size_t len = 0;
  if (EVP_MAC_final(impl_->ctx, out.data(), &len, out.size()) != 1 || len != out.size()) fail("hmac final");
  return out;
}

Sha256Digest hmac_sha256(ByteView key, ByteView data) {
  HmacSha256 h(key);
  h.update(data);
  return h.finish();
}

SecretBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length) {
  if (length == 0 || length > 255 * 32) throw Error(Errc::bad_request, "hkdf: bad output length");
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) fail("HKDF unavailable");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  if (ctx == nullptr) fail("hkdf ctx");
  char digest[] = "SHA256";
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads these buffers.
  auto octets = [](const char* name, ByteView v) {
    return OSSL_PARAM_construct_octet_string(name, const_cast<std::uint8_t*>(v.data()), v.size());
  };
  // An empty salt or info is passed by leaving the parameter out (RFC 5869: salt defaults to zeros).
  OSSL_PARAM params[5];
  std::size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = octets(OSSL_KDF_PARAM_KEY, ikm);
  if (!salt.empty()) params[n++] = octets(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty()) params[n++] = octets(OSSL_KDF_PARAM_INFO, info);
  params[n] = OSSL_PARAM_construct_end();
  SecretBytes out(length);
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) fail("hkdf derive");
  return out;
}

}  // namespace mh
