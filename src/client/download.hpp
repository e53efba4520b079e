#pragma once
// `minihttps get`: the answer's chunks are opened as they arrive (client/sealed_answer.hpp) and
// only opened chunks are written, in order. To a file: into FILE.part, renamed to FILE after the
// last chunk opened; a transfer that stops early leaves FILE.part and its record
// (client/partial.hpp), and `-C` asks for the rest. To stdout, or to an existing device or pipe
// (-o /dev/null, a FIFO; never replaced by a file): each chunk as soon as it opened; a stream that
// breaks off ends with exit 5 and "output incomplete: ...".
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
  std::uint64_t bytes = 0;       // written by this run
  std::uint64_t resumed_at = 0;  // -C: the bytes FILE.part already held
  std::string media_type;
  std::filesystem::path written;  // empty for stdout
};

// out: a file path, an existing directory (the remote name is kept), or nullopt for stdout.
// resume (-C): continue FILE.part if it and its record are there. A directory's answer (its
// listing) is refused before anything is written (IsDirectory, client/get_checks.hpp); so is
// binary content for stdout when it is a terminal, unless binary_to_terminal (-o -).
DownloadResult download(Connection& conn, const std::string& target, const std::optional<std::filesystem::path>& out,
                        const Verbosity& v, bool resume, bool binary_to_terminal = false);

// The opened body of a small GET (listings), in memory. Non-200 answers are raised.
std::string fetch_small(Connection& conn, const std::string& target);

}  // namespace mh::client
