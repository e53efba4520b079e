// Binary HTTP heads (core/bhttp.hpp, docs/PROTOCOL.md §5.1 and §5.3): the QUIC varint at its
// boundaries and in the RFC 9000 examples, exact encodings worked out by hand, the RFC 9292
// known-length request example, round trips, and every refusal of the decoders with its exact
// reason, each limit accepted at the boundary and refused one past it.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bhttp.hpp"
#include "core/error.hpp"

namespace mh::bhttp {

// Readable failures.
void PrintTo(const Field& f, std::ostream* os) { *os << f.name << ": " << testing::PrintToString(f.value); }
void PrintTo(const Request& r, std::ostream* os) {
  *os << r.method << ' ' << r.scheme << " [" << r.authority << "] " << r.path << ' '
      << testing::PrintToString(r.fields);
}
void PrintTo(const Response& r, std::ostream* os) { *os << r.status << ' ' << testing::PrintToString(r.fields); }

namespace {

using namespace std::literals;

// Hex with spaces allowed, so the RFC's four-byte groups can be pasted as they stand.
Bytes hex(std::string_view spaced) {
  std::string h;
  for (char c : spaced)
    if (c != ' ') h += c;
  return from_hex(h);
}

Bytes varint(std::uint64_t v) {
  Bytes out;
  put_varint(out, v);
  return out;
}

// The reason fn is refused with; an Errc other than bad_request shows in the text.
template <class Fn>
std::string refusal(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return (e.code() == Errc::bad_request ? "" : "[not bad_request] ") + std::string(e.what());
  }
  return "accepted";
}
std::string request_refusal(const Bytes& in, const Limits& limits = {}) {
  return refusal([&] { decode_request(in, limits); });
}
std::string response_refusal(const Bytes& in, const Limits& limits = {}) {
  return refusal([&] { decode_response(in, limits); });
}

// A head written piece by piece, so that a test can make exactly the malformed one it needs.
struct Raw {
  Bytes b;
  Raw& v(std::uint64_t x) {
    put_varint(b, x);
    return *this;
  }
  Raw& s(std::string_view x) {
    v(x.size());
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
  Raw& raw(const Bytes& x) {
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
  // A field section holding these lines.
  Raw& fields(const std::vector<std::pair<std::string, std::string>>& lines) {
    Raw section;
    for (const auto& [name, value] : lines) section.s(name).s(value);
    return s(as_chars(section.b));
  }
};

// A request's control data (GET https, no authority, "/"), to be followed by a field section.
Raw get_slash() { return std::move(Raw().v(0).s("GET").s("https").s("").s("/")); }
// A whole request head with these field lines.
Bytes request_with(const std::vector<std::pair<std::string, std::string>>& lines) {
  return get_slash().fields(lines).v(0).v(0).b;
}

const char* kRfc9292Request =  // RFC 9292 §5.1, the known-length encoding of the example request
    "00034745 54056874 74707300 0a2f6865"
    "6c6c6f2e 74787440 6c0a7573 65722d61"
    "67656e74 34637572 6c2f372e 31362e33"
    "206c6962 6375726c 2f372e31 362e3320"
    "4f70656e 53534c2f 302e392e 376c207a"
    "6c69622f 312e322e 3304686f 73740f77"
    "77772e65 78616d70 6c652e63 6f6d0f61"
    "63636570 742d6c61 6e677561 67650665"
    "6e2c206d 690000";

// ---- varint ----------------------------------------------------------------------------------

TEST(BhttpVarint, ShortestEncodingsAtTheBoundaries) {
  const std::vector<std::pair<std::uint64_t, std::string>> cases = {
      {0, "00"},
      {63, "3f"},
      {64, "4040"},
      {16383, "7fff"},
      {16384, "80004000"},
      {(std::uint64_t{1} << 30) - 1, "bfffffff"},
      {std::uint64_t{1} << 30, "c000000040000000"},
      {kMaxVarint, "ffffffffffffffff"},
  };
  for (const auto& [value, want] : cases) {
    EXPECT_EQ(to_hex(varint(value)), want) << value;
    const Bytes b = hex(want);
    std::size_t pos = 0;
    EXPECT_EQ(get_varint(b, pos), value);
    EXPECT_EQ(pos, b.size());
  }
}

TEST(BhttpVarint, Rfc9000Examples) {
  // RFC 9000 Appendix A.1; 0x4025 is the non-shortest two-byte form of 37.
  const std::vector<std::pair<std::string, std::uint64_t>> cases = {{"c2197c5eff14e88c", 151288809941952652u},
                                                                    {"9d7f3e7d", 494878333u},
                                                                    {"7bbd", 15293u},
                                                                    {"25", 37u},
                                                                    {"4025", 37u}};
  for (const auto& [h, value] : cases) {
    const Bytes b = hex(h);
    std::size_t pos = 0;
    EXPECT_EQ(get_varint(b, pos), value) << h;
    EXPECT_EQ(pos, b.size());
  }
  EXPECT_EQ(to_hex(varint(151288809941952652u)), "c2197c5eff14e88c");
  EXPECT_EQ(to_hex(varint(37)), "25");
}

TEST(BhttpVarint, NonShortestFormsDecode) {
  const std::vector<std::pair<std::string, std::uint64_t>> cases = {{"4000", 0},
                                                                    {"80000000", 0},
                                                                    {"c000000000000000", 0},
                                                                    {"403f", 63},
                                                                    {"8000003f", 63},
                                                                    {"c000000000003fff", 16383},
                                                                    {"c00000003fffffff", (std::uint64_t{1} << 30) - 1}};
  for (const auto& [h, value] : cases) {
    const Bytes b = hex(h);
    std::size_t pos = 0;
    EXPECT_EQ(get_varint(b, pos), value) << h;
    EXPECT_EQ(pos, b.size()) << h;
  }
}

TEST(BhttpVarint, ReadsInSequenceFromPos) {
  const Bytes b = hex("25 4025 80004000 c000000040000000 3f");
  std::size_t pos = 0;
  EXPECT_EQ(get_varint(b, pos), 37u);
  EXPECT_EQ(get_varint(b, pos), 37u);
  EXPECT_EQ(get_varint(b, pos), 16384u);
  EXPECT_EQ(get_varint(b, pos), std::uint64_t{1} << 30);
  EXPECT_EQ(pos, 15u);
  EXPECT_EQ(get_varint(b, pos), 63u);
  EXPECT_EQ(pos, b.size());
}

TEST(BhttpVarint, TruncatedIsRefusedAndPosUnchanged) {
  for (const char* h : {"", "40", "800000", "c0000000000000"}) {
    const Bytes b = hex(h);
    std::size_t pos = 0;
    EXPECT_EQ(refusal([&] { get_varint(b, pos); }), "sealed: truncated varint") << h;
    EXPECT_EQ(pos, 0u);
  }
  const Bytes b = hex("25");
  std::size_t pos = 1;  // at the end
  EXPECT_EQ(refusal([&] { get_varint(b, pos); }), "sealed: truncated varint");
  pos = 7;  // beyond it
  EXPECT_EQ(refusal([&] { get_varint(b, pos); }), "sealed: truncated varint");
}

TEST(BhttpVarint, TwoToThe62AndAboveAreABug) {
  Bytes out;
  EXPECT_EQ(refusal([&] { put_varint(out, kMaxVarint + 1); }),
            "[not bad_request] bhttp: 4611686018427387904 does not fit a varint");
  EXPECT_EQ(refusal([&] { put_varint(out, ~std::uint64_t{0}); }),
            "[not bad_request] bhttp: 18446744073709551615 does not fit a varint");
  EXPECT_TRUE(out.empty());
  try {
    put_varint(out, kMaxVarint + 1);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) { EXPECT_EQ(e.code(), Errc::internal); }
}

// ---- exact encodings -------------------------------------------------------------------------

TEST(BhttpEncode, RequestBytesByHand) {
  const Request r{"GET", "https", "", "/a?b", {{"range", "bytes=0-"}}};
  const std::string want =
      "00"                  // known-length request
      "03474554"            // "GET"
      "056874747073"        // "https"
      "00"                  // no authority
      "042f613f62"          // "/a?b"
      "0f"                  // 15 bytes of field lines:
      "0572616e6765"        //   "range"
      "0862797465733d302d"  //   "bytes=0-"
      "00"                  // no content
      "00";                 // no trailers
  EXPECT_EQ(to_hex(encode(r)), want);
  EXPECT_EQ(decode_request(hex(want)), r);
}

TEST(BhttpEncode, ResponseBytesByHand) {
  const Response r{206, {{"content-length", "1024"}}};
  const std::string want =
      "01"                              // known-length response
      "40ce"                            // 206: two bytes, as it is over 63
      "14"                              // 20 bytes of field lines:
      "0e636f6e74656e742d6c656e677468"  //   "content-length"
      "0431303234"                      //   "1024"
      "0000";                           // no content, no trailers
  EXPECT_EQ(to_hex(encode(r)), want);
  EXPECT_EQ(decode_response(hex(want)), r);
  EXPECT_EQ(to_hex(encode(Response{})), "0140c8000000");  // 200, no fields
}

TEST(BhttpEncode, PaddingUpToPadTo) {
  const Request r{"GET", "https", "", "/a?b", {{"range", "bytes=0-"}}};
  const Bytes natural = encode(r);
  ASSERT_EQ(natural.size(), 35u);
  EXPECT_EQ(encode(r, 0), natural);
  EXPECT_EQ(encode(r, 34), natural);  // pad_to below the natural size: no padding
  EXPECT_EQ(encode(r, 35), natural);
  const Bytes padded = encode(r, 64);
  ASSERT_EQ(padded.size(), 64u);
  EXPECT_TRUE(std::equal(natural.begin(), natural.end(), padded.begin()));
  EXPECT_TRUE(is_all_zero(ByteView(padded).subspan(natural.size())));
  EXPECT_EQ(decode_request(padded), r);

  const Bytes response = encode(Response{404, {}}, 8192);
  ASSERT_EQ(response.size(), 8192u);
  EXPECT_EQ(decode_response(response).status, 404);
}

TEST(BhttpEncode, NegativeStatusIsABug) {
  EXPECT_EQ(refusal([] {
              encode(Response{-1, {}});
            }),
            "[not bad_request] bhttp: 18446744073709551615 does not fit a varint");
}

// ---- RFC 9292 --------------------------------------------------------------------------------

TEST(BhttpRfc9292, KnownLengthRequestExample) {
  const Request r{"GET",
                  "https",
                  "",
                  "/hello.txt",
                  {{"user-agent", "curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3"},
                   {"host", "www.example.com"},
                   {"accept-language", "en, mi"}}};
  const Bytes example = hex(kRfc9292Request);
  ASSERT_EQ(example.size(), 135u);
  EXPECT_EQ(encode(r), example);
  EXPECT_EQ(decode_request(example), r);
  EXPECT_EQ(decode_request(encode(r, 256)), r);
  // RFC 9292 lets the empty content and trailer sections be cut off; a sealed head may not.
  const Bytes no_trailers(example.begin(), example.end() - 1);
  const Bytes no_content(example.begin(), example.end() - 2);
  EXPECT_EQ(request_refusal(no_trailers), "sealed: truncated head");
  EXPECT_EQ(request_refusal(no_content), "sealed: truncated head");
}

// ---- round trips -----------------------------------------------------------------------------

TEST(BhttpRoundTrip, Requests) {
  const std::vector<Request> requests = {
      {"GET", "https", "", "/", {}},
      {"HEAD", "http", "127.0.0.1:8443", "/docs/a%20b.txt?list", {{"if-none-match", "\"x\", \"y\""}}},
      {"PUT", "https", "example.com", "/uploads/n", {{"a", ""}, {"a", "second"}, {"x_y.z-0", "\t\x80\xff"}}},
      {"M-SEARCH", "https", "h", "*", {{"range", std::string(300, 'r')}}},  // a 2-byte value length
  };
  for (const Request& r : requests) {
    EXPECT_EQ(decode_request(encode(r)), r) << r.path;
    EXPECT_EQ(decode_request(encode(r, 1000)), r) << r.path;
  }
}

TEST(BhttpRoundTrip, Responses) {
  for (int status : {200, 201, 204, 206, 304, 404, 416, 599}) {
    const Response r{status, {{"content-type", "application/json"}, {"content-length", "0"}}};
    EXPECT_EQ(decode_response(encode(r)), r) << status;
    EXPECT_EQ(decode_response(encode(r, 512)), r) << status;
  }
}

TEST(BhttpRoundTrip, NonShortestLengthsDecode) {
  // Every varint in its 8-byte form: RFC 9000 lets an encoder choose, so decoders accept it.
  const auto v8 = [](std::uint64_t x) {
    Bytes b(8, 0);
    for (int i = 0; i < 8; ++i) b[7 - i] = static_cast<std::uint8_t>(x >> (8 * i));
    b[0] |= 0xc0;
    return b;
  };
  Raw head;
  head.raw(v8(0)).raw(v8(3)).raw(to_bytes("GET")).raw(v8(4)).raw(to_bytes("http")).raw(v8(0));
  head.raw(v8(1)).raw(to_bytes("/")).raw(v8(18)).raw(v8(1)).raw(to_bytes("a")).raw(v8(1)).raw(to_bytes("b"));
  head.raw(v8(0)).raw(v8(0));
  EXPECT_EQ(decode_request(head.b), (Request{"GET", "http", "", "/", {{"a", "b"}}}));
  Raw response;
  response.raw(v8(1)).raw(hex("40ce")).raw(v8(0)).raw(v8(0)).raw(v8(0));
  EXPECT_EQ(decode_response(response.b), (Response{206, {}}));
}

TEST(BhttpFind, FirstExactMatch) {
  const std::vector<Field> fields = {{"range", "bytes=0-"}, {"if-range", "\"e\""}, {"range", "bytes=5-"}};
  EXPECT_EQ(find(fields, "range"), "bytes=0-");
  EXPECT_EQ(find(fields, "if-range"), "\"e\"");
  EXPECT_FALSE(find(fields, "Range").has_value());
  EXPECT_FALSE(find(fields, "rang").has_value());
  EXPECT_FALSE(find({}, "range").has_value());
}

// ---- refusals --------------------------------------------------------------------------------

TEST(BhttpRefuse, FramingIndicator) {
  const Request r{"GET", "https", "", "/", {}};
  const Bytes request = encode(r);
  const Bytes response = encode(Response{});
  EXPECT_EQ(request_refusal(response), "sealed: framing indicator 1 is not a known-length request");
  EXPECT_EQ(response_refusal(request), "sealed: framing indicator 0 is not a known-length response");
  for (std::uint64_t framing : {2, 3}) {
    Bytes b = request;
    b[0] = static_cast<std::uint8_t>(framing);
    EXPECT_EQ(request_refusal(b), "sealed: indeterminate-length messages are not used");
    EXPECT_EQ(response_refusal(b), "sealed: indeterminate-length messages are not used");
  }
  for (std::uint64_t framing : {4, 63, 64, 1000}) {
    Bytes b = varint(framing);
    b.insert(b.end(), request.begin() + 1, request.end());
    EXPECT_EQ(request_refusal(b),
              "sealed: framing indicator " + std::to_string(framing) + " is not a known-length request");
  }
  // A non-shortest 0 is still 0.
  Bytes b = hex("4000");
  b.insert(b.end(), request.begin() + 1, request.end());
  EXPECT_EQ(decode_request(b), r);
}

TEST(BhttpRefuse, EveryPrefixOfAHead) {
  const Bytes full = encode(Request{"GET", "https", "", "/a?b", {{"range", "bytes=0-"}}});
  for (std::size_t n = 0; n < full.size(); ++n)
    EXPECT_NE(request_refusal(Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n))), "accepted") << n;
  const auto prefix = [&](std::size_t n) { return Bytes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)); };
  EXPECT_EQ(request_refusal(prefix(0)), "sealed: truncated head");
  EXPECT_EQ(request_refusal(prefix(1)), "sealed: truncated head");                           // no method
  EXPECT_EQ(request_refusal(prefix(3)), "sealed: a length runs past the end of the head");   // "GE"
  EXPECT_EQ(request_refusal(prefix(23)), "sealed: a length runs past the end of the head");  // in the fields
  EXPECT_EQ(request_refusal(prefix(33)), "sealed: truncated head");                          // no content
  EXPECT_EQ(request_refusal(prefix(34)), "sealed: truncated head");                          // no trailers

  const Bytes response = encode(Response{206, {}});
  EXPECT_EQ(response_refusal(hex("01")), "sealed: truncated head");
  EXPECT_EQ(response_refusal(hex("0140")), "sealed: truncated varint");  // a status cut in two
  EXPECT_EQ(response_refusal(Bytes(response.begin(), response.end() - 1)), "sealed: truncated head");
}

