// Upload and commit requests (web/upload_service.hpp, docs/PROTOCOL.md §8, docs/PROTOCOL.md
// §10): UploadService::handle for one verified client, as WebService calls it, with a body sink fed
// as the HTTP server feeds it. Its request parsing (the path and the upload name, "?commit=ID",
// "?attempt=ID", Content-Length, the stream's layout and size bound) is file-local, so the target
// drives the public entry point with a FixedClock and a private temporary upload directory (no
// sockets, no Beast). The session's chunk size is 4096, so bodies of a few kB are streams of several
// chunks.
//
// The input is a short script of requests separated by a line "##" (at most kMaxRequests), each
// written like HTTP/1.1 without the version:
//     METHOD TARGET
//     Header: value            (OWS trimmed; lines end in \n or \r\n)
//                              (an empty line, then the body: the rest of this request)
// "{id}" in TARGET becomes the attempt id of the last successful PUT, so commits and discards of
// real attempts are reachable. Request n (0, 1, ...) has the binding B_n: bytes 0x60..0x7f with
// the last byte replaced by n. Pseudo-headers, removed before the request is handled:
//     X-Fuzz-Stream: [SIZE]      the body is plaintext (cut or repeated to SIZE bytes when given, at
//                                most kMaxStreamed): send it as the request body stream (PROTOCOL.md
//                                §6) under K("request body", B_n, i, i == last) of the session
//                                secret (bytes 0xa0..0xbf), IVs from the input's Rng
//     X-Fuzz-Seal: binding|purpose|session   ... but seal it under another binding, the response
//                                body's purpose, or another session's secret
//     X-Fuzz-No-Length           no Content-Length is added (one is added, = body size, if absent)
// Other header lines are the request's fields (an unsealed request: the fields the file service
// reads for GET, such as Range and If-None-Match). The body is what the server would read: the
// first Content-Length bytes, fed to the sink in input-derived pieces; a shorter one is "broken
// off" (abort()), as is a write that throws.
//
// A model (committed files, pending attempts) follows the documented rules, and every outcome is
// compared with it:
//  * Only paths "/.uploads" and "/.uploads/..." are the service's (owns); a path parse_request_path
//    refuses is refused with the same Errc and reason. NAME is every segment after ".uploads",
//    joined by '/' (a/b/c: the file c in the directories a and a/b). A committed file that is a
//    directory of NAME, or committed files below NAME (NAME is then a directory), make a PUT or a
//    commit of NAME 409 ("upload: a is a file, not a directory" / "upload: NAME is a directory").
//  * GET/HEAD: "/.uploads/" lists exactly the committed names and sizes at the top, and the
//    directories there ("/.uploads/DIR" lists DIR, or answers DIR/index.html without ?list);
//    a DELETE of a directory is 409 "upload: NAME is a directory"; "/.uploads/NAME" is 200
//    with exactly the committed bytes in chunks of 4096 (304 only with If-None-Match; 206 and 416
//    only with Range: a 206 carries whole chunks within the file, each with the file's bytes), 404
//    if not committed; HEAD carries no chunks.
//  * PUT: no Content-Length or any Transfer-Encoding -> bad_request; a decimal Content-Length T is
//    the sink's limit; 413 at once exactly when T exceeds the length of the stream of a file of
//    exactly the limit; bad_request "stream: length T is not a stream of chunk size 4096" when T
//    is not m - 1 tokens of L(4096) and a final one of a token length L(16 j) (computed here by
//    search); 507 at once when the pending attempts are at their cap, when the files + pending
//    attempts are, or when the least plaintext such a stream carries, charged at least
//    kMinCharge, exceeds what the quota has left. Then each chunk, in order, as it completes: one
//    that does not open under its key is "upload: chunk i does not verify (...)", one of the wrong
//    size (all but the final C bytes, the final within its token's bounds) "upload: chunk i holds
//    n bytes, expected ...", both bad_request; the plaintext so far beyond the limit is 413, its
//    charge beyond min(charge(capacity), what was left) 507. A body that arrives whole and passes
//    is accepted: the answer's size and cksum are those of the plaintext, and the attempt is then
//    stored, invisible, with exactly that plaintext.
//  * POST ?commit=ID[,ID...][&size=N&cksum=C] ("{prev}" in TARGET is the attempt before "{id}") of
//    pending attempts of the same name -> 201 and the file, their bytes joined in order, is
//    committed (an existing one replaced) and the attempts are gone; a query outside that grammar
//    -> bad_request; an id that is not a pending attempt of NAME -> not_found; the joined bytes
//    over the limit -> 413; a size or cksum that is not the joined bytes' -> 409; in every
//    refusal nothing changes. DELETE ?attempt=ID likewise drops an attempt (204 / not_found); any other
//    query is bad_request; a DELETE without a query removes a committed file (204 / not_found).
//    A body on anything but a PUT (or GET/HEAD, which ignore it) -> bad_request. Other methods ->
//    method_not_allowed.
//  * After every request the disk holds exactly the model: files/ the committed files with their
//    bytes, .attempts/ one "<id>.ready" per pending attempt and nothing else (no ".part" left by
//    a refused, forged or broken-off upload). Every refusal renders as an error answer.

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
constexpr std::uint32_t kChunk = 4096;      // the session's chunk size
constexpr std::uint64_t kMaxUpload = 9000;  // two full chunks and a part: the 413 edges are reachable
constexpr std::uint64_t kQuota = 20000;
constexpr std::uint64_t kMinCharge = 1024;  // the minimum charge per file and attempt (4096 by default)
constexpr std::size_t kMaxFiles = 6;        // files + pending attempts
constexpr std::size_t kMaxPending = 3;
constexpr std::int64_t kAttemptTimeout = 600;
constexpr std::size_t kMaxRequests = 8;
constexpr std::uint64_t kMaxStreamed = 3 * kMaxUpload;  // X-Fuzz-Stream: SIZE at most
constexpr std::string_view kSeparator = "\n##\n";
constexpr std::string_view kNoAttempt = "upload: no such attempt (expired, discarded or never made)";

