#pragma once
// Small, careful file helpers: bounded reads, atomic replace-by-rename writes with a chosen mode.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mh::io {

// Whole file, refusing files larger than max_bytes (Errc::io with the path in the reason).
std::string read_file(const std::filesystem::path& p, std::uint64_t max_bytes = 1 << 20);
std::optional<std::string> read_file_if_exists(const std::filesystem::path& p, std::uint64_t max_bytes = 1 << 20);

// Writes to a temporary file in the same directory, fsyncs, renames over `p`: readers see the
// old or the new content, never a mix. The file gets `mode` (e.g. 0600 for secrets) from birth.
void write_file_atomic(const std::filesystem::path& p, std::string_view data, unsigned mode = 0644);

// Creates the directory (and parents) if missing, with `mode` for the ones it creates.
void ensure_directory(const std::filesystem::path& p, unsigned mode = 0700);

// Permission bits of an existing file.
unsigned file_mode(const std::filesystem::path& p);

// A secret's file (nullopt when missing). One that group or others can read is refused
// (Errc::forbidden, saying the chmod that mends it), as OpenSSH does.
std::optional<std::string> read_secret_if_exists(const std::filesystem::path& p, std::uint64_t max_bytes = 64 * 1024);

}  // namespace mh::io
