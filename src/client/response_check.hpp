#pragma once
// The client's check of a response signature (docs/PROTOCOL.md §5.2): the server's Ed25519
// signature must cover "@status", "content-digest" and our request's signature (";req"), be
// fresh, and verify with the pinned server key. Failures are Errc::integrity.
#include <cstdint>

#include "core/bytes.hpp"
#include "core/ed25519.hpp"
#include "core/httpsig.hpp"
#include "net/http_client.hpp"

namespace mh::client {

// The Accept-Signature value the client sends with every request.
std::string accept_signature_value();

// Verifies the signature on `res` (head only: status and headers) for the request `req`
// (as signed). Returns the SHA-512 digest the body must have.
Bytes check_response_signature(const net::ClientResponse& res, const httpsig::Message& req,
                               const Ed25519Public& server_key, std::int64_t now, std::int64_t max_skew);

}  // namespace mh::client
