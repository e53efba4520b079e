#pragma once
// A few worker threads that do jobs in the order they were pushed and hand the results back in
// that same order, on the caller's thread: what the client's parallel stream parts share
// (ParallelReader opens downloaded chunks with it, ParallelSealer seals an upload's chunks). The
// caller bounds the jobs in flight (size()) and takes results with pop(); a job's exception is
// rethrown by the pop() that reaches it, so failures come out in order too. The workers block
// SIGINT and SIGTERM: a stop signal must reach the caller's thread, which owns the output and
// the partial download's record (client/partial.hpp).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/stream.hpp"

namespace mh::client {

// Threads worth using for a stream of `layout` on this machine: 0 (work on the caller's thread)
// for a single chunk or a single core, else min(cores, 4): past a few, the network or the disk
// is the limit.
unsigned worker_threads_for(const stream::Layout& layout) noexcept;

// Starts `count` threads running `body` into `into`, with SIGINT and SIGTERM blocked in them. If
// one cannot start, those that did are in `into` (for the caller to stop) and it throws.
void start_workers(unsigned count, const std::function<void()>& body, std::vector<std::thread>& into);

template <class Job, class Result>
class OrderedPool {
 public:
  using Work = std::function<Result(Job&)>;
  // threads >= 1. `work` runs on the workers, several at once.
  OrderedPool(unsigned threads, Work work) : work_(std::move(work)) {
    try {
      start_workers(
          threads, [this] { run(); }, workers_);
    } catch (...) {
      stop();
      throw;
    }
  }
  ~OrderedPool() { stop(); }  // jobs not taken yet are dropped
  OrderedPool(const OrderedPool&) = delete;
  OrderedPool& operator=(const OrderedPool&) = delete;

  std::size_t size() {  // jobs pushed and not popped
    std::lock_guard lock(mutex_);
    return slots_.size();
  }

  void push(Job job) {
    {
      std::lock_guard lock(mutex_);
      slots_.push_back(Slot{std::move(job), {}, {}, false});
      queue_.push_back(&slots_.back());
    }
    work_ready_.notify_one();
  }

  // The oldest job's result if it is done (with `wait`, once it is), nullopt if no job is pushed
  // or, without `wait`, the oldest is not done. Rethrows the oldest job's exception.
  std::optional<Result> pop(bool wait) {
    Slot out;
    {
      std::unique_lock lock(mutex_);
      if (wait) slot_done_.wait(lock, [&] { return slots_.empty() || slots_.front().done; });
      if (slots_.empty() || !slots_.front().done) return std::nullopt;
      out = std::move(slots_.front());
      slots_.pop_front();
    }
    if (out.error) std::rethrow_exception(out.error);
    return std::move(out.result);
  }

 private:
  struct Slot {
    Job job;
    Result result;
    std::exception_ptr error;
    bool done = false;
  };

  void stop() noexcept {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_ready_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void run() {
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
      Result result{};
      std::exception_ptr error;
      try {
        result = work_(s->job);
      } catch (...) { error = std::current_exception(); }
      { [[maybe_unused]] const Job spent = std::move(s->job); }  // its input (a token) is freed now
      {
        std::lock_guard lock(mutex_);
        s->result = std::move(result);
        s->error = error;
        s->done = true;
      }
      slot_done_.notify_all();
    }
  }

  Work work_;
  std::mutex mutex_;
  std::condition_variable work_ready_, slot_done_;
  std::deque<Slot> slots_;   // in push order; references stay valid as the ends change
  std::deque<Slot*> queue_;  // not yet taken by a worker
  bool stopping_ = false;
  std::vector<std::thread> workers_;  // last: started once everything above exists
};

}  // namespace mh::client
