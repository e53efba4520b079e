#pragma once
// The body stream of one answer (docs/PROTOCOL.md §6.3) opened on a few worker threads while
// the calling thread keeps reading the network: TokenSplitter cuts the stream into tokens, the
// workers open them (open_chunk: MAC, padding, size), and the caller's thread releases each
// chunk's plaintext to on_chunk in index order, and only after it opened. At most threads + 2
// chunks are in flight, so memory stays bounded (that many tokens and chunks: 6 × 0.6 MiB with 4
// threads and the default chunk size) however large the file and however slow the output. Semantics as
// stream::StreamReader: the first failure is thrown, in index order (chunks before it were released, none after), and
// every later call throws it again.
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "client/ordered_pool.hpp"
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

  // Hands the completed tokens to the workers, then releases every chunk at the front that has
  // opened by now: output waits for no more than the caller's next network read.
  void update(std::string_view stream_bytes);
  // Waits for the chunks in flight and releases them, then throws if the stream ended early.
  void finish();
  // After the stream broke off (the network failed): releases, in order, the chunks already with
  // the workers that open, up to the first that does not, so that none of the work is lost (a
  // partial download keeps them). Never throws; a failure is kept for later calls.
  void salvage() noexcept;

  // Threads worth using for `layout` on this machine: 0 (open on the caller's thread) for a
  // single chunk or a single core.
  static unsigned threads_for(const stream::Layout& layout) noexcept { return worker_threads_for(layout); }

 private:
  struct Received {  // a token as it came, for a worker to open
    std::uint64_t index = 0;
    std::string token;
    std::uint64_t expected = 0;
  };
  struct Opened {
    std::uint64_t index = 0;
    Bytes plaintext;
  };
  template <class Fn>
  void guarded(Fn&& fn);
  void submit(const stream::Token& t);
  // Releases the opened chunks at the front; with `wait`, first waits for the front one.
  void release(bool wait);
  // Waits for every chunk in flight and releases them (or throws the first failure).
  void drain();

  stream::ChunkKeys keys_;
  stream::TokenSplitter splitter_;
  OnChunk on_chunk_;
  std::size_t window_;
  std::exception_ptr failure_;
  std::unique_ptr<OrderedPool<Received, Opened>> pool_;  // last: its workers use keys_; none: no workers
};

}  // namespace mh::client
