#include "web/request_verifier.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/hash.hpp"

namespace mh::web {
namespace {

[[noreturn]] void forbid(const std::string& why) { throw Error(Errc::forbidden, "signature: " + why); }

bool covers(const httpsig::SignatureParams& p, std::string_view name) {
  return std::any_of(p.components.begin(), p.components.end(),
                     [&](const httpsig::Component& c) { return c.name == name && c.params.empty(); });
}

// The label to verify: "sig1" when present, else the only signature there is.
std::string pick_label(const std::vector<std::pair<std::string, httpsig::SignatureParams>>& inputs,
                       const std::vector<std::pair<std::string, Bytes>>& sigs) {
  auto has_sig = [&](const std::string& l) {
    return std::any_of(sigs.begin(), sigs.end(), [&](const auto& s) { return s.first == l; });
  };
  for (const auto& [label, p] : inputs)
    if (label == "sig1" && has_sig(label)) return label;
  if (inputs.size() == 1 && has_sig(inputs[0].first)) return inputs[0].first;
  throw Error(Errc::bad_request, "signature: no sig1 signature (or several without sig1)");
}

}  // namespace

RequestVerifier::RequestVerifier(auth::ClientRegistry& registry, auth::ReplayCache& nonces, const Clock& clock,
                                 std::int64_t max_skew, std::string scheme)
    : registry_(registry), nonces_(nonces), clock_(clock), max_skew_(max_skew), scheme_(std::move(scheme)) {}

VerifiedRequest RequestVerifier::verify(const net::Request& req) const {
  const auto input_field = req.header("Signature-Input");
  const auto sig_field = req.header("Signature");
  if (!input_field && !sig_field)
    throw Error(Errc::unauthenticated, "request is not signed: run the handshake, then sign requests (RFC 9421)");
  if (!input_field || !sig_field) throw Error(Errc::bad_request, "signature: need both Signature-Input and Signature");

  VerifiedRequest v;
  v.message = httpsig::Message{req.method, scheme_, std::string(req.header("Host").value_or("")), req.target,
                               std::nullopt, {}, nullptr};
  for (const auto& h : req.headers) v.message.headers.emplace_back(h.name, h.value);
  // Repeated fields are combined as RFC 9421 §2.1 says before parsing the dictionaries.
  const auto inputs = httpsig::parse_signature_input(*httpsig::field_value(v.message, "signature-input"));
  const auto sigs = httpsig::parse_signature(*httpsig::field_value(v.message, "signature"));
  v.label = pick_label(inputs, sigs);
  for (const auto& [label, p] : inputs)
    if (label == v.label) v.params = p;
  for (const auto& [label, s] : sigs)
    if (label == v.label) v.signature = s;

  // Who: an unknown key id or a dead session asks the client to handshake again (401).
  const auto& p = v.params;
  if (!p.keyid) throw Error(Errc::unauthenticated, "signature: no keyid; handshake first");
  const auto uuid = Uuid::parse(*p.keyid);
  const std::int64_t now = clock_.now();
  if (uuid) v.client = registry_.find_session(*uuid, now);
  if (!v.client) throw Error(Errc::unauthenticated, "signature: unknown keyid or expired session; handshake again");

  // What it must cover and when: refusals are 403.
  if (p.alg && *p.alg != kClientAlg) forbid("alg must be " + std::string(kClientAlg));
  for (const char* c : {"@method", "@authority", "@path"})
    if (!covers(p, c)) forbid(std::string("must cover ") + c);
  if (req.target.find('?') != std::string::npos && !covers(p, "@query")) forbid("must cover @query");
  if (req.has_body && !covers(p, "content-digest")) forbid("must cover content-digest when there is a body");
  if (!p.created) forbid("must carry created");
  if (*p.created < now - max_skew_ || *p.created > now + max_skew_) forbid("created is outside the allowed window");
  if (p.expires && *p.expires < now) forbid("expired");
  if (!p.nonce || p.nonce->empty() || p.nonce->size() > kMaxNonceLength) forbid("must carry a nonce of 1-128 characters");

  std::string base;
  try {
    base = httpsig::signature_base(v.message, p);
  } catch (const Error& e) {
    if (e.code() != Errc::bad_request) throw;
    forbid(std::string("cannot build the signature base (") + e.what() + ")");
  }
  if (!v.client->key.verify_pss_sha512(as_bytes(base), v.signature)) forbid("does not verify");

  // Only a verified request may spend a nonce, so forgeries cannot fill the cache. The scope is
  // the client's parsed UUID, not the keyid text: "ABC..." and "abc..." are one client.
  const std::string_view scope(reinterpret_cast<const char*>(uuid->bytes.data()), uuid->bytes.size());
  switch (nonces_.check_and_insert(scope, as_bytes(*p.nonce), now)) {
    case auth::ReplayCache::Verdict::fresh: break;
    case auth::ReplayCache::Verdict::replayed: forbid("nonce already used (replayed request)");
    case auth::ReplayCache::Verdict::full: throw Error(Errc::unavailable, "server busy, try again later");
    case auth::ReplayCache::Verdict::scope_full:
      throw Error(Errc::rate_limited, "signature: too many requests from this client within the replay window; slow down");
  }
  if (covers(p, "content-digest")) {
    const auto digest_field = httpsig::field_value(v.message, "content-digest");
    v.content_digest = httpsig::content_digest_sha512_value(digest_field.value_or(""));
    if (!v.content_digest) forbid("content-digest must carry sha-512");
  }
  v.client->last_seen.store(now, std::memory_order_relaxed);
  v.client->mark_used();
  return v;
}

void RequestVerifier::check_body_digest(const VerifiedRequest& v, ByteView body) {
  if (!v.content_digest) {
    if (!body.empty()) forbid("body not covered by content-digest");
    return;
  }
  if (!ct_equal(sha512(body), *v.content_digest)) forbid("body does not match content-digest");
}

}  // namespace mh::web