template <std::size_t N>
std::array<std::uint8_t, N> bytes_from(std::uint8_t first) {
  std::array<std::uint8_t, N> b{};
  for (std::size_t i = 0; i < N; ++i) b[i] = static_cast<std::uint8_t>(first + i);
  return b;
}

const SessionSecret& session_secret() {
  static const SessionSecret s(bytes_from<32>(0xa0));
  return s;
}

// B_n of request n (seed_corpus.cpp makes raw streams under it).
Binding binding_of(std::size_t n) {
  Binding b = bytes_from<32>(0x60);
  b[31] = static_cast<std::uint8_t>(n);
  return b;
}

std::shared_ptr<const auth::ClientRecord> client() {
  static const std::shared_ptr<const auth::ClientRecord> c = [] {
    const RsaPublicKey key = RsaPrivateKey::generate(2048).public_key();
    auto r = std::make_shared<auth::ClientRecord>(key);
    r->uuid = *Uuid::parse("0b5bd2a4-4f5e-4a4e-9c1e-1f0e2d3c4b5a");
    r->name = "alice";
    r->fingerprint = key.fingerprint();
    r->session_secret = session_secret();
    r->keyid = bytes_from<16>(0x10);
    r->chunk_size = kChunk;
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
  std::optional<std::uint64_t> stream_size;  // X-Fuzz-Stream: the plaintext's size (nullopt: as given)
  bool stream = false;
  std::string seal = "ok";  // X-Fuzz-Seal
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

std::optional<std::uint64_t> decimal(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Script parse_script(std::string_view text, const std::string& last_id, const std::string& prev_id) {
  Script s;
  std::string_view line;
  next_line(text, line);
  const auto sp = line.find(' ');
  s.req.method = std::string(line.substr(0, sp));
  std::string target(sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1));
  for (std::size_t at; (at = target.find("{id}")) != std::string::npos;) target.replace(at, 4, last_id);
  for (std::size_t at; (at = target.find("{prev}")) != std::string::npos;) target.replace(at, 6, prev_id);
  s.req.target = std::move(target);
  while (next_line(text, line) && !line.empty()) {
    const auto colon = line.find(':');
    const std::string name(trim(line.substr(0, colon)));
    const std::string_view value = colon == std::string_view::npos ? std::string_view() : trim(line.substr(colon + 1));
    if (net::iequals(name, "X-Fuzz-Stream")) {
      s.stream = true;
      if (const auto n = decimal(value)) s.stream_size = std::min(*n, kMaxStreamed);
    } else if (net::iequals(name, "X-Fuzz-Seal")) {
      s.seal = std::string(value);
    } else if (net::iequals(name, "X-Fuzz-No-Length")) {
      s.add_length = false;
    } else {
      s.req.headers.push_back({name, std::string(value)});
    }
  }
  s.req.body = std::string(text);
  return s;
}

// ---- the stream, computed here independently of core/stream -------------------------------------

std::uint64_t full_token() { return fernet_token_length(kChunk); }

// The stream length of a whole representation of n bytes (PROTOCOL.md §6.2).
std::uint64_t stream_length(std::uint64_t n) {
  const std::uint64_t m = n == 0 ? 1 : (n + kChunk - 1) / kChunk;
  return (m - 1) * full_token() + fernet_token_length(n - (m - 1) * kChunk);
}

// What a body of T bytes must be (PROTOCOL.md §6.2): m - 1 tokens of L(C) and a final one of a
// token length L(16 j), found by search; nullopt if it is no stream.
struct Split {
  std::uint64_t tokens = 0, final_length = 0, final_min = 0, final_max = 0;
  std::uint64_t max_plaintext() const { return (tokens - 1) * kChunk + final_max; }
  std::uint64_t min_plaintext() const { return (tokens - 1) * kChunk + final_min; }
};
std::optional<Split> split_of(std::uint64_t t) {
  if (t == 0) return std::nullopt;
  Split s;
  s.tokens = (t + full_token() - 1) / full_token();
  s.final_length = t - (s.tokens - 1) * full_token();
  for (std::uint64_t j = 0; 16 * j <= kChunk; ++j) {
    if (fernet_token_length(16 * j) != s.final_length) continue;
    s.final_min = std::max<std::uint64_t>(16 * j, s.tokens > 1 ? 1 : 0);
    s.final_max = std::min<std::uint64_t>(16 * j + 15, kChunk);
    return s;
  }
  return std::nullopt;
}

// The body stream of `plain` under the session secret, `binding` and `purpose`, chunk by chunk.
std::string seal_stream(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding, std::string_view plain,
                        Rng& rng) {
  const std::uint64_t m = plain.empty() ? 1 : (plain.size() + kChunk - 1) / kChunk;
  std::string out;
  for (std::uint64_t i = 0; i < m; ++i) {
    FernetIv iv;
    for (auto& b : iv) b = static_cast<std::uint8_t>(rng.next());
    const std::string_view chunk = plain.substr(static_cast<std::size_t>(i * kChunk), kChunk);
    out += fernet_encrypt(secret.derive(purpose, binding, i, i + 1 == m), as_bytes(chunk), kNow, iv);
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream o;
  o << f.rdbuf();
  return o.str();
}

struct Model {
  std::map<std::string, std::string> committed;                         // name -> bytes
  std::map<std::string, std::pair<std::string, std::string>> attempts;  // id -> (name, bytes)
  std::string last_id, prev_id;                                         // the attempts of the last two successful PUTs

  static std::uint64_t charge(std::uint64_t size) { return std::max(size, kMinCharge); }
  // NAME is a directory: a committed file lies below it.
  bool is_dir(const std::string& name) const {
    const auto it = committed.lower_bound(name + "/");
    return it != committed.end() && it->first.starts_with(name + "/");
  }
  // Why NAME cannot be committed (409), if it cannot: a committed file where a directory of it
  // would be, or NAME a directory.
  std::optional<std::string> placement_refusal(const std::string& name) const {
    for (std::size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1))
      if (committed.count(name.substr(0, slash)))
        return "upload: " + name.substr(0, slash) + " is a file, not a directory";
    if (is_dir(name)) return "upload: " + name + " is a directory";
    return std::nullopt;
  }
  // The listing of directory `dir` ("" for the top): its files with their sizes, its directories.
  json listing(const std::string& dir) const {
    const std::string prefix = dir.empty() ? "" : dir + "/";
    std::map<std::string, json> entries;  // by name, as the listing sorts them
    for (const auto& [n, bytes] : committed) {
      if (!n.starts_with(prefix)) continue;
      const std::string rest = n.substr(prefix.size());
      const auto slash = rest.find('/');
      if (slash == std::string::npos)
        entries[rest] = {{"name", rest}, {"size", bytes.size()}};
      else
        entries[rest.substr(0, slash)] = {{"name", rest.substr(0, slash)}, {"type", "dir"}};
    }
    json out = json::array();
    for (auto& [n, e] : entries) out.push_back(std::move(e));
    return out;
  }
  std::uint64_t usage() const {
    std::uint64_t n = 0;
    for (const auto& [name, bytes] : committed) n += charge(bytes.size());
    for (const auto& [id, a] : attempts) n += charge(a.second.size());
    return n;
  }
};

// The outcome of one request: an answer, or a refusal.
struct Outcome {
  std::optional<web::Answer> answer;
  std::optional<Errc> refused;
  std::string reason;
};

void expect_refusal(const Outcome& o, Errc code, std::string_view reason = {}) {
  if (!o.refused || *o.refused != code || (!reason.empty() && o.reason != reason)) {
    std::fprintf(stderr, "\n==FUZZ== expected %s (%.*s), got %s (%s)\n", std::string(errc_name(code)).c_str(),
                 static_cast<int>(reason.size()), reason.data(),
                 o.refused ? std::string(errc_name(*o.refused)).c_str() : "an answer",
                 o.refused ? o.reason.c_str() : std::to_string(o.answer->status).c_str());
    mh::fuzz::broken("the request has the documented outcome", __FILE__, __LINE__);
  }
}

web::Answer& expect_status(Outcome& o, std::initializer_list<int> statuses) {
  const bool ok = o.answer && std::find(statuses.begin(), statuses.end(), o.answer->status) != statuses.end();
  if (!ok) {
    std::fprintf(stderr, "\n==FUZZ== expected status %d, got %s (%s)\n", *statuses.begin(),
                 o.refused ? std::string(errc_name(*o.refused)).c_str() : std::to_string(o.answer->status).c_str(),
                 o.refused ? o.reason.c_str() : o.answer->body.c_str());
    mh::fuzz::broken("the request has the documented outcome", __FILE__, __LINE__);
  }
  return *o.answer;
}

json body_json(const web::Answer& a) {
  MH_FUZZ_CHECK(a.content_type == std::optional<std::string>("application/json"));
  MH_FUZZ_CHECK(a.layout && *a.layout == stream::Layout::whole(a.body.size(), kChunk) && a.size == a.body.size());
  const json j = json::parse(a.body, nullptr, false);
  MH_FUZZ_CHECK(j.is_object());
  return j;
}

// The plaintext of the chunks an answer sends, each read as the responder reads it, in order.
std::string read_chunks(web::Answer& a) {
  MH_FUZZ_CHECK(a.layout.has_value());
  const stream::Layout& l = *a.layout;
  MH_FUZZ_CHECK(l.chunk_size() == kChunk && l.first_chunk() <= l.last_chunk() && l.last_chunk() < l.chunk_count());
  std::string out;
  for (std::uint64_t i = l.first_chunk(); i <= l.last_chunk(); ++i) {
    Bytes chunk(static_cast<std::size_t>(l.plaintext_size(i)));
    if (a.source) {
      a.source->read(l.offset(i), chunk);
    } else {
      MH_FUZZ_CHECK(l.offset(i) + chunk.size() <= a.body.size());
      std::copy_n(a.body.begin() + static_cast<std::ptrdiff_t>(l.offset(i)), chunk.size(), chunk.begin());
    }
    out.append(as_chars(chunk));
  }
  if (a.source) a.source->check_unchanged();  // nothing writes the file meanwhile
  return out;
}

bool valid_id(std::string_view id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The disk is the model: committed files with their bytes, one "<id>.ready" per pending attempt.
void check_disk(const Model& m) {
  std::map<std::string, std::string> files, attempts;
  std::error_code ec;
  // Every file below files/, by its name; a directory only ever holds what a file needs.
  for (const auto& e : fs::recursive_directory_iterator(area() / "files", ec)) {
    if (e.is_directory())
      MH_FUZZ_CHECK(!fs::is_empty(e.path()));
    else
      files[e.path().lexically_relative(area() / "files").string()] = slurp(e.path());
  }
  for (const auto& e : fs::directory_iterator(area() / ".attempts", ec))
    attempts[e.path().filename()] = slurp(e.path());
  MH_FUZZ_CHECK(files == m.committed);
  std::map<std::string, std::string> want;
  for (const auto& [id, a] : m.attempts) want[id + ".ready"] = a.second;
  MH_FUZZ_CHECK(attempts == want);
  // Nothing but the client's own area.
  for (const auto& e : fs::directory_iterator(upload_dir(), ec)) MH_FUZZ_CHECK(e.path() == area());
}

// Feeds the body to the sink as the HTTP server does; returns the answer or the refusal.
Outcome stream_body(web::BodyIntake& in, std::string_view body, Rng& rng) {
  Outcome o;
  const std::string_view arriving =
      body.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(body.size(), in.max_bytes)));
  try {
    std::size_t off = 0;
    for (const std::size_t n : rng.splits(arriving.size())) {
      in.sink->write(arriving.substr(off, n));
      off += n;
    }
  } catch (const Error& e) {
    in.sink->abort();
    o.refused = e.code();
    o.reason = e.what();
    return o;
  }
  if (arriving.size() < in.max_bytes) {  // the body broke off
    in.sink->abort();
    o.refused = Errc::network;
    o.reason = "broken off";
    return o;
  }
  try {
    o.answer = in.sink->finish();
  } catch (const Error& e) {
    o.refused = e.code();
    o.reason = e.what();
  }
  return o;
}

void check_get(Outcome& o, const Model& m, const net::Request& req, const RequestPath& p, const std::string& name) {
  const bool conditional = req.header("If-None-Match").has_value();
  const bool ranged = req.header("Range").has_value();
  const bool head = req.method == "HEAD";
  std::optional<std::string> want;  // the answer's plaintext
  bool file = !name.empty();        // else a listing
  const auto q = req.target.find('?');
  const bool listing_asked = q != std::string::npos && req.target.substr(q + 1) == "list";
  if (name.empty() || m.is_dir(name)) {
    // A directory answers its index.html unless ?list asks for the listing; the area's top always
    // answers its listing.
    const std::string index = name + "/index.html";
    if (!name.empty() && !listing_asked && m.committed.count(index)) {
      want = m.committed.at(index);
      file = true;
    } else {
      want = m.listing(name).dump();
      file = false;
    }
  } else if (m.committed.count(name) && !p.trailing_slash) {
    want = m.committed.at(name);
  }
  if (!want) return expect_refusal(o, Errc::not_found);
  web::Answer& a = expect_status(o, {200, 206, 304, 416});
  MH_FUZZ_CHECK(a.status != 304 || conditional);
  MH_FUZZ_CHECK((a.status != 206 && a.status != 416) || (ranged && !head && file));
  MH_FUZZ_CHECK(a.etag.has_value());
  if (a.status == 304) return MH_FUZZ_CHECK(!a.layout && !a.source && a.body.empty());
  if (a.status == 416) {
    MH_FUZZ_CHECK(!a.layout && a.content_range == "bytes */" + std::to_string(want->size()));
    return;
  }
  if (head) return MH_FUZZ_CHECK(a.status == 200 && !a.layout && !a.source && a.body.empty());
  MH_FUZZ_CHECK(a.layout.has_value());
  const std::string plain = read_chunks(a);
  if (file) {
    MH_FUZZ_CHECK(a.content_type.has_value() && a.size == want->size() && a.layout->size() == want->size());
    if (a.status == 200)
      MH_FUZZ_CHECK(*a.layout == stream::Layout::whole(want->size(), kChunk) && plain == *want);
    else  // 206: whole chunks within the file, with its bytes
      MH_FUZZ_CHECK(!want->empty() && plain == want->substr(static_cast<std::size_t>(a.layout->first_byte()),
                                                            static_cast<std::size_t>(a.layout->byte_count())));
    return;
  }
  // A listing: exactly the committed names in it, files with their sizes, and its directories.
  MH_FUZZ_CHECK(a.status == 200 && a.content_type == std::optional<std::string>("application/json"));
  const json j = json::parse(plain, nullptr, false);
  MH_FUZZ_CHECK(j.is_object() && j.contains("entries") && j["entries"].is_array());
  json got = json::array();
  for (const auto& e : j["entries"]) {
    MH_FUZZ_CHECK(e.is_object() && e.contains("name"));
    if (e.value("type", "") == "dir") {
      got.push_back({{"name", e["name"]}, {"type", "dir"}});
    } else {
      MH_FUZZ_CHECK(e.value("type", "") == "file" && e.contains("size"));
      got.push_back({{"name", e["name"]}, {"size", e["size"]}});
    }
  }
  MH_FUZZ_CHECK(got.dump() == *want);
}

std::string does_not_verify(std::uint64_t i) {
  return "upload: chunk " + std::to_string(i) +
         " does not verify (tampered, reordered, duplicated, or from another response)";
}

void check_put(Outcome& at_once, web::UploadService::Result& d, Model& m, const Script& s, const Binding& binding,
               const std::string& body, const std::string& name, Rng& rng) {
  const auto length = s.req.header("Content-Length");
  if (!length || s.req.header("Transfer-Encoding"))
    return expect_refusal(at_once, Errc::bad_request, "upload: the body needs a Content-Length (no chunked encoding)");
  std::uint64_t total = 0;
  if (const auto n = decimal(*length)) {
    total = *n;
  } else if (length->find_first_not_of("0123456789") == std::string_view::npos) {  // empty, or beyond 64 bits
    return expect_refusal(at_once, Errc::bad_request, "upload: bad Content-Length");
  } else {
    // Not a plain decimal: no HTTP parser lets that through. The service may refuse it or read it
    // leniently; it is then held to the number it read.
    if (at_once.refused) return;
    MH_FUZZ_CHECK(std::holds_alternative<web::BodyIntake>(d));
    total = std::get<web::BodyIntake>(d).max_bytes;
  }
  const std::string too_large = "upload: larger than the server's limit of " + std::to_string(kMaxUpload) + " bytes";
  const std::string over_quota = "upload: your quota of " + std::to_string(kQuota) + " bytes would be exceeded";
  if (total > stream_length(kMaxUpload)) return expect_refusal(at_once, Errc::payload_too_large, too_large);
  const std::optional<Split> split = split_of(total);
  if (!split)
    return expect_refusal(at_once, Errc::bad_request,
                          "stream: length " + std::to_string(total) + " is not a stream of chunk size 4096");
  if (const auto why = m.placement_refusal(name)) return expect_refusal(at_once, Errc::conflict, *why);
  if (m.attempts.size() >= kMaxPending)
    return expect_refusal(at_once, Errc::insufficient_storage,
                          "upload: your limit of 3 pending attempts would be exceeded");
  if (m.committed.size() + m.attempts.size() >= kMaxFiles)
    return expect_refusal(at_once, Errc::insufficient_storage, "upload: your limit of 6 files would be exceeded");
  const std::uint64_t capacity = std::min(split->max_plaintext(), kMaxUpload);
  const std::uint64_t least = std::min(split->min_plaintext(), capacity);
  const std::uint64_t room = m.usage() >= kQuota ? 0 : kQuota - m.usage();
  if (Model::charge(least) > room) return expect_refusal(at_once, Errc::insufficient_storage, over_quota);
  const std::uint64_t held = std::min(Model::charge(capacity), room);
  if (at_once.refused) {
    std::fprintf(stderr, "\n==FUZZ== PUT of a %llu-byte stream (%llu to %llu bytes) refused: %s\n",
                 static_cast<unsigned long long>(total), static_cast<unsigned long long>(least),
                 static_cast<unsigned long long>(capacity), at_once.reason.c_str());
    mh::fuzz::broken("a PUT within the size limit and the quota is taken", __FILE__, __LINE__);
  }
  MH_FUZZ_CHECK(std::holds_alternative<web::BodyIntake>(d));
  auto& in = std::get<web::BodyIntake>(d);
  MH_FUZZ_CHECK(in.sink != nullptr && in.max_bytes == total);
  Outcome o = stream_body(in, body, rng);
  in.sink.reset();

  // The documented outcome, chunk by chunk as they complete.
  const std::string_view arrived =
      std::string_view(body).substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(body.size(), total)));
  std::string plain;
  std::uint64_t off = 0;
  for (std::uint64_t i = 0; i < split->tokens; ++i) {
    const bool last = i + 1 == split->tokens;
    const std::uint64_t len = last ? split->final_length : full_token();
    if (arrived.size() < off + len) break;
    Bytes chunk;
    if (fuzz::refuses([&] {
          chunk = fernet_decrypt(session_secret().derive(KeyPurpose::request_body, binding, i, last),
                                 arrived.substr(static_cast<std::size_t>(off), static_cast<std::size_t>(len)), kNow);
        }))
      return expect_refusal(o, Errc::bad_request, does_not_verify(i));
    const std::uint64_t lo = last ? split->final_min : kChunk, hi = last ? split->final_max : kChunk;
    if (chunk.size() < lo || chunk.size() > hi)
      return expect_refusal(o, Errc::bad_request,
                            "upload: chunk " + std::to_string(i) + " holds " + std::to_string(chunk.size()) +
                                " bytes, expected " +
                                (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)));
    plain.append(as_chars(chunk));
    if (plain.size() > kMaxUpload) return expect_refusal(o, Errc::payload_too_large, too_large);
    if (Model::charge(plain.size()) > held) return expect_refusal(o, Errc::insufficient_storage, over_quota);
    off += len;
  }
  if (arrived.size() < total) return expect_refusal(o, Errc::network, "broken off");
  const json j = body_json(expect_status(o, {200}));
  MH_FUZZ_CHECK(j.size() == 5 && j.contains("attempt") && j["attempt"].is_string());
  const std::string id = j["attempt"].get<std::string>();
  MH_FUZZ_CHECK(valid_id(id) && !m.attempts.count(id));
  MH_FUZZ_CHECK(j.value("name", json()) == name);
  MH_FUZZ_CHECK(j.value("size", json()) == plain.size());
  MH_FUZZ_CHECK(j.value("cksum", json()) == cksum(as_bytes(plain)));
  MH_FUZZ_CHECK(j.value("expires", json()) == kNow + kAttemptTimeout);
  m.attempts[id] = {name, plain};
  m.prev_id = m.last_id;
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

