// The one signing and sealing profile (docs/PROTOCOL.md §5): what a signature covers, the
// sealed request head and its refusals, the sealed response head and its strict reading.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/seal.hpp"
#include "support/test_support.hpp"

namespace mh::seal {
namespace {

using test::error_of;

const RsaPrivateKey& rsa() {
  static const RsaPrivateKey k = RsaPrivateKey::generate(2048);
  return k;
}
const SessionSecret& secret() {
  static const SessionSecret s(random_bytes(32));
  return s;
}
const KeyId kKeyId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const Freshness kFresh{1700000005, "bm9uY2U"};

std::string covered_list(const httpsig::Message& m) {
  for (const auto& [name, value] : m.headers)
    if (name == "Signature-Input") return value.substr(0, value.find(';'));
  return "";
}

TEST(KeyIdText, IsTwentyTwoCharactersOfBase64url) {
  EXPECT_EQ(keyid_text(kKeyId), "AQIDBAUGBwgJCgsMDQ4PEA");
  EXPECT_EQ(parse_keyid("AQIDBAUGBwgJCgsMDQ4PEA"), kKeyId);
  for (const char* bad : {"", "AQIDBAUGBwgJCgsMDQ4PE", "AQIDBAUGBwgJCgsMDQ4PEAA", "AQIDBAUGBwgJCgsMDQ4PEB",
                          "AQIDBAUGBwgJCgsMDQ4PE=", "3f1c5a4e-8b2d-4c6f-9a1e-7d5b3c2a1f0e"})
    EXPECT_FALSE(parse_keyid(bad)) << bad;
}

TEST(Seal, SignatureCoversTheProfile) {
  const Credentials c{secret(), kKeyId, rsa()};
  httpsig::Message plain{"GET",  "http", "h:1", "/a?list", std::nullopt, {{"Range", "bytes=0-"}, {"X-Other", "1"}},
                         nullptr};
  const Signed s = sign(c, plain, kFresh);
  EXPECT_EQ(covered_list(plain), R"(sig1=("@method" "@authority" "@path" "@query" "range"))");
  EXPECT_EQ(plain.headers.back().first, "Signature");
  EXPECT_NE(s.signature_base.find(
                ";created=1700000005;nonce=\"bm9uY2U\";alg=\"rsa-pss-sha512\";keyid=\"AQIDBAUGBwgJCgsMDQ4PEA\""),
            std::string::npos);
  EXPECT_EQ(s.binding,
            request_binding(s.signature_base, httpsig::parse_signature(plain.headers.back().second)[0].second));

  const auto params = httpsig::parse_signature_input(plain.headers[plain.headers.size() - 2].second)[0].second;
  EXPECT_EQ(missing_coverage(plain, params), std::nullopt);
  httpsig::Message more = plain;
  more.headers.push_back({"If-None-Match", "\"x\""});
  EXPECT_EQ(missing_coverage(more, params), "if-none-match is present but not covered");
  httpsig::Message other_query = plain;
  const auto bare = httpsig::parse_signature_input(R"(sig1=("@method" "@authority" "@path");created=1)")[0].second;
  EXPECT_EQ(missing_coverage(other_query, bare), "must cover @query");
  const auto no_path = httpsig::parse_signature_input(R"(sig1=("@method" "@authority");created=1)")[0].second;
  EXPECT_EQ(missing_coverage(other_query, no_path), "must cover @path");
}

TEST(Seal, RequestHeadOpensOnlyUnderItsSessionAndNonce) {
  const Credentials c{secret(), kKeyId, rsa()};
  const bhttp::Request inner{"GET", "http", "", "/docs/a.txt?list", {{"range", "bytes=10-20"}}};
  Signed s;
  const httpsig::Message outer = seal_request(c, inner, "http", "127.0.0.1:8443", kFresh, s);
  EXPECT_EQ(outer.method, "POST");
  EXPECT_EQ(outer.target, "/.well-known/minihttps/sealed");
  EXPECT_TRUE(is_sealed(outer));
  EXPECT_EQ(covered_list(outer), R"(sig1=("@method" "@authority" "@path" "minihttps-sealed"))");
  EXPECT_NO_THROW(check_nothing_outside(outer));
  const std::string token = outer.headers[0].second;
  const auto opened = open_request_head(secret(), kKeyId, kFresh.created, kFresh.nonce, token, "127.0.0.1:8443");
  EXPECT_EQ(opened.method, "GET");
  EXPECT_EQ(opened.path, "/docs/a.txt?list");
  EXPECT_EQ(opened.fields, inner.fields);

  const std::string no = "sealed: the request head does not open under this session";
  const SessionSecret other(random_bytes(32));
  Errc code{};
  EXPECT_EQ(
      error_of([&] { open_request_head(other, kKeyId, kFresh.created, kFresh.nonce, token, "127.0.0.1:8443"); }, &code),
      no);
  EXPECT_EQ(code, Errc::bad_request);
  EXPECT_EQ(error_of([&] { open_request_head(secret(), kKeyId, kFresh.created, "other", token, "127.0.0.1:8443"); }),
            no);
  EXPECT_EQ(
      error_of([&] { open_request_head(secret(), kKeyId, kFresh.created + 1, kFresh.nonce, token, "127.0.0.1:8443"); }),
      no);
  KeyId other_id = kKeyId;
  other_id[0] ^= 1;
  EXPECT_EQ(
      error_of([&] { open_request_head(secret(), other_id, kFresh.created, kFresh.nonce, token, "127.0.0.1:8443"); }),
      no);
  EXPECT_EQ(error_of([&] {
              open_request_head(secret(), kKeyId, kFresh.created, kFresh.nonce, std::string(11021, 'A'), "h");
            }),
            "sealed: the request head is too large");
}

TEST(Seal, ServerChecksTheOpenedHead) {
  const Credentials c{secret(), kKeyId, rsa()};
  const auto open_inner = [&](const bhttp::Request& inner) {
    Signed s;
    const auto outer = seal_request(c, inner, "http", "h:1", kFresh, s);
    return error_of(
        [&] { open_request_head(secret(), kKeyId, kFresh.created, kFresh.nonce, outer.headers[0].second, "h:1"); });
  };
  EXPECT_EQ(open_inner({"PATCH", "http", "", "/a", {}}), "no error");  // the route answers 405
  EXPECT_EQ(open_inner({"GET", "http", "", "/a", {{"range", "bytes=0-1"}, {"range", "bytes=5-"}}}),
            "sealed: range appears more than once");
  EXPECT_EQ(open_inner({"GET", "http", "", "/a", {{"x-note", "1"}, {"x-note", "2"}}}), "no error");
  EXPECT_EQ(open_inner({"GET", "http", "", "a", {}}), "sealed: the path must start with /");
  EXPECT_EQ(open_inner({"GET", "http", "other:1", "/a", {}}), "sealed: the authority is not this server's Host");
  EXPECT_EQ(open_inner({"GET", "https", "h:1", "/a", {}}), "no error");
  EXPECT_EQ(open_inner({"DELETE", "http", "", "/uploads/a", {}}), "no error");
}

TEST(Seal, MeaningfulFieldsOutsideTheSealAreRefused) {
  for (const char* name : {"Range", "If-Range", "If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since",
                           "Accept-Signature", "Content-Digest"}) {
    httpsig::Message m{"POST", "http", "h", "/.well-known/minihttps/sealed", std::nullopt, {{name, "x"}}, nullptr};
    std::string lower = name;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(error_of([&] { check_nothing_outside(m); }), "sealed: " + lower + " must travel inside the seal");
  }
  httpsig::Message q{"POST", "http", "h", "/.well-known/minihttps/sealed?x", std::nullopt, {}, nullptr};
  EXPECT_EQ(error_of([&] { check_nothing_outside(q); }), "sealed: the query must travel inside the seal");
}

TEST(Seal, ResponseHeadRoundTripsAndIsBoundToItsRequest) {
  ResponseHead h;
  h.status = 206;
  h.content_type = "text/plain";
  h.content_length = 8192;
  h.content_range = "bytes 4096-12287/20000";
  h.etag = "\"abc\"";
  h.chunks = Chunks{4096, 1, 2};
  Binding b{};
  b[0] = 7;
  const std::string token = seal_response_head(secret(), b, h, 1700000000);
  const ResponseHead back = open_response_head(secret(), b, token);
  EXPECT_EQ(back.status, 206);
  EXPECT_EQ(back.content_type, h.content_type);
  EXPECT_EQ(back.content_length, 8192u);
  EXPECT_EQ(back.content_range, h.content_range);
  EXPECT_EQ(back.etag, h.etag);
  EXPECT_EQ(back.retry_after, std::nullopt);
  EXPECT_EQ(back.chunks, h.chunks);
  Binding other = b;
  other[31] = 1;
  Errc code{};
  EXPECT_EQ(error_of([&] { open_response_head(secret(), other, token); }, &code),
            "the response head is not bound to this request");
  EXPECT_EQ(code, Errc::integrity);
  // A request head is never taken for a response head: the purposes differ.
  const FernetKey req_key = secret().derive(KeyPurpose::request_head, b, 0, true);
  const std::string wrong = fernet_encrypt(req_key, bhttp::encode(to_bhttp(h)), 1700000000);
  EXPECT_EQ(error_of([&] { open_response_head(secret(), b, wrong); }),
            "the response head is not bound to this request");
}

TEST(Seal, ResponseHeadIsReadStrictly) {
  const auto read = [](std::vector<bhttp::Field> fields) {
    return error_of([&] { from_bhttp(bhttp::Response{200, std::move(fields)}); });
  };
  EXPECT_EQ(read({}), "response head: no content-length");
  EXPECT_EQ(read({{"content-length", "012"}}), "response head: content-length is not a decimal integer");
  EXPECT_EQ(read({{"content-length", "+1"}}), "response head: content-length is not a decimal integer");
  EXPECT_EQ(read({{"content-length", "18446744073709551616"}}),
            "response head: content-length is not a decimal integer");
  EXPECT_EQ(read({{"content-length", "0"}}), "no error");
  EXPECT_EQ(read({{"content-length", "1"}, {"minihttps-chunk-size", "4096"}}),
            "response head: the chunk fields come together or not at all");
  EXPECT_EQ(read({{"content-length", "1"},
                  {"minihttps-chunk-size", "4095"},
                  {"minihttps-first-chunk", "0"},
                  {"minihttps-last-chunk", "0"}}),
            "response head: minihttps-chunk-size is not a valid chunk size");
  EXPECT_EQ(read({{"content-length", "1"},
                  {"minihttps-chunk-size", "4096"},
                  {"minihttps-first-chunk", "2"},
                  {"minihttps-last-chunk", "1"}}),
            "response head: the first chunk comes after the last");
  EXPECT_EQ(read({{"content-length", "1"}, {"retry-after", "x"}}),
            "response head: retry-after is not a decimal integer");
}

}  // namespace
}  // namespace mh::seal
