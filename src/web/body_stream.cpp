#include "web/body_stream.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "core/fernet.hpp"

namespace mh::web {
namespace {

// Plaintext read per step: one step fills most of the server's 64 KiB write buffer (48 KiB become
// 64 KiB of base64), small enough to stay in cache.
constexpr std::size_t kStep = 48 * 1024;
constexpr std::size_t kMaxWindow = 8;

std::atomic<std::size_t> g_ahead_bytes{0};

bool reserve(std::size_t bytes, std::size_t limit) noexcept {
  std::size_t now = g_ahead_bytes.load(std::memory_order_relaxed);
  do {
    if (now + bytes > limit) return false;
  } while (!g_ahead_bytes.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
  return true;
}

// Room for one token of the layout's full chunk size, with the encoder's slack at the end.
std::size_t token_capacity(const stream::Layout& layout) noexcept {
  return static_cast<std::size_t>(stream::token_length(layout.chunk_size())) + FernetEncoder::max_finish_output();
}

// One chunk's token into out (which has room for it), read from `source` in steps.
char* encode_chunk(const stream::ChunkKeys& keys, const stream::Layout& layout, ChunkSource& source, std::uint64_t i,
                   std::int64_t now, std::uint8_t* step, char* out) {
  std::uint64_t offset = layout.offset(i), left = layout.plaintext_size(i);
  FernetEncoder encoder(keys.key(i), now);
  while (left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kStep, left));
    source.read(offset, std::span<std::uint8_t>(step, n));
    out = encoder.update(ByteView(step, n), out);
    offset += n;
    left -= n;
  }
  return encoder.finish(out);
}

// The body on the connection's thread: each chunk's token encoded in steps of kStep plaintext
// bytes as the connection asks for bytes, so memory stays two small buffers whatever the chunk size.
class SerialStream {
 public:
  SerialStream(const stream::ChunkKeys& keys, const stream::Layout& layout, ChunkSource& source, std::int64_t now)
      : keys_(keys), layout_(layout), source_(source), now_(now), next_(layout.first_chunk()) {}

  std::size_t read(char* buf, std::size_t cap) {
    std::size_t n = 0;
    while (n < cap) {
      if (pos_ == out_len_ && !produce()) break;
      const std::size_t k = std::min(cap - n, out_len_ - pos_);
      std::copy_n(out_.get() + pos_, k, buf + n);
      pos_ += k;
      n += k;
    }
    if (n == 0 && sent_ != layout_.stream_length()) throw Error(Errc::internal, "stream shorter than its promise");
    return n;
  }

 private:
  // Encodes the next step into out_; false at the end of the stream.
  bool produce() {
    if (!encoder_) {
      if (next_ > layout_.last_chunk()) return false;
      chunk_ = next_++;
      left_ = layout_.plaintext_size(chunk_);
      offset_ = layout_.offset(chunk_);
      // The last chunk is sealed only if the representation is still the one the head describes.
      if (chunk_ == layout_.last_chunk()) source_.check_unchanged();
      encoder_.emplace(keys_.key(chunk_), now_);
      if (!out_) {
        out_ = std::make_unique_for_overwrite<char[]>(kOutCapacity);
        plain_ = std::make_unique_for_overwrite<std::uint8_t[]>(kStep);
      }
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kStep, left_));
    source_.read(offset_, std::span<std::uint8_t>(plain_.get(), n));
    offset_ += n;
    left_ -= n;
    char* end = encoder_->update(ByteView(plain_.get(), n), out_.get());
    if (left_ == 0) {
      end = encoder_->finish(end);
      encoder_.reset();
    }
    out_len_ = static_cast<std::size_t>(end - out_.get());
    pos_ = 0;
    sent_ += out_len_;
    return true;
  }

  static constexpr std::size_t kOutCapacity =
      FernetEncoder::max_update_output(kStep) + FernetEncoder::max_finish_output();

