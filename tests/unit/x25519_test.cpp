// RFC 7748 §5.2 and §6.1 known answers; small-order peer points refused.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/x25519.hpp"

namespace mh {
namespace {

TEST(X25519, Rfc7748ScalarMult) {
  EXPECT_EQ(to_hex(x25519_scalarmult(from_hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                                     from_hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))),
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  EXPECT_EQ(to_hex(x25519_scalarmult(from_hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                                     from_hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"))),
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

TEST(X25519, Rfc7748Iterated) {
  Bytes k = from_hex("0900000000000000000000000000000000000000000000000000000000000000"), u = k;
  for (int i = 1; i <= 1000; ++i) {
    const auto r = x25519_scalarmult(k, u);
    u = k;
    k.assign(r.begin(), r.end());
    if (i == 1) { EXPECT_EQ(to_hex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"); }
  }
  EXPECT_EQ(to_hex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

TEST(X25519, Rfc7748DiffieHellman) {
  const auto alice =
      X25519KeyPair::from_secret(from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const auto bob =
      X25519KeyPair::from_secret(from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  EXPECT_EQ(to_hex(alice.public_key), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(to_hex(bob.public_key), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const char* k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  EXPECT_EQ(to_hex(x25519_shared(alice.secret, bob.public_key).view()), k);
  EXPECT_EQ(to_hex(x25519_shared(bob.secret, alice.public_key).view()), k);
}

TEST(X25519, GeneratedPairsAgree) {
  const auto a = X25519KeyPair::generate(), b = X25519KeyPair::generate();
  EXPECT_NE(a.public_key, b.public_key);
  EXPECT_EQ(to_hex(x25519_shared(a.secret, b.public_key).view()), to_hex(x25519_shared(b.secret, a.public_key).view()));
}

TEST(X25519, SmallOrderPointsAreRefused) {
  const auto a = X25519KeyPair::generate();
  for (const char* p : {"0000000000000000000000000000000000000000000000000000000000000000",
                        "0100000000000000000000000000000000000000000000000000000000000000",
                        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
                        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"}) {
    try {
      x25519_shared(a.secret, from_hex(p));
      ADD_FAILURE() << "accepted small-order point " << p;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::bad_request);
      EXPECT_STREQ(e.what(), "x25519: peer key is a small-order point");
    }
  }
  EXPECT_THROW(x25519_shared(a.secret, Bytes(31, 9)), Error);
}

}  // namespace
}  // namespace mh
