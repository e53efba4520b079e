#pragma once
// The encrypted chat relay behind GET /chat (docs/PROTOCOL.md §9). HTTP-free
// and Beast-free: each connection is a verified client (its registry record, with the session
// secret), the upgrade's binding B and a net::WebSocketPeer. Frame n a client sends is a Fernet
// token under K("chat to server", B, n) holding one JSON message with "seq": n; the hub opens it as
// the connection's next frame (so a replayed, dropped or reordered one fails), checks the session
// is still live, applies the limits, and relays to each recipient as that connection's next frame
// under K("chat to client", B', m), adding the sender's name and UUID and the server time.
//
// Threading: frames from different connections arrive on different threads. One mutex guards
// rooms and members; every send for a message happens under it, so each recipient gets messages
// in the order the hub processed them. Decryption happens before the lock, encryption for the
// recipients under it. The hub never logs message text: only joins, leaves, kicks, refusals and
// counts.
//
// With a relay (several instances sharing a store, web/chat_relay.hpp) the rooms' seats and the
// limits live in the store, and every join, leave and message goes through its log: the hub
// delivers to its own connections only what it reads back from the log (on the relay's thread),
// so readers on every instance get the same events in the same order, each once. The hub calls
// the relay, which blocks on the store, only outside its lock.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/registry.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/uuid.hpp"
#include "net/http_types.hpp"
#include "web/chat_relay.hpp"
#include "web/client_buckets.hpp"

namespace mh::web {

inline constexpr std::string_view kDefaultRoom = "lobby";

struct ChatRequest;  // a frame's request, checked (chat_hub.cpp)

struct ChatLimits {
  std::size_t max_frame_bytes = 64 * 1024;  // one WebSocket message; longer: close 1009
  std::size_t max_text_bytes = 4096;        // the "text" of a message (UTF-8 bytes)
  std::size_t max_room_members = 100;       // connections in one room
  // The rate limits are per client (its UUID), across all its connections and reconnections.
  double messages_per_second = 10;         // token bucket...
  double burst = 20;                       // ...of this size; frames over it are dropped
  double max_drops = 20;                   // dropped frames allowed (one more each second); then close 1008
  double upgrades_per_second = 2;          // chat connections opened, token bucket...
  double upgrade_burst = 10;               // ...of this size; upgrades over it are refused 429
  std::size_t max_queued_bytes = 1 << 20;  // per recipient, not yet written; beyond: close 1008
};

// The refusal of an upgrade over the client's upgrade limit: Errc::rate_limited (429) with the
// whole seconds until the client's next upgrade would be allowed, for Retry-After.
class ChatRateLimited final : public Error {
 public:
  ChatRateLimited(const std::string& reason, std::int64_t retry_after)
      : Error(Errc::rate_limited, reason), retry_after_(retry_after) {}
  std::int64_t retry_after() const noexcept { return retry_after_; }

 private:
  std::int64_t retry_after_;
};

enum class ChatLogLevel { info, warn };
using ChatLogger = std::function<void(ChatLogLevel, const std::string&)>;

class ChatHub {
 public:
  // `ticks`: seconds on a monotonic clock, for the rate limits (default: std::chrono::steady_clock).
  ChatHub(auth::ClientRegistry& registry, const Clock& clock, ChatLimits limits = {}, ChatLogger log = {},
          std::function<double()> ticks = {});
  ~ChatHub();
  ChatHub(const ChatHub&) = delete;
  ChatHub& operator=(const ChatHub&) = delete;

  // Shares the chat with the other instances through `relay` from now on (before any connection;
  // the relay outlives the hub, which stops it). Without a relay the chat is this process's own.
  void relay_through(ChatRelay& relay);

  // Room names are like user names: 1-32 of A-Z a-z 0-9 . _ -, not starting with . or -.
  static bool valid_room(std::string_view room) noexcept;

  // The upgrade answer for a verified GET /chat: a handler that joins `room` once the WebSocket
  // is open. In this order: Errc::bad_request for a bad room name; ChatRateLimited when the
  // client opened more than upgrade_burst chat connections recently (upgrades_per_second refill
  // its allowance; closing connections does not); Errc::unavailable when the room is full.
  // `binding` is the upgrade request's B: frame n of the connection opens under
  // K("chat to server", B, n, 0) and frame n to it is sealed under K("chat to client", B, n, 0)
  // (docs/PROTOCOL.md §9), so a replayed, dropped or reordered frame fails either way.
  net::Upgrade upgrade(std::shared_ptr<const auth::ClientRecord> client, std::string room, const Binding& binding);

