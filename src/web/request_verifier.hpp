#pragma once
// Verification of RFC 9421-signed requests: every rule of docs/PROTOCOL.md §4 in one
// place. The verdicts are mh::Errors: no signature, unknown key id or expired session ->
// unauthenticated (401); malformed fields -> bad_request (400); a bad signature, missing
// coverage, a time outside the window, a reused nonce -> forbidden (403).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "auth/registry.hpp"
#include "auth/replay_cache.hpp"
#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/httpsig.hpp"
#include "net/http_types.hpp"

namespace mh::web {

inline constexpr std::string_view kClientAlg = "rsa-pss-sha512";
inline constexpr std::size_t kMaxNonceLength = 128;

struct VerifiedRequest {
  std::shared_ptr<const auth::ClientRecord> client;
  std::string label;                       // "sig1"
  httpsig::SignatureParams params;
  Bytes signature;                         // for response signatures (";req")
  std::optional<Bytes> content_digest;     // the sha-512 digest the client signed, when it covers a body
  httpsig::Message message;                // the request as the signature base saw it
};

class RequestVerifier {
 public:
  RequestVerifier(auth::ClientRegistry& registry, auth::ReplayCache& nonces, const Clock& clock,
                  std::int64_t max_skew, std::string scheme = "http");

  // Checks the signature of `req`. If the request has a body, the signature must cover
  // content-digest; the body itself is checked against it by the caller (check_body_digest),
  // since bodies may stream. Marks the client as seen.
  VerifiedRequest verify(const net::Request& req) const;

  // For bodies that arrived whole: the SHA-512 of `body` must equal the signed Content-Digest.
  static void check_body_digest(const VerifiedRequest& v, ByteView body);

 private:
  auth::ClientRegistry& registry_;
  auth::ReplayCache& nonces_;
  const Clock& clock_;
  std::int64_t max_skew_;
  std::string scheme_;
};

}  // namespace mh::web
