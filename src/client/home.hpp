#pragma once
// The client's state directory (--home, $MINIHTTPS_HOME, else $XDG_CONFIG_HOME/minihttps or
// ~/.config/minihttps), mode 0700:
//   identity.pem          the client's RSA private key, PKCS#8 PEM, 0600
//   config.json           {"server": "http://HOST:PORT"}: the server remembered by connect
//   known_servers         "AUTHORITY SHA256:..." per line: pinned server keys (trust on first use)
//   sessions/AUTH.json    the session with that server (name, UUID, Fernet key, expiry), 0600
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/ed25519.hpp"
#include "core/fernet.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"

namespace mh::client {

struct SavedSession {
  std::string server;  // URL
  std::string name;
  Uuid uuid;
  FernetKey key;
  std::int64_t expires = 0;
  std::string server_fingerprint;
  Ed25519Public server_key{};  // verifies the server's response signatures
};

class Home {
 public:
  explicit Home(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // --home, then $MINIHTTPS_HOME, then the XDG config directory.
  static Home locate(const std::string& option);
  const std::filesystem::path& dir() const noexcept { return dir_; }

  bool has_identity() const;
  RsaPrivateKey load_identity() const;               // Errc::unauthenticated if there is none
  RsaPrivateKey load_or_create_identity(int bits, bool& created);

  std::optional<std::string> remembered_server() const;
  void remember_server(const std::string& url);

  std::optional<std::string> pinned_fingerprint(const std::string& authority) const;
  void pin(const std::string& authority, const std::string& fingerprint);

  std::optional<SavedSession> load_session(const std::string& authority) const;
  void save_session(const std::string& authority, const SavedSession& s);
  bool forget_session(const std::string& authority);

 private:
  std::filesystem::path session_path(const std::string& authority) const;
  std::filesystem::path dir_;
};

}  // namespace mh::client
