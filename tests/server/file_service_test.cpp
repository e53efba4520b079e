// FileService (docs/PROTOCOL.md §7): answers with their status, media type, ETag, size and
// chunk layout; the plaintext of every chunk as the responder reads it; Range at every boundary,
// If-Range and If-None-Match; HEAD; a file that changes before its last chunk; index.html and JSON
// listings; and every way out of the root refused. Some answers also go through the responder
// (web/answer.hpp) and are opened as a client opens them: the sealed head, then the body stream.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/base64.hpp"
#include "core/seal.hpp"
#include "core/stream.hpp"
#include "support/test_support.hpp"
#include "web/answer.hpp"
#include "web/file_service.hpp"
#include "web/media_types.hpp"

namespace mh::web {
namespace {
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kMtime = 1'700'000'000;
// The smallest session chunk size, so that small files have several chunks.
constexpr std::uint32_t kChunk = stream::kMinChunkSize;
constexpr std::string_view kChanged = "file: changed while being served; the last chunk is withheld";
constexpr std::string_view kChunkRefused =
    "chunk 0 does not verify (tampered, reordered, duplicated, or from another response)";

void set_mtime(const fs::path& p, std::int64_t seconds) {
  const timespec ts[2] = {{static_cast<time_t>(seconds), 0}, {static_cast<time_t>(seconds), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
}

Answer serve(const FileService& svc, const std::string& method, const std::string& target,
             const net::Headers& fields = {}, std::uint32_t chunk_size = kChunk) {
  return svc.serve(FileRequest{method, target, fields, chunk_size});
}

// The plaintext of the chunks an answer sends, read in order as the responder reads them: from
// its source, or slices of its in-memory body.
std::string plaintext_of(Answer& a) {
  if (!a.layout) return {};
  const stream::Layout& l = *a.layout;
  std::string out;
  for (std::uint64_t i = l.first_chunk(); i <= l.last_chunk(); ++i) {
    Bytes chunk(static_cast<std::size_t>(l.plaintext_size(i)));
    if (a.source)
      a.source->read(l.offset(i), chunk);
    else
      chunk.assign(a.body.begin() + static_cast<std::ptrdiff_t>(l.offset(i)),
                   a.body.begin() + static_cast<std::ptrdiff_t>(l.offset(i) + chunk.size()));
    out.append(as_chars(chunk));
  }
  return out;
}

// Reads the whole body in steps of at most cap characters.
std::string drain(net::BodySource& s, std::size_t cap) {
  std::string out;
  std::string buf(cap, '\0');
  for (;;) {
    const std::size_t n = s.read(buf.data(), cap);
    EXPECT_LE(n, cap);
    if (n == 0) break;
    out.append(buf.data(), n);
    if (out.size() > s.size()) {
      ADD_FAILURE() << "stream longer than its size()";
      break;
    }
  }
  return out;
}

// The error serve() throws for target, which must be `code` with exactly `reason`.
void expect_refused(const FileService& svc, const std::string& target, Errc code, const std::string& reason,
                    const std::string& method = "GET") {
  Errc got{};
  const std::string why = test::error_of([&] { serve(svc, method, target); }, &got);
  EXPECT_EQ(why, reason) << method << " " << target;
  EXPECT_EQ(got, code) << method << " " << target << ": " << why;
  EXPECT_EQ(why.find("root:"), std::string::npos) << "a byte of /etc/passwd leaked";
}

// PROTOCOL.md §7.3: "\"" + 22 characters of b64u + "\"".
bool is_etag_format(std::string_view e) {
  if (e.size() != 24 || e.front() != '"' || e.back() != '"') return false;
  return e.substr(1, 22).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
         std::string_view::npos;
}

void expect_resolve_refused(const FileService& svc, std::vector<std::string> segments, const std::string& reason) {
  try {
    const fs::path p = svc.resolve(RequestPath{std::move(segments), false});
    ADD_FAILURE() << "resolved to " << p;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::forbidden) << e.what();
    EXPECT_EQ(std::string(e.what()), reason);
  }
}

// A client's live session as the responder sees it, and the answer opened as that client opens
// it (PROTOCOL.md §5.3, §6.3): the sealed head under K("response head", B), then each chunk.
class Session {
 public:
  explicit Session(std::uint32_t chunk_size = kChunk) {
    auto c = std::make_shared<auth::ClientRecord>(
        RsaPublicKey::from_pem(test::read_file(test::vectors_dir() / "rfc9421/test-key-rsa.pub.pem")));
    c->name = "alice";
    c->session_secret = SessionSecret(test::pattern_bytes(32, 11));
    c->keyid.fill(0x4b);
    c->chunk_size = chunk_size;
    c->session_expires = kNow + 3600;
    client_ = c;
  }

  // A verified request bound by `binding`: sealed (the inner request is the file request), or not.
  VerifiedRequest request(bool sealed, const Binding& binding) const {
    VerifiedRequest v;
    v.client = client_;
    v.label = "sig1";
    v.binding = binding;
    v.sealed = sealed;
    return v;
  }

  struct Opened {
    int outer_status = 0;
    seal::ResponseHead head;
    std::string stream;  // the body stream as sent
    std::string plain;   // its chunks' plaintext, each opened
  };
  Opened open(net::Response& r, const Binding& binding, std::size_t cap = 65536) const {
    Opened o;
    o.outer_status = r.status;
    const auto sealed_head = net::find_header(r.headers, "MiniHTTPS-Sealed");
    EXPECT_TRUE(sealed_head);
    if (!sealed_head) return o;
    o.head = seal::open_response_head(secret(), binding, *sealed_head);
    EXPECT_EQ(o.head.chunks.has_value(), r.stream != nullptr);
    if (!r.stream || !o.head.chunks) return o;
    o.stream = drain(*r.stream, cap);
    EXPECT_EQ(o.stream.size(), r.stream->size());
    // What a client learns of the representation's size: content-length, or SIZE in content-range.
    std::uint64_t size = o.head.content_length;
    if (o.head.status == 206) size = std::stoull(o.head.content_range->substr(o.head.content_range->find('/') + 1));
    const auto& c = *o.head.chunks;
    const stream::Layout layout = stream::Layout::chunks(size, c.size, c.first, c.last);
    EXPECT_EQ(layout.stream_length(), o.stream.size()) << "the head implies the stream's length";
    stream::StreamReader reader(secret(), KeyPurpose::response_body, binding, layout,
                                [&](std::uint64_t, ByteView p) { o.plain.append(as_chars(p)); });
    reader.update(o.stream);
    reader.finish();
    return o;
  }

  const SessionSecret& secret() const { return client_->session_secret; }
  std::uint32_t chunk_size() const { return client_->chunk_size; }

 private:
  std::shared_ptr<const auth::ClientRecord> client_;
};

// The Fernet timestamp of a token (bytes 1-8 of its decoded form).
std::int64_t token_time(std::string_view token) {
  const Bytes raw = base64_decode(token, Alphabet::url, Padding::required);
  std::int64_t t = 0;
  for (int i = 1; i <= 8; ++i) t = (t << 8) | raw.at(static_cast<std::size_t>(i));
  return t;
}

Binding binding_of(std::uint8_t b) {
  Binding x{};
  x.fill(b);
  return x;
}

const Ed25519KeyPair& server_key() {
  static const Ed25519KeyPair k = Ed25519KeyPair::from_seed(test::pattern_bytes(32, 5));
  return k;
}

// Every test runs twice: with the openat2() fast path, and with the component walk alone (what a
// kernel without openat2 does), so both ways of opening give the same answers.
class FileServiceTest : public ::testing::TestWithParam<io::Resolution> {
 protected:
  void SetUp() override {
    root_ = tmp_ / "www";
    fs::create_directories(root_);
    write("empty.txt", "");
    write("one.txt", "x");
    blob_ = std::string(as_chars(test::pattern_bytes(100 * 1024, 7)));
    write("blob.bin", blob_);
    write("five.bin", std::string(as_chars(test::pattern_bytes(5000, 3))));
    ten_ = std::string(as_chars(test::pattern_bytes(10000, 4)));  // chunks [0,4095] [4096,8191] [8192,9999]
    write("ten.bin", ten_);
    set_mtime(root_ / "ten.bin", kMtime);
    write("page.html", "<p>hi</p>\n");
    write("IMAGE.PNG", "\x89PNG");
    write("data.unknownext", "?");
    write("README", "read me");
    write(".env", "SECRET=1\n");
    fs::create_directories(root_ / ".git");
    write(".git/config", "[core]\n");
    fs::create_directories(root_ / "site");
    write("site/index.html", "<h1>site</h1>\n");
    write("site/other.txt", "other");

    fs::create_directories(root_ / "listdir/sub");
    write("listdir/a.txt", "hello world\n");
    set_mtime(root_ / "listdir/a.txt", kMtime);
    write("listdir/.hidden", "h");
    write("listdir/50%", "unreachable: a request cannot name it");
    write("listdir/bad\xff", "unreachable: not UTF-8");
    fs::create_symlink("a.txt", root_ / "listdir/link-in");
    fs::create_symlink("/etc/passwd", root_ / "listdir/link-out");
    fs::create_symlink("missing", root_ / "listdir/link-dangling");
    ASSERT_EQ(::mkfifo((root_ / "listdir/fifo").c_str(), 0600), 0);

    fs::create_symlink("one.txt", root_ / "inside-link");
    fs::create_symlink("site", root_ / "inside-dir-link");
    fs::create_symlink("/etc/passwd", root_ / "passwd");
    fs::create_symlink("/", root_ / "rootlink");
    fs::create_symlink(".env", root_ / "secret-link");
    fs::create_symlink("nowhere", root_ / "dangling");
    fs::create_symlink("loop", root_ / "loop");
    // A sibling whose name has the root's name as a string prefix: www2 is not inside www.
    fs::create_directories(tmp_ / "www2");
    test::write_file(tmp_ / "www2/secret.txt", "sibling secret");
    fs::create_symlink(tmp_ / "www2/secret.txt", root_ / "sibling");
    ASSERT_EQ(::mkfifo((root_ / "pipe").c_str(), 0600), 0);
  }

  void write(const std::string& rel, std::string_view data) { test::write_file(root_ / rel, data); }

  FileService service(std::size_t max_entries = 10000) const { return FileService({root_, max_entries}, GetParam()); }

  Answer get(const FileService& svc, const std::string& target, const net::Headers& h = {}) const {
    return serve(svc, "GET", target, h);
  }

  // GET, which must be a whole 200; its plaintext.
  std::string fetch(const FileService& svc, const std::string& target) const {
    Answer a = get(svc, target);
    EXPECT_EQ(a.status, 200) << target;
    EXPECT_TRUE(a.layout) << target;
    if (!a.layout) return {};
    EXPECT_EQ(a.layout->first_chunk(), 0u);
    EXPECT_EQ(a.layout->last_chunk() + 1, a.layout->chunk_count()) << "all chunks";
    EXPECT_EQ(a.layout->size(), a.size);
    const std::string plain = plaintext_of(a);
    EXPECT_EQ(plain.size(), a.size) << target;
    return plain;
  }

  nlohmann::json listing(const FileService& svc, const std::string& target) const {
    return nlohmann::json::parse(fetch(svc, target));
  }

  // The bytes chunks first..last of `file` hold.
  static std::string chunks_of(const std::string& file, std::uint64_t first, std::uint64_t last) {
    const std::uint64_t end = std::min<std::uint64_t>((last + 1) * kChunk, file.size());
    return file.substr(static_cast<std::size_t>(first * kChunk), static_cast<std::size_t>(end - first * kChunk));
  }

  test::TempDir tmp_;
  fs::path root_;
  std::string blob_, ten_;
};

TEST_P(FileServiceTest, AnAnswerStatesStatusTypeEtagSizeAndLayout) {
  const FileService svc = service();
  const struct {
    const char* target;
    const char* media;
    std::uint64_t size, last_chunk, final_chunk_bytes;
  } cases[] = {
      {"/page.html", "text/html; charset=utf-8", 10, 0, 10},
      {"/one.txt", "text/plain; charset=utf-8", 1, 0, 1},
      {"/empty.txt", "text/plain; charset=utf-8", 0, 0, 0},  // an empty file is one empty chunk
      {"/IMAGE.PNG", "image/png", 4, 0, 4},
      {"/data.unknownext", "application/octet-stream", 1, 0, 1},
      {"/README", "application/octet-stream", 7, 0, 7},
      {"/five.bin", "application/octet-stream", 5000, 1, 904},
      {"/ten.bin", "application/octet-stream", 10000, 2, 1808},
      {"/blob.bin", "application/octet-stream", 100 * 1024, 24, 4096},
  };
  for (const auto& c : cases) {
    Answer a = get(svc, c.target);
    EXPECT_EQ(a.status, 200) << c.target;
    EXPECT_EQ(a.content_type, c.media) << c.target;
    ASSERT_TRUE(a.etag) << c.target;
    EXPECT_TRUE(is_etag_format(*a.etag)) << *a.etag;
    EXPECT_EQ(a.size, c.size) << c.target;
    EXPECT_FALSE(a.content_range);
    EXPECT_FALSE(a.retry_after);
    ASSERT_TRUE(a.layout) << c.target;
    EXPECT_EQ(*a.layout, stream::Layout::whole(c.size, kChunk)) << c.target;
    EXPECT_EQ(a.layout->chunk_size(), kChunk);
    EXPECT_EQ(a.layout->first_chunk(), 0u);
    EXPECT_EQ(a.layout->last_chunk(), c.last_chunk) << c.target;
    EXPECT_EQ(a.layout->plaintext_size(c.last_chunk), c.final_chunk_bytes) << c.target;
    if (c.last_chunk > 0) { EXPECT_EQ(a.layout->plaintext_size(0), kChunk); }
    ASSERT_TRUE(a.source) << "a file is read chunk by chunk, not held in memory";
    EXPECT_TRUE(a.body.empty());
    EXPECT_EQ(plaintext_of(a), test::read_file(root_ / std::string(c.target).substr(1))) << c.target;
  }
  // The session's chunk size sets the layout: one chunk at the default 262144.
  Answer big = serve(svc, "GET", "/blob.bin", {}, stream::kDefaultChunkSize);
  EXPECT_EQ(*big.layout, stream::Layout::whole(100 * 1024, stream::kDefaultChunkSize));
  EXPECT_EQ(big.layout->last_chunk(), 0u);
  EXPECT_EQ(plaintext_of(big), blob_);
}

// The responder turns an answer into the body stream of §6: its exact length, whatever the
// read size, chunks that open in order under K("response body", B, i, i == last).
TEST_P(FileServiceTest, TheBodyStreamHasItsExactLengthForEveryReadSize) {
  const FileService svc = service();
  const Session s;
  const Binding b = binding_of(0x21);
  for (const std::string name : {"empty.txt", "one.txt", "five.bin", "blob.bin"}) {
    const std::string want = test::read_file(root_ / name);
    const std::uint64_t length = stream::Layout::whole(want.size(), kChunk).stream_length();
    for (std::size_t cap : {1u, 2u, 7u, 99u, 100u, 101u, 4096u, 5540u, 5560u, 5561u, 65536u, 1u << 20}) {
      net::Response r = respond(s.request(true, b), get(svc, "/" + name), server_key(), kNow);
      ASSERT_TRUE(r.stream);
      EXPECT_EQ(r.stream->size(), length) << name;
      const Session::Opened o = s.open(r, b, cap);
      ASSERT_EQ(o.stream.size(), length) << name << " cap " << cap;
      char after[1];
      EXPECT_EQ(r.stream->read(after, 1), 0u) << "read after the end keeps returning 0";
      EXPECT_EQ(o.plain, want) << name << " cap " << cap;
    }
  }
}

TEST_P(FileServiceTest, EveryReadSizeAroundATokenEdge) {
  const FileService svc = service();
  const Session s;
  const Binding b = binding_of(0x22);
  for (const std::string name : {"one.txt", "five.bin"}) {
    const std::string want = test::read_file(root_ / name);
    for (std::size_t cap = 1; cap <= 300; ++cap) {
      net::Response r = respond(s.request(false, b), get(svc, "/" + name), server_key(), kNow);
      const Session::Opened o = s.open(r, b, cap);
      ASSERT_EQ(o.plain, want) << name << " cap " << cap;
    }
  }
}

// Every chunk opens under this response's keys only: not under another request's binding, the
// request body's purpose, another session's secret, another index, or the other last flag. No
// token is checked for age (PROTOCOL.md §1): the stamp is the server's clock, nothing more.
TEST_P(FileServiceTest, ChunksOpenOnlyUnderThisResponsesKeys) {
  const FileService svc = service();
  const Session s;
  const Binding b = binding_of(0x23);
  net::Response r = respond(s.request(true, b), get(svc, "/five.bin"), server_key(), kNow);
  const std::string body = drain(*r.stream, 65536);
  const std::uint64_t full = stream::token_length(kChunk);
  ASSERT_EQ(body.size(), full + stream::token_length(904));
  const std::string t0 = body.substr(0, full), t1 = body.substr(full);
  const std::string want = test::read_file(root_ / "five.bin");

  const stream::ChunkKeys keys(s.secret(), KeyPurpose::response_body, b, 1);
  EXPECT_EQ(as_chars(stream::open_chunk(keys, 0, t0, kChunk)), want.substr(0, kChunk));
  EXPECT_EQ(as_chars(stream::open_chunk(keys, 1, t1, 904)), want.substr(kChunk));
  EXPECT_EQ(token_time(t0), kNow) << "stamped with the server's clock";

  const auto refused = [](const stream::ChunkKeys& k, std::uint64_t i, const std::string& t, std::uint64_t n) {
    return test::error_of([&] { stream::open_chunk(k, i, t, n); });
  };
  EXPECT_EQ(refused(stream::ChunkKeys(s.secret(), KeyPurpose::response_body, binding_of(0x24), 1), 0, t0, kChunk),
            kChunkRefused)
      << "another request's binding";
  EXPECT_EQ(refused(stream::ChunkKeys(s.secret(), KeyPurpose::request_body, b, 1), 0, t0, kChunk), kChunkRefused)
      << "the request body's purpose";
  EXPECT_EQ(refused(stream::ChunkKeys(SessionSecret(test::pattern_bytes(32, 12)), KeyPurpose::response_body, b, 1), 0,
                    t0, kChunk),
            kChunkRefused)
      << "another session";
  EXPECT_EQ(refused(keys, 1, t0, kChunk),
            "chunk 1 does not verify (tampered, reordered, duplicated, or from another response)")
      << "another index";
  EXPECT_EQ(refused(stream::ChunkKeys(s.secret(), KeyPurpose::response_body, b, 0), 0, t0, kChunk), kChunkRefused)
      << "marked last although it is not";
  EXPECT_EQ(refused(stream::ChunkKeys(s.secret(), KeyPurpose::response_body, b, 5), 1, t1, 904),
            "chunk 1 does not verify (tampered, reordered, duplicated, or from another response)")
      << "the last chunk opened as a middle one";
}

// Sealed: the outer answer says nothing (200, the stream's type and length); the real status,
// type, size, ETag and chunk layout are in the sealed head. Unsealed: the real status and plain
// copies beside the same sealed head.
TEST_P(FileServiceTest, TheResponderSealsTheAnswersHead) {
  const FileService svc = service();
  const Session s;
  const Binding b = binding_of(0x25);
  const std::string etag = *get(svc, "/ten.bin").etag;
  for (const bool sealed : {true, false}) {
    net::Response r = respond(s.request(sealed, b), get(svc, "/ten.bin"), server_key(), kNow);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(net::find_header(r.headers, "Content-Type"), "application/minihttps-stream");
    EXPECT_EQ(net::find_header(r.headers, "Cache-Control"), "private, no-store");
    EXPECT_EQ(net::find_header(r.headers, "MiniHTTPS-Content-Type"),
              sealed ? std::nullopt : std::optional<std::string_view>("application/octet-stream"));
    EXPECT_EQ(net::find_header(r.headers, "ETag"), sealed ? std::nullopt : std::optional<std::string_view>(etag));
    EXPECT_EQ(r.headers.size(), sealed ? 3u : 5u);
    const Session::Opened o = s.open(r, b);
    EXPECT_EQ(o.head.status, 200);
    EXPECT_EQ(o.head.content_type, "application/octet-stream");
    EXPECT_EQ(o.head.content_length, 10000u);
    EXPECT_EQ(o.head.etag, etag);
    EXPECT_FALSE(o.head.content_range);
    EXPECT_EQ(o.head.chunks, (seal::Chunks{kChunk, 0, 2}));
    EXPECT_EQ(o.plain, ten_);
    // The head is bound to this request: under another binding it does not open.
    net::Response again = respond(s.request(sealed, b), get(svc, "/ten.bin"), server_key(), kNow);
    EXPECT_EQ(test::error_of([&] {
                seal::open_response_head(s.secret(), binding_of(0x26),
                                         *net::find_header(again.headers, "MiniHTTPS-Sealed"));
              }),
              "the response head is not bound to this request");
  }
  // A 206 unsealed carries its real status and Content-Range; sealed, they are in the head.
  for (const bool sealed : {true, false}) {
    net::Response r =
        respond(s.request(sealed, b), get(svc, "/ten.bin", {{"Range", "bytes=4095-4096"}}), server_key(), kNow);
    EXPECT_EQ(r.status, sealed ? 200 : 206);
    EXPECT_EQ(net::find_header(r.headers, "Content-Range"),
              sealed ? std::nullopt : std::optional<std::string_view>("bytes 0-8191/10000"));
    const Session::Opened o = s.open(r, b);
    EXPECT_EQ(o.head.status, 206);
    EXPECT_EQ(o.head.content_range, "bytes 0-8191/10000");
    EXPECT_EQ(o.head.content_length, 8192u) << "the bytes of this response's chunks";
    EXPECT_EQ(o.head.chunks, (seal::Chunks{kChunk, 0, 1}));
    EXPECT_EQ(o.stream.size(), 2 * stream::token_length(kChunk));
    EXPECT_EQ(o.plain, ten_.substr(0, 8192));
  }
  // No body (HEAD, 304, 416): no chunk fields, no stream, an outer length of 0.
  const struct {
    const char* method;
    net::Headers fields;
    int status;
    std::uint64_t content_length;
  } bodiless[] = {{"HEAD", {}, 200, 10000},
                  {"GET", {{"If-None-Match", etag}}, 304, 0},
                  {"GET", {{"Range", "bytes=10000-"}}, 416, 0}};
  for (const auto& c : bodiless) {
    net::Response r = respond(s.request(true, b), serve(svc, c.method, "/ten.bin", c.fields), server_key(), kNow);
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.stream) << c.method << " " << c.status;
    EXPECT_TRUE(r.body.empty());
    const Session::Opened o = s.open(r, b);
    EXPECT_EQ(o.head.status, c.status);
    EXPECT_FALSE(o.head.chunks);
    EXPECT_EQ(o.head.content_length, c.content_length);
    EXPECT_EQ(o.head.content_range, c.status == 416 ? std::optional<std::string>("bytes */10000") : std::nullopt);
    EXPECT_EQ(o.head.etag, etag);
  }
}

TEST_P(FileServiceTest, QueryIsIgnored) { EXPECT_EQ(fetch(service(), "/one.txt?download=1&x=%2e%2e"), "x"); }

TEST_P(FileServiceTest, HeadIsTheAnswerOfAGetWithoutItsBody) {
  const FileService svc = service();
  for (const std::string target : {"/blob.bin", "/empty.txt", "/site/", "/listdir/"}) {
    const Answer g = get(svc, target);
    for (const net::Headers& fields : {net::Headers{}, net::Headers{{"Range", "bytes=0-0"}}}) {
      const Answer h = serve(svc, "HEAD", target, fields);
      EXPECT_EQ(h.status, 200) << target << ": a HEAD ignores Range";
      EXPECT_EQ(h.content_type, g.content_type) << target;
      EXPECT_EQ(h.etag, g.etag) << target;
      EXPECT_EQ(h.size, g.size) << target;
      EXPECT_FALSE(h.layout) << target;
      EXPECT_FALSE(h.source) << target;
      EXPECT_TRUE(h.body.empty()) << target;
      EXPECT_FALSE(h.content_range);
    }
  }
  EXPECT_EQ(serve(svc, "HEAD", "/blob.bin").size, blob_.size());
}

TEST_P(FileServiceTest, EtagIsStableAcrossSessionsAndFollowsTheFile) {
  const FileService svc = service();
  const auto etag = [&](const std::string& target, std::uint32_t chunk_size = kChunk) {
    return *serve(svc, "GET", target, {}, chunk_size).etag;
  };
  write("v.txt", "abc");
  set_mtime(root_ / "v.txt", kMtime);
  const std::string first = etag("/v.txt");
  EXPECT_EQ(etag("/v.txt", stream::kDefaultChunkSize), first) << "the tag names the file, not the session's stream";
  EXPECT_EQ(*serve(svc, "HEAD", "/v.txt").etag, first);
  EXPECT_NE(etag("/one.txt"), first);
  write("v.txt", "xyz");  // same size, new mtime
  set_mtime(root_ / "v.txt", kMtime + 1);
  EXPECT_NE(etag("/v.txt"), first);
  const std::string listing = etag("/listdir/");
  EXPECT_EQ(etag("/listdir/"), listing);
  write("listdir/new.txt", "n");
  EXPECT_NE(etag("/listdir/"), listing);
}

TEST_P(FileServiceTest, IfNoneMatch) {
  const FileService svc = service();
  for (const std::string target : {"/blob.bin", "/listdir/", "/site/"}) {
    const std::string etag = *get(svc, target).etag;
    for (const std::string& inm : {etag, "W/" + etag, std::string("*"), "\"0123456789abcdef\", " + etag,
                                   "\"0123456789abcdef\",W/" + etag + " ,\"x\"", " " + etag + " "}) {
      for (const char* method : {"GET", "HEAD"}) {
        for (const char* name : {"if-none-match", "If-None-Match"}) {
          const Answer a = serve(svc, method, target, {{name, inm}});
          EXPECT_EQ(a.status, 304) << target << " " << method << " If-None-Match: " << inm;
          EXPECT_FALSE(a.layout);
          EXPECT_FALSE(a.source);
          EXPECT_TRUE(a.body.empty());
          EXPECT_EQ(a.etag, etag);
          EXPECT_EQ(a.size, 0u);
          EXPECT_FALSE(a.content_type);
        }
      }
    }
    const std::string stripped = etag.substr(1, etag.size() - 2);
    for (const std::string& inm : {std::string("\"0123456789abcdef\""), std::string("W/\"0123456789abcdef\""), stripped,
                                   "\"" + stripped, std::string(""), std::string("garbage, ") + etag}) {
      const Answer a = serve(svc, "GET", target, {{"If-None-Match", inm}});
      EXPECT_EQ(a.status, 200) << target << " If-None-Match: " << inm;
      EXPECT_TRUE(a.layout);
    }
  }
}

// ---- Range (PROTOCOL.md §7.1): the whole chunks that cover the span asked for --------------------

// ten.bin holds 10000 bytes: chunk 0 is bytes 0-4095, chunk 1 4096-8191, chunk 2 8192-9999.
TEST_P(FileServiceTest, RangeIsServedAsTheWholeChunksThatCoverIt) {
  const FileService svc = service();
  const struct {
    const char* range;
    std::uint64_t first, last;  // chunks
  } cases[] = {
      {"bytes=0-0", 0, 0},        // the first byte
      {"bytes=0-4095", 0, 0},     // exactly chunk 0
      {"bytes=4095-4095", 0, 0},  // the last byte of chunk 0
      {"bytes=4095-4096", 0, 1},  // across the edge of chunks 0 and 1
      {"bytes=4096-4096", 1, 1},  // the first byte of chunk 1
      {"bytes=4096-8191", 1, 1},  // exactly chunk 1
      {"bytes=8191-8192", 1, 2},  // across the edge of chunks 1 and 2
      {"bytes=8192-9999", 2, 2},  // exactly the final chunk
      {"bytes=9999-9999", 2, 2},  // the last byte
      {"bytes=9999-", 2, 2},
      {"bytes=-1", 2, 2},      // the last byte, as a suffix
      {"bytes=-1808", 2, 2},   // the final chunk, as a suffix
      {"bytes=-1809", 1, 2},   // one byte more
      {"bytes=-10000", 0, 2},  // all of it
      {"bytes=-20000", 0, 2},  // more than all of it
      {"bytes=0-", 0, 2},
      {"bytes=9000-20000", 2, 2},     // the last byte capped at the size
      {"bytes=0-0,9999-9999", 0, 2},  // one span from the smallest first to the largest last byte
      {"bytes=100-200,5000-5001", 0, 1},
      {"bytes=20000-,4096-4097", 1, 1},  // an unsatisfiable spec is dropped
      {"BYTES=4096-4097", 1, 1},         // the unit is case-insensitive
      {"bytes=0-1,", 0, 0},              // an empty list element is ignored
  };
  for (const auto& c : cases) {
    for (const char* name : {"range", "Range"}) {
      Answer a = get(svc, "/ten.bin", {{name, c.range}});
      EXPECT_EQ(a.status, 206) << c.range;
      ASSERT_TRUE(a.layout) << c.range;
      EXPECT_EQ(*a.layout, stream::Layout::chunks(10000, kChunk, c.first, c.last)) << c.range;
      EXPECT_EQ(a.size, 10000u);
      EXPECT_EQ(a.content_type, "application/octet-stream");
      EXPECT_EQ(a.etag, get(svc, "/ten.bin").etag);
      EXPECT_FALSE(a.content_range) << "the responder states it from the layout";
      EXPECT_EQ(plaintext_of(a), chunks_of(ten_, c.first, c.last)) << c.range;
    }
  }
  // A file that fits one chunk: any satisfiable range is that chunk.
  Answer one = get(svc, "/five.bin", {{"range", "bytes=4999-"}});
  EXPECT_EQ(one.status, 206);
  EXPECT_EQ(*one.layout, stream::Layout::chunks(5000, kChunk, 1, 1));
  EXPECT_EQ(plaintext_of(one), test::read_file(root_ / "five.bin").substr(4096));
}

TEST_P(FileServiceTest, RangePastTheEndIs416WithTheSize) {
  const FileService svc = service();
  for (const char* range : {"bytes=10000-", "bytes=10000-10000", "bytes=10000-20000", "bytes=-0",
                            "bytes=20000-30000,10000-", "bytes=-0,10001-"}) {
    const Answer a = get(svc, "/ten.bin", {{"range", range}});
    EXPECT_EQ(a.status, 416) << range;
    EXPECT_EQ(a.content_range, "bytes */10000") << range;
    EXPECT_EQ(a.size, 0u);
    EXPECT_FALSE(a.layout) << range;
    EXPECT_FALSE(a.source);
    EXPECT_EQ(a.etag, get(svc, "/ten.bin").etag);
  }
  // Any range of an empty file.
  for (const char* range : {"bytes=0-", "bytes=0-0", "bytes=-1"}) {
    const Answer a = get(svc, "/empty.txt", {{"range", range}});
    EXPECT_EQ(a.status, 416) << range;
    EXPECT_EQ(a.content_range, "bytes */0") << range;
    EXPECT_FALSE(a.layout);
  }
}

TEST_P(FileServiceTest, AnInvalidRangeIsIgnored) {
  const FileService svc = service();
  std::string seventeen = "bytes=0-0";
  for (int i = 1; i < 17; ++i) seventeen += "," + std::to_string(i) + "-" + std::to_string(i);
  for (const std::string range : {"bytes=5-1", "items=0-1", "bytes=a-b", "bytes=", "bytes=0-1,x", "bytes 0-1",
                                  "bytes=18446744073709551616-", "bytes=--1", seventeen.c_str()}) {
    Answer a = get(svc, "/ten.bin", {{"range", range}});
    EXPECT_EQ(a.status, 200) << range;
    EXPECT_EQ(*a.layout, stream::Layout::whole(10000, kChunk)) << range;
    EXPECT_EQ(plaintext_of(a), ten_);
  }
  // Sixteen specs are still a range.
  const std::string sixteen = seventeen.substr(0, seventeen.rfind(','));
  EXPECT_EQ(get(svc, "/ten.bin", {{"range", sixteen}}).status, 206);
  // Ranges apply to files only: a listing is whole.
  Answer l = get(svc, "/listdir/", {{"range", "bytes=0-0"}});
  EXPECT_EQ(l.status, 200);
  Answer whole = get(svc, "/listdir/");
  EXPECT_EQ(plaintext_of(l), plaintext_of(whole));
}

TEST_P(FileServiceTest, IfRangeServesTheRangeOnlyForAStrongMatch) {
  const FileService svc = service();
  const std::string etag = *get(svc, "/ten.bin").etag;
  Answer hit = get(svc, "/ten.bin", {{"range", "bytes=8192-"}, {"if-range", etag}});
  EXPECT_EQ(hit.status, 206);
  EXPECT_EQ(*hit.layout, stream::Layout::chunks(10000, kChunk, 2, 2));
  EXPECT_EQ(plaintext_of(hit), ten_.substr(8192));
  for (const std::string& other : {"W/" + etag, std::string("\"0123456789abcdefghijkl\""),
                                   std::string("Tue, 15 Nov 1994 08:12:31 GMT"), std::string("*"), std::string("")}) {
    Answer a = get(svc, "/ten.bin", {{"range", "bytes=8192-"}, {"if-range", other}});
    EXPECT_EQ(a.status, 200) << "If-Range: " << other;
    EXPECT_EQ(*a.layout, stream::Layout::whole(10000, kChunk));
    EXPECT_EQ(plaintext_of(a), ten_);
  }
  // Without a range there is nothing to condition; and If-None-Match wins over both.
  EXPECT_EQ(get(svc, "/ten.bin", {{"if-range", etag}}).status, 200);
  EXPECT_EQ(get(svc, "/ten.bin", {{"range", "bytes=0-0"}, {"if-range", etag}, {"if-none-match", etag}}).status, 304);
  EXPECT_EQ(get(svc, "/ten.bin", {{"range", "bytes=0-0"}, {"if-none-match", "\"other\""}}).status, 206);
  // The file changed since the client's ETag: the whole new version.
  write("ten.bin", std::string(10000, 'n'));
  set_mtime(root_ / "ten.bin", kMtime + 5);
  Answer changed = get(svc, "/ten.bin", {{"range", "bytes=8192-"}, {"if-range", etag}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.etag, etag);
  EXPECT_EQ(plaintext_of(changed), std::string(10000, 'n'));
}

TEST_P(FileServiceTest, DirectoryWithIndexServesIt) {
  const FileService svc = service();
  for (const std::string target : {"/site/", "/site", "//site//", "/inside-dir-link/"}) {
    EXPECT_EQ(fetch(svc, target), "<h1>site</h1>\n") << target;
    EXPECT_EQ(get(svc, target).content_type, "text/html; charset=utf-8");
  }
  EXPECT_EQ(fetch(svc, "/site/other.txt"), "other");
}

TEST_P(FileServiceTest, ListingIsExactJson) {
  const FileService svc = service();
  Answer a = get(svc, "/listdir/");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, "application/json");
  EXPECT_FALSE(a.source) << "a listing is made in memory";
  EXPECT_EQ(a.size, a.body.size());
  EXPECT_EQ(*a.layout, stream::Layout::whole(a.body.size(), kChunk));
  const std::string text = plaintext_of(a);
  const std::string want = R"({"path":"/listdir/","entries":[)"
                           R"({"name":"a.txt","type":"file","size":12,"mtime":1700000000},)"
                           R"({"name":"link-in","type":"file","size":12,"mtime":1700000000},)"
                           R"({"name":"sub","type":"dir"}]})";
  EXPECT_EQ(text, want);
  EXPECT_EQ(nlohmann::json::parse(text), nlohmann::json::parse(want));
  EXPECT_EQ(listing(svc, "/listdir"), nlohmann::json::parse(want)) << "no trailing slash: same listing";
  EXPECT_EQ(listing(svc, "/listdir/sub/"), nlohmann::json::parse(R"({"path":"/listdir/sub/","entries":[]})"));
}

TEST_P(FileServiceTest, ListingIsTruncatedToTheFirstNamesInOrder) {
  for (int i = 9; i >= 0; --i) write("listdir/sub/f" + std::to_string(i), "");
  const nlohmann::json j = listing(service(3), "/listdir/sub/");
  ASSERT_EQ(j["entries"].size(), 3u);
  EXPECT_EQ(j["entries"][0]["name"], "f0");
  EXPECT_EQ(j["entries"][1]["name"], "f1");
  EXPECT_EQ(j["entries"][2]["name"], "f2");
  EXPECT_EQ(j["truncated"], true);
  EXPECT_FALSE(listing(service(10), "/listdir/sub/").contains("truncated"));
  EXPECT_EQ(listing(service(0), "/listdir/sub/")["entries"].size(), 0u);
}

TEST_P(FileServiceTest, RootListingShowsOnlyWhatCanBeServed) {
  const nlohmann::json j = listing(service(), "/");
  EXPECT_EQ(j["path"], "/");
  std::set<std::string> names;
  for (const auto& e : j["entries"]) names.insert(e["name"].get<std::string>());
  const std::set<std::string> want = {
      "IMAGE.PNG",   "README",  "blob.bin", "data.unknownext", "empty.txt", "five.bin", "inside-dir-link",
      "inside-link", "listdir", "one.txt",  "page.html",       "site",      "ten.bin"};
  EXPECT_EQ(names, want);
  EXPECT_EQ(j.dump().find("root:"), std::string::npos);
}

TEST_P(FileServiceTest, SymlinkInsideTheRootIsServed) {
  const FileService svc = service();
  EXPECT_EQ(fetch(svc, "/inside-link"), "x");
  EXPECT_EQ(svc.resolve(parse_request_path("/inside-link")), fs::canonical(root_ / "one.txt"));
  EXPECT_EQ(svc.resolve(parse_request_path("/")), fs::canonical(root_));
  EXPECT_EQ(svc.resolve(parse_request_path("/site/")), fs::canonical(root_ / "site"));
  EXPECT_EQ(svc.root(), fs::canonical(root_));
}

TEST_P(FileServiceTest, EveryEscapeIsRefused) {
  const FileService svc = service();
  const char* outside = "file: outside the root";
  expect_refused(svc, "/passwd", Errc::forbidden, outside);
  expect_refused(svc, "/rootlink/etc/passwd", Errc::forbidden, outside);
  expect_refused(svc, "/rootlink/", Errc::forbidden, outside);
  expect_refused(svc, "/rootlink", Errc::forbidden, outside);
  expect_refused(svc, "/listdir/link-out", Errc::forbidden, outside);
  expect_refused(svc, "/sibling", Errc::forbidden, outside);
  expect_refused(svc, "/secret-link", Errc::forbidden, "file: hidden name behind a symlink");
  expect_refused(svc, "/../etc/passwd", Errc::forbidden, "path: dot segment");
  expect_refused(svc, "/%2e%2e/%2e%2e/etc/passwd", Errc::forbidden, "path: dot segment");
  expect_refused(svc, "/site/..%2f..%2fetc/passwd", Errc::forbidden, "path: encoded slash");
  expect_refused(svc, "/%252e%252e/etc/passwd", Errc::forbidden, "path: double encoding");
  expect_refused(svc, "/..%5c..%5cetc", Errc::forbidden, "path: backslash");
  expect_refused(svc, "/one.txt%00.html", Errc::forbidden, "path: NUL byte");
  expect_refused(svc, "/%c0%ae%c0%ae/etc/passwd", Errc::bad_request, "path: invalid UTF-8");
  expect_refused(svc, "/.env", Errc::forbidden, "path: hidden name");
  expect_refused(svc, "/.git/config", Errc::forbidden, "path: hidden name");
  expect_refused(svc, "/listdir/.hidden", Errc::forbidden, "path: hidden name");
  expect_refused(svc, "/loop", Errc::forbidden, "file: symlink loop or symlink swapped in");
  // resolve() is a wall of its own: a hand-built path is checked again.
  expect_resolve_refused(svc, {"..", "etc", "passwd"}, "path: dot segment");
  expect_resolve_refused(svc, {"/etc/passwd"}, "path: encoded slash");
  expect_resolve_refused(svc, {".env"}, "path: hidden name");
  expect_resolve_refused(svc, {"rootlink", "etc", "passwd"}, outside);
  expect_resolve_refused(svc, {"listdir", "link-out"}, outside);
}

// Outside the root there is one answer, whether or not the target exists: a refusal that told
// the two apart would let clients probe the server's filesystem through an operator's symlink.
TEST_P(FileServiceTest, OutsideTheRootIsOneAnswerWhetherOrNotTheTargetExists) {
  fs::create_symlink("../www2/secret.txt", root_ / "up-exists");
  fs::create_symlink("../www2/no-such-file", root_ / "up-missing");
  fs::create_symlink("../../../../../../../../no/such/dir/x", root_ / "up-far");
  fs::create_symlink("/no/such/file", root_ / "abs-missing");
  fs::create_symlink("../www/one.txt", root_ / "up-and-back");  // ".." may not climb above the root, even to come back
  const FileService svc = service();
  for (const char* target : {"/up-exists", "/up-missing", "/up-far", "/abs-missing", "/passwd", "/rootlink/etc/passwd",
                             "/rootlink/no/such/file", "/rootlink/etc/", "/up-and-back"}) {
    expect_refused(svc, target, Errc::forbidden, "file: outside the root");
    expect_refused(svc, target, Errc::forbidden, "file: outside the root", "HEAD");
  }
  const nlohmann::json j = listing(svc, "/?list");
  for (const auto& e : j["entries"]) EXPECT_FALSE(e["name"].get<std::string>().starts_with("up-")) << e;
}

// An absolute link is followed when it names the root's own canonical path or something below it.
TEST_P(FileServiceTest, AbsoluteSymlinkIntoTheRootIsServed) {
  const fs::path canon = fs::canonical(root_);
  fs::create_symlink(canon / "one.txt", root_ / "abs-file");
  fs::create_symlink(canon / "site", root_ / "abs-dir");
  fs::create_symlink(canon, root_ / "abs-root");
  fs::create_symlink(canon / ".env", root_ / "abs-hidden");
  const FileService svc = service();
  EXPECT_EQ(fetch(svc, "/abs-file"), "x");
  EXPECT_EQ(fetch(svc, "/abs-dir/other.txt"), "other");
  EXPECT_EQ(fetch(svc, "/abs-root/abs-root/one.txt"), "x");
  EXPECT_EQ(fetch(svc, "/abs-dir/"), "<h1>site</h1>\n");
  expect_refused(svc, "/abs-hidden", Errc::forbidden, "file: hidden name behind a symlink");
  EXPECT_EQ(svc.resolve(parse_request_path("/abs-dir/other.txt")), canon / "site/other.txt");
}

TEST_P(FileServiceTest, MissingIsNotFound) {
  const FileService svc = service();
  for (const char* target :
       {"/nope.txt", "/nope/", "/one.txt/", "/one.txt/x", "/nodir/x", "/dangling", "/listdir/link-dangling"})
    expect_refused(svc, target, Errc::not_found, "file: not found");
}

TEST_P(FileServiceTest, SpecialFilesAreForbidden) {
  const FileService svc = service();
  expect_refused(svc, "/pipe", Errc::forbidden, "file: not a regular file or directory");
  expect_refused(svc, "/listdir/fifo", Errc::forbidden, "file: not a regular file or directory");
  expect_refused(svc, "/pipe", Errc::forbidden, "file: not a regular file or directory", "HEAD");
}

TEST_P(FileServiceTest, OnlyGetAndHead) {
  const FileService svc = service();
  for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "get", "TRACE"})
    expect_refused(svc, "/one.txt", Errc::method_not_allowed, "file service: use GET or HEAD", m);
}