// The commit query of §8, read independently of the service: "commit=ID[,ID...]" first, then
// nothing or exactly "&size=N&cksum=C" (decimal, no leading zeros, C below 2^32).
struct CommitModel {
  std::vector<std::string> ids;
  std::optional<std::uint64_t> size;
  std::optional<std::uint32_t> crc;
  std::string refusal;
};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (std::size_t at = 0;;) {
    const auto next = s.find(sep, at);
    out.push_back(s.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
    if (next == std::string_view::npos) return out;
    at = next + 1;
  }
}

std::optional<std::uint64_t> canonical_decimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  return decimal(s);
}

CommitModel commit_model(std::string_view target) {
  CommitModel c;
  const std::string usage = "upload: POST takes ?commit=ID[,ID...][&size=N&cksum=C]";
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {{}, {}, {}, usage};
  const auto pairs = split(target.substr(q + 1), '&');
  if (!pairs[0].starts_with("commit=")) return {{}, {}, {}, usage};
  for (const std::string_view id : split(pairs[0].substr(7), ',')) {
    if (!valid_id(std::string(id)) || std::count(c.ids.begin(), c.ids.end(), id) || c.ids.size() == 64)
      return {{}, {}, {}, "upload: commit takes 1 to 64 distinct attempt ids (32 hex digits), separated by commas"};
    c.ids.emplace_back(id);
  }
  if (pairs.size() == 1) return c;
  if (pairs.size() != 3 || !pairs[1].starts_with("size=") || !pairs[2].starts_with("cksum="))
    return {{}, {}, {}, usage};
  c.size = canonical_decimal(pairs[1].substr(5));
  const auto crc = canonical_decimal(pairs[2].substr(6));
  if (!c.size || !crc || *crc > 0xffffffffu) return {{}, {}, {}, usage};
  c.crc = static_cast<std::uint32_t>(*crc);
  return c;
}

