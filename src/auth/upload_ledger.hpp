#pragma once
// The books of the upload areas (docs/PROTOCOL.md §8): the committed files' charges, the room held
// by uploads in progress ("holds") and the attempts awaiting commit, per client area. The upload
// service keeps the files on disk; this keeps what the quota counts, so that several instances on
// one shared upload directory can share it too (store/redis_upload_ledger, docs/ARCHITECTURE.md §7).
//
// Every check and change of one area's books is one atomic step (a limit is never overrun by two
// requests together, on one instance or on several). Charges are what the quota counts (the
// service computes them: at least min_charge). Ids are 32 lowercase hex digits, unique.
//
// The committed files are learnt from disk once per area: a call that needs the books answers
// `unloaded` until load() has given them; load() sets them only if nobody has (another instance,
// an earlier call), so nothing is counted twice.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mh::auth {

struct UploadLimits {
  std::uint64_t quota = 0;           // charged bytes per area, committed + pending
  std::size_t max_files = 0;         // committed files + attempts per area
  std::size_t max_pending = 0;       // holds + attempts per area
  std::int64_t attempt_timeout = 0;  // seconds an attempt (and, in a shared ledger, a hold) lives
};

struct UploadAttempt {
  std::string name;
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
  std::int64_t created = 0;
  std::uint64_t charge = 0;
};

struct UploadBooks {
  std::uint64_t committed = 0;  // sum of the committed files' charges
  std::uint64_t pending = 0;    // holds + charges of attempts awaiting commit
  std::size_t files = 0;        // committed files
  std::size_t attempts = 0;     // holds + attempts awaiting commit
};

using AreaFiles = std::map<std::string, std::uint64_t>;  // committed name -> charge

enum class LedgerResult {
  ok,
  unloaded,      // the area's books are not known yet: load() them from disk, then ask again
  over_pending,  // max_pending reached
  over_files,    // max_files reached
  over_quota,    // not even the least the upload can carry fits
  no_attempt,    // no such attempt for this area and name (never made, discarded, committed)
  expired,       // it was there but has expired: now dropped (the caller removes its file)
};

class UploadLedger {
 public:
  virtual ~UploadLedger() = default;

  virtual void load(const std::string& area, const AreaFiles& files) = 0;
  // Holds min(capacity, room left) for an upload in progress, refused if `least` does not fit.
  virtual LedgerResult reserve(const std::string& area, const std::string& hold, std::uint64_t least,
                               std::uint64_t capacity, std::int64_t now, std::uint64_t& held) = 0;
  // The upload ended without an attempt: its hold goes.
  virtual void release(const std::string& area, const std::string& hold) = 0;
  // The hold becomes the attempt of the same id, at its exact charge (<= the hold): one id from the
  // PUT's start to the commit, so its files on disk are never without a live entry. If the hold is
  // gone (a shared ledger's holds expire after attempt_timeout), the attempt must fit as a new one.
  virtual LedgerResult attempt_ready(const std::string& area, const std::string& id, const UploadAttempt& a,
                                     std::int64_t now) = 0;
  // The live attempt `id` of this area and name, unchanged in the books (ok), or why not.
  virtual LedgerResult find(const std::string& area, const std::string& id, const std::string& name, std::int64_t now,
                            UploadAttempt& out) = 0;
  // Its file is now in place as `name`: the attempt (if still there) goes and the file counts,
  // replacing the charge of a file of that name. `unloaded`: the books are to be learnt from disk
  // (where the file already is), nothing else to do.
  virtual LedgerResult committed(const std::string& area, const std::string& id, const std::string& name,
                                 std::uint64_t charge, std::int64_t now) = 0;
  // Drops the attempt: ok, expired (dropped too) or no_attempt.
  virtual LedgerResult discard(const std::string& area, const std::string& id, const std::string& name,
                               std::int64_t now) = 0;
  // The committed file `name` is gone from disk.
  virtual LedgerResult removed(const std::string& area, const std::string& name, std::int64_t now) = 0;
  virtual LedgerResult books(const std::string& area, std::int64_t now, UploadBooks& out) = 0;
  // Whether the hold or attempt `id` is alive (its files on disk must stay).
  virtual bool live(const std::string& area, const std::string& id, std::int64_t now) = 0;
  // Drops the attempts that expired by `now`; returns them as (area, id) for their files to go.
  virtual std::vector<std::pair<std::string, std::string>> sweep(std::int64_t now) = 0;
};

// In this process (--store memory): holds never expire; attempts go by sweep() or when found expired.
std::unique_ptr<UploadLedger> make_memory_upload_ledger(UploadLimits limits);

}  // namespace mh::auth