TEST_P(FileServiceTest, AFileShrinkingWhileServedStopsTheBody) {
  write("shrink.bin", std::string(as_chars(test::pattern_bytes(200 * 1024, 9))));
  Answer a = get(service(), "/shrink.bin");
  ASSERT_TRUE(a.source);
  Bytes chunk(kChunk);
  a.source->read(0, chunk);
  fs::resize_file(root_ / "shrink.bin", 10);
  Errc code{};
  EXPECT_EQ(test::error_of([&] { a.source->read(kChunk, chunk); }, &code), "file: shrank while being served");
  EXPECT_EQ(code, Errc::io);
}

// PROTOCOL.md §7.3: before the last chunk of a response the open file is checked again; if it was
// written, resized or touched since the answer was made, the last chunk is withheld, so a client
// never joins two versions. The chunks before it are the bytes the file holds when they are read.
TEST_P(FileServiceTest, AFileChangedBeforeItsLastChunkIsWithheld) {
  const FileService svc = service();
  const struct {
    const char* what;
    std::function<void(const fs::path&)> change;
  } changes[] = {
      {"written in place, same size",
       [](const fs::path& p) {
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(9000);
         f.put('!');
       }},
      {"grown",
       [](const fs::path& p) { std::ofstream(p, std::ios::app | std::ios::binary) << std::string(5000, 'g'); }},
      {"touched", [](const fs::path& p) { set_mtime(p, kMtime + 1); }},
  };
  for (const auto& c : changes) {
    write("v.bin", ten_);
    set_mtime(root_ / "v.bin", kMtime);
    Answer a = get(svc, "/v.bin");
    ASSERT_TRUE(a.source);
    Bytes chunk(kChunk);
    a.source->read(0, chunk);
    EXPECT_NO_THROW(a.source->check_unchanged()) << c.what;
    c.change(root_ / "v.bin");
    a.source->read(kChunk, chunk);  // reading goes on: only the last chunk waits for the check
    EXPECT_EQ(as_chars(chunk), ten_.substr(4096, 4096)) << c.what;
    Errc code{};
    EXPECT_EQ(test::error_of([&] { a.source->check_unchanged(); }, &code), kChanged) << c.what;
    EXPECT_EQ(code, Errc::io);
  }
  // Unchanged, the check passes whenever it runs.
  Answer same = get(svc, "/ten.bin");
  EXPECT_EQ(plaintext_of(same), ten_);
  EXPECT_NO_THROW(same.source->check_unchanged());

  // Through the responder: the tokens before the last one go out, then the stream stops.
  const Session s;
  const Binding b = binding_of(0x31);
  write("v.bin", ten_);
  set_mtime(root_ / "v.bin", kMtime);
  net::Response r = respond(s.request(true, b), get(svc, "/v.bin"), server_key(), kNow);
  const std::size_t full = stream::token_length(kChunk);
  std::string sent(full, '\0');
  ASSERT_EQ(r.stream->read(sent.data(), full), full);
  set_mtime(root_ / "v.bin", kMtime + 2);
  std::string second(full, '\0');
  ASSERT_EQ(r.stream->read(second.data(), full), full) << "chunk 1 is not the last: it goes out";
  sent += second;
  char more[64];
  Errc code{};
  EXPECT_EQ(test::error_of([&] { r.stream->read(more, sizeof more); }, &code), kChanged);
  EXPECT_EQ(code, Errc::io);
  // What was sent opens as chunks 0 and 1, and the stream is incomplete.
  std::string plain;
  stream::StreamReader reader(s.secret(), KeyPurpose::response_body, b, stream::Layout::whole(10000, kChunk),
                              [&](std::uint64_t, ByteView p) { plain.append(as_chars(p)); });
  reader.update(sent);
  EXPECT_EQ(plain, ten_.substr(0, 8192));
  EXPECT_EQ(test::error_of([&] { reader.finish(); }),
            "the stream ended after chunk 1, before its last chunk: the output is incomplete");
}

