#pragma once
// The server's self-description, GET /.well-known/minihttps (docs/PROTOCOL.md §2): its
// identity key (which the client pins), its static X25519 key (to which the hello is sealed) and
// the identity's signature over it. The document is not authenticated: the caller checks the
// identity key against its pin, and only then the static key's signature with that key.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/handshake.hpp"

namespace mh::client {

inline constexpr std::string_view kDiscoveryPath = "/.well-known/minihttps";
inline constexpr std::size_t kMaxDiscoveryBytes = 16 * 1024;

struct Discovery {
  handshake::ServerKeys keys;    // identity and static key, neither checked yet
  Bytes static_signature;        // Ed25519 by the identity over the static key
  std::string fingerprint;       // of keys.identity
  std::uint32_t chunk_size = 0;  // informative: the session's comes in the handshake reply
};

// Strict: exactly the fields of §2, each of its type and length, "version" 2, the fixed paths,
// a "fingerprint" that is the one of "public_key". Errc::bad_request "discovery: ...", with any
// text of the server's escaped.
Discovery parse_discovery(std::string_view json);

}  // namespace mh::client
