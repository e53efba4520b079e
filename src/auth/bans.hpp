#pragma once
// The operator's bans: client key fingerprints refused at the handshake. Where they are kept is a
// BanList's business — KEYS/banned for one instance (server/ban_list.hpp), Redis when several
// instances share a store (store/redis_bans.hpp); what a ban is, how KEYS/banned writes it and
// whom it names are here, once for both.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mh::auth {

// "SHA256:" and 43 base64 characters: a client key fingerprint as whoami prints it.
inline bool is_key_fingerprint(std::string_view s) { return s.substr(0, 7) == "SHA256:" && s.size() == 7 + 43; }

struct Ban {
  std::string fingerprint;  // "SHA256:..."
  std::string comment;      // "alice 0b3e...-... banned 2026-12-02T13:00:00Z"
  bool operator==(const Ban&) const = default;
};

class BanList {
 public:
  virtual ~BanList() = default;
  virtual bool contains(std::string_view fingerprint) const = 0;
  // False if it was already banned. Kept for good (written, or stored) before it returns.
  virtual bool add(const Ban& ban) = 0;
  // Removes the ban whose fingerprint is `who`, or whose comment starts with the name or UUID
  // `who` (the first in list() order); the removed ban, or nullopt.
  virtual std::optional<Ban> remove(std::string_view who) = 0;
  virtual std::vector<Ban> list() const = 0;
};

// KEYS/banned: one fingerprint per line, then "#" and the comment; blank lines and "#" lines are
// skipped. A line that is not a fingerprint is Error(bad_request) naming `source` and the line.
std::vector<Ban> parse_bans(std::string_view text, const std::string& source);
std::string format_bans(const std::vector<Ban>& bans);

// True if `who` is the ban's fingerprint, or the client's name or UUID (the comment's first two words).
bool names(const Ban& ban, std::string_view who);

}  // namespace mh::auth