void run_request(web::UploadService& svc, Model& m, std::size_t index, std::string_view text, Rng& rng) {
  Script s = parse_script(text, m.last_id, m.prev_id);
  const Binding binding = binding_of(index);
  std::string body = s.req.body;
  if (s.stream) {
    if (s.stream_size) {  // cut or repeated to the size asked for
      std::string sized;
      while (!body.empty() && sized.size() < *s.stream_size) sized += body;
      sized.resize(static_cast<std::size_t>(*s.stream_size), 'z');
      body = std::move(sized);
    }
    const SessionSecret other(bytes_from<32>(0xe0));
    body = s.seal == "binding"
               ? seal_stream(session_secret(), KeyPurpose::request_body, binding_of(index + 100), body, rng)
           : s.seal == "purpose" ? seal_stream(session_secret(), KeyPurpose::response_body, binding, body, rng)
           : s.seal == "session" ? seal_stream(other, KeyPurpose::request_body, binding, body, rng)
                                 : seal_stream(session_secret(), KeyPurpose::request_body, binding, body, rng);
  }
  if (s.add_length && !s.req.header("Content-Length"))
    s.req.headers.push_back({"Content-Length", std::to_string(body.size())});
  s.req.body.clear();
  s.req.has_body = !body.empty();

  const std::string_view path = target_path(s.req.target);
  const bool owned = path == "/.uploads" || path.substr(0, 10) == "/.uploads/";
  MH_FUZZ_CHECK(web::UploadService::owns(path) == owned);
  if (!owned) return;  // WebService routes it elsewhere

  // An unsealed request that verified: the request is the one the client meant.
  web::VerifiedRequest v;
  v.client = client();
  v.binding = binding;
  v.method = s.req.method;
  v.target = s.req.target;
  v.fields = s.req.headers;

  Outcome at_once;
  web::UploadService::Result d;
  try {
    d = svc.handle(s.req, v);
    if (auto* a = std::get_if<web::Answer>(&d))
      at_once.answer = std::move(*a);
    else
      MH_FUZZ_CHECK(std::holds_alternative<web::BodyIntake>(d) && s.req.method == "PUT");
  } catch (const Error& e) {
    at_once.refused = e.code();
    at_once.reason = e.what();
    // Every refusal renders, plain and as a sealed answer's JSON.
    MH_FUZZ_CHECK(net::error_response(e).status == http_status(e.code()));
    MH_FUZZ_CHECK(web::error_answer(e, kChunk).status == http_status(e.code()));
  }

  // The expected outcome, from the documented rules.
  RequestPath p;
  try {
    p = parse_request_path(path.size() > 9 ? path.substr(9) : "/");  // after "/.uploads", a dot name
  } catch (const Error& e) { return expect_refusal(at_once, e.code(), e.what()); }
  std::string name;  // every segment after the area's, joined by '/'
  for (const auto& segment : p.segments) name += (name.empty() ? "" : "/") + segment;
  const std::string& method = s.req.method;

  if (method == "GET" || method == "HEAD") return check_get(at_once, m, s.req, p, name);
  if (s.req.has_body && method != "PUT")
    return expect_refusal(at_once, Errc::bad_request, "upload: only PUT takes a body");
  if (name.empty()) return expect_refusal(at_once, Errc::method_not_allowed);
  if (method == "PUT") return check_put(at_once, d, m, s, binding, body, name, rng);
  if (method == "POST") {
    const CommitModel c = commit_model(s.req.target);
    if (!c.refusal.empty()) return expect_refusal(at_once, Errc::bad_request, c.refusal);
    std::string bytes;
    for (const std::string& id : c.ids) {
      const auto it = m.attempts.find(id);
      if (it == m.attempts.end() || it->second.first != name)
        return expect_refusal(at_once, Errc::not_found, kNoAttempt);
      bytes += it->second.second;
    }
    if (bytes.size() > kMaxUpload)
      return expect_refusal(at_once, Errc::payload_too_large,
                            "upload: larger than the server's limit of " + std::to_string(kMaxUpload) + " bytes");
    const std::uint32_t crc = cksum(as_bytes(bytes));
    if (c.size && (*c.size != bytes.size() || *c.crc != crc))
      return expect_refusal(at_once, Errc::conflict,
                            "upload: the attempts hold " + std::to_string(bytes.size()) + " bytes with cksum " +
                                std::to_string(crc) + ", not " + std::to_string(*c.size) + " bytes with cksum " +
                                std::to_string(*c.crc) + "; nothing was committed");
    if (const auto why = m.placement_refusal(name))
      return expect_refusal(at_once, Errc::conflict, *why);  // still pending
    const json j = body_json(expect_status(at_once, {201}));
    MH_FUZZ_CHECK(j == json({{"name", name}, {"size", bytes.size()}, {"cksum", crc}}));
    for (const std::string& id : c.ids) m.attempts.erase(id);
    m.committed[name] = bytes;
    return;
  }
  if (method == "DELETE") {
    if (const auto id = query_param(s.req.target, "attempt")) {
      const auto it = m.attempts.find(*id);
      if (it == m.attempts.end() || it->second.first != name)
        return expect_refusal(at_once, Errc::not_found, kNoAttempt);
      MH_FUZZ_CHECK(!expect_status(at_once, {204}).layout);
      m.attempts.erase(it);
      return;
    }
    if (s.req.target.find('?') != std::string::npos)
      return expect_refusal(at_once, Errc::bad_request, "upload: DELETE takes ?attempt=ID or no query");
    if (!m.committed.count(name) && m.is_dir(name))
      return expect_refusal(at_once, Errc::conflict, "upload: " + name + " is a directory");
    if (!m.committed.count(name)) return expect_refusal(at_once, Errc::not_found, "upload: no such upload");
    MH_FUZZ_CHECK(!expect_status(at_once, {204}).layout);
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
  web::UploadService svc(o, clock);
  Model m;
  std::string_view text = fuzz::text(data, size);
  for (std::size_t n = 0; n < kMaxRequests && !text.empty(); ++n) {
    const auto sep = text.find(kSeparator);
    run_request(svc, m, n, text.substr(0, sep), rng);
    check_disk(m);
    text.remove_prefix(sep == std::string_view::npos ? text.size() : sep + kSeparator.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
