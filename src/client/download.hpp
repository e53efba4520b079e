#pragma once
// Fetching a file: the response is decrypted as it streams into a temporary file next to the
// target (or in $TMPDIR for stdout); only after the token's MAC, its age and the signed digest
// all check out is it renamed into place (or copied to stdout). Otherwise nothing is written.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "client/connection.hpp"

namespace mh::client {

// "/docs/a b.txt" or "docs/a b.txt" -> "/docs/a%20b.txt" (RFC 3986 unreserved characters and
// '/' kept, everything else percent-encoded).
std::string encode_path(std::string_view path);

struct DownloadResult {
  std::uint64_t bytes = 0;
  std::string media_type;
  std::filesystem::path written;  // empty for stdout
};

// out: a file path, an existing directory (the remote name is kept), or nullopt for stdout.
DownloadResult download(Connection& conn, const std::string& target, const std::optional<std::filesystem::path>& out,
                        const Verbosity& v, std::int64_t max_token_age);

// The decrypted body of a small signed GET (listings), with the same checks, in memory.
std::string fetch_small(Connection& conn, const std::string& target, std::int64_t max_token_age);

}  // namespace mh::client
