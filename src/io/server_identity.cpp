#include "io/server_identity.hpp"

#include <sstream>

#include "core/error.hpp"
#include "io/files.hpp"

namespace mh::io {
namespace fs = std::filesystem;

LoadedIdentity load_or_create_server_identity(const fs::path& dir) {
  const fs::path secret = dir / kServerKeyFile;
  if (const auto pem = read_file_if_exists(secret, 64 * 1024)) {
    if (file_mode(secret) & 077)
      throw Error(Errc::forbidden, secret.string() + " is readable by others; run: chmod 600 " + secret.string());
    try {
      return {Ed25519KeyPair::from_pem(*pem), false};
    } catch (const Error& e) {
      throw Error(Errc::bad_request, secret.string() + ": " + e.what());
    }
  }
  ensure_directory(dir, 0700);
  auto key = Ed25519KeyPair::generate();
  write_file_atomic(secret, key.private_pem(), 0600);
  write_file_atomic(dir / kServerPubFile, ed25519_public_pem(key.public_key()), 0644);
  return {std::move(key), true};
}

std::optional<std::unordered_set<std::string>> load_authorized_clients(const fs::path& dir) {
  const auto text = read_file_if_exists(dir / kAuthorizedClientsFile);
  if (!text) return std::nullopt;
  std::unordered_set<std::string> out;
  std::istringstream in(*text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const auto e = line.find_last_not_of(" \t\r");
    const std::string fp = line.substr(b, e - b + 1);
    if (fp.rfind("SHA256:", 0) != 0 || fp.size() != 7 + 43)
      throw Error(Errc::bad_request, (dir / kAuthorizedClientsFile).string() + ":" + std::to_string(n) +
                                         ": not a key fingerprint (SHA256:...)");
    out.insert(fp);
  }
  return out;
}

}  // namespace mh::io
