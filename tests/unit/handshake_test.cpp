// The minihttps/2 handshake state machines with a fixed clock: both sides derive the same session
// secret, the hello and the reply show nothing of who the client is, and every refusal of either
// side happens for its own reason (docs/PROTOCOL.md §3).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/handshake.hpp"
#include "core/strict_json.hpp"
#include "support/test_support.hpp"

namespace mh::handshake {
namespace {

using test::error_of;
constexpr std::int64_t kNow = 1700000000;

const RsaPrivateKey& client_rsa() {
  static const RsaPrivateKey k = RsaPrivateKey::generate(2048);
  return k;
}
const Ed25519KeyPair& server_identity() {
  static const Ed25519KeyPair k = Ed25519KeyPair::generate();
  return k;
}
const X25519KeyPair& server_static() {
  static const X25519KeyPair k = X25519KeyPair::generate();
  return k;
}
ServerKeys server_keys() { return {server_identity().public_key(), server_static().public_key}; }

// The outer JSON of a hello with its sealed part replaced by `identity_json`, sealed properly to
// the server's static key (anyone who knows the public static key can do that).
std::string reseal(const std::string& hello_json, const X25519KeyPair& eph, const std::string& identity_json) {
  const auto es = x25519_shared(eph.secret, server_static().public_key);
  Envelope e = parse_envelope(hello_json);
  e.sealed =
      fernet_encrypt(hello_key(es, hello_key_salt(server_keys(), eph.public_key)), as_bytes(identity_json), kNow);
  return to_json(e);
}

TEST(Handshake, BothSidesDeriveTheSameSecret) {
  FixedClock clock(kNow);
  auto client = ClientHandshake::create(client_rsa(), "alice", std::nullopt, server_keys(), clock);
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{.chunk_size = 65536}, clock);
  server.consume_hello(client.hello_json());
  EXPECT_EQ(server.identity().name, "alice");
  EXPECT_EQ(server.client_fingerprint(), client_rsa().public_key().fingerprint());
  const Uuid uuid = Uuid::random_v4();
  const auto reply = server.create_reply(uuid);
  EXPECT_EQ(reply.expires, kNow + 3600);
  const ClientSession s = client.consume(reply.reply_json);
  EXPECT_EQ(s.uuid, uuid);
  EXPECT_EQ(s.keyid, reply.keyid);
  EXPECT_EQ(s.expires, reply.expires);
  EXPECT_EQ(s.chunk_size, 65536u);
  EXPECT_EQ(to_hex(s.secret.bytes()), to_hex(reply.secret.bytes()));
  EXPECT_EQ(error_of([&] { client.consume(reply.reply_json); }), "handshake: reply already consumed");
}

TEST(Handshake, TheWireShowsNoIdentity) {
  FixedClock clock(kNow);
  const Uuid uuid = Uuid::random_v4();
  auto client = ClientHandshake::create(client_rsa(), "alice-in-clear", uuid, server_keys(), clock);
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
  server.consume_hello(client.hello_json());
  EXPECT_EQ(server.identity().uuid, uuid);
  const auto reply = server.create_reply(uuid);
  const Bytes spki = client_rsa().public_key().spki_der();
  for (const std::string& wire : {client.hello_json(), reply.reply_json}) {
    EXPECT_EQ(wire.find("alice"), std::string::npos) << wire;
    EXPECT_EQ(wire.find(uuid.to_string()), std::string::npos);
    EXPECT_EQ(wire.find(b64u(spki).substr(40, 40)), std::string::npos);
    EXPECT_EQ(wire.find(b64u(reply.keyid)), std::string::npos);
    const auto j = nlohmann::json::parse(wire);
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{"sealed", "version", "x25519"}));
  }
}

TEST(Handshake, StaticKeyIsVouchedForByTheIdentity) {
  const auto sig = sign_static_key(server_identity(), server_static().public_key);
  EXPECT_NO_THROW(verify_static_key(server_identity().public_key(), server_static().public_key, sig));
  Errc code{};
  const auto other = X25519KeyPair::generate();
  EXPECT_EQ(error_of([&] { verify_static_key(server_identity().public_key(), other.public_key, sig); }, &code),
            "handshake: the server's static key is not signed by its identity key");
  EXPECT_EQ(code, Errc::trust);
  const auto impostor = Ed25519KeyPair::generate();
  EXPECT_EQ(error_of([&] { verify_static_key(impostor.public_key(), server_static().public_key, sig); }),
            "handshake: the server's static key is not signed by its identity key");
}

