#include "core/rsa_spki.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cstring>
#include <memory>

namespace mh::detail {
namespace {

// DER of OBJECT IDENTIFIER 1.2.840.113549.1.1.1 (rsaEncryption) followed by NULL.
constexpr unsigned char kRsaEncryptionAlg[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                               0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

struct Cursor {
  const unsigned char* p;
  long left;
};

std::size_t der_header_size(long content_length) {
  if (content_length < 0x80) return 2;
  std::size_t n = 0;
  for (auto v = static_cast<unsigned long>(content_length); v != 0; v >>= 8) ++n;
  return 2 + n;
}

// Takes one element with tag `tag` off the front of `c`; its content in `out`. Refuses BER
// (indefinite or non-minimal lengths, a SEQUENCE not constructed, an INTEGER or BIT STRING not
// primitive) so the bytes are canonical.
bool take(Cursor& c, int tag, Cursor& out) {
  const unsigned char* q = c.p;
  long len = 0;
  int got_tag = 0;
  int cls = 0;
  const int r = ASN1_get_object(&q, &len, &got_tag, &cls, c.left);
  if ((r & 0x80) != 0 || (r & 0x01) != 0 || cls != V_ASN1_UNIVERSAL || got_tag != tag) return false;
  if (((r & V_ASN1_CONSTRUCTED) != 0) != (tag == V_ASN1_SEQUENCE)) return false;
  if (static_cast<std::size_t>(q - c.p) != der_header_size(len)) return false;
  out = {q, len};
  c.left -= static_cast<long>(q - c.p) + len;
  c.p = q + len;
  return true;
}

// A positive INTEGER in minimal form, as a BIGNUM.
BIGNUM* take_positive_integer(Cursor& c) {
  Cursor v{};
  if (!take(c, V_ASN1_INTEGER, v) || v.left < 1) return nullptr;
  if ((v.p[0] & 0x80) != 0) return nullptr;                               // negative
  if (v.left > 1 && v.p[0] == 0 && (v.p[1] & 0x80) == 0) return nullptr;  // not minimal
  return BN_bin2bn(v.p, static_cast<int>(v.left), nullptr);
}

struct BnFree {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};

}  // namespace

evp_pkey_st* parse_rsa_spki_strict(ByteView der) {
  Cursor all{der.data(), static_cast<long>(der.size())};
  Cursor spki{}, alg{}, bits{};
  if (!take(all, V_ASN1_SEQUENCE, spki) || all.left != 0) return nullptr;
  if (!take(spki, V_ASN1_SEQUENCE, alg) || alg.left != sizeof kRsaEncryptionAlg ||
      std::memcmp(alg.p, kRsaEncryptionAlg, sizeof kRsaEncryptionAlg) != 0)
    return nullptr;
  if (!take(spki, V_ASN1_BIT_STRING, bits) || spki.left != 0 || bits.left < 1 || bits.p[0] != 0) return nullptr;
  Cursor key{bits.p + 1, bits.left - 1}, fields{};
  if (!take(key, V_ASN1_SEQUENCE, fields) || key.left != 0) return nullptr;
  std::unique_ptr<BIGNUM, BnFree> n(take_positive_integer(fields));
  std::unique_ptr<BIGNUM, BnFree> e(n ? take_positive_integer(fields) : nullptr);
  if (!n || !e || fields.left != 0) return nullptr;

  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
    return nullptr;
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return nullptr;
  return pkey;
}

}  // namespace mh::detail