TEST(BhttpRefuse, LengthsPastTheEnd) {
  EXPECT_EQ(request_refusal(Raw().v(0).v(4).b), "sealed: a length runs past the end of the head");
  EXPECT_EQ(request_refusal(Raw().v(0).s("GET").s("https").s("").v(kMaxVarint).b),
            "sealed: a length runs past the end of the head");
  EXPECT_EQ(request_refusal(get_slash().v(3).raw(hex("0161")).b), "sealed: a length runs past the end of the head");
  EXPECT_EQ(request_refusal(get_slash().v(0).v(0).b), "sealed: truncated head");
  EXPECT_EQ(response_refusal(hex("01 40c8 05 0161")), "sealed: a length runs past the end of the head");
  // A length's own varint cut short.
  EXPECT_EQ(request_refusal(hex("00 8000")), "sealed: truncated varint");
}

TEST(BhttpRefuse, Method) {
  const auto with_method = [](std::string_view m) { return Raw().v(0).s(m).s("https").s("").s("/").v(0).v(0).v(0).b; };
  for (const char* m : {"", "GE T", "GET\r\n", "G(T)", "G\"T", "GÉT", "G,T", "G/T", "G:T", "G@T"})
    EXPECT_EQ(request_refusal(with_method(m)), "sealed: the method is not a token") << m;
  EXPECT_EQ(request_refusal(with_method("G\0T"sv)), "sealed: the method is not a token");
  for (const char* m : {"GET", "M-SEARCH", "!#$%&'*+-.^_`|~09azAZ", "get"})
    EXPECT_EQ(decode_request(with_method(m)).method, m);
}

