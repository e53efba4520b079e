#pragma once
// Encrypted uploads with the cksum confirmation (docs/PROTOCOL.md §8).
//
//   PUT    /.uploads/NAME             body = the request body stream (docs/PROTOCOL.md §6, §8);
//                                     the server opens it chunk by chunk into a private temporary
//                                     file and answers the plaintext's size and POSIX cksum CRC
//   POST   /.uploads/NAME?commit=ID   the client's CRC matched: the file moves into place atomically
//   DELETE /.uploads/NAME?attempt=ID  it did not: the attempt is dropped (the client retries)
//   GET    /.uploads/ , /.uploads/NAME the client's own committed uploads (listing / file)
//   DELETE /.uploads/NAME             removes a committed upload
//
// NAME may hold '/' (a/b/c.txt): commit creates the missing directories, a removal takes away the
// ones it leaves empty; a directory where a file is wanted, or a file where a directory is, is 409.
// Each client's area is uploads/<hex SHA-256 of its key>/: private to that key, and stable across
// server restarts (UUIDs are not). Only committed files are visible; attempts live in a hidden
// directory, expire after attempt_timeout, and are removed at start-up unless the ledger still
// holds them (a shared ledger: another instance on the same directory is using them).
//
// The books (what the quota counts, which attempts exist) are kept by an auth::UploadLedger: in
// this process by default, or one several instances share (store/redis_upload_ledger), so a PUT
// on one instance can be committed on another and the quota holds across them.
//
// Quota: each client's committed files and pending attempts (in progress: the most its token can
// carry; awaiting commit: its size) count, each at least min_charge bytes, against the quota; the
// number of files + pending attempts and of pending attempts alone are capped too (all 507).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "auth/registry.hpp"
#include "auth/upload_ledger.hpp"
#include "core/clock.hpp"
#include "core/stream.hpp"
#include "net/http_types.hpp"
#include "web/answer.hpp"
#include "web/request_verifier.hpp"

namespace mh::web {

struct UploadOptions {
  std::filesystem::path dir = "uploads";
  std::uint64_t max_upload_size = 1ull << 30;  // plaintext bytes per file (413 beyond)
  std::uint64_t quota = 4ull << 30;            // bytes per client, committed + pending, as charged (507)
  // Every file and attempt is charged at least this many bytes (one filesystem block), so empty
  // files and attempts cannot exhaust the filesystem's blocks and inodes for free.
  std::uint64_t min_charge = 4096;
  std::size_t max_files = 10000;       // committed files + pending attempts per client (507 at the limit)
  std::size_t max_pending = 16;        // attempts per client in progress or awaiting commit (507 at the limit)
  std::int64_t attempt_timeout = 600;  // seconds an uncommitted attempt is kept
  int corrupt_first_attempts = 0;      // fault injection; settable only in test builds
};

// POST /.uploads/NAME?commit=ID[,ID...][&size=N&cksum=C]: the attempts to join into NAME, in order
// (one for a file sent in one PUT), and, if the client gave them, the whole file's size and cksum,
// checked before anything is committed.
struct CommitRequest {
  std::vector<std::string> ids;
  std::optional<std::uint64_t> size{};
  std::optional<std::uint32_t> crc{};
};

// One client's uploads as the quota counts them.
struct UploadUsage {
  std::uint64_t committed_bytes = 0;  // charged: max(size, min_charge) per committed file
  std::uint64_t pending_bytes = 0;    // reserved for uploads in progress, charged for attempts awaiting commit
  std::size_t files = 0;              // committed files
  std::size_t pending = 0;            // attempts in progress or awaiting commit
};

class UploadService {
 public:
  // Creates the directory (0700) and removes the uncommitted attempts the ledger does not hold
  // (with the default, in-process ledger: every one left by an earlier run). `shared`, if given,
  // must outlive the service; its limits must be those of `o`.
  UploadService(UploadOptions o, const Clock& clock, auth::UploadLedger* shared = nullptr);
  // The limits a ledger for these options needs.
  static auth::UploadLimits limits_of(const UploadOptions& o) noexcept;

  static bool owns(std::string_view path) noexcept;
  // Everything under /.uploads for a verified (and opened) request: an answer, or (PUT) a body sink.
  using Result = std::variant<Answer, BodyIntake>;
  Result handle(const net::Request& req, const VerifiedRequest& v);
  // Drops attempts older than attempt_timeout; returns how many.
  std::size_t sweep();
  // The client's books (for operators and tests).
  UploadUsage usage(const auth::ClientRecord& client);

 private:
  class Reservation;
  class Sink;

  std::filesystem::path area_dir(const std::string& area) const { return opts_.dir / area; }
  std::uint64_t charge(std::uint64_t size) const noexcept { return size > opts_.min_charge ? size : opts_.min_charge; }
  auth::AreaFiles scan(const std::string& area) const;  // the committed files on disk, as charged
  // ledger_ call `f`, once more after loading the area's books from disk if it needs them.
  template <class F>
  auth::LedgerResult with_books(const std::string& area, F f);
  Result begin_upload(const net::Request& req, const VerifiedRequest& v, const std::string& area,
                      const std::string& name);
  Reservation reserve(const std::string& area, const stream::UnknownSizeSplit& split, bool& corrupt);
  Answer commit(const std::string& area, const std::string& name, const CommitRequest& c, std::uint32_t chunk_size);
  Answer discard(const std::string& area, const std::string& name, const std::string& id);
  Answer remove(const std::string& area, const std::string& name);
  void attempt_ready(const std::string& id, const auth::UploadAttempt& a, Reservation& r);
  void remove_attempt_file(const std::string& area, const std::string& id);
  // A commit whose file is in place, for the books (mutex_ held).
  struct Unrecorded {
    std::string area, id, name;
    std::uint64_t charge = 0;
  };
  void record_commit(const Unrecorded& c);

  UploadOptions opts_;
  const Clock& clock_;
  std::unique_ptr<auth::UploadLedger> own_ledger_;  // when none is shared
  auth::UploadLedger& ledger_;
  // This instance's changes to files on disk and to the books happen together under it, so a PUT
  // here never sees bytes that are on disk uncounted (the ledger keeps other instances in step).
  mutable std::mutex mutex_;
  std::vector<Unrecorded> unrecorded_;  // commits the store could not be told of: sweep() retries
  int corrupted_ = 0;
};

}  // namespace mh::web
