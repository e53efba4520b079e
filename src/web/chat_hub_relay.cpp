// The chat hub with a relay: the chat several instances share through a store (chat_hub.hpp,
// chat_relay.hpp, docs/ARCHITECTURE.md §7). What a connection asks for is posted to the store's
// log, outside the hub's lock; what is delivered comes from the log, read back on the relay's
// thread, so that every instance sees one order. A member of a room here (rooms_) is a
// connection whose join this instance has read from the log and whose leave it has not.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "web/chat_hub.hpp"
#include "web/chat_hub_parts.hpp"

namespace mh::web {

using nlohmann::json;

namespace {

// A join or leave, as posted to the log (a join gets "members" from the store).
std::string seat_event(const char* type, const ChatSeat& seat, std::int64_t now) {
  return json{{"t", type}, {"seat", seat.id}, {"room", seat.room}, {"name", seat.name}, {"time", now}}.dump();
}

// The names of a log event's "members", if they are a list of strings.
std::vector<std::string> names_of(const json& e) {
  std::vector<std::string> out;
  if (e.contains("members") && e["members"].is_array())
    for (const auto& n : e["members"])
      if (n.is_string()) out.push_back(n.get<std::string>());
  return out;
}

}  // namespace

void ChatHub::relay_through(ChatRelay& relay) {
  relay_ = &relay;
  ChatRelay::Handlers on;
  on.on_event = [this](const std::string& event) { relayed(event); };
  on.on_state = [this](bool reading, const std::string& why) {
    if (reading)
      log(ChatLogLevel::info, "chat: reading the store's chat log" + (why.empty() ? "" : " (" + why + ")"));
    else
      log(ChatLogLevel::warn, "chat: cannot read the store's chat log (" + why +
                                  "); what is said meanwhile is delivered here once it is back");
  };
  on.on_lost = [this] { lost(); };
  relay.start(std::move(on));
}

ChatSeat ChatHub::seat_of(const Member& m, const std::string& room) const {
  return ChatSeat{room, m.client->name, relay_->instance() + "." + std::to_string(m.id)};
}

// Takes the connection's seat, and posts its join. The welcome comes with the join, from the log.
void ChatHub::open_seated(const std::shared_ptr<Member>& m, std::int64_t now) {
  const ChatSeat seat = seat_of(*m, m->room);
  std::string refused;
  try {
    if (relay_->sit(seat, limits_.max_room_members, seat_event("join", seat, now))) {
      std::lock_guard lock(mutex_);
      m->seated = true;
      return;
    }
    refused = "room " + m->room + " is full";
  } catch (const Error& e) { refused = not_done(e); }
  std::lock_guard lock(mutex_);
  error(*m, refused, now);
  shut(*m, net::close_code::try_again_later, refused);
}

// Gives the seat up and posts the leave (close() has taken the connection out of rooms_). If the
// store cannot be told, the seat lapses by itself (ChatRelay::kSeatLifetime).
void ChatHub::close_seated(const std::shared_ptr<Member>& m, std::int64_t now) {
  const ChatSeat seat = seat_of(*m, m->room);
  try {
    relay_->stand(seat, seat_event("leave", seat, now));
  } catch (const Error& e) {
    log(ChatLogLevel::warn, "chat: " + seat.name + " left " + seat.room + " but the store was not told (" + e.what() +
                                "); its seat lapses within " + std::to_string(ChatRelay::kSeatLifetime) + " s");
  }
}

// A verified frame of a live session: the client's message budget is the store's, shared by
// every instance.
void ChatHub::frame_relayed(Member& m, const std::string& plaintext, std::int64_t now) {
  double wait = 0;
  try {
    wait = relay_->take("msg", m.client->uuid.to_string(), limits_.messages_per_second, limits_.burst);
  } catch (const Error& e) {
    std::lock_guard lock(mutex_);
    if (!m.closed) error(m, not_done(e), now);
    return;
  }
  ChatRequest r;
  {
    std::lock_guard lock(mutex_);
    if (m.closed || !allow(m, now, wait <= 0)) return;
    if (const auto bad = parse_request(plaintext, limits_, r); !bad.empty()) return error(m, bad, now);
    if (r.kind == ChatRequest::Kind::quit) return shut(m, net::close_code::normal, "bye");
  }
  relay_request(m, r, now);
}

void ChatHub::relay_request(Member& m, const ChatRequest& r, std::int64_t now) {
  using Kind = ChatRequest::Kind;
  const auto reply = [&](const std::string& json_text) {
    std::lock_guard lock(mutex_);
    deliver(m, json_text, now);
  };
  const auto refuse = [&](const std::string& reason) {
    std::lock_guard lock(mutex_);
    error(m, reason, now);
  };
  const ChatSeat seat = seat_of(m, m.room);
  try {
    switch (r.kind) {
      case Kind::say:
        relay_->post(
            json{{"t", "say"}, {"seat", seat.id}, {"msg", message(m.room, *m.client, r.text, now, nullptr)}}.dump());
        break;
      case Kind::msg:
        if (!relay_->post(json{{"t", "msg"},
                               {"seat", seat.id},
                               {"to", r.to},
                               {"msg", message(m.room, *m.client, r.text, now, &r.to)}}
                              .dump(),
                          r.to, seat.id))
          return refuse("msg: " + utf8_prefix(r.to, 64) + " is not in the chat");
        break;
      case Kind::join: {
        if (r.room == m.room) return refuse("join: you are already in " + r.room);
        const ChatSeat to = seat_of(m, r.room);
        if (!relay_->sit(to, limits_.max_room_members, seat_event("join", to, now), &seat,
                         seat_event("leave", seat, now)))
          return refuse("join: room " + r.room + " is full");
        std::lock_guard lock(mutex_);
        m.room = r.room;  // here it moves when the log says so
        return;
      }
      case Kind::rooms: {
        json list = json::array();
        for (const auto& [name, people] : relay_->rooms()) list.push_back({{"name", name}, {"members", people}});
        return reply(json{{"type", "rooms"}, {"rooms", list}, {"time", now}}.dump());
      }
      case Kind::who:
        return reply(
            json{{"type", "who"}, {"room", m.room}, {"members", relay_->names_in(m.room)}, {"time", now}}.dump());
      case Kind::quit: return;  // frame_relayed closed it
    }
  } catch (const Error& e) { return refuse(not_done(e)); }
  std::lock_guard lock(mutex_);
  ++stats_.relayed;
}

// An event read from the log, in the log's order, on the relay's thread. Anything malformed is
// ignored: only instances of this server post there, and a later one may post what this one does
// not know.
void ChatHub::relayed(const std::string& text) {
  const json e = json::parse(text, nullptr, false);
  if (!e.is_object() || !e.contains("t") || !e["t"].is_string() || !e.contains("seat") || !e["seat"].is_string())
    return;
  const std::string& type = e["t"].get_ref<const std::string&>();
  const std::string& seat = e["seat"].get_ref<const std::string&>();
  const std::int64_t now = clock_.now();

  std::lock_guard lock(mutex_);
  // The connection here that posted it, if any.
  std::shared_ptr<Member> origin;
  const std::string mine = relay_->instance() + ".";
  if (seat.compare(0, mine.size(), mine) == 0) {
    const auto it = members_.find(std::strtoull(seat.c_str() + mine.size(), nullptr, 10));
    if (it != members_.end() && !it->second->closed) origin = it->second;
  }
  const auto room_of = [&](const json& j) {
    return j.contains("room") && j["room"].is_string() ? j["room"].get<std::string>() : "";
  };

  if (type == "say" && e.contains("msg") && e["msg"].is_object()) {
    const auto it = rooms_.find(room_of(e["msg"]));
    if (it == rooms_.end()) return;
    const std::string out = e["msg"].dump();
    for (const auto& to : it->second)
      if (to != origin) deliver(*to, out, now);
  } else if (type == "msg" && e.contains("msg") && e["msg"].is_object() && e.contains("to") && e["to"].is_string()) {
    const std::string out = e["msg"].dump();
    for (const auto& [id, to] : members_)
      if (to != origin && !to->closed && to->client->name == e["to"].get_ref<const std::string&>())
        deliver(*to, out, now);
  } else if (type == "join" || type == "leave") {
    const std::string room = room_of(e);
    const std::string name = e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : "";
    const std::int64_t time = e.contains("time") && e["time"].is_number_integer() ? e["time"].get<std::int64_t>() : now;
    auto& members = rooms_[room];
    if (type == "leave" && origin) std::erase(members, origin);
    const std::string what = type == "join" ? " joined " : " left ";
    const std::string out = notice(name + what + room, time, {{"event", type}, {"room", room}, {"name", name}});
    for (const auto& to : members)
      if (to != origin) deliver(*to, out, now);
    if (type == "join" && origin) {
      members.push_back(origin);
      welcome(*origin, room, names_of(e), now);
      log(ChatLogLevel::info, "chat: " + name + " (" + origin->client->uuid.to_string() + ") joined " + room + " (" +
                                  std::to_string(members.size()) + " in the room here, " +
                                  std::to_string(members_.size()) + " connected here)");
    } else if (type == "leave" && origin) {
      log(ChatLogLevel::info, "chat: " + name + " (" + origin->client->uuid.to_string() + ") left " + room);
    }
    if (members.empty()) rooms_.erase(room);
  }
}

// The log lost events this instance had not read: its readers missed some, and rather than let
// them think they saw everything, their connections close (clients reconnect and rejoin).
void ChatHub::lost() {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, m] : members_)
    if (!m->closed) {
      shut(*m, net::close_code::try_again_later, "chat: messages were lost; reconnect");
      ++n;
    }
  log(ChatLogLevel::warn,
      "chat: the store's chat log lost events not yet read here; closed " + std::to_string(n) + " connection(s)");
}

// The seats of this instance's connections, kept alive in the store (a third of their lifetime).
void ChatHub::keep_seats() {
  const double t = ticks_();
  std::vector<ChatSeat> seats;
  {
    std::lock_guard lock(mutex_);
    if (t - kept_at_ < ChatRelay::kSeatLifetime / 3.0) return;
    kept_at_ = t;
    for (const auto& [id, m] : members_)
      if (m->seated && !m->closed) seats.push_back(seat_of(*m, m->room));
  }
  try {
    if (!seats.empty()) relay_->keep(seats);
  } catch (const Error& e) { log(ChatLogLevel::warn, std::string("chat: seats not kept in the store: ") + e.what()); }
}

}  // namespace mh::web
