// Session values at rest in the store: they open only with the same server identity, under the
// same store key, unaltered.
#include <gtest/gtest.h>

#include "store/sealed_value.hpp"

namespace mh::store {
namespace {

std::string opened(const std::optional<SecretBytes>& s) { return s ? std::string(as_chars(s->view())) : "<none>"; }

TEST(ValueSealer, OpensWithTheSameIdentityAndBindingOnly) {
  const Ed25519KeyPair id = Ed25519KeyPair::generate();
  const ValueSealer a(id), b(id);  // two instances holding the same identity
  const std::string sealed = a.seal("session secret", "mh:sess:01");
  EXPECT_EQ(sealed.size(), 24 + 14 + 16u);
  EXPECT_EQ(sealed.find("session secret"), std::string::npos);
  EXPECT_EQ(opened(b.open(sealed, "mh:sess:01")), "session secret");
  EXPECT_EQ(opened(b.open(sealed, "mh:sess:02")), "<none>");  // moved under another key
  EXPECT_EQ(opened(ValueSealer(Ed25519KeyPair::generate()).open(sealed, "mh:sess:01")), "<none>");
  std::string altered = sealed;
  altered[30] ^= 1;
  EXPECT_EQ(opened(b.open(altered, "mh:sess:01")), "<none>");
  EXPECT_EQ(opened(b.open(sealed.substr(0, 39), "mh:sess:01")), "<none>");  // shorter than nonce + tag
  EXPECT_NE(a.seal("session secret", "mh:sess:01"), sealed);                // a fresh nonce each time
}

TEST(ValueSealer, TheKeyIsDerivedFromTheIdentitySeed) {
  const Bytes seed(32, 7);
  const ValueSealer a(Ed25519KeyPair::from_seed(seed)), b(Ed25519KeyPair::from_seed(seed));
  EXPECT_EQ(opened(b.open(a.seal("x", "k"), "k")), "x");
}

}  // namespace
}  // namespace mh::store
