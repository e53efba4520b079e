// RSA: generation limits, PEM/DER round trips, RSA-PSS-SHA512 with any salt length, and the
// RFC 9421 keys and signatures (B.2.1 PSS verify, §4.3 PKCS#1 v1.5 reproduced exactly).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/rsa.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

std::string vec(const char* name) { return test::read_file(test::vectors_dir() / "rfc9421" / name); }

nlohmann::json examples() { return nlohmann::json::parse(vec("examples.json")); }

Bytes sig_value(const std::string& header) {
  // "label=:base64:" -> bytes
  const auto a = header.find(":"), b = header.rfind(":");
  return base64_decode(header.substr(a + 1, b - a - 1));
}

TEST(Rsa, GenerationRespectsLimits) {
  const auto key = RsaPrivateKey::generate(2048);
  EXPECT_EQ(key.bits(), 2048);
  EXPECT_EQ(key.public_key().bits(), 2048);
  for (int bad : {1024, 2047, 2049, 4104, 8192}) {
    try {
      RsaPrivateKey::generate(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::bad_request);
      EXPECT_STREQ(e.what(), "rsa: key size must be a multiple of 8 in 2048..4096 bits");
    }
  }
}

TEST(Rsa, PemAndDerRoundTrip) {
  const auto key = RsaPrivateKey::generate(2048);
  const std::string pem = key.pem();
  EXPECT_NE(pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);  // PKCS#8
  const auto again = RsaPrivateKey::from_pem(pem);
  EXPECT_EQ(again.public_key().spki_der(), key.public_key().spki_der());
  const auto pub = key.public_key();
  EXPECT_NE(pub.pem().find("-----BEGIN PUBLIC KEY-----"), std::string::npos);  // SPKI
  EXPECT_EQ(RsaPublicKey::from_pem(pub.pem()).spki_der(), pub.spki_der());
  EXPECT_EQ(RsaPublicKey::from_spki_der(pub.spki_der()).fingerprint(), pub.fingerprint());
}

TEST(Rsa, PssSignVerifyAcceptsAnySaltLength) {
  const auto key = RsaPrivateKey::generate(2048);
  const auto pub = key.public_key();
  const Bytes msg = to_bytes("signature base");
  const Bytes sig = key.sign_pss_sha512(msg);
  EXPECT_EQ(sig.size(), 256u);
  EXPECT_TRUE(pub.verify_pss_sha512(msg, sig));
  EXPECT_NE(key.sign_pss_sha512(msg), sig);  // randomized salt
  Bytes tampered = sig;
  tampered[100] ^= 0x01;
  EXPECT_FALSE(pub.verify_pss_sha512(msg, tampered));
  EXPECT_FALSE(pub.verify_pss_sha512(to_bytes("signature basf"), sig));
  EXPECT_FALSE(pub.verify_pss_sha512(msg, Bytes(sig.begin(), sig.end() - 1)));
  EXPECT_FALSE(RsaPrivateKey::generate(2048).public_key().verify_pss_sha512(msg, sig));
}

TEST(Rsa, PssVerifiesOtherSaltLengthsFromOpenssl) {
  // A signer with salt length 0 and one with the maximum (as some libraries default to):
  // the command-line openssl is an independent signer here.
  test::TempDir dir;
  const auto key = RsaPrivateKey::generate(2048);
  test::write_file(dir / "k.pem", key.pem());
  test::write_file(dir / "m", "hello");
  for (const char* salt : {"0", "32", "max"}) {
    const auto r = test::run_command({"openssl", "dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
                                      std::string("rsa_pss_saltlen:") + salt, "-sigopt", "rsa_mgf1_md:sha512", "-sign",
                                      (dir / "k.pem").string(), "-out", (dir / "s").string(), (dir / "m").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(key.public_key().verify_pss_sha512(to_bytes("hello"), to_bytes(test::read_file(dir / "s")))) << salt;
  }
}

TEST(Rsa, Rfc9421B21PssSignatureVerifies) {
  const auto ex = examples()["sig-b21"];
  const auto pub = RsaPublicKey::from_pem(vec("test-key-rsa-pss.pub.pem"));
  EXPECT_EQ(pub.bits(), 2048);
  const std::string base = ex["signature_base"];
  EXPECT_TRUE(pub.verify_pss_sha512(as_bytes(base), sig_value(ex["signature"])));
  EXPECT_FALSE(pub.verify_pss_sha512(as_bytes(base + " "), sig_value(ex["signature"])));
}

TEST(Rsa, Rfc9421PssPrivateKeyLoadsAndSigns) {
  // B.1.2's private key is PKCS#8 with the id-RSASSA-PSS algorithm identifier.
  const auto key = RsaPrivateKey::from_pem(vec("test-key-rsa-pss.priv.pem"));
  const auto pub = RsaPublicKey::from_pem(vec("test-key-rsa-pss.pub.pem"));
  const Bytes sig = key.sign_pss_sha512(to_bytes("x"));
  EXPECT_TRUE(pub.verify_pss_sha512(to_bytes("x"), sig));
}

TEST(Rsa, Rfc9421Section43Pkcs1ReproducedExactly) {
  const auto ex = examples()["proxy_sig (sec 4.3)"];
  const auto key = RsaPrivateKey::from_pem(vec("test-key-rsa.priv.pem"));  // PKCS#1 PEM
  const auto pub = RsaPublicKey::from_pem(vec("test-key-rsa.pub.pem"));    // PKCS#1 PEM
  const std::string base = vec("proxy_sig.sigbase.txt");
  EXPECT_EQ(base, std::string(ex["signature_base"]));
  const Bytes expected = base64_decode(std::string(ex["proxy_sig_value"]));
  EXPECT_EQ(key.sign_pkcs1_sha256(as_bytes(base)), expected);
  EXPECT_TRUE(pub.verify_pkcs1_sha256(as_bytes(base), expected));
  EXPECT_FALSE(pub.verify_pkcs1_sha256(as_bytes(base + "x"), expected));
  EXPECT_FALSE(pub.verify_pss_sha512(as_bytes(base), expected));
}

TEST(Rsa, RefusesGarbageAndOtherKeyTypes) {
  EXPECT_THROW(RsaPublicKey::from_spki_der(to_bytes("not a key")), Error);
  EXPECT_THROW(RsaPublicKey::from_pem(vec("test-key-ecc-p256.pub.pem")), Error);
  EXPECT_THROW(RsaPublicKey::from_pem(vec("test-key-ed25519.pub.pem")), Error);
  EXPECT_THROW(RsaPrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), Error);
  try {
    RsaPublicKey::from_pem(vec("test-key-ecc-p256.pub.pem"));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::bad_request);
    EXPECT_STREQ(e.what(), "rsa: public key is not an RSA key");
  }
}

