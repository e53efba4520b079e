#include "server/ban_list.hpp"

#include <algorithm>
#include <sstream>

#include "core/ascii.hpp"
#include "core/error.hpp"
#include "io/files.hpp"

namespace mh::server {
namespace {

// The first word of the comment is the client's name, the second its UUID.
bool names(const Ban& b, std::string_view who) {
  std::istringstream in(b.comment);
  std::string name, uuid;
  in >> name >> uuid;
  return who == name || who == uuid;
}

}  // namespace

BanList::BanList(std::filesystem::path file) : file_(std::move(file)) {
  const auto text = io::read_file_if_exists(file_);
  if (!text) return;
  std::istringstream in(*text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto hash = line.find('#');
    const std::string fp(trim(std::string_view(line).substr(0, hash), " \t\r"));
    if (fp.empty()) continue;
    if (!is_key_fingerprint(fp))
      throw Error(Errc::bad_request, file_.string() + ":" + std::to_string(n) + ": not a key fingerprint (SHA256:...)");
    bans_.push_back(
        {fp, hash == std::string::npos ? "" : std::string(trim(std::string_view(line).substr(hash + 1), " \t\r"))});
  }
}

bool BanList::contains(std::string_view fingerprint) const {
  std::lock_guard lock(mutex_);
  return std::any_of(bans_.begin(), bans_.end(), [&](const Ban& b) { return b.fingerprint == fingerprint; });
}

bool BanList::add(const Ban& ban) {
  std::lock_guard lock(mutex_);
  if (std::any_of(bans_.begin(), bans_.end(), [&](const Ban& b) { return b.fingerprint == ban.fingerprint; }))
    return false;
  bans_.push_back(ban);
  try {
    save();
  } catch (...) {
    bans_.pop_back();  // not written, so not banned: the operator sees the error and may retry
    throw;
  }
  return true;
}

std::optional<Ban> BanList::remove(std::string_view who) {
  std::lock_guard lock(mutex_);
  const auto it =
      std::find_if(bans_.begin(), bans_.end(), [&](const Ban& b) { return b.fingerprint == who || names(b, who); });
  if (it == bans_.end()) return std::nullopt;
  const Ban removed = *it;
  const auto at = bans_.erase(it);
  try {
    save();
  } catch (...) {
    bans_.insert(at, removed);  // back where it was: the list is as on disk again
    throw;
  }
  return removed;
}

std::vector<Ban> BanList::list() const {
  std::lock_guard lock(mutex_);
  return bans_;
}

void BanList::save() const {
  std::string text = "# minihttpsd bans: one client key fingerprint per line; edit with `minihttpsd ctl ban|unban`\n";
  for (const auto& b : bans_) text += b.fingerprint + (b.comment.empty() ? "" : "  # " + b.comment) + "\n";
  io::write_file_atomic(file_, text, 0600);
}

}  // namespace mh::server
