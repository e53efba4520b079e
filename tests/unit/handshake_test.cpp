// The handshake state machines with a fixed clock: both sides derive the same key, and every
// refusal of the server (format, window, key size, signature, small order) and of the client
// (pin, signature, replies to another hello) happens for its own reason.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <set>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/handshake.hpp"
#include "support/test_support.hpp"

namespace mh::handshake {
namespace {

const RsaPrivateKey& client_key() {
  static const RsaPrivateKey k = RsaPrivateKey::generate(2048);
  return k;
}
const Ed25519KeyPair& server_key() {
  static const Ed25519KeyPair k = Ed25519KeyPair::generate();
  return k;
}

using test::error_of;

TEST(Handshake, BothSidesDeriveTheSameKey) {
  FixedClock clock(1700000000);
  auto client = ClientHandshake::create(client_key(), "alice", std::nullopt, clock);
  EXPECT_EQ(client.state(), ClientHandshake::State::hello_sent);
  ServerHandshake server(server_key(), ServerPolicy{}, clock);
  server.consume_hello(client.hello_json());
  EXPECT_EQ(server.state(), ServerHandshake::State::hello_verified);
  EXPECT_EQ(server.client_fingerprint(), client_key().public_key().fingerprint());
  const Uuid uuid = Uuid::random_v4();
  const auto reply = server.create_reply(uuid);
  EXPECT_EQ(reply.expires, 1700000000 + 3600);
  const auto session = client.consume(reply.reply_json, ed25519_fingerprint(server_key().public_key()));
  EXPECT_EQ(client.state(), ClientHandshake::State::finished);
  EXPECT_EQ(session.uuid, uuid);
  EXPECT_EQ(session.key.format(), reply.session_key.format());
  EXPECT_EQ(session.expires, reply.expires);
  EXPECT_EQ(session.server_key, server_key().public_key());
}

TEST(Handshake, FreshKeysEveryTime) {
  FixedClock clock(1700000000);
  std::set<std::string> keys;
  for (int i = 0; i < 3; ++i) {
    auto client = ClientHandshake::create(client_key(), "alice", std::nullopt, clock);
    ServerHandshake server(server_key(), ServerPolicy{}, clock);
    server.consume_hello(client.hello_json());
    keys.insert(server.create_reply(Uuid::random_v4()).session_key.format());
  }
  EXPECT_EQ(keys.size(), 3u);  // ephemeral X25519 on both sides: forward secrecy
}

TEST(Handshake, ServerRefusesHelloOutsideTheWindow) {
  FixedClock client_clock(1700000000), server_clock(1700000000 + 61);
  auto client = ClientHandshake::create(client_key(), "alice", std::nullopt, client_clock);
  ServerHandshake server(server_key(), ServerPolicy{}, server_clock);
  Errc code{};
  EXPECT_EQ(error_of([&] { server.consume_hello(client.hello_json()); }, &code),
            "handshake: hello time outside the allowed window");
  EXPECT_EQ(code, Errc::forbidden);
  EXPECT_EQ(server.state(), ServerHandshake::State::failed);
  server_clock.set(1700000000 - 61);
  ServerHandshake again(server_key(), ServerPolicy{}, server_clock);
  EXPECT_EQ(error_of([&] { again.consume_hello(client.hello_json()); }), "handshake: hello time outside the allowed window");
  server_clock.set(1700000000 + 60);  // the edge is still inside
  ServerHandshake edge(server_key(), ServerPolicy{}, server_clock);
  EXPECT_NO_THROW(edge.consume_hello(client.hello_json()));
}

TEST(Handshake, ServerRefusesTamperedHello) {
  FixedClock clock(1700000000);
  auto client = ClientHandshake::create(client_key(), "alice", std::nullopt, clock);
  ClientHello h = client.hello();
  h.name = "mallory";  // signed as alice
  ServerHandshake server(server_key(), ServerPolicy{}, clock);
  Errc code{};
  EXPECT_EQ(error_of([&] { server.consume_hello(to_json(h)); }, &code), "handshake: client signature does not verify");
  EXPECT_EQ(code, Errc::forbidden);
}

TEST(Handshake, ServerRefusesKeySizeOutsidePolicy) {
  FixedClock clock(1700000000);
  auto client = ClientHandshake::create(client_key(), "alice", std::nullopt, clock);
  ServerPolicy p;
  p.min_rsa_bits = 3072;
  ServerHandshake server(server_key(), p, clock);
  Errc code{};
  EXPECT_EQ(error_of([&] { server.consume_hello(client.hello_json()); }, &code),
            "handshake: RSA key size must be 3072-4096 bits");
  EXPECT_EQ(code, Errc::bad_request);
}

TEST(Handshake, ServerRefusesPublicExponentOtherThan65537) {
  FixedClock clock(1700000000);
  const test::CommandResult gen = test::run_command({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                                     "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:17"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const RsaPrivateKey e17 = RsaPrivateKey::from_pem(gen.out);
  EXPECT_FALSE(e17.public_key().has_exponent_65537());
  EXPECT_TRUE(client_key().public_key().has_exponent_65537());
  auto client = ClientHandshake::create(e17, "alice", std::nullopt, clock);  // a correct signature
  ServerHandshake server(server_key(), ServerPolicy{}, clock);
  Errc code{};
  EXPECT_EQ(error_of([&] { server.consume_hello(client.hello_json()); }, &code),
            "handshake: RSA public exponent must be 65537");
  EXPECT_EQ(code, Errc::bad_request);
  EXPECT_EQ(server.state(), ServerHandshake::State::failed);
}

TEST(Handshake, ServerRefusesSmallOrderPoint) {
  FixedClock clock(1700000000);
  auto client = ClientHandshake::create(client_key(), "alice", std::nullopt, clock,
                                        X25519KeyPair::from_secret(Bytes(32, 7)));
  ClientHello h = client.hello();
  h.x25519 = {};  // all zeros, re-signed so only the point is wrong
  h.signature = client_key().sign_pss_sha512(transcript1(h));
  ServerHandshake server(server_key(), ServerPolicy{}, clock);
  Errc code{};
  EXPECT_EQ(error_of([&] { server.consume_hello(to_json(h)); }, &code), "x25519: peer key is a small-order point");
  EXPECT_EQ(code, Errc::bad_request);
}

TEST(Handshake, StrictMessageParsing) {
  FixedClock clock(1700000000);
  const auto good = nlohmann::json::parse(ClientHandshake::create(client_key(), "alice", std::nullopt, clock).hello_json());
  auto with = [&](const char* field, nlohmann::json v) {
    auto j = good;
    j[field] = std::move(v);
    return j.dump();
  };
  auto without = [&](const char* field) {
    auto j = good;
    j.erase(field);
    return j.dump();
  };
  const std::pair<std::string, std::string> cases[] = {
      {"{", "handshake: message is not a JSON object"},
      {"[]", "handshake: message is not a JSON object"},
      {with("extra", 1), "handshake: unknown field 'extra'"},
      {without("nonce"), "handshake: missing field 'nonce'"},
      {with("version", 2), "handshake: unsupported protocol version"},
      {with("version", "1"), "handshake: field 'version' must be an integer"},
      {with("name", "a b"), "handshake: name must be 1-32 characters of A-Z a-z 0-9 . _ -"},
      {with("name", std::string(33, 'a')), "handshake: name must be 1-32 characters of A-Z a-z 0-9 . _ -"},
      {with("x25519", base64_encode(Bytes(31, 1), Alphabet::url, false)), "handshake: field 'x25519' has the wrong length"},
      {with("nonce", base64_encode(Bytes(32, 1), Alphabet::url, true) + ""), "handshake: field 'nonce' is not unpadded base64url"},
      {with("nonce", base64_encode(Bytes(33, 1), Alphabet::url, false)), "handshake: field 'nonce' has the wrong length"},
      {with("uuid", "not-a-uuid"), "handshake: field 'uuid' is not a UUID"},
      {with("time", 1.5), "handshake: field 'time' must be an integer"},
      {with("rsa_spki", "AAAA"), "rsa: cannot parse public key"},
  };
  for (const auto& [json, reason] : cases) {
    ServerHandshake server(server_key(), ServerPolicy{}, clock);
    Errc code{};
    EXPECT_EQ(error_of([&] { server.consume_hello(json); }, &code), reason) << json.substr(0, 80);
    EXPECT_EQ(code, Errc::bad_request) << reason;
  }
  ServerHandshake big(server_key(), ServerPolicy{}, clock);
  EXPECT_EQ(error_of([&] { big.consume_hello(std::string(kMaxMessageBytes + 1, ' ')); }), "handshake: message too large");
}

TEST(Handshake, ClientRefusesWrongPinForgedReplyAndReuse) {
  FixedClock clock(1700000000);
  auto client = ClientHandshake::create(client_key(), "alice", std::nullopt, clock);
  ServerHandshake server(server_key(), ServerPolicy{}, clock);
  server.consume_hello(client.hello_json());
  const auto reply = server.create_reply(Uuid::random_v4());
  Errc code{};
  const std::string wrong = ed25519_fingerprint(Ed25519KeyPair::generate().public_key());
  EXPECT_EQ(error_of([&] { client.consume(reply.reply_json, wrong); }, &code),
            "handshake: the server's key " + ed25519_fingerprint(server_key().public_key()) + " is not the pinned key " + wrong);
  EXPECT_EQ(code, Errc::trust);

  // A reply with another UUID than the server signed.
  auto c2 = ClientHandshake::create(client_key(), "alice", std::nullopt, clock);
  ServerHandshake s2(server_key(), ServerPolicy{}, clock);
  s2.consume_hello(c2.hello_json());
  auto forged = parse_server_reply(s2.create_reply(Uuid::random_v4()).reply_json);
  forged.uuid = Uuid::random_v4();
  EXPECT_EQ(error_of([&] { c2.consume(to_json(forged), std::nullopt); }, &code),
            "handshake: the server's signature does not verify");
  EXPECT_EQ(code, Errc::trust);
  EXPECT_EQ(c2.state(), ClientHandshake::State::failed);
  EXPECT_EQ(error_of([&] { c2.consume(to_json(forged), std::nullopt); }), "handshake: reply already consumed");

  // A genuine reply to a different hello does not verify for this one.
  auto c3 = ClientHandshake::create(client_key(), "alice", std::nullopt, clock);
  EXPECT_EQ(error_of([&] { c3.consume(reply.reply_json, std::nullopt); }), "handshake: the server's signature does not verify");
}

TEST(Handshake, ReconnectCarriesTheUuidInTheSignedTranscript) {
  FixedClock clock(1700000000);
  const Uuid old = Uuid::random_v4();
  auto client = ClientHandshake::create(client_key(), "alice", old, clock);
  ServerHandshake server(server_key(), ServerPolicy{}, clock);
  server.consume_hello(client.hello_json());
  ASSERT_TRUE(server.hello().uuid);
  EXPECT_EQ(*server.hello().uuid, old);
  ClientHello h = client.hello();
  h.uuid = Uuid::random_v4();  // swapping the UUID breaks the signature
  ServerHandshake s2(server_key(), ServerPolicy{}, clock);
  EXPECT_EQ(error_of([&] { s2.consume_hello(to_json(h)); }), "handshake: client signature does not verify");
}

}  // namespace
}  // namespace mh::handshake
