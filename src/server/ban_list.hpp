#pragma once
// The bans of one instance, kept in KEYS/banned so that they outlive a restart (the format is
// auth/bans.hpp's). Every change rewrites the file atomically. With --store redis the bans live in
// the store instead (store/redis_bans.hpp) and this file is only read at start, to import it.
#include <filesystem>
#include <mutex>

#include "auth/bans.hpp"

namespace mh::server {

class BanFile final : public auth::BanList {
 public:
  // Reads `file` if it exists; a line that is not a fingerprint is an error naming the file and line.
  explicit BanFile(std::filesystem::path file);

  bool contains(std::string_view fingerprint) const override;
  bool add(const auth::Ban& ban) override;  // writes the file before it returns
  std::optional<auth::Ban> remove(std::string_view who) override;
  std::vector<auth::Ban> list() const override;

 private:
  void save() const;  // under mutex_

  std::filesystem::path file_;
  mutable std::mutex mutex_;
  std::vector<auth::Ban> bans_;
};

}  // namespace mh::server
