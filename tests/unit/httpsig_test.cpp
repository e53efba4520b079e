// RFC 9421 known answers: every Appendix B.2 signature base and the §4.3 proxy signature byte for
// byte, the deterministic signatures (B.2.5 HMAC, B.2.6 Ed25519, §4.3 RSA v1.5) reproduced, the
// RSA-PSS ones (B.2.1-3) verified; the §2.1/§2.2/§2.4/§2.5 examples line by line; RFC 9530
// Content-Digest; and each refusal of the signature base with its exact reason.
// Vectors: tests/vectors/rfc9421 (see README.md there for sources and caveats).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/base64.hpp"
#include "core/ed25519.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/httpsig.hpp"
#include "core/rsa.hpp"
#include "support/test_support.hpp"

namespace mh::httpsig {
namespace {

std::string vec(std::string_view name) { return test::read_file(test::vectors_dir() / "rfc9421" / name); }

const nlohmann::json& examples() {
  static const nlohmann::json j = nlohmann::json::parse(vec("examples.json"));
  return j;
}

// An HTTP/1.1 message as the RFC prints it (LF line endings): start line, "Name: value" lines,
// a blank line, then the body (ignored here). Values keep their spacing after the colon so the
// signature base's own trimming is what the tests exercise. The RFC examples assume HTTPS.
Message parse_http(std::string_view text) {
  Message m;
  m.scheme = "https";
  const std::size_t first_eol = text.find('\n');
  const std::string_view start = text.substr(0, first_eol);
  const std::size_t sp1 = start.find(' ');
  const std::size_t sp2 = start.find(' ', sp1 + 1);
  if (start.starts_with("HTTP/")) {
    m.status = std::stoi(std::string(start.substr(sp1 + 1, 3)));
  } else {
    m.method = std::string(start.substr(0, sp1));
    m.target = std::string(start.substr(sp1 + 1, sp2 - sp1 - 1));
  }
  std::string_view rest = first_eol == std::string_view::npos ? std::string_view() : text.substr(first_eol + 1);
  while (!rest.empty()) {
    const std::size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    m.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    if (m.headers.back().first == "Host") m.authority = std::string(line.substr(colon + 2));
  }
  return m;
}

Component comp(std::string name) { return Component{std::move(name), {}}; }
Component with(Component c, std::string key, sfv::BareItem value = true) {
  c.params.set(std::move(key), std::move(value));
  return c;
}

// The signature base line of a single covered component (everything before the params line).
std::string base_line(const Message& m, const Component& c) {
  const std::string base = signature_base(m, make_params({c}, {}));
  return base.substr(0, base.find('\n'));
}

// The reason of the bad_request Error fn throws, or "no error".
template <class Fn>
std::string error_of(Fn fn, Errc want = Errc::bad_request) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), want) << e.what();
    return e.what();
  }
  return "no error";
}

std::string line_error(const Message& m, const Component& c) {
  return error_of([&] { base_line(m, c); });
}

// The one SignatureParams of label in a Signature-Input value.
SignatureParams input_for(std::string_view value, std::string_view label) {
  for (auto& [l, p] : parse_signature_input(value))
    if (l == label) return p;
  ADD_FAILURE() << "no label " << label;
  return {};
}

Bytes signature_for(std::string_view value, std::string_view label) {
  for (auto& [l, s] : parse_signature(value))
    if (l == label) return s;
  ADD_FAILURE() << "no label " << label;
  return {};
}

// ---- Appendix B.2 and §4.3: signature bases byte for byte ----------------------------------

struct AppendixB {
  Message request = parse_http(vec("test-request.http"));
  Message response = parse_http(vec("test-response.http"));

  AppendixB() {
    // README caveat: the Content-Digest printed with test-response (JlEy2bfU...) is not the
    // sha-512 of its body; B.2.4's signature base uses the correct value. Use the computed one.
    for (auto& [name, value] : response.headers)
      if (name == "Content-Digest") value = content_digest_sha512(as_bytes(vec("test-response.body")));
  }

  std::string base(const std::string& id) const {
    const auto& ex = examples().at(id);
    const SignatureParams p = input_for(ex.at("signature_input").get<std::string>(), id);
    return signature_base(id == "sig-b24" ? response : request, p);
  }
};

TEST(HttpSigAppendixB, SignatureBasesMatchByteForByte) {
  const AppendixB b;
  for (const std::string id : {"sig-b21", "sig-b22", "sig-b23", "sig-b24", "sig-b25", "sig-b26"}) {
    SCOPED_TRACE(id);
    const std::string expected = vec(id + ".sigbase.txt");
    EXPECT_EQ(b.base(id), expected);
    EXPECT_EQ(expected, examples().at(id).at("signature_base").get<std::string>());
  }
}

TEST(HttpSigAppendixB, ResponseContentDigestErratum) {
  // The header printed in test-response.http differs from the body's digest...
  const Message printed = parse_http(vec("test-response.http"));
  const std::string body_digest = content_digest_sha512(as_bytes(vec("test-response.body")));
  EXPECT_EQ(field_value(printed, "content-digest"),
            "sha-512=:JlEy2bfUz7WrWIjc1qV6KVLpdr/7L5/L4h7Sxvh6sNHpDQWDCL+GauFQWcZBvVDhiyOnAQsxzZFYwi0wDH+1pw==:");
  EXPECT_NE(field_value(printed, "content-digest"), body_digest);
  // ...and the B.2.4 signature base carries the body's digest.
  EXPECT_EQ(body_digest,
            "sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:");
  EXPECT_NE(vec("sig-b24.sigbase.txt").find("\"content-digest\": " + body_digest + "\n"), std::string::npos);
}

