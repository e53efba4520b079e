// The body stream as the connection sends it (web/body_stream.hpp): encrypted ahead on a pool of
// several threads or on the connection's thread, the same stream either way — each chunk opens
// under its own key, in order, exactly the promised length — with the wake protocol of
// net::BodySource::ready, the server-wide memory budget, and failures delivered in order.
#include "web/body_stream.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/key_schedule.hpp"
#include "support/test_support.hpp"

namespace mh::web {
namespace {

constexpr std::uint32_t kChunk = 4096;

const SessionSecret& secret() {
  static const SessionSecret s(test::pattern_bytes(32, 5));
  return s;
}
const Binding kBinding{1, 2, 3};

stream::ChunkKeys keys_for(const stream::Layout& l) {
  return stream::ChunkKeys(secret(), KeyPurpose::response_body, kBinding, l.last_chunk());
}

// The representation in memory; can fail a read at one offset or report a change at the end.
class TestSource final : public ChunkSource {
 public:
  explicit TestSource(Bytes data) : data_(std::move(data)) {}
  void read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (reads) ++*reads;
    if (fail_at && offset == *fail_at) throw Error(Errc::io, "file: read failed");
    std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
  }
  void check_unchanged() override {
    if (changed) throw Error(Errc::conflict, "file: changed during the transfer");
  }
  std::optional<std::uint64_t> fail_at;
  bool changed = false;
  std::atomic<int>* reads = nullptr;  // counts reads; outlives the source (the body frees it)

 private:
  Bytes data_;
};

// A pool whose work waits until the test runs it (on this thread or on others).
class HeldPool {
 public:
  net::Pool pool(unsigned threads) {
    return net::Pool{threads, [this](std::function<void()> fn) {
                       std::lock_guard lock(mutex_);
                       tasks_.push_back(std::move(fn));
                     }};
  }
  std::size_t waiting() {
    std::lock_guard lock(mutex_);
    return tasks_.size();
  }
  // Runs what was posted, and what that posts, until nothing is left.
  void drain() {
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) return;
        fn = std::move(tasks_.front());
        tasks_.pop_front();
      }
      fn();
    }
  }
  void run_one() {
    std::function<void()> fn;
    {
      std::lock_guard lock(mutex_);
      ASSERT_FALSE(tasks_.empty());
      fn = std::move(tasks_.front());
      tasks_.pop_front();
    }
    fn();
  }

 private:
  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
};