TEST(BhttpRefuse, Scheme) {
  const auto with_scheme = [](std::string_view s) { return Raw().v(0).s("GET").s(s).s("").s("/").v(0).v(0).v(0).b; };
  for (const char* s : {"", "HTTPS", "Http", "ftp", "https:", "httpss", "http "})
    EXPECT_EQ(request_refusal(with_scheme(s)), "sealed: the scheme is not http or https") << s;
  EXPECT_EQ(decode_request(with_scheme("http")).scheme, "http");
  EXPECT_EQ(decode_request(with_scheme("https")).scheme, "https");
}

TEST(BhttpRefuse, AuthorityAndPath) {
  const auto head = [](std::string_view authority, std::string_view path) {
    return Raw().v(0).s("GET").s("https").s(authority).s(path).v(0).v(0).v(0).b;
  };
  EXPECT_EQ(request_refusal(head("", "")), "sealed: empty path");
  for (std::string_view bad : {"/a b"sv, "/a\r\nx: y"sv, "/\t"sv, "/\0"sv, "/\x7f"sv, "/\x1f"sv})
    EXPECT_EQ(request_refusal(head("", bad)), "sealed: the path has a space or control character");
  for (std::string_view bad : {"a b"sv, "host\r\n"sv, "h\0"sv, " "sv})
    EXPECT_EQ(request_refusal(head(bad, "/")), "sealed: the authority has a space or control character");
  // The layer above checks the leading "/" and the authority against Host; here both are free.
  EXPECT_EQ(decode_request(head("", "*")).path, "*");
  EXPECT_EQ(decode_request(head("[::1]:8443", "a?b=%2F\x80")).authority, "[::1]:8443");
}

