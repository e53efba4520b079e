#include "support/signed_client.hpp"

#include <nlohmann/json.hpp>

#include <ctime>

#include "core/base64.hpp"
#include "core/stream.hpp"
#include "io/system_clock.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace fs = std::filesystem;

namespace {
Bytes b64u_decode(const std::string& s) { return base64_decode(s, Alphabet::url, Padding::forbidden); }
}  // namespace

std::string Reply::reason() const {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("reason") && j["reason"].is_string()) return j["reason"];
  return "";
}

SignedClient::SignedClient(const fs::path& home, const std::string& url)
    : url_(net::ServerUrl::parse(url)), http_(url_, std::chrono::seconds(10)) {
  rsa_ = RsaPrivateKey::from_pem(read_file(home / "identity.pem"));
  for (const auto& e : fs::directory_iterator(home / "sessions")) {
    const auto j = nlohmann::json::parse(read_file(e.path()));
    uuid_ = *Uuid::parse(j["uuid"].get<std::string>());
    const Bytes id = b64u_decode(j["keyid"].get<std::string>());
    std::copy(id.begin(), id.end(), keyid_.begin());
    secret_ = SessionSecret(b64u_decode(j["secret"].get<std::string>()));
    chunk_size_ = j["chunk_size"].get<std::uint32_t>();
  }
}

std::string body_stream(const SessionSecret& s, std::uint32_t chunk_size, const Binding& b,
                        std::string_view plaintext) {
  io::SystemClock clock;
  stream::StreamWriter w(s, KeyPurpose::request_body, b, stream::Layout::whole(plaintext.size(), chunk_size), clock);
  std::string out;
  w.write(as_bytes(plaintext), out);
  w.finish(out);
  return out;
}

std::string body_stream(const SignedClient& c, const Binding& b, std::string_view plaintext) {
  return body_stream(c.secret(), c.chunk_size(), b, plaintext);
}

Built seal_request(const RsaPrivateKey& rsa, const Session& s, const std::string& authority, const std::string& method,
                   const std::string& target, const net::Headers& inner, const std::string& body, bool upgrade) {
  bhttp::Request head{method, "http", "", target, {}};
  for (const auto& h : inner) head.fields.push_back({h.name, h.value});
  seal::Signed sig;
  const httpsig::Message m =
      seal::seal_request(seal::Credentials{s.secret, s.keyid, rsa}, head, "http", authority,
                         seal::Freshness::fresh(std::time(nullptr)), sig, seal::SealOptions{.upgrade = upgrade});
  Built out;
  out.binding = sig.binding;
  net::Headers headers;
  for (const auto& [n, v] : m.headers) headers.push_back({n, v});
  const std::string wire = body.empty() ? std::string() : body_stream(s.secret, s.chunk_size, sig.binding, body);
  out.request = net::Request{m.method, m.target, std::move(headers), wire, {}, {}, !wire.empty()};
  return out;
}

std::string wire_head(const net::Request& req, const std::string& authority, std::size_t content_length) {
  std::string head = req.method + " " + req.target + " HTTP/1.1\r\n";
  if (!net::find_header(req.headers, "Host")) head += "Host: " + authority + "\r\n";
  if (content_length) head += "Content-Length: " + std::to_string(content_length) + "\r\n";
  for (const auto& h : req.headers) head += h.name + ": " + h.value + "\r\n";
  return head + "\r\n";
}

net::ClientResponse parse_wire_answer(std::string_view raw) {
  net::ClientResponse r;
  const auto end = raw.find("\r\n\r\n");
  if (raw.substr(0, 9) != "HTTP/1.1 " || end == std::string_view::npos) return r;
  r.status = std::stoi(std::string(raw.substr(9, 3)));
  for (auto at = raw.find("\r\n") + 2; at < end;) {
    const auto eol = raw.find("\r\n", at);
    const std::string_view line = raw.substr(at, eol - at);
    const auto colon = line.find(':');
    const auto value = line.find_first_not_of(' ', colon + 1);
    r.headers.push_back({std::string(line.substr(0, colon)),
                         value == std::string_view::npos ? std::string() : std::string(line.substr(value))});
    at = eol + 2;
  }
  r.body = std::string(raw.substr(end + 4));
  return r;
}