TEST(HttpSigAppendixB, ProxySignatureBase) {
  const auto& ex = examples().at("proxy_sig (sec 4.3)");
  const Message proxied = parse_http(ex.at("proxied_request").get<std::string>());
  const Message final_request = parse_http(ex.at("final_request").get<std::string>());
  // The Signature-Input as the origin receives it: two members, sig1 and proxy_sig.
  const std::string input = *field_value(final_request, "signature-input");
  const auto all = parse_signature_input(input);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, "sig1");
  EXPECT_EQ(all[1].first, "proxy_sig");
  const SignatureParams& p = all[1].second;
  EXPECT_EQ(p.created, 1618884480);
  EXPECT_EQ(p.expires, 1618884540);
  EXPECT_EQ(p.keyid, "test-key-rsa");
  EXPECT_EQ(p.alg, "rsa-v1_5-sha256");
  EXPECT_EQ(signature_base(proxied, p), vec("proxy_sig.sigbase.txt"));
  EXPECT_EQ(signature_base(final_request, p), vec("proxy_sig.sigbase.txt"));
}

TEST(HttpSigAppendixB, ParsedInputsReserializeAsSent) {
  for (const auto& [id, ex] : examples().items()) {
    SCOPED_TRACE(id);
    const std::string input = ex.at("signature_input").get<std::string>();
    std::string rebuilt;
    for (const auto& [label, params] : parse_signature_input(input))
      rebuilt += (rebuilt.empty() ? "" : ", ") + signature_input_member(label, params);
    EXPECT_EQ(rebuilt, input);
    const std::string sig = ex.at("signature").get<std::string>();
    rebuilt.clear();
    for (const auto& [label, bytes] : parse_signature(sig))
      rebuilt += (rebuilt.empty() ? "" : ", ") + signature_member(label, bytes);
    EXPECT_EQ(rebuilt, sig);
  }
}

TEST(HttpSigAppendixB, MetadataIsTyped) {
  const SignatureParams b21 = input_for(examples().at("sig-b21").at("signature_input").get<std::string>(), "sig-b21");
  EXPECT_TRUE(b21.components.empty());
  EXPECT_EQ(b21.created, 1618884473);
  EXPECT_EQ(b21.keyid, "test-key-rsa-pss");
  EXPECT_EQ(b21.nonce, "b3k2pp5k7z-50gnwp.yemd");
  EXPECT_FALSE(b21.alg);
  EXPECT_FALSE(b21.expires);
  const SignatureParams b22 = input_for(examples().at("sig-b22").at("signature_input").get<std::string>(), "sig-b22");
  EXPECT_EQ(b22.tag, "header-example");
  ASSERT_EQ(b22.components.size(), 3u);
  EXPECT_EQ(b22.components[2], with(comp("@query-param"), "name", std::string("Pet")));
}

// ---- Appendix B.2 and §4.3: the signatures -------------------------------------------------

Bytes example_signature(const std::string& id, const std::string& label) {
  return signature_for(examples().at(id).at("signature").get<std::string>(), label);
}

TEST(HttpSigAppendixB, RsaPssSignaturesVerify) {
  const AppendixB b;
  const auto key = RsaPublicKey::from_pem(vec("test-key-rsa-pss.pub.pem"));
  for (const std::string id : {"sig-b21", "sig-b22", "sig-b23"}) {
    SCOPED_TRACE(id);
    const std::string base = b.base(id);
    const Bytes sig = example_signature(id, id);
    ASSERT_EQ(sig.size(), 256u);
    EXPECT_TRUE(key.verify_pss_sha512(as_bytes(base), sig));
    std::string bad_base = base;
    bad_base[bad_base.size() / 2] ^= 0x01;
    EXPECT_FALSE(key.verify_pss_sha512(as_bytes(bad_base), sig));
    Bytes bad_sig = sig;
    bad_sig[100] ^= 0x80;
    EXPECT_FALSE(key.verify_pss_sha512(as_bytes(base), bad_sig));
  }
}

TEST(HttpSigAppendixB, HmacSha256Reproduced) {
  const AppendixB b;
  const std::string secret_b64 = vec("test-shared-secret.b64");
  const Bytes secret = base64_decode(secret_b64.substr(0, secret_b64.find_first_of("\r\n")));
  ASSERT_EQ(secret.size(), 64u);
  const Sha256Digest mac = hmac_sha256(secret, as_bytes(b.base("sig-b25")));
  EXPECT_EQ(Bytes(mac.begin(), mac.end()), example_signature("sig-b25", "sig-b25"));
  EXPECT_EQ(signature_member("sig-b25", mac), examples().at("sig-b25").at("signature").get<std::string>());
}

TEST(HttpSigAppendixB, Ed25519Reproduced) {
  const AppendixB b;
  const auto kp = Ed25519KeyPair::from_pem(vec("test-key-ed25519.priv.pem"));
  const std::string base = b.base("sig-b26");
  const Ed25519Signature sig = kp.sign(as_bytes(base));
  const Bytes expected = example_signature("sig-b26", "sig-b26");
  EXPECT_EQ(Bytes(sig.begin(), sig.end()), expected);
  EXPECT_TRUE(ed25519_verify(kp.public_key(), as_bytes(base), expected));
  EXPECT_TRUE(ed25519_verify(ed25519_public_from_pem(vec("test-key-ed25519.pub.pem")), as_bytes(base), expected));
  std::string bad = base;
  bad.back() ^= 0x01;
  EXPECT_FALSE(ed25519_verify(kp.public_key(), as_bytes(bad), expected));
}