  // upgrade() in two steps, for a chat opened with a ticket (web/chat_tickets.hpp): the checks
  // (the same refusals, and one upgrade of the client's allowance spent) when the ticket is asked
  // for; the handler when it is spent (a room that filled up meanwhile closes with 1013).
  void check_upgrade(const auth::ClientRecord& client, const std::string& room);
  net::Upgrade accept(std::shared_ptr<const auth::ClientRecord> client, std::string room, const Binding& binding);

  // The same handler without the upgrade (tests drive it with their own peers).
  std::unique_ptr<net::WebSocketHandler> connect(std::shared_ptr<const auth::ClientRecord> client, std::string room,
                                                 const Binding& binding);

  // The operator's /kick: ends the client's session in the registry (so it has to handshake again
  // before it can come back) and closes every chat connection it has with 1008 and the reason
  // "kicked: <reason>" (`reason` as it is if it starts with "kicked"; "kicked by the operator" if empty).
  // Returns the number of connections closed.
  std::size_t kick(const Uuid& uuid, const std::string& reason);

  // Closes (1008) the connections whose session has ended: expired, logged out, kicked elsewhere,
  // or replaced by a new handshake. Returns how many. For a periodic timer; it also forgets the
  // rate-limit buckets that are full again or whose client left the registry.
  std::size_t sweep(std::int64_t now);

  // Open chat sockets per client, keyed by UUID text (for the operator's /list).
  std::map<std::string, std::size_t> connections() const;

  struct Stats {
    std::size_t connections = 0;  // joined, not yet closed
    std::size_t rooms = 0;
    std::uint64_t relayed = 0;           // messages accepted (say + msg)
    std::uint64_t deliveries = 0;        // frames sent to recipients (all types)
    std::uint64_t dropped = 0;           // frames over the rate limit
    std::uint64_t refused = 0;           // connections closed because a frame did not verify
    std::uint64_t upgrades_refused = 0;  // upgrades over the per-client upgrade limit
    std::size_t buckets = 0;             // per-client rate-limit buckets held (messages, drops, upgrades)
  };
  Stats stats() const;
  const ChatLimits& limits() const noexcept { return limits_; }

 private:
  struct Member;
  class Handler;
  friend class Handler;

  // Handler callbacks.
  void open(const std::shared_ptr<Member>& m, std::shared_ptr<net::WebSocketPeer> peer);
  void frame(const std::shared_ptr<Member>& m, std::string_view text);
  void close(const std::shared_ptr<Member>& m);

  // With a relay, outside mutex_.
  void open_seated(const std::shared_ptr<Member>& m, std::int64_t now);
  void close_seated(const std::shared_ptr<Member>& m, std::int64_t now);
  void frame_relayed(Member& m, const std::string& plaintext, std::int64_t now);
  void relay_request(Member& m, const ChatRequest& r, std::int64_t now);
  void relayed(const std::string& event);  // an event read from the log
  void lost();                             // events were lost: every connection closes
  void keep_seats();
  ChatSeat seat_of(const Member& m, const std::string& room) const;

  // The rest runs under mutex_.
  void dispatch(Member& m, const std::string& plaintext, std::int64_t now);
  void run(Member& m, const ChatRequest& r, std::int64_t now);
  bool allow(Member& m, std::int64_t now, bool token);
  void refuse_upgrade(double wait);
  void enter(const std::shared_ptr<Member>& m, const std::string& room, std::int64_t now);
  void welcome(Member& m, const std::string& room, const std::vector<std::string>& members, std::int64_t now);
  void leave(Member& m, std::int64_t now);
  void deliver(Member& to, const std::string& json, std::int64_t now);
  void error(Member& to, const std::string& reason, std::int64_t now);
  void shut(Member& m, int code, const std::string& reason);
  std::vector<std::string> names_in(const std::string& room) const;
  void log(ChatLogLevel level, const std::string& line) const;
  std::function<bool(const Uuid&)> registered() const;

  auth::ClientRegistry& registry_;
  const Clock& clock_;
  ChatRelay* relay_ = nullptr;
  double kept_at_ = 0;  // ticks_() of the last keep_seats()
  ChatLimits limits_;
  ChatLogger log_;
  std::function<double()> ticks_;

  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<Member>> members_;  // joined connections
  std::map<std::string, std::vector<std::shared_ptr<Member>>> rooms_;   // in order of joining
  // Per client, kept across connections (see client_buckets.hpp).
  ClientBuckets messages_;  // frames relayed
  ClientBuckets drops_;     // frames dropped before the close
  ClientBuckets upgrades_;  // chat connections opened
  Stats stats_;
};

}  // namespace mh::web
