// Regression tests for problems found while fuzzing (fuzz/README.md). Each test reproduces one
// finding through the public API, states the input, and names the fuzz target whose invariant it
// broke. A test here that fails means the finding is not fixed yet.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/ed25519.hpp"
#include "core/error.hpp"
#include "core/handshake.hpp"
#include "core/rsa.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

// A 2048-bit id-RSASSA-PSS public key whose parameters restrict it to exactly the protocol's
// algorithm: SHA-512, MGF1-SHA-512, minimum salt 64 (`openssl genpkey -algorithm RSA-PSS
// -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_pss_keygen_md:sha512
// -pkeyopt rsa_pss_keygen_mgf1_md:sha512 -pkeyopt rsa_pss_keygen_saltlen:64`).
// RsaPublicKey::from_spki_der accepts such keys ("rsaEncryption or id-RSASSA-PSS keys").
constexpr std::string_view kRestrictedPssKey =
    "MIIBVjBBBgkqhkiG9w0BAQowNKAPMA0GCWCGSAFlAwQCAwUAoRwwGgYJKoZIhvcN"
    "AQEIMA0GCWCGSAFlAwQCAwUAogMCAUADggEPADCCAQoCggEBAJvPCN1jdd44i/2i"
    "mq5HuRZuuQKF3P72tZh58JNBCSmbyJpoCVh9T+SNIGqiL+8BldxkeHVDwwdyRLGm"
    "lwgTxmGVXjc+LwjbRG1wwrIQC0eqYGfJnVS5wG+Gyi4SlUduN2dm6LLJobO/z2Io"
    "zfl7UHNK6gd9s4JrVhQ5v3iI3jlF0nsZiz+mAuWkxfINCykk+MaCxGbB5fsLoqtI"
    "4EcoSQHd40SZ1x4YGDkD/eATq/GLeH28AUtRgbb+LELR9pW4XzdUs51itgsJLr8g"
    "+kXfKbAKfL5KGx0eTrrZdShkXjUAZUQoCsLXebG+xzkXXJgp3Nwb74QLF7VR+v7/"
    "XmIlFX0CAwEAAQ==";

Bytes restricted_pss_spki() { return base64_decode(kRestrictedPssKey); }

// fuzz_handshake_hello: "consume_hello refuses only with bad_request or forbidden".
// A client hello carrying the key above (any signature) made ServerHandshake::consume_hello
// throw Errc::internal ("rsa: pss parameters", i.e. HTTP 500) instead of refusing it: on a
// parameter-restricted PSS key OpenSSL refuses RSA_PSS_SALTLEN_AUTO for verification, and
// verify_pss_sha512 turned that into an internal error instead of returning false. Any
// unauthenticated client could trigger it with one POST /auth/handshake (in v2 the identity is
// sealed to the static key, which anyone can do with the published key).
TEST(FuzzRegressions, HelloWithRestrictedPssKeyIsRefusedNotAnInternalError) {
  FixedClock clock(1700000000);
  const auto identity = Ed25519KeyPair::from_seed(Bytes(32, 7));
  const auto static_key = X25519KeyPair::from_secret(Bytes(32, 8));
  const handshake::ServerKeys keys{identity.public_key(), static_key.public_key};
  handshake::HelloIdentity h;
  h.name = "alice";
  h.nonce.fill(1);
  h.rsa_spki = restricted_pss_spki();
  h.time = 1700000000;
  h.signature = Bytes(256, 1);
  const auto eph = X25519KeyPair::from_secret(Bytes(32, 9));
  const Secret<32> es = x25519_shared(eph.secret, static_key.public_key);
  const std::string json = handshake::to_json(handshake::Envelope{
      eph.public_key, fernet_encrypt(handshake::hello_key(es, handshake::hello_key_salt(keys, eph.public_key)),
                                     as_bytes(handshake::to_json(h)), 1700000000)});
  handshake::ServerHandshake server(identity, static_key, handshake::ServerPolicy{}, clock);
  try {
    server.consume_hello(json);
    ADD_FAILURE() << "a hello with a bogus signature was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::forbidden) << e.what();
    EXPECT_STREQ(e.what(), "handshake: client signature does not verify");
  }
}

