#pragma once
// The client's state directory (--home, $MINIHTTPS_HOME, else $XDG_CONFIG_HOME/minihttps or
// ~/.config/minihttps), mode 0700:
//   identity.pem          the client's RSA private key, PKCS#8 PEM, 0600
//   config.json           {"server": "http://HOST:PORT"}: the server remembered by connect
//   known_servers         "AUTHORITY SHA256:..." per line: pinned server keys (trust on first use)
//   sessions/AUTH.json    the minihttps/2 session with that server (docs/PROTOCOL.md §3.5), 0600
//   sessions/AUTH.ended   why it is gone ("logged out"), until the next session is saved
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/ed25519.hpp"
#include "core/key_schedule.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"
#include "core/x25519.hpp"

namespace mh::client {

// What a handshake leaves behind: enough to seal requests (keyid, secret, chunk size), to
// handshake again by itself (name, the pinned key), and to show the user (whoami).
struct SavedSession {
  std::string server;     // URL, "http://HOST:PORT"
  std::string authority;  // the Host every request of the session is signed for
  std::string name;
  KeyId keyid{};
  Uuid uuid;
  SessionSecret secret;
  std::int64_t expires = 0;
  std::uint32_t chunk_size = 0;
  std::string server_fingerprint;
  Ed25519Public server_key{};  // the pinned identity key
  X25519Public static_key{};   // the static key it vouched for when this session was made
};

class Home {
 public:
  explicit Home(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // --home, then $MINIHTTPS_HOME, then the XDG config directory.
  static Home locate(const std::string& option);
  const std::filesystem::path& dir() const noexcept { return dir_; }

  bool has_identity() const;
  RsaPrivateKey load_identity() const;  // Errc::unauthenticated if there is none
  RsaPrivateKey load_or_create_identity(int bits, bool& created);

  std::optional<std::string> remembered_server() const;
  void remember_server(const std::string& url);

  std::optional<std::string> pinned_fingerprint(const std::string& authority) const;
  void pin(const std::string& authority, const std::string& fingerprint);

  // nullopt when there is no session file, or only one of protocol version 1 (the user connects
  // again); a damaged version-2 file is Errc::bad_request telling the user to connect again.
  std::optional<SavedSession> load_session(const std::string& authority) const;
  void save_session(const std::string& authority, const SavedSession& s);
  bool forget_session(const std::string& authority);
  // Why there is no session any more ("logged out"), kept beside where it was (sessions/AUTH.ended)
  // until the next one is saved, so that later commands can say so.
  void record_ended_session(const std::string& authority, const std::string& why);
  std::optional<std::string> ended_session(const std::string& authority) const;
  // The UUID of the last session file of either version, if it can be read: offered in the next
  // hello so the server keeps this identity's UUID. Never throws.
  std::optional<Uuid> previous_uuid(const std::string& authority) const noexcept;

 private:
  std::filesystem::path session_path(const std::string& authority) const;
  std::filesystem::path ended_path(const std::string& authority) const;
  std::filesystem::path dir_;
};

}  // namespace mh::client