Built SignedClient::build(const std::string& method, const std::string& target, const SignOptions& o,
                          const std::string& body, bool raw_body) {
  const std::int64_t created = o.created.value_or(std::time(nullptr));
  const std::string nonce = o.nonce.value_or(base64_encode(random_bytes(12), Alphabet::url, false));
  // The message as it is signed: a sealed request's outer one, or the plain request itself.
  httpsig::Message m;
  if (o.sealed) {
    bhttp::Request inner{method, "http", "", target, {}};
    for (const auto& h : o.inner) inner.fields.push_back({h.name, h.value});
    const FernetKey head_key = secret_.derive(KeyPurpose::request_head, head_binding(keyid_, created, nonce), 0, true);
    m = httpsig::Message{o.upgrade ? "GET" : "POST",
                         "http",
                         url_.authority(),
                         std::string(seal::kSealedPath),
                         std::nullopt,
                         {},
                         nullptr};
    m.headers.emplace_back(std::string(seal::kSealedField), fernet_encrypt(head_key, bhttp::encode(inner), created));
  } else {
    m = httpsig::Message{method,       "http", url_.authority(), o.sign_target.empty() ? target : o.sign_target,
                         std::nullopt, {},     nullptr};
  }
  for (const auto& h : o.extra) m.headers.emplace_back(h.name, h.value);
  // The profile's components, unless the test says otherwise.
  std::vector<httpsig::Component> covered;
  if (o.components) {
    for (const auto& c : *o.components) covered.push_back({c, {}});
  } else {
    covered = {{"@method", {}}, {"@authority", {}}, {"@path", {}}};
    if (m.target.find('?') != std::string::npos) covered.push_back({"@query", {}});
    for (std::string_view name : seal::covered_when_present())
      for (const auto& [n, v] : m.headers)
        if (net::iequals(n, name)) {
          covered.push_back({std::string(name), {}});
          break;
        }
  }
  const auto params = httpsig::make_params(
      covered, {.created = o.omit_created ? std::nullopt : std::optional(created),
                .expires = o.expires,
                .nonce = o.omit_nonce ? std::nullopt : std::optional(nonce),
                .alg = o.alg.empty() ? std::nullopt : std::optional(o.alg),
                .keyid = o.omit_keyid ? std::nullopt : std::optional(o.keyid.value_or(keyid_text()))});
  const std::string base = httpsig::signature_base(m, params);
  Bytes sig = rsa_->sign_pss_sha512(as_bytes(base));
  if (o.flip_signature_bit) sig[sig.size() / 2] ^= 0x01;
  Built out;
  out.binding = request_binding(base, sig);
  net::Headers headers;
  for (const auto& [n, v] : m.headers) headers.push_back({n, v});
  headers.push_back({"Signature-Input", httpsig::signature_input_member("sig1", params)});
  headers.push_back({"Signature", httpsig::signature_member("sig1", sig)});
  if (!o.send_authority.empty()) headers.push_back({"Host", o.send_authority});
  const std::string wire_body = body.empty() || raw_body ? body : body_stream(*this, out.binding, body);
  const std::string wire_target = o.sealed ? std::string(seal::kSealedPath) : target;
  out.request = net::Request{m.method, wire_target, std::move(headers), wire_body, {}, {}, !wire_body.empty()};
  return out;
}

Reply SignedClient::send(const std::string& method, const std::string& target, const SignOptions& o,
                         const std::string& body) {
  const Built b = build(method, target, o, body);
  return open(send_raw(b.request), b.binding);
}

net::ClientResponse SignedClient::send_raw(const net::Request& req) { return http_.send(req, 64 << 20); }

Reply open_answer(const SessionSecret& secret, const Binding& b, const net::ClientResponse& r) {
  Reply out;
  out.status = out.outer_status = r.status;
  out.headers = r.headers;
  out.raw_body = r.body;
  const auto sealed_head = r.header(seal::kSealedField);
  if (!sealed_head) {
    out.body = r.body;  // a plain refusal, made before the request verified
    return out;
  }
  out.sealed = true;
  try {
    out.head = seal::open_response_head(secret, b, *sealed_head);
    out.status = out.head->status;
    if (!out.head->chunks) return out;
    const seal::Chunks& c = *out.head->chunks;
    std::uint64_t size = out.head->content_length;
    if (out.head->content_range) {  // "bytes a-b/N"
      const auto slash = out.head->content_range->rfind('/');
      size = std::stoull(out.head->content_range->substr(slash + 1));
    }
    const auto layout = stream::Layout::chunks(size, c.size, c.first, c.last);
    stream::StreamReader reader(secret, KeyPurpose::response_body, b, layout,
                                [&](std::uint64_t, ByteView plain) { out.body.append(as_chars(plain)); });
    reader.update(r.body);
    reader.finish();
  } catch (const Error& e) { out.error = e.what(); }
  return out;
}

Reply SignedClient::open(const net::ClientResponse& r, const Binding& b) const { return open_answer(secret_, b, r); }

}  // namespace mh::test
