#include "core/httpsig.hpp"

#include <algorithm>
#include <array>

#include "core/ascii.hpp"
#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"

namespace mh::httpsig {
namespace {

[[noreturn]] void fail(std::string_view why) { throw Error(Errc::bad_request, "signature base: " + std::string(why)); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

// Component values may hold visible ASCII, SP and (inside field values) HTAB, never a newline:
// a newline would let a value forge further lines of the signature base.
void check_value(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n') fail("newline in a component value");
    const auto u = static_cast<unsigned char>(c);
    if (c != '\t' && (u < 0x20 || u > 0x7e)) fail("bad character in a component value");
  }
}

// ---- component identifiers -------------------------------------------------------------------

bool is_field_name_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

constexpr std::array<std::string_view, 9> kDerived = {
    "@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query", "@query-param", "@status"};

bool is_derived(std::string_view name) noexcept { return !name.empty() && name.front() == '@'; }

void check_name(std::string_view name) {
  if (name == "@signature-params") fail("@signature-params cannot be covered");
  if (is_derived(name)) {
    if (std::find(kDerived.begin(), kDerived.end(), name) == kDerived.end()) fail("unknown derived component");
    return;
  }
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_field_name_char)) fail("bad component name");
}

// A flag parameter (sf, bs, req) is present only as a bare key, i.e. Boolean true.
bool flag(const Component& c, std::string_view key) {
  const sfv::BareItem* v = c.params.find(key);
  if (!v) return false;
  const bool* b = std::get_if<bool>(v);
  if (!b || !*b) fail("bad component parameter");
  return true;
}

// A String parameter (key, name), or nullopt when absent.
std::optional<std::string> string_param(const Component& c, std::string_view key) {
  const sfv::BareItem* v = c.params.find(key);
  if (!v) return std::nullopt;
  const auto* s = std::get_if<std::string>(v);
  if (!s) fail("bad component parameter");
  return *s;
}

void check_params(const Component& c) {
  const bool derived = is_derived(c.name);
  for (const auto& [key, value] : c.params.entries) {
    if (key == "req") continue;
    if (derived && key == "name" && c.name == "@query-param") continue;
    if (!derived && (key == "sf" || key == "key" || key == "bs")) continue;
    if (!derived && key == "tr") fail("trailers are not supported");
    fail("unknown component parameter");
  }
}

// Equality ignoring parameter order (§2: "foo";a;b and "foo";b;a are the same identifier).
bool same_identifier(const Component& a, const Component& b) {
  if (a.name != b.name || a.params.size() != b.params.size()) return false;
  for (const auto& [key, value] : a.params.entries) {
    const sfv::BareItem* other = b.params.find(key);
    if (!other || !(*other == value)) return false;
  }
  return true;
}

// ---- request target --------------------------------------------------------------------------

struct TargetParts {
  std::string_view path;
  std::optional<std::string_view> query;  // without the '?'
};

bool is_absolute_form(std::string_view target) noexcept {
  return !target.empty() && target.front() != '/' && target.find("://") != std::string_view::npos;
}

// Path and query of an origin-form or absolute-form target (RFC 9112 §3.2).
TargetParts split_target(std::string_view target) {
  std::string_view rest = target;
  if (is_absolute_form(rest)) {
    rest.remove_prefix(rest.find("://") + 3);
    const std::size_t end_of_authority = rest.find_first_of("/?");
    rest = end_of_authority == std::string_view::npos ? std::string_view() : rest.substr(end_of_authority);
  } else if (rest.empty() || rest.front() != '/') {
    fail("no path in the request target");
  }
  TargetParts out;
  const std::size_t q = rest.find('?');
  out.path = rest.substr(0, q);
  if (q != std::string_view::npos) out.query = rest.substr(q + 1);
  return out;
}

std::string normalized_scheme(const Message& m) {
  if (m.scheme.empty()) fail("no scheme");
  return lower(m.scheme);
}

// RFC 9110 §4.2.3: lowercase host, default port omitted.
std::string normalized_authority(const Message& m) {
  if (m.authority.empty()) fail("no authority");
  std::string a = lower(m.authority);
  const std::string scheme = lower(m.scheme);
  const std::string_view default_port = scheme == "http" ? ":80" : scheme == "https" ? ":443" : "";
  if (!default_port.empty() && a.size() > default_port.size() && a.ends_with(default_port))
    a.resize(a.size() - default_port.size());
  return a;
}

