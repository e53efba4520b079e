#pragma once
// `minihttps put`: the register -> send file -> CRC-confirm protocol (PROTOCOL.md §9).
// The file goes up as one Fernet token under the session key, in a signed PUT; the server
// answers the CRC and size of what it decrypted; equal to ours -> commit, else discard and
// retry (at most 3 retries, 4 attempts).
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
