#pragma once
// The plaintext of a served file (docs/PROTOCOL.md §6, §7.3), read with pread from the descriptor
// that was opened beneath the root, so any chunk can be read in any order (and by several threads). Before the last
// chunk is sealed the file is checked again: if it was replaced in place, resized or written, the response stops
// without its last chunk, so a client never joins two versions.
#include <sys/stat.h>

#include "core/etag.hpp"
#include "io/unique_fd.hpp"
#include "web/answer.hpp"

namespace mh::web {

FileVersion version_of(const struct stat& st) noexcept;

class FileChunks final : public ChunkSource {
 public:
  FileChunks(io::UniqueFd fd, const struct stat& st);
  void read(std::uint64_t offset, std::span<std::uint8_t> out) override;
  void check_unchanged() override;

 private:
  io::UniqueFd fd_;
  FileVersion version_;
};

}  // namespace mh::web