TEST_P(FileServiceTest, RootMustBeAnExistingDirectory) {
  try {
    FileService bad({tmp_ / "absent", 10});
    ADD_FAILURE();
  } catch (const Error& e) { EXPECT_EQ(e.code(), Errc::io); }
  try {
    FileService bad({root_ / "one.txt", 10});
    ADD_FAILURE();
  } catch (const Error& e) { EXPECT_EQ(e.code(), Errc::io); }
  fs::create_symlink(root_, tmp_ / "www-link");
  const FileService via_link({tmp_ / "www-link", 10}, GetParam());
  EXPECT_EQ(via_link.root(), fs::canonical(root_));
  EXPECT_EQ(fetch(via_link, "/one.txt"), "x");
}

INSTANTIATE_TEST_SUITE_P(Resolution, FileServiceTest,
                         ::testing::Values(io::Resolution::fast_path_first, io::Resolution::walk_only),
                         [](const auto& info) { return info.param == io::Resolution::walk_only ? "walk" : "openat2"; });

TEST(MediaTypes, Table) {
  EXPECT_EQ(media_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(media_type_for("a.HTM"), "text/html; charset=utf-8");
  EXPECT_EQ(media_type_for("notes.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(media_type_for("s.css"), "text/css; charset=utf-8");
  EXPECT_EQ(media_type_for("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(media_type_for("d.json"), "application/json");
  EXPECT_EQ(media_type_for("p.png"), "image/png");
  EXPECT_EQ(media_type_for("p.jpg"), "image/jpeg");
  EXPECT_EQ(media_type_for("p.JPEG"), "image/jpeg");
  EXPECT_EQ(media_type_for("p.gif"), "image/gif");
  EXPECT_EQ(media_type_for("p.svg"), "image/svg+xml");
  EXPECT_EQ(media_type_for("p.webp"), "image/webp");
  EXPECT_EQ(media_type_for("favicon.ico"), "image/vnd.microsoft.icon");
  EXPECT_EQ(media_type_for("doc.pdf"), "application/pdf");
  EXPECT_EQ(media_type_for("m.wasm"), "application/wasm");
  EXPECT_EQ(media_type_for("feed.xml"), "application/xml");
  EXPECT_EQ(media_type_for("a.zip"), "application/zip");
  EXPECT_EQ(media_type_for("a.tar.gz"), "application/gzip");
  EXPECT_EQ(media_type_for("a.tar"), "application/x-tar");
  EXPECT_EQ(media_type_for("v.mp4"), "video/mp4");
  EXPECT_EQ(media_type_for("s.mp3"), "audio/mpeg");
  EXPECT_EQ(media_type_for("f.woff2"), "font/woff2");
  EXPECT_EQ(media_type_for("t.csv"), "text/csv; charset=utf-8");
  EXPECT_EQ(media_type_for("README.md"), "text/markdown; charset=utf-8");
  EXPECT_EQ(media_type_for("docs/a.txt"), "text/plain; charset=utf-8");
  for (const char* name : {"README", "a.unknown", "a.", ".txt", "", "a.html.bak", "a.htmlx", "dir.txt/file", "a.PNGG"})
    EXPECT_EQ(media_type_for(name), "application/octet-stream") << name;
}

}  // namespace
}  // namespace mh::web
