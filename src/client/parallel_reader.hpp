#pragma once
// The body stream of one answer (docs/PROTOCOL.md §6.3) opened on a few worker threads while
// the calling thread keeps reading the network: TokenSplitter cuts the stream into tokens, the
// workers open them (open_chunk: MAC, padding, size), and the caller's thread releases each
// chunk's plaintext to on_chunk in index order, and only after it opened. At most threads + 2
// chunks are in flight, so memory stays bounded (that many tokens and chunks: 6 × 0.6 MiB with 4
// threads and the default chunk size) however large the file and however slow the output. Semantics as stream::StreamReader: the first failure is
// thrown, in index order (chunks before it were released, none after), and every later call
// throws it again.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/bytes.hpp"
#include "core/key_schedule.hpp"
#include "core/stream.hpp"

namespace mh::client {

class ParallelReader {
 public:
  using OnChunk = std::function<void(std::uint64_t index, ByteView plaintext)>;
  ParallelReader(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding, const stream::Layout& layout,
                 OnChunk on_chunk, unsigned threads);
  ~ParallelReader();  // stops and joins the workers; chunks not yet released are dropped
  ParallelReader(const ParallelReader&) = delete;
  ParallelReader& operator=(const ParallelReader&) = delete;

  void update(std::string_view stream_bytes);
  // Waits for the chunks in flight and releases them, then throws if the stream ended early.
  void finish();
  // After the stream broke off (the network failed): releases, in order, the chunks already with
  // the workers that open, up to the first that does not, so that none of the work is lost (a
  // partial download keeps them). Never throws; a failure is kept for later calls.
  void salvage() noexcept;

  // Threads worth using for `layout` on this machine: 0 (open on the caller's thread) for a
  // single chunk or a single core.
  static unsigned threads_for(const stream::Layout& layout) noexcept;

 private:
  struct Slot {
    std::uint64_t index = 0;
    std::string token;
    std::uint64_t expected = 0;
    Bytes plaintext;
    std::exception_ptr error;
    bool done = false;
  };
  template <class Fn>
  void guarded(Fn&& fn);
  void submit(const stream::Token& t);
  // Releases the opened chunks at the front; with `wait`, first waits for the front one.
  void release(bool wait);
  void work();

  stream::ChunkKeys keys_;
  stream::TokenSplitter splitter_;
  OnChunk on_chunk_;
  std::size_t window_;
  std::exception_ptr failure_;

  std::mutex mutex_;
  std::condition_variable work_ready_, slot_done_;
  std::deque<Slot> slots_;       // in index order; references stay valid as the ends change
  std::deque<Slot*> queue_;      // not yet taken by a worker
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace mh::client
