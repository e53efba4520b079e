#pragma once
// What the two halves of the chat hub share: chat_hub.cpp (the hub, and the chat of one process)
// and chat_hub_relay.cpp (the chat shared through a relay). Included by those two files only.
#include <nlohmann/json.hpp>

#include <exception>
#include <string>

#include "web/chat_hub.hpp"

namespace mh::web {

struct ChatHub::Member {
  std::uint64_t id = 0;
  std::shared_ptr<const auth::ClientRecord> client;
  std::shared_ptr<net::WebSocketPeer> peer;  // set by on_open, reset by on_close
  std::string room;                          // the room asked for, then the room it is in
  Binding binding{};                         // B of the upgrade: the frames' keys
  std::uint64_t received = 0;                // frames opened from the client (only frame() touches it)
  std::uint64_t sent = 0;                    // frames sent to it (under mutex_)
  bool joined = false;                       // in members_ (and without a relay in rooms_)
  bool seated = false;                       // with a relay: has a seat in the store (under mutex_)
  bool closed = false;                       // closing: nothing more is sent to it or taken from it
};

// The request a frame holds, checked; or why it is not one (the reply is an error frame).
struct ChatRequest {
  enum class Kind { say, msg, join, rooms, who, quit } kind = Kind::say;
  nlohmann::json text;  // say, msg: a string, checked
  std::string to;       // msg
  std::string room;     // join
};

// The request in a frame's plaintext, checked into `r`; or why it is not one (the reply is an error).
std::string parse_request(const std::string& plaintext, const ChatLimits& limits, ChatRequest& r);

// The session a connection was opened under is still the client's live one.
inline bool same_session(const auth::ClientRecord& live, const auth::ClientRecord& opened) {
  return &live == &opened || live.keyid == opened.keyid;
}

inline std::string notice(const std::string& text, std::int64_t now, nlohmann::json extra = nlohmann::json::object()) {
  extra["type"] = "notice";
  extra["text"] = text;
  extra["time"] = now;
  return extra.dump();
}

// What a recipient of a say (to = nullptr) or msg gets.
inline nlohmann::json message(const std::string& room, const auth::ClientRecord& from, const nlohmann::json& text,
                              std::int64_t now, const std::string* to) {
  nlohmann::json out{{"type", "message"}, {"room", room}, {"from", from.name},       {"uuid", from.uuid.to_string()},
                     {"text", text},      {"time", now},  {"private", to != nullptr}};
  if (to) out["to"] = *to;
  return out;
}

// At most `max` bytes of the UTF-8 text `s`, never cutting a character in two: the JSON a quoted
// name goes into must stay valid UTF-8.
inline std::string utf8_prefix(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return s.substr(0, n);
}

// The reply to a request the store could not take: what the store said.
inline std::string not_done(const std::exception& e) {
  return std::string("not done: ") + e.what() + "; send it again in a moment";
}

}  // namespace mh::web
