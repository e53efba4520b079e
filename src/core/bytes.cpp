#include "core/bytes.hpp"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/ascii.hpp"
#include "core/error.hpp"

namespace mh {
namespace {
// libsodium must be initialised once before randombytes is used; sodium_init is idempotent
// and thread-safe, and a static makes it run before main in every binary that links core.
const int sodium_ready = [] {
  if (sodium_init() < 0) std::abort();
  return 0;
}();

}  // namespace

std::string to_hex(ByteView b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(b.size() * 2, '\0');
  for (std::size_t i = 0; i < b.size(); ++i) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 0x0f];
  }
  return out;
}

Bytes from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw Error(Errc::bad_request, "hex: odd length");
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw Error(Errc::bad_request, "hex: invalid digit");
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

bool ct_equal(ByteView a, ByteView b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void secure_wipe(void* p, std::size_t n) noexcept {
  if (p != nullptr && n != 0) sodium_memzero(p, n);
}

bool is_all_zero(ByteView b) noexcept { return b.empty() || sodium_is_zero(b.data(), b.size()) == 1; }

namespace {
// The operating system's randomness, fetched 4 KiB at a time per thread: a getrandom() system
// call for every 16-byte IV or nonce would cost more than encrypting a small response. Bytes are
// handed out once and wiped as they go; a forked child never reuses its parent's pool.
// Counts forks (a pthread_atfork child handler): cheaper than asking getpid() on every call.
std::atomic<unsigned> fork_generation{0};
const bool fork_handler_installed = [] {
  return ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
}();

class RandomPool {
 public:
  ~RandomPool() { sodium_memzero(buf_, sizeof buf_); }
  void fill(std::uint8_t* out, std::size_t n) noexcept {
    const unsigned generation = fork_generation.load(std::memory_order_relaxed);
    if (generation != generation_ || !fork_handler_installed) {
      generation_ = generation;
      pos_ = sizeof buf_;  // a forked child (or, without the handler, every call) starts afresh
    }
    while (n > 0) {
      if (pos_ == sizeof buf_) {
        randombytes_buf(buf_, sizeof buf_);
        pos_ = 0;
      }
      const std::size_t k = std::min(n, sizeof buf_ - pos_);
      std::memcpy(out, buf_ + pos_, k);
      sodium_memzero(buf_ + pos_, k);
      pos_ += k, out += k, n -= k;
    }
  }

 private:
  std::uint8_t buf_[4096];
  std::size_t pos_ = sizeof buf_;
  unsigned generation_ = 0;
};
}  // namespace

void random_fill(std::span<std::uint8_t> out) noexcept {
  (void)sodium_ready;
  if (out.size() > 256) {  // large requests: straight from the system
    randombytes_buf(out.data(), out.size());
    return;
  }
  thread_local RandomPool pool;
  pool.fill(out.data(), out.size());
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  random_fill(out);
  return out;
}

void throw_size_mismatch(std::size_t want, std::size_t got) {
  throw Error(Errc::bad_request, "expected " + std::to_string(want) + " bytes, got " + std::to_string(got));
}

SecretBytes::SecretBytes(std::size_t n) : data_(new std::uint8_t[n]()), size_(n) {}

SecretBytes::SecretBytes(ByteView b) : SecretBytes(b.size()) {
  if (!b.empty()) std::memcpy(data_.get(), b.data(), b.size());
}

SecretBytes& SecretBytes::operator=(const SecretBytes& o) {
  if (this != &o) *this = SecretBytes(o.view());
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)), size_(o.size_) { o.size_ = 0; }

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    secure_wipe(data_.get(), size_);
    data_ = std::move(o.data_);
    size_ = o.size_;
    o.size_ = 0;
  }
  return *this;
}

SecretBytes::~SecretBytes() { secure_wipe(data_.get(), size_); }

}  // namespace mh
