#pragma once
// The certificate and key minihttpsd serves TLS with: the operator's own (--tls-cert, --tls-key),
// or one it makes and keeps in its keys folder (--tls-self-signed: tls_self_signed.crt and
// tls_self_signed.key), so a browser's exception for it lasts across restarts.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/tls_certificate.hpp"

namespace mh::io {

inline constexpr const char* kSelfSignedCertFile = "tls_self_signed.crt";
inline constexpr const char* kSelfSignedKeyFile = "tls_self_signed.key";
inline constexpr int kSelfSignedDays = 365;
inline constexpr std::int64_t kSelfSignedRenewBefore = 30 * 86400;  // seconds before it expires

// Reads both files (the key refused if group or others can read it); Errc::bad_request naming the
// file that is missing or holds no PEM certificate.
TlsCertificate load_tls_files(const std::filesystem::path& certificate, const std::filesystem::path& key);

struct SelfSigned {
  TlsCertificate files;
  bool created = false;  // made now: the kept one was missing, expiring, or did not cover `names`
};
// The kept self-signed certificate while it names every one of `names` and is valid for
// kSelfSignedRenewBefore more; else a new one for `names` (written 0644, its key 0600).
SelfSigned load_or_create_self_signed(const std::filesystem::path& dir, const std::vector<std::string>& names,
                                      std::int64_t now);

}  // namespace mh::io
