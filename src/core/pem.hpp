#pragma once
// Minimal PEM armour (RFC 7468): one block, strict base64 body.
#include <string>
#include <string_view>

#include "core/bytes.hpp"

namespace mh {

std::string pem_encode(std::string_view label, ByteView der);
// Returns the DER of the first block with this label; throws Error(bad_request) if there is none.
Bytes pem_decode(std::string_view text, std::string_view label);

}  // namespace mh
