#pragma once
// Where the chat lives when instances share a store (docs/ARCHITECTURE.md §7.8): the rooms' seats,
// the per-client chat budgets and one ordered log of what was said. A hub with a relay posts every
// event — a join, a leave, a message to a room or to a name — to the log and delivers only what it
// reads back from it, to its own connections, so every instance delivers the same events in the
// same order, each once. Store-free (store/redis_chat.hpp implements it over a Redis stream) and
// Beast-free.
//
// Every call but start() and stop() may block on the store and throws Error(Errc::unavailable)
// when it cannot be reached: the hub never calls one under its lock.
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mh::web {

// One chat connection in a room, as the store knows it. `id` is unique among all instances
// ("<instance>.<n>"); names and rooms never contain ':' (handshake::valid_name).
struct ChatSeat {
  std::string room;
  std::string name;
  std::string id;
};

class ChatRelay {
 public:
  virtual ~ChatRelay() = default;

  // The prefix of this instance's seat ids.
  virtual const std::string& instance() const = 0;

  // Starts reading the log where it ends now, on a thread of the relay's: `on_event` gets each
  // event posted from then on exactly once, in the log's order, even across a broken link (reading
  // resumes after the last event read). `on_state(reading, why)`: reading stopped (the store cannot
  // be reached) or resumed; `lost` when the log no longer holds events this instance had not read
  // yet (trimmed while it was away), so its readers missed some.
  struct Handlers {
    std::function<void(const std::string& event)> on_event;
    std::function<void(bool reading, const std::string& why)> on_state;
    std::function<void()> on_lost;
  };
  virtual void start(Handlers handlers) = 0;
  virtual void stop() = 0;  // returns once no handler runs any more
  virtual bool reading() const = 0;

  // Takes `seat` if its room has fewer than `max` seats, and posts `join_event` (a JSON object, to
  // which the relay adds "members": the names seated in the room then, sorted, each once),
  // atomically; leaving `from` first (its seat given up, `leave_event` posted) if there is one.
  // False if the room is full: nothing done.
  virtual bool sit(const ChatSeat& seat, std::size_t max, const std::string& join_event, const ChatSeat* from = nullptr,
                   const std::string& leave_event = {}) = 0;
  // Gives `seat` up and posts `leave_event`.
  virtual void stand(const ChatSeat& seat, const std::string& leave_event) = 0;
  // Keeps these seats (this instance's) alive: the store forgets a seat not kept for
  // kSeatLifetime seconds, so an instance that died leaves its rooms by itself.
  virtual void keep(const std::vector<ChatSeat>& seats) = 0;
  static constexpr int kSeatLifetime = 30;

  // Posts `event` for everyone; or, when `to` is not empty, only if someone named `to` has a seat
  // other than `except` (false if nobody has: nothing posted).
  virtual bool post(const std::string& event, const std::string& to = {}, const std::string& except = {}) = 0;

  // Takes a token from the client's bucket `bucket` (rate a second, burst at most), shared by all
  // instances. Returns 0 if there was one, else the seconds until there will be (nothing taken).
  virtual double take(const std::string& bucket, const std::string& client, double rate, double burst) = 0;

  virtual std::size_t seated(const std::string& room) = 0;
  virtual std::vector<std::string> names_in(const std::string& room) = 0;  // sorted, each once
  // Every room with a seat: its name and how many names are seated there, by name.
  virtual std::vector<std::pair<std::string, std::size_t>> rooms() = 0;
};

}  // namespace mh::web
