#pragma once
// RFC 9421 HTTP Message Signatures: the signature base (§2), the Signature-Input and Signature
// fields (§4), and the RFC 9530 Content-Digest field (sha-512 only). No cryptography here: the
// caller signs or verifies signature_base() with the key the keyid names.
//
// Every refusal is Error(Errc::bad_request, "<area>: <short reason>"); area is "signature base",
// "signature-input", "signature", "content-digest" or "structured field" (from core/sfv.hpp).
//
// Choices where RFC 9421 leaves room:
//  * ;sf needs the field's type. Known Dictionaries: accept-signature, signature-input,
//    signature, content-digest, repr-digest, want-content-digest, want-repr-digest, priority,
//    and example-dict (the RFC's examples). Known Lists: cache-status, proxy-status. Any other
//    field with ;sf is refused rather than guessed.
//  * ;key treats the field as a Dictionary whatever its name (the parameter itself says so).
//  * ;tr (trailers) is refused: this implementation signs headers only.
//  * Obsolete line folding is not supported: a field value holding CR or LF is refused.
//  * @path, @query, @query-param and @target-uri need an origin-form ("/p?q") or absolute-form
//    ("https://h/p?q") request target; asterisk- and authority-form are refused for them.
//  * @query-param follows the RFC's examples: names and values are form-decoded ('+' is a space,
//    %XX a byte, invalid UTF-8 becomes U+FFFD as WHATWG does) and re-encoded with every byte
//    outside [A-Za-z0-9*-._] as %XX (so a space is "%20", not "+"). A name present twice is
//    refused (§2.2.8).
//  * Component names must be lowercase; derived names must be known; every component parameter
//    must be one this implementation understands (sf, key, bs, req; name for @query-param),
//    flags must be bare (true) booleans, key and name must be Strings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/sfv.hpp"

namespace mh::httpsig {

// One HTTP message as the signature base sees it.
struct Message {
  std::string method;         // requests: "GET" (case kept as sent)
  std::string scheme;         // "http" or "https"
  std::string authority;      // Host value, e.g. "example.com" or "127.0.0.1:8443"
  std::string target;         // request-target as sent: "/foo?param=Value&Pet=dog"
  std::optional<int> status;  // set for responses only; a Message without it is a request
  std::vector<std::pair<std::string, std::string>> headers;  // as received; any case, repeats
  const Message* request = nullptr;                          // for a response: its request (components with ;req)
};

// One covered component identifier: a name ("@method", "content-digest") and its parameters.
struct Component {
  std::string name;
  sfv::Parameters params;
  bool operator==(const Component&) const = default;  // exact, parameter order included
};

// Signature metadata for make_params(); the declaration order is the serialization order, so
// designated initializers read naturally: make_params(c, {.created = t, .keyid = id}).
// (The {} initializers keep -Wmissing-field-initializers quiet for the members left out.)
struct Metadata {
  std::optional<std::int64_t> created{}, expires{};
  std::optional<std::string> nonce{}, alg{}, keyid{}, tag{};
};

struct SignatureParams {
  std::vector<Component> components;
  std::optional<std::int64_t> created, expires;
  std::optional<std::string> nonce, alg, keyid, tag;
  // The Inner List exactly as parsed (or as make_params built it): re-serialized canonically
  // for the "@signature-params" line, so parameter order and unknown parameters survive.
  sfv::InnerList raw;
};

// For signers: components in the given order, then the present metadata parameters in the
// order created, expires, nonce, alg, keyid, tag.
SignatureParams make_params(std::vector<Component> components, const Metadata& meta);

// The Signature-Input dictionary: each member must be an Inner List of Strings; created and
// expires must be Integers, nonce/alg/keyid/tag Strings. Other parameters are kept in raw only.
std::vector<std::pair<std::string, SignatureParams>> parse_signature_input(std::string_view value);
// The Signature dictionary: each member must be a Byte Sequence.
std::vector<std::pair<std::string, Bytes>> parse_signature(std::string_view value);

// The signature base of RFC 9421 §2.5, byte for byte: one "identifier: value\n" line per covered
// component, then the "@signature-params" line (no trailing newline).
// params.components and params.raw must agree (Errc::internal otherwise).
std::string signature_base(const Message& msg, const SignatureParams& params);

// The field value of msg's header `name` as RFC 9421 §2.1 defines it: each line trimmed of
// SP/HTAB, lines joined with ", ". nullopt when absent. Refuses CR/LF and control characters.
std::optional<std::string> field_value(const Message& msg, std::string_view name);

// Members for the outgoing fields: 'sig1=("@method" ...);created=...' and 'sig1=:base64:'.
std::string signature_input_member(std::string_view label, const SignatureParams& params);
std::string signature_member(std::string_view label, ByteView signature);

// RFC 9530: "sha-512=:<base64 of SHA-512(body)>:".
std::string content_digest_sha512(ByteView body);
// The sha-512 digest of a Content-Digest field value; nullopt when it has no sha-512 member.
// A malformed field, or a sha-512 member that is not a 64-byte Byte Sequence, is refused.
std::optional<Bytes> content_digest_sha512_value(std::string_view value);

}  // namespace mh::httpsig
