#pragma once
// Encrypted uploads with the cksum confirmation (DESIGN.md §3 "Uploads", PROTOCOL.md §9).
//
//   PUT    /uploads/NAME              body = Fernet token under the session key; the server
//                                     decrypts while streaming into a private temporary file and
//                                     answers the plaintext's size and POSIX cksum CRC (an attempt)
//   POST   /uploads/NAME?commit=ID    the client's CRC matched: the file moves into place atomically
//   DELETE /uploads/NAME?attempt=ID   it did not: the attempt is dropped (the client retries)
//   GET    /uploads/ , /uploads/NAME  the client's own committed uploads (listing / file)
//   DELETE /uploads/NAME              removes a committed upload
//
// Each client's area is uploads/<hex SHA-256 of its key>/: private to that key, and stable across
// server restarts (UUIDs are not). Only committed files are visible; attempts live in a hidden
// directory, expire after attempt_timeout, and are all removed at start-up.
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "core/clock.hpp"
#include "net/http_types.hpp"
#include "web/request_verifier.hpp"

namespace mh::web {

struct UploadOptions {
  std::filesystem::path dir = "uploads";
  std::uint64_t max_upload_size = 1ull << 30;  // plaintext bytes per file (413 beyond)
  std::uint64_t quota = 4ull << 30;            // plaintext bytes per client, committed + pending (507)
  std::int64_t attempt_timeout = 600;          // seconds an uncommitted attempt is kept
  std::int64_t max_token_age = 300;            // the upload token's timestamp, as for downloads
  int corrupt_first_attempts = 0;              // fault injection; settable only in test builds
};

class UploadService {
 public:
  // Creates the directory (0700) and removes every uncommitted attempt left by an earlier run.
  UploadService(UploadOptions o, const Clock& clock);

  static bool owns(std::string_view path) noexcept;
  // Everything under /uploads for a verified request: an immediate answer, or (PUT) a body sink.
  net::Dispatch handle(const net::Request& req, const VerifiedRequest& v);
  // Drops attempts older than attempt_timeout; returns how many.
  std::size_t sweep();

 private:
  struct Attempt {
    std::string area;  // the client's directory name
    std::string name;
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
    std::int64_t created = 0;
  };
  class Sink;

  std::filesystem::path area_dir(const std::string& area) const { return opts_.dir / area; }
  net::Dispatch begin_upload(const net::Request& req, const VerifiedRequest& v, const std::string& area,
                             const std::string& name);
  net::Response commit(const std::string& area, const std::string& name, const std::string& id);
  net::Response discard(const std::string& area, const std::string& name, const std::string& id);
  net::Response remove(const std::string& area, const std::string& name);
  std::uint64_t usage(const std::string& area) const;
  void attempt_ready(const std::string& id, Attempt a);

  UploadOptions opts_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Attempt> attempts_;  // id -> attempt (complete, awaiting commit)
  std::map<std::string, std::uint64_t> incoming_;  // area -> bytes promised by uploads in progress
  int corrupted_ = 0;
};

}  // namespace mh::web
