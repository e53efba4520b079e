#pragma once
// Shared by every fuzz target (fuzz/fuzz_*.cpp). Conventions:
//  * mh::Error is the expected refusal of bad input; a target catches it (often checking its Errc).
//  * Anything else is a bug and must end the run loudly so libFuzzer saves the input:
//    MH_FUZZ_CHECK(cond) on a broken invariant, guarded() around the whole body for stray
//    exceptions (std::bad_alloc, nlohmann::json errors, std::out_of_range, ...), and the
//    sanitizers (ASan + UBSan, -fno-sanitize-recover) for memory errors and undefined behaviour.
//  * Anything a target varies besides the input text itself (chunk sizes, clocks, IVs) comes from
//    Rng(data, size), a PRNG seeded by a hash of the input: the input alone reproduces a run, and
//    seed files stay plain text (a token, a header value, a path) instead of carrying control bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace mh::fuzz {

[[noreturn]] inline void broken(const char* what, const char* file, int line) {
  std::fprintf(stderr, "\n==FUZZ== invariant broken: %s\n==FUZZ== at %s:%d\n", what, file, line);
  std::fflush(stderr);
  std::abort();  // libFuzzer reports the deadly signal and writes the crash-* reproducer
}

#define MH_FUZZ_CHECK(cond) ((cond) ? static_cast<void>(0) : ::mh::fuzz::broken(#cond, __FILE__, __LINE__))

// The input as text (no copy).
inline std::string_view text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

// splitmix64 seeded by FNV-1a of the input.
class Rng {
 public:
  Rng(const std::uint8_t* data, std::size_t size) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
    state_ = h;
  }
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [lo, hi].
  std::uint64_t range(std::uint64_t lo, std::uint64_t hi) noexcept { return lo + next() % (hi - lo + 1); }
  bool coin() noexcept { return next() & 1; }

  // Split a length n into at most kMaxPieces chunk sizes (some zero, mostly small, sometimes
  // large, sometimes everything left). The cap keeps long inputs fast to run.
  static constexpr std::size_t kMaxPieces = 24;
  std::vector<std::size_t> splits(std::size_t n) {
    std::vector<std::size_t> out;
    std::size_t left = n;
    while (left > 0) {
      std::size_t c;
      if (out.size() + 1 >= kMaxPieces) {
        c = left;
      } else {
        switch (next() % 8) {
          case 0: c = 0; break;                                      // empty updates must be harmless
          case 1: c = left; break;                                   // the rest in one go
          case 2: c = static_cast<std::size_t>(range(1, 3)); break;  // byte-sized pieces
          case 3: c = static_cast<std::size_t>(range(1, left)); break;
          default: c = static_cast<std::size_t>(range(1, 64)); break;
        }
      }
      if (c > left) c = left;
      out.push_back(c);
      left -= c;
    }
    if (out.empty() || coin()) out.push_back(0);
    return out;
  }

 private:
  std::uint64_t state_;
};

// Runs fn and reports whether it threw mh::Error (true = refused). Other exceptions escape to
// guarded(), which treats them as bugs.
template <class Fn>
bool refuses(Fn&& fn) {
  try {
    fn();
  } catch (const Error&) { return true; }
  return false;
}

// Runs fn; a refusal must be an mh::Error whose code is one of `allowed` (empty = any code).
// Returns true when fn completed.
template <class Fn>
bool accepts(Fn&& fn, std::initializer_list<Errc> allowed = {}) {
  try {
    fn();
    return true;
  } catch (const Error& e) {
    if (allowed.size() == 0) return false;
    for (Errc c : allowed)
      if (e.code() == c) return false;
    std::fprintf(stderr, "\n==FUZZ== refusal with unexpected code %s: %s\n", std::string(errc_name(e.code())).c_str(),
                 e.what());
    broken("refusal code is one of the allowed ones", __FILE__, __LINE__);
  }
}

// The body of LLVMFuzzerTestOneInput: any exception that is not caught inside fn is a bug.
template <class Fn>
int guarded(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    std::fprintf(stderr, "\n==FUZZ== uncaught mh::Error (%s): %s\n", std::string(errc_name(e.code())).c_str(),
                 e.what());
    broken("no mh::Error escapes where the target expects success", __FILE__, __LINE__);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\n==FUZZ== exception that is not an mh::Error: %s\n", e.what());
    broken("only mh::Error is thrown", __FILE__, __LINE__);
  } catch (...) { broken("only mh::Error is thrown (unknown exception type)", __FILE__, __LINE__); }
  return 0;
}

}  // namespace mh::fuzz