TEST(BhttpRefuse, FieldSectionMustHoldWholeLines) {
  const char* misfit = "sealed: field lines do not fill the field section exactly";
  const auto with_section = [](const Bytes& section) { return get_slash().s(as_chars(section)).v(0).v(0).b; };
  EXPECT_EQ(request_refusal(with_section(hex("01"))), misfit);           // a name length, no name
  EXPECT_EQ(request_refusal(with_section(hex("0161"))), misfit);         // a name, no value length
  EXPECT_EQ(request_refusal(with_section(hex("016102"))), misfit);       // a value cut short
  EXPECT_EQ(request_refusal(with_section(hex("01610162 01"))), misfit);  // a second line begun
  EXPECT_EQ(request_refusal(with_section(hex("0161 40"))), misfit);      // a value length cut in two
  EXPECT_EQ(request_refusal(with_section(hex("40"))), misfit);           // a name length cut in two
  EXPECT_EQ(decode_request(with_section(hex("01610162"))).fields, (std::vector<Field>{{"a", "b"}}));
  // A section length one short of its line, the missing byte left to be read as content.
  EXPECT_EQ(request_refusal(get_slash().v(3).raw(hex("01610162")).v(0).v(0).b), misfit);
  // One byte longer than its line: the section swallows the next byte, read as a name length.
  EXPECT_EQ(request_refusal(get_slash().v(5).raw(hex("01610162")).v(1).v(0).b), misfit);
}

