// The self-signed certificate of --tls-self-signed (core/tls_certificate): what OpenSSL reads back
// from it, and the names refused.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <regex>

#include "core/error.hpp"
#include "core/tls_certificate.hpp"

namespace mh {
namespace {

constexpr std::int64_t kNow = 1796000000;  // 2026-11-30

struct Parsed {
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
};

Parsed parse(const TlsCertificate& c) {
  Parsed p;
  BIO* b = BIO_new_mem_buf(c.certificate_pem.data(), static_cast<int>(c.certificate_pem.size()));
  p.cert.reset(PEM_read_bio_X509(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  b = BIO_new_mem_buf(c.private_key_pem.data(), static_cast<int>(c.private_key_pem.size()));
  p.key.reset(PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  return p;
}

TEST(TlsCertificate, ASelfSignedOneIsAnEcdsaP256ServerCertificateForItsNames) {
  const TlsCertificate c = make_self_signed_certificate({"localhost", "127.0.0.1", "::1", "files.lan"}, kNow, 365);
  EXPECT_EQ(c.certificate_pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);
  EXPECT_EQ(c.private_key_pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);  // PKCS#8, unencrypted
  const Parsed p = parse(c);
  ASSERT_TRUE(p.cert && p.key);
  EXPECT_EQ(X509_check_private_key(p.cert.get(), p.key.get()), 1);
  EXPECT_EQ(X509_verify(p.cert.get(), p.key.get()), 1);  // signed by its own key
  EXPECT_TRUE(EVP_PKEY_is_a(p.key.get(), "EC"));
  char group[32] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(p.key.get(), group, sizeof group, nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_get_version(p.cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_host(p.cert.get(), "files.lan", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(p.cert.get(), "other.lan", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(p.cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(p.cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(p.cert.get(), "10.0.0.1", 0), 0);
  EXPECT_EQ(X509_check_purpose(p.cert.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_ca(p.cert.get()), 0);  // CA:FALSE
  // Valid from an hour before now for 365 days.
  int days = 0, seconds = 0;
  ASN1_TIME* now = ASN1_TIME_set(nullptr, static_cast<time_t>(kNow));
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, now, X509_get0_notBefore(p.cert.get())), 1);
  EXPECT_EQ(days * 86400 + seconds, -3600);
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, now, X509_get0_notAfter(p.cert.get())), 1);
  EXPECT_EQ(days * 86400 + seconds, 365 * 86400);
  ASN1_TIME_free(now);
}

TEST(TlsCertificate, ItDescribesItselfAsBrowsersAndChromiumsFlagsDo) {
  const TlsCertificate c = make_self_signed_certificate({"localhost", "192.168.1.20", "fe80::1"}, kNow, 30);
  const CertificateFacts f = describe_certificate(c.certificate_pem);
  EXPECT_EQ(f.names, (std::vector<std::string>{"localhost", "192.168.1.20", "fe80::1"}));
  EXPECT_EQ(f.not_after, kNow + 30 * 86400);
  EXPECT_TRUE(std::regex_match(f.sha256, std::regex("([0-9A-F]{2}:){31}[0-9A-F]{2}"))) << f.sha256;
  EXPECT_TRUE(std::regex_match(f.spki_sha256, std::regex("[A-Za-z0-9+/]{43}="))) << f.spki_sha256;
  // Two certificates are two keys: different fingerprints, different key hashes.
  const CertificateFacts g =
      describe_certificate(make_self_signed_certificate({"localhost"}, kNow, 30).certificate_pem);
  EXPECT_NE(f.sha256, g.sha256);
  EXPECT_NE(f.spki_sha256, g.spki_sha256);
  // The fingerprint is of the DER, whatever surrounds the PEM block.
  EXPECT_EQ(describe_certificate("some text\n" + c.certificate_pem + "\n").sha256, f.sha256);
}

TEST(TlsCertificate, NamesThatAreNeitherHostNamesNorAddressesAreRefused) {
  const auto refused = [](std::vector<std::string> names) -> std::string {
    try {
      make_self_signed_certificate(names, kNow, 30);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::bad_request);
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(refused({}), "tls: a certificate needs at least one name");
  EXPECT_EQ(refused({"localhost", "bad name"}), "tls: 'bad name' is neither a host name nor an IP address");
  EXPECT_EQ(refused({"-lead.lan"}), "tls: '-lead.lan' is neither a host name nor an IP address");
  EXPECT_EQ(refused({"a..b"}), "tls: 'a..b' is neither a host name nor an IP address");
  EXPECT_EQ(refused({std::string(64, 'a') + ".lan"}),
            "tls: '" + std::string(64, 'a') + ".lan' is neither a host name nor an IP address");
  EXPECT_EQ(refused({std::string(63, 'a') + ".lan"}), "accepted");  // a label of 63 is the longest
  EXPECT_EQ(refused({"*.lan"}), "tls: '*.lan' is neither a host name nor an IP address");
}

TEST(TlsCertificate, TextWithoutACertificateIsRefused) {
  try {
    describe_certificate("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::bad_request);
    EXPECT_STREQ(e.what(), "tls: no PEM certificate found");
  }
}

}  // namespace
}  // namespace mh
