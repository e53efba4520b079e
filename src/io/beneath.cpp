#include "io/beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/error.hpp"
#include "core/path.hpp"

namespace mh::io {
namespace fs = std::filesystem;

void throw_file_error(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: throw Error(Errc::not_found, "file: not found");
    case EXDEV: throw Error(Errc::forbidden, "file: outside the root");
    case ELOOP: throw Error(Errc::forbidden, "file: symlink loop or symlink swapped in");
    case EACCES:
    case EPERM: throw Error(Errc::forbidden, "file: permission denied");
    default: throw Error(Errc::io, "file: " + errno_text(err));
  }
}

namespace {

// O_NOFOLLOW: a symlink is never opened through, it is read and walked (ELOOP tells us it is one).
// O_NONBLOCK: a FIFO must not block the thread before its type is checked. O_NOCTTY: a terminal
// device must not become ours.
constexpr int kLeafFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
constexpr int kStepFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

[[noreturn]] void refuse_outside() { throw Error(Errc::forbidden, "file: outside the root"); }

void check_request_segments(const std::vector<std::string>& segments) {
  // Also what keeps a hand-built path from carrying "..", "/" or an absolute name.
  for (const auto& seg : segments)
    if (auto r = segment_refusal(seg)) throw Error(r->code, std::string(r->reason));
}

// Checks what was opened: only regular files and directories are served.
Opened accept(UniqueFd fd, std::vector<std::string> segments) {
  Opened o{std::move(fd), {}, std::move(segments)};
  if (::fstat(o.fd.get(), &o.st) != 0) throw_file_error(errno);
  if (!S_ISREG(o.st.st_mode) && !S_ISDIR(o.st.st_mode))
    throw Error(Errc::forbidden, "file: not a regular file or directory");
  return o;
}

// One openat2() that refuses every symlink and every escape; nullopt when it cannot decide (a
// symlink on the way, or no openat2 here), so the walk must.
std::optional<Opened> open_without_symlinks(int root_fd, const std::vector<std::string>& segments) {
  if (segments.empty()) return std::nullopt;
  std::string relative;
  for (const auto& seg : segments) {
    if (!relative.empty()) relative += '/';
    relative += seg;
  }
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how);
  if (fd >= 0) return accept(UniqueFd(static_cast<int>(fd)), segments);
  switch (errno) {
    // A symlink on the way would have been ELOOP before any of these.
    case ENOENT:
    case ENOTDIR:
    case EACCES: throw_file_error(errno);
    default: return std::nullopt;  // ELOOP (a symlink), ENOSYS/EPERM (no openat2), EAGAIN, ...
  }
}

// The component-by-component walk. `chain_` holds a descriptor for every directory walked below
// the root, so ".." pops one and can never climb above the root, and each name is opened relative
// to a descriptor that is beneath the root by construction.
class Walk {
 public:
  Walk(int root_fd, const fs::path& root, const std::vector<std::string>& segments)
      : root_fd_(root_fd), root_(root.native()), todo_(segments.begin(), segments.end()) {}

  Opened run() {
    while (!todo_.empty()) {
      std::string name = std::move(todo_.front());
      todo_.pop_front();
      if (name.empty() || name == ".") continue;  // only from symlink targets ("a//b", "./b", "dir/")
      if (name == "..") {
        if (chain_.empty()) refuse_outside();
        chain_.pop_back();
        where_.pop_back();
        continue;
      }
      // Request segments were checked before the walk, so this is a symlink target's component.
      if (!is_servable_name(name)) throw Error(Errc::forbidden, "file: hidden name behind a symlink");
      if (todo_.empty()) {
        if (auto leaf = open_leaf(name)) return std::move(*leaf);
      } else {
        descend(name);
      }
    }
    // The walk ended on a directory already held ("", "/", a link to "sub/" or "..").
    UniqueFd fd(::openat(dir(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) throw_file_error(errno);
    return accept(std::move(fd), std::move(where_));
  }

 private:
  int dir() const noexcept { return chain_.empty() ? root_fd_ : chain_.back().get(); }

  void descend(const std::string& name) {
    UniqueFd next(::openat(dir(), name.c_str(), kStepFlags));
    if (next.get() >= 0) {
      chain_.push_back(std::move(next));
      where_.push_back(name);
      return;
    }
    const int err = errno;
    // O_PATH | O_NOFOLLOW | O_DIRECTORY on a symlink: ENOTDIR (or ELOOP); on a file: ENOTDIR.
    if (err != ENOTDIR && err != ELOOP) throw_file_error(err);
    if (!follow(name)) throw_file_error(ENOTDIR);
  }

  // The last name: opened, or nullopt when it was a symlink whose target is now queued.
  std::optional<Opened> open_leaf(const std::string& name) {
    UniqueFd fd(::openat(dir(), name.c_str(), kLeafFlags));
    if (fd.get() >= 0) {
      where_.push_back(name);
      return accept(std::move(fd), std::move(where_));
    }
    const int err = errno;
    if (err != ELOOP) throw_file_error(err);
    // A symlink, or one that was swapped back for something else since: look again.
    if (!follow(name)) todo_.push_front(name);
    return std::nullopt;
  }

  // Reads the symlink `name` in the current directory and queues its target's components before
  // the rest. False when `name` is not a symlink (any more).
  bool follow(const std::string& name) {
    if (++links_ > kMaxSymlinks) throw_file_error(ELOOP);
    char buf[PATH_MAX];
    const ssize_t n = ::readlinkat(dir(), name.c_str(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINVAL) return false;
      throw_file_error(errno);
    }
    if (static_cast<std::size_t>(n) == sizeof buf) throw_file_error(ENAMETOOLONG);
    std::string_view target(buf, static_cast<std::size_t>(n));
    if (target.empty()) throw_file_error(ENOENT);
    if (target.front() == '/') target = below_root(target);
    std::deque<std::string> parts;
    for (std::size_t start = 0;;) {
      const std::size_t slash = target.find('/', start);
      parts.emplace_back(
          target.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    todo_.insert(todo_.begin(), parts.begin(), parts.end());
    return true;
  }

  // An absolute target is walked from the root when it names the root's canonical path or
  // something below it; any other absolute target is outside.
  std::string_view below_root(std::string_view target) {
    std::string_view rest;
    if (root_ == "/") {
      rest = target.substr(1);
    } else if (target == root_) {
      rest = {};
    } else if (target.size() > root_.size() && target.starts_with(root_) && target[root_.size()] == '/') {
      rest = target.substr(root_.size() + 1);
    } else {
      refuse_outside();
    }
    chain_.clear();
    where_.clear();
    return rest;
  }

  int root_fd_;
  std::string root_;
  std::deque<std::string> todo_;
  std::vector<UniqueFd> chain_;
  std::vector<std::string> where_;
  int links_ = 0;
};

}  // namespace

Beneath::Beneath(const fs::path& root, Resolution how) : how_(how) {
  std::error_code ec;
  root_ = fs::canonical(root, ec);
  if (ec) throw Error(Errc::io, "root " + root.string() + ": " + ec.message());
  root_fd_ = UniqueFd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root_fd_.get() < 0) throw Error(Errc::io, "root " + root.string() + ": " + errno_text(errno));
}

Opened Beneath::open(const std::vector<std::string>& segments) const {
  check_request_segments(segments);
  if (how_ == Resolution::fast_path_first)
    if (auto o = open_without_symlinks(root_fd_.get(), segments)) return std::move(*o);
  return walk(segments);
}

Opened Beneath::walk(const std::vector<std::string>& segments) const {
  return Walk(root_fd_.get(), root_, segments).run();
}

}  // namespace mh::io