// A real pool of threads, as the server's io_context is.
class ThreadPool {
 public:
  explicit ThreadPool(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { work(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  net::Pool pool() {
    return net::Pool{static_cast<unsigned>(threads_.size()), [this](std::function<void()> fn) {
                       {
                         std::lock_guard lock(mutex_);
                         tasks_.push_back(std::move(fn));
                       }
                       cv_.notify_one();
                     }};
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        fn = std::move(tasks_.front());
        tasks_.pop_front();
      }
      fn();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// Drains the body as the server's write loop does: ready() first, sleeping until woken.
std::string send_all(net::BodySource& body, const net::Pool& pool, std::size_t cap = 65536) {
  std::string out;
  std::vector<char> buf(cap);
  for (;;) {
    std::mutex m;
    std::condition_variable cv;
    bool woken = false;
    if (!body.ready(pool, [&] {
          std::lock_guard lock(m);
          woken = true;
          cv.notify_one();
        })) {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return woken; });
      continue;
    }
    const std::size_t n = body.read(buf.data(), buf.size());
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

Bytes open_stream(const stream::Layout& l, const std::string& wire) {
  Bytes plain;
  stream::StreamReader reader(secret(), KeyPurpose::response_body, kBinding, l,
                              [&](std::uint64_t, ByteView p) { plain.insert(plain.end(), p.begin(), p.end()); });
  reader.update(wire);
  reader.finish();
  return plain;
}

TEST(BodyStream, AheadOnSeveralThreadsIsTheSameStreamAsSerial) {
  auto threads = std::make_unique<ThreadPool>(3);
  for (const std::uint64_t size :
       {std::uint64_t{2 * kChunk}, std::uint64_t{kChunk * 37 + 5}, std::uint64_t{kChunk * 8}}) {
    const Bytes data = test::pattern_bytes(static_cast<std::size_t>(size), 9);
    const auto layout = stream::Layout::whole(size, kChunk);
    auto ahead = encrypted_body(keys_for(layout), layout, std::make_unique<TestSource>(data), 1000);
    auto serial = encrypted_body(keys_for(layout), layout, std::make_unique<TestSource>(data), 1000);
    const std::string a = send_all(*ahead, threads->pool(), 1000);  // reads that end mid-token
    const std::string s = send_all(*serial, net::Pool{});
    EXPECT_EQ(a.size(), layout.stream_length());
    EXPECT_EQ(s.size(), layout.stream_length());
    EXPECT_EQ(open_stream(layout, a), data) << size;
    EXPECT_EQ(open_stream(layout, s), data) << size;
  }
  threads.reset();  // a task may still hold the body's state as it returns
  EXPECT_EQ(ahead_bytes_in_flight(), 0u);
}

TEST(BodyStream, RangeOfChunksAhead) {
  ThreadPool threads(2);
  const Bytes data = test::pattern_bytes(kChunk * 20, 3);
  const auto layout = stream::Layout::covering(data.size(), kChunk, kChunk * 5 + 7, kChunk * 11);
  auto body = encrypted_body(keys_for(layout), layout, std::make_unique<TestSource>(data), 1000);
  const std::string wire = send_all(*body, threads.pool());
  const Bytes plain = open_stream(layout, wire);
  EXPECT_EQ(plain, Bytes(data.begin() + kChunk * 5, data.begin() + kChunk * 12));
}

TEST(BodyStream, OneChunkOrOneThreadStaysOnTheConnection) {
  HeldPool held;
  const Bytes data = test::pattern_bytes(kChunk * 3, 1);
  const auto one = stream::Layout::whole(100, kChunk);
  auto small =
      encrypted_body(keys_for(one), one, std::make_unique<TestSource>(Bytes(data.begin(), data.begin() + 100)), 1);
  EXPECT_EQ(open_stream(one, send_all(*small, held.pool(4))), Bytes(data.begin(), data.begin() + 100));
  const auto three = stream::Layout::whole(data.size(), kChunk);
  auto single = encrypted_body(keys_for(three), three, std::make_unique<TestSource>(data), 1);
  EXPECT_EQ(open_stream(three, send_all(*single, held.pool(1))), data);
  EXPECT_EQ(held.waiting(), 0u);  // nothing was posted
}

TEST(BodyStream, WaitsForThePoolAndIsWokenOnce) {
  HeldPool held;
  const Bytes data = test::pattern_bytes(kChunk * 3, 2);
  const auto layout = stream::Layout::whole(data.size(), kChunk);
  auto body = encrypted_body(keys_for(layout), layout, std::make_unique<TestSource>(data), 1);
  int wakes = 0;
  EXPECT_FALSE(body->ready(held.pool(2), [&] { ++wakes; }));
  // Chunks 0 and 1 are posted; the last waits until every other chunk was read (it checks the file).
  EXPECT_EQ(held.waiting(), 2u);
  held.run_one();
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(held.waiting(), 1u);  // chunk 1 not done yet: the last stays deferred
  held.run_one();
  EXPECT_EQ(held.waiting(), 1u);  // now the last chunk goes
  EXPECT_TRUE(body->ready(held.pool(2), [&] { ++wakes; }));
  held.drain();
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(open_stream(layout, send_all(*body, held.pool(2))), data);
}

TEST(BodyStream, FailuresArriveInOrderAfterTheChunksBeforeThem) {
  ThreadPool threads(2);
  const Bytes data = test::pattern_bytes(kChunk * 6, 4);
  const auto layout = stream::Layout::whole(data.size(), kChunk);
  auto src = std::make_unique<TestSource>(data);
  src->fail_at = kChunk * 3;
  auto body = encrypted_body(keys_for(layout), layout, std::move(src), 1);
  std::string wire;
  std::vector<char> buf(65536);
  try {
    for (;;) {
      std::atomic<bool> woken{false};
      while (!body->ready(threads.pool(), [&] { woken = true; }))
        while (!woken) std::this_thread::yield();
      const std::size_t n = body->read(buf.data(), buf.size());
      ASSERT_NE(n, 0u) << "the stream ended although a chunk failed";
      wire.append(buf.data(), n);
    }
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
    EXPECT_STREQ(e.what(), "file: read failed");
  }
  EXPECT_EQ(wire.size(), 3 * layout.token_length(0));  // chunks 0, 1, 2 whole, nothing after
}

TEST(BodyStream, AChangedFileFailsTheLastChunk) {
  ThreadPool threads(2);
  const Bytes data = test::pattern_bytes(kChunk * 4, 6);
  const auto layout = stream::Layout::whole(data.size(), kChunk);
  auto src = std::make_unique<TestSource>(data);
  src->changed = true;
  auto body = encrypted_body(keys_for(layout), layout, std::move(src), 1);
  try {
    send_all(*body, threads.pool());
    FAIL() << "a changed file was sent whole";
  } catch (const Error& e) { EXPECT_EQ(e.code(), Errc::conflict); }
}

TEST(BodyStream, AConnectionThatGoesAwayStopsTheWorkAndFreesTheBudget) {
  HeldPool held;
  const Bytes data = test::pattern_bytes(kChunk * 64, 7);
  const auto layout = stream::Layout::whole(data.size(), kChunk);
  auto src = std::make_unique<TestSource>(data);
  std::atomic<int> reads{0};
  src->reads = &reads;
  auto body = encrypted_body(keys_for(layout), layout, std::move(src), 1);
  EXPECT_FALSE(body->ready(held.pool(2), [] { ADD_FAILURE() << "woken after the connection went away"; }));
  const std::size_t posted = held.waiting();
  EXPECT_EQ(posted, 4u);  // the window: 2 chunks per thread
  EXPECT_GT(ahead_bytes_in_flight(), 0u);
  body.reset();  // the tasks still hold the state (and the source)
  held.drain();  // they end without reading or waking anyone
  EXPECT_EQ(reads.load(), 0);
  EXPECT_EQ(ahead_bytes_in_flight(), 0u);
}

TEST(BodyStream, ASpentBudgetFallsBackToTheConnectionThread) {
  HeldPool held;
  const std::uint32_t big = stream::kMaxChunkSize;  // 4 MiB chunks: tokens of 5.6 MiB
  const auto layout = stream::Layout::whole(std::uint64_t{big} * 3, big);
  std::vector<std::unique_ptr<net::BodySource>> bodies;
  // Two threads: a budget of 2 × 8 MiB holds one window of two such tokens (11.2 MiB), not two.
  for (int i = 0; i < 2; ++i) {
    bodies.push_back(encrypted_body(keys_for(layout), layout, std::make_unique<TestSource>(Bytes(3 * big)), 1));
    bodies.back()->ready(held.pool(2), [] {});
  }
  EXPECT_EQ(held.waiting(), 2u);  // only the first went ahead (chunks 0 and 1)
  EXPECT_LE(ahead_bytes_in_flight(), 2 * kAheadBudgetPerThread);
  bodies.clear();
  held.drain();
  EXPECT_EQ(ahead_bytes_in_flight(), 0u);
}

}  // namespace
}  // namespace mh::web