// The root cause, one level down: verification of an attacker-supplied key reports a bad
// signature as false, whatever the key's parameters.
TEST(FuzzRegressions, VerifyWithRestrictedPssKeyReturnsFalse) {
  const RsaPublicKey key = RsaPublicKey::from_spki_der(restricted_pss_spki());
  EXPECT_EQ(key.bits(), 2048);
  try {
    EXPECT_FALSE(key.verify_pss_sha512(as_bytes("message"), Bytes(256, 1)));
  } catch (const Error& e) {
    ADD_FAILURE() << "verify_pss_sha512 threw Errc::" << errc_name(e.code()) << ": " << e.what();
  }
}

// fuzz_handshake_hello: "an accepted message's integers are the JSON numbers of its text".
// The parsers took any JSON integer with get<std::int64_t>(), so an unsigned number above
// INT64_MAX was accepted and wrapped around: "time":18446744073709551615 read as -1 instead of
// being refused as a wrong type. No security effect found, but the value the parser returned was
// not the value that was sent.
TEST(FuzzRegressions, HandshakeIntegersBeyondInt64AreRefused) {
  handshake::HelloIdentity h;
  h.name = "alice";
  h.nonce.fill(1);
  h.rsa_spki = Bytes(16, 2);
  h.time = 1700000000;
  h.signature = Bytes(16, 3);
  std::string hello = handshake::to_json(h);
  const std::string time = "\"time\":1700000000";
  ASSERT_NE(hello.find(time), std::string::npos);
  hello.replace(hello.find(time), time.size(), "\"time\":18446744073709551615");
  EXPECT_EQ(test::error_of([&] { handshake::parse_hello_identity(hello); }), "handshake: field 'time' is out of range");

  handshake::ReplyIdentity r;
  r.uuid.bytes.fill(4);
  r.expires = 1700003600;
  r.chunk_size = 262144;
  std::string reply = handshake::to_json(r);
  const std::string expires = "\"expires\":1700003600";
  ASSERT_NE(reply.find(expires), std::string::npos);
  reply.replace(reply.find(expires), expires.size(), "\"expires\":9223372036854775808");
  EXPECT_EQ(test::error_of([&] { handshake::parse_reply_identity(reply); }),
            "handshake: field 'expires' is out of range");
}

// fuzz_keys_ids: "the DER RsaPublicKey keeps (and hashes as the fingerprint) is the canonical
// encoding". The strict SPKI reader (core/rsa_spki.cpp) checked each element's tag number, class
// and length encoding, but not the constructed bit: an rsaEncryption key whose SEQUENCE was tagged
// primitive (0x10 for 0x30) or whose BIT STRING or INTEGER was tagged constructed (0x23, 0x22) was
// accepted and kept byte for byte. One RSA key then had several encodings, so several
// fingerprints: a client could register the same key as several identities (and upload areas),
// and whatever keys on the fingerprint saw different keys. OpenSSL's decoder refuses them all.
// (fuzz/regressions/fuzz_keys_ids/spki_primitive_sequence, spki_constructed_integer)
TEST(FuzzRegressions, SpkiWithAWrongConstructedBitIsRefused) {
  const Bytes good =
      RsaPublicKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa.pub.pem")).spki_der();
  ASSERT_EQ(good.size(), 294u);
  ASSERT_EQ(RsaPublicKey::from_spki_der(good).spki_der(), good);
  // Offsets of the tags in a 2048-bit key's SubjectPublicKeyInfo, and the tag with the bit flipped.
  const std::vector<std::pair<std::size_t, std::uint8_t>> cases = {
      {0, 0x10},    // SubjectPublicKeyInfo SEQUENCE, primitive
      {19, 0x23},   // subjectPublicKey BIT STRING, constructed
      {24, 0x10},   // RSAPublicKey SEQUENCE, primitive
      {28, 0x22}};  // modulus INTEGER, constructed
  for (const auto& [offset, tag] : cases) {
    Bytes der = good;
    ASSERT_EQ(der[offset] ^ tag, 0x20) << offset;
    der[offset] = tag;
    try {
      const RsaPublicKey key = RsaPublicKey::from_spki_der(der);
      ADD_FAILURE() << "accepted with tag " << int{tag} << " at " << offset << "; fingerprint " << key.fingerprint()
                    << " instead of " << RsaPublicKey::from_spki_der(good).fingerprint();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::bad_request) << e.what();
      EXPECT_STREQ(e.what(), "rsa: cannot parse public key");
    }
  }
}

}  // namespace
}  // namespace mh