TEST(Rsa, FingerprintIsSha256OfSpki) {
  const auto pub = RsaPublicKey::from_pem(vec("test-key-rsa-pss.pub.pem"));
  // Independently: openssl pkey -pubin -outform DER | sha256 | base64, without padding.
  test::TempDir dir;
  test::write_file(dir / "p.pem", vec("test-key-rsa-pss.pub.pem"));
  const auto r = test::run_command({"sh", "-c",
                                    "openssl pkey -pubin -in '" + (dir / "p.pem").string() +
                                        "' -outform DER | openssl dgst -sha256 -binary | base64 | tr -d '=\\n'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(pub.fingerprint(), "SHA256:" + r.out);
}

// The fast SPKI reader (rsa_spki.cpp) must agree with OpenSSL's decoder on canonical keys and
// leave every other encoding to it: same key, same fingerprint, same verdicts.
TEST(Rsa, FastSpkiReaderAgreesWithTheDecoder) {
  const auto key = RsaPrivateKey::generate(2048);
  const Bytes der = key.public_key().spki_der();
  const auto fast = RsaPublicKey::from_spki_der(der);
  const auto slow = RsaPublicKey::from_pem(key.public_key().pem());  // the generic decoder
  EXPECT_EQ(fast.spki_der(), slow.spki_der());
  EXPECT_EQ(fast.fingerprint(), slow.fingerprint());
  EXPECT_EQ(fast.bits(), 2048);
  const Bytes sig = key.sign_pss_sha512(to_bytes("m"));
  EXPECT_TRUE(fast.verify_pss_sha512(to_bytes("m"), sig));
  EXPECT_FALSE(fast.verify_pss_sha512(to_bytes("n"), sig));
}

TEST(Rsa, SpkiEncodingsOutsideCanonicalDerAreDecidedByTheDecoder) {
  const auto key = RsaPrivateKey::generate(2048);
  const Bytes der = key.public_key().spki_der();
  // Trailing bytes and truncation: refused by both readers.
  Bytes trailing = der;
  trailing.push_back(0);
  for (const ByteView bad : {ByteView(trailing), ByteView(der).first(der.size() - 1)}) {
    try {
      RsaPublicKey::from_spki_der(bad);
      ADD_FAILURE() << "accepted " << bad.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::bad_request);
      EXPECT_STREQ(e.what(), "rsa: cannot parse public key");
    }
  }
  // The outer length in a non-minimal long form (0x83 00 01 22 for 0x82 01 22): BER, not DER.
  // The fast reader declines it; OpenSSL's decoder accepts it (as `openssl pkey -inform DER`
  // does), and the key keeps the canonical DER, so its fingerprint is the same key's.
  ASSERT_EQ(der[1], 0x82);
  Bytes ber{der[0], 0x83, 0x00};
  ber.insert(ber.end(), der.begin() + 2, der.end());
  const auto k = RsaPublicKey::from_spki_der(ber);
  EXPECT_EQ(k.spki_der(), der);
  EXPECT_EQ(k.fingerprint(), key.public_key().fingerprint());
  // An id-RSASSA-PSS key (RFC 9421 B.1.2) is not for the fast reader; the decoder takes it.
  const auto pss = RsaPublicKey::from_pem(vec("test-key-rsa-pss.pub.pem"));
  const auto again = RsaPublicKey::from_spki_der(pss.spki_der());
  EXPECT_EQ(again.fingerprint(), pss.fingerprint());
  const auto ex = examples()["sig-b21"];
  EXPECT_TRUE(again.verify_pss_sha512(as_bytes(std::string(ex["signature_base"])), sig_value(ex["signature"])));
}

}  // namespace
}  // namespace mh
