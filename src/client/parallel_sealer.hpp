#pragma once
// A file as a body stream (docs/PROTOCOL.md §6), sealed on a few worker threads while the
// calling thread sends: chunk i is read from the file with pread at its own offset and sealed
// under its own key (stream::ChunkKeys, seal_chunk_into), so no chunk waits for another. The
// tokens are those stream::StreamWriter makes (same keys, same lengths, concatenated in index
// order), so a receiver cannot tell the two apart. Chunks are started and handed out in index
// order, at most threads + 2 in flight (memory: that many chunks and tokens, 6 × 0.6 MiB with 4
// threads and the default chunk size). The first failure (the file cannot be read, or ended
// early) is thrown in index order: the chunks before it were handed out, none after, and every
// later call throws it again.
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "client/ordered_pool.hpp"
#include "core/bytes.hpp"
#include "core/clock.hpp"
#include "core/key_schedule.hpp"
#include "core/stream.hpp"

namespace mh::client {

struct SealedChunk {
  std::uint64_t index = 0;
  Bytes plaintext;    // what the token holds: for a CRC of exactly what is sent
  std::string token;  // layout.token_length(index) characters
};

class ParallelSealer {
 public:
  // Seals the chunks of `layout` from the open file `fd` (which must outlive the sealer), each
  // stamped with clock.now() (called from the workers: it must be safe to share). threads 0: on
  // the caller's thread, one chunk per next().
  ParallelSealer(int fd, const SessionSecret& secret, KeyPurpose purpose, const Binding& binding,
                 const stream::Layout& layout, const Clock& clock, unsigned threads);
  ~ParallelSealer();  // stops and joins the workers; chunks not yet handed out are dropped
  ParallelSealer(const ParallelSealer&) = delete;
  ParallelSealer& operator=(const ParallelSealer&) = delete;

  // The next chunk, once sealed; nullopt after the last. Errc::io "cannot read the file: ..."
  // or "the file shrank while it was being sent".
  std::optional<SealedChunk> next();

  const stream::Layout& layout() const noexcept { return layout_; }
  // Threads worth using for `layout` on this machine (see worker_threads_for).
  static unsigned threads_for(const stream::Layout& layout) noexcept { return worker_threads_for(layout); }

 private:
  SealedChunk seal(std::uint64_t index) const;
  // Starts the chunks not yet started, while the window has room.
  void top_up();

  int fd_;
  stream::ChunkKeys keys_;
  stream::Layout layout_;
  const Clock& clock_;
  std::size_t window_;
  std::uint64_t next_start_, next_out_;  // the next chunk to start, and to hand out
  std::exception_ptr failure_;
  std::unique_ptr<OrderedPool<std::uint64_t, SealedChunk>> pool_;  // last: its workers use the above
};

}  // namespace mh::client