TEST(BhttpRefuse, FieldNames) {
  EXPECT_EQ(request_refusal(request_with({{"", "v"}})), "sealed: empty field name");
  for (const char* name : {"Range", "RANGE", "content-Type", "X"})
    EXPECT_EQ(request_refusal(request_with({{name, "v"}})), "sealed: field names must be lower case") << name;
  for (std::string_view name : {"a b"sv, "a:b"sv, ":path"sv, "a\tb"sv, "caf\xc3\xa9"sv, "a/b"sv, "a~"sv, "a\0"sv})
    EXPECT_EQ(request_refusal(request_with({{std::string(name), "v"}})),
              "sealed: field name has a character outside a-z 0-9 - _ .")
        << name;
  EXPECT_EQ(decode_request(request_with({{"abcdefghijklmnopqrstuvwxyz0123456789-_.", "v"}})).fields.size(), 1u);
  // The same rules hold in a response.
  EXPECT_EQ(response_refusal(Raw().v(1).v(200).fields({{"ETag", "\"e\""}}).v(0).v(0).b),
            "sealed: field names must be lower case");
}

TEST(BhttpRefuse, FieldValues) {
  for (std::string_view value : {"a\rb"sv, "a\nb"sv, "\r\n"sv, "a\0b"sv, "\x01"sv,
                                 "a\x1f"
                                 "b"sv,
                                 "\x7f"sv})
    EXPECT_EQ(request_refusal(request_with({{"a", std::string(value)}})),
              "sealed: field value has a control character");
  for (std::string_view value : {""sv, "\t"sv, " x "sv, "\x80\xff"sv, "\"e\", W/\"f\""sv})
    EXPECT_EQ(decode_request(request_with({{"a", std::string(value)}})).fields[0].value, value);
  EXPECT_EQ(response_refusal(Raw().v(1).v(200).fields({{"a", "x\ny"}}).v(0).v(0).b),
            "sealed: field value has a control character");
}

