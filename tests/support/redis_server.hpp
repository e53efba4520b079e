#pragma once
// A real redis-server for the store's tests, in a fresh temporary directory, persisting nothing.
//
//   mh::test::RedisServer redis;                      // unix socket (the default)
//   mh::store::RedisOptions o;
//   o.address = mh::store::parse_redis_url(redis.url());
//
// stop() and start() keep the socket path or TCP port, so a client's address stays valid across
// a restart; the data does not survive it (nothing is saved).
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "support/test_support.hpp"

namespace mh::test {

class RedisServer {
 public:
  enum class Listen { unix_socket, tcp };

  // Starts it and waits (up to 10 s) until it answers PING; throws std::runtime_error with its log.
  explicit RedisServer(Listen listen = Listen::unix_socket);
  ~RedisServer();  // stops it and removes its directory
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::string url() const;  // "unix:///TMP/redis.sock" or "redis://127.0.0.1:PORT"
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  std::string log() const;  // everything redis-server wrote, over all its runs

  void start();    // no-op when running
  void stop();     // SIGTERM (SIGCONT first, in case a test stopped it), wait; SIGKILL after 5 s
  void kill();     // SIGKILL, wait
  void restart();  // stop + start: a new run_id, no data

 private:
  bool start_once();  // false when it exited before answering (a TCP port taken meanwhile)
  void wait_gone();

  Listen listen_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mh::test
