#pragma once
// Response signatures (docs/PROTOCOL.md §5.2): when a verified request carries
// Accept-Signature, the server signs its answer with its Ed25519 key, covering "@status",
// "content-digest" and the request's own signature ("signature";req;key="sig1"), so a status
// or a body cannot be moved from one request to another.
#include <cstdint>

#include "core/ed25519.hpp"
#include "net/http_types.hpp"
#include "web/request_verifier.hpp"

namespace mh::web {

// Bodies up to this size are digested in memory; larger streams are digested in a first pass
// and then rewound (constant memory, twice the encryption work). That pass is handed to the
// server as net::HeadWork: it runs in steps of kDigestStepBytes, stops when the client goes away,
// and the server bounds how many run at once (--max-digest-passes[-per-client]).
inline constexpr std::uint64_t kBufferedDigestLimit = 1 << 20;
inline constexpr std::size_t kDigestStepBytes = 256 * 1024;

// The components the server covers, in order; PROTOCOL.md §5 documents them.
std::vector<httpsig::Component> response_components(const std::string& request_label);

// Signs `res` when the request asked for it (Accept-Signature). A large streamed body is not
// digested here: res.head_work is set, and the server completes the signature before the head.
void sign_response(net::Response& res, const net::Request& req, const VerifiedRequest& v,
                   const Ed25519KeyPair& server_key, std::int64_t now);

}  // namespace mh::web
