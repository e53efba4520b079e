#pragma once
// One server per keys folder: an exclusive flock on KEYS/lock, held for the life of the process.
// Two servers on one folder would each sweep and rewrite the other's files (the ban list, the
// control socket); the second is refused before it listens.
#include <filesystem>

#include "io/unique_fd.hpp"

namespace mh::io {

// Takes the lock (creating the file, 0600) and writes this process's pid into it. Throws Error
// (Errc::unavailable) naming the holder's pid when another process holds it.
UniqueFd lock_folder(const std::filesystem::path& dir);

}  // namespace mh::io
