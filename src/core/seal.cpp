#include "core/seal.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/stream.hpp"

namespace mh::seal {
namespace {

constexpr std::array<std::string_view, 5> kCoveredWhenPresent = {"minihttps-sealed", "range", "if-range",
                                                                 "if-none-match", "accept-signature"};
// Meaningful fields that a sealed request must carry inside its head, never outside (§5.1).
constexpr std::array<std::string_view, 8> kOnlyInsideTheSeal = {"range",
                                                                "if-range",
                                                                "if-none-match",
                                                                "if-match",
                                                                "if-modified-since",
                                                                "if-unmodified-since",
                                                                "accept-signature",
                                                                "content-digest"};
// Fields the server acts on inside a head; each may appear at most once.
constexpr std::array<std::string_view, 3> kUnderstoodInside = {"range", "if-range", "if-none-match"};

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

bool has_field(const httpsig::Message& m, std::string_view name) {
  return std::any_of(m.headers.begin(), m.headers.end(), [&](const auto& h) { return iequal(h.first, name); });
}

bool covers(const httpsig::SignatureParams& p, std::string_view name) {
  return std::any_of(p.components.begin(), p.components.end(),
                     [&](const httpsig::Component& c) { return c.name == name && c.params.empty(); });
}

[[noreturn]] void broken_head(const std::string& why) { throw Error(Errc::integrity, "response head: " + why); }

std::string decimal(std::uint64_t v) { return std::to_string(v); }

// Decimal without sign or leading zeros, fitting 64 bits.
std::uint64_t parse_decimal(std::string_view field, std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || (s.size() > 1 && s[0] == '0'))
    broken_head(std::string(field) + " is not a decimal integer");
  return v;
}

}  // namespace

std::string keyid_text(const KeyId& id) { return base64_encode(id, Alphabet::url, false); }

std::optional<KeyId> parse_keyid(std::string_view s) {
  if (s.size() != 22) return std::nullopt;
  try {
    const Bytes b = base64_decode(s, Alphabet::url, Padding::forbidden);
    if (b.size() != 16) return std::nullopt;
    KeyId id{};
    std::copy(b.begin(), b.end(), id.begin());
    return id;
  } catch (const Error&) { return std::nullopt; }
}

Freshness Freshness::fresh(std::int64_t now) {
  return Freshness{now, base64_encode(random_bytes(16), Alphabet::url, false)};
}

std::span<const std::string_view> covered_when_present() { return kCoveredWhenPresent; }

Signed sign(const Credentials& c, httpsig::Message& msg, const Freshness& f) {
  std::vector<httpsig::Component> covered = {{"@method", {}}, {"@authority", {}}, {"@path", {}}};
  if (msg.target.find('?') != std::string::npos) covered.push_back({"@query", {}});
  for (std::string_view name : kCoveredWhenPresent)
    if (has_field(msg, name)) covered.push_back({std::string(name), {}});
  const auto params = httpsig::make_params(
      std::move(covered),
      {.created = f.created, .nonce = f.nonce, .alg = std::string(kAlg), .keyid = keyid_text(c.keyid)});
  Signed out;
  out.signature_base = httpsig::signature_base(msg, params);
  const Bytes signature = c.rsa.sign_pss_sha512(as_bytes(out.signature_base));
  out.binding = request_binding(out.signature_base, signature);
  msg.headers.emplace_back("Signature-Input", httpsig::signature_input_member(kLabel, params));
  msg.headers.emplace_back("Signature", httpsig::signature_member(kLabel, signature));
  return out;
}

httpsig::Message seal_request(const Credentials& c, const bhttp::Request& inner, std::string_view scheme,
                              std::string_view authority, const Freshness& f, Signed& out, const SealOptions& o) {
  const FernetKey head_key =
      c.secret.derive(KeyPurpose::request_head, head_binding(c.keyid, f.created, f.nonce), 0, true);
  const Bytes head = bhttp::encode(inner, o.pad_to);
  if (head.size() > kMaxHeadBytes) throw Error(Errc::bad_request, "sealed: the request head is too large");
  const std::string token =
      o.iv ? fernet_encrypt(head_key, head, f.created, *o.iv) : fernet_encrypt(head_key, head, f.created);
  httpsig::Message m{o.upgrade ? "GET" : "POST",
                     std::string(scheme),
                     std::string(authority),
                     std::string(kSealedPath),
                     std::nullopt,
                     {{std::string(kSealedField), token}},
                     nullptr};
  out = sign(c, m, f);
  return m;
}

std::optional<std::string> missing_coverage(const httpsig::Message& msg, const httpsig::SignatureParams& p) {
  for (const char* name : {"@method", "@authority", "@path"})
    if (!covers(p, name)) return std::string("must cover ") + name;
  if (msg.target.find('?') != std::string::npos && !covers(p, "@query")) return "must cover @query";
  for (std::string_view name : kCoveredWhenPresent)
    if (has_field(msg, name) && !covers(p, name)) return std::string(name) + " is present but not covered";
  return std::nullopt;
}

bool is_sealed(const httpsig::Message& msg) { return has_field(msg, kSealedField); }

