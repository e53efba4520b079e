#pragma once
// The server's identity key on disk (keys/server_ed25519.key, .pub) and the optional
// keys/authorized_clients list.
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/ed25519.hpp"

namespace mh::io {

inline constexpr const char* kServerKeyFile = "server_ed25519.key";
inline constexpr const char* kServerPubFile = "server_ed25519.pub";
inline constexpr const char* kAuthorizedClientsFile = "authorized_clients";

struct LoadedIdentity {
  Ed25519KeyPair key;
  bool created = false;
};

// Loads the key, or creates it (secret 0600, public 0644) when the directory has none.
// A secret readable by group or others is refused, like OpenSSH does.
LoadedIdentity load_or_create_server_identity(const std::filesystem::path& dir);

// nullopt when the file does not exist; else the fingerprints it lists (blank lines and
// # comments ignored). A line that is not a fingerprint is Errc::bad_request naming the line.
std::optional<std::unordered_set<std::string>> load_authorized_clients(const std::filesystem::path& dir);

}  // namespace mh::io
