#include "io/tls_files.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "io/files.hpp"

namespace mh::io {
namespace fs = std::filesystem;

TlsCertificate load_tls_files(const fs::path& certificate, const fs::path& key) {
  TlsCertificate out;
  const auto cert = read_file_if_exists(certificate);
  if (!cert) throw Error(Errc::bad_request, "tls: " + certificate.string() + " does not exist");
  const auto secret = read_secret_if_exists(key);
  if (!secret) throw Error(Errc::bad_request, "tls: " + key.string() + " does not exist");
  try {
    describe_certificate(*cert);
  } catch (const Error& e) { throw Error(Errc::bad_request, certificate.string() + ": " + e.what()); }
  out.certificate_pem = *cert;
  out.private_key_pem = *secret;
  return out;
}

SelfSigned load_or_create_self_signed(const fs::path& dir, const std::vector<std::string>& names, std::int64_t now) {
  const fs::path cert_file = dir / kSelfSignedCertFile, key_file = dir / kSelfSignedKeyFile;
  const auto cert = read_file_if_exists(cert_file);
  const auto key = read_secret_if_exists(key_file);
  if (cert && key) {
    try {
      const CertificateFacts facts = describe_certificate(*cert);
      const bool covers = std::all_of(names.begin(), names.end(), [&](const std::string& n) {
        return std::find(facts.names.begin(), facts.names.end(), n) != facts.names.end();
      });
      if (covers && facts.not_after - now > kSelfSignedRenewBefore) return {{*cert, *key}, false};
    } catch (const Error&) {
      // Unreadable: replaced below, as a missing one would be.
    }
  }
  ensure_directory(dir, 0700);
  TlsCertificate made = make_self_signed_certificate(names, now, kSelfSignedDays);
  write_file_atomic(key_file, made.private_key_pem, 0600);
  write_file_atomic(cert_file, made.certificate_pem, 0644);
  return {std::move(made), true};
}

}  // namespace mh::io
