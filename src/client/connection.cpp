#include "client/connection.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "core/base64.hpp"
#include "client/exit_codes.hpp"
#include "client/response_check.hpp"
#include "core/hash.hpp"
#include "core/handshake.hpp"
#include "core/httpsig.hpp"
#include "core/terminal_text.hpp"
#include "io/system_clock.hpp"

namespace mh::client {

Connection::Connection(Home& home, net::ServerUrl url, Verbosity v, std::chrono::milliseconds timeout)
    : home_(home), url_(std::move(url)), verb_(v), http_(url_, timeout) {}

void Connection::raise(const net::ClientResponse& r, const std::string& what) {
  std::string reason = "HTTP " + std::to_string(r.status);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  // The reason is the server's text (any server's before a key is pinned, an on-path attacker's
  // for unsigned answers): escaped and capped before it reaches the terminal.
  if (j.is_object() && j.contains("reason") && j["reason"].is_string())
    reason = terminal_safe(j["reason"].get_ref<const std::string&>(), kMaxReasonBytes);
  // "chat: chat: room full" says nothing twice: a reason that already names what failed stands alone.
  if (reason.starts_with(what + ": ")) throw Error(errc_for_status(r.status), reason);
  throw Error(errc_for_status(r.status), what + ": " + reason);
}

SavedSession Connection::handshake(const std::string& name, const std::optional<std::string>& pin, int rsa_bits) {
  if (!handshake::valid_name(name)) throw UsageError("name must be 1-32 characters of A-Z a-z 0-9 . _ - (got '" + name + "')");
  bool created = false;
  identity_ = home_.load_or_create_identity(rsa_bits, created);
  if (created && !verb_.quiet)
    std::fprintf(stderr, "created a new %d-bit RSA identity in %s\n", rsa_bits, (home_.dir() / "identity.pem").c_str());
  const std::string authority = url_.authority();
  const std::optional<std::string> pinned = pin ? pin : home_.pinned_fingerprint(authority);

  // Reconnect: offer the UUID this key had with this server, so it is kept. A damaged session
  // file must not stand in the way of connecting again (it is replaced below).
  std::optional<Uuid> previous;
  try {
    if (const auto old = home_.load_session(authority)) previous = old->uuid;
  } catch (const Error& e) {
    if (!verb_.quiet) std::fprintf(stderr, "ignoring the old session: %s\n", e.what());
  }
  io::SystemClock clock;
  auto hs = handshake::ClientHandshake::create(*identity_, name, previous, clock);
  net::Request req{"POST", "/auth/handshake", {{"Content-Type", "application/json"}}, hs.hello_json(), {}, {}, true};
  if (verb_.verbose) std::fprintf(stderr, "> POST %s/auth/handshake\n", url_.str().c_str());
  const auto res = http_.send(req, handshake::kMaxMessageBytes);
  if (verb_.verbose) std::fprintf(stderr, "< %d\n", res.status);
  if (res.status != 200) raise(res, "handshake refused");

  handshake::ClientSession s;
  try {
    s = hs.consume(res.body, pinned);
  } catch (const Error& e) {
    // A malformed reply's error can quote the server (e.g. an unknown field's name): escaped.
    if (e.code() != Errc::trust) throw Error(e.code(), terminal_safe(e.what(), kMaxReasonBytes));
    if (!pinned) throw;
    const auto presented = handshake::parse_server_reply(res.body).server_key;
    throw Error(Errc::trust,
                "the server at " + authority + " presented key " + ed25519_fingerprint(presented) + ", but " + *pinned +
                    " is pinned" + (pin ? "" : " (" + (home_.dir() / "known_servers").string() + ")") +
                    ".\nThis can be an attack. If the server's key was changed on purpose, confirm the new "
                    "fingerprint with its operator, then run:\n  minihttps connect --server " + url_.str() + " --name " +
                    name + " --fingerprint " + ed25519_fingerprint(presented));
  }
  const std::string fp = ed25519_fingerprint(s.server_key);
  if (!pinned) {
    home_.pin(authority, fp);
    if (!verb_.quiet)
      std::fprintf(stderr, "trusting %s on first use: server key %s (recorded in %s)\n", authority.c_str(), fp.c_str(),
                   (home_.dir() / "known_servers").c_str());
  } else if (pin && home_.pinned_fingerprint(authority) != pin) {
    home_.pin(authority, *pin);  // an explicit pin replaces what was recorded
  }
  SavedSession saved{url_.str(), name, s.uuid, std::move(s.key), s.expires, fp, s.server_key};
  home_.save_session(authority, saved);
  home_.remember_server(url_.str());
  session_ = saved;
  return saved;
}

const SavedSession& Connection::session() {
  if (!session_) {
    session_ = home_.load_session(url_.authority());
    if (!session_)
      throw Error(Errc::unauthenticated,
                  "not connected to " + url_.str() + ": run minihttps connect --server " + url_.str() + " --name NAME");
  }
  return *session_;
}

std::pair<net::Request, httpsig::Message> Connection::sign(const std::string& method, const std::string& target,
                                                           const std::optional<std::string>& content_digest,
                                                           net::Headers extra) {
  if (!identity_) identity_ = home_.load_identity();
  const SavedSession& s = session();
  std::vector<httpsig::Component> covered = {{"@method", {}}, {"@authority", {}}, {"@path", {}}};
  if (target.find('?') != std::string::npos) covered.push_back({"@query", {}});
  if (content_digest) {
    extra.push_back({"Content-Digest", *content_digest});
    covered.push_back({"content-digest", {}});
  }
  extra.push_back({"Accept-Signature", accept_signature_value()});
  const std::string nonce = base64_encode(random_bytes(16), Alphabet::url, false);
  const auto params = httpsig::make_params(
      covered, {.created = io::SystemClock().now(), .nonce = nonce, .alg = "rsa-pss-sha512", .keyid = s.uuid.to_string()});
  httpsig::Message m{method, "http", url_.authority(), target, std::nullopt, {}, nullptr};
  for (const auto& h : extra) m.headers.emplace_back(h.name, h.value);
  const std::string base = httpsig::signature_base(m, params);
  extra.push_back({"Signature-Input", httpsig::signature_input_member("sig1", params)});
  extra.push_back({"Signature", httpsig::signature_member("sig1", identity_->sign_pss_sha512(as_bytes(base)))});
  m.headers.emplace_back("Signature-Input", extra[extra.size() - 2].value);
  m.headers.emplace_back("Signature", extra.back().value);
  return {net::Request{method, target, std::move(extra), {}, {}, {}, content_digest.has_value()}, std::move(m)};
}

void Connection::check_answer(const net::ClientResponse& head, const httpsig::Message& signed_request,
                              std::optional<Bytes>& digest) const {
  if (verb_.verbose) std::fprintf(stderr, "< %d\n", head.status);
  // Refusals that come before the server knows us (401, bad signature) cannot be signed.
  const bool must_be_signed = head.status >= 200 && head.status < 300;
  if (must_be_signed || head.header("Signature"))
    digest = check_response_signature(head, signed_request, session_->server_key, io::SystemClock().now(), max_skew());
}

void Connection::rehandshake() {
  if (!verb_.quiet) std::fprintf(stderr, "session expired or revoked: handshaking again\n");
  const SavedSession old = session();
  handshake(old.name, old.server_fingerprint, identity_ ? identity_->bits() : 3072);
}

net::ClientResponse Connection::request_with_body(const std::string& method, const std::string& target,
                                                  net::BodySource& body, const std::string& content_digest) {
  auto [req, signed_msg] = sign(method, target, content_digest, {});
  if (verb_.verbose)
    std::fprintf(stderr, "> %s %s%s (%llu bytes, signed as %s)\n", method.c_str(), url_.str().c_str(), target.c_str(),
                 static_cast<unsigned long long>(body.size()), session().uuid.to_string().c_str());
  auto res = http_.send_body(req, body);
  std::optional<Bytes> digest;
  check_answer(res, signed_msg, digest);
  if (digest && !ct_equal(sha512(as_bytes(res.body)), *digest))
    throw Error(Errc::integrity, "response body does not match its signed digest");
  return res;
}

net::ClientResponse Connection::request(const std::string& method, const std::string& target, const std::string& body,
                                        net::Headers extra, const BodyCallback& on_body, bool rehandshake) {
  // A listing holds at most 10000 entries of names up to 255 bytes (PROTOCOL.md §5.1): a few MiB
  // once encrypted. Nothing else the client buffers comes near this.
  constexpr std::size_t kMaxBuffered = 16 << 20;
  for (int attempt = 0;; ++attempt) {
    auto [req, signed_msg] = sign(method, target,
                                  body.empty() ? std::nullopt : std::optional(httpsig::content_digest_sha512(as_bytes(body))),
                                  extra);
    req.body = body;
    if (verb_.verbose)
      std::fprintf(stderr, "> %s %s%s (signed as %s)\n", method.c_str(), url_.str().c_str(), target.c_str(),
                   session().uuid.to_string().c_str());
    std::optional<Bytes> digest;
    Sha512 hash;
    bool stream = false;
    std::string buffered;
    net::ClientResponse head_seen;
    auto res = http_.send_streaming(
        req,
        [&](const net::ClientResponse& head) {
          check_answer(head, signed_msg, digest);
          stream = on_body && head.status == 200;
          // What is buffered in memory (listings, JSON answers, errors) is refused by its declared
          // length already, before a byte of it is read. HttpClient insists on a Content-Length.
          if (const auto length = head.header("Content-Length");
              !stream && length && std::stoull(std::string(*length)) > kMaxBuffered)
            throw Error(Errc::network, "response too large");
          head_seen = head;
        },
        [&](std::string_view chunk) {
          hash.update(as_bytes(chunk));
          if (stream) {
            on_body(head_seen, chunk);
          } else {
            if (buffered.size() + chunk.size() > kMaxBuffered) throw Error(Errc::network, "response too large");
            buffered.append(chunk);
          }
        });
    if (digest && !ct_equal(hash.finish(), *digest))
      throw Error(Errc::integrity, "response body does not match its signed digest (tampered or substituted); "
                                   "nothing was written");
    res.body = std::move(buffered);
    if (res.status == 401 && attempt == 0 && rehandshake) {
      this->rehandshake();
      continue;
    }
    return res;
  }
}

net::Headers Connection::signed_headers(const std::string& method, const std::string& target) {
  return sign(method, target, {}, {}).first.headers;
}

}  // namespace mh::client
