#pragma once
// The server's keys on disk: the Ed25519 identity (keys/server_ed25519.key, .pub), the X25519
// static key hellos are sealed to (keys/server_x25519.key, docs/PROTOCOL.md §2), and the
// optional keys/authorized_clients list.
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/ed25519.hpp"
#include "core/x25519.hpp"

namespace mh::io {

inline constexpr const char* kServerKeyFile = "server_ed25519.key";
inline constexpr const char* kServerPubFile = "server_ed25519.pub";
inline constexpr const char* kStaticKeyFile = "server_x25519.key";
inline constexpr const char* kAuthorizedClientsFile = "authorized_clients";

struct LoadedIdentity {
  Ed25519KeyPair key;
  X25519KeyPair static_key;
  bool created = false;         // the identity key was made now
  bool static_created = false;  // the static key was made now
};

// Loads both keys, or creates each one the directory lacks (secrets 0600, the public identity
// 0644). The static key file holds its 32-byte secret in unpadded base64url and a newline. A
// secret readable by group or others is refused, like OpenSSH does.
LoadedIdentity load_or_create_server_identity(const std::filesystem::path& dir);

// nullopt when the file does not exist; else the fingerprints it lists (blank lines and
// # comments ignored). A line that is not a fingerprint is Errc::bad_request naming the line.
std::optional<std::unordered_set<std::string>> load_authorized_clients(const std::filesystem::path& dir);

}  // namespace mh::io