TEST(HttpSigAppendixB, ProxyRsaV15Reproduced) {
  const auto& ex = examples().at("proxy_sig (sec 4.3)");
  const Message proxied = parse_http(ex.at("proxied_request").get<std::string>());
  const SignatureParams p = input_for(ex.at("signature_input").get<std::string>(), "proxy_sig");
  const std::string base = signature_base(proxied, p);
  const auto key = RsaPrivateKey::from_pem(vec("test-key-rsa.priv.pem"));
  const Bytes sig = key.sign_pkcs1_sha256(as_bytes(base));
  EXPECT_EQ(base64_encode(sig), ex.at("proxy_sig_value").get<std::string>());
  EXPECT_EQ(sig, example_signature("proxy_sig (sec 4.3)", "proxy_sig"));
  EXPECT_TRUE(RsaPublicKey::from_pem(vec("test-key-rsa.pub.pem")).verify_pkcs1_sha256(as_bytes(base), sig));
}

// ---- RFC 9530 Content-Digest -----------------------------------------------------------------

TEST(HttpSigContentDigest, Rfc9530Sample) {
  const std::string samples = vec("content-digest-samples.txt");
  const std::size_t at = samples.find("\nsha-512   :");
  ASSERT_NE(at, std::string::npos);
  const std::size_t start = at + std::string_view("\nsha-512   ").size();
  const std::string sample = samples.substr(start, samples.find('\n', start) - start);  // ":...:"
  const std::string field = content_digest_sha512(as_bytes(vec("test-request.body")));
  EXPECT_EQ(field, "sha-512=" + sample);
  EXPECT_EQ(field,
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:");
  const Sha512Digest d = sha512(as_bytes(vec("test-request.body")));
  EXPECT_EQ(content_digest_sha512_value(field), Bytes(d.begin(), d.end()));
}

TEST(HttpSigContentDigest, ParsesAmongOtherAlgorithms) {
  const std::string sha512_b64 =
      "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==";
  const auto v = content_digest_sha512_value(
      "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:" + sha512_b64 + ":");
  ASSERT_TRUE(v);
  EXPECT_EQ(base64_encode(*v), sha512_b64);
  EXPECT_EQ(content_digest_sha512_value("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"), std::nullopt);
  EXPECT_EQ(content_digest_sha512_value(""), std::nullopt);
  EXPECT_EQ(error_of([] { content_digest_sha512_value("sha-512=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"); }),
            "content-digest: sha-512 has the wrong length");
  EXPECT_EQ(error_of([] { content_digest_sha512_value("sha-512=\"abc\""); }),
            "content-digest: sha-512 is not a byte sequence");
  EXPECT_EQ(error_of([] { content_digest_sha512_value("sha-512=(:YQ==:)"); }),
            "content-digest: sha-512 is not a byte sequence");
  EXPECT_EQ(error_of([] { content_digest_sha512_value("sha-512=:abc"); }),
            "structured field: unterminated byte sequence");
  EXPECT_EQ(error_of([] { content_digest_sha512_value("SHA-512=:YQ==:"); }), "structured field: bad key");
}

// ---- §2.1: HTTP fields -----------------------------------------------------------------------

Message field_example() {
  Message m;
  m.method = "GET";
  m.scheme = "https";
  m.authority = "www.example.com";
  m.target = "/";
  m.headers = {
      {"Host", "www.example.com"},
      {"Date", "Tue, 20 Apr 2021 02:07:56 GMT"},
      {"X-OWS-Header", "   Leading and trailing whitespace.   "},
      {"Cache-Control", "max-age=60"},
      {"Cache-Control", "   must-revalidate"},
      {"Example-Dict", "  a=1,    b=2;x=1;y=2,   c=(a   b   c)"},
      {"X-Empty-Header", " "},
  };
  return m;
}

TEST(HttpSigRfcExamples, FieldValues) {
  const Message m = field_example();
  EXPECT_EQ(base_line(m, comp("host")), "\"host\": www.example.com");
  EXPECT_EQ(base_line(m, comp("date")), "\"date\": Tue, 20 Apr 2021 02:07:56 GMT");
  EXPECT_EQ(base_line(m, comp("x-ows-header")), "\"x-ows-header\": Leading and trailing whitespace.");
  EXPECT_EQ(base_line(m, comp("cache-control")), "\"cache-control\": max-age=60, must-revalidate");
  EXPECT_EQ(base_line(m, comp("example-dict")), "\"example-dict\": a=1,    b=2;x=1;y=2,   c=(a   b   c)");
  EXPECT_EQ(base_line(m, comp("x-empty-header")), "\"x-empty-header\": ");
  EXPECT_EQ(field_value(m, "CACHE-control"), "max-age=60, must-revalidate");
  EXPECT_EQ(field_value(m, "absent"), std::nullopt);
}

TEST(HttpSigRfcExamples, ObsoleteLineFoldingIsRefused) {
  Message m = field_example();
  m.headers.emplace_back("X-Obs-Fold-Header", "Obsolete\r\n    line folding.");
  EXPECT_EQ(line_error(m, comp("x-obs-fold-header")), "signature base: newline in a component value");
}

TEST(HttpSigRfcExamples, StrictStructuredField) {
  const Message m = field_example();
  EXPECT_EQ(base_line(m, with(comp("example-dict"), "sf")), "\"example-dict\";sf: a=1, b=2;x=1;y=2, c=(a b c)");
  // Repeated lines are combined into one Dictionary before serialization.
  Message two = m;
  two.headers.emplace_back("Example-Dict", "d=?0,  e");
  EXPECT_EQ(base_line(two, with(comp("example-dict"), "sf")),
            "\"example-dict\";sf: a=1, b=2;x=1;y=2, c=(a b c), d=?0, e");
}

TEST(HttpSigRfcExamples, DictionaryMembers) {
  Message m = field_example();
  m.headers = {{"Example-Dict", " a=1, b=2;x=1;y=2, c=(a   b    c), d"}};
  const auto key = [](std::string k) { return with(comp("example-dict"), "key", std::move(k)); };
  EXPECT_EQ(base_line(m, key("a")), "\"example-dict\";key=\"a\": 1");
  EXPECT_EQ(base_line(m, key("d")), "\"example-dict\";key=\"d\": ?1");
  EXPECT_EQ(base_line(m, key("b")), "\"example-dict\";key=\"b\": 2;x=1;y=2");
  EXPECT_EQ(base_line(m, key("c")), "\"example-dict\";key=\"c\": (a b c)");
  EXPECT_EQ(line_error(m, key("zz")), "signature base: dictionary key not found");
  // Several keys of one field in one signature, in any order.
  const std::string base = signature_base(m, make_params({key("c"), key("a")}, {.created = 1}));
  EXPECT_EQ(base,
            "\"example-dict\";key=\"c\": (a b c)\n"
            "\"example-dict\";key=\"a\": 1\n"
            "\"@signature-params\": (\"example-dict\";key=\"c\" \"example-dict\";key=\"a\");created=1");
}

TEST(HttpSigRfcExamples, BinaryWrappedFields) {
  Message two;
  two.headers = {{"Example-Header", "value, with, lots"}, {"Example-Header", "of, commas"}};
  Message one;
  one.headers = {{"Example-Header", "value, with, lots, of, commas"}};
  EXPECT_EQ(base_line(two, comp("example-header")), "\"example-header\": value, with, lots, of, commas");
  EXPECT_EQ(base_line(one, comp("example-header")), "\"example-header\": value, with, lots, of, commas");
  EXPECT_EQ(base_line(two, with(comp("example-header"), "bs")),
            "\"example-header\";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:");
  EXPECT_EQ(base_line(one, with(comp("example-header"), "bs")),
            "\"example-header\";bs: :dmFsdWUsIHdpdGgsIGxvdHMsIG9mLCBjb21tYXM=:");
  // bs carries bytes a plain value may not: here a non-ASCII value.
  Message latin;
  latin.headers = {{"X-Name", " caf\xe9 "}};
  EXPECT_EQ(base_line(latin, with(comp("x-name"), "bs")), "\"x-name\";bs: :Y2Fm6Q==:");
  EXPECT_EQ(line_error(latin, comp("x-name")), "signature base: bad character in a component value");
}

// ---- §2.2: derived components ----------------------------------------------------------------

Message request(std::string method, std::string target, std::string scheme = "https",
                std::string authority = "www.example.com") {
  Message m;
  m.method = std::move(method);
  m.target = std::move(target);
  m.scheme = std::move(scheme);
  m.authority = std::move(authority);
  m.headers = {{"Host", m.authority}};
  return m;
}

TEST(HttpSigRfcExamples, MethodTargetUriAuthorityScheme) {
  const Message m = request("POST", "/path?param=value");
  EXPECT_EQ(base_line(m, comp("@method")), "\"@method\": POST");
  EXPECT_EQ(base_line(m, comp("@target-uri")), "\"@target-uri\": https://www.example.com/path?param=value");
  EXPECT_EQ(base_line(m, comp("@authority")), "\"@authority\": www.example.com");
  EXPECT_EQ(base_line(request("POST", "/path?param=value", "http"), comp("@scheme")), "\"@scheme\": http");
  EXPECT_EQ(base_line(m, comp("@request-target")), "\"@request-target\": /path?param=value");
  EXPECT_EQ(base_line(request("GET", "/path?param=value"), comp("@path")), "\"@path\": /path");
  // The method keeps its case (§2.2.1); scheme and authority are normalized (§2.2.3-4).
  EXPECT_EQ(base_line(request("get", "/"), comp("@method")), "\"@method\": get");
  EXPECT_EQ(base_line(request("GET", "/", "HTTPS"), comp("@scheme")), "\"@scheme\": https");
}

TEST(HttpSigRfcExamples, RequestTargetForms) {
  const Message absolute = request("GET", "https://www.example.com/path?param=value");
  EXPECT_EQ(base_line(absolute, comp("@request-target")),
            "\"@request-target\": https://www.example.com/path?param=value");
  EXPECT_EQ(base_line(absolute, comp("@target-uri")), "\"@target-uri\": https://www.example.com/path?param=value");
  EXPECT_EQ(base_line(absolute, comp("@path")), "\"@path\": /path");
  EXPECT_EQ(base_line(absolute, comp("@query")), "\"@query\": ?param=value");
  EXPECT_EQ(base_line(request("CONNECT", "www.example.com:80"), comp("@request-target")),
            "\"@request-target\": www.example.com:80");
  EXPECT_EQ(base_line(request("OPTIONS", "*"), comp("@request-target")), "\"@request-target\": *");
  EXPECT_EQ(line_error(request("OPTIONS", "*"), comp("@path")), "signature base: no path in the request target");
  EXPECT_EQ(line_error(request("CONNECT", "www.example.com:80"), comp("@target-uri")),
            "signature base: no path in the request target");
}

TEST(HttpSigRfcExamples, PathAndQuery) {
  EXPECT_EQ(base_line(request("GET", "/path?param=value&foo=bar&baz=bat%2Dman"), comp("@query")),
            "\"@query\": ?param=value&foo=bar&baz=bat%2Dman");
  EXPECT_EQ(base_line(request("POST", "/path?queryString"), comp("@query")), "\"@query\": ?queryString");
  // No query at all, and an empty one, both give "?" (§2.2.7).
  EXPECT_EQ(base_line(request("GET", "/path"), comp("@query")), "\"@query\": ?");
  EXPECT_EQ(base_line(request("GET", "/path?"), comp("@query")), "\"@query\": ?");
  // Paths are not decoded; an empty path is "/" (§2.2.6).
  EXPECT_EQ(base_line(request("GET", "/a%20b/c"), comp("@path")), "\"@path\": /a%20b/c");
  EXPECT_EQ(base_line(request("GET", "https://www.example.com?x=1"), comp("@path")), "\"@path\": /");
  EXPECT_EQ(base_line(request("GET", "https://www.example.com"), comp("@query")), "\"@query\": ?");
}

Component query_param(std::string name) { return with(comp("@query-param"), "name", std::move(name)); }

TEST(HttpSigRfcExamples, QueryParameters) {
  const Message m = request("GET", "/path?param=value&foo=bar&baz=batman&qux=");
  EXPECT_EQ(base_line(m, query_param("baz")), "\"@query-param\";name=\"baz\": batman");
  EXPECT_EQ(base_line(m, query_param("qux")), "\"@query-param\";name=\"qux\": ");
  EXPECT_EQ(base_line(m, query_param("param")), "\"@query-param\";name=\"param\": value");

  const Message enc = request("GET",
                              "/parameters?var=this%20is%20a%20big%0Amultiline%20value&"
                              "bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something");
  EXPECT_EQ(base_line(enc, query_param("var")),
            "\"@query-param\";name=\"var\": this%20is%20a%20big%0Amultiline%20value");
  EXPECT_EQ(base_line(enc, query_param("bar")), "\"@query-param\";name=\"bar\": with%20plus%20whitespace");
  EXPECT_EQ(base_line(enc, query_param("fa%C3%A7ade%22%3A%20")),
            "\"@query-param\";name=\"fa%C3%A7ade%22%3A%20\": something");
}

TEST(HttpSigQueryParam, EncodingDetails) {
  // Decoded then re-encoded: unreserved escapes are undone, others normalized to upper case.
  const Message m = request("GET", "/p?baz=bat%2Dman&a%2fb=%7e&x=%zz%4&=empty-name&&flag&sp=a+b%2B");
  EXPECT_EQ(base_line(m, query_param("baz")), "\"@query-param\";name=\"baz\": bat-man");
  EXPECT_EQ(base_line(m, query_param("a%2Fb")), "\"@query-param\";name=\"a%2Fb\": %7E");
  EXPECT_EQ(base_line(m, query_param("x")), "\"@query-param\";name=\"x\": %25zz%254");
  EXPECT_EQ(base_line(m, query_param("")), "\"@query-param\";name=\"\": empty-name");
  EXPECT_EQ(base_line(m, query_param("flag")), "\"@query-param\";name=\"flag\": ");
  EXPECT_EQ(base_line(m, query_param("sp")), "\"@query-param\";name=\"sp\": a%20b%2B");
  // Invalid UTF-8 becomes U+FFFD, as WHATWG form decoding does; valid UTF-8 passes through.
  const Message utf = request("GET", "/p?bad=%FF%C3&ok=%E2%82%AC&trunc=%F0%9F%98");
  EXPECT_EQ(base_line(utf, query_param("bad")), "\"@query-param\";name=\"bad\": %EF%BF%BD%EF%BF%BD");
  EXPECT_EQ(base_line(utf, query_param("ok")), "\"@query-param\";name=\"ok\": %E2%82%AC");
  EXPECT_EQ(base_line(utf, query_param("trunc")), "\"@query-param\";name=\"trunc\": %EF%BF%BD");
  // Absent or repeated names are refused (§2.2.8).
  EXPECT_EQ(line_error(m, query_param("nope")), "signature base: query parameter not found");
  EXPECT_EQ(line_error(request("GET", "/p"), query_param("a")), "signature base: query parameter not found");
  EXPECT_EQ(line_error(request("GET", "/p?a=1&b=2&a=3"), query_param("a")), "signature base: repeated query parameter");
  EXPECT_EQ(line_error(request("GET", "/p?a=1"), comp("@query-param")), "signature base: @query-param without a name");
  EXPECT_EQ(line_error(request("GET", "/p?a=1"), with(comp("@query-param"), "name", sfv::Token{"a"})),
            "signature base: bad component parameter");
}

TEST(HttpSigAuthority, Normalization) {
  EXPECT_EQ(base_line(request("GET", "/", "https", "Example.COM:443"), comp("@authority")),
            "\"@authority\": example.com");
  EXPECT_EQ(base_line(request("GET", "/", "http", "example.com:80"), comp("@authority")),
            "\"@authority\": example.com");
  EXPECT_EQ(base_line(request("GET", "/", "http", "example.com:443"), comp("@authority")),
            "\"@authority\": example.com:443");
  EXPECT_EQ(base_line(request("GET", "/", "https", "127.0.0.1:8443"), comp("@authority")),
            "\"@authority\": 127.0.0.1:8443");
  EXPECT_EQ(base_line(request("GET", "/", "https", "[::1]:443"), comp("@authority")), "\"@authority\": [::1]");
  EXPECT_EQ(base_line(request("GET", "/x?y", "HTTPS", "Example.com:443"), comp("@target-uri")),
            "\"@target-uri\": https://example.com/x?y");
}

TEST(HttpSigRfcExamples, Status) {
  Message r;
  r.status = 200;
  r.headers = {{"Date", "Fri, 26 Mar 2010 00:05:00 GMT"}};
  EXPECT_EQ(base_line(r, comp("@status")), "\"@status\": 200");
}

// ---- §2.3, §2.4, §2.5: whole signature bases from the RFC text -----------------------------

TEST(HttpSigRfcExamples, SignatureParamsValue) {
  const std::string value = R"(("@target-uri" "@authority" "date" "cache-control");keyid="test-key-rsa-pss";)"
                            R"(alg="rsa-pss-sha512";created=1618884475;expires=1618884775)";
  const SignatureParams p = input_for("sig1=" + value, "sig1");
  EXPECT_EQ(p.alg, "rsa-pss-sha512");
  EXPECT_EQ(p.expires, 1618884775);
  // Parameter order is preserved, not normalized.
  EXPECT_EQ(signature_input_member("sig1", p), "sig1=" + value);
  const std::string base = signature_base(field_example(), p);
  EXPECT_EQ(base.substr(base.rfind('\n') + 1), "\"@signature-params\": " + value);
}

TEST(HttpSigRfcExamples, CreatingTheSignatureBase) {
  const Message m = parse_http(vec("test-request.http"));
  const SignatureParams p =
      input_for(R"(sig1=("@method" "@authority" "@path" "content-digest" "content-length" "content-type"))"
                R"(;created=1618884473;keyid="test-key-rsa-pss")",
                "sig1");
  EXPECT_EQ(signature_base(m, p),
            "\"@method\": POST\n"
            "\"@authority\": example.com\n"
            "\"@path\": /foo\n"
            "\"content-digest\": "
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n"
            "\"content-length\": 18\n"
            "\"content-type\": application/json\n"
            "\"@signature-params\": (\"@method\" \"@authority\" \"@path\" \"content-digest\" \"content-length\" "
            "\"content-type\");created=1618884473;keyid=\"test-key-rsa-pss\"");
}

Message rfc_503_response(const Message& req) {
  Message r = parse_http(
      "HTTP/1.1 503 Service Unavailable\n"
      "Date: Tue, 20 Apr 2021 02:07:56 GMT\n"
      "Content-Type: application/json\n"
      "Content-Length: 62\n"
      "Content-Digest: "
      "sha-512=:0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg==:\n"
      "\n"
      "{\"busy\": true, \"message\": \"Your call is very important to us\"}");
  r.request = &req;
  return r;
}

TEST(HttpSigRfcExamples, RequestComponentsInAResponse) {
  const Message req = parse_http(vec("test-request.http"));
  const Message res = rfc_503_response(req);
  EXPECT_EQ(content_digest_sha512(as_bytes("{\"busy\": true, \"message\": \"Your call is very important to us\"}")),
            *field_value(res, "content-digest"));
  const std::string input =
      R"(reqres=("@status" "content-digest" "content-type" "@authority";req "@method";req "@path";req )"
      R"("@query";req "content-digest";req "content-type";req "content-length";req))"
      R"(;created=1618884479;keyid="test-key-ecc-p256")";
  EXPECT_EQ(
      signature_base(res, input_for(input, "reqres")),
      "\"@status\": 503\n"
      "\"content-digest\": "
      "sha-512=:0Y6iCBzGg5rZtoXS95Ijz03mslf6KAMCloESHObfwnHJDbkkWWQz6PhhU9kxsTbARtY2PTBOzq24uJFpHsMuAg==:\n"
      "\"content-type\": application/json\n"
      "\"@authority\";req: example.com\n"
      "\"@method\";req: POST\n"
      "\"@path\";req: /foo\n"
      "\"@query\";req: ?param=Value&Pet=dog\n"
      "\"content-digest\";req: "
      "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n"
      "\"content-type\";req: application/json\n"
      "\"content-length\";req: 18\n"
      "\"@signature-params\": (\"@status\" \"content-digest\" \"content-type\" \"@authority\";req \"@method\";req "
      "\"@path\";req \"@query\";req \"content-digest\";req \"content-type\";req \"content-length\";req)"
      ";created=1618884479;keyid=\"test-key-ecc-p256\"");
  // The same name with and without req is two distinct components (§2.4).
  const std::string both =
      signature_base(res, make_params({comp("content-type"), with(comp("content-type"), "req")}, {}));
  EXPECT_EQ(both,
            "\"content-type\": application/json\n\"content-type\";req: application/json\n"
            "\"@signature-params\": (\"content-type\" \"content-type\";req)");
}

// ---- signing API -----------------------------------------------------------------------------

TEST(HttpSigSigning, MakeParamsOrderAndMembers) {
  const SignatureParams p = make_params({comp("@method"), comp("@authority"), comp("@path"), comp("content-digest")},
                                        {.created = 1700000000,
                                         .expires = 1700000300,
                                         .nonce = "n0nce",
                                         .alg = "rsa-pss-sha512",
                                         .keyid = "0b0c5ad2-6b8c-4b8e-9d2f-3e1f5c7a9b10",
                                         .tag = "minihttps"});
  EXPECT_EQ(signature_input_member("sig1", p),
            R"(sig1=("@method" "@authority" "@path" "content-digest");created=1700000000;expires=1700000300;)"
            R"(nonce="n0nce";alg="rsa-pss-sha512";keyid="0b0c5ad2-6b8c-4b8e-9d2f-3e1f5c7a9b10";tag="minihttps")");
  const SignatureParams minimal = make_params({comp("@method")}, {.created = 5, .keyid = "k"});
  EXPECT_EQ(signature_input_member("sig1", minimal), R"(sig1=("@method");created=5;keyid="k")");
  EXPECT_EQ(signature_member("sig1", to_bytes("abc")), "sig1=:YWJj:");
  EXPECT_EQ(error_of([&] { signature_member("Sig1", to_bytes("abc")); }), "structured field: bad key");
  EXPECT_EQ(error_of([&] { signature_input_member("sig1", make_params({}, {.nonce = "bad\nnonce"})); }),
            "structured field: bad character in string");

  // A signer's params round-trip through the header to identical verifier params and base.
  const Message m = parse_http(vec("test-request.http"));
  const SignatureParams parsed = input_for(signature_input_member("sig1", p), "sig1");
  EXPECT_EQ(parsed.components, p.components);
  EXPECT_EQ(parsed.raw, p.raw);
  EXPECT_EQ(parsed.nonce, "n0nce");
  EXPECT_EQ(parsed.tag, "minihttps");
  EXPECT_EQ(signature_base(m, parsed), signature_base(m, p));
}

TEST(HttpSigSigning, UnknownSignatureParametersAreKept) {
  const SignatureParams p = input_for(R"(sig1=("@method");created=1;x-custom=?0;keyid="k")", "sig1");
  EXPECT_EQ(signature_base(request("GET", "/"), p),
            "\"@method\": GET\n\"@signature-params\": (\"@method\");created=1;x-custom=?0;keyid=\"k\"");
}

// ---- refusals --------------------------------------------------------------------------------

TEST(HttpSigErrors, ParseSignatureInput) {
  const auto err = [](std::string_view v) { return error_of([&] { parse_signature_input(v); }); };
  EXPECT_EQ(err("sig1=1"), "signature-input: member is not an inner list");
  EXPECT_EQ(err("sig1"), "signature-input: member is not an inner list");
  EXPECT_EQ(err("sig1=(@method)"), "structured field: expected an item");
  EXPECT_EQ(err("sig1=(method)"), "signature-input: component is not a string");
  EXPECT_EQ(err(R"(sig1=("@method");created="1")"), "signature-input: created is not an integer");
  EXPECT_EQ(err(R"(sig1=("@method");expires=1.5)"), "signature-input: expires is not an integer");
  EXPECT_EQ(err(R"(sig1=("@method");keyid=k)"), "signature-input: keyid is not a string");
  EXPECT_EQ(err(R"(sig1=("@method");alg)"), "signature-input: alg is not a string");
  EXPECT_EQ(err(R"(sig1=("@method");nonce=1)"), "signature-input: nonce is not a string");
  EXPECT_EQ(err(R"(sig1=("@method");tag=:YQ==:)"), "signature-input: tag is not a string");
  EXPECT_EQ(err(R"(sig1=("@method"), )"), "structured field: empty dictionary member");
  EXPECT_TRUE(parse_signature_input("").empty());
}

TEST(HttpSigErrors, ParseSignature) {
  const auto err = [](std::string_view v) { return error_of([&] { parse_signature(v); }); };
  EXPECT_EQ(err(R"(sig1=("a"))"), "signature: member is not a byte sequence");
  EXPECT_EQ(err("sig1=YWJj"), "signature: member is not a byte sequence");
  EXPECT_EQ(err("sig1=:YWJj"), "structured field: unterminated byte sequence");
  const auto sigs = parse_signature("a=:YWJj:;p=1, b=::");
  ASSERT_EQ(sigs.size(), 2u);
  EXPECT_EQ(sigs[0].second, to_bytes("abc"));
  EXPECT_TRUE(sigs[1].second.empty());
}

TEST(HttpSigErrors, SignatureBaseRefusals) {
  const Message req = parse_http(vec("test-request.http"));
  Message res = parse_http(vec("test-response.http"));
  EXPECT_EQ(line_error(req, comp("x-missing")), "signature base: missing field x-missing");
  EXPECT_EQ(line_error(req, comp("@status")), "signature base: @status on a request");
  EXPECT_EQ(line_error(res, comp("@method")), "signature base: @method on a response");
  EXPECT_EQ(line_error(res, comp("@authority")), "signature base: @authority on a response");
  EXPECT_EQ(line_error(req, with(comp("@method"), "req")), "signature base: req on a request");
  EXPECT_EQ(line_error(res, with(comp("@method"), "req")), "signature base: req without the request");
  res.request = &req;
  EXPECT_EQ(base_line(res, with(comp("@method"), "req")), "\"@method\";req: POST");
  EXPECT_EQ(line_error(req, comp("@unknown")), "signature base: unknown derived component");
  EXPECT_EQ(line_error(req, comp("@signature-params")), "signature base: @signature-params cannot be covered");
  EXPECT_EQ(line_error(req, comp("Content-Type")), "signature base: bad component name");
  EXPECT_EQ(line_error(req, comp("")), "signature base: bad component name");
  EXPECT_EQ(line_error(req, comp("content type")), "signature base: bad component name");
  EXPECT_EQ(line_error(req, with(comp("content-type"), "foo")), "signature base: unknown component parameter");
  EXPECT_EQ(line_error(req, with(comp("@method"), "sf")), "signature base: unknown component parameter");
  EXPECT_EQ(line_error(req, with(comp("@path"), "name", std::string("x"))),
            "signature base: unknown component parameter");
  EXPECT_EQ(line_error(req, with(comp("content-type"), "tr")), "signature base: trailers are not supported");
  EXPECT_EQ(line_error(req, with(with(comp("content-digest"), "bs"), "sf")),
            "signature base: bs cannot be combined with sf or key");
  EXPECT_EQ(line_error(req, with(with(comp("content-digest"), "key", std::string("sha-512")), "bs")),
            "signature base: bs cannot be combined with sf or key");
  EXPECT_EQ(line_error(req, with(comp("content-type"), "sf")), "signature base: sf on a field of unknown type");
  EXPECT_EQ(line_error(req, with(comp("content-type"), "sf", false)), "signature base: bad component parameter");
  EXPECT_EQ(line_error(req, with(comp("content-type"), "key", sfv::Token{"a"})),
            "signature base: bad component parameter");
  // ;key on a value that is not a Dictionary reports the structured field error.
  EXPECT_EQ(line_error(req, with(comp("date"), "key", std::string("a"))), "structured field: bad key");
}

TEST(HttpSigErrors, DuplicateComponents) {
  const Message req = parse_http(vec("test-request.http"));
  const auto err = [&](std::vector<Component> c) {
    return error_of([&] { signature_base(req, make_params(std::move(c), {})); });
  };
  EXPECT_EQ(err({comp("@method"), comp("@path"), comp("@method")}), "signature base: duplicate component");
  EXPECT_EQ(err({comp("content-type"), comp("content-type")}), "signature base: duplicate component");
  // Parameter order does not make identifiers distinct (§2).
  Message dict = req;
  dict.headers.emplace_back("Example-Dict", "a=1");
  Component ab = with(with(comp("example-dict"), "key", std::string("a")), "sf");
  Component ba = with(with(comp("example-dict"), "sf"), "key", std::string("a"));
  EXPECT_EQ(error_of([&] { signature_base(dict, make_params({ab, ba}, {})); }), "signature base: duplicate component");
  // Different parameters are different components.
  EXPECT_EQ(signature_base(dict, make_params({ab, comp("example-dict")}, {})),
            "\"example-dict\";key=\"a\";sf: 1\n\"example-dict\": a=1\n"
            "\"@signature-params\": (\"example-dict\";key=\"a\";sf \"example-dict\")");
  // Also when the duplicate arrives in a Signature-Input.
  EXPECT_EQ(error_of([&] { signature_base(req, input_for(R"(s=("@path" "@path"))", "s")); }),
            "signature base: duplicate component");
}

TEST(HttpSigErrors, NewlinesAndControlCharacters) {
  Message req = parse_http(vec("test-request.http"));
  req.headers.emplace_back("X-Injected", "a\n\"@method\": GET");
  EXPECT_EQ(line_error(req, comp("x-injected")), "signature base: newline in a component value");
  EXPECT_EQ(line_error(req, with(comp("x-injected"), "bs")), "signature base: newline in a component value");
  req.headers.back().second = std::string("a\0b", 3);
  EXPECT_EQ(line_error(req, comp("x-injected")), "signature base: bad character in a component value");
  req.headers.back().second = "a\tb";  // HTAB inside a field value is field-content
  EXPECT_EQ(base_line(req, comp("x-injected")), "\"x-injected\": a\tb");
  // Derived components are checked too.
  EXPECT_EQ(line_error(request("GET", "/a\r\nb"), comp("@path")), "signature base: newline in a component value");
  EXPECT_EQ(line_error(request("GET\n", "/"), comp("@method")), "signature base: newline in a component value");
  EXPECT_EQ(line_error(request("GET", "/caf\xc3\xa9"), comp("@path")),
            "signature base: bad character in a component value");
  // A field that only appears in other messages is missing here.
  EXPECT_EQ(line_error(request("GET", "/"), comp("content-digest")), "signature base: missing field content-digest");
}

TEST(HttpSigErrors, MissingMessageParts) {
  EXPECT_EQ(line_error(request("", "/"), comp("@method")), "signature base: no method");
  EXPECT_EQ(line_error(request("GET", "/", "https", ""), comp("@authority")), "signature base: no authority");
  EXPECT_EQ(line_error(request("GET", "/", ""), comp("@scheme")), "signature base: no scheme");
  EXPECT_EQ(line_error(request("GET", ""), comp("@request-target")), "signature base: no request target");
  EXPECT_EQ(line_error(request("GET", ""), comp("@path")), "signature base: no path in the request target");
  Message bad_status;
  bad_status.status = 42;
  EXPECT_EQ(line_error(bad_status, comp("@status")), "signature base: bad status code");
}

TEST(HttpSigErrors, ParamsMustAgreeWithTheirRawForm) {
  const Message req = request("GET", "/");
  SignatureParams p = make_params({comp("@method")}, {.created = 1});
  p.components.push_back(comp("@path"));  // covered but not declared: never sign that
  EXPECT_EQ(error_of([&] { signature_base(req, p); }, Errc::internal),
            "signature base: signature parameters disagree with their raw form");
  p = make_params({comp("@method")}, {.created = 1});
  p.created = 2;  // a verifier would check one time while the signature covers another
  EXPECT_EQ(error_of([&] { signature_base(req, p); }, Errc::internal),
            "signature base: signature parameters disagree with their raw form");
  p = make_params({comp("@method")}, {.created = 1});
  p.keyid = "k";
  EXPECT_EQ(error_of([&] { signature_base(req, p); }, Errc::internal),
            "signature base: signature parameters disagree with their raw form");
}

}  // namespace
}  // namespace mh::httpsig
