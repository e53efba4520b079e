// SHA-2 (FIPS 180-4 examples), HMAC-SHA256 (RFC 4231) and HKDF-SHA256 (RFC 5869 Appendix A).
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/hash.hpp"

namespace mh {
namespace {

TEST(Sha, Fips180Examples) {
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256(as_bytes(""))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha512(as_bytes("abc"))),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
            "454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(Sha, StreamingMatchesOneShot) {
  const std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256 s;
  Sha512 l;
  for (char c : msg) {
    s.update(as_bytes(std::string_view(&c, 1)));
    l.update(as_bytes(std::string_view(&c, 1)));
  }
  EXPECT_EQ(to_hex(s.finish()), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(l.finish(), sha512(as_bytes(msg)));
}

TEST(Hmac, Rfc4231) {
  // Test case 1
  EXPECT_EQ(to_hex(hmac_sha256(Bytes(20, 0x0b), as_bytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2
  EXPECT_EQ(to_hex(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: key longer than the block size
  EXPECT_EQ(to_hex(hmac_sha256(Bytes(131, 0xaa), as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  HmacSha256 h(as_bytes("Jefe"));
  h.update(as_bytes("what do ya want "));
  h.update(as_bytes("for nothing?"));
  EXPECT_EQ(to_hex(h.finish()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hkdf, Rfc5869A1Basic) {
  const auto okm = hkdf_sha256(from_hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                               from_hex("000102030405060708090a0b0c"), from_hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  EXPECT_EQ(to_hex(okm.view()), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Hkdf, Rfc5869A2LongInputs) {
  Bytes ikm, salt, info;
  for (int i = 0; i < 80; ++i) {
    ikm.push_back(static_cast<std::uint8_t>(i));
    salt.push_back(static_cast<std::uint8_t>(0x60 + i));
    info.push_back(static_cast<std::uint8_t>(0xb0 + i));
  }
  EXPECT_EQ(to_hex(hkdf_sha256(ikm, salt, info, 82).view()),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da32"
            "75600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

TEST(Hkdf, Rfc5869A3EmptySaltAndInfo) {
  EXPECT_EQ(to_hex(hkdf_sha256(Bytes(22, 0x0b), {}, {}, 42).view()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(Hkdf, RefusesImpossibleLengths) {
  EXPECT_THROW(hkdf_sha256(Bytes(22, 1), {}, {}, 0), Error);
  EXPECT_THROW(hkdf_sha256(Bytes(22, 1), {}, {}, 255 * 32 + 1), Error);
}

}  // namespace
}  // namespace mh
