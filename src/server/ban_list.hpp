#pragma once
// The operator's bans: client key fingerprints refused at the handshake, kept in KEYS/banned so
// that they outlive a restart. One fingerprint per line, then "#" and a comment naming the client
// (its name and UUID when it was banned, and the time). Every change rewrites the file atomically.
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mh::server {

// "SHA256:" and 43 base64 characters: a client key fingerprint as whoami prints it.
inline bool is_key_fingerprint(std::string_view s) { return s.substr(0, 7) == "SHA256:" && s.size() == 7 + 43; }

struct Ban {
  std::string fingerprint;  // "SHA256:..."
  std::string comment;      // "alice 0b3e...-... banned 2026-12-02T13:00:00Z"
};

class BanList {
 public:
  // Reads `file` if it exists; a line that is not a fingerprint is an error naming the file and line.
  explicit BanList(std::filesystem::path file);

  bool contains(std::string_view fingerprint) const;
  // False if it was already banned. Writes the file before it returns.
  bool add(const Ban& ban);
  // Removes the ban whose fingerprint is `who`, or whose comment starts with the name or UUID `who`;
  // the removed ban, or nullopt.
  std::optional<Ban> remove(std::string_view who);
  std::vector<Ban> list() const;

 private:
  void save() const;  // under mutex_

  std::filesystem::path file_;
  mutable std::mutex mutex_;
  std::vector<Ban> bans_;
};

}  // namespace mh::server
