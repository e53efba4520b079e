#include "auth/replay_cache.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace mh::auth {

namespace {

// The generation `now` falls in: floor(now / window), also for times before 1970.
std::int64_t generation_of(std::int64_t now, std::int64_t window) noexcept {
  return now >= 0 ? now / window : -((-now + window - 1) / window);
}

// Moves a shard's generations forward to g (never back, should the clock step back).
template <class S>
void advance(S& s, std::int64_t g) {
  if (g <= s.generation) return;
  if (s.generation == g - 1)
    s.previous.swap(s.current);
  else
    s.previous.clear();
  s.current.clear();
  s.generation = g;
}

}  // namespace

ReplayCache::ReplayCache(std::int64_t window_seconds, std::size_t max_entries, std::size_t max_per_scope)
    : window_(std::max<std::int64_t>(1, window_seconds)),
      max_per_generation_(std::max<std::size_t>(1, max_entries / (2 * 16))),
      max_per_scope_(max_per_scope) {
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
  const std::int64_t g = generation_of(now, window_);
  const std::uint64_t h = hash(scope, nonce);
  Shard& s = shards_[h % shards_.size()];
  std::lock_guard lock(s.mutex);  // always taken before a scope shard's, never after
  advance(s, g);
  if (s.current.count(h) || s.previous.count(h)) return Verdict::replayed;
  if (s.current.size() >= max_per_generation_) return Verdict::full;
  if (max_per_scope_ != 0 && !take_scope_share(scope, g)) return Verdict::scope_full;
  s.current.insert(h);
  return Verdict::fresh;
}

// Counts one more live entry for the scope, unless it already holds max_per_scope.
bool ReplayCache::take_scope_share(std::string_view scope, std::int64_t generation) {
  const std::uint64_t key = hash(scope, {});
  ScopeShard& c = scopes_[key % scopes_.size()];
  std::lock_guard lock(c.mutex);
  advance(c, generation);
  const auto prev = c.previous.find(key);
  const std::size_t live = (prev == c.previous.end() ? 0 : prev->second);
  auto [cur, inserted] = c.current.try_emplace(key, 0);
  if (live + cur->second >= max_per_scope_) {
    if (inserted) c.current.erase(cur);
    return false;
  }
  ++cur->second;
  return true;
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
