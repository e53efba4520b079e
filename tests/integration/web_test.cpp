// The web part end to end: the real server, the real client, and hand-crafted requests for the
// attacks of docs/SECURITY.md §5. Each attack test shows the exact refusal and that no protected
// byte leaks; each client-side attack shows the exit code and that no file was written.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/fernet.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/tamper_proxy.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;

std::string reason_of(const net::ClientResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("reason", "") : "";
}

class Web : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    // A secret outside the root, and a symlink in the root pointing at it.
    secret_dir_ = new TempDir();
    write_file(secret_dir_->path() / "secret.txt", "TOP-SECRET-OUTSIDE-ROOT\n");
    fs::create_symlink(secret_dir_->path() / "secret.txt", server_->root() / "leak.txt");
    fs::create_symlink(secret_dir_->path(), server_->root() / "leakdir");
    write_file(server_->root() / ".hidden", "HIDDEN-DOTFILE\n");
    fs::create_directories(server_->root() / "site");
    write_file(server_->root() / "site" / "index.html", "<h1>site</h1>\n");
    big_ = new Bytes(pattern_bytes((3u << 20) + 17, 99));
    write_file(server_->root() / "big.bin", as_chars(*big_));
    home_ = new TempDir();
    const auto r = run_client(home_->path(), {"connect", "--server", server_->url(), "--name", "webtester", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete home_;
    delete big_;
    delete secret_dir_;
    delete server_;
  }
  static CommandResult client(std::vector<std::string> args) { return run_client(home_->path(), args); }

  static ServerProcess* server_;
  static TempDir* secret_dir_;
  static TempDir* home_;
  static Bytes* big_;
};
ServerProcess* Web::server_ = nullptr;
TempDir* Web::secret_dir_ = nullptr;
TempDir* Web::home_ = nullptr;
Bytes* Web::big_ = nullptr;

// ---- the client, used as a user would ---------------------------------------------------------