TEST(BhttpRefuse, ContentAndTrailers) {
  EXPECT_EQ(request_refusal(get_slash().v(0).s("body").v(0).b), "sealed: the head carries content");
  EXPECT_EQ(request_refusal(get_slash().v(0).v(1).b), "sealed: the head carries content");
  EXPECT_EQ(request_refusal(get_slash().v(0).v(0).fields({{"t", "v"}}).b), "sealed: the head carries trailers");
  EXPECT_EQ(response_refusal(Raw().v(1).v(200).v(0).s("{}").v(0).b), "sealed: the head carries content");
  EXPECT_EQ(response_refusal(Raw().v(1).v(200).v(0).v(0).v(64).b), "sealed: the head carries trailers");
}

TEST(BhttpRefuse, PaddingMustBeZero) {
  const Request r{"GET", "https", "", "/", {}};
  const Bytes padded = encode(r, 100);
  EXPECT_EQ(decode_request(padded), r);
  const std::size_t natural = encode(r).size();
  for (std::size_t at : {natural, natural + 1, padded.size() - 1}) {
    Bytes b = padded;
    b[at] = 0x01;
    EXPECT_EQ(request_refusal(b), "sealed: padding is not zero") << at;
    b[at] = 0x80;
    EXPECT_EQ(request_refusal(b), "sealed: padding is not zero") << at;
  }
  Bytes response = encode(Response{204, {}}, 40);
  response.back() = 0xff;
  EXPECT_EQ(response_refusal(response), "sealed: padding is not zero");
}

