#include "io/folder_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "core/error.hpp"

namespace mh::io {

UniqueFd lock_folder(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "lock";
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw Error(Errc::io, "cannot open " + file.string() + ": " + errno_text(errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) throw Error(Errc::io, "cannot lock " + file.string() + ": " + errno_text(err));
    char buf[32] = {};
    const ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw Error(Errc::unavailable, "another minihttpsd" + (pid.empty() ? std::string() : " (pid " + pid + ")") +
                                       " uses the keys folder " + dir.string() + " (" + file.string() + " is locked)");
  }
  // The pid is for the message above only; the lock itself is the flock, released when we exit.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0)
    throw Error(Errc::io, "cannot write " + file.string() + ": " + errno_text(errno));
  return fd;
}

}  // namespace mh::io