void check_nothing_outside(const httpsig::Message& msg) {
  for (std::string_view name : kOnlyInsideTheSeal)
    if (has_field(msg, name))
      throw Error(Errc::bad_request, "sealed: " + std::string(name) + " must travel inside the seal");
  if (msg.target.find('?') != std::string::npos)
    throw Error(Errc::bad_request, "sealed: the query must travel inside the seal");
}

bhttp::Request open_request_head(const SessionSecret& secret, const KeyId& keyid, std::int64_t created,
                                 std::string_view nonce, std::string_view token, std::string_view authority) {
  if (token.size() > fernet_token_length(kMaxHeadBytes))
    throw Error(Errc::bad_request, "sealed: the request head is too large");
  const FernetKey key = secret.derive(KeyPurpose::request_head, head_binding(keyid, created, nonce), 0, true);
  Bytes plain;
  try {
    plain = fernet_decrypt(key, token, 0);
  } catch (const FernetError&) {
    throw Error(Errc::bad_request, "sealed: the request head does not open under this session");
  }
  bhttp::Request r = bhttp::decode_request(plain, bhttp::Limits{.max_bytes = kMaxHeadBytes});
  for (std::string_view name : kUnderstoodInside) {
    const auto n =
        std::count_if(r.fields.begin(), r.fields.end(), [&](const bhttp::Field& f) { return f.name == name; });
    if (n > 1) throw Error(Errc::bad_request, "sealed: " + std::string(name) + " appears more than once");
  }
  if (r.path.empty() || r.path[0] != '/') throw Error(Errc::bad_request, "sealed: the path must start with /");
  if (!r.authority.empty() && r.authority != authority)
    throw Error(Errc::bad_request, "sealed: the authority is not this server's Host");
  return r;
}

// ---- response head --------------------------------------------------------------------------------

bhttp::Response to_bhttp(const ResponseHead& h) {
  bhttp::Response r;
  r.status = h.status;
  if (h.content_type) r.fields.push_back({"content-type", *h.content_type});
  r.fields.push_back({"content-length", decimal(h.content_length)});
  if (h.content_range) r.fields.push_back({"content-range", *h.content_range});
  if (h.etag) r.fields.push_back({"etag", *h.etag});
  if (h.retry_after) r.fields.push_back({"retry-after", decimal(static_cast<std::uint64_t>(*h.retry_after))});
  if (h.chunks) {
    r.fields.push_back({"minihttps-chunk-size", decimal(h.chunks->size)});
    r.fields.push_back({"minihttps-first-chunk", decimal(h.chunks->first)});
    r.fields.push_back({"minihttps-last-chunk", decimal(h.chunks->last)});
  }
  return r;
}

ResponseHead from_bhttp(const bhttp::Response& r) {
  ResponseHead h;
  h.status = r.status;
  const auto get = [&](std::string_view name) -> std::optional<std::string> {
    const auto v = bhttp::find(r.fields, name);
    return v ? std::optional<std::string>(*v) : std::nullopt;
  };
  h.content_type = get("content-type");
  const auto length = get("content-length");
  if (!length) broken_head("no content-length");
  h.content_length = parse_decimal("content-length", *length);
  h.content_range = get("content-range");
  h.etag = get("etag");
  if (const auto ra = get("retry-after")) h.retry_after = static_cast<std::int64_t>(parse_decimal("retry-after", *ra));
  const auto size = get("minihttps-chunk-size"), first = get("minihttps-first-chunk"),
             last = get("minihttps-last-chunk");
  if (size || first || last) {
    if (!size || !first || !last) broken_head("the chunk fields come together or not at all");
    Chunks c;
    const std::uint64_t s = parse_decimal("minihttps-chunk-size", *size);
    if (!stream::valid_chunk_size(s)) broken_head("minihttps-chunk-size is not a valid chunk size");
    c.size = static_cast<std::uint32_t>(s);
    c.first = parse_decimal("minihttps-first-chunk", *first);
    c.last = parse_decimal("minihttps-last-chunk", *last);
    if (c.first > c.last) broken_head("the first chunk comes after the last");
    h.chunks = c;
  }
  return h;
}

std::string seal_response_head(const SessionSecret& secret, const Binding& b, const ResponseHead& h, std::int64_t now,
                               const std::optional<FernetIv>& iv) {
  const FernetKey key = secret.derive(KeyPurpose::response_head, b, 0, true);
  const Bytes head = bhttp::encode(to_bhttp(h));
  return iv ? fernet_encrypt(key, head, now, *iv) : fernet_encrypt(key, head, now);
}

ResponseHead open_response_head(const SessionSecret& secret, const Binding& b, std::string_view token) {
  if (token.size() > fernet_token_length(kMaxHeadBytes)) broken_head("too large");
  const FernetKey key = secret.derive(KeyPurpose::response_head, b, 0, true);
  Bytes plain;
  try {
    plain = fernet_decrypt(key, token, 0);
  } catch (const FernetError&) { throw Error(Errc::integrity, "the response head is not bound to this request"); }
  try {
    return from_bhttp(bhttp::decode_response(plain, bhttp::Limits{.max_bytes = kMaxHeadBytes}));
  } catch (const Error& e) {
    if (e.code() != Errc::bad_request) throw;
    broken_head(e.what());
  }
}

}  // namespace mh::seal
