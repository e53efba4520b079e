// RedisSubscriber: one thread, one connection, SUBSCRIBE, and a loop that hands every message to
// the callback.
//
// The loop waits with poll() on the socket and on an eventfd, then reads with redisBufferRead and
// takes replies with redisGetReplyFromReader; it never lets hiredis block. A hiredis read timeout
// would mark the context errored (the connection would have to be redialed every few hundred ms
// on a quiet channel, and a message could be cut in half), while poll() lets a quiet channel be
// quiet and lets the destructor wake the thread at once through the eventfd.
//
// A quiet channel cannot tell a live Redis from a hung one (SIGSTOP, a lost network), so after a
// second of silence the loop sends PING (allowed in subscribe mode) and calls the link broken if
// nothing comes back within the options' timeout.
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "store/redis_client.hpp"
#include "store/redis_link.hpp"

namespace mh::store {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kFirstBackoff{50};
constexpr milliseconds kMaxBackoff{1000};
constexpr milliseconds kHeartbeat{1000};
// Caps the connect so that the destructor, which waits for it, returns promptly.
constexpr milliseconds kMaxConnect{500};

struct ReplyFree {
  void operator()(void* r) const noexcept { freeReplyObject(r); }
};

}  // namespace

struct RedisSubscriber::Impl {
  RedisOptions opt;
  std::vector<std::string> channels;
  std::function<void(const std::string&, const std::string&)> on_message;
  std::function<void(bool)> on_link;
  std::atomic<bool> linked{false};
  std::atomic<bool> stopping{false};
  int wake_fd = -1;
  std::thread thread;

  // Waits until fd (or, with fd < 0, nothing but the wake) is readable: 1 readable, 0 timed out,
  // -1 stopping.
  int wait(int fd, milliseconds timeout) {
    pollfd p[2] = {{wake_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    const int n = ::poll(p, fd >= 0 ? 2 : 1, static_cast<int>(std::max<milliseconds::rep>(0, timeout.count())));
    if (stopping.load() || (n > 0 && p[0].revents)) return -1;
    if (n < 0) return errno == EINTR ? 0 : -1;
    return n > 0 ? 1 : 0;
  }

  void set_link(bool up) {
    if (linked.exchange(up) == up || !on_link) return;
    // A throwing callback must not end the thread (std::terminate): the subscription goes on.
    try {
      on_link(up);
    } catch (...) {}
  }

  // Sends what is queued in the context; false when the link failed.
  static bool flush(redisContext* c) {
    int done = 0;
    while (!done)
      if (redisBufferWrite(c, &done) != REDIS_OK) return false;
    return true;
  }

  // Handles one push; true once every channel is confirmed.
  void handle(const Reply& r, std::size_t& confirmed) {
    if (r.type != Reply::Type::array || r.elements.size() < 3) return;
    const std::string& kind = r.elements[0].str;
    if (kind == "subscribe") {
      if (++confirmed == channels.size()) set_link(true);
    } else if (kind == "message" && on_message) {
      try {
        on_message(r.elements[1].str, r.elements[2].str);
      } catch (...) {}
    }
  }

  // One connection, from dial to failure (or stop). True if it got subscribed.
  bool session() {
    detail::Context c;
    try {
      c = detail::dial(opt.address, std::min(opt.timeout, kMaxConnect));
    } catch (const Error&) { return false; }
    Command subscribe{"SUBSCRIBE"};
    subscribe.insert(subscribe.end(), channels.begin(), channels.end());
    detail::append(c.get(), subscribe);
    if (!flush(c.get())) return false;

    std::size_t confirmed = 0;
    auto last_heard = Clock::now();
    bool ping_sent = false;
    while (!stopping.load()) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c.get(), &raw) != REDIS_OK) break;
      if (raw) {
        std::unique_ptr<void, ReplyFree> reply(raw);
        handle(detail::convert(reply.get()), confirmed);
        continue;
      }
      const auto now = Clock::now();
      const auto due = last_heard + (ping_sent ? kHeartbeat + opt.timeout : kHeartbeat);
      if (now >= due) {
        if (ping_sent) break;  // no answer to PING: Redis is hung or unreachable
        detail::append(c.get(), {"PING"});
        if (!flush(c.get())) break;
        ping_sent = true;
        continue;
      }
      const int ready = wait(c->fd, std::chrono::duration_cast<milliseconds>(due - now) + milliseconds(1));
      if (ready < 0) break;
      if (ready == 0) continue;
      if (redisBufferRead(c.get()) != REDIS_OK) break;
      last_heard = Clock::now();
      ping_sent = false;
    }
    return confirmed == channels.size();
  }

  void run() {
    // This thread is ours: SIGPIPE (a write to a closed socket) is blocked for good here.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    milliseconds backoff = kFirstBackoff;
    while (!stopping.load()) {
      bool got_subscribed = false;
      try {
        got_subscribed = session();
      } catch (const std::exception&) {
        // Only an allocation can throw in there; a lost connection is a return, not an exception.
      }
      set_link(false);
      if (got_subscribed) backoff = kFirstBackoff;
      if (wait(-1, backoff) < 0) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
};

RedisSubscriber::RedisSubscriber(RedisOptions options, std::vector<std::string> channels,
                                 std::function<void(const std::string&, const std::string&)> on_message,
                                 std::function<void(bool)> on_link)
    : impl_(std::make_unique<Impl>()) {
  if (channels.empty()) throw Error(Errc::bad_request, "store: a subscriber needs at least one channel");
  impl_->opt = std::move(options);
  impl_->channels = std::move(channels);
  impl_->on_message = std::move(on_message);
  impl_->on_link = std::move(on_link);
  impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) throw Error(Errc::internal, "store: eventfd failed");
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

RedisSubscriber::~RedisSubscriber() {
  impl_->stopping.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->thread.join();
  ::close(impl_->wake_fd);
}

bool RedisSubscriber::subscribed() const noexcept { return impl_->linked.load(); }

}  // namespace mh::store
