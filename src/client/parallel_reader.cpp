#include "client/parallel_reader.hpp"

#include <pthread.h>

#include <algorithm>
#include <csignal>

#include "core/error.hpp"

namespace mh::client {

unsigned ParallelReader::threads_for(const stream::Layout& layout) noexcept {
  const unsigned cores = std::thread::hardware_concurrency();
  if (layout.count() < 2 || cores < 2) return 0;
  return std::min(cores, 4u);  // past a few, the network or the disk is the limit
}

ParallelReader::ParallelReader(const SessionSecret& secret, KeyPurpose purpose, const Binding& binding,
                               const stream::Layout& layout, OnChunk on_chunk, unsigned threads)
    : keys_(secret, purpose, binding, layout.last_chunk()),
      splitter_(layout),
      on_chunk_(std::move(on_chunk)),
      window_(std::max(threads, 1u) + 2) {  // every worker busy while the caller writes
  // Ctrl-C must reach the thread that reads the network and writes the output (it keeps the
  // partial download's record, client/partial.hpp): the workers block the stop signals.
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

ParallelReader::~ParallelReader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
}

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
  guarded([&] { splitter_.update(bytes, [&](const stream::Token& t) { submit(t); }); });
}

void ParallelReader::finish() {
  guarded([&] {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (slots_.empty()) break;
      }
      release(true);
    }
    splitter_.finish();  // "the stream ended after chunk i, before its last chunk: ..."
  });
}

void ParallelReader::salvage() noexcept {
  if (failure_) return;
  try {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (slots_.empty()) return;
      }
      release(true);
    }
  } catch (...) {
    failure_ = std::current_exception();
  }
}

void ParallelReader::submit(const stream::Token& t) {
  // The token's text lives only during this call: the slot keeps a copy for the worker.
  Slot slot{t.index, std::string(t.text), t.max_size, {}, {}, false};
  if (workers_.empty()) {  // no workers: open it here, as StreamReader would
    const Bytes plain = stream::open_chunk(keys_, slot.index, slot.token, slot.expected);
    on_chunk_(slot.index, plain);
    return;
  }
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (slots_.size() < window_) {
        slots_.push_back(std::move(slot));
        queue_.push_back(&slots_.back());
        break;
      }
    }
    release(true);  // the window is full: the oldest chunk must go out first
  }
  work_ready_.notify_one();
  release(false);
}

void ParallelReader::release(bool wait) {
  for (bool first = true;; first = false) {
    Slot out;
    {
      std::unique_lock lock(mutex_);
      if (wait && first) slot_done_.wait(lock, [&] { return slots_.empty() || slots_.front().done; });
      if (slots_.empty() || !slots_.front().done) return;
      out = std::move(slots_.front());
      slots_.pop_front();
    }
    // In index order: chunk i is released (or its failure thrown) only after every chunk before it.
    if (out.error) std::rethrow_exception(out.error);
    on_chunk_(out.index, out.plaintext);
  }
}

void ParallelReader::work() {
  for (;;) {
    Slot* s = nullptr;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      s = queue_.front();
      queue_.pop_front();
    }
    // The slot is this worker's until done is set: the caller's thread touches only done slots.
    Bytes plain;
    std::exception_ptr error;
    try {
      plain = stream::open_chunk(keys_, s->index, s->token, s->expected);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      s->plaintext = std::move(plain);
      s->error = error;
      s->token.clear();
      s->token.shrink_to_fit();
      s->done = true;
    }
    slot_done_.notify_all();
  }
}

}  // namespace mh::client
