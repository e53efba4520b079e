#pragma once
// What the client and the subscriber share about one hiredis connection: dialing it, the error
// texts of a failed link, one pipelined round trip, and the conversion of replies. Internal to
// src/store; hiredis itself is only included by the .cpp files.
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/redis_client.hpp"

struct redisContext;

namespace mh::store::detail {

struct ContextFree {
  void operator()(redisContext* c) const noexcept;
};
using Context = std::unique_ptr<redisContext, ContextFree>;

// Connects with `timeout`, then makes it the read/write timeout of every call on the context.
// Throws Error(unavailable, "store: cannot connect (ADDRESS): ...").
Context dial(const RedisAddress& address, std::chrono::milliseconds timeout);

// Error(unavailable, "store: WHAT (ADDRESS): <hiredis errstr>"); WHAT says timeout, lost link or
// protocol error from the context's error and errno_at_failure.
Error link_error(const RedisAddress& address, const redisContext* c, int errno_at_failure,
                 std::chrono::milliseconds timeout);

// Writes every command (one write) then reads one reply each. Throws link_error on any failure;
// the context must then be freed. Error replies are returned, not thrown.
std::vector<Reply> round_trip(redisContext* c, const std::vector<Command>& commands, const RedisAddress& address,
                              std::chrono::milliseconds timeout);

// Queues argv in the context's output buffer (nothing is written yet).
void append(redisContext* c, const Command& argv);

// hiredis's reply tree as a Reply (`reply` is a redisReply*).
Reply convert(const void* reply);

// A write to a socket the peer closed raises SIGPIPE, which kills a process that does not ignore
// it. A library must not change the process's dispositions, so the calling thread blocks SIGPIPE
// for the duration of a call and discards the one the call raised, if any.
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept;
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;
};

}  // namespace mh::store::detail
