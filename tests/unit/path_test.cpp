// Request path parsing (docs/PROTOCOL.md §6): every refusal with its exact reason, the usual
// traversal encodings, and the valid forms that must keep working.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/path.hpp"

namespace mh {
namespace {

struct Refusal {
  std::string path;
  Errc code;
  std::string reason;
};

void expect_refused(const Refusal& r) {
  try {
    const RequestPath p = parse_request_path(r.path);
    ADD_FAILURE() << "accepted: " << r.path << " (" << p.segments.size() << " segments)";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), r.code) << r.path << ": " << e.what();
    EXPECT_STREQ(e.what(), r.reason.c_str()) << r.path;
  }
}

std::vector<std::string> segments(std::string_view path) { return parse_request_path(path).segments; }

using V = std::vector<std::string>;

TEST(RequestPath, ValidForms) {
  EXPECT_EQ(segments("/"), V{});
  EXPECT_TRUE(parse_request_path("/").trailing_slash);
  EXPECT_EQ(segments("/a/b"), (V{"a", "b"}));
  EXPECT_FALSE(parse_request_path("/a/b").trailing_slash);
  EXPECT_EQ(segments("/a%20b.txt"), V{"a b.txt"});
  EXPECT_EQ(segments("/docs/"), V{"docs"});
  EXPECT_TRUE(parse_request_path("/docs/").trailing_slash);
  EXPECT_EQ(segments("//a///b//"), (V{"a", "b"}));
  EXPECT_TRUE(parse_request_path("//a///b//").trailing_slash);
  EXPECT_EQ(segments("/%41%62c"), V{"Abc"});  // hex digits in either case
  EXPECT_EQ(segments("/%e2%82%ac"), V{"\xe2\x82\xac"});
  EXPECT_EQ(segments("/a..b/c.d."), (V{"a..b", "c.d."}));  // dots inside names are ordinary
  EXPECT_EQ(segments("/~user/+x=y&z"), (V{"~user", "+x=y&z"}));
}

TEST(RequestPath, Utf8Names) {
  EXPECT_EQ(segments("/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt"), (V{"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac.txt"}));
  EXPECT_EQ(segments("/caf%C3%A9"), V{"caf\xc3\xa9"});
  EXPECT_EQ(segments("/%F0%9F%98%80"), V{"\xf0\x9f\x98\x80"});  // U+1F600, four bytes
}

// Characters that look like dots are just names: only the bytes "." and ".." mean anything to
// the filesystem, and these never decode to them.
TEST(RequestPath, DotLookalikesAreOrdinaryNames) {
  EXPECT_EQ(segments("/%E2%80%A4"), V{"\xe2\x80\xa4"});                       // U+2024 ONE DOT LEADER
  EXPECT_EQ(segments("/%E2%80%A5"), V{"\xe2\x80\xa5"});                       // U+2025 TWO DOT LEADER
  EXPECT_EQ(segments("/%EF%BC%8E%EF%BC%8E"), V{"\xef\xbc\x8e\xef\xbc\x8e"});  // U+FF0E FULLWIDTH FULL STOP x2
  EXPECT_EQ(segments("/%E3%80%82"), V{"\xe3\x80\x82"});                       // U+3002 IDEOGRAPHIC FULL STOP
}

TEST(RequestPath, DotSegmentsInEveryEncoding) {
  for (const char* p : {"/..", "/../etc/passwd", "/a/../../b", "/.", "/a/./b", "/%2e%2e", "/%2E%2E", "/.%2e", "/%2e.",
                        "/%2E.", "/.%2E/x", "/%2e", "/a/%2e%2e/", "/..//"})
    expect_refused({p, Errc::forbidden, "path: dot segment"});
}

TEST(RequestPath, EncodedSeparators) {
  for (const char* p : {"/..%2f", "/%2f..", "/..%2Fetc", "/a%2fb", "/%2F"})
    expect_refused({p, Errc::forbidden, "path: encoded slash"});
  for (const char* p : {"/..%5c", "/%5c", "/%5C..%5C", "/a\\b", "/..\\..\\etc", "/\\"})
    expect_refused({p, Errc::forbidden, "path: backslash"});
}

TEST(RequestPath, DoubleEncoding) {
  for (const char* p : {"/%252e%252e", "/%252e%252e/etc", "/%252f", "/%25", "/100%25"})
    expect_refused({p, Errc::forbidden, "path: double encoding"});
}

TEST(RequestPath, NulAndControlBytes) {
  expect_refused({"/a%00.txt", Errc::forbidden, "path: NUL byte"});
  expect_refused({std::string("/a\0b", 4), Errc::forbidden, "path: NUL byte"});
  expect_refused({"/a%0a", Errc::bad_request, "path: control character"});
  expect_refused({"/a%0D%0AX: y", Errc::bad_request, "path: control character"});
  expect_refused({"/a\tb", Errc::bad_request, "path: control character"});
  expect_refused({"/%1f", Errc::bad_request, "path: control character"});
  expect_refused({"/%7f", Errc::bad_request, "path: control character"});
  expect_refused({"/\x7f", Errc::bad_request, "path: control character"});
}

