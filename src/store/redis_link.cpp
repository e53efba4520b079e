#include "store/redis_link.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <ctime>

namespace mh::store::detail {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

struct ReplyFree {
  void operator()(void* r) const noexcept { freeReplyObject(r); }
};

}  // namespace

void ContextFree::operator()(redisContext* c) const noexcept { redisFree(c); }

Context dial(const RedisAddress& address, std::chrono::milliseconds timeout) {
  const timeval tv = to_timeval(timeout);
  Context c(address.unix_path.empty() ? redisConnectWithTimeout(address.host.c_str(), address.port, tv)
                                      : redisConnectUnixWithTimeout(address.unix_path.c_str(), tv));
  if (!c) throw Error(Errc::unavailable, "store: cannot connect (" + address.text() + "): out of memory");
  if (c->err) throw Error(Errc::unavailable, "store: cannot connect (" + address.text() + "): " + c->errstr);
  // The connect timeout covers only the connect: the calls need it as SO_RCVTIMEO/SO_SNDTIMEO.
  if (redisSetTimeout(c.get(), tv) != REDIS_OK)
    throw Error(Errc::unavailable, "store: cannot set the timeout (" + address.text() + "): " + c->errstr);
  return c;
}

Error link_error(const RedisAddress& address, const redisContext* c, int errno_at_failure,
                 std::chrono::milliseconds timeout) {
  std::string what = "command failed";
  if (c->err == REDIS_ERR_IO && (errno_at_failure == EAGAIN || errno_at_failure == EWOULDBLOCK))
    what = "no answer within " + std::to_string(timeout.count()) + " ms";
  else if (c->err == REDIS_ERR_EOF || (c->err == REDIS_ERR_IO && errno_at_failure == EPIPE))
    what = "connection lost";
  else if (c->err == REDIS_ERR_PROTOCOL)
    what = "protocol error";
  const std::string detail = c->err ? c->errstr : "no reply";
  return Error(Errc::unavailable, "store: " + what + " (" + address.text() + "): " + detail);
}

void append(redisContext* c, const Command& argv) {
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()) != REDIS_OK)
    throw Error(Errc::internal, "store: cannot queue a command: out of memory");
}

std::vector<Reply> round_trip(redisContext* c, const std::vector<Command>& commands, const RedisAddress& address,
                              std::chrono::milliseconds timeout) {
  // An empty argv would put "*0" on the wire, which Redis answers with nothing: the replies of
  // every later command would then be read as the answers of the wrong ones.
  for (const auto& cmd : commands)
    if (cmd.empty()) throw Error(Errc::internal, "store: an empty command");
  for (const auto& cmd : commands) append(c, cmd);
  SigpipeGuard guard;
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    const int rc = redisGetReply(c, &raw);  // the first call writes the whole buffer
    const int err = errno;
    std::unique_ptr<void, ReplyFree> reply(raw);
    if (rc != REDIS_OK || !reply) throw link_error(address, c, err, timeout);
    replies.push_back(convert(reply.get()));
  }
  return replies;
}

Reply convert(const void* reply) {
  const auto* r = static_cast<const redisReply*>(reply);
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = Reply::Type::string; break;
    case REDIS_REPLY_STATUS: out.type = Reply::Type::status; break;
    case REDIS_REPLY_ERROR: out.type = Reply::Type::error; break;
    case REDIS_REPLY_INTEGER: out.type = Reply::Type::integer; break;
    case REDIS_REPLY_ARRAY: out.type = Reply::Type::array; break;
    default: out.type = Reply::Type::nil; break;
  }
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
    out.str.assign(r->str, r->len);
  if (r->type == REDIS_REPLY_INTEGER) out.integer = r->integer;
  if (r->type == REDIS_REPLY_ARRAY) {
    out.elements.reserve(r->elements);
    for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
  }
  return out;
}

SigpipeGuard::SigpipeGuard() noexcept {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

SigpipeGuard::~SigpipeGuard() {
  if (!was_pending_) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      const timespec now{};
      sigtimedwait(&pipe, nullptr, &now);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace mh::store::detail
