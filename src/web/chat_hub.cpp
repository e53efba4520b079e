#include "web/chat_hub.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <set>

#include "core/base64.hpp"
#include "core/fernet.hpp"
#include "core/handshake.hpp"
#include "core/key_schedule.hpp"
#include "web/chat_hub_parts.hpp"

namespace mh::web {

using nlohmann::json;

namespace {

// The JSON object `text` ("{...}") with "seq": n in front: every frame to a client carries its
// number on the connection (the key binds it too).
std::string with_seq(const std::string& text, std::uint64_t n) {
  return "{\"seq\":" + std::to_string(n) + (text.size() > 2 ? "," : "") + text.substr(1);
}

// Every key of the object is one of `allowed` (the protocol refuses unknown fields).
bool only_fields(const json& j, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : j.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) return false;
  return true;
}

// Why the "text" of a message is refused, or empty if it is fine.
std::string bad_text(const json& j, std::size_t max) {
  if (!j.contains("text") || !j["text"].is_string()) return "\"text\" must be a string";
  const auto& s = j["text"].get_ref<const std::string&>();
  if (s.empty()) return "\"text\" is empty";
  if (s.size() > max) return "\"text\" is longer than " + std::to_string(max) + " bytes";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "\"text\" may not contain control characters";
  }
  return {};
}

