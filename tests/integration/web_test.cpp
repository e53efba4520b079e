// The web part end to end: the real server, the real client, and hand-crafted requests (sealed as
// the CLI sends them, or plain RFC 9421) for the attacks of docs/SECURITY.md §5. Each attack test
// shows the exact refusal and that no protected byte leaks; each client-side attack shows the exit
// code and that no file was written. The suite's server cuts streams into 4 KiB chunks, so a few
// KiB already make a stream of many chunks.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/fernet.hpp"
#include "core/stream.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;

std::string reason_of(const Reply& r) { return r.reason(); }
std::string reason_of(const net::ClientResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("reason", "") : "";
}
constexpr std::uint32_t kChunk = 4096;

class Web : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(with_args({"--chunk-size", std::to_string(kChunk)}));
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
    const auto r =
        run_client(home_->path(), {"connect", "--server", server_->url(), "--name", "webtester", "--rsa-bits", "2048"});
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
  r = client({"ls", "-l", "/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("docs/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hello.txt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4096  "), std::string::npos) << r.out;  // data.bin's size
  EXPECT_EQ(r.out.find(".hidden"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("leak"), std::string::npos) << r.out;  // escaping links are not listed
  r = client({"ls", "site"});                                 // a directory with an index.html still lists
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

TEST_F(Web, SealedRequestGetsASealedAnswerThatOpensToTheFile) {
  SignedClient c(home_->path(), server_->url());
  const auto r = c.send("GET", "/hello.txt");
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.outer_status, 200);
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.head);
  EXPECT_EQ(r.head->content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.head->content_length, 13u);
  EXPECT_EQ(r.head->chunks, (seal::Chunks{kChunk, 0, 0}));
  EXPECT_EQ(r.body, "hello, world\n");
  // The outer answer says nothing: no media type, ETag or real status in clear.
  EXPECT_EQ(r.header("Content-Type").value_or(""), "application/minihttps-stream");
  EXPECT_FALSE(r.header("ETag"));
  EXPECT_FALSE(r.header("MiniHTTPS-Content-Type"));
  EXPECT_EQ(r.raw_body.size(), stream::token_length(13));
  // A 404 is sealed too: outer 200, the real status and reason inside.
  const auto missing = c.send("GET", "/nope.txt");
  EXPECT_EQ(missing.outer_status, 200);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.reason(), "file: not found");
}

TEST_F(Web, UnsealedSignedRequestGetsTheStatusInClearAndTheSameStream) {
  SignedClient c(home_->path(), server_->url());
  SignOptions plain;
  plain.sealed = false;
  const auto r = c.send("GET", "/hello.txt", plain);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.outer_status, 200);
  EXPECT_EQ(r.header("MiniHTTPS-Content-Type").value_or(""), "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("ETag").value_or(""), r.head->etag.value_or("?"));
  EXPECT_EQ(r.body, "hello, world\n");
  const auto missing = c.send("GET", "/nope.txt", plain);
  EXPECT_EQ(missing.outer_status, 404);
  EXPECT_EQ(missing.reason(), "file: not found");
}

