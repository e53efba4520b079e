#include "auth/bans.hpp"

#include <sstream>

#include "core/ascii.hpp"
#include "core/error.hpp"

namespace mh::auth {

std::vector<Ban> parse_bans(std::string_view text, const std::string& source) {
  std::vector<Ban> bans;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto hash = line.find('#');
    const std::string fp(trim(std::string_view(line).substr(0, hash), " \t\r"));
    if (fp.empty()) continue;
    if (!is_key_fingerprint(fp))
      throw Error(Errc::bad_request, source + ":" + std::to_string(n) + ": not a key fingerprint (SHA256:...)");
    bans.push_back(
        {fp, hash == std::string::npos ? "" : std::string(trim(std::string_view(line).substr(hash + 1), " \t\r"))});
  }
  return bans;
}

std::string format_bans(const std::vector<Ban>& bans) {
  std::string text = "# minihttpsd bans: one client key fingerprint per line; edit with `minihttpsd ctl ban|unban`\n";
  for (const auto& b : bans) text += b.fingerprint + (b.comment.empty() ? "" : "  # " + b.comment) + "\n";
  return text;
}

bool names(const Ban& ban, std::string_view who) {
  if (who == ban.fingerprint) return true;
  std::istringstream in(ban.comment);
  std::string name, uuid;
  in >> name >> uuid;
  return who == name || who == uuid;
}

}  // namespace mh::auth
