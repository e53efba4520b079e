// Upload and commit requests (web/upload_service.hpp, docs/PROTOCOL.md §10): UploadService::handle
// for one verified client, as WebService::route_upload calls it, with a body sink fed as the HTTP
// server feeds it. Its request parsing (the path and the upload name, "?commit=ID", "?attempt=ID",
// Content-Length, the token-size bound) is file-local, so the target drives the public entry point
// with a FixedClock and a private temporary upload directory (no sockets, no Beast).
//
// The input is a short script of requests separated by a line "##" (at most kMaxRequests), each
// written like HTTP/1.1 without the version:
//     METHOD TARGET
//     Header: value            (OWS trimmed; lines end in \n or \r\n)
//                              (an empty line, then the body: the rest of this request)
// "{id}" in TARGET becomes the attempt id of the last successful PUT, so commits and discards of
// real attempts are reachable. Pseudo-headers, removed before the request is handled:
//     X-Fuzz-Encrypt: [SECONDS]  the body is plaintext: send its Fernet token under the session
//                                key, stamped SECONDS from now (default 0), IV from the input's Rng
//     X-Fuzz-Digest: none|bad    the signature covers no Content-Digest / a wrong one (default: the
//                                SHA-512 of the body as it arrives, as RequestVerifier would have
//                                required)
//     X-Fuzz-No-Length           no Content-Length is added (one is added, = body size, if absent)
// The body is what the server would read: the first Content-Length bytes, fed to the sink in
// input-derived pieces; a shorter one is "broken off" (abort()), as is a write that throws.
//
// A model (committed files, pending attempts) follows the documented rules, and every outcome is
// compared with it:
//  * Only paths "/uploads" and "/uploads/..." are the service's (owns); a path parse_request_path
//    refuses is refused with the same Errc and reason; more than one name segment is bad_request.
//  * GET/HEAD: "/uploads/" lists exactly the committed names and sizes; "/uploads/NAME" is 200 with
//    a token of exactly the committed bytes (304 only with If-None-Match), 404 if not committed.
//  * PUT: no Content-Length or any Transfer-Encoding -> bad_request; a decimal Content-Length is
//    the sink's limit; no covered digest -> forbidden; 413 at once exactly when the length exceeds
//    fernet_token_length(limit); 507 at once when the pending attempts are at their cap, when the
//    files + pending attempts are, or when the least plaintext a token of that length can carry
//    (capacity - 15, where the capacity is the largest n <= limit with fernet_token_length(n) <=
//    length), charged at least kMinCharge, exceeds what the quota has left (committed and pending
//    attempts charged the same way). A body that arrives whole and whose digest matches and
//    that fernet_decrypt (TTL 300 s) accepts is then 413 if its plaintext exceeds the limit, 507 if
//    its charge exceeds min(charge(capacity), what was left), and otherwise accepted; the answer's
//    size and cksum are those of the plaintext, and the attempt is then stored, invisible, with
//    exactly that plaintext.
//  * POST ?commit=ID of a pending attempt of the same name -> 201 and the file is committed (an
//    existing one replaced); a missing or empty ID -> bad_request; anything else -> not_found and
//    nothing changes. DELETE ?attempt=ID likewise drops an attempt (204 / not_found); any other
//    query is bad_request; a DELETE without a query removes a committed file (204 / not_found).
//    Other methods -> method_not_allowed.
//  * After every request the disk holds exactly the model: files/ the committed files with their
//    bytes, .attempts/ one "<id>.ready" per pending attempt and nothing else (no ".part" left by
//    a refused, forged or broken-off upload). Every refusal renders as an error response.

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "auth/registry.hpp"
#include "core/cksum.hpp"
#include "core/fernet.hpp"
#include "core/hash.hpp"
#include "core/path.hpp"
#include "core/rsa.hpp"
#include "fuzz_common.hpp"
#include "net/http_types.hpp"
#include "web/upload_service.hpp"