TEST_F(Web, LargeFileIsAStreamOfChunksEachBoundToItsRequest) {
  SignedClient c(home_->path(), server_->url());
  const auto r = c.send("GET", "/big.bin");
  ASSERT_TRUE(r.error.empty()) << r.error;
  const auto layout = stream::Layout::whole(big_->size(), kChunk);
  EXPECT_EQ(r.head->chunks, (seal::Chunks{kChunk, 0, layout.chunk_count() - 1}));
  EXPECT_EQ(r.header("Content-Length").value_or(""), std::to_string(layout.stream_length()));
  EXPECT_EQ(r.body, as_chars(*big_));
  // The same bytes opened under another request's binding fail at the head and at every chunk.
  const Built other = c.build("GET", "/big.bin");
  net::ClientResponse moved;
  moved.status = r.outer_status;
  moved.headers = r.headers;
  moved.body = r.raw_body;
  const Reply replayed = c.open(moved, other.binding);
  EXPECT_EQ(replayed.error, "the response head is not bound to this request");
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
  const Built req = c.build("GET", "/hello.txt");
  EXPECT_EQ(c.open(c.send_raw(req.request), req.binding).status, 200);
  const auto again = c.open(c.send_raw(req.request), req.binding);
  EXPECT_EQ(again.status, 403);
  EXPECT_FALSE(again.sealed);  // refused before it verified: in clear
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

TEST_F(Web, UnknownKeyidOrTheUuidAsKeyidIs401) {
  SignedClient c(home_->path(), server_->url());
  for (const std::string& keyid : {seal::keyid_text(KeyId{1, 2, 3}), c.uuid().to_string(), std::string("x")}) {
    SignOptions o;
    o.keyid = keyid;
    const auto r = c.send("GET", "/hello.txt", o);
    EXPECT_EQ(r.status, 401) << keyid;
    EXPECT_EQ(reason_of(r), "signature: session unknown or ended: handshake again");
  }
}

// A newer handshake replaces the session: its keyid gets 401, never a body it could not open.
TEST_F(Web, ReplacedSessionIs401) {
  TempDir home;
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server_->url(), "--name", "replaced", "--rsa-bits", "2048"})
                .exit_code,
            0);
  SignedClient old_session(home.path(), server_->url());
  ASSERT_EQ(old_session.send("GET", "/hello.txt").status, 200);
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server_->url(), "--name", "replaced"}).exit_code, 0);
  const auto r = old_session.send("GET", "/hello.txt");
  EXPECT_EQ(r.status, 401);
  EXPECT_FALSE(r.sealed);
  EXPECT_EQ(reason_of(r), "signature: session unknown or ended: handshake again");
  SignedClient new_session(home.path(), server_->url());
  EXPECT_NE(new_session.keyid(), old_session.keyid());
  EXPECT_EQ(new_session.uuid(), old_session.uuid());
  EXPECT_EQ(new_session.send("GET", "/hello.txt").body, "hello, world\n");
}

TEST_F(Web, CoverageWithoutPathOrQueryIs403) {
  SignedClient c(home_->path(), server_->url());
  SignOptions o;
  o.components = {"@method", "@authority", "minihttps-sealed"};
  auto r = c.send("GET", "/hello.txt", o);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: must cover @path");
  SignOptions uncovered_head;
  uncovered_head.components = std::vector<std::string>{"@method", "@authority", "@path"};
  r = c.send("GET", "/hello.txt", uncovered_head);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: minihttps-sealed is present but not covered");
  SignOptions q;
  q.sealed = false;
  q.components = std::vector<std::string>{"@method", "@authority", "@path"};
  r = c.send("GET", "/hello.txt?x=1", q);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: must cover @query");
  // Unsealed, the fields that change meaning must be covered when present (v1 did not: an
  // on-path attacker could add a Range).
  for (const char* name : {"Range", "If-Range", "If-None-Match", "Accept-Signature"}) {
    SignOptions f;
    f.sealed = false;
    f.components = std::vector<std::string>{"@method", "@authority", "@path"};
    f.extra = {{name, "bytes=0-1"}};
    r = c.send("GET", "/hello.txt", f);
    EXPECT_EQ(r.status, 403) << name;
    std::string lower = name;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(reason_of(r), "signature: " + lower + " is present but not covered");
  }
}

TEST_F(Web, MeaningfulFieldsOutsideTheSealAreRefusedSealed) {
  SignedClient c(home_->path(), server_->url());
  for (const char* name : {"Range", "If-None-Match", "Accept-Signature", "Content-Digest"}) {
    SignOptions o;
    o.extra = {{name, "x"}};  // signed (the profile covers what it carries) but outside the seal
    const auto r = c.send("GET", "/hello.txt", o);
    std::string lower = name;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_TRUE(r.sealed) << name;
    EXPECT_EQ(r.status, 400) << name;
    EXPECT_EQ(r.reason(), "sealed: " + lower + " must travel inside the seal");
  }
}

