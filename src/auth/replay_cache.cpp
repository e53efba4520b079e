#include "auth/replay_cache.hpp"

#include <sodium.h>

#include <cstring>

namespace mh::auth {

ReplayCache::ReplayCache(std::int64_t window_seconds, std::size_t max_entries)
    : window_(window_seconds), max_per_generation_(std::max<std::size_t>(1, max_entries / (2 * 16))) {
  random_fill(hash_key_);
}

std::uint64_t ReplayCache::hash(std::string_view scope, ByteView nonce) const noexcept {
  // SipHash-2-4 over scope || 0x00 || nonce; the separator keeps (scope, nonce) pairs distinct.
  // Callers bound both lengths, so the message normally fits on the stack.
  std::uint8_t stack[512];
  Bytes heap;
  const std::size_t n = scope.size() + 1 + nonce.size();
  std::uint8_t* msg = stack;
  if (n > sizeof stack) {
    heap.resize(n);
    msg = heap.data();
  }
  std::memcpy(msg, scope.data(), scope.size());
  msg[scope.size()] = 0;
  if (!nonce.empty()) std::memcpy(msg + scope.size() + 1, nonce.data(), nonce.size());
  std::uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, msg, n, hash_key_.data());
  std::uint64_t h;
  std::memcpy(&h, out, sizeof h);
  return h;
}

ReplayCache::Verdict ReplayCache::check_and_insert(std::string_view scope, ByteView nonce, std::int64_t now) {
  const std::uint64_t h = hash(scope, nonce);
  Shard& s = shards_[h % shards_.size()];
  std::lock_guard lock(s.mutex);
  if (now - s.generation_start >= window_) {
    // Rotate; after a long quiet period both generations are stale.
    if (now - s.generation_start >= 2 * window_) s.previous.clear();
    else s.previous.swap(s.current);
    s.current.clear();
    s.generation_start = now;
  }
  if (s.current.count(h) || s.previous.count(h)) return Verdict::replayed;
  if (s.current.size() >= max_per_generation_) return Verdict::full;
  s.current.insert(h);
  return Verdict::fresh;
}

std::size_t ReplayCache::size() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.current.size() + s.previous.size();
  }
  return n;
}

}  // namespace mh::auth
