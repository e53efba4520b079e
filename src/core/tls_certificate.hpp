#pragma once
// The certificate TLS runs under (docs/ARCHITECTURE.md §9): made here for --tls-self-signed, and
// described for the operator (the fingerprint a browser shows, the key hash Chromium can be told to
// accept). TLS only carries the protocol: the client authenticates the server by its pinned
// Ed25519 key whatever certificate it sees (docs/PROTOCOL.md §1.1).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mh {

struct TlsCertificate {
  std::string certificate_pem;  // the chain, leaf first
  std::string private_key_pem;  // PKCS#8
};

// A DNS host name (RFC 1123 labels of letters, digits and '-', no wildcard) or an IPv4/IPv6 address.
bool is_certificate_name(const std::string& name);

// A self-signed ECDSA P-256 certificate for `names` (each a DNS name or an IPv4/IPv6 address, at
// least one; the first is also the subject's CN), valid from an hour before `now` for `days` days,
// with a random 128-bit serial. Errc::bad_request for an empty list or a name that is neither.
TlsCertificate make_self_signed_certificate(const std::vector<std::string>& names, std::int64_t now, int days);

// What a PEM certificate says about itself, for the operator and for reuse checks.
struct CertificateFacts {
  std::string sha256;  // SHA-256 of the DER certificate, as browsers show it: "AB:CD:...:EF"
  std::string
      spki_sha256;  // base64 SHA-256 of its SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list)
  std::vector<std::string> names;  // subjectAltName DNS names and IP addresses, in order
  std::int64_t not_after = 0;      // Unix time
};
// Of the first certificate in `pem`; Errc::bad_request if it holds none.
CertificateFacts describe_certificate(std::string_view pem);

}  // namespace mh