TEST_F(Web, GetToStdoutAndToFile) {
  auto r = client({"get", "hello.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n");
  TempDir out;
  r = client({"get", "/docs/a.txt", "-o", (out / "a.txt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(out / "a.txt"), "document a\n");
  // -o a directory keeps the remote name.
  r = client({"get", "data.bin", "-o", out.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(out / "data.bin"), as_chars(pattern_bytes(4096)));
  // Nothing else was left behind (no temporary files).
  EXPECT_EQ(std::distance(fs::directory_iterator(out.path()), fs::directory_iterator()), 2);
}

TEST_F(Web, GetLargeBinaryFileExactly) {
  TempDir out;
  const auto r = client({"get", "big.bin", "-o", (out / "big.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(out / "big.bin"), as_chars(*big_));
}

TEST_F(Web, DirectoryServesIndexAndLsLists) {
  auto r = client({"get", "site/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<h1>site</h1>\n");
  r = client({"ls", "/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("docs/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hello.txt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4096  "), std::string::npos) << r.out;  // data.bin's size
  EXPECT_EQ(r.out.find(".hidden"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("leak"), std::string::npos) << r.out;  // escaping links are not listed
  r = client({"ls", "site"});  // a directory with an index.html still lists
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("index.html"), std::string::npos) << r.out;
}

TEST_F(Web, MissingFileIsExitOneWithTheReason) {
  const auto r = client({"get", "nope.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "minihttps: get /nope.txt: file: not found\n");
}

// ---- signatures: each refusal exactly ---------------------------------------------------------

TEST_F(Web, UnsignedRequestIs401WithHandshakeHint) {
  net::HttpClient http(net::ServerUrl::parse(server_->url()), std::chrono::seconds(5));
  const auto r = http.send(net::Request{"GET", "/hello.txt", {}, {}, {}, {}, false});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("WWW-Authenticate").value_or(""), "MiniHTTPS handshake=\"/auth/handshake\"");
  EXPECT_EQ(reason_of(r), "request is not signed: run the handshake, then sign requests (RFC 9421)");
  EXPECT_EQ(r.body.find("hello, world"), std::string::npos);
}

TEST_F(Web, ValidSignedRequestDecryptsToTheFile) {
  SignedClient c(home_->path(), server_->url());
  const auto r = c.send("GET", "/hello.txt");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type").value_or(""), "application/fernet");
  EXPECT_EQ(r.header("MiniHTTPS-Content-Type").value_or(""), "text/plain; charset=utf-8");
  EXPECT_EQ(r.body.size(), fernet_token_length(13));
  EXPECT_EQ(fernet_decrypt(c.session_key(), r.body, std::time(nullptr), 60), to_bytes("hello, world\n"));
}

TEST_F(Web, TamperedSignatureIs403) {
  SignedClient c(home_->path(), server_->url());
  SignOptions o;
  o.flip_signature_bit = true;
  const auto r = c.send("GET", "/hello.txt", o);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: does not verify");
}

TEST_F(Web, ReplayedRequestIs403) {
  SignedClient c(home_->path(), server_->url());
  const net::Request req = c.build("GET", "/hello.txt");
  EXPECT_EQ(c.send_raw(req).status, 200);
  const auto again = c.send_raw(req);
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(reason_of(again), "signature: nonce already used (replayed request)");
}

TEST_F(Web, StaleAndFutureCreatedAre403) {
  SignedClient c(home_->path(), server_->url());
  for (std::int64_t offset : {-120, 120}) {
    SignOptions o;
    o.created = std::time(nullptr) + offset;
    const auto r = c.send("GET", "/hello.txt", o);
    EXPECT_EQ(r.status, 403) << offset;
    EXPECT_EQ(reason_of(r), "signature: created is outside the allowed window") << offset;
  }
}

TEST_F(Web, UnknownKeyidIs401) {
  SignedClient c(home_->path(), server_->url());
  SignOptions o;
  o.keyid = Uuid::random_v4().to_string();
  const auto r = c.send("GET", "/hello.txt", o);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(reason_of(r), "signature: unknown keyid or expired session; handshake again");
}

TEST_F(Web, CoverageWithoutPathOrQueryIs403) {
  SignedClient c(home_->path(), server_->url());
  SignOptions o;
  o.components = {"@method", "@authority"};
  auto r = c.send("GET", "/hello.txt", o);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: must cover @path");
  SignOptions q;
  q.auto_query = false;
  r = c.send("GET", "/hello.txt?x=1", q);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: must cover @query");
}

TEST_F(Web, SignatureForOnePathUsedOnAnotherIs403) {
  SignedClient c(home_->path(), server_->url());
  SignOptions o;
  o.sign_target = "/hello.txt";
  const auto r = c.send("GET", "/docs/a.txt", o);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: does not verify");
  EXPECT_EQ(r.body.find("document a"), std::string::npos);
}

// Each signature parameter rule of PROTOCOL.md §6, with its exact refusal.
TEST_F(Web, SignatureParameterRulesAreEnforced) {
  SignedClient c(home_->path(), server_->url());
  const auto expect = [&](const SignOptions& o, int status, const std::string& reason) {
    const auto r = c.send("GET", "/hello.txt", o);
    EXPECT_EQ(r.status, status) << reason;
    EXPECT_EQ(reason_of(r), reason);
    EXPECT_EQ(r.body.find("hello, world"), std::string::npos);
  };
  SignOptions alg;
  alg.alg = "rsa-v1_5-sha256";
  expect(alg, 403, "signature: alg must be rsa-pss-sha512");
  SignOptions expired;
  expired.expires = std::time(nullptr) - 5;
  expect(expired, 403, "signature: expired");
  SignOptions no_created;
  no_created.omit_created = true;
  expect(no_created, 403, "signature: must carry created");
  SignOptions no_nonce;
  no_nonce.omit_nonce = true;
  expect(no_nonce, 403, "signature: must carry a nonce of 1-128 characters");
  SignOptions long_nonce;
  long_nonce.nonce = std::string(129, 'n');
  expect(long_nonce, 403, "signature: must carry a nonce of 1-128 characters");
  SignOptions no_keyid;
  no_keyid.omit_keyid = true;
  expect(no_keyid, 401, "signature: no keyid; handshake first");
  // Without an alg parameter the key decides (rsa-pss-sha512): accepted.
  SignOptions no_alg;
  no_alg.alg.clear();
  EXPECT_EQ(c.send("GET", "/hello.txt", no_alg).status, 200);
}

TEST_F(Web, QueryOrAuthorityChangedInTransitIs403) {
  SignedClient c(home_->path(), server_->url());
  SignOptions query;
  query.sign_target = "/hello.txt?list";
  auto r = c.send("GET", "/hello.txt?x", query);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: does not verify");
  SignOptions host;
  host.send_authority = "elsewhere.example:80";
  r = c.send("GET", "/hello.txt", host);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: does not verify");
}

TEST_F(Web, EveryTraversalFormIsRefusedAndLeaksNothing) {
  SignedClient c(home_->path(), server_->url());
  const std::pair<const char*, int> cases[] = {
      {"/../secret.txt", 403},          {"/%2e%2e/secret.txt", 403},      {"/%2E%2E/%2E%2E/etc/passwd", 403},
      {"/..%2f..%2fetc%2fpasswd", 403}, {"/%252e%252e/etc/passwd", 403},  {"/docs/..%5c..%5cetc", 403},
      {"/docs\\..\\hello.txt", 403},    {"/docs/%00", 403},               {"/leak.txt", 403},
      {"/leakdir/secret.txt", 403},     {"/.hidden", 403},                {"/%2ehidden", 403},
      {"/docs/%c0%ae%c0%ae/x", 400},    {"/nothing/here", 404},
  };
  for (const auto& [target, status] : cases) {
    const auto r = c.send("GET", target);
    EXPECT_EQ(r.status, status) << target << " " << reason_of(r);
    EXPECT_EQ(r.body.find("TOP-SECRET"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("HIDDEN"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
}

TEST_F(Web, HeadAndConditionalGet) {
  SignedClient c(home_->path(), server_->url());
  const auto head = c.send("HEAD", "/hello.txt");
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length").value_or(""), std::to_string(fernet_token_length(13)));
  EXPECT_TRUE(head.body.empty());
  const std::string etag(head.header("ETag").value_or(""));
  ASSERT_FALSE(etag.empty());
  SignOptions o;
  o.extra = {{"If-None-Match", etag}};
  const auto cached = c.send("GET", "/hello.txt", o);
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  o.extra = {{"If-None-Match", "\"0000000000000000\""}};
  EXPECT_EQ(c.send("GET", "/hello.txt", o).status, 200);
}

TEST_F(Web, BodyMustMatchItsSignedDigest) {
  SignedClient c(home_->path(), server_->url());
  net::Request req = c.build("POST", "/auth/logout", {}, "some body");
  req.body = "another body";  // the same length, so only the digest can tell
  req.body.resize(9);
  const auto r = c.send_raw(req);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: body does not match content-digest");
}

// ---- the client refuses damaged answers and writes nothing -----------------------------------

class WebTamper : public Web {};

TEST_F(WebTamper, FlippedBitTruncatedAndSubstitutedBodiesAreRefused) {
  TamperProxy proxy(server_->port());
  TempDir out;
  auto get_through_proxy = [&](const std::string& path) {
    return run_client(home_->path(), {"--server", proxy.url(), "get", path, "-o", (out / "file").string()});
  };
  // The proxy is another authority: connect through it once (same server key, pinned).
  auto r = run_client(home_->path(), {"connect", "--server", proxy.url(), "--name", "webtester", "--fingerprint",
                                      server_->fingerprint()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  proxy.set_mode(TamperProxy::Mode::flip_body_bit, "GET /big.bin");
  r = get_through_proxy("big.bin");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("does not match its signed digest"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out / "file"));

  proxy.set_mode(TamperProxy::Mode::truncate_body, "GET /big.bin");
  r = get_through_proxy("big.bin");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out / "file"));

  proxy.set_mode(TamperProxy::Mode::pass);
  proxy.record_next("GET /hello.txt");
  ASSERT_EQ(get_through_proxy("hello.txt").exit_code, 0);
  fs::remove(out / "file");
  proxy.set_mode(TamperProxy::Mode::replay_recorded, "GET /docs/a.txt");
  r = get_through_proxy("docs/a.txt");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("response signature: does not verify"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out / "file"));
  EXPECT_EQ(proxy.tampered(), 3);
  // The output directory holds no temporary leftovers either.
  EXPECT_EQ(std::distance(fs::directory_iterator(out.path()), fs::directory_iterator()), 0);
}

// --session-ttl on real traffic: a session past its lifetime is refused like an unknown one, and
// the CLI handshakes again by itself (same key, same UUID).
TEST(SessionTtl, ExpiredSessionIs401ThenTheClientHandshakesAgain) {
  ServerProcess server(with_args({"--session-ttl", "10"}));
  TempDir home;
  auto r = run_client(home.path(), {"connect", "--server", server.url(), "--name", "shortlived", "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SignedClient c(home.path(), server.url());
  const Uuid before = c.uuid();
  EXPECT_EQ(c.send("GET", "/hello.txt").status, 200);
  std::this_thread::sleep_for(std::chrono::seconds(11));
  const auto expired = c.send("GET", "/hello.txt");
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(reason_of(expired), "signature: unknown keyid or expired session; handshake again");
  r = run_client(home.path(), {"get", "hello.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n");
  EXPECT_NE(r.err.find("handshaking again"), std::string::npos) << r.err;
  EXPECT_EQ(SignedClient(home.path(), server.url()).uuid(), before);
}

TEST_F(Web, EndedSessionIs401ThenTheClientHandshakesAgainByItself) {
  TempDir home;
  auto r = run_client(home.path(), {"connect", "--server", server_->url(), "--name", "rejoiner", "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SignedClient c(home.path(), server_->url());
  const Uuid before = c.uuid();
  ASSERT_EQ(c.send("POST", "/auth/logout").status, 204);  // ends it on the server only
  EXPECT_EQ(c.send("GET", "/hello.txt").status, 401);
  r = run_client(home.path(), {"get", "hello.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n");
  EXPECT_NE(r.err.find("handshaking again"), std::string::npos) << r.err;
  EXPECT_EQ(SignedClient(home.path(), server_->url()).uuid(), before);  // same key, same UUID
}

}  // namespace
}  // namespace mh::test
