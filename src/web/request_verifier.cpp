#include "web/request_verifier.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/routes.hpp"
#include "core/seal.hpp"

namespace mh::web {
namespace {

[[noreturn]] void forbid(const std::string& why) { throw Error(Errc::forbidden, "signature: " + why); }

// The label to verify: "sig1" when present, else the only signature there is.
std::string pick_label(const std::vector<std::pair<std::string, httpsig::SignatureParams>>& inputs,
                       const std::vector<std::pair<std::string, Bytes>>& sigs) {
  auto has_sig = [&](const std::string& l) {
    return std::any_of(sigs.begin(), sigs.end(), [&](const auto& s) { return s.first == l; });
  };
  for (const auto& [label, p] : inputs)
    if (label == seal::kLabel && has_sig(label)) return label;
  if (inputs.size() == 1 && has_sig(inputs[0].first)) return inputs[0].first;
  throw Error(Errc::bad_request, "signature: no sig1 signature (or several without sig1)");
}

}  // namespace

RequestVerifier::RequestVerifier(auth::ClientRegistry& registry, auth::NonceStore& nonces, const Clock& clock,
                                 std::int64_t max_skew, std::string scheme, bool require_sealed)
    : registry_(registry),
      nonces_(nonces),
      clock_(clock),
      max_skew_(max_skew),
      scheme_(std::move(scheme)),
      require_sealed_(require_sealed) {}

VerifiedRequest RequestVerifier::verify(const net::Request& req) const {
  const auto input_field = req.header("Signature-Input");
  const auto sig_field = req.header("Signature");
  if (!input_field && !sig_field)
    throw Error(Errc::unauthenticated, "request is not signed: run the handshake, then sign requests (RFC 9421)");
  if (!input_field || !sig_field) throw Error(Errc::bad_request, "signature: need both Signature-Input and Signature");

  VerifiedRequest v;
  v.message = httpsig::Message{
      req.method, scheme_, std::string(req.header("Host").value_or("")), req.target, std::nullopt, {}, nullptr};
  for (const auto& h : req.headers) v.message.headers.emplace_back(h.name, h.value);
  // Repeated fields are combined as RFC 9421 §2.1 says before parsing the dictionaries.
  const auto inputs = httpsig::parse_signature_input(*httpsig::field_value(v.message, "signature-input"));
  const auto sigs = httpsig::parse_signature(*httpsig::field_value(v.message, "signature"));
  v.label = pick_label(inputs, sigs);
  for (const auto& [label, p] : inputs)
    if (label == v.label) v.params = p;
  for (const auto& [label, s] : sigs)
    if (label == v.label) v.signature = s;

  // Which session: a keyid that names no live one asks the client to handshake again (401).
  const auto& p = v.params;
  if (!p.keyid) throw Error(Errc::unauthenticated, "signature: no keyid; handshake first");
  const std::int64_t now = clock_.now();
  if (const auto keyid = seal::parse_keyid(*p.keyid)) v.client = registry_.find_session(*keyid, now);
  if (!v.client) throw Error(Errc::unauthenticated, "signature: session unknown or ended: handshake again");

  // What it must cover and when: refusals are 403.
  if (p.alg && *p.alg != seal::kAlg) forbid("alg must be " + std::string(seal::kAlg));
  if (const auto missing = seal::missing_coverage(v.message, p)) forbid(*missing);
  if (!p.created) forbid("must carry created");
  if (*p.created < now - max_skew_ || *p.created > now + max_skew_) forbid("created is outside the allowed window");
  if (p.expires && *p.expires < now) forbid("expired");
  if (!p.nonce || p.nonce->empty() || p.nonce->size() > seal::kMaxNonceLength)
    forbid("must carry a nonce of 1-128 characters");

  std::string base;
  try {
    base = httpsig::signature_base(v.message, p);
  } catch (const Error& e) {
    if (e.code() != Errc::bad_request) throw;
    forbid(std::string("cannot build the signature base (") + e.what() + ")");
  }
  if (!v.client->key.verify_pss_sha512(as_bytes(base), v.signature)) forbid("does not verify");

  // Only a verified request may spend a nonce, so forgeries cannot fill the cache. The scope is
  // the client, not the session: a nonce cannot be used again under a newer session either.
  const std::string_view scope(reinterpret_cast<const char*>(v.client->uuid.bytes.data()), v.client->uuid.bytes.size());
  switch (nonces_.check_and_insert(scope, as_bytes(*p.nonce), now)) {
    case auth::NonceStore::Verdict::fresh: break;
    case auth::NonceStore::Verdict::replayed: forbid("nonce already used (replayed request)");
    case auth::NonceStore::Verdict::full: throw Error(Errc::unavailable, "server busy, try again later");
    case auth::NonceStore::Verdict::scope_full:
      throw Error(Errc::rate_limited,
                  "signature: too many requests from this client within the replay window; slow down");
  }
  if (*p.created < nonces_.vouches_from())
    throw Error(Errc::unavailable,
                "store: restarted; a request signed before it cannot be checked for replay, sign it again");
  v.binding = request_binding(base, v.signature);
  v.sealed = seal::is_sealed(v.message);
  v.method = req.method;
  v.target = req.target;
  v.client->last_seen.store(now, std::memory_order_relaxed);
  v.client->mark_used();
  return v;
}

void RequestVerifier::open(VerifiedRequest& v, const net::Request& req) const {
  const bool at_sealed_path = routes::path_of(req.target) == seal::kSealedPath;
  if (!v.sealed) {
    // Copied only here, before the refusals below (which look for Accept-Signature): a sealed
    // request's fields are the ones inside its seal.
    v.fields = req.headers;
    if (at_sealed_path) throw Error(Errc::bad_request, "sealed: no MiniHTTPS-Sealed field");
    if (require_sealed_) throw Error(Errc::forbidden, "this server accepts sealed requests only");
    return;
  }
  if (!at_sealed_path)
    throw Error(Errc::bad_request, "sealed: a sealed request goes to " + std::string(seal::kSealedPath));
  seal::check_nothing_outside(v.message);
  const bhttp::Request inner =
      seal::open_request_head(v.client->session_secret, v.client->keyid, *v.params.created, *v.params.nonce,
                              *httpsig::field_value(v.message, "minihttps-sealed"), v.message.authority);
  v.method = inner.method;
  v.target = inner.path;
  for (const auto& f : inner.fields) v.fields.push_back({f.name, f.value});
}

}  // namespace mh::web