TEST_F(Web, HeadSealedUnderAnotherSessionDoesNotOpen) {
  SignedClient c(home_->path(), server_->url());
  // A head sealed with another secret, signed properly by the client: the server cannot open it.
  TempDir other_home;
  ASSERT_EQ(run_client(other_home.path(),
                       {"connect", "--server", server_->url(), "--name", "othersession", "--rsa-bits", "2048"})
                .exit_code,
            0);
  SignedClient other(other_home.path(), server_->url());
  const std::int64_t now = std::time(nullptr);
  const std::string nonce = "c2VhbGVkLWVsc2V3aGVyZQ";
  const FernetKey wrong = other.secret().derive(KeyPurpose::request_head, head_binding(c.keyid(), now, nonce), 0, true);
  const std::string token =
      fernet_encrypt(wrong, bhttp::encode(bhttp::Request{"GET", "http", "", "/hello.txt", {}}), now);
  httpsig::Message m{"POST",
                     "http",
                     c.url().authority(),
                     std::string(seal::kSealedPath),
                     std::nullopt,
                     {{std::string(seal::kSealedField), token}},
                     nullptr};
  const auto params =
      httpsig::make_params({{"@method", {}}, {"@authority", {}}, {"@path", {}}, {"minihttps-sealed", {}}},
                           {.created = now, .nonce = nonce, .alg = "rsa-pss-sha512", .keyid = c.keyid_text()});
  const std::string base = httpsig::signature_base(m, params);
  const Bytes sig = c.rsa().sign_pss_sha512(as_bytes(base));
  net::Request req{"POST",
                   std::string(seal::kSealedPath),
                   {{std::string(seal::kSealedField), token},
                    {"Signature-Input", httpsig::signature_input_member("sig1", params)},
                    {"Signature", httpsig::signature_member("sig1", sig)}},
                   {},
                   {},
                   {},
                   false};
  const Reply r = c.open(c.send_raw(req), request_binding(base, sig));
  EXPECT_TRUE(r.sealed);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.reason(), "sealed: the request head does not open under this session");
}

TEST_F(Web, SignatureForOnePathUsedOnAnotherIs403) {
  SignedClient c(home_->path(), server_->url());
  SignOptions o;
  o.sealed = false;
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
  query.sealed = false;
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
      {"/../secret.txt", 403},
      {"/%2e%2e/secret.txt", 403},
      {"/%2E%2E/%2E%2E/etc/passwd", 403},
      {"/..%2f..%2fetc%2fpasswd", 403},
      {"/%252e%252e/etc/passwd", 403},
      {"/docs/..%5c..%5cetc", 403},
      {"/docs\\..\\hello.txt", 403},
      {"/docs/%00", 403},
      {"/leak.txt", 403},
      {"/leakdir/secret.txt", 403},
      {"/.hidden", 403},
      {"/%2ehidden", 403},
      {"/docs/%c0%ae%c0%ae/x", 400},
      {"/nothing/here", 404},
  };
  for (const auto& [target, status] : cases) {
    const auto r = c.send("GET", target);
    EXPECT_TRUE(r.error.empty()) << r.error;
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
  EXPECT_EQ(head.head->content_length, 13u);
  EXPECT_FALSE(head.head->chunks);
  EXPECT_EQ(head.header("Content-Length").value_or(""), "0");
  EXPECT_TRUE(head.body.empty());
  const std::string etag = head.head->etag.value_or("");
  ASSERT_EQ(etag.size(), 24u) << etag;  // "\"" + 22 characters of b64u + "\""
  SignOptions o;
  o.inner = {{"if-none-match", etag}};
  const auto cached = c.send("GET", "/hello.txt", o);
  EXPECT_EQ(cached.status, 304);
  EXPECT_EQ(cached.head->etag, etag);
  EXPECT_TRUE(cached.body.empty());
  o.inner = {{"if-none-match", "\"0000000000000000000000\""}};
  EXPECT_EQ(c.send("GET", "/hello.txt", o).status, 200);
}