TEST(RequestPath, HiddenNames) {
  for (const char* p : {"/.git/config", "/.env", "/a/.htpasswd", "/%2egit", "/%2Eenv", "/...", "/.%2e.", "/a/.b/c"})
    expect_refused({p, Errc::forbidden, "path: hidden name"});
}

TEST(RequestPath, BadPercentEncoding) {
  for (const char* p : {"/%", "/a%", "/a%2", "/%zz", "/%2g", "/%g2", "/%%32%65", "/%-1", "/% 2"})
    expect_refused({p, Errc::bad_request, "path: bad percent-encoding"});
}

TEST(RequestPath, InvalidUtf8) {
  for (const char* p : {"/%c0%ae",        // overlong '.'
                        "/%c0%ae%c0%ae",  // overlong ".."
                        "/%e0%80%ae",     // three-byte overlong '.'
                        "/%f0%80%80%ae",  // four-byte overlong '.'
                        "/%c0%af",        // overlong '/'
                        "/%c1%9c",        // overlong '\'
                        "/%ed%a0%80",     // surrogate U+D800
                        "/%f4%90%80%80",  // above U+10FFFF
                        "/%ff", "/%80", "/%c3", "/%e2%82", "/a\xc3(", "/\xfe"})
    expect_refused({p, Errc::bad_request, "path: invalid UTF-8"});
}

TEST(RequestPath, MustStartWithSlash) {
  for (const char* p : {"", "a/b", "%2fa", "http://host/a", "*"})
    expect_refused({p, Errc::bad_request, "path: must start with '/'"});
}

TEST(RequestPath, Limits) {
  std::string path;
  for (int i = 0; i < 32; ++i) path += "/s";
  EXPECT_EQ(segments(path).size(), 32u);
  expect_refused({path + "/s", Errc::bad_request, "path: too many segments"});
  EXPECT_EQ(segments(path + "//").size(), 32u);  // empty segments do not count

  const std::string name255(255, 'n');
  EXPECT_EQ(segments("/" + name255), V{name255});
  expect_refused({"/" + name255 + "n", Errc::bad_request, "path: segment too long"});
  // The limit is on the decoded name: 255 encoded bytes are 85 decoded ones.
  std::string encoded;
  for (int i = 0; i < 85; ++i) encoded += "%41";
  EXPECT_EQ(segments("/" + encoded), V{std::string(85, 'A')});

  std::string long_path;
  while (long_path.size() < kMaxPathBytes) long_path += "/" + std::string(200, 'x');
  long_path.resize(kMaxPathBytes);
  EXPECT_NO_THROW(parse_request_path(long_path)) << "4096 bytes are allowed";
  expect_refused({long_path + "x", Errc::bad_request, "path: too long"});
}

TEST(RequestPath, FirstProblemWins) {
  // Left to right: an earlier segment's refusal is the one reported.
  expect_refused({"/%2e%2e/%00", Errc::forbidden, "path: dot segment"});
  expect_refused({"/%zz/..", Errc::bad_request, "path: bad percent-encoding"});
}

TEST(RequestPath, TargetPath) {
  EXPECT_EQ(target_path("/a/b?x=1"), "/a/b");
  EXPECT_EQ(target_path("/a/b"), "/a/b");
  EXPECT_EQ(target_path("/?"), "/");
  EXPECT_EQ(target_path("/a%3Fb?c"), "/a%3Fb");
  EXPECT_EQ(segments(target_path("/a%3Fb?c")), V{"a?b"});
}

TEST(RequestPath, ServableNames) {
  EXPECT_TRUE(is_servable_name("a.txt"));
  EXPECT_TRUE(is_servable_name("\xe2\x80\xa4"));
  EXPECT_FALSE(is_servable_name(""));
  EXPECT_FALSE(is_servable_name("."));
  EXPECT_FALSE(is_servable_name(".."));
  EXPECT_FALSE(is_servable_name(".git"));
  EXPECT_FALSE(is_servable_name("50%"));
  EXPECT_FALSE(is_servable_name("a\\b"));
  EXPECT_FALSE(is_servable_name("a/b"));
  EXPECT_FALSE(is_servable_name(std::string("a\0b", 3)));
  EXPECT_FALSE(is_servable_name("\xc0\xae"));
  EXPECT_FALSE(is_servable_name(std::string(256, 'a')));
  ASSERT_TRUE(segment_refusal(""));
  EXPECT_EQ(segment_refusal("")->code, Errc::bad_request);
  EXPECT_EQ(segment_refusal("")->reason, "path: empty segment");
  ASSERT_TRUE(segment_refusal(".env"));
  EXPECT_EQ(segment_refusal(".env")->code, Errc::forbidden);
  EXPECT_EQ(segment_refusal(".env")->reason, "path: hidden name");
}

TEST(RequestPath, Join) {
  EXPECT_EQ(join_request_path({}, false), "/");
  EXPECT_EQ(join_request_path({}, true), "/");
  EXPECT_EQ(join_request_path({"a", "b c"}, false), "/a/b c");
  EXPECT_EQ(join_request_path({"a", "b"}, true), "/a/b/");
}

}  // namespace
}  // namespace mh
