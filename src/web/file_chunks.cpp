#include "web/file_chunks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"

namespace mh::web {
namespace {
// Files at least this large are announced to the kernel as read sequentially (more read-ahead).
constexpr std::uint64_t kFadviseMin = 1 << 20;

std::int64_t ns(const timespec& t) noexcept { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }
}  // namespace

FileVersion version_of(const struct stat& st) noexcept {
  return FileVersion{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                     static_cast<std::uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

FileChunks::FileChunks(io::UniqueFd fd, const struct stat& st) : fd_(std::move(fd)), version_(version_of(st)) {
  // Advisory (failure changes nothing), and a system call per request not worth it for small files.
  if (version_.size >= kFadviseMin) ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
}

void FileChunks::read(std::uint64_t start, std::span<std::uint8_t> out) {
  std::size_t got = 0;
  const auto offset = static_cast<off_t>(start);
  while (got < out.size()) {
    const ssize_t r = ::pread(fd_.get(), out.data() + got, out.size() - got, offset + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(Errc::io, "file: read failed: " + io::errno_text(errno));
    if (r == 0) throw Error(Errc::io, "file: shrank while being served");
    got += static_cast<std::size_t>(r);
  }
}

void FileChunks::check_unchanged() {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) throw Error(Errc::io, "file: cannot check the file: " + io::errno_text(errno));
  if (version_of(st) != version_) throw Error(Errc::io, "file: changed while being served; the last chunk is withheld");
}

}  // namespace mh::web
