#include "client/discovery.hpp"

#include "core/ed25519.hpp"
#include "core/error.hpp"
#include "core/seal.hpp"
#include "core/strict_json.hpp"
#include "core/stream.hpp"
#include "core/terminal_text.hpp"

namespace mh::client {

Discovery parse_discovery(std::string_view text) {
  const StrictJson sj("discovery");
  try {
    const auto j = sj.parse_object(text, kMaxDiscoveryBytes);
    sj.only_fields(j, {"chunk_size", "fingerprint", "handshake", "protocol", "public_key", "sealed", "static_key",
                       "static_signature", "version"});
    if (sj.need_int(j, "version") != handshake::kVersion || sj.need_string(j, "protocol", 64) != "minihttps/2")
      sj.malformed("the server does not speak minihttps/2 (update the server or use a version-1 client)");
    // The client knows these paths; a server naming others is not one it can talk to.
    if (sj.need_string(j, "handshake", 256) != "/auth/handshake" ||
        sj.need_string(j, "sealed", 256) != seal::kSealedPath)
      sj.malformed("unexpected handshake or sealed path");
    Discovery d;
    d.keys.identity = sj.need_fixed<32>(j, "public_key");
    d.keys.static_key = sj.need_fixed<32>(j, "static_key");
    d.static_signature = sj.need_b64u(j, "static_signature", 64, 64);
    d.fingerprint = ed25519_fingerprint(d.keys.identity);
    if (sj.need_string(j, "fingerprint", 64) != d.fingerprint) sj.malformed("the fingerprint is not the public key's");
    const std::int64_t chunk = sj.need_int(j, "chunk_size");
    if (chunk < 0 || !stream::valid_chunk_size(static_cast<std::uint64_t>(chunk))) sj.malformed("invalid chunk size");
    d.chunk_size = static_cast<std::uint32_t>(chunk);
    return d;
  } catch (const Error& e) {
    // An unknown field's name is the server's text.
    throw Error(e.code(), terminal_safe(e.what(), 300));
  }
}

}  // namespace mh::client