// ---- @query-param: application/x-www-form-urlencoded decode and re-encode --------------------

// WHATWG "percent-decode" after '+' -> SP; a '%' not followed by two hex digits stays literal.
std::string form_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// WHATWG "UTF-8 decode without BOM" then re-encode: valid sequences are kept, each maximal
// invalid subpart becomes U+FFFD (EF BF BD), exactly as a browser's URLSearchParams would.
std::string utf8_with_replacement(std::string_view in) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b <= 0x7F) {
      out += in[i++];
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      out += kReplacement;
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    for (std::size_t k = 0; k < need; ++k, ++j) {
      if (j >= in.size()) break;
      const auto c = static_cast<unsigned char>(in[j]);
      if (c < lo || c > hi) break;
      lo = 0x80;
      hi = 0xBF;
    }
    if (j - i == need + 1) {
      out.append(in.substr(i, need + 1));
    } else {
      out += kReplacement;  // the offending byte (if any) is examined again as a new start
    }
    i = j;
  }
  return out;
}

// "percent-encode after encoding" with the application/x-www-form-urlencoded set, except that
// SP is written %20 as in RFC 9421 §2.2.8's example.
std::string form_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*' ||
                      c == '-' || c == '.' || c == '_';
    if (keep) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string form_canonical(std::string_view raw) { return form_escape(utf8_with_replacement(form_unescape(raw))); }

std::string query_param(const std::optional<std::string_view>& query, const std::string& name) {
  std::optional<std::string> found;
  std::string_view rest = query.value_or(std::string_view());
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (form_canonical(pair.substr(0, eq)) != name) continue;
    if (found) fail("repeated query parameter");
    found = form_canonical(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
  }
  if (!found) fail("query parameter not found");
  return *found;
}

// ---- component values ------------------------------------------------------------------------

bool is_request(const Message& m) noexcept { return !m.status.has_value(); }

std::string derived_value(const Message& m, const Component& c) {
  const std::string_view name = c.name;
  if (name == "@status") {
    if (is_request(m)) fail("@status on a request");
    if (*m.status < 100 || *m.status > 999) fail("bad status code");
    return std::to_string(*m.status);
  }
  if (!is_request(m)) fail(std::string(name) + " on a response");
  if (name == "@method") {
    if (m.method.empty()) fail("no method");
    return m.method;
  }
  if (name == "@scheme") return normalized_scheme(m);
  if (name == "@authority") return normalized_authority(m);
  if (name == "@request-target") {
    if (m.target.empty()) fail("no request target");
    return m.target;
  }
  const TargetParts parts = split_target(m.target);
  if (name == "@path") return parts.path.empty() ? "/" : std::string(parts.path);
  if (name == "@query") return "?" + std::string(parts.query.value_or(""));
  if (name == "@query-param") {
    const std::optional<std::string> wanted = string_param(c, "name");
    if (!wanted) fail("@query-param without a name");
    return query_param(parts.query, *wanted);
  }
  // @target-uri
  if (is_absolute_form(m.target)) return m.target;
  return normalized_scheme(m) + "://" + normalized_authority(m) + m.target;
}

// Field lines of `name`, each trimmed; refuses newlines always and other bytes unless `raw_bytes`.
std::vector<std::string_view> field_lines(const Message& m, std::string_view name, bool raw_bytes) {
  std::vector<std::string_view> lines;
  for (const auto& [n, v] : m.headers) {
    if (!iequals(n, name)) continue;
    const std::string_view line = trim(v);
    if (raw_bytes) {
      if (line.find_first_of("\r\n") != std::string_view::npos) fail("newline in a component value");
    } else {
      check_value(line);
    }
    lines.push_back(line);
  }
  return lines;
}

std::string join(const std::vector<std::string_view>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) out += ", ";
    out += lines[i];
  }
  return out;
}

enum class SfType { unknown, list, dictionary };

SfType structured_type(std::string_view name) noexcept {
  static constexpr std::string_view kDictionaries[] = {"accept-signature", "content-digest",      "example-dict",
                                                       "priority",         "repr-digest",         "signature",
                                                       "signature-input",  "want-content-digest", "want-repr-digest"};
  static constexpr std::string_view kLists[] = {"cache-status", "proxy-status"};
  for (auto d : kDictionaries)
    if (d == name) return SfType::dictionary;
  for (auto l : kLists)
    if (l == name) return SfType::list;
  return SfType::unknown;
}