// A limit as people write it: 10, 0.5, 1e+06.
std::string number(double v) {
  char out[32];
  std::snprintf(out, sizeof out, "%g", v);
  return out;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

class ChatHub::Handler final : public net::WebSocketHandler {
 public:
  Handler(ChatHub& hub, std::shared_ptr<Member> m) : hub_(hub), m_(std::move(m)) {}
  void on_open(std::shared_ptr<net::WebSocketPeer> peer) override { hub_.open(m_, std::move(peer)); }
  void on_message(std::string_view text) override { hub_.frame(m_, text); }
  void on_close() override { hub_.close(m_); }

 private:
  ChatHub& hub_;
  std::shared_ptr<Member> m_;
};

ChatHub::ChatHub(auth::ClientRegistry& registry, const Clock& clock, ChatLimits limits, ChatLogger log,
                 std::function<double()> ticks)
    : registry_(registry),
      clock_(clock),
      limits_(limits),
      log_(std::move(log)),
      ticks_(ticks ? std::move(ticks) : std::function<double()>(steady_seconds)),
      messages_(limits.messages_per_second, limits.burst, registered()),
      drops_(1.0, limits.max_drops, registered()),
      upgrades_(limits.upgrades_per_second, limits.upgrade_burst, registered()) {}

// A bucket may be forgotten once its client has left the registry: the same key registering
// again gets a new UUID, so the old bucket could never be used again.
std::function<bool(const Uuid&)> ChatHub::registered() const {
  return [this](const Uuid& uuid) { return registry_.resolve(uuid.to_string()).has_value(); };
}

ChatHub::~ChatHub() {
  if (relay_) relay_->stop();  // no event arrives any more
}

bool ChatHub::valid_room(std::string_view room) noexcept { return handshake::valid_name(room); }

net::Upgrade ChatHub::upgrade(std::shared_ptr<const auth::ClientRecord> client, std::string room,
                              const Binding& binding) {
  check_upgrade(*client, room);
  return accept(std::move(client), std::move(room), binding);
}

void ChatHub::check_upgrade(const auth::ClientRecord& client, const std::string& room) {
  if (!valid_room(room)) throw Error(Errc::bad_request, "chat: room names are 1-32 characters of A-Z a-z 0-9 . _ -");
  const std::string full = "chat: room " + room + " is full";
  if (relay_) {
    // Its events would be missed while the log cannot be read.
    if (!relay_->reading()) throw Error(Errc::unavailable, "chat: the store cannot be reached; try again later");
    const double wait = relay_->take("up", client.uuid.to_string(), limits_.upgrades_per_second, limits_.upgrade_burst);
    if (wait > 0) {
      std::lock_guard lock(mutex_);
      refuse_upgrade(wait);
    }
    if (relay_->seated(room) >= limits_.max_room_members) throw Error(Errc::unavailable, full);
  } else {
    std::lock_guard lock(mutex_);
    const double t = ticks_();
    if (!upgrades_.take(client.uuid, t)) refuse_upgrade(upgrades_.wait(client.uuid, t));
    const auto it = rooms_.find(room);
    if (it != rooms_.end() && it->second.size() >= limits_.max_room_members) throw Error(Errc::unavailable, full);
  }
}

net::Upgrade ChatHub::accept(std::shared_ptr<const auth::ClientRecord> client, std::string room,
                             const Binding& binding) {
  net::Upgrade u;
  u.handler = connect(std::move(client), std::move(room), binding);
  u.max_message_bytes = limits_.max_frame_bytes;
  u.max_queued_bytes = limits_.max_queued_bytes;
  return u;
}

std::unique_ptr<net::WebSocketHandler> ChatHub::connect(std::shared_ptr<const auth::ClientRecord> client,
                                                        std::string room, const Binding& binding) {
  auto m = std::make_shared<Member>();
  m->client = std::move(client);
  m->room = std::move(room);
  m->binding = binding;
  return std::make_unique<Handler>(*this, std::move(m));
}

// ---- connection events ---------------------------------------------------------------------------

void ChatHub::open(const std::shared_ptr<Member>& m, std::shared_ptr<net::WebSocketPeer> peer) {
  const std::int64_t now = clock_.now();
  if (relay_) {
    {
      std::lock_guard lock(mutex_);
      m->peer = std::move(peer);
      // In members_ before its join is posted: the relay's thread may read the join back first.
      m->id = next_id_++;
      m->joined = true;
      members_[m->id] = m;
    }
    return open_seated(m, now);
  }
  std::lock_guard lock(mutex_);
  m->peer = std::move(peer);
  const auto it = rooms_.find(m->room);
  if (it != rooms_.end() && it->second.size() >= limits_.max_room_members) {  // filled up meanwhile
    error(*m, "room " + m->room + " is full", now);
    shut(*m, net::close_code::try_again_later, "room " + m->room + " is full");
    return;
  }
  m->id = next_id_++;
  m->joined = true;
  members_[m->id] = m;
  const std::string room = m->room;
  enter(m, room, now);
}

void ChatHub::close(const std::shared_ptr<Member>& m) {
  const std::int64_t now = clock_.now();
  bool seated = false;
  {
    std::lock_guard lock(mutex_);
    if (m->joined) {
      m->closed = true;  // no notices to itself
      if (relay_) {
        for (auto& [name, members] : rooms_) std::erase(members, m);  // the others learn it from the log
        std::erase_if(rooms_, [](const auto& room) { return room.second.empty(); });
      } else {
        leave(*m, now);
      }
      members_.erase(m->id);
      m->joined = false;
      // The client's rate-limit buckets stay: a reconnection continues where this one stopped.
    }
    m->closed = true;
    m->peer.reset();  // the peer owns this handler: break the cycle
    seated = std::exchange(m->seated, false);
  }
  if (seated) close_seated(m, now);
}

void ChatHub::frame(const std::shared_ptr<Member>& m, std::string_view text) {
  const std::int64_t now = clock_.now();
  const auth::ClientRecord& c = *m->client;
  {
    std::lock_guard lock(mutex_);
    if (m->closed || !m->joined) return;
  }
  // 1. The token opens as the connection's next frame (MAC in constant time, padding) and says so
  // in its "seq". A replayed, dropped, reordered or foreign frame fails: the connection closes.
  std::string plaintext;
  bool in_sequence = false;
  try {
    const FernetKey key = c.session_secret.derive(KeyPurpose::chat_to_server, m->binding, m->received, false);
    json j = json::parse(as_chars(fernet_decrypt(key, text, 0)), nullptr, false);
    if (j.is_object() && j.contains("seq") && j["seq"].is_number_unsigned() &&
        j["seq"].get<std::uint64_t>() == m->received) {
      j.erase("seq");
      plaintext = j.dump();
      in_sequence = true;
    }
  } catch (const Error&) {}
  if (!in_sequence) {
    std::lock_guard lock(mutex_);
    if (m->closed) return;
    ++stats_.refused;
    log(ChatLogLevel::warn,
        "chat: closing " + c.name + " (" + c.uuid.to_string() + "): frame " + std::to_string(m->received) + " refused");
    shut(*m, net::close_code::policy_violation, "frame refused: out of sequence or tampered");
    return;
  }
  ++m->received;
  // 2. The session it was made under is still the live one.
  std::shared_ptr<const auth::ClientRecord> live;
  try {
    live = registry_.find_client_session(c.uuid, now);
  } catch (const Error& e) {  // the store cannot say: the frame is not taken
    std::lock_guard lock(mutex_);
    if (!m->closed) error(*m, not_done(e), now);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (m->closed) return;
    if (!live || !same_session(*live, c)) {
      shut(*m, net::close_code::policy_violation, "session ended: handshake again");
      return;
    }
    if (!relay_) {
      if (allow(*m, now, messages_.take(c.uuid, ticks_()))) dispatch(*m, plaintext, now);
      return;
    }
  }
  frame_relayed(*m, plaintext, now);
}

// ---- under mutex_ ----------------------------------------------------------------------------------

// The frame rate of the client (all its connections, past and present): within the bucket the
// frame goes on; over it, it is dropped with a notice while the drop allowance lasts, then the
// connection is closed. Both buckets belong to the client, so reconnecting refills neither.
// `token`: whether the client's message bucket had one (taken by the caller, here or in the store).
bool ChatHub::allow(Member& m, std::int64_t now, bool token) {
  if (token) return true;
  const Uuid& uuid = m.client->uuid;
  ++stats_.dropped;
  if (!drops_.take(uuid, ticks_())) {
    log(ChatLogLevel::warn, "chat: closing " + m.client->name + " (" + uuid.to_string() + "): flooding");
    shut(m, net::close_code::policy_violation, "flooding: too many messages");
    return false;
  }
  deliver(m,
          notice("message dropped: more than " + number(limits_.messages_per_second) + " messages per second", now,
                 {{"event", "dropped"}}),
          now);
  return false;
}

// Chat connections opened by the client, over its upgrade bucket (`wait` seconds until a token).
// Each one costs a join and a leave notice to everyone in the room, and a reconnection loop must
// not be a way around the frame limit: refused with 429 and the time until the next one is allowed.
void ChatHub::refuse_upgrade(double wait) {
  ++stats_.upgrades_refused;
  // Whole seconds, at least 1, and finite even for a rate of 0 (a day: "not soon").
  const auto retry = static_cast<std::int64_t>(std::clamp(std::ceil(wait), 1.0, 86400.0));
  throw ChatRateLimited("chat: too many chat connections from this client (at most " +
                            number(limits_.upgrades_per_second) + " a second, " + number(limits_.upgrade_burst) +
                            " at once); try again in " + std::to_string(retry) + " s",
                        retry);
}

std::string parse_request(const std::string& plaintext, const ChatLimits& limits, ChatRequest& r) {
  using Kind = ChatRequest::Kind;
  const json j = json::parse(plaintext, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return "a frame must hold a JSON object with a string \"type\"";
  const std::string& type = j["type"].get_ref<const std::string&>();
  if (type == "say") {
    if (!only_fields(j, {"type", "text"})) return "say: unknown field";
    if (const auto bad = bad_text(j, limits.max_text_bytes); !bad.empty()) return "say: " + bad;
    r.kind = Kind::say;
    r.text = j["text"];
    return {};
  }
  if (type == "msg") {
    if (!only_fields(j, {"type", "to", "text"})) return "msg: unknown field";
    if (!j.contains("to") || !j["to"].is_string()) return "msg: \"to\" must be a string";
    if (const auto bad = bad_text(j, limits.max_text_bytes); !bad.empty()) return "msg: " + bad;
    r.kind = Kind::msg;
    r.to = j["to"].get<std::string>();
    r.text = j["text"];
    return {};
  }
  if (type == "join") {
    if (!only_fields(j, {"type", "room"})) return "join: unknown field";
    if (!j.contains("room") || !j["room"].is_string() || !ChatHub::valid_room(j["room"].get_ref<const std::string&>()))
      return "join: room names are 1-32 characters of A-Z a-z 0-9 . _ -";
    r.kind = Kind::join;
    r.room = j["room"].get<std::string>();
    return {};
  }
  for (const auto& [name, kind] : {std::pair{"rooms", Kind::rooms}, {"who", Kind::who}, {"quit", Kind::quit}})
    if (type == name) {
      if (!only_fields(j, {"type"})) return type + ": unknown field";
      r.kind = kind;
      return {};
    }
  return "unknown message type \"" + utf8_prefix(type, 32) + "\"";
}

void ChatHub::dispatch(Member& m, const std::string& plaintext, std::int64_t now) {
  ChatRequest r;
  if (const auto bad = parse_request(plaintext, limits_, r); !bad.empty()) return error(m, bad, now);
  run(m, r, now);
}

// A request of a hub without a relay: everything happens here, under mutex_.
void ChatHub::run(Member& m, const ChatRequest& r, std::int64_t now) {
  using Kind = ChatRequest::Kind;
  switch (r.kind) {
    case Kind::say: {
      const std::string out = message(m.room, *m.client, r.text, now, nullptr).dump();
      ++stats_.relayed;
      for (const auto& to : rooms_[m.room])
        if (to.get() != &m) deliver(*to, out, now);
      return;
    }
    case Kind::msg: {
      const std::string out = message(m.room, *m.client, r.text, now, &r.to).dump();
      std::size_t n = 0;
      for (const auto& [id, to] : members_)
        if (to.get() != &m && !to->closed && to->client->name == r.to) {
          deliver(*to, out, now);
          ++n;
        }
      if (n == 0) return error(m, "msg: " + utf8_prefix(r.to, 64) + " is not in the chat", now);
      ++stats_.relayed;
      return;
    }
    case Kind::join: {
      if (r.room == m.room) return error(m, "join: you are already in " + r.room, now);
      const auto it = rooms_.find(r.room);
      if (it != rooms_.end() && it->second.size() >= limits_.max_room_members)
        return error(m, "join: room " + r.room + " is full", now);
      leave(m, now);
      enter(members_.at(m.id), r.room, now);
      return;
    }
    case Kind::rooms: {
      json list = json::array();
      for (const auto& [name, members] : rooms_) list.push_back({{"name", name}, {"members", names_in(name).size()}});
      return deliver(m, json{{"type", "rooms"}, {"rooms", list}, {"time", now}}.dump(), now);
    }
    case Kind::who:
      return deliver(m, json{{"type", "who"}, {"room", m.room}, {"members", names_in(m.room)}, {"time", now}}.dump(),
                     now);
    case Kind::quit: return shut(m, net::close_code::normal, "bye");
  }
}

void ChatHub::enter(const std::shared_ptr<Member>& m, const std::string& room, std::int64_t now) {
  auto& members = rooms_[room];
  const std::string joined =
      notice(m->client->name + " joined " + room, now, {{"event", "join"}, {"room", room}, {"name", m->client->name}});
  for (const auto& r : members) deliver(*r, joined, now);
  members.push_back(m);
  m->room = room;
  welcome(*m, room, names_in(room), now);
  log(ChatLogLevel::info, "chat: " + m->client->name + " (" + m->client->uuid.to_string() + ") joined " + room + " (" +
                              std::to_string(members.size()) + " in the room, " + std::to_string(members_.size()) +
                              " connected)");
}

// The joiner learns the room, who is in it and the limits (clients pace themselves by them).
void ChatHub::welcome(Member& m, const std::string& room, const std::vector<std::string>& members, std::int64_t now) {
  deliver(m,
          notice("you joined " + room, now,
                 {{"event", "joined"},
                  {"room", room},
                  {"limits",
                   {{"messages_per_second", limits_.messages_per_second},
                    {"burst", limits_.burst},
                    {"max_text_bytes", limits_.max_text_bytes},
                    {"max_frame_bytes", limits_.max_frame_bytes}}}}),
          now);
  deliver(m, json{{"type", "who"}, {"room", room}, {"members", members}, {"time", now}}.dump(), now);
}

void ChatHub::leave(Member& m, std::int64_t now) {
  const auto it = rooms_.find(m.room);
  if (it == rooms_.end()) return;
  auto& members = it->second;
  members.erase(std::remove_if(members.begin(), members.end(), [&](const auto& r) { return r.get() == &m; }),
                members.end());
  const std::string left =
      notice(m.client->name + " left " + m.room, now, {{"event", "leave"}, {"room", m.room}, {"name", m.client->name}});
  for (const auto& r : members) deliver(*r, left, now);
  log(ChatLogLevel::info, "chat: " + m.client->name + " (" + m.client->uuid.to_string() + ") left " + m.room);
  if (members.empty()) rooms_.erase(it);
}

void ChatHub::deliver(Member& to, const std::string& json_text, std::int64_t now) {
  if (to.closed || !to.peer) return;
  const std::uint64_t n = to.sent++;
  const FernetKey key = to.client->session_secret.derive(KeyPurpose::chat_to_client, to.binding, n, false);
  to.peer->send(fernet_encrypt(key, as_bytes(with_seq(json_text, n)), now));
  ++stats_.deliveries;
}

void ChatHub::error(Member& to, const std::string& reason, std::int64_t now) {
  deliver(to, json{{"type", "error"}, {"reason", reason}, {"time", now}}.dump(), now);
}

void ChatHub::shut(Member& m, int code, const std::string& reason) {
  if (m.closed) return;
  m.closed = true;
  if (m.peer) m.peer->close(code, reason);
}

std::vector<std::string> ChatHub::names_in(const std::string& room) const {
  std::vector<std::string> names;
  if (const auto it = rooms_.find(room); it != rooms_.end())
    for (const auto& r : it->second)
      if (!r->closed) names.push_back(r->client->name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

void ChatHub::log(ChatLogLevel level, const std::string& line) const {
  if (log_) log_(level, line);
}

// ---- operator and housekeeping ---------------------------------------------------------------------

std::size_t ChatHub::kick(const Uuid& uuid, const std::string& reason) {
  // The session ends first, so nothing the client sends from now on is accepted.
  const bool ended = registry_.end_session(uuid);
  const std::string why = reason.empty()                   ? std::string("kicked by the operator")
                          : reason.rfind("kicked", 0) == 0 ? reason
                                                           : "kicked: " + reason;
  std::size_t n = 0;
  std::lock_guard lock(mutex_);
  for (const auto& [id, m] : members_)
    if (m->client->uuid == uuid && !m->closed) {
      shut(*m, net::close_code::policy_violation, why);
      ++n;
    }
  log(ChatLogLevel::warn, "chat: kicked " + uuid.to_string() + ": " + std::to_string(n) + " connection(s) closed" +
                              (ended ? ", session ended" : ""));
  return n;
}

std::size_t ChatHub::sweep(std::int64_t now) {
  // The registry is asked outside the lock, once per client: with a shared store each question
  // may be a round trip to Redis, and the sweep then runs every second (main.cpp).
  std::vector<std::shared_ptr<Member>> open;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, m] : members_)
      if (!m->closed) open.push_back(m);
  }
  // A client the store could not be asked about is left alone this time (its frames fail meanwhile).
  std::map<Uuid, std::shared_ptr<const auth::ClientRecord>> live;
  std::set<Uuid> unknown;
  for (const auto& m : open) {
    const Uuid& uuid = m->client->uuid;
    if (live.count(uuid) || unknown.count(uuid)) continue;
    try {
      live[uuid] = registry_.find_client_session(uuid, now);
    } catch (const Error&) { unknown.insert(uuid); }
  }
  std::size_t n = 0;
  std::unique_lock lock(mutex_);
  for (const auto& m : open) {
    const auto it = live.find(m->client->uuid);
    if (m->closed || it == live.end()) continue;
    if (!it->second || !same_session(*it->second, *m->client)) {
      shut(*m, net::close_code::policy_violation, "session ended: handshake again");
      ++n;
    }
  }
  if (n) log(ChatLogLevel::info, "chat: closed " + std::to_string(n) + " connection(s) whose session ended");
  const double t = ticks_();
  for (ClientBuckets* b : {&messages_, &drops_, &upgrades_}) b->prune(t);
  if (relay_) {
    lock.unlock();
    keep_seats();
  }
  return n;
}

std::map<std::string, std::size_t> ChatHub::connections() const {
  std::map<std::string, std::size_t> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, m] : members_)
    if (!m->closed) ++out[m->client->uuid.to_string()];
  return out;
}

ChatHub::Stats ChatHub::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.connections = 0;
  for (const auto& [id, m] : members_)
    if (!m->closed) ++s.connections;
  s.rooms = rooms_.size();
  s.buckets = messages_.size() + drops_.size() + upgrades_.size();
  return s;
}

}  // namespace mh::web