// PROTOCOL.md §7.1 at every boundary, with 4 KiB chunks: the answer is the whole chunks covering
// the span, each opening on its own.
TEST_F(Web, RangeIsAnsweredWithTheWholeChunksThatCoverIt) {
  SignedClient c(home_->path(), server_->url());
  const std::uint64_t n = big_->size();
  const auto range = [&](const std::string& spec) {
    SignOptions o;
    o.inner = {{"range", spec}};
    return c.send("GET", "/big.bin", o);
  };
  struct Case {
    std::string spec;
    std::uint64_t first_chunk, last_chunk;
  };
  const std::uint64_t last = (n - 1) / kChunk;
  for (const Case& k : {Case{"bytes=0-0", 0, 0}, Case{"bytes=4095-4096", 0, 1}, Case{"bytes=4096-8191", 1, 1},
                        Case{"bytes=-1", last, last}, Case{"bytes=" + std::to_string(n - 1) + "-", last, last},
                        Case{"bytes=10000-", 2, last}, Case{"bytes=5000-5001,100-200", 0, 1}}) {
    const auto r = range(k.spec);
    ASSERT_TRUE(r.error.empty()) << k.spec << ": " << r.error;
    EXPECT_EQ(r.status, 206) << k.spec;
    EXPECT_EQ(r.head->chunks, (seal::Chunks{kChunk, k.first_chunk, k.last_chunk})) << k.spec;
    const std::uint64_t from = k.first_chunk * kChunk, to = std::min((k.last_chunk + 1) * kChunk, n) - 1;
    EXPECT_EQ(r.head->content_range,
              "bytes " + std::to_string(from) + "-" + std::to_string(to) + "/" + std::to_string(n));
    EXPECT_EQ(r.head->content_length, to - from + 1);
    EXPECT_EQ(r.body, std::string(as_chars(*big_).substr(from, to - from + 1))) << k.spec;
  }
  for (const std::string& past : {"bytes=" + std::to_string(n) + "-", std::string("bytes=-0")}) {
    const auto r = range(past);
    EXPECT_EQ(r.status, 416) << past;
    EXPECT_EQ(r.head->content_range, "bytes */" + std::to_string(n));
    EXPECT_TRUE(r.body.empty());
  }
  EXPECT_EQ(range("bytes=abc").status, 200);  // invalid: ignored
  // If-Range with the ETag keeps the range; with another one, the whole file comes.
  const std::string etag = c.send("HEAD", "/big.bin").head->etag.value_or("");
  SignOptions same;
  same.inner = {{"range", "bytes=4096-"}, {"if-range", etag}};
  EXPECT_EQ(c.send("GET", "/big.bin", same).status, 206);
  SignOptions changed;
  changed.inner = {{"range", "bytes=4096-"}, {"if-range", "\"AAAAAAAAAAAAAAAAAAAAAA\""}};
  const auto whole = c.send("GET", "/big.bin", changed);
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, as_chars(*big_));
}

TEST_F(Web, RequestsOtherThanUploadsTakeNoBody) {
  SignedClient c(home_->path(), server_->url());
  const Built b = c.build("POST", "/auth/logout", {}, "some body", true);
  const auto r = c.open(c.send_raw(b.request), b.binding);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.reason(), "this request takes no body");
}

TEST(RequireSealed, UnsealedRequestsAreRefused) {
  ServerProcess server(with_args({"--require-sealed"}));
  TempDir home;
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server.url(), "--name", "sealedonly", "--rsa-bits", "2048"})
                .exit_code,
            0);
  SignedClient c(home.path(), server.url());
  SignOptions plain;
  plain.sealed = false;
  const auto r = c.send("GET", "/hello.txt", plain);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.reason(), "this server accepts sealed requests only");
  EXPECT_EQ(c.send("GET", "/hello.txt").body, "hello, world\n");
}

// --session-ttl reaches the sessions the server grants: the session the client saved ends that many
// seconds after the handshake. What happens past that moment (401, then a new handshake) is
// ServerAuth.SessionPastItsLifetimeIs401AndANewHandshakeServesAgain (tests/server, on a FixedClock)
// and, for the CLI's own re-handshake, Web.EndedSessionIs401ThenTheClientHandshakesAgainByItself.
TEST(SessionTtl, TheSessionEndsTheConfiguredSecondsAfterTheHandshake) {
  ServerProcess server(with_args({"--session-ttl", "10"}));
  TempDir home;
  const std::int64_t before = std::time(nullptr);
  auto r = run_client(home.path(), {"connect", "--server", server.url(), "--name", "shortlived", "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::int64_t after = std::time(nullptr);
  std::vector<std::int64_t> expires;
  for (const auto& e : fs::directory_iterator(home.path() / "sessions"))
    expires.push_back(nlohmann::json::parse(read_file(e.path()))["expires"].get<std::int64_t>());
  ASSERT_EQ(expires.size(), 1u);
  EXPECT_GE(expires[0], before + 10);
  EXPECT_LE(expires[0], after + 10);
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