std::string field_component_value(const Message& m, const Component& c) {
  const bool sf = flag(c, "sf");
  const bool bs = flag(c, "bs");
  const std::optional<std::string> key = string_param(c, "key");
  if (bs && (sf || key)) fail("bs cannot be combined with sf or key");

  const std::vector<std::string_view> lines = field_lines(m, c.name, bs);
  if (lines.empty()) fail("missing field " + c.name);

  if (bs) {  // §2.1.3: each line wrapped as a Byte Sequence, the List serialized strictly
    sfv::List list;
    for (std::string_view line : lines) list.emplace_back(sfv::Item{to_bytes(line), {}});
    return sfv::serialize(list);
  }
  const std::string combined = join(lines);
  if (key) {  // §2.1.2: one member, re-serialized
    const sfv::Dictionary dict = sfv::parse_dictionary(combined);
    const sfv::Member* member = dict.find(*key);
    if (!member) fail("dictionary key not found");
    return sfv::serialize(*member);
  }
  if (sf) {  // §2.1.1: strict re-serialization of a field of known type
    switch (structured_type(c.name)) {
      case SfType::dictionary: return sfv::serialize(sfv::parse_dictionary(combined));
      case SfType::list: return sfv::serialize(sfv::parse_list(combined));
      case SfType::unknown: break;
    }
    fail("sf on a field of unknown type");
  }
  return combined;
}

// The message a component reads from: the message itself, or with ;req the related request.
const Message& context_of(const Message& msg, const Component& c) {
  if (!flag(c, "req")) return msg;
  if (is_request(msg)) fail("req on a request");
  if (!msg.request || !is_request(*msg.request)) fail("req without the request");
  return *msg.request;
}

std::string component_value(const Message& msg, const Component& c) {
  check_name(c.name);
  check_params(c);
  const Message& m = context_of(msg, c);
  std::string value = is_derived(c.name) ? derived_value(m, c) : field_component_value(m, c);
  check_value(value);
  return value;
}

// ---- signature parameters --------------------------------------------------------------------

template <class T>
bool param_matches(const sfv::Parameters& p, std::string_view key, const std::optional<T>& v) {
  const sfv::BareItem* item = p.find(key);
  if (!v) return item == nullptr;
  const T* got = item ? std::get_if<T>(item) : nullptr;
  return got && *got == *v;
}

// signature_base() serializes raw but callers read the typed fields: they must say the same.
void check_consistent(const SignatureParams& p) {
  bool ok = p.raw.items.size() == p.components.size();
  for (std::size_t i = 0; ok && i < p.components.size(); ++i) {
    const sfv::Item& item = p.raw.items[i];
    const auto* name = std::get_if<std::string>(&item.value);
    ok = name && *name == p.components[i].name && item.params == p.components[i].params;
  }
  ok = ok && param_matches(p.raw.params, "created", p.created) && param_matches(p.raw.params, "expires", p.expires) &&
       param_matches(p.raw.params, "nonce", p.nonce) && param_matches(p.raw.params, "alg", p.alg) &&
       param_matches(p.raw.params, "keyid", p.keyid) && param_matches(p.raw.params, "tag", p.tag);
  if (!ok) throw Error(Errc::internal, "signature base: signature parameters disagree with their raw form");
}

[[noreturn]] void input_fail(const char* why) {
  throw Error(Errc::bad_request, std::string("signature-input: ") + why);
}

template <class T>
void read_param(const sfv::Parameters& p, std::string_view key, std::optional<T>& out, const char* why) {
  const sfv::BareItem* item = p.find(key);
  if (!item) return;
  const T* v = std::get_if<T>(item);
  if (!v) input_fail(why);
  out = *v;
}

SignatureParams params_from_inner_list(sfv::InnerList list) {
  SignatureParams p;
  for (const sfv::Item& item : list.items) {
    const auto* name = std::get_if<std::string>(&item.value);
    if (!name) input_fail("component is not a string");
    p.components.push_back(Component{*name, item.params});
  }
  read_param(list.params, "created", p.created, "created is not an integer");
  read_param(list.params, "expires", p.expires, "expires is not an integer");
  read_param(list.params, "nonce", p.nonce, "nonce is not a string");
  read_param(list.params, "alg", p.alg, "alg is not a string");
  read_param(list.params, "keyid", p.keyid, "keyid is not a string");
  read_param(list.params, "tag", p.tag, "tag is not a string");
  p.raw = std::move(list);
  return p;
}

}  // namespace

