#pragma once
// Verification of signed requests: every rule of docs/PROTOCOL.md §5.2 in one place, and the
// opening of a sealed request (§5.1 steps 2-3). The verdicts are mh::Errors: no signature, or a
// keyid that names no live session -> unauthenticated (401); malformed fields -> bad_request (400);
// a bad signature, missing coverage, a time outside the window, a reused nonce -> forbidden (403).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "auth/registry.hpp"
#include "auth/nonce_store.hpp"
#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/httpsig.hpp"
#include "core/key_schedule.hpp"
#include "net/http_types.hpp"

namespace mh::web {

// A request whose signature verified.
struct VerifiedRequest {
  std::shared_ptr<const auth::ClientRecord> client;
  std::string label;  // "sig1"
  httpsig::SignatureParams params;
  Bytes signature;           // for response signatures (";req")
  httpsig::Message message;  // the request as the signature base saw it
  Binding binding{};         // B: the keys of its body and of its answer (PROTOCOL.md §4)
  bool sealed = false;       // it carries MiniHTTPS-Sealed
  // The request the client meant: for a sealed request the inner one, once open() ran; for an
  // unsealed one the request itself (its fields, too, are filled in by open()). Fields keep the
  // sender's names; look them up with find_header.
  std::string method;
  std::string target;
  net::Headers fields;
};

class RequestVerifier {
 public:
  RequestVerifier(auth::ClientRegistry& registry, auth::NonceStore& nonces, const Clock& clock, std::int64_t max_skew,
                  std::string scheme = "http", bool require_sealed = false);

  // Checks the signature of `req` (§5.2) and marks the client as seen. Throws before anything
  // is known about the client; what it returns is enough to seal any later answer.
  VerifiedRequest verify(const net::Request& req) const;

  // Steps 2 and 3 of §5.1 for a sealed request (nothing outside the seal, the head opens and is
  // well formed) and fills in method, target and fields; for an unsealed one, refuses it under
  // --require-sealed. Errc::bad_request / forbidden, to be answered sealed.
  void open(VerifiedRequest& v, const net::Request& req) const;

 private:
  auth::ClientRegistry& registry_;
  auth::NonceStore& nonces_;
  const Clock& clock_;
  std::int64_t max_skew_;
  std::string scheme_;
  bool require_sealed_;
};

}  // namespace mh::web
