#pragma once
// A strict, fast reader for the one public-key form clients send: a DER SubjectPublicKeyInfo
// with the rsaEncryption algorithm (NULL parameters). OpenSSL 3.0's generic decoder spends
// about 0.3 ms per key searching its decoder chain, most of a handshake's cost; this walks the
// five DER elements with ASN1_get_object and builds the key with EVP_PKEY_fromdata (~8 us).
//
// It accepts only canonical DER (minimal lengths and integers, no trailing bytes), so the input
// is byte for byte what an encoder would write and may be hashed as the key's fingerprint.
// Anything else (id-RSASSA-PSS keys, BER, odd encodings) answers nullptr, and the caller falls
// back to the generic decoder, which decides.
#include "core/bytes.hpp"

struct evp_pkey_st;

namespace mh::detail {

evp_pkey_st* parse_rsa_spki_strict(ByteView der);

}  // namespace mh::detail
