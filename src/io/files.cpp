#include "io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace mh::io {
namespace fs = std::filesystem;

namespace {
[[noreturn]] void fail(const fs::path& p, const char* what) {
  throw Error(Errc::io, std::string(what) + " " + p.string() + ": " + std::strerror(errno));
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::optional<std::string> read_file_if_exists(const fs::path& p, std::uint64_t max_bytes) {
  Fd f{::open(p.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail(p, "cannot open");
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail(p, "cannot stat");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    throw Error(Errc::io, p.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(p, "cannot read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) throw Error(Errc::io, p.string() + " grew past the size limit");
  }
  return out;
}

std::string read_file(const fs::path& p, std::uint64_t max_bytes) {
  auto s = read_file_if_exists(p, max_bytes);
  if (!s) throw Error(Errc::io, "no such file: " + p.string());
  return std::move(*s);
}

void write_file_atomic(const fs::path& p, std::string_view data, unsigned mode) {
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  Bytes rnd = random_bytes(8);
  const fs::path tmp = dir / ("." + p.filename().string() + ".tmp-" + to_hex(rnd));
  Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)};
  if (f.fd < 0) fail(tmp, "cannot create");
  ::fchmod(f.fd, mode);  // umask must not widen or narrow what the caller asked for
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(f.fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::unlink(tmp.c_str());
      errno = saved;
      fail(tmp, "cannot write");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(f.fd) != 0 || ::rename(tmp.c_str(), p.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail(p, "cannot replace");
  }
}

void ensure_directory(const fs::path& p, unsigned mode) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) return;
  if (p.has_parent_path() && p.parent_path() != p) ensure_directory(p.parent_path(), mode);
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) fail(p, "cannot create directory");
}

unsigned file_mode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) fail(p, "cannot stat");
  return st.st_mode & 07777;
}

std::optional<std::string> read_secret_if_exists(const fs::path& p, std::uint64_t max_bytes) {
  auto text = read_file_if_exists(p, max_bytes);
  if (text && (file_mode(p) & 077))
    throw Error(Errc::forbidden, p.string() + " is readable by others; run: chmod 600 " + p.string());
  return text;
}

}  // namespace mh::io
