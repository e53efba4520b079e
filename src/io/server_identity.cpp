#include "io/server_identity.hpp"

#include <sstream>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "io/files.hpp"

namespace mh::io {
namespace fs = std::filesystem;

namespace {

std::pair<Ed25519KeyPair, bool> identity_key(const fs::path& dir) {
  const fs::path secret = dir / kServerKeyFile;
  if (const auto pem = read_secret_if_exists(secret)) {
    try {
      return {Ed25519KeyPair::from_pem(*pem), false};
    } catch (const Error& e) { throw Error(Errc::bad_request, secret.string() + ": " + e.what()); }
  }
  ensure_directory(dir, 0700);
  auto key = Ed25519KeyPair::generate();
  write_file_atomic(secret, key.private_pem(), 0600);
  write_file_atomic(dir / kServerPubFile, ed25519_public_pem(key.public_key()), 0644);
  return {std::move(key), true};
}

std::pair<X25519KeyPair, bool> static_key(const fs::path& dir) {
  const fs::path file = dir / kStaticKeyFile;
  if (const auto text = read_secret_if_exists(file)) {
    std::string_view t = *text;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
    try {
      const Bytes secret = base64_decode(t, Alphabet::url, Padding::forbidden);
      if (secret.size() != 32) throw Error(Errc::bad_request, "not 32 bytes");
      return {X25519KeyPair::from_secret(secret), false};
    } catch (const Error& e) {
      throw Error(Errc::bad_request, file.string() + ": not an X25519 secret key (" + e.what() + ")");
    }
  }
  ensure_directory(dir, 0700);
  auto key = X25519KeyPair::generate();
  write_file_atomic(file, base64_encode(key.secret.view(), Alphabet::url, false) + "\n", 0600);
  return {std::move(key), true};
}

}  // namespace

LoadedIdentity load_or_create_server_identity(const fs::path& dir) {
  auto [id, id_created] = identity_key(dir);
  auto [st, st_created] = static_key(dir);
  return {std::move(id), std::move(st), id_created, st_created};
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
