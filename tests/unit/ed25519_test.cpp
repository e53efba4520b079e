// RFC 8032 §7.1 known answers, PEM key files (RFC 9421 B.1.4 key), fingerprints.
#include <gtest/gtest.h>

#include "core/ed25519.hpp"
#include "core/error.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

struct Vec {
  const char *seed, *pub, *msg, *sig;
};
constexpr Vec kRfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe"
     "24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302a"
     "eeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed2"
     "8dc027beceea1ec40a"},
};

TEST(Ed25519, Rfc8032Vectors) {
  for (const auto& v : kRfc8032) {
    const auto kp = Ed25519KeyPair::from_seed(from_hex(v.seed));
    EXPECT_EQ(to_hex(kp.public_key()), v.pub);
    const auto sig = kp.sign(from_hex(v.msg));
    EXPECT_EQ(to_hex(sig), v.sig);
    EXPECT_TRUE(ed25519_verify(kp.public_key(), from_hex(v.msg), sig));
    Bytes bad = from_hex(v.msg);
    bad.push_back(0);
    EXPECT_FALSE(ed25519_verify(kp.public_key(), bad, sig));
    auto flipped = sig;
    flipped[0] ^= 1;
    EXPECT_FALSE(ed25519_verify(kp.public_key(), from_hex(v.msg), flipped));
  }
}

TEST(Ed25519, PemRoundTripAndRfc9421Key) {
  const std::string priv = test::read_file(test::vectors_dir() / "rfc9421/test-key-ed25519.priv.pem");
  const std::string pub = test::read_file(test::vectors_dir() / "rfc9421/test-key-ed25519.pub.pem");
  const auto kp = Ed25519KeyPair::from_pem(priv);
  EXPECT_EQ(kp.public_key(), ed25519_public_from_pem(pub));
  EXPECT_EQ(Ed25519KeyPair::from_pem(kp.private_pem()).public_key(), kp.public_key());
  EXPECT_EQ(ed25519_public_from_pem(ed25519_public_pem(kp.public_key())), kp.public_key());
  // Our PEM is byte-identical to what OpenSSL writes for the same key.
  EXPECT_EQ(ed25519_public_pem(kp.public_key()), pub);
}

TEST(Ed25519, RefusesOtherKeyTypes) {
  const std::string rsa = test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa-pss.pub.pem");
  EXPECT_THROW(ed25519_public_from_pem(rsa), Error);
  const std::string p256 = test::read_file(test::vectors_dir() / "rfc9421/test-key-ecc-p256.priv.pem");
  EXPECT_THROW(Ed25519KeyPair::from_pem(p256), Error);
}

TEST(Ed25519, FingerprintFormat) {
  const auto kp = Ed25519KeyPair::from_seed(from_hex(kRfc8032[0].seed));
  const std::string fp = ed25519_fingerprint(kp.public_key());
  // = "SHA256:" + unpadded base64(sha256(raw key)), computed independently with Python's hashlib.
  EXPECT_EQ(fp, "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk");
  EXPECT_NE(fp, ed25519_fingerprint(Ed25519KeyPair::generate().public_key()));
}

}  // namespace
}  // namespace mh
