// FileService: Fernet-token bodies of exact length for every read size, headers, HEAD, ETags and
// If-None-Match, index.html and JSON listings, and every way out of the root refused.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/fernet.hpp"
#include "support/test_support.hpp"
#include "web/file_service.hpp"
#include "web/media_types.hpp"

namespace mh::web {
namespace {
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kMtime = 1'700'000'000;

void set_mtime(const fs::path& p, std::int64_t seconds) {
  const timespec ts[2] = {{static_cast<time_t>(seconds), 0}, {static_cast<time_t>(seconds), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
}

net::Request request(std::string method, std::string target, net::Headers headers = {}) {
  net::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = std::move(headers);
  return r;
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
  const FernetKey key = FernetKey::generate();
  try {
    net::Response r = svc.serve(request(method, target), key, kNow);
    ADD_FAILURE() << target << " answered " << r.status;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << target << ": " << e.what();
    EXPECT_EQ(std::string(e.what()), reason) << target;
    EXPECT_EQ(std::string(e.what()).find("root:"), std::string::npos) << "a byte of /etc/passwd leaked";
  }
}

// "\"<16 lower-case hex digits>\"".
bool is_etag_format(std::string_view e) {
  if (e.size() != 18 || e.front() != '"' || e.back() != '"') return false;
  return e.substr(1, 16).find_first_not_of("0123456789abcdef") == std::string_view::npos;
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

  net::Response get(const FileService& svc, const std::string& target, net::Headers h = {}) const {
    return svc.serve(request("GET", target, std::move(h)), key_, kNow);
  }

  // GET and decrypt, checking the token is exactly as long as promised.
  std::string fetch(const FileService& svc, const std::string& target, std::size_t cap = 65536) const {
    net::Response r = get(svc, target);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.stream);
    if (!r.stream) return {};
    const std::string token = drain(*r.stream, cap);
    EXPECT_EQ(token.size(), r.stream->size()) << target;
    const Bytes plain = fernet_decrypt(key_, token, kNow, 60);
    return std::string(as_chars(plain));
  }

  nlohmann::json listing(const FileService& svc, const std::string& target) const {
    return nlohmann::json::parse(fetch(svc, target));
  }

  test::TempDir tmp_;
  fs::path root_;
  std::string blob_;
  FernetKey key_ = FernetKey::generate();
};

TEST_P(FileServiceTest, BodyIsAnExactLengthTokenForEveryReadSize) {
  const FileService svc = service();
  for (const std::string name : {"empty.txt", "one.txt", "five.bin", "blob.bin"}) {
    const std::string want = test::read_file(root_ / name);
    for (std::size_t cap : {1u, 2u, 7u, 59u, 60u, 63u, 64u, 100u, 103u, 104u, 4096u, 4139u, 65536u, 1u << 20}) {
      net::Response r = get(svc, "/" + name);
      ASSERT_TRUE(r.stream);
      EXPECT_EQ(r.stream->size(), fernet_token_length(want.size()));
      const std::string token = drain(*r.stream, cap);
      ASSERT_EQ(token.size(), r.stream->size()) << name << " cap " << cap;
      char after[1];
      EXPECT_EQ(r.stream->read(after, 1), 0u) << "read after the end keeps returning 0";
      EXPECT_EQ(as_chars(fernet_decrypt(key_, token, kNow, 60)), want) << name << " cap " << cap;
    }
  }
}

TEST_P(FileServiceTest, EveryReadSizeAroundTheDirectThreshold) {
  const FileService svc = service();
  for (const std::string name : {"one.txt", "five.bin"}) {
    const std::string want = test::read_file(root_ / name);
    for (std::size_t cap = 1; cap <= 300; ++cap) {
      net::Response r = get(svc, "/" + name);
      const std::string token = drain(*r.stream, cap);
      ASSERT_EQ(token.size(), fernet_token_length(want.size())) << name << " cap " << cap;
      ASSERT_EQ(as_chars(fernet_decrypt(key_, token, kNow, 60)), want) << name << " cap " << cap;
    }
  }
}

TEST_P(FileServiceTest, TokenCarriesTheGivenTime) {
  const FileService svc = service();
  net::Response r = get(svc, "/one.txt");
  const std::string token = drain(*r.stream, 65536);
  EXPECT_NO_THROW(fernet_decrypt(key_, token, kNow + 60, 60));
  EXPECT_THROW(fernet_decrypt(key_, token, kNow + 61, 60), FernetError);
  EXPECT_THROW(fernet_decrypt(FernetKey::generate(), token, kNow, 60), FernetError) << "another session's key";
}

TEST_P(FileServiceTest, ResponseHeaders) {
  const FileService svc = service();
  const std::pair<std::string, std::string> cases[] = {
      {"/page.html", "text/html; charset=utf-8"},
      {"/one.txt", "text/plain; charset=utf-8"},
      {"/IMAGE.PNG", "image/png"},
      {"/data.unknownext", "application/octet-stream"},
      {"/README", "application/octet-stream"},
      {"/blob.bin", "application/octet-stream"},
  };
  for (const auto& [target, media] : cases) {
    net::Response r = get(svc, target);
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.head_only);
    EXPECT_TRUE(r.body.empty());
    ASSERT_EQ(r.headers.size(), 4u) << target;
    EXPECT_EQ(net::find_header(r.headers, "Content-Type"), "application/fernet");
    EXPECT_EQ(net::find_header(r.headers, "MiniHTTPS-Content-Type"), media) << target;
    EXPECT_EQ(net::find_header(r.headers, "Cache-Control"), "private, no-store");
    const auto etag = net::find_header(r.headers, "ETag");
    ASSERT_TRUE(etag);
    EXPECT_TRUE(is_etag_format(*etag)) << *etag;
  }
}

TEST_P(FileServiceTest, QueryIsIgnored) {
  EXPECT_EQ(fetch(service(), "/one.txt?download=1&x=%2e%2e"), "x");
}

TEST_P(FileServiceTest, HeadHasTheSameHeadersAndAPromisedLength) {
  const FileService svc = service();
  for (const std::string target : {"/blob.bin", "/empty.txt", "/site/", "/listdir/"}) {
    net::Response g = get(svc, target);
    net::Response h = svc.serve(request("HEAD", target), key_, kNow);
    EXPECT_EQ(h.status, 200);
    EXPECT_TRUE(h.head_only);
    ASSERT_TRUE(h.stream);
    EXPECT_EQ(h.stream->size(), g.stream->size()) << target;
    ASSERT_EQ(h.headers.size(), g.headers.size());
    for (std::size_t i = 0; i < g.headers.size(); ++i) {
      EXPECT_EQ(h.headers[i].name, g.headers[i].name);
      EXPECT_EQ(h.headers[i].value, g.headers[i].value) << target << " " << g.headers[i].name;
    }
  }
  net::Response h = svc.serve(request("HEAD", "/blob.bin"), key_, kNow);
  EXPECT_EQ(h.stream->size(), fernet_token_length(blob_.size()));
}

TEST_P(FileServiceTest, EtagIsStableAcrossSessionsAndFollowsTheFile) {
  const FileService svc = service();
  const auto etag_of = [&](const std::string& target, const FernetKey& k) {
    net::Response r = svc.serve(request("GET", target), k, kNow);
    return std::string(*net::find_header(r.headers, "ETag"));
  };
  write("v.txt", "abc");
  set_mtime(root_ / "v.txt", kMtime);
  const std::string first = etag_of("/v.txt", key_);
  EXPECT_EQ(etag_of("/v.txt", FernetKey::generate()), first) << "the tag names the plaintext, not the token";
  EXPECT_NE(etag_of("/one.txt", key_), first);
  write("v.txt", "xyz");  // same size, new mtime
  set_mtime(root_ / "v.txt", kMtime + 1);
  EXPECT_NE(etag_of("/v.txt", key_), first);
  const std::string listing = etag_of("/listdir/", key_);
  EXPECT_EQ(etag_of("/listdir/", key_), listing);
  write("listdir/new.txt", "n");
  EXPECT_NE(etag_of("/listdir/", key_), listing);
}

TEST_P(FileServiceTest, IfNoneMatch) {
  const FileService svc = service();
  for (const std::string target : {"/blob.bin", "/listdir/", "/site/"}) {
    const std::string etag(*net::find_header(get(svc, target).headers, "ETag"));
    for (const std::string& inm : {etag, "W/" + etag, std::string("*"), "\"0123456789abcdef\", " + etag,
                                  "\"0123456789abcdef\",W/" + etag + " ,\"x\"", " " + etag + " "}) {
      for (const char* method : {"GET", "HEAD"}) {
        net::Response r = svc.serve(request(method, target, {{"If-None-Match", inm}}), key_, kNow);
        EXPECT_EQ(r.status, 304) << target << " " << method << " If-None-Match: " << inm;
        EXPECT_FALSE(r.stream);
        EXPECT_TRUE(r.body.empty());
        EXPECT_EQ(net::find_header(r.headers, "ETag"), etag);
        EXPECT_EQ(net::find_header(r.headers, "Cache-Control"), "private, no-store");
        EXPECT_FALSE(net::find_header(r.headers, "Content-Type"));
      }
    }
    const std::string stripped = etag.substr(1, etag.size() - 2);
    for (const std::string& inm : {std::string("\"0123456789abcdef\""), std::string("W/\"0123456789abcdef\""),
                                  stripped, "\"" + stripped, std::string(""), std::string("garbage, ") + etag}) {
      net::Response r = svc.serve(request("GET", target, {{"If-None-Match", inm}}), key_, kNow);
      EXPECT_EQ(r.status, 200) << target << " If-None-Match: " << inm;
      EXPECT_TRUE(r.stream);
    }
  }
}

TEST_P(FileServiceTest, DirectoryWithIndexServesIt) {
  const FileService svc = service();
  for (const std::string target : {"/site/", "/site", "//site//", "/inside-dir-link/"}) {
    EXPECT_EQ(fetch(svc, target), "<h1>site</h1>\n") << target;
    EXPECT_EQ(net::find_header(get(svc, target).headers, "MiniHTTPS-Content-Type"), "text/html; charset=utf-8");
  }
  EXPECT_EQ(fetch(svc, "/site/other.txt"), "other");
}

TEST_P(FileServiceTest, ListingIsExactJson) {
  const FileService svc = service();
  net::Response r = get(svc, "/listdir/");
  EXPECT_EQ(net::find_header(r.headers, "MiniHTTPS-Content-Type"), "application/json");
  const std::string text(as_chars(fernet_decrypt(key_, drain(*r.stream, 4096), kNow, 60)));
  const std::string want =
      R"({"path":"/listdir/","entries":[)"
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
  const std::set<std::string> want = {"IMAGE.PNG", "README",     "blob.bin",    "data.unknownext", "empty.txt",
                                      "five.bin",  "inside-dir-link", "inside-link", "listdir",     "one.txt",
                                      "page.html", "site"};
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
  for (const char* target : {"/nope.txt", "/nope/", "/one.txt/", "/one.txt/x", "/nodir/x", "/dangling", "/listdir/link-dangling"})
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

TEST_P(FileServiceTest, FileShrinkingWhileStreamingAbortsTheBody) {
  write("shrink.bin", std::string(as_chars(test::pattern_bytes(200 * 1024, 9))));
  net::Response r = get(service(), "/shrink.bin");
  std::string buf(65536, '\0');
  ASSERT_GT(r.stream->read(buf.data(), buf.size()), 0u);
  fs::resize_file(root_ / "shrink.bin", 10);
  try {
    for (int i = 0; i < 10; ++i) r.stream->read(buf.data(), buf.size());
    ADD_FAILURE() << "a shrunken file was served to the end";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
    EXPECT_STREQ(e.what(), "file: shrank while being served");
  }
}

TEST_P(FileServiceTest, FileGrowingWhileStreamingServesTheOriginalLength) {
  const std::string original(as_chars(test::pattern_bytes(10 * 1024, 5)));
  write("grow.bin", original);
  net::Response r = get(service(), "/grow.bin");
  const std::uint64_t promised = r.stream->size();
  {
    std::ofstream out(root_ / "grow.bin", std::ios::app | std::ios::binary);
    out << std::string(5000, 'g');
  }
  const std::string token = drain(*r.stream, 100);
  EXPECT_EQ(token.size(), promised);
  EXPECT_EQ(as_chars(fernet_decrypt(key_, token, kNow, 60)), original);
}

TEST_P(FileServiceTest, RootMustBeAnExistingDirectory) {
  try {
    FileService bad({tmp_ / "absent", 10});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
  }
  try {
    FileService bad({root_ / "one.txt", 10});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
  }
  fs::create_symlink(root_, tmp_ / "www-link");
  const FileService via_link({tmp_ / "www-link", 10});
  EXPECT_EQ(via_link.root(), fs::canonical(root_));
  EXPECT_EQ(fetch(via_link, "/one.txt"), "x");
}

INSTANTIATE_TEST_SUITE_P(Resolution, FileServiceTest,
                         ::testing::Values(io::Resolution::fast_path_first, io::Resolution::walk_only),
                         [](const auto& info) {
                           return info.param == io::Resolution::walk_only ? "walk" : "openat2";
                         });

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