  const stream::ChunkKeys& keys_;
  const stream::Layout& layout_;
  ChunkSource& source_;
  std::int64_t now_;
  std::uint64_t next_;
  std::uint64_t chunk_ = 0, left_ = 0, offset_ = 0, sent_ = 0;
  std::optional<FernetEncoder> encoder_;
  std::unique_ptr<std::uint8_t[]> plain_;
  std::unique_ptr<char[]> out_;
  std::size_t out_len_ = 0, pos_ = 0;
};

// The body encrypted ahead on the pool. The connection owns the front of the window: it copies
// out of the front slot once that is done, then reuses its buffer for the next chunk. Pool tasks
// each fill one slot; they share this state (the connection may be gone when one ends).
class Ahead : public std::enable_shared_from_this<Ahead> {
 public:
  Ahead(const stream::ChunkKeys& keys, const stream::Layout& layout, std::shared_ptr<ChunkSource> source,
        std::int64_t now, net::Pool pool, std::size_t window, std::size_t reserved)
      : keys_(keys),
        layout_(layout),
        source_(std::move(source)),
        now_(now),
        pool_(std::move(pool)),
        window_(window),
        reserved_(reserved),
        next_(layout.first_chunk()) {}
  ~Ahead() { g_ahead_bytes.fetch_sub(reserved_, std::memory_order_relaxed); }

  void start() {
    std::vector<Slot*> go;
    {
      std::lock_guard lock(mutex_);
      for (std::size_t k = 0; k < window_ && next_ <= layout_.last_chunk(); ++k) schedule(nullptr, go);
    }
    post(go);
  }

  bool ready(std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    if (slots_.empty() || slots_.front().done) return true;
    wake_ = std::move(wake);
    return false;
  }

  std::size_t read(char* buf, std::size_t cap) {
    Slot* front = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (slots_.empty()) return 0;
      front = &slots_.front();
      // Only a caller that asks ready() gets a body made ahead (EncryptedBody::read).
      if (!front->done) throw Error(Errc::internal, "body read before it was ready");
    }
    // A done slot is the connection's alone: no task touches it again.
    if (front->error) std::rethrow_exception(front->error);
    const std::size_t n = std::min(cap, front->length - pos_);
    std::copy_n(front->token.get() + pos_, n, buf);
    pos_ += n;
    if (pos_ == front->length) {
      pos_ = 0;
      std::vector<Slot*> go;
      {
        std::lock_guard lock(mutex_);
        std::unique_ptr<char[]> buffer = std::move(front->token);
        slots_.pop_front();
        if (next_ <= layout_.last_chunk()) schedule(std::move(buffer), go);
      }
      post(go);
    }
    return n;
  }

  void cancel() {
    cancelled_.store(true, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    wake_ = nullptr;
  }

 private:
  struct Slot {
    std::uint64_t index = 0;
    std::unique_ptr<char[]> token;
    std::size_t length = 0;
    bool done = false;
    std::exception_ptr error;
  };

  // Under the lock: a slot for chunk next_, to be posted (go) unless it is the last chunk and
  // earlier chunks are still being read: the last chunk checks that the representation did not
  // change, so it runs only after every other read.
  void schedule(std::unique_ptr<char[]> buffer, std::vector<Slot*>& go) {
    Slot& s = slots_.emplace_back();
    s.index = next_++;
    s.token = buffer ? std::move(buffer) : std::make_unique_for_overwrite<char[]>(token_capacity(layout_));
    if (s.index == layout_.last_chunk() && running_ > 0) {
      deferred_last_ = &s;
      return;
    }
    ++running_;
    go.push_back(&s);
  }

  void post(const std::vector<Slot*>& go) {
    for (Slot* s : go) pool_.post([self = shared_from_this(), s] { self->seal(*s); });
  }

  // On a pool thread.
  void seal(Slot& s) {
    std::exception_ptr error;
    if (!cancelled_.load(std::memory_order_relaxed)) {
      try {
        if (s.index == layout_.last_chunk()) source_->check_unchanged();
        thread_local std::vector<std::uint8_t> step(kStep);
        const char* end = encode_chunk(keys_, layout_, *source_, s.index, now_, step.data(), s.token.get());
        s.length = static_cast<std::size_t>(end - s.token.get());
        if (s.length != layout_.token_length(s.index))
          throw Error(Errc::internal, "chunk token of an unexpected length");
      } catch (...) { error = std::current_exception(); }
    }
    std::function<void()> wake;
    std::vector<Slot*> go;
    {
      std::lock_guard lock(mutex_);
      s.error = error;
      s.done = true;
      if (--running_ == 0 && deferred_last_) {
        ++running_;
        go.push_back(std::exchange(deferred_last_, nullptr));
      }
      if (wake_ && slots_.front().done) wake = std::exchange(wake_, nullptr);
    }
    post(go);
    if (wake) wake();
  }

  const stream::ChunkKeys keys_;
  const stream::Layout layout_;
  const std::shared_ptr<ChunkSource> source_;
  const std::int64_t now_;
  const net::Pool pool_;
  const std::size_t window_, reserved_;
  std::atomic<bool> cancelled_{false};

  std::mutex mutex_;
  std::deque<Slot> slots_;  // in index order; references stay valid as the ends change
  std::uint64_t next_;
  std::size_t running_ = 0;  // tasks posted and not yet done
  Slot* deferred_last_ = nullptr;
  std::function<void()> wake_;
  std::size_t pos_ = 0;  // in the front slot's token; the connection's
};

