#include "core/tls_certificate.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <ctime>
#include <memory>
#include <optional>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"

namespace mh {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

[[noreturn]] void fail(const char* what) { throw Error(Errc::internal, std::string("tls certificate: ") + what); }

void check(int ok, const char* what) {
  if (ok != 1) fail(what);
}

// An IP address in its 4 or 16 network-order bytes, if `name` is one.
std::optional<std::string> ip_bytes(const std::string& name) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, name.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, name.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 16);
  return std::nullopt;
}

// RFC 1123 host names: labels of letters, digits and '-', not starting or ending with '-'.
bool dns_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    const char c = i < name.size() ? name[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

GENERAL_NAME* general_name(const std::string& name) {
  GENERAL_NAME* g = GENERAL_NAME_new();
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
  if (g == nullptr || value == nullptr) fail("out of memory");
  if (const auto ip = ip_bytes(name)) {
    ASN1_OCTET_STRING_set(value, reinterpret_cast<const unsigned char*>(ip->data()), static_cast<int>(ip->size()));
    GENERAL_NAME_set0_value(g, GEN_IPADD, value);
  } else if (dns_name(name)) {
    ASN1_STRING_set(value, name.data(), static_cast<int>(name.size()));
    value->type = V_ASN1_IA5STRING;
    GENERAL_NAME_set0_value(g, GEN_DNS, value);
  } else {
    ASN1_OCTET_STRING_free(value);
    GENERAL_NAME_free(g);
    throw Error(Errc::bad_request, "tls: '" + name + "' is neither a host name nor an IP address");
  }
  return g;
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) fail("extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string to_pem(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

X509Ptr read_certificate(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw Error(Errc::bad_request, "tls: no PEM certificate found");
  return cert;
}

std::string colon_hex(const Sha256Digest& d) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const std::uint8_t b : d) {
    if (!out.empty()) out += ':';
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace

bool is_certificate_name(const std::string& name) { return ip_bytes(name) || dns_name(name); }

TlsCertificate make_self_signed_certificate(const std::vector<std::string>& names, std::int64_t now, int days) {
  if (names.empty()) throw Error(Errc::bad_request, "tls: a certificate needs at least one name");
  NamesPtr alt(sk_GENERAL_NAME_new_null());
  for (const auto& n : names) sk_GENERAL_NAME_push(alt.get(), general_name(n));

  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("key generation");
  X509Ptr cert(X509_new());
  if (!cert) fail("out of memory");
  check(X509_set_version(cert.get(), X509_VERSION_3), "version");
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial), "serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) fail("serial");
  BN_free(bn);
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -3600, &now) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, &now) == nullptr)
    fail("validity");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string cn = names.front().substr(0, 64);
  check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                   -1, 0),
        "subject");
  check(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>("minihttpsd (self-signed)"), -1, -1, 0),
        "subject");
  check(X509_set_issuer_name(cert.get(), subject), "issuer");
  check(X509_set_pubkey(cert.get(), key.get()), "public key");
  check(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, alt.get(), 0, X509V3_ADD_DEFAULT), "subjectAltName");
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("signature");

  TlsCertificate out;
  BioPtr c(BIO_new(BIO_s_mem())), k(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(c.get(), cert.get()), "PEM");
  check(PEM_write_bio_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), "PEM");
  out.certificate_pem = to_pem(c.get());
  out.private_key_pem = to_pem(k.get());
  return out;
}

CertificateFacts describe_certificate(std::string_view pem) {
  const X509Ptr cert = read_certificate(pem);
  CertificateFacts f;
  unsigned char* der = nullptr;
  int n = i2d_X509(cert.get(), &der);
  if (n <= 0) fail("DER");
  f.sha256 = colon_hex(sha256(ByteView(der, static_cast<std::size_t>(n))));
  OPENSSL_free(der);
  der = nullptr;
  n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  if (n <= 0) fail("DER");
  const Sha256Digest spki = sha256(ByteView(der, static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  f.spki_sha256 = base64_encode(ByteView(spki.data(), spki.size()));
  NamesPtr alt(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; alt && i < sk_GENERAL_NAME_num(alt.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(alt.get(), i);
    int type = 0;
    const auto* v = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(g, &type));
    const std::string raw(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                          static_cast<std::size_t>(ASN1_STRING_length(v)));
    if (type == GEN_DNS) {
      f.names.push_back(raw);
    } else if (type == GEN_IPADD && (raw.size() == 4 || raw.size() == 16)) {
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(raw.size() == 4 ? AF_INET : AF_INET6, raw.data(), text, sizeof text)) f.names.emplace_back(text);
    }
  }
  struct tm t {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) != 1) fail("notAfter");
  f.not_after = timegm(&t);
  return f;
}

}  // namespace mh