SignatureParams make_params(std::vector<Component> components, const Metadata& meta) {
  SignatureParams p;
  for (const Component& c : components) p.raw.items.push_back(sfv::Item{c.name, c.params});
  p.components = std::move(components);
  p.created = meta.created;
  p.expires = meta.expires;
  p.nonce = meta.nonce;
  p.alg = meta.alg;
  p.keyid = meta.keyid;
  p.tag = meta.tag;
  if (meta.created) p.raw.params.set("created", *meta.created);
  if (meta.expires) p.raw.params.set("expires", *meta.expires);
  if (meta.nonce) p.raw.params.set("nonce", *meta.nonce);
  if (meta.alg) p.raw.params.set("alg", *meta.alg);
  if (meta.keyid) p.raw.params.set("keyid", *meta.keyid);
  if (meta.tag) p.raw.params.set("tag", *meta.tag);
  return p;
}

std::vector<std::pair<std::string, SignatureParams>> parse_signature_input(std::string_view value) {
  sfv::Dictionary dict = sfv::parse_dictionary(value);
  std::vector<std::pair<std::string, SignatureParams>> out;
  for (auto& [label, member] : dict.entries) {
    auto* list = std::get_if<sfv::InnerList>(&member);
    if (!list) input_fail("member is not an inner list");
    out.emplace_back(label, params_from_inner_list(std::move(*list)));
  }
  return out;
}

std::vector<std::pair<std::string, Bytes>> parse_signature(std::string_view value) {
  sfv::Dictionary dict = sfv::parse_dictionary(value);
  std::vector<std::pair<std::string, Bytes>> out;
  for (auto& [label, member] : dict.entries) {
    auto* item = std::get_if<sfv::Item>(&member);
    auto* bytes = item ? std::get_if<Bytes>(&item->value) : nullptr;
    if (!bytes) throw Error(Errc::bad_request, "signature: member is not a byte sequence");
    out.emplace_back(label, std::move(*bytes));
  }
  return out;
}

std::string signature_base(const Message& msg, const SignatureParams& params) {
  check_consistent(params);
  std::string out;
  const auto& comps = params.components;
  for (std::size_t i = 0; i < comps.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j)
      if (same_identifier(comps[i], comps[j])) fail("duplicate component");
    const std::string value = component_value(msg, comps[i]);
    out += sfv::serialize(sfv::Item{comps[i].name, comps[i].params});
    out += ": ";
    out += value;
    out += '\n';
  }
  out += "\"@signature-params\": ";
  out += sfv::serialize(params.raw);
  return out;
}

std::optional<std::string> field_value(const Message& msg, std::string_view name) {
  const std::vector<std::string_view> lines = field_lines(msg, name, false);
  if (lines.empty()) return std::nullopt;
  return join(lines);
}

std::string signature_input_member(std::string_view label, const SignatureParams& params) {
  sfv::Dictionary d;
  d.entries.emplace_back(std::string(label), params.raw);
  return sfv::serialize(d);
}

std::string signature_member(std::string_view label, ByteView signature) {
  sfv::Dictionary d;
  d.entries.emplace_back(std::string(label), sfv::Item{Bytes(signature.begin(), signature.end()), {}});
  return sfv::serialize(d);
}

std::string content_digest_sha512(ByteView body) {
  const Sha512Digest d = sha512(body);
  return "sha-512=:" + base64_encode(d) + ":";
}

std::optional<Bytes> content_digest_sha512_value(std::string_view value) {
  const sfv::Dictionary dict = sfv::parse_dictionary(value);
  const sfv::Member* member = dict.find("sha-512");
  if (!member) return std::nullopt;
  const auto* item = std::get_if<sfv::Item>(member);
  const auto* bytes = item ? std::get_if<Bytes>(&item->value) : nullptr;
  if (!bytes) throw Error(Errc::bad_request, "content-digest: sha-512 is not a byte sequence");
  if (bytes->size() != Sha512Digest().size())
    throw Error(Errc::bad_request, "content-digest: sha-512 has the wrong length");
  return *bytes;
}

}  // namespace mh::httpsig
