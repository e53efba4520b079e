#include "client/connection.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <thread>

#include "client/discovery.hpp"
#include "client/exit_codes.hpp"
#include "client/retry.hpp"
#include "core/handshake.hpp"
#include "core/terminal_text.hpp"
#include "io/system_clock.hpp"

namespace mh::client {
namespace {

std::string reason_of(int status, std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  // The reason is the server's text (any server's before a key is pinned, an on-path attacker's
  // for plain refusals): escaped and capped before it reaches the terminal.
  if (j.is_object() && j.contains("reason") && j["reason"].is_string())
    return terminal_safe(j["reason"].get_ref<const std::string&>(), kMaxReasonBytes);
  return "HTTP " + std::to_string(status);
}

// sealed: the answer opened under the session, so the server verified the request: its 403 is
// about the path (exit 1). A plain 403 refused the request's credentials (exit 4).
[[noreturn]] void raise_reason(int status, const std::string& reason, const std::string& what, bool sealed) {
  Errc code = errc_for_status(status);
  if (code == Errc::forbidden && !sealed) code = Errc::unauthenticated;
  // "chat: chat: room full" says nothing twice: a reason that already names what failed stands alone.
  if (reason.starts_with(what + ": ")) throw Error(code, reason);
  throw Error(code, what + ": " + reason);
}

}  // namespace

Connection::Connection(Home& home, net::ServerUrl url, Verbosity v, std::chrono::milliseconds timeout)
    : home_(home), url_(std::move(url)), verb_(v), http_(url_, timeout) {}

void Connection::raise(const net::ClientResponse& r, const std::string& what) {
  raise_reason(r.status, reason_of(r.status, r.body), what, false);
}

void Connection::raise(const Answer& a, const std::string& what) {
  raise_reason(a.status, reason_of(a.status, a.body), what, a.sealed);
}

SavedSession Connection::handshake(const std::string& name, const std::optional<std::string>& pin, int rsa_bits,
                                   const std::string& pin_from) {
  if (!handshake::valid_name(name))
    throw UsageError("name must be 1-32 characters of A-Z a-z 0-9 . _ - (got '" + name + "')");
  bool created = false;
  identity_ = home_.load_or_create_identity(rsa_bits, created);
  if (created && !verb_.quiet)
    std::fprintf(stderr, "created a new %d-bit RSA identity in %s\n", rsa_bits, (home_.dir() / "identity.pem").c_str());
  const std::string authority = url_.authority();
  const std::optional<std::string> pinned = pin ? pin : home_.pinned_fingerprint(authority);

  // 1. Which keys the server holds (§2): the identity key must be the pinned one, and it must
  // have signed the static key the hello will be sealed to.
  if (verb_.verbose) std::fprintf(stderr, "> GET %s%s\n", url_.str().c_str(), std::string(kDiscoveryPath).c_str());
  const auto doc =
      http_.send(net::Request{"GET", std::string(kDiscoveryPath), {}, {}, {}, {}, false}, kMaxDiscoveryBytes);
  if (verb_.verbose) std::fprintf(stderr, "< %d\n", doc.status);
  if (doc.status != 200) raise(doc, "the server at " + authority + " does not offer minihttps/2");
  const Discovery d = parse_discovery(doc.body);
  // The user's own --fingerprint is no pin yet: say what it expected, and offer no command that
  // would accept the key the user just rejected.
  if (pin && !pin_from.empty() && d.fingerprint != *pin)
    throw Error(Errc::trust, "the server at " + authority + " presented key " + d.fingerprint + ", but " + pin_from +
                                 " expected " + *pin +
                                 ".\nNothing of yours was sent to it, and nothing about it was recorded. Check the "
                                 "fingerprint with the server's operator (minihttpsd prints it when it starts).");
  if (pinned && d.fingerprint != *pinned)
    throw Error(Errc::trust,
                "the server at " + authority + " presented key " + d.fingerprint + ", but " + *pinned + " is pinned" +
                    (pin ? "" : " (" + (home_.dir() / "known_servers").string() + ")") +
                    ".\nThis can be an attack. If the server's key was changed on purpose, confirm the new "
                    "fingerprint with its operator, then run:\n  minihttps connect --server " +
                    url_.str() + " --name " + name + " --fingerprint " + d.fingerprint);
  handshake::verify_static_key(d.keys.identity, d.keys.static_key, d.static_signature);

  // 2. The hello, sealed to the static key; reconnecting offers the UUID we had, so it is kept.
  io::SystemClock clock;
  auto hs = handshake::ClientHandshake::create(*identity_, name, home_.previous_uuid(authority), d.keys, clock);
  net::Request req{"POST", "/auth/handshake", {{"Content-Type", "application/json"}}, hs.hello_json(), {}, {}, true};
  if (verb_.verbose) std::fprintf(stderr, "> POST %s/auth/handshake\n", url_.str().c_str());
  const auto res = http_.send(req, handshake::kMaxMessageBytes);
  if (verb_.verbose) std::fprintf(stderr, "< %d\n", res.status);
  if (res.status != 200) raise(res, "handshake refused");
  handshake::ClientSession s;
  try {
    s = hs.consume(res.body);
  } catch (const Error& e) {
    // A malformed reply's error can quote the server (e.g. an unknown field's name): escaped.
    throw Error(e.code(), terminal_safe(e.what(), kMaxReasonBytes));
  }

  if (!pinned) {
    home_.pin(authority, d.fingerprint);
    if (!verb_.quiet)
      std::fprintf(stderr, "trusting %s on first use: server key %s (recorded in %s)\n", authority.c_str(),
                   d.fingerprint.c_str(), (home_.dir() / "known_servers").c_str());
  } else if (pin && home_.pinned_fingerprint(authority) != pin) {
    home_.pin(authority, *pin);  // an explicit pin replaces what was recorded
  }
  SavedSession saved{url_.str(), authority,    name,          s.keyid,         s.uuid,           std::move(s.secret),
                     s.expires,  s.chunk_size, d.fingerprint, d.keys.identity, d.keys.static_key};
  home_.save_session(authority, saved);
  home_.remember_server(url_.str());
  session_ = saved;
  return saved;
}

void Connection::rehandshake() {
  if (!verb_.quiet) std::fprintf(stderr, "session expired or revoked: handshaking again\n");
  const SavedSession old = session();
  handshake(old.name, old.server_fingerprint, identity_ ? identity_->bits() : 3072);
}

const SavedSession& Connection::session() {
  if (!session_) {
    session_ = home_.load_session(url_.authority());
    if (!session_) {
      const std::string run = ": run `minihttps connect " + url_.authority() + "`";
      if (const auto why = home_.ended_session(url_.authority()))
        throw Error(Errc::unauthenticated, "no session with " + url_.str() + " (" + *why + ")" + run);
      throw Error(Errc::unauthenticated, "not connected to " + url_.str() + run);
    }
  }
  return *session_;
}

SealedRequest Connection::seal(const std::string& method, const std::string& target,
                               const std::vector<bhttp::Field>& fields, bool upgrade) {
  if (!identity_) identity_ = home_.load_identity();
  const SavedSession& s = session();
  // The inner authority stays empty: the outer Host, which the signature covers, is the one.
  const bhttp::Request inner{method, url_.scheme(), "", target, fields};
  SealedRequest out;
  const httpsig::Message m = seal::seal_request(seal::Credentials{s.secret, s.keyid, *identity_}, inner, url_.scheme(),
                                                url_.authority(), seal::Freshness::fresh(io::SystemClock().now()),
                                                out.sig, seal::SealOptions{.upgrade = upgrade});
  out.outer.method = m.method;
  out.outer.target = m.target;
  for (const auto& [name, value] : m.headers) out.outer.headers.push_back({name, value});
  if (verb_.verbose)
    std::fprintf(stderr, "> %s %s%s (sealed, session %s)\n", method.c_str(), url_.str().c_str(), target.c_str(),
                 seal::keyid_text(s.keyid).c_str());
  return out;
}

Answer Connection::send(const Exchange& x) {
  bool handshaken_again = false;
  for (int busy_retries = 0;;) {
    SealedRequest r = seal(x.method, x.target, x.fields, false);
    const SavedSession& s = session();
    AnswerReader reader(s.secret, r.sig.binding, s.chunk_size, x.on_head, x.on_chunk);
    Answer a;
    if (x.body) {
      // The reply to an upload is a short JSON object: read whole, then opened.
      const auto body = x.body(s, r.sig.binding);
      r.outer.has_body = true;
      a = reader.read(http_.send_body(r.outer, *body));
    } else {
      try {
        http_.send_streaming(
            r.outer, [&](const net::ClientResponse& head) { reader.head(head); },
            [&](std::string_view bytes) { reader.data(bytes); });
      } catch (const Error& e) {
        reader.salvage();  // chunks that arrived whole before the failure still count
        // A body cut short is the stream's failure, told as PROTOCOL.md §6.3 says ("the stream
        // ended after chunk i, ..."); a network failure stays one (exit 3, worth a -C).
        if (e.code() == Errc::integrity) reader.broke_off();
        throw;
      } catch (...) {
        reader.salvage();
        throw;
      }
      a = reader.finish();
    }
    if (verb_.verbose) std::fprintf(stderr, "< %d%s\n", a.status, a.sealed ? " (sealed)" : " (plain refusal)");
    if (!a.sealed && a.status == 401 && !handshaken_again && x.handshake_again && repeatable(x.method)) {
      handshaken_again = true;
      rehandshake();
      continue;
    }
    if (const auto wait = busy_wait(a, x.method, busy_retries)) {
      if (!verb_.quiet) std::fprintf(stderr, "%s\n", busy_notice(a.status, *wait).c_str());
      std::this_thread::sleep_for(std::chrono::seconds(*wait));
      ++busy_retries;
      continue;
    }
    return a;
  }
}

void Connection::reconnect_after_401(const Answer& a, const std::string& what, const std::string& method) {
  const std::string reason = reason_of(a.status, a.body);
  rehandshake();
  throw Error(Errc::unauthenticated, what + ": " + reason + "; minihttps connected again, but does not repeat a " +
                                         method + " by itself: run the command again");
}

}  // namespace mh::client
