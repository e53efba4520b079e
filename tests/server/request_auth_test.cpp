// The server's authentication in-process: the handshake endpoint (auth::AuthService), the
// verification of signed requests (web::RequestVerifier, PROTOCOL.md §5.2, §5.1 steps 2-3) and
// the authentication of answers (web::respond, §5.3, §5.4). Each refusal rule is hit once with its
// exact Errc and reason; time is a FixedClock, so session expiry needs no waiting. The parts are
// the server's own, wired as src/server/main.cpp wires them; requests are made as the client
// makes them (core handshake, seal::sign, seal::seal_request).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <regex>
#include <string>

#include "auth/auth_service.hpp"
#include "auth/registry.hpp"
#include "auth/replay_cache.hpp"
#include "core/base64.hpp"
#include "core/bhttp.hpp"
#include "core/ed25519.hpp"
#include "core/handshake.hpp"
#include "core/httpsig.hpp"
#include "core/rsa.hpp"
#include "core/seal.hpp"
#include "core/x25519.hpp"
#include "support/test_support.hpp"
#include "web/answer.hpp"
#include "web/request_verifier.hpp"

namespace mh::web {
namespace {

using test::error_of;
constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kTtl = 600;
constexpr std::int64_t kSkew = 60;
constexpr std::string_view kAuthority = "127.0.0.1:8443";

const RsaPrivateKey& client_key() {
  static const RsaPrivateKey k =
      RsaPrivateKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa.priv.pem"));
  return k;
}

// The outcome of f as a client would see it: "<status> <reason>", or "no error".
std::string refusal(const std::function<void()>& f) {
  Errc code{};
  const std::string why = error_of(f, &code);
  return why == "no error" ? why : std::to_string(http_status(code)) + " " + why;
}

net::Request to_request(const httpsig::Message& m) {
  net::Request r;
  r.method = m.method;
  r.target = m.target;
  r.headers.push_back({"Host", m.authority});
  for (const auto& [n, v] : m.headers) r.headers.push_back({n, v});
  r.remote_address = "127.0.0.1";
  return r;
}

std::string& header(net::Request& r, std::string_view name) {
  for (auto& h : r.headers)
    if (net::iequals(h.name, name)) return h.value;
  throw std::runtime_error("no " + std::string(name));
}

class ServerAuth : public ::testing::Test {
 protected:
  ServerAuth() { rebuild({}); }

  // The server's parts, as main.cpp makes them.
  void rebuild(auth::AuthConfig cfg, std::size_t max_clients = 100, bool require_sealed = false) {
    cfg.policy.max_skew = kSkew;
    cfg.policy.session_ttl = kTtl;
    verifier_.reset();
    auth_.reset();
    registry_ = auth::make_in_memory_registry(max_clients);
    auth_ = std::make_unique<auth::AuthService>(identity_, static_key_, *registry_, std::move(cfg), clock_);
    nonces_ = std::make_unique<auth::ReplayCache>(2 * kSkew + 1, 1 << 16, 1 << 10);
    verifier_ = std::make_unique<RequestVerifier>(*registry_, *nonces_, clock_, kSkew, "http", require_sealed);
  }

  handshake::ServerKeys server_keys() const { return {identity_.public_key(), static_key_.public_key}; }

  handshake::ClientHandshake hello(const RsaPrivateKey& key, const std::string& name) {
    return handshake::ClientHandshake::create(key, name, std::nullopt, server_keys(), clock_);
  }

  // A full handshake: the session the client is left with.
  handshake::ClientSession connect(const RsaPrivateKey& key = client_key(), const std::string& name = "alice",
                                   const std::string& address = "127.0.0.1") {
    auto hs = hello(key, name);
    return hs.consume(auth_->handshake(hs.hello_json(), address));
  }

  seal::Credentials creds(const handshake::ClientSession& s) const { return {s.secret, s.keyid, client_key()}; }

