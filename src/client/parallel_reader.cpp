#include "client/parallel_reader.hpp"

#include <algorithm>

namespace mh::client {

ParallelReader::ParallelReader(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding,
                               const stream::Layout& layout, OnChunk on_chunk, unsigned threads)
    : keys_(secret, purpose, binding, layout.last_chunk()),
      splitter_(layout),
      on_chunk_(std::move(on_chunk)),
      window_(std::max(threads, 1u) + 2) {  // every worker busy while the caller writes
  if (threads > 0)
    pool_ = std::make_unique<OrderedPool<Received, Opened>>(threads, [this](Received& r) {
      return Opened{r.index, stream::open_chunk(keys_, r.index, r.token, r.expected)};
    });
}

ParallelReader::~ParallelReader() = default;

template <class Fn>
void ParallelReader::guarded(Fn&& fn) {
  if (failure_) std::rethrow_exception(failure_);
  try {
    fn();
  } catch (...) {
    failure_ = std::current_exception();
    throw;
  }
}

void ParallelReader::update(std::string_view bytes) {
  guarded([&] {
    splitter_.update(bytes, [&](const stream::Token& t) { submit(t); });
    // Chunks the workers opened since the last token was handed over go out now, not with the
    // next token, which may be a stalled network away.
    release(false);
  });
}

void ParallelReader::drain() {
  while (pool_ && pool_->size() > 0) release(true);
}

void ParallelReader::finish() {
  guarded([&] {
    drain();
    splitter_.finish();  // "the stream ended after chunk i, before its last chunk: ..."
  });
}

void ParallelReader::salvage() noexcept {
  if (failure_) return;
  try {
    drain();
  } catch (...) { failure_ = std::current_exception(); }
}

void ParallelReader::submit(const stream::Token& t) {
  if (!pool_) {  // no workers: open it here, as StreamReader would
    on_chunk_(t.index, stream::open_chunk(keys_, t.index, t.text, t.max_size));
    return;
  }
  // The window is full: the oldest chunk must go out first.
  while (pool_->size() >= window_) release(true);
  // The token's text lives only during this call: the job keeps a copy for the worker.
  pool_->push(Received{t.index, std::string(t.text), t.max_size});
  release(false);
}

void ParallelReader::release(bool wait) {
  if (!pool_) return;
  // In index order: chunk i is released (or its failure thrown) only after every chunk before it.
  for (bool first = true;; first = false) {
    const std::optional<Opened> out = pool_->pop(wait && first);
    if (!out) return;
    on_chunk_(out->index, out->plaintext);
  }
}

}  // namespace mh::client