TEST(BhttpRefuse, Status) {
  const auto with_status = [](std::uint64_t s) { return Raw().v(1).v(s).v(0).v(0).v(0).b; };
  for (std::uint64_t s : {100, 101, 103, 199})
    EXPECT_EQ(response_refusal(with_status(s)), "sealed: informational responses are not used") << s;
  for (std::uint64_t s : {std::uint64_t{0}, std::uint64_t{99}, std::uint64_t{600}, std::uint64_t{1000},
                          std::uint64_t{1} << 32, kMaxVarint})
    EXPECT_EQ(response_refusal(with_status(s)), "sealed: status out of range") << s;
  EXPECT_EQ(decode_response(with_status(200)).status, 200);
  EXPECT_EQ(decode_response(with_status(599)).status, 599);
}

// ---- limits ----------------------------------------------------------------------------------

TEST(BhttpLimits, WholeHeadAtTheLimitAndOneOver) {
  const Request r{"GET", "https", "", "/", {}};
  EXPECT_EQ(decode_request(encode(r, 8192)), r);
  EXPECT_EQ(request_refusal(encode(r, 8193)), "sealed: the head is longer than 8192 bytes");
  EXPECT_EQ(response_refusal(encode(Response{}, 8193)), "sealed: the head is longer than 8192 bytes");
  Limits small;
  small.max_bytes = 20;
  EXPECT_EQ(decode_request(encode(r, 20), small), r);
  EXPECT_EQ(request_refusal(encode(r, 21), small), "sealed: the head is longer than 20 bytes");
  // Checked before anything is read: even a malformed head is refused for its size first.
  EXPECT_EQ(request_refusal(Bytes(21, 0xff), small), "sealed: the head is longer than 20 bytes");
}

TEST(BhttpLimits, FieldLinesAtTheLimitAndOneOver) {
  std::vector<std::pair<std::string, std::string>> lines(64, {"a", "b"});
  EXPECT_EQ(decode_request(request_with(lines)).fields.size(), 64u);
  lines.emplace_back("a", "b");
  EXPECT_EQ(request_refusal(request_with(lines)), "sealed: more than 64 field lines");
  Limits small;
  small.max_fields = 2;
  EXPECT_EQ(decode_request(request_with({{"a", "1"}, {"b", "2"}}), small).fields.size(), 2u);
  EXPECT_EQ(request_refusal(request_with({{"a", "1"}, {"b", "2"}, {"c", "3"}}), small),
            "sealed: more than 2 field lines");
  small.max_fields = 0;
  EXPECT_EQ(decode_request(request_with({}), small).fields.size(), 0u);
  EXPECT_EQ(request_refusal(request_with({{"a", "1"}}), small), "sealed: more than 0 field lines");
}

TEST(BhttpLimits, NameAndValueAtTheLimitAndOneOver) {
  EXPECT_EQ(decode_request(request_with({{std::string(64, 'n'), "v"}})).fields[0].name.size(), 64u);
  EXPECT_EQ(request_refusal(request_with({{std::string(65, 'n'), "v"}})), "sealed: field name longer than 64 bytes");
  EXPECT_EQ(decode_request(request_with({{"v", std::string(4096, 'v')}})).fields[0].value.size(), 4096u);
  EXPECT_EQ(request_refusal(request_with({{"v", std::string(4097, 'v')}})),
            "sealed: field value longer than 4096 bytes");

  Limits small;
  small.max_name = 3;
  small.max_value = 5;
  EXPECT_EQ(decode_request(request_with({{"abc", "12345"}}), small).fields.size(), 1u);
  EXPECT_EQ(request_refusal(request_with({{"abcd", "1"}}), small), "sealed: field name longer than 3 bytes");
  EXPECT_EQ(request_refusal(request_with({{"a", "123456"}}), small), "sealed: field value longer than 5 bytes");
  EXPECT_EQ(response_refusal(Raw().v(1).v(200).fields({{"a", "123456"}}).v(0).v(0).b, small),
            "sealed: field value longer than 5 bytes");
}

}  // namespace
}  // namespace mh::bhttp
