#pragma once
// Opening a name beneath a root directory so that nothing outside it can ever be reached, whatever
// another local user renames or swaps while we resolve (docs/ARCHITECTURE.md "Opening beneath the
// root"). Nothing here checks a path string and then opens it again: every step opens one name
// relative to a directory descriptor already held beneath the root, without following symlinks,
// and a symlink found on the way is read and its target resolved the same way from the
// descriptors held (its ".." climbs only what was walked, never above the root).
//
//   1. openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): one system call when no symlink is on the
//      way (the common request); the kernel refuses any escape atomically.
//   2. Otherwise (a symlink on the way, or no openat2: old kernel, seccomp), the walk above.
//
// Every component of a symlink's target must itself be a servable name (core/path.hpp), so a link
// cannot reach what no request could name (.git/, .env). An absolute target is allowed only when
// it names the root's own canonical path or something below it; it is then walked from the root.
//
// Refusals (mh::Error; the reason reaches the client and never holds a filesystem path):
//   Errc::not_found  "file: not found"                           missing, or a file used as a directory
//   Errc::forbidden  "file: outside the root"                    any way out: "..", absolute target, ...
//                                                                (one answer, whether or not the target exists)
//                    "file: hidden name behind a symlink"        a target component that is not servable
//                    "file: symlink loop or symlink swapped in"  more than kMaxSymlinks links followed
//                    "file: permission denied"
//                    "file: not a regular file or directory"     FIFOs, devices, sockets
//   Errc::io         "file: <errno text>"                        anything else
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/unique_fd.hpp"

namespace mh::io {

inline constexpr int kMaxSymlinks = 40;  // as the kernel's own limit (ELOOP)

struct Opened {
  UniqueFd fd;  // O_RDONLY: a regular file, or a directory (for fdopendir)
  struct stat st {};
  std::vector<std::string> segments;  // where it really is, below the root, after every symlink
  bool directory() const noexcept { return S_ISDIR(st.st_mode); }
};

enum class Resolution {
  fast_path_first,  // openat2 when it can decide, the walk otherwise
  walk_only,        // always the walk (tests; kernels without openat2 take it anyway)
};

class Beneath {
 public:
  // Opens the root (which must be a directory) once and keeps its canonical path.
  // Throws Errc::io when it does not exist or is not a directory.
  explicit Beneath(const std::filesystem::path& root, Resolution how = Resolution::fast_path_first);

  // Opens what `segments` names beneath the root (no segments: the root itself). Each segment must
  // already be a servable name; it is checked again here. Only regular files and directories are
  // opened (special files are refused before anything is read from them).
  Opened open(const std::vector<std::string>& segments) const;

  const std::filesystem::path& root() const noexcept { return root_; }
  int root_fd() const noexcept { return root_fd_.get(); }

 private:
  Opened walk(const std::vector<std::string>& segments) const;

  std::filesystem::path root_;  // canonical
  UniqueFd root_fd_;            // O_PATH | O_DIRECTORY
  Resolution how_;
};

// The client-facing refusal for a failed open or stat (the table above).
[[noreturn]] void throw_file_error(int err);

}  // namespace mh::io
