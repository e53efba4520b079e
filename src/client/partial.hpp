#pragma once
// A download to FILE is written to FILE.part, chunk by chunk as each opens, and renamed to FILE
// only after the last one opened (docs/PROTOCOL.md §6.3, §7.3). When it stops early (Ctrl-C,
// SIGTERM, a network failure, a chunk that does not verify) FILE.part stays, with the record
// FILE.part.minihttps beside it saying what it holds, so that `get -C` can ask for the rest:
//   {"chunk_size":C,"etag":"\"...\"","path":"/docs/big.iso","server_fingerprint":"SHA256:...",
//    "size":N,"verified":K}
// K counts the bytes at the start of FILE.part that opened; it is a multiple of C (or N). Both
// files are visible: nothing is hidden, and the user may remove them.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace mh::client {

struct PartialRecord {
  std::string server_fingerprint;
  std::string path;                 // the request target
  std::optional<std::string> etag;  // without one, a download cannot be continued
  std::uint64_t size = 0;
  std::uint32_t chunk_size = 0;
  std::uint64_t verified = 0;
};

std::filesystem::path part_path(const std::filesystem::path& file);    // FILE.part
std::filesystem::path record_path(const std::filesystem::path& part);  // FILE.part.minihttps

// nullopt when there is no record; Errc::bad_request when it is not a valid one.
std::optional<PartialRecord> load_record(const std::filesystem::path& record);
void save_record(const std::filesystem::path& record, const PartialRecord& r);

// While it lives, SIGINT and SIGTERM write the record (with the bytes verified so far) and a
// notice before the process dies of the signal as usual. The handler uses only
// async-signal-safe calls on text prepared here and on an atomic counter, so it may run at any
// moment of the transfer; the bytes of a chunk count only once they were written.
class InterruptRecord {
 public:
  InterruptRecord(const std::filesystem::path& record, const PartialRecord& r, const std::filesystem::path& part);
  ~InterruptRecord();  // restores the previous handlers
  InterruptRecord(const InterruptRecord&) = delete;
  InterruptRecord& operator=(const InterruptRecord&) = delete;

  void verified(std::uint64_t bytes) noexcept;

  struct State;

 private:
  State* state_;
};

}  // namespace mh::client
