// docs/PROTOCOL.md §12 is a worked example of the v2 handshake, a sealed request and its sealed,
// streamed answer, with every intermediate value. This test recomputes all of it from the fixed
// inputs and fails if the document disagrees. RSA-PSS signatures are randomized, so the client's
// two signatures are taken from the document and verified instead of recomputed.
//
// To regenerate the block after a protocol change:
//   MH_PRINT_WORKED_EXAMPLE=1 build/release/tests/core_tests --gtest_filter='ProtocolDoc.*'
// prints it (with fresh signatures) to stdout; paste it between the markers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/base64.hpp"
#include "core/bhttp.hpp"
#include "core/etag.hpp"
#include "core/fernet.hpp"
#include "core/handshake.hpp"
#include "core/seal.hpp"
#include "core/strict_json.hpp"
#include "support/test_support.hpp"

namespace mh::handshake {
namespace {

using test::hex_after;
using test::hex_block;

constexpr std::int64_t kTime = 1700000000;
constexpr std::string_view kUuid = "3f1c5a4e-8b2d-4c6f-9a1e-7d5b3c2a1f0e";
constexpr std::string_view kHelloSigLabel =
    "client signature = RSA-PSS-SHA512(TH1), salt 64 (randomized; any valid one works)";
constexpr std::string_view kRequestSigLabel = "request signature = RSA-PSS-SHA512(signature base), salt 64";
const char* kClientEphemeral =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";                          // RFC 7748 §6.1 Alice
const char* kServerStatic = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";  // RFC 7748 §6.1 Bob
const char* kServerEphemeral = "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4";  // RFC 7748 §5.2
const char* kServerSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";  // RFC 8032 §7.1 test 1

template <std::size_t N>
std::array<std::uint8_t, N> counting(std::uint8_t from) {
  std::array<std::uint8_t, N> a{};
  for (std::size_t i = 0; i < N; ++i) a[i] = static_cast<std::uint8_t>(from + i);
  return a;
}

RsaPrivateKey example_rsa() {
  return RsaPrivateKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa-pss.priv.pem"));
}

std::string fernet_key_text(const FernetKey& k) { return k.format(); }

struct Doc {
  Bytes hello_sig, request_sig;
};

std::string generate(const Doc& doc) {
  const auto rsa = example_rsa();
  const auto identity = Ed25519KeyPair::from_seed(from_hex(kServerSeed));
  const auto static_key = X25519KeyPair::from_secret(from_hex(kServerStatic));
  const auto client_eph = X25519KeyPair::from_secret(from_hex(kClientEphemeral));
  const auto server_eph = X25519KeyPair::from_secret(from_hex(kServerEphemeral));
  const ServerKeys server{identity.public_key(), static_key.public_key};
  const auto static_sig = sign_static_key(identity, static_key.public_key);

  // ---- the hello ----
  HelloIdentity h;
  h.name = "alice";
  h.nonce = counting<32>(0x00);
  h.rsa_spki = rsa.public_key().spki_der();
  h.time = kTime;
  const Secret<32> es = x25519_shared(client_eph.secret, static_key.public_key);
  const Sha256Digest h0 = hello_key_salt(server, client_eph.public_key);
  const FernetKey hkey = hello_key(es, h0);
  const Bytes enc1 = encode_transcript1(server, client_eph.public_key, h);
  const Sha256Digest th1 = sha256(enc1);
  h.signature = doc.hello_sig;
  EXPECT_TRUE(rsa.public_key().verify_pss_sha512(th1, h.signature)) << "the document's hello signature does not verify";
  const FernetIv hello_iv = counting<16>(0xa0);
  const std::string hello_token = fernet_encrypt(hkey, as_bytes(to_json(h)), kTime, hello_iv);
  const std::string hello_json = to_json(Envelope{client_eph.public_key, hello_token});

  // ---- the reply, by the real server state machine ----
  FixedClock clock(kTime);
  ServerHandshake srv(identity, static_key, ServerPolicy{}, clock,
                      ServerRandom{.ephemeral = X25519KeyPair::from_secret(server_eph.secret.view()),
                                   .nonce = counting<32>(0x20),
                                   .keyid = counting<16>(0x40),
                                   .iv = counting<16>(0xb0)});
  srv.consume_hello(hello_json);
  const auto result = srv.create_reply(*Uuid::parse(kUuid));
  const Envelope reply_env = parse_envelope(result.reply_json);
  const Secret<32> ee = x25519_shared(client_eph.secret, server_eph.public_key);
  const FernetKey rkey = reply_key(ee, es, th1);
  const ReplyIdentity r = parse_reply_identity(as_chars(fernet_decrypt(rkey, reply_env.sealed, 0)));
  const Bytes enc2 = encode_transcript2(th1, h.signature, server_eph.public_key, r);
  const Sha256Digest th2 = sha256(enc2);
  const SessionSecret secret = session_secret(ee, es, th2);
  EXPECT_EQ(to_hex(secret.bytes()), to_hex(result.secret.bytes()));

  // ---- a sealed request ----
  const seal::Freshness fresh{kTime + 5, "AAECAwQFBgcICQoLDA0ODw"};
  const seal::Credentials cred{secret, r.keyid, rsa};
  const bhttp::Request inner{"GET", "http", "", "/docs/hello.txt", {}};
  const Bytes inner_bytes = bhttp::encode(inner);
  const Binding bh = head_binding(r.keyid, fresh.created, fresh.nonce);
  const FernetKey req_head_key = secret.derive(KeyPurpose::request_head, bh, 0, true);
  seal::Signed s;
  httpsig::Message outer =
      seal::seal_request(cred, inner, "http", "127.0.0.1:8443", fresh, s, seal::SealOptions{.iv = counting<16>(0xc0)});
  const std::string sealed_token = outer.headers[0].second;
  EXPECT_TRUE(rsa.public_key().verify_pss_sha512(as_bytes(s.signature_base), doc.request_sig))
      << "the document's request signature does not verify";
  const Binding b = request_binding(s.signature_base, doc.request_sig);
  const std::string signature_input = outer.headers[1].second;
  const std::string signature_field = httpsig::signature_member(seal::kLabel, doc.request_sig);
  // The server opens it.
  const auto opened =
      seal::open_request_head(secret, r.keyid, fresh.created, fresh.nonce, sealed_token, "127.0.0.1:8443");
  EXPECT_EQ(opened.path, "/docs/hello.txt");

  // ---- its answer: head and one chunk ----
  const FileVersion version{2049, 131073, 14, 1700000000123456789LL, 1700000000123456789LL};
  seal::ResponseHead head;
  head.status = 200;
  head.content_type = "text/plain; charset=utf-8";
  head.content_length = 14;
  head.etag = etag_of(version);
  head.chunks = seal::Chunks{r.chunk_size, 0, 0};
  const Bytes head_bytes = bhttp::encode(seal::to_bhttp(head));
  const FernetKey resp_head_key = secret.derive(KeyPurpose::response_head, b, 0, true);
  const std::string head_token = seal::seal_response_head(secret, b, head, kTime + 5, counting<16>(0xd0));
  const FernetKey chunk_key = secret.derive(KeyPurpose::response_body, b, 0, true);
  const FernetKey not_last_key = secret.derive(KeyPurpose::response_body, b, 0, false);
  const std::string chunk_token = fernet_encrypt(chunk_key, as_bytes("Hello, world!\n"), kTime + 5, counting<16>(0xe0));
  EXPECT_EQ(seal::open_response_head(secret, b, head_token).etag, head.etag);

  std::ostringstream o;
  // clang-format off
  o << "Inputs:\n\n"
    << "- client RSA key: RFC 9421 Appendix B.1.2 `test-key-rsa-pss` (2048 bits); its SPKI DER:\n\n"
    << hex_block(h.rsa_spki) << "\n"
    << "- client ephemeral X25519 secret `e_c` (RFC 7748 §6.1 Alice): `" << kClientEphemeral << "`\n"
    << "- `E_c`: `" << to_hex(client_eph.public_key) << "`\n"
    << "- server identity Ed25519 seed (RFC 8032 §7.1 test 1): `" << kServerSeed << "`\n"
    << "- `S_id`: `" << to_hex(identity.public_key()) << "`, fingerprint `" << ed25519_fingerprint(identity.public_key()) << "`\n"
    << "- server static X25519 secret `s_x` (RFC 7748 §6.1 Bob): `" << kServerStatic << "`\n"
    << "- `S_x`: `" << to_hex(static_key.public_key) << "`\n"
    << "- server ephemeral X25519 secret `e_s` (RFC 7748 §5.2, first scalar): `" << kServerEphemeral << "`\n"
    << "- `E_s`: `" << to_hex(server_eph.public_key) << "`\n"
    << "- client nonce `00 01 … 1f`, server nonce `20 21 … 3f`, keyid `40 41 … 4f`\n"
    << "- name `alice`, time " << kTime << ", no UUID; UUID assigned `" << kUuid << "`, session TTL 3600 s,\n"
    << "  chunk size " << r.chunk_size << "\n"
    << "- Fernet IVs (random in practice): hello `a0…af`, reply `b0…bf`, request head `c0…cf`,\n"
    << "  response head `d0…df`, chunk `e0…ef`; Fernet timestamps are the sender's clock\n\n"
    << "static signature = Ed25519(F(\"minihttps/2 static key\") || F(S_x)):\n\n" << hex_block(static_sig) << "\n"
    << "es = X25519(e_c, S_x):\n\n" << hex_block(es.view()) << "\n"
    << "H0:\n\n" << hex_block(h0) << "\n"
    << "hello key = HKDF-SHA256(es, salt H0, \"minihttps/2 hello key\"): `" << fernet_key_text(hkey) << "`\n\n"
    << "TH1 encoding (" << enc1.size() << " bytes):\n\n" << hex_block(enc1) << "\n"
    << "TH1:\n\n" << hex_block(th1) << "\n"
    << kHelloSigLabel << ":\n\n" << hex_block(h.signature) << "\n"
    << "hello identity (the token's plaintext):\n\n```json\n" << to_json(h) << "\n```\n\n"
    << "client hello:\n\n```json\n" << hello_json << "\n```\n\n"
    << "ee = X25519(e_s, E_c):\n\n" << hex_block(ee.view()) << "\n"
    << "reply key = HKDF-SHA256(ee || es, salt TH1, \"minihttps/2 reply key\"): `" << fernet_key_text(rkey) << "`\n\n"
    << "TH2 encoding (" << enc2.size() << " bytes):\n\n" << hex_block(enc2) << "\n"
    << "TH2:\n\n" << hex_block(th2) << "\n"
    << "server signature = Ed25519(TH2):\n\n" << hex_block(r.signature) << "\n"
    << "reply identity:\n\n```json\n" << to_json(r) << "\n```\n\n"
    << "server reply:\n\n```json\n" << result.reply_json << "\n```\n\n"
    << "session secret = HKDF-SHA256(ee || es, salt TH2, \"minihttps/2 session secret\"):\n\n" << hex_block(secret.bytes()) << "\n"
    << "Sealed request for `GET /docs/hello.txt` to `127.0.0.1:8443`, created " << fresh.created
    << ", nonce `" << fresh.nonce << "`. Request head (Binary HTTP, " << inner_bytes.size() << " bytes):\n\n"
    << hex_block(inner_bytes) << "\n"
    << "BH:\n\n" << hex_block(bh) << "\n"
    << "K(\"request head\", BH, 0, 1) info:\n\n" << hex_block(key_info(KeyPurpose::request_head, bh, 0, true)) << "\n"
    << "K(\"request head\", BH, 0, 1) = `" << fernet_key_text(req_head_key) << "`\n\n"
    << "Signature base:\n\n```\n" << s.signature_base << "\n```\n\n"
    << kRequestSigLabel << ":\n\n" << hex_block(doc.request_sig) << "\n"
    << "The request:\n\n```\n"
    << "POST " << seal::kSealedPath << " HTTP/1.1\nHost: 127.0.0.1:8443\nContent-Length: 0\n"
    << seal::kSealedField << ": " << sealed_token << "\nSignature-Input: " << signature_input
    << "\nSignature: " << signature_field << "\n```\n\n"
    << "B = SHA-256(F(\"minihttps/2 request\") || F(signature base) || F(signature)):\n\n" << hex_block(b) << "\n"
    << "The file is 14 bytes, `Hello, world!\\n`, with ETag `" << *head.etag << "` (dev 2049, inode 131073,\n"
    << "size 14, mtime and ctime 1700000000.123456789). Response head (Binary HTTP, " << head_bytes.size() << " bytes):\n\n"
    << hex_block(head_bytes) << "\n"
    << "K(\"response head\", B, 0, 1) = `" << fernet_key_text(resp_head_key) << "`\n\n"
    << "K(\"response body\", B, 0, 1) = `" << fernet_key_text(chunk_key) << "` (with last = 0 it would be\n"
    << "`" << fernet_key_text(not_last_key) << "`)\n\n"
    << "The response (the body is the one chunk's token, " << chunk_token.size() << " bytes = L(14)):\n\n```\n"
    << "HTTP/1.1 200 OK\nContent-Type: application/minihttps-stream\nContent-Length: " << chunk_token.size() << "\n"
    << seal::kSealedField << ": " << head_token << "\nCache-Control: private, no-store\n\n"
    << chunk_token << "\n```\n";
  // clang-format on
  return o.str();
}

TEST(ProtocolDoc, WorkedExampleMatchesTheCode) {
  const std::string text = test::read_file(test::source_dir() / "docs/PROTOCOL.md");
  const std::string begin = "<!-- worked-example:begin -->\n", end = "<!-- worked-example:end -->";
  const auto b = text.find(begin), e = text.find(end);
  ASSERT_NE(b, std::string::npos) << "docs/PROTOCOL.md has no worked-example block";
  ASSERT_NE(e, std::string::npos);
  const std::string block = text.substr(b + begin.size(), e - b - begin.size());
  Doc doc{from_hex(hex_after(block, std::string(kHelloSigLabel))),
          from_hex(hex_after(block, std::string(kRequestSigLabel)))};
  if (std::getenv("MH_PRINT_WORKED_EXAMPLE") != nullptr) {
    // The document's signatures while they still verify (so the block changes only where the
    // protocol did), else fresh ones over the current transcript and signature base.
    const auto rsa = example_rsa();
    const auto identity = Ed25519KeyPair::from_seed(from_hex(kServerSeed));
    const ServerKeys server{identity.public_key(), X25519KeyPair::from_secret(from_hex(kServerStatic)).public_key};
    HelloIdentity h;
    h.name = "alice";
    h.nonce = counting<32>(0x00);
    h.rsa_spki = rsa.public_key().spki_der();
    h.time = kTime;
    const auto th1 = transcript1(server, X25519KeyPair::from_secret(from_hex(kClientEphemeral)).public_key, h);
    if (!rsa.public_key().verify_pss_sha512(th1, doc.hello_sig)) doc.hello_sig = rsa.sign_pss_sha512(th1);
    // The request's base depends on the session, which depends on the hello signature.
    const std::string first = generate(doc);
    const auto pos = first.find("Signature base:\n\n```\n") + 21;
    const std::string base = first.substr(pos, first.find("\n```", pos) - pos);
    if (!rsa.public_key().verify_pss_sha512(as_bytes(base), doc.request_sig))
      doc.request_sig = rsa.sign_pss_sha512(as_bytes(base));
    std::cout << generate(doc);
    return;
  }
  ASSERT_FALSE(doc.hello_sig.empty()) << "no client signature in the worked example";
  ASSERT_FALSE(doc.request_sig.empty()) << "no request signature in the worked example";
  EXPECT_EQ(block, generate(doc));
}

}  // namespace
}  // namespace mh::handshake
