#include "server/ban_list.hpp"

#include <algorithm>

#include "io/files.hpp"

namespace mh::server {

using auth::Ban;

BanFile::BanFile(std::filesystem::path file) : file_(std::move(file)) {
  if (const auto text = io::read_file_if_exists(file_)) bans_ = auth::parse_bans(*text, file_.string());
}

bool BanFile::contains(std::string_view fingerprint) const {
  std::lock_guard lock(mutex_);
  return std::any_of(bans_.begin(), bans_.end(), [&](const Ban& b) { return b.fingerprint == fingerprint; });
}

bool BanFile::add(const Ban& ban) {
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

std::optional<Ban> BanFile::remove(std::string_view who) {
  std::lock_guard lock(mutex_);
  const auto it = std::find_if(bans_.begin(), bans_.end(), [&](const Ban& b) { return auth::names(b, who); });
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

std::vector<Ban> BanFile::list() const {
  std::lock_guard lock(mutex_);
  return bans_;
}

void BanFile::save() const { io::write_file_atomic(file_, auth::format_bans(bans_), 0600); }

}  // namespace mh::server
