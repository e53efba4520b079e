#pragma once
// A small, blocking Redis client over hiredis: a bounded pool of connections, a timeout on every
// call, and pipelines (several commands in one write, their replies in one read: one round trip).
// hiredis stays inside redis_client.cpp.
//
// Every failure to talk to Redis — cannot connect, timeout, connection lost, a protocol error —
// is thrown as Error(Errc::unavailable, "store: ...") so that the caller fails closed (503) and
// the web layer maps it in the one place statuses are decided. A connection that failed is
// dropped; the next call dials again, so the client recovers by itself when Redis comes back.
// An error *reply* (e.g. WRONGTYPE, a script's error) is not a failure of the link: it comes back
// as a Reply of type error.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mh::store {

// Where Redis is: redis://HOST[:PORT][/DB] (port 6379, db 0 by default) or unix:///PATH[?db=N].
struct RedisAddress {
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string unix_path;  // empty for TCP
  int db = 0;
  std::string text() const;  // as the operator wrote it, for logs and errors (no password: none is accepted)
};
// Error(Errc::bad_request, "store: ...") naming what is wrong with the URL.
RedisAddress parse_redis_url(std::string_view url);

struct Reply {
  enum class Type { nil, integer, string, status, array, error };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  // string, status and error replies
  std::vector<Reply> elements;

  bool is_nil() const noexcept { return type == Type::nil; }
  bool is_error() const noexcept { return type == Type::error; }
};

using Command = std::vector<std::string>;  // argv; binary-safe

// A Lua script with its SHA-1, computed once when the script is defined, so that running it
// (EVALSHA) costs no hashing and no copy of its text.
class Script {
 public:
  explicit Script(std::string text);
  const std::string& text() const noexcept { return text_; }
  const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string text_, sha1_;
};

struct RedisOptions {
  RedisAddress address;
  std::chrono::milliseconds timeout{1000};  // connect, and each call's write + read
  std::size_t pool_size = 8;                // connections kept open; a call waits for a free one
  // Told when the link changes state: up=false with the reason on the first failure after
  // success (or at start), up=true when a call succeeds again. Called at most once per change.
  std::function<void(bool up, const std::string& why)> on_state;
  // Told when a new connection finds Redis has restarted since the last connection (its run_id,
  // from INFO server, changed): what was written since its last snapshot may be gone. Not called
  // for the first connection.
  std::function<void()> on_restart;
  // Both run on the calling thread, one at a time, under the client's report lock (never its
  // pool lock): they must not call back into the client.
};

class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);  // does not connect; the first call does
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  Reply command(const Command& argv);
  // One round trip for all: replies in order, one per command.
  std::vector<Reply> pipeline(const std::vector<Command>& commands);
  // EVALSHA with the script's SHA-1, loading it (SCRIPT LOAD) when Redis answers NOSCRIPT, e.g.
  // after a restart. One round trip when the script is known.
  Reply eval(const Script& script, const std::vector<std::string>& keys, const std::vector<std::string>& args);

  const RedisAddress& address() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A subscription on its own connection and thread: on_message(channel, payload) for every message
// on the channels, in the order Redis sent them. The thread reconnects (backing off up to 1 s) when
// the link fails; on_link(false) says the subscription is broken (messages may have been missed),
// on_link(true) that it is subscribed again. The caller must treat anything it cached from
// those channels as stale while the link is down.
class RedisSubscriber {
 public:
  RedisSubscriber(RedisOptions options, std::vector<std::string> channels,
                  std::function<void(const std::string& channel, const std::string& payload)> on_message,
                  std::function<void(bool subscribed)> on_link);
  ~RedisSubscriber();  // stops the thread
  bool subscribed() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mh::store
