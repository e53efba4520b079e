#include "client/ordered_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <csignal>

namespace mh::client {

unsigned worker_threads_for(const stream::Layout& layout) noexcept {
  const unsigned cores = std::thread::hardware_concurrency();
  if (layout.count() < 2 || cores < 2) return 0;
  return std::min(cores, 4u);
}

void start_workers(unsigned count, const std::function<void()>& body, std::vector<std::thread>& into) {
  // A new thread inherits the mask of the thread that starts it: blocked while they start.
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  try {
    for (unsigned i = 0; i < count; ++i) into.emplace_back(body);
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace mh::client