namespace {

using namespace mh;
using mh::fuzz::Rng;
namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kNow = 1700000000;
constexpr std::uint64_t kMaxUpload = 256;  // small, so the 413 and 507 edges are reachable
constexpr std::uint64_t kQuota = 640;
constexpr std::uint64_t kMinCharge = 64;  // the minimum charge per file and attempt (4096 by default)
constexpr std::size_t kMaxFiles = 6;      // files + pending attempts
constexpr std::size_t kMaxPending = 3;
constexpr std::int64_t kAttemptTimeout = 600;
constexpr std::int64_t kMaxTokenAge = 300;
constexpr std::size_t kMaxRequests = 8;
constexpr std::string_view kSeparator = "\n##\n";
constexpr std::string_view kNoAttempt = "upload: no such attempt (expired, discarded or never made)";

const FernetKey& session_key() {
  static const FernetKey k = [] {
    Bytes b(32);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(0xa0 + i);
    return FernetKey::from_bytes(b);
  }();
  return k;
}

std::shared_ptr<const auth::ClientRecord> client() {
  static const std::shared_ptr<const auth::ClientRecord> c = [] {
    const RsaPublicKey key = RsaPrivateKey::generate(2048).public_key();
    auto r = std::make_shared<auth::ClientRecord>(key);
    r->uuid = *Uuid::parse("0b5bd2a4-4f5e-4a4e-9c1e-1f0e2d3c4b5a");
    r->name = "alice";
    r->fingerprint = key.fingerprint();
    r->session_key = session_key();
    r->session_expires = kNow + 3600;
    return r;
  }();
  return c;
}

// The upload directory: one per process (removed at exit), emptied before every input.
struct TempDir {
  fs::path root;
  TempDir() {
    char tmpl[] = "/tmp/fuzz_upload_request.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    root = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

const fs::path& upload_dir() {
  static const TempDir tmp;
  static const fs::path dir = tmp.root / "uploads";
  return dir;
}

// The client's area, computed independently of the service: hex SHA-256 of its SPKI DER.
const fs::path& area() {
  static const fs::path a = upload_dir() / to_hex(sha256(client()->key.spki_der()));
  return a;
}

struct Script {
  net::Request req;
  std::optional<std::int64_t> encrypt_at;  // X-Fuzz-Encrypt
  std::string digest = "ok";               // X-Fuzz-Digest
  bool add_length = true;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One line off the front of `s` (without its \n or \r\n); false at the end.
bool next_line(std::string_view& s, std::string_view& line) {
  if (s.empty()) return false;
  const auto nl = s.find('\n');
  line = s.substr(0, nl);
  s.remove_prefix(nl == std::string_view::npos ? s.size() : nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

Script parse_script(std::string_view text, const std::string& last_id) {
  Script s;
  std::string_view line;
  next_line(text, line);
  const auto sp = line.find(' ');
  s.req.method = std::string(line.substr(0, sp));
  std::string target(sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1));
  for (std::size_t at; (at = target.find("{id}")) != std::string::npos;) target.replace(at, 4, last_id);
  s.req.target = std::move(target);
  while (next_line(text, line) && !line.empty()) {
    const auto colon = line.find(':');
    const std::string name(trim(line.substr(0, colon)));
    const std::string_view value = colon == std::string_view::npos ? std::string_view() : trim(line.substr(colon + 1));
    if (net::iequals(name, "X-Fuzz-Encrypt")) {
      std::int64_t offset = 0;
      std::from_chars(value.data(), value.data() + value.size(), offset);
      s.encrypt_at = kNow + std::clamp<std::int64_t>(offset, -1000000, 1000000);
    } else if (net::iequals(name, "X-Fuzz-Digest")) {
      s.digest = std::string(value);
    } else if (net::iequals(name, "X-Fuzz-No-Length")) {
      s.add_length = false;
    } else {
      s.req.headers.push_back({name, std::string(value)});
    }
  }
  s.req.body = std::string(text);
  return s;
}

// The largest plaintext a token of `length` characters can carry: the largest n with
// fernet_token_length(n) <= length (by bisection; the function is monotonic), or nullopt if none.
std::optional<std::uint64_t> capacity(std::uint64_t length) {
  if (fernet_token_length(0) > length) return std::nullopt;
  std::uint64_t lo = 0, hi = std::min<std::uint64_t>(length, std::uint64_t{1} << 60);
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo + 1) / 2;
    if (fernet_token_length(mid) <= length) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

std::optional<std::uint64_t> decimal(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}

struct Model {
  std::map<std::string, std::string> committed;                     // name -> bytes
  std::map<std::string, std::pair<std::string, std::string>> attempts;  // id -> (name, bytes)
  std::string last_id;

  static std::uint64_t charge(std::uint64_t size) { return std::max(size, kMinCharge); }
  std::uint64_t usage() const {
    std::uint64_t n = 0;
    for (const auto& [name, bytes] : committed) n += charge(bytes.size());
    for (const auto& [id, a] : attempts) n += charge(a.second.size());
    return n;
  }
};

// The outcome of one request: an answer, or a refusal.
struct Outcome {
  std::optional<net::Response> response;
  std::optional<Errc> refused;
  std::string reason;
};

void expect_refusal(const Outcome& o, Errc code, std::string_view reason = {}) {
  if (!o.refused || *o.refused != code || (!reason.empty() && o.reason != reason)) {
    std::fprintf(stderr, "\n==FUZZ== expected %s (%.*s), got %s (%s)\n", std::string(errc_name(code)).c_str(),
                 static_cast<int>(reason.size()), reason.data(),
                 o.refused ? std::string(errc_name(*o.refused)).c_str() : "an answer",
                 o.refused ? o.reason.c_str() : std::to_string(o.response->status).c_str());
    mh::fuzz::broken("the request has the documented outcome", __FILE__, __LINE__);
  }
}

const net::Response& expect_status(const Outcome& o, std::initializer_list<int> statuses) {
  const bool ok = o.response && std::find(statuses.begin(), statuses.end(), o.response->status) != statuses.end();
  if (!ok) {
    std::fprintf(stderr, "\n==FUZZ== expected status %d, got %s (%s)\n", *statuses.begin(),
                 o.refused ? std::string(errc_name(*o.refused)).c_str() : std::to_string(o.response->status).c_str(),
                 o.refused ? o.reason.c_str() : o.response->body.c_str());
    mh::fuzz::broken("the request has the documented outcome", __FILE__, __LINE__);
  }
  return *o.response;
}

json body_json(const net::Response& r) {
  MH_FUZZ_CHECK(net::find_header(r.headers, "Content-Type") == std::optional<std::string_view>("application/json"));
  const json j = json::parse(r.body, nullptr, false);
  MH_FUZZ_CHECK(j.is_object());
  return j;
}

// The plaintext of a 200 answer's Fernet stream, read in input-derived pieces.
std::string read_token(net::Response& r, Rng& rng) {
  MH_FUZZ_CHECK(r.stream != nullptr);
  const std::uint64_t size = r.stream->size();
  std::string token;
  std::vector<char> buf(4096);
  for (;;) {
    const std::size_t cap = static_cast<std::size_t>(rng.range(1, buf.size()));
    const std::size_t n = r.stream->read(buf.data(), cap);
    MH_FUZZ_CHECK(n <= cap);
    if (n == 0) break;
    token.append(buf.data(), n);
    MH_FUZZ_CHECK(token.size() <= size);
  }
  MH_FUZZ_CHECK(token.size() == size);
  const Bytes plain = fernet_decrypt(session_key(), token, kNow, 60);
  return std::string(as_chars(plain));
}

bool valid_id(std::string_view id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The disk is the model: committed files with their bytes, one "<id>.ready" per pending attempt.
void check_disk(const Model& m) {
  std::map<std::string, std::string> files, attempts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(area() / "files", ec)) files[e.path().filename()] = slurp(e.path());
  for (const auto& e : fs::directory_iterator(area() / ".attempts", ec)) attempts[e.path().filename()] = slurp(e.path());
  MH_FUZZ_CHECK(files == m.committed);
  std::map<std::string, std::string> want;
  for (const auto& [id, a] : m.attempts) want[id + ".ready"] = a.second;
  MH_FUZZ_CHECK(attempts == want);
  // Nothing but the client's own area.
  for (const auto& e : fs::directory_iterator(upload_dir(), ec)) MH_FUZZ_CHECK(e.path() == area());
}

// Feeds the body to the sink as the HTTP server does; returns the answer or the refusal.
Outcome stream_body(net::StreamBody& sb, std::string_view body, Rng& rng) {
  Outcome o;
  const std::string_view arriving = body.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(body.size(), sb.max_bytes)));
  try {
    std::size_t off = 0;
    for (const std::size_t n : rng.splits(arriving.size())) {
      sb.sink->write(arriving.substr(off, n));
      off += n;
    }
  } catch (const Error& e) {
    sb.sink->abort();
    o.refused = e.code();
    o.reason = e.what();
    return o;
  }
  if (arriving.size() < sb.max_bytes) {  // the body broke off
    sb.sink->abort();
    o.refused = Errc::network;
    o.reason = "broken off";
    return o;
  }
  try {
    o.response = sb.sink->finish();
  } catch (const Error& e) {
    o.refused = e.code();
    o.reason = e.what();
  }
  return o;
}

void check_get(Outcome& o, const Model& m, const net::Request& req, const RequestPath& p, const std::string& name,
               Rng& rng) {
  const bool conditional = req.header("If-None-Match").has_value();
  const bool head = req.method == "HEAD";
  std::optional<std::string> want;  // the answer's plaintext
  if (name.empty()) {
    json entries = json::array();
    for (const auto& [n, bytes] : m.committed) entries.push_back({{"name", n}, {"size", bytes.size()}});
    want = entries.dump();
  } else if (m.committed.count(name) && !p.trailing_slash) {
    want = m.committed.at(name);
  }
  if (!want) return expect_refusal(o, Errc::not_found);
  expect_status(o, {200, 304});
  net::Response& r = *o.response;
  MH_FUZZ_CHECK(r.status == 200 || conditional);
  if (r.status == 304) return;
  MH_FUZZ_CHECK(r.head_only == head);
  if (head) return;
  const std::string plain = read_token(r, rng);
  if (!name.empty()) return MH_FUZZ_CHECK(plain == *want);
  // A listing: exactly the committed names, with their sizes.
  const json j = json::parse(plain, nullptr, false);
  MH_FUZZ_CHECK(j.is_object() && j.contains("entries") && j["entries"].is_array());
  json got = json::array();
  for (const auto& e : j["entries"]) {
    MH_FUZZ_CHECK(e.is_object() && e.value("type", "") == "file" && e.contains("name") && e.contains("size"));
    got.push_back({{"name", e["name"]}, {"size", e["size"]}});
  }
  MH_FUZZ_CHECK(got.dump() == *want);
}

void check_put(Outcome& at_once, net::Dispatch& d, Model& m, const Script& s, const web::VerifiedRequest& v,
         const std::string& body, const std::string& name, Rng& rng) {
  const auto length = s.req.header("Content-Length");
  if (!length || s.req.header("Transfer-Encoding"))
    return expect_refusal(at_once, Errc::bad_request, "upload: the body needs a Content-Length (no chunked encoding)");
  std::uint64_t token_length = 0;
  if (const auto n = decimal(*length)) {
    token_length = *n;
  } else if (length->find_first_not_of("0123456789") == std::string_view::npos) {  // empty, or beyond 64 bits
    return expect_refusal(at_once, Errc::bad_request, "upload: bad Content-Length");
  } else {
    // Not a plain decimal: no HTTP parser lets that through. The service may refuse it or read it
    // leniently; it is then held to the number it read.
    if (at_once.refused) return;
    MH_FUZZ_CHECK(std::holds_alternative<net::StreamBody>(d));
    token_length = std::get<net::StreamBody>(d).max_bytes;
  }
  if (!v.content_digest)
    return expect_refusal(at_once, Errc::forbidden, "signature: must cover content-digest when there is a body");
  const std::string too_large = "upload: larger than the server's limit of " + std::to_string(kMaxUpload) + " bytes";
  const std::string over_quota = "upload: your quota of " + std::to_string(kQuota) + " bytes would be exceeded";
  if (token_length > fernet_token_length(kMaxUpload)) return expect_refusal(at_once, Errc::payload_too_large, too_large);
  if (m.attempts.size() >= kMaxPending)
    return expect_refusal(at_once, Errc::insufficient_storage, "upload: your limit of 3 pending attempts would be exceeded");
  if (m.committed.size() + m.attempts.size() >= kMaxFiles)
    return expect_refusal(at_once, Errc::insufficient_storage, "upload: your limit of 6 files would be exceeded");
  const std::uint64_t cap = std::min(capacity(token_length).value_or(0), kMaxUpload);
  const std::uint64_t room = m.usage() >= kQuota ? 0 : kQuota - m.usage();
  if (Model::charge(cap >= 15 ? cap - 15 : 0) > room)
    return expect_refusal(at_once, Errc::insufficient_storage, over_quota);
  const std::uint64_t held = std::min(Model::charge(cap), room);
  if (at_once.refused) {
    std::fprintf(stderr, "\n==FUZZ== PUT of a %llu-character token (capacity %llu bytes) refused: %s\n",
                 static_cast<unsigned long long>(token_length), static_cast<unsigned long long>(cap),
                 at_once.reason.c_str());
    mh::fuzz::broken("a PUT within the size limit and the quota is taken", __FILE__, __LINE__);
  }
  MH_FUZZ_CHECK(std::holds_alternative<net::StreamBody>(d));
  auto& sb = std::get<net::StreamBody>(d);
  MH_FUZZ_CHECK(sb.sink != nullptr && sb.max_bytes == token_length);
  Outcome o = stream_body(sb, body, rng);
  sb.sink.reset();
  if (body.size() < token_length) return MH_FUZZ_CHECK(o.refused.has_value());  // broken off

  const std::string_view arrived = std::string_view(body).substr(0, static_cast<std::size_t>(token_length));
  const Sha512Digest digest = sha512(as_bytes(arrived));
  const bool digest_ok = ct_equal(digest, *v.content_digest);
  std::optional<std::string> plain;
  try {
    plain = std::string(as_chars(fernet_decrypt(session_key(), arrived, kNow, kMaxTokenAge)));
  } catch (const FernetError&) {
  }
  // The size limits are checked on the plaintext as it is decrypted, before the digest and the MAC
  // (finish): a refusal for size can come only from plaintext beyond a limit, which a token that
  // verifies has only if its whole plaintext is.
  const bool size_refusal =
      o.refused && (*o.refused == Errc::payload_too_large || *o.refused == Errc::insufficient_storage);
  if (size_refusal) MH_FUZZ_CHECK(!plain || plain->size() > std::min(kMaxUpload, held));
  if (!digest_ok) {
    if (o.refused && *o.refused == Errc::integrity) return;  // the token failed while it streamed
    if (size_refusal) return;
    return expect_refusal(o, Errc::forbidden, "signature: body does not match content-digest");
  }
  if (!plain) {
    // More plaintext than promised can only come from a token that does not verify.
    if (size_refusal) return;
    return expect_refusal(o, Errc::integrity);
  }
  if (plain->size() > kMaxUpload) return expect_refusal(o, Errc::payload_too_large, too_large);
  if (Model::charge(plain->size()) > held) return expect_refusal(o, Errc::insufficient_storage, over_quota);
  const json j = body_json(expect_status(o, {200}));
  MH_FUZZ_CHECK(j.size() == 5 && j.contains("attempt") && j["attempt"].is_string());
  const std::string id = j["attempt"].get<std::string>();
  MH_FUZZ_CHECK(valid_id(id) && !m.attempts.count(id));
  MH_FUZZ_CHECK(j.value("name", json()) == name);
  MH_FUZZ_CHECK(j.value("size", json()) == plain->size());
  MH_FUZZ_CHECK(j.value("cksum", json()) == cksum(as_bytes(*plain)));
  MH_FUZZ_CHECK(j.value("expires", json()) == kNow + kAttemptTimeout);
  m.attempts[id] = {name, *plain};
  m.last_id = id;
}

// "?KEY=VALUE" at the start of the query: VALUE, or nullopt when absent or empty.
std::optional<std::string> query_param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  const std::string_view query = target.substr(q + 1);
  if (query.size() <= key.size() + 1 || query.substr(0, key.size()) != key || query[key.size()] != '=')
    return std::nullopt;
  return std::string(query.substr(key.size() + 1));
}

void run_request(web::UploadService& svc, Model& m, std::string_view text, Rng& rng) {
  Script s = parse_script(text, m.last_id);
  std::string body = s.req.body;
  if (s.encrypt_at) {
    FernetIv iv;
    for (auto& b : iv) b = static_cast<std::uint8_t>(rng.next());
    body = fernet_encrypt(session_key(), as_bytes(body), *s.encrypt_at, iv);
  }
  if (s.add_length && !s.req.header("Content-Length"))
    s.req.headers.push_back({"Content-Length", std::to_string(body.size())});
  s.req.body.clear();
  s.req.has_body = !body.empty();

  const std::string_view path = target_path(s.req.target);
  const bool owned = path == "/uploads" || path.substr(0, 9) == "/uploads/";
  MH_FUZZ_CHECK(web::UploadService::owns(path) == owned);
  if (!owned) return;  // WebService routes it elsewhere

  web::VerifiedRequest v;
  v.client = client();
  if (s.digest != "none") {
    // The digest of the body as it will arrive: its first Content-Length bytes.
    std::string_view signed_body = body;
    if (const auto cl = s.req.header("Content-Length"))
      if (const auto n = decimal(*cl); n && *n < signed_body.size()) signed_body = signed_body.substr(0, *n);
    const Sha512Digest dg = sha512(as_bytes(signed_body));
    v.content_digest = Bytes(dg.begin(), dg.end());
    if (s.digest != "ok") (*v.content_digest)[0] ^= 1;
  }

  Outcome at_once;
  net::Dispatch d;
  try {
    d = svc.handle(s.req, v);
    if (auto* r = std::get_if<net::Response>(&d)) at_once.response = std::move(*r);
    else MH_FUZZ_CHECK(std::holds_alternative<net::StreamBody>(d) && s.req.method == "PUT");
  } catch (const Error& e) {
    at_once.refused = e.code();
    at_once.reason = e.what();
    const net::Response r = net::error_response(e);  // every refusal renders
    MH_FUZZ_CHECK(r.status == http_status(e.code()));
  }

  // The expected outcome, from the documented rules.
  RequestPath p;
  try {
    p = parse_request_path(path);
  } catch (const Error& e) {
    return expect_refusal(at_once, e.code(), e.what());
  }
  MH_FUZZ_CHECK(!p.segments.empty() && p.segments[0] == "uploads");
  if (p.segments.size() > 2) return expect_refusal(at_once, Errc::bad_request, "upload: names are a single path segment");
  const std::string name = p.segments.size() == 2 ? p.segments[1] : "";
  const std::string& method = s.req.method;

  if (method == "GET" || method == "HEAD") return check_get(at_once, m, s.req, p, name, rng);
  if (name.empty()) return expect_refusal(at_once, Errc::method_not_allowed);
  if (method == "PUT") return check_put(at_once, d, m, s, v, body, name, rng);
  if (method == "POST") {
    const auto id = query_param(s.req.target, "commit");
    if (!id) return expect_refusal(at_once, Errc::bad_request, "upload: POST needs ?commit=ID");
    const auto it = m.attempts.find(*id);
    if (it == m.attempts.end() || it->second.first != name) return expect_refusal(at_once, Errc::not_found, kNoAttempt);
    const std::string bytes = it->second.second;
    const json j = body_json(expect_status(at_once, {201}));
    MH_FUZZ_CHECK(j == json({{"name", name}, {"size", bytes.size()}, {"cksum", cksum(as_bytes(bytes))}}));
    m.attempts.erase(it);
    m.committed[name] = bytes;
    return;
  }
  if (method == "DELETE") {
    if (const auto id = query_param(s.req.target, "attempt")) {
      const auto it = m.attempts.find(*id);
      if (it == m.attempts.end() || it->second.first != name)
        return expect_refusal(at_once, Errc::not_found, kNoAttempt);
      expect_status(at_once, {204});
      m.attempts.erase(it);
      return;
    }
    if (s.req.target.find('?') != std::string::npos)
      return expect_refusal(at_once, Errc::bad_request, "upload: DELETE takes ?attempt=ID or no query");
    if (!m.committed.count(name)) return expect_refusal(at_once, Errc::not_found, "upload: no such upload");
    expect_status(at_once, {204});
    m.committed.erase(name);
    return;
  }
  expect_refusal(at_once, Errc::method_not_allowed);
}

void run(const std::uint8_t* data, std::size_t size) {
  Rng rng(data, size);
  std::error_code ec;
  fs::remove_all(upload_dir(), ec);
  const FixedClock clock(kNow);
  web::UploadOptions o;
  o.dir = upload_dir();
  o.max_upload_size = kMaxUpload;
  o.quota = kQuota;
  o.min_charge = kMinCharge;
  o.max_files = kMaxFiles;
  o.max_pending = kMaxPending;
  o.attempt_timeout = kAttemptTimeout;
  o.max_token_age = kMaxTokenAge;
  web::UploadService svc(o, clock);
  Model m;
  std::string_view text = fuzz::text(data, size);
  for (std::size_t n = 0; n < kMaxRequests && !text.empty(); ++n) {
    const auto sep = text.find(kSeparator);
    run_request(svc, m, text.substr(0, sep), rng);
    check_disk(m);
    text.remove_prefix(sep == std::string_view::npos ? text.size() : sep + kSeparator.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