TEST(Handshake, VersionOneAndUnknownVersionsAreRefusedClearly) {
  FixedClock clock(kNow);
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
  Errc code{};
  EXPECT_EQ(error_of([&] { server.consume_hello(R"({"version":1,"name":"alice","x25519":"AA"})"); }, &code),
            "handshake: protocol version 1 is not supported; this server speaks minihttps/2 (update the client)");
  EXPECT_EQ(code, Errc::bad_request);
  ServerHandshake s3(server_identity(), server_static(), ServerPolicy{}, clock);
  EXPECT_EQ(error_of([&] { s3.consume_hello(R"({"version":3})"); }), "handshake: unsupported protocol version");
}

TEST(Handshake, StrictEnvelope) {
  FixedClock clock(kNow);
  auto client = ClientHandshake::create(client_rsa(), "alice", std::nullopt, server_keys(), clock);
  auto j = nlohmann::json::parse(client.hello_json());
  const auto refuse = [&](const nlohmann::json& msg) {
    ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
    return error_of([&] { server.consume_hello(msg.dump()); });
  };
  auto extra = j;
  extra["name"] = "alice";
  EXPECT_EQ(refuse(extra), "handshake: unknown field 'name'");
  auto missing = j;
  missing.erase("sealed");
  EXPECT_EQ(refuse(missing), "handshake: missing field 'sealed'");
  auto short_key = j;
  short_key["x25519"] = "AAAA";
  EXPECT_EQ(refuse(short_key), "handshake: field 'x25519' has the wrong length");
  auto long_token = j;
  long_token["sealed"] = std::string(kMaxSealedChars + 1, 'A');
  EXPECT_EQ(refuse(long_token), "handshake: field 'sealed' too long");
  EXPECT_EQ(refuse(nlohmann::json::array()), "handshake: message is not a JSON object");
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
  EXPECT_EQ(error_of([&] { server.consume_hello(std::string(kMaxMessageBytes + 1, ' ')); }),
            "handshake: message too large");
}

TEST(Handshake, HelloSealedToAnotherKeyOrTamperedDoesNotOpen) {
  FixedClock clock(kNow);
  const std::string reason =
      "handshake: the hello is not sealed to this server's static key (fetch /.well-known/minihttps again)";
  const auto old_static = X25519KeyPair::generate();
  auto client = ClientHandshake::create(client_rsa(), "alice", std::nullopt,
                                        {server_identity().public_key(), old_static.public_key}, clock);
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
  Errc code{};
  EXPECT_EQ(error_of([&] { server.consume_hello(client.hello_json()); }, &code), reason);
  EXPECT_EQ(code, Errc::bad_request);

  auto good = ClientHandshake::create(client_rsa(), "alice", std::nullopt, server_keys(), clock);
  auto j = nlohmann::json::parse(good.hello_json());
  std::string t = j["sealed"];
  t[60] = t[60] == 'A' ? 'B' : 'A';
  j["sealed"] = t;
  ServerHandshake s2(server_identity(), server_static(), ServerPolicy{}, clock);
  EXPECT_EQ(error_of([&] { s2.consume_hello(j.dump()); }), reason);
}

TEST(Handshake, SmallOrderEphemeralIsRefused) {
  FixedClock clock(kNow);
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
  const Envelope e{X25519Public{}, "gAAAAA"};  // the all-zero point has order 1
  EXPECT_EQ(error_of([&] { server.consume_hello(to_json(e)); }), "handshake: small-order X25519 key");
}

TEST(Handshake, ServerChecksTheSealedIdentity) {
  FixedClock clock(kNow);
  const auto eph = X25519KeyPair::generate();
  auto client = ClientHandshake::create(client_rsa(), "alice", std::nullopt, server_keys(), clock,
                                        ClientRandom{.ephemeral = X25519KeyPair::from_secret(eph.secret.view())});
  const auto identity = nlohmann::json::parse(to_json(client.identity()));
  const auto refuse = [&](const nlohmann::json& id, Errc* code = nullptr) {
    ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
    return error_of([&] { server.consume_hello(reseal(client.hello_json(), eph, id.dump())); }, code);
  };
  // As sent, it opens and verifies.
  ServerHandshake ok(server_identity(), server_static(), ServerPolicy{}, clock);
  EXPECT_NO_THROW(ok.consume_hello(reseal(client.hello_json(), eph, identity.dump())));

  auto extra = identity;
  extra["admin"] = true;
  EXPECT_EQ(refuse(extra), "handshake: unknown field 'admin'");
  auto bad_name = identity;
  bad_name["name"] = "-x";
  EXPECT_EQ(refuse(bad_name), "handshake: name must be 1-32 characters of A-Z a-z 0-9 . _ -");
  auto renamed = identity;  // an attacker can seal anything to the static key, but not sign TH1
  renamed["name"] = "mallory";
  Errc code{};
  EXPECT_EQ(refuse(renamed, &code), "handshake: client signature does not verify");
  EXPECT_EQ(code, Errc::forbidden);
  auto late = identity;
  late["time"] = kNow - 61;
  EXPECT_EQ(refuse(late, &code), "handshake: hello time outside the allowed window");
  EXPECT_EQ(code, Errc::forbidden);
  ServerHandshake not_json(server_identity(), server_static(), ServerPolicy{}, clock);
  EXPECT_EQ(error_of([&] { not_json.consume_hello(reseal(client.hello_json(), eph, "[1]")); }),
            "handshake: message is not a JSON object");
}

