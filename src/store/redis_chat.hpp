#pragma once
// The chat relay of instances sharing a store (web/chat_relay.hpp, docs/ARCHITECTURE.md §7): the
// rooms' seats as sorted sets whose scores are when each seat lapses, the chat budgets as token
// buckets, and one Redis stream, mh:chat:log, as the order of everything said. Every change is one
// Lua script (store/chat_scripts.hpp), so a room's size limit holds across instances and an event
// enters the log with the change it reports.
//
// Reading: a thread of its own, on a connection of its own, blocks in XREAD for what follows the
// last entry it read. A broken link is retried (backing off up to 1 s) from that same entry, so
// each event is handed over once and in order. The stream is trimmed to about 100,000 entries;
// when it has dropped entries this instance had not read yet (fewer left after the last one read
// than it has taken since: XINFO STREAM's entries-added), on_lost says so.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "store/redis_client.hpp"
#include "web/chat_relay.hpp"

namespace mh::store {

class RedisChat final : public web::ChatRelay {
 public:
  // Posts through `redis`; reads on a connection of its own (same address, `timeout` per call).
  RedisChat(RedisClient& redis, std::chrono::milliseconds timeout);
  ~RedisChat() override;  // stops the reader
  RedisChat(const RedisChat&) = delete;
  RedisChat& operator=(const RedisChat&) = delete;

  const std::string& instance() const override { return instance_; }
  void start(Handlers handlers) override;
  void stop() override;
  bool reading() const override { return reading_; }

  bool sit(const web::ChatSeat& seat, std::size_t max, const std::string& join_event, const web::ChatSeat* from,
           const std::string& leave_event) override;
  void stand(const web::ChatSeat& seat, const std::string& leave_event) override;
  void keep(const std::vector<web::ChatSeat>& seats) override;
  bool post(const std::string& event, const std::string& to, const std::string& except) override;
  double take(const std::string& bucket, const std::string& client, double rate, double burst) override;
  std::size_t seated(const std::string& room) override;
  std::vector<std::string> names_in(const std::string& room) override;
  std::vector<std::pair<std::string, std::size_t>> rooms() override;

  static constexpr const char* kLog = "mh:chat:log";
  static constexpr std::chrono::milliseconds kBlock{250};  // one XREAD waits at most this long

 private:
  void read_loop();
  static std::pair<std::string, std::uint64_t> log_end(RedisClient& reader);
  static bool lost_since(RedisClient& reader, const std::string& last, std::uint64_t& taken);

  RedisClient& redis_;
  RedisOptions reader_options_;
  const std::string instance_;
  Handlers handlers_;
  std::atomic<bool> reading_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread reader_;
};

}  // namespace mh::store
