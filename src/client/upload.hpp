#pragma once
// `minihttps put`: the send -> CRC-confirm -> commit protocol (docs/PROTOCOL.md §10, with the
// changes of docs/PROTOCOL.md §8). The file goes up as the request body stream of a sealed
// PUT: chunks of the session's size, each a Fernet token under K("request body", B, i, last),
// sealed as the file is read (on a few cores when it has several: client/parallel_sealer.hpp).
// The server answers the CRC and size of what it opened; equal to ours -> commit, else discard
// and retry (at most 3 retries, 4 attempts).
#include <cstdint>
#include <filesystem>
#include <string>

#include "client/connection.hpp"

namespace mh::client {

inline constexpr int kMaxUploadAttempts = 4;

struct UploadResult {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
  int attempts = 0;
};

UploadResult upload(Connection& conn, const std::filesystem::path& local, const std::string& remote,
                    const Verbosity& v);

}  // namespace mh::client