class EncryptedBody final : public net::BodySource {
 public:
  EncryptedBody(stream::ChunkKeys keys, const stream::Layout& layout, std::unique_ptr<ChunkSource> source,
                std::int64_t now)
      : keys_(std::move(keys)), layout_(layout), source_(std::move(source)), now_(now) {}
  ~EncryptedBody() override {
    if (ahead_) ahead_->cancel();
  }

  std::uint64_t size() const override { return layout_.stream_length(); }

  bool ready(const net::Pool& pool, std::function<void()> wake) override {
    if (!serial_ && !ahead_) choose(pool);
    return serial_ || ahead_->ready(std::move(wake));
  }

  std::size_t read(char* buf, std::size_t cap) override {
    if (!serial_ && !ahead_) choose(net::Pool{});
    return serial_ ? serial_->read(buf, cap) : ahead_->read(buf, cap);
  }

 private:
  void choose(const net::Pool& pool) {
    const std::uint64_t chunks = layout_.count();
    if (pool.threads >= 2 && pool.post && chunks >= 2) {
      const std::size_t per = token_capacity(layout_);
      const std::size_t limit = kAheadBudgetPerThread * pool.threads;
      for (std::size_t w = std::min<std::uint64_t>({chunks, 2ull * pool.threads, kMaxWindow}); w >= 2; --w) {
        if (!reserve(w * per, limit)) continue;
        ahead_ = std::make_shared<Ahead>(keys_, layout_, source_, now_, pool, w, w * per);
        ahead_->start();
        return;
      }
    }
    serial_.emplace(keys_, layout_, *source_, now_);
  }

  stream::ChunkKeys keys_;
  stream::Layout layout_;
  std::shared_ptr<ChunkSource> source_;
  std::int64_t now_;
  std::optional<SerialStream> serial_;
  std::shared_ptr<Ahead> ahead_;
};

}  // namespace

std::unique_ptr<net::BodySource> encrypted_body(stream::ChunkKeys keys, const stream::Layout& layout,
                                                std::unique_ptr<ChunkSource> source, std::int64_t now) {
  return std::make_unique<EncryptedBody>(std::move(keys), layout, std::move(source), now);
}

std::size_t ahead_bytes_in_flight() noexcept { return g_ahead_bytes.load(std::memory_order_relaxed); }

}  // namespace mh::web
