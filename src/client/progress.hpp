#pragma once
// A progress line on stderr for large transfers: only on a terminal, at most ten redraws a second.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace mh::client {

// One line on stderr, redrawn at most ten times a second, only on a terminal.
class Progress {
 public:
  Progress(std::uint64_t total, bool enabled) : total_(total), enabled_(enabled && ::isatty(2) && total > (1 << 20)) {}
  ~Progress() {
    if (drawn_) std::fprintf(stderr, "\n");
  }
  void advance(std::uint64_t n) {
    done_ += n;
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done_ < total_) return;
    last_ = now;
    drawn_ = true;
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%3d%%  %.1f / %.1f MiB  %.0f MB/s ", static_cast<int>(100.0 * done_ / total_),
                 done_ / 1048576.0, total_ / 1048576.0, secs > 0 ? done_ / secs / 1e6 : 0.0);
  }

 private:
  std::uint64_t total_, done_ = 0;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

}  // namespace mh::client