TEST(Handshake, ServerRefusesPublicExponentOtherThan65537) {
  FixedClock clock(kNow);
  const test::CommandResult gen = test::run_command({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                                     "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:17"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto client = ClientHandshake::create(RsaPrivateKey::from_pem(gen.out), "alice", std::nullopt, server_keys(), clock);
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock);
  EXPECT_EQ(error_of([&] { server.consume_hello(client.hello_json()); }),
            "handshake: RSA public exponent must be 65537");
}

TEST(Handshake, ClientRefusesForgedAndForeignReplies) {
  FixedClock clock(kNow);
  const auto client_eph = X25519KeyPair::generate();
  const auto server_eph = X25519KeyPair::generate();
  auto client =
      ClientHandshake::create(client_rsa(), "alice", std::nullopt, server_keys(), clock,
                              ClientRandom{.ephemeral = X25519KeyPair::from_secret(client_eph.secret.view())});
  ServerHandshake server(server_identity(), server_static(), ServerPolicy{}, clock,
                         ServerRandom{.ephemeral = X25519KeyPair::from_secret(server_eph.secret.view())});
  server.consume_hello(client.hello_json());
  const std::string reply = server.create_reply(Uuid::random_v4()).reply_json;

  // Someone holding the static secret (and so able to seal replies) but not the identity key
  // changes the UUID and re-seals: the signature over TH2 no longer verifies.
  const auto es = x25519_shared(server_static().secret, client_eph.public_key);
  const auto ee = x25519_shared(server_eph.secret, client_eph.public_key);
  const auto th1 = transcript1(server_keys(), client_eph.public_key, client.identity());
  Envelope e = parse_envelope(reply);
  auto r = parse_reply_identity(as_chars(fernet_decrypt(reply_key(ee, es, th1), e.sealed, 0)));
  r.uuid = Uuid::random_v4();
  e.sealed = fernet_encrypt(reply_key(ee, es, th1), as_bytes(to_json(r)), kNow);
  Errc code{};
  EXPECT_EQ(error_of([&] { client.consume(to_json(e)); }, &code), "handshake: the server's signature does not verify");
  EXPECT_EQ(code, Errc::trust);

  // A reply sealed for another handshake does not open.
  auto client2 = ClientHandshake::create(client_rsa(), "alice", std::nullopt, server_keys(), clock);
  EXPECT_EQ(error_of([&] { client2.consume(reply); }, &code),
            "handshake: the reply does not open: not the server holding the static key");
  EXPECT_EQ(code, Errc::trust);
}

TEST(Handshake, ReplyIdentityIsStrict) {
  ReplyIdentity r;
  r.uuid = Uuid::random_v4();
  r.chunk_size = 262144;
  auto j = nlohmann::json::parse(to_json(r));
  EXPECT_NO_THROW(parse_reply_identity(j.dump()));
  for (const std::int64_t bad : {0LL, 4095LL, 4097LL, 8388608LL, -4096LL, 300000LL}) {
    j["chunk_size"] = bad;
    EXPECT_EQ(error_of([&] { parse_reply_identity(j.dump()); }),
              "handshake: chunk_size must be a power of two from 4096 to 4194304")
        << bad;
  }
  j["chunk_size"] = 4096;
  EXPECT_NO_THROW(parse_reply_identity(j.dump()));
  j["chunk_size"] = 4194304;
  EXPECT_NO_THROW(parse_reply_identity(j.dump()));
  j["keyid"] = "AAAA";
  EXPECT_EQ(error_of([&] { parse_reply_identity(j.dump()); }), "handshake: field 'keyid' has the wrong length");
}

TEST(Handshake, ReconnectUuidIsInTheSignedTranscript) {
  FixedClock clock(kNow);
  HelloIdentity h;
  h.name = "alice";
  h.time = kNow;
  const auto e = X25519KeyPair::generate();
  const auto without = transcript1(server_keys(), e.public_key, h);
  h.uuid = Uuid::random_v4();
  EXPECT_NE(transcript1(server_keys(), e.public_key, h), without);
  // ...and so is the static key the hello was sealed to.
  EXPECT_NE(transcript1({server_identity().public_key(), e.public_key}, e.public_key, h),
            transcript1(server_keys(), e.public_key, h));
}

}  // namespace
}  // namespace mh::handshake