  // An unsealed signed request (§5.4), as sent.
  net::Request plain(const handshake::ClientSession& s, const std::string& target = "/hello.txt",
                     const std::string& nonce = "n-1", std::vector<std::pair<std::string, std::string>> fields = {}) {
    httpsig::Message m{"GET", "http", std::string(kAuthority), target, std::nullopt, std::move(fields), nullptr};
    seal::sign(creds(s), m, seal::Freshness{clock_.now(), nonce});
    return to_request(m);
  }

  // A sealed request (§5.1) for GET `path`, as sent.
  net::Request sealed(const handshake::ClientSession& s, const std::string& path = "/hello.txt",
                      const std::string& nonce = "s-1") {
    seal::Signed out;
    const bhttp::Request inner{"GET", "http", std::string(kAuthority), path, {}};
    const auto m = seal::seal_request(creds(s), inner, "http", kAuthority, seal::Freshness{clock_.now(), nonce}, out);
    return to_request(m);
  }

  FixedClock clock_{kNow};
  const Ed25519KeyPair identity_ = Ed25519KeyPair::generate();
  const X25519KeyPair static_key_ = X25519KeyPair::generate();
  std::unique_ptr<auth::ClientRegistry> registry_;
  std::unique_ptr<auth::AuthService> auth_;
  std::unique_ptr<auth::ReplayCache> nonces_;
  std::unique_ptr<RequestVerifier> verifier_;
};

// ---- the auth service: /.well-known/minihttps and /auth/handshake ------------------------------

TEST_F(ServerAuth, WellKnownDescribesTheServer) {
  const auto j = nlohmann::json::parse(auth_->well_known_json());
  EXPECT_EQ(j["protocol"], "minihttps/2");
  EXPECT_EQ(j["handshake"], "/auth/handshake");
  EXPECT_EQ(j["sealed"], std::string(seal::kSealedPath));
  EXPECT_EQ(j["fingerprint"], ed25519_fingerprint(identity_.public_key()));
  EXPECT_EQ(j["public_key"], base64_encode(identity_.public_key(), Alphabet::url, false));
  EXPECT_EQ(j["chunk_size"], handshake::ServerPolicy{}.chunk_size);
}

TEST_F(ServerAuth, HandshakeGrantsASessionOfTheConfiguredLifetime) {
  const auto s = connect();
  EXPECT_EQ(s.expires, kNow + kTtl);
  const auto rec = registry_->find_session(s.keyid, kNow);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->name, "alice");
  EXPECT_EQ(rec->uuid, s.uuid);
}

TEST_F(ServerAuth, MalformedHelloIs400) {
  EXPECT_EQ(refusal([&] { auth_->handshake("not json", "127.0.0.1"); }), "400 handshake: message is not a JSON object");
}

TEST_F(ServerAuth, ReplayedHelloIs403) {
  auto hs = hello(client_key(), "alice");
  auth_->handshake(hs.hello_json(), "127.0.0.1");
  EXPECT_EQ(refusal([&] { auth_->handshake(hs.hello_json(), "127.0.0.1"); }), "403 handshake: hello replayed");
}

TEST_F(ServerAuth, KeyOutsideAuthorizedClientsIs403) {
  auth::AuthConfig cfg;
  cfg.authorized = std::unordered_set<std::string>{"SHA256:someone-else"};
  rebuild(std::move(cfg));
  auto hs = hello(client_key(), "alice");
  EXPECT_EQ(
      refusal([&] { auth_->handshake(hs.hello_json(), "127.0.0.1"); }),
      "403 handshake: this key is not authorized on this server (" + client_key().public_key().fingerprint() + ")");
}

TEST_F(ServerAuth, HandshakeFloodFromOneAddressIs429AndAnotherAddressIsServed) {
  auth::AuthConfig cfg;
  cfg.handshakes_per_second = 0.001;  // no refill within the test
  cfg.handshake_burst = 1;
  rebuild(std::move(cfg));
  connect(client_key(), "alice", "192.0.2.1");
  auto hs = hello(client_key(), "alice");
  EXPECT_EQ(refusal([&] { auth_->handshake(hs.hello_json(), "192.0.2.1"); }),
            "429 too many handshakes from this address, slow down");
  EXPECT_EQ(refusal([&] { connect(client_key(), "alice", "198.51.100.7"); }), "no error");
}

TEST_F(ServerAuth, ServerWideHandshakeBudgetIs503) {
  auth::AuthConfig cfg;
  cfg.server_handshakes_per_second = 0.001;
  cfg.server_handshake_burst = 1;
  rebuild(std::move(cfg));
  connect(client_key(), "alice", "192.0.2.1");
  auto hs = hello(client_key(), "alice");
  EXPECT_EQ(refusal([&] { auth_->handshake(hs.hello_json(), "198.51.100.7"); }),
            "503 handshake: too many handshakes on this server right now, try again shortly");
}

TEST_F(ServerAuth, NameHeldByAnotherKeyIs409AndAFullRegistryIs503) {
  rebuild({}, 1);
  connect();
  const RsaPrivateKey other = RsaPrivateKey::generate(2048);
  auto taken = hello(other, "alice");
  EXPECT_EQ(refusal([&] { auth_->handshake(taken.hello_json(), "127.0.0.1"); }),
            "409 registry: the name 'alice' is held by another key");
  auto full = hello(other, "bob");
  EXPECT_EQ(refusal([&] { auth_->handshake(full.hello_json(), "127.0.0.1"); }), "503 registry: full, try again later");
}

// ---- request verification (§5.2) -------------------------------------------------------------

TEST_F(ServerAuth, SignedRequestVerifies) {
  const auto s = connect();
  const auto v = verifier_->verify(plain(s));
  EXPECT_EQ(v.client->uuid, s.uuid);
  EXPECT_EQ(v.label, "sig1");
  EXPECT_FALSE(v.sealed);
  EXPECT_EQ(v.client->last_seen.load(), kNow);
}

TEST_F(ServerAuth, UnsignedRequestIs401) {
  net::Request r;
  r.method = "GET";
  r.target = "/hello.txt";
  r.headers = {{"Host", std::string(kAuthority)}};
  EXPECT_EQ(refusal([&] { verifier_->verify(r); }),
            "401 request is not signed: run the handshake, then sign requests (RFC 9421)");
}

TEST_F(ServerAuth, HalfASignatureIs400) {
  const auto s = connect();
  net::Request r = plain(s);
  std::erase_if(r.headers, [](const net::Header& h) { return h.name == "Signature"; });
  EXPECT_EQ(refusal([&] { verifier_->verify(r); }), "400 signature: need both Signature-Input and Signature");
}

TEST_F(ServerAuth, UnknownKeyidIs401) {
  auto s = connect();
  s.keyid[0] ^= 1;
  EXPECT_EQ(refusal([&] { verifier_->verify(plain(s)); }), "401 signature: session unknown or ended: handshake again");
}

// Session expiry on a clock: what an integration test used to wait 11 s of real time for.
TEST_F(ServerAuth, SessionPastItsLifetimeIs401AndANewHandshakeServesAgain) {
  const auto s = connect();
  clock_.set(kNow + kTtl - 1);
  EXPECT_EQ(refusal([&] { verifier_->verify(plain(s, "/hello.txt", "before")); }), "no error");
  clock_.set(kNow + kTtl + 1);
  EXPECT_EQ(refusal([&] { verifier_->verify(plain(s, "/hello.txt", "after")); }),
            "401 signature: session unknown or ended: handshake again");
  const auto again = connect();
  EXPECT_EQ(again.uuid, s.uuid);  // same key, same identity
  EXPECT_EQ(refusal([&] { verifier_->verify(plain(again, "/hello.txt", "renewed")); }), "no error");
}

TEST_F(ServerAuth, EndedSessionIs401) {
  const auto s = connect();
  registry_->end_session(s.uuid);
  EXPECT_EQ(refusal([&] { verifier_->verify(plain(s)); }), "401 signature: session unknown or ended: handshake again");
}

// Each refusal of §5.2 that follows the session lookup: the Signature-Input edited as an attacker
// (or a broken client) would, before the signature is checked.
TEST_F(ServerAuth, EachSignatureRuleIs403WithItsReason) {
  const auto s = connect();
  struct Case {
    std::string pattern, replacement, refusal;
  };
  const std::vector<Case> cases = {
      {R"(;alg="[^"]*")", R"(;alg="ed25519")", "403 signature: alg must be rsa-pss-sha512"},
      {R"("@path" ?)", "", "403 signature: must cover @path"},
      {R"("@method" ?)", "", "403 signature: must cover @method"},
      {R"("@authority" ?)", "", "403 signature: must cover @authority"},
      {R"(;created=\d+)", "", "403 signature: must carry created"},
      {R"(;nonce="[^"]*")", "", "403 signature: must carry a nonce of 1-128 characters"},
      {R"(;nonce="[^"]*")", ";nonce=\"" + std::string(129, 'n') + "\"",
       "403 signature: must carry a nonce of 1-128 characters"},
      {R"(;created=\d+)", ";created=" + std::to_string(kNow - kSkew - 1),
       "403 signature: created is outside the allowed window"},
      {R"(;created=\d+)", ";created=" + std::to_string(kNow + kSkew + 1),
       "403 signature: created is outside the allowed window"},
      {R"(;created=(\d+))", ";created=$1;expires=" + std::to_string(kNow - 1), "403 signature: expired"},
      {R"(;nonce="[^"]*")", R"(;nonce="other")", "403 signature: does not verify"},
  };
  int i = 0;
  for (const auto& c : cases) {
    net::Request r = plain(s, "/hello.txt", "rule-" + std::to_string(i++));
    std::string& input = header(r, "Signature-Input");
    const std::string edited = std::regex_replace(input, std::regex(c.pattern), c.replacement);
    ASSERT_NE(edited, input) << c.pattern;
    input = edited;
    EXPECT_EQ(refusal([&] { verifier_->verify(r); }), c.refusal) << input;
  }
}

TEST_F(ServerAuth, QueryAndRangeMustBeCovered) {
  const auto s = connect();
  net::Request q = plain(s, "/a.txt?x=1", "q");
  std::string& input = header(q, "Signature-Input");
  input = std::regex_replace(input, std::regex(R"( "@query")"), "");
  EXPECT_EQ(refusal([&] { verifier_->verify(q); }), "403 signature: must cover @query");
  net::Request r = plain(s, "/a.txt", "r");
  r.headers.push_back({"Range", "bytes=0-1"});  // added after signing
  EXPECT_EQ(refusal([&] { verifier_->verify(r); }), "403 signature: range is present but not covered");
}

TEST_F(ServerAuth, TamperedRequestDoesNotVerify) {
  const auto s = connect();
  net::Request r = plain(s, "/hello.txt");
  r.target = "/secret.txt";
  EXPECT_EQ(refusal([&] { verifier_->verify(r); }), "403 signature: does not verify");
}

TEST_F(ServerAuth, ReplayedRequestIs403) {
  const auto s = connect();
  const net::Request r = plain(s);
  verifier_->verify(r);
  EXPECT_EQ(refusal([&] { verifier_->verify(r); }), "403 signature: nonce already used (replayed request)");
  // Nor under a newer session of the same client.
  clock_.advance(1);
  const auto again = connect();
  EXPECT_EQ(refusal([&] { verifier_->verify(plain(again, "/hello.txt", "n-1")); }),
            "403 signature: nonce already used (replayed request)");
}

// ---- opening sealed requests (§5.1 steps 2-3) and --require-sealed ----------------------------

TEST_F(ServerAuth, SealedRequestOpensToTheInnerRequest) {
  const auto s = connect();
  const net::Request r = sealed(s, "/docs/a.txt?x=1");
  auto v = verifier_->verify(r);
  EXPECT_TRUE(v.sealed);
  verifier_->open(v, r);
  EXPECT_EQ(v.method, "GET");
  EXPECT_EQ(v.target, "/docs/a.txt?x=1");
}

TEST_F(ServerAuth, SealingRulesAre400) {
  const auto s = connect();
  // A sealed request elsewhere than the sealed path (the signature covers the path it was sent to).
  {
    seal::Signed out;
    const bhttp::Request inner{"GET", "http", std::string(kAuthority), "/hello.txt", {}};
    auto m = seal::seal_request(creds(s), inner, "http", kAuthority, seal::Freshness{kNow, "elsewhere"}, out);
    m.target = "/hello.txt";
    m.headers.erase(m.headers.end() - 2, m.headers.end());  // re-sign at the new path
    seal::sign(creds(s), m, seal::Freshness{kNow, "elsewhere"});
    const net::Request r = to_request(m);
    auto v = verifier_->verify(r);
    EXPECT_EQ(refusal([&] { verifier_->open(v, r); }),
              "400 sealed: a sealed request goes to " + std::string(seal::kSealedPath));
  }
  // The sealed path without a seal.
  {
    const net::Request r = plain(s, std::string(seal::kSealedPath), "unsealed");
    auto v = verifier_->verify(r);
    EXPECT_EQ(refusal([&] { verifier_->open(v, r); }), "400 sealed: no MiniHTTPS-Sealed field");
  }
  // A field added outside the seal is not covered by the signature: refused before the seal is opened.
  {
    net::Request r = sealed(s, "/hello.txt", "outside");
    r.headers.push_back({"Range", "bytes=0-1"});
    EXPECT_EQ(refusal([&] { verifier_->verify(r); }), "403 signature: range is present but not covered");
  }
  // A query outside the seal, even signed, is refused when the seal is opened.
  {
    seal::Signed out;
    const bhttp::Request inner{"GET", "http", std::string(kAuthority), "/hello.txt", {}};
    auto m = seal::seal_request(creds(s), inner, "http", kAuthority, seal::Freshness{kNow, "query"}, out);
    m.target = std::string(seal::kSealedPath) + "?x=1";
    m.headers.erase(m.headers.end() - 2, m.headers.end());
    seal::sign(creds(s), m, seal::Freshness{kNow, "query"});
    const net::Request r = to_request(m);
    auto v = verifier_->verify(r);
    EXPECT_EQ(refusal([&] { verifier_->open(v, r); }), "400 sealed: the query must travel inside the seal");
  }
  // A seal made under another session.
  {
    net::Request r = sealed(s, "/hello.txt", "foreign");
    handshake::ClientSession other = s;
    other.secret = SessionSecret(test::pattern_bytes(32, 9));
    const net::Request foreign = sealed(other, "/hello.txt", "foreign-2");
    header(r, "MiniHTTPS-Sealed") = *foreign.header("MiniHTTPS-Sealed");
    // The signature covers the sealed field: changing it is a forgery.
    EXPECT_EQ(refusal([&] { verifier_->verify(r); }), "403 signature: does not verify");
  }
}

TEST_F(ServerAuth, RequireSealedRefusesUnsealedRequestsWith403) {
  rebuild({}, 100, true);
  const auto s = connect();
  const net::Request r = plain(s);
  auto v = verifier_->verify(r);
  EXPECT_EQ(refusal([&] { verifier_->open(v, r); }), "403 this server accepts sealed requests only");
  const net::Request ok = sealed(s);
  auto w = verifier_->verify(ok);
  EXPECT_EQ(refusal([&] { verifier_->open(w, ok); }), "no error");
}

// ---- answers (§5.3, §5.4) --------------------------------------------------------------------

TEST_F(ServerAuth, SealedAnswerHidesTheStatusAndOpensOnlyUnderItsRequestsBinding) {
  const auto s = connect();
  const net::Request r = sealed(s, "/missing.txt", "a");
  auto v = verifier_->verify(r);
  verifier_->open(v, r);
  const net::Response res =
      respond(v, error_answer(Error(Errc::not_found, "file: not found"), s.chunk_size), identity_, clock_.now());
  EXPECT_EQ(res.status, 200);  // the outer status says nothing
  const auto token = net::find_header(res.headers, seal::kSealedField);
  ASSERT_TRUE(token);
  EXPECT_FALSE(net::find_header(res.headers, "MiniHTTPS-Content-Type"));
  const seal::ResponseHead head = seal::open_response_head(s.secret, v.binding, *token);
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.content_type, "application/json");

  // Under another request's binding it does not open: an answer cannot be moved to another request.
  const net::Request r2 = sealed(s, "/missing.txt", "b");
  const auto v2 = verifier_->verify(r2);
  Errc code{};
  const std::string why = error_of([&] { seal::open_response_head(s.secret, v2.binding, *token); }, &code);
  EXPECT_EQ(code, Errc::integrity) << why;
}

TEST_F(ServerAuth, UnsealedAnswerCarriesTheRealStatusAndAVerifyingEd25519Signature) {
  const auto s = connect();
  const net::Request r = plain(s, "/hello.txt", "sig", {{"Accept-Signature", std::string(seal::kAcceptSignature)}});
  auto v = verifier_->verify(r);
  verifier_->open(v, r);
  net::Response res = respond(v, error_answer(Error(Errc::forbidden, "no"), s.chunk_size), identity_, clock_.now());
  EXPECT_EQ(res.status, 403);

  const auto verifies = [&](const net::Response& answer) {
    httpsig::Message m{"", "http", std::string(kAuthority), v.message.target, answer.status, {}, &v.message};
    for (const auto& h : answer.headers) m.headers.emplace_back(h.name, h.value);
    const auto inputs = httpsig::parse_signature_input(*httpsig::field_value(m, "signature-input"));
    const auto sigs = httpsig::parse_signature(*httpsig::field_value(m, "signature"));
    EXPECT_EQ(inputs.at(0).second.keyid, ed25519_fingerprint(identity_.public_key()));
    const std::string base = httpsig::signature_base(m, inputs.at(0).second);
    return ed25519_verify(identity_.public_key(), as_bytes(base), sigs.at(0).second);
  };
  EXPECT_TRUE(verifies(res));
  res.status = 200;  // a status changed on the way
  EXPECT_FALSE(verifies(res));
}

TEST_F(ServerAuth, UnsealedAnswerWithoutAcceptSignatureIsNotSigned) {
  const auto s = connect();
  const net::Request r = plain(s);
  auto v = verifier_->verify(r);
  verifier_->open(v, r);
  const net::Response res = respond(v, error_answer(Error(Errc::unauthenticated, "x"), s.chunk_size), identity_, kNow);
  EXPECT_EQ(res.status, 401);
  EXPECT_FALSE(net::find_header(res.headers, "Signature"));
  EXPECT_EQ(net::find_header(res.headers, "WWW-Authenticate"), "MiniHTTPS handshake=\"/auth/handshake\"");
}

// ---- a shared store that restarted from a snapshot (docs/ARCHITECTURE.md §7) -----------------

// Says every nonce is fresh, as a store that lost them would, and vouches only from kNow + 1.
class RestoredStore final : public auth::NonceStore {
 public:
  Verdict check_and_insert(std::string_view, ByteView, std::int64_t) override { return Verdict::fresh; }
  std::int64_t vouches_from() const override { return kNow + 1; }
};

TEST_F(ServerAuth, WhatWasSignedBeforeARestoredStoreCanVouchIsRefusedNotChecked) {
  const auto s = connect();
  RestoredStore restored;
  RequestVerifier verifier(*registry_, restored, clock_, kSkew);
  EXPECT_EQ(refusal([&] { verifier.verify(plain(s, "/hello.txt", "before")); }),
            "503 store: restarted; a request signed before it cannot be checked for replay, sign it again");
  clock_.advance(1);
  EXPECT_EQ(refusal([&] { verifier.verify(plain(s, "/hello.txt", "after")); }), "no error");

  auth::AuthConfig cfg;
  cfg.shared_hello_nonces = &restored;
  clock_.set(kNow);
  rebuild(cfg);
  auto hs = hello(client_key(), "alice");
  EXPECT_EQ(refusal([&] { auth_->handshake(hs.hello_json(), "127.0.0.1"); }),
            "503 store: restarted; a hello made before it cannot be checked for replay, send a new one");
  clock_.advance(1);
  hs = hello(client_key(), "alice");
  EXPECT_EQ(refusal([&] { auth_->handshake(hs.hello_json(), "127.0.0.1"); }), "no error");
}

}  // namespace
}  // namespace mh::web
