// docs/PROTOCOL.md carries a worked example of the handshake, a signed request and a Fernet
// response with every intermediate value. This test recomputes all of it from the fixed inputs
// and fails if the document disagrees. RSA-PSS signatures are randomized, so the client's
// signatures are taken from the document and verified instead of recomputed.
//
// To regenerate the block after a protocol change:
//   MH_PRINT_WORKED_EXAMPLE=1 build/release/tests/core_tests --gtest_filter='ProtocolDoc.*'
// prints it (with fresh signatures) to stdout; paste it between the markers in PROTOCOL.md.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/base64.hpp"
#include "core/fernet.hpp"
#include "core/handshake.hpp"
#include "core/httpsig.hpp"
#include "support/test_support.hpp"

namespace mh::handshake {
namespace {

constexpr std::int64_t kTime = 1700000000;
const char* kUuid = "3f1c5a4e-8b2d-4c6f-9a1e-7d5b3c2a1f0e";

using test::hex_after;
using test::hex_block;

RsaPrivateKey example_rsa() {
  return RsaPrivateKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa-pss.priv.pem"));
}
X25519KeyPair example_client_x25519() {
  return X25519KeyPair::from_secret(from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
}
Nonce example_client_nonce() {
  Nonce n{};
  for (std::size_t i = 0; i < 32; ++i) n[i] = static_cast<std::uint8_t>(i);
  return n;
}
// The hello of the example, unsigned.
ClientHello example_hello(const RsaPrivateKey& rsa) {
  ClientHello h;
  h.name = "alice";
  h.x25519 = example_client_x25519().public_key;
  h.nonce = example_client_nonce();
  h.rsa_spki = rsa.public_key().spki_der();
  h.time = kTime;
  return h;
}
httpsig::SignatureParams example_request_params() {
  return httpsig::make_params({{"@method", {}}, {"@authority", {}}, {"@path", {}}},
                              {.created = kTime + 5, .nonce = "AAECAwQFBgcICQoLDA0ODw", .alg = "rsa-pss-sha512", .keyid = kUuid});
}
const httpsig::Message kExampleRequest{"GET", "http", "127.0.0.1:8443", "/docs/hello.txt", std::nullopt, {}, nullptr};

std::string generate(const Bytes& hello_sig, const Bytes& request_sig) {
  const auto rsa = example_rsa();
  const auto client_eph = example_client_x25519();
  const auto server_eph = X25519KeyPair::from_secret(from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  const auto server_id = Ed25519KeyPair::from_seed(from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  const Nonce cn = example_client_nonce();
  Nonce sn{};
  for (std::size_t i = 0; i < 32; ++i) sn[i] = static_cast<std::uint8_t>(0x20 + i);

  ClientHello h = example_hello(rsa);
  const Bytes enc1 = encode_transcript1(h);
  const Sha256Digest th1 = transcript1(h);
  h.signature = hello_sig;
  EXPECT_TRUE(rsa.public_key().verify_pss_sha512(th1, h.signature)) << "the document's hello signature does not verify";

  FixedClock clock(kTime);
  ServerHandshake server(server_id, ServerPolicy{}, clock, server_eph, sn);
  server.consume_hello(to_json(h));
  const auto result = server.create_reply(*Uuid::parse(kUuid));
  const ServerReply r = parse_server_reply(result.reply_json);
  const Bytes enc2 = encode_transcript2(th1, h, r);
  const Sha256Digest th2 = transcript2(th1, h, r);
  const Secret<32> shared = x25519_shared(client_eph.secret, server_eph.public_key);
  const FernetKey key = derive_session_key(shared, th2);
  EXPECT_EQ(key.format(), result.session_key.format());

  // A signed request with the session.
  const auto params = example_request_params();
  const std::string base = httpsig::signature_base(kExampleRequest, params);
  EXPECT_TRUE(rsa.public_key().verify_pss_sha512(as_bytes(base), request_sig)) << "the document's request signature does not verify";

  // The Fernet response body for "Hello, world!\n" with a fixed IV and time.
  FernetIv iv{};
  for (std::size_t i = 0; i < 16; ++i) iv[i] = static_cast<std::uint8_t>(0xa0 + i);
  const std::string token = fernet_encrypt(key, as_bytes("Hello, world!\n"), kTime + 5, iv);

  std::ostringstream o;
  // clang-format off
  o << "Inputs:\n\n"
    << "- client RSA key: RFC 9421 Appendix B.1.2 `test-key-rsa-pss` (2048 bits); its SPKI DER:\n\n"
    << hex_block(h.rsa_spki) << "\n"
    << "- client X25519 secret (RFC 7748 §6.1 Alice): `77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a`\n"
    << "- client X25519 public: `" << to_hex(h.x25519) << "`\n"
    << "- client nonce: `" << to_hex(cn) << "`\n"
    << "- name `alice`, time " << kTime << ", no UUID (first connection)\n"
    << "- server Ed25519 seed (RFC 8032 §7.1 test 1): `9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60`\n"
    << "- server Ed25519 public: `" << to_hex(server_id.public_key()) << "`, fingerprint `"
    << ed25519_fingerprint(server_id.public_key()) << "`\n"
    << "- server X25519 secret (RFC 7748 §6.1 Bob): `5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb`\n"
    << "- server X25519 public: `" << to_hex(r.x25519) << "`\n"
    << "- server nonce: `" << to_hex(sn) << "`\n"
    << "- UUID assigned: `" << kUuid << "`, session TTL 3600 s\n\n"
    << "TH1 encoding (" << enc1.size() << " bytes):\n\n" << hex_block(enc1) << "\n"
    << "TH1 = SHA-256(TH1 encoding):\n\n" << hex_block(th1) << "\n"
    << "client signature = RSA-PSS-SHA512(TH1), salt 64 (randomized; any valid one works):\n\n"
    << hex_block(h.signature) << "\n"
    << "client hello JSON:\n\n```json\n" << to_json(h) << "\n```\n\n"
    << "TH2 encoding (" << enc2.size() << " bytes):\n\n" << hex_block(enc2) << "\n"
    << "TH2 = SHA-256(TH2 encoding):\n\n" << hex_block(th2) << "\n"
    << "server signature = Ed25519(TH2):\n\n" << hex_block(r.signature) << "\n"
    << "server reply JSON:\n\n```json\n" << result.reply_json << "\n```\n\n"
    << "X25519 shared secret:\n\n" << hex_block(shared.view()) << "\n"
    << "session key = HKDF-SHA256(IKM = shared secret, salt = TH2, info = \"minihttps/1 session key\", L = 32):\n"
    << "\n" << hex_block(base64_decode(key.format(), Alphabet::url)) << "\n"
    << "as a Fernet key: `" << key.format() << "`\n\n"
    << "Signed request `GET /docs/hello.txt` to `127.0.0.1:8443`, created " << kTime + 5
    << ", nonce `AAECAwQFBgcICQoLDA0ODw`. Signature base:\n\n```\n" << base << "\n```\n\n"
    << "request signature = RSA-PSS-SHA512(signature base), salt 64:\n\n" << hex_block(request_sig) << "\n"
    << "Request header fields:\n\n```\nSignature-Input: " << httpsig::signature_input_member("sig1", params)
    << "\nSignature: " << httpsig::signature_member("sig1", request_sig) << "\n```\n\n"
    << "Response body for the file content `Hello, world!\\n` with IV `" << to_hex(iv) << "` and time " << kTime + 5
    << " (the server picks a random IV):\n\n```\n" << token << "\n```\n";
  // clang-format on
  return o.str();
}

TEST(ProtocolDoc, WorkedExampleMatchesTheCode) {
  const std::string doc = test::read_file(test::source_dir() / "docs/PROTOCOL.md");
  const std::string begin = "<!-- worked-example:begin -->\n", end = "<!-- worked-example:end -->";
  const auto b = doc.find(begin), e = doc.find(end);
  const bool print = std::getenv("MH_PRINT_WORKED_EXAMPLE") != nullptr;
  Bytes hello_sig, request_sig;
  if (b != std::string::npos && e != std::string::npos) {
    const std::string block = doc.substr(b + begin.size(), e - b - begin.size());
    hello_sig = from_hex(hex_after(block, "client signature = RSA-PSS-SHA512(TH1), salt 64 (randomized; any valid one works)"));
    request_sig = from_hex(hex_after(block, "request signature = RSA-PSS-SHA512(signature base), salt 64"));
  }
  if (print) {
    // Fresh signatures over the current transcripts.
    const auto rsa = example_rsa();
    hello_sig = rsa.sign_pss_sha512(transcript1(example_hello(rsa)));
    request_sig = rsa.sign_pss_sha512(as_bytes(httpsig::signature_base(kExampleRequest, example_request_params())));
    std::cout << generate(hello_sig, request_sig);
    return;
  }
  ASSERT_NE(b, std::string::npos) << "docs/PROTOCOL.md has no worked-example block";
  ASSERT_FALSE(hello_sig.empty()) << "no client signature in the worked example";
  ASSERT_FALSE(request_sig.empty()) << "no request signature in the worked example";
  const std::string block = doc.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(block, generate(hello_sig, request_sig));
}

}  // namespace
}  // namespace mh::handshake
