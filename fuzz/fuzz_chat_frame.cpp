// Chat frames (web/chat_hub.hpp, docs/PROTOCOL.md §9.2): what ChatHub does with the frames one
// client sends, below the WebSocket layer (the handler's on_message, as the session calls it;
// the hub's token check and JSON dispatch are private, so this is their entry point). Three
// clients with fixed session keys are joined through ChatHub::connect with recording peers: alice
// (the sender) and bob in "lobby", carol in "den". Time is fixed and the rate-limit clock moves
// one second per frame, so no frame is dropped for the rate.
//
// The first input byte picks the mode (byte % 2; the seeds use '0' and '1'); the rest is split on
// '\n' into at most kMaxFrames frames:
//  0  each line is the frame text itself: a Fernet token under alice's key (seed_corpus.cpp makes
//     valid ones: key bytes 0x30..0x4f, time 1700000000) or anything else.
//  1  each line is the plaintext: it is sent as a Fernet token under alice's key, stamped now,
//     with an IV from the input's Rng, so the JSON validation is reached with any bytes.
// Every frame's outcome is compared with the documented checks, in order:
//  * a token fernet_decrypt(alice's key, TTL 60) refuses closes alice with 1008 and
//    "frame refused: <reason>"; one it accepts is never refused;
//  * a token whose MAC was accepted before closes with 1008 "frame refused: replayed";
//  * the JSON: an object with a string "type" and only that type's fields, a "text" of 1-4096
//    bytes without control characters, a "to" string, a valid room name. Anything else gets alice
//    exactly one "error" (and the connection stays open); say/msg/join/rooms/who/quit have exactly
//    their documented effect on alice, bob and carol (who gets which message, notice or answer,
//    with which fields), quit closes with 1000 "bye".
//  * Once alice is closed, nothing she sends has any effect.
// Everything the hub sends decrypts under the recipient's own key, is a JSON object, and carries
// the server time; close reasons fit a WebSocket close frame (123 bytes). Nothing escapes
// on_message (the session would close with 1011).
#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "auth/registry.hpp"
#include "core/base64.hpp"
#include "core/fernet.hpp"
#include "core/rsa.hpp"
#include "fuzz_common.hpp"
#include "net/http_types.hpp"
#include "web/chat_hub.hpp"

namespace {

using namespace mh;
using mh::fuzz::Rng;
using nlohmann::json;

constexpr std::int64_t kNow = 1700000000;
constexpr std::size_t kMaxFrames = 32;

class Peer final : public net::WebSocketPeer {
 public:
  void send(std::string text) override {
    if (!closed) frames.push_back(std::move(text));
  }
  void close(int c, std::string r) override {
    if (closed) return;
    closed = true;
    code = c;
    reason = std::move(r);
  }
  std::vector<std::string> frames;
  bool closed = false;
  int code = 0;
  std::string reason;
};

// Session key bytes: alice 0x30.., bob 0x50.., carol 0x70.. (seed_corpus.cpp uses alice's).
FernetKey key_from(std::uint8_t first) {
  Bytes b(32);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(first + i);
  return FernetKey::from_bytes(b);
}

struct Clients {
  std::unique_ptr<auth::ClientRegistry> registry = auth::make_in_memory_registry(8);
  std::shared_ptr<const auth::ClientRecord> alice, bob, carol;

  Clients() {
    alice = add("alice", key_from(0x30));
    bob = add("bob", key_from(0x50));
    carol = add("carol", key_from(0x70));
  }
  std::shared_ptr<const auth::ClientRecord> add(const std::string& name, const FernetKey& session) {
    const RsaPublicKey key = RsaPrivateKey::generate(2048).public_key();
    return registry->register_session(
        auth::Registration{name, key, key.fingerprint(), std::nullopt, "127.0.0.1", kNow},
        [&](const Uuid&) { return auth::SessionGrant{session, kNow + 1000000}; });
  }
};

Clients& clients() {
  static Clients c;
  return c;
}

struct Conn {
  std::shared_ptr<const auth::ClientRecord> client;
  std::shared_ptr<Peer> peer = std::make_shared<Peer>();
  std::unique_ptr<net::WebSocketHandler> handler;
  std::size_t seen = 0;  // frames already checked

  // The frames received since the last call, decrypted and parsed.
  std::vector<json> take() {
    std::vector<json> out;
    for (; seen < peer->frames.size(); ++seen) {
      Bytes plain;
      MH_FUZZ_CHECK(fuzz::accepts([&] { plain = fernet_decrypt(client->session_key, peer->frames[seen], kNow, 60); },
                                  {}));
      const json j = json::parse(as_chars(plain), nullptr, false);
      MH_FUZZ_CHECK(j.is_object() && j.contains("type") && j["type"].is_string());
      MH_FUZZ_CHECK(j.contains("time") && j["time"] == kNow);
      out.push_back(j);
    }
    return out;
  }
};

// An expected message. When `cut` is set, the "reason" must be before + a prefix of *cut of at
// least min(size, max_cut - 3) and at most max_cut bytes + after (the hub shortens names it
// quotes; how it cuts inside a UTF-8 character is its choice).
struct Want {
  Want(json v) : j(std::move(v)) {}  // NOLINT(google-explicit-constructor): lists of these read as JSON
  json j;
  std::optional<std::string> cut;
  std::size_t max_cut = 0;
  std::string before, after;
};

bool matches(const json& got, const Want& w) {
  if (!w.cut) return got == w.j;
  json a = got, b = w.j;
  if (!a.contains("reason") || !a["reason"].is_string()) return false;
  const std::string r = a["reason"].get<std::string>();
  a.erase("reason");
  b.erase("reason");
  if (a != b || r.size() < w.before.size() + w.after.size() || r.compare(0, w.before.size(), w.before) != 0 ||
      r.compare(r.size() - w.after.size(), w.after.size(), w.after) != 0)
    return false;
  const std::string mid = r.substr(w.before.size(), r.size() - w.before.size() - w.after.size());
  const std::size_t least = std::min(w.cut->size(), w.max_cut > 3 ? w.max_cut - 3 : 0);
  return mid.size() <= w.max_cut && mid.size() >= least && w.cut->compare(0, mid.size(), mid) == 0;
}

void expect(Conn& c, const std::vector<Want>& want, const char* who) {
  const std::vector<json> got = c.take();
  bool ok = got.size() == want.size();
  for (std::size_t i = 0; ok && i < got.size(); ++i) ok = matches(got[i], want[i]);
  if (!ok) {
    std::fprintf(stderr, "\n==FUZZ== %s received:\n", who);
    for (const auto& j : got) std::fprintf(stderr, "  %s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    std::fprintf(stderr, "==FUZZ== expected:\n");
    for (const auto& w : want)
      std::fprintf(stderr, "  %s%s\n", w.j.dump(-1, ' ', false, json::error_handler_t::replace).c_str(),
                   w.cut ? " (reason cut)" : "");
    mh::fuzz::broken("each client receives exactly the documented messages", __FILE__, __LINE__);
  }
}

bool valid_room(std::string_view r) {
  if (r.empty() || r.size() > 32 || r[0] == '.' || r[0] == '-') return false;
  return std::all_of(r.begin(), r.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-';
  });
}

// Why the "text" field is refused (PROTOCOL.md §9.2), or empty.
std::string text_refusal(const json& j) {
  if (!j.contains("text") || !j["text"].is_string()) return "\"text\" must be a string";
  const std::string& t = j["text"].get_ref<const std::string&>();
  if (t.empty()) return "\"text\" is empty";
  if (t.size() > 4096) return "\"text\" is longer than 4096 bytes";
  for (const char ch : t)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return "\"text\" may not contain control characters";
  return {};
}

bool only(const json& j, std::set<std::string> allowed) {
  for (const auto& [k, v] : j.items())
    if (!allowed.count(k)) return false;
  return true;
}

class Chat {
 public:
  explicit Chat(const web::ChatLimits& limits)
      : limits_(limits), hub_(*clients().registry, clock_, limits, {}, [this] { return ticks_; }) {
    bob_ = join(clients().bob, "lobby");
    carol_ = join(clients().carol, "den");
    alice_ = join(clients().alice, "lobby");
    bob_.take();  // the join notices
    carol_.take();
    alice_.take();
  }
  ~Chat() {
    for (Conn* c : {&alice_, &bob_, &carol_}) c->handler->on_close();
  }

  // Sends one frame from alice and checks everything it caused.
  void frame(const std::string& text) {
    ticks_ += 1.0;
    const bool was_closed = alice_.peer->closed;
    alice_.handler->on_message(text);
    if (was_closed) return nothing();
    if (text_accepted(text)) dispatch_json();
    if (alice_.peer->closed) MH_FUZZ_CHECK(alice_.peer->reason.size() <= 123);
  }

 private:
  Conn join(std::shared_ptr<const auth::ClientRecord> c, const std::string& room) {
    Conn conn;
    conn.client = std::move(c);
    conn.handler = hub_.connect(conn.client, room);
    conn.handler->on_open(conn.peer);
    rooms_[room].insert(conn.client->name);
    if (conn.client->name == "alice") room_ = room;
    return conn;
  }

  void nothing() {
    expect(alice_, {}, "alice");
    expect(bob_, {}, "bob");
    expect(carol_, {}, "carol");
  }

  void closed(int code, const std::string& reason) {
    nothing();
    if (!alice_.peer->closed || alice_.peer->code != code || alice_.peer->reason != reason) {
      std::fprintf(stderr, "\n==FUZZ== alice: expected close %d \"%s\", got %s %d \"%s\"\n", code, reason.c_str(),
                   alice_.peer->closed ? "close" : "no close", alice_.peer->code, alice_.peer->reason.c_str());
      mh::fuzz::broken("the frame closes the connection as documented", __FILE__, __LINE__);
    }
  }

  // The token checks; true when the frame reaches the JSON.
  bool text_accepted(const std::string& text) {
    Bytes plain;
    try {
      plain = fernet_decrypt(clients().alice->session_key, text, kNow, 60);
    } catch (const FernetError& e) {
      closed(net::close_code::policy_violation, std::string("frame refused: ") + e.what());
      return false;
    }
    plain_ = std::string(as_chars(plain));
    Bytes raw;
    if (!fuzz::accepts([&] { raw = base64_decode(text, Alphabet::url, Padding::required); }, {Errc::bad_request}))
      mh::fuzz::broken("a token fernet_decrypt accepts is canonical base64url", __FILE__, __LINE__);
    MH_FUZZ_CHECK(raw.size() >= 32);
    const Bytes mac(raw.end() - 32, raw.end());
    if (!macs_.insert(mac).second) {
      closed(net::close_code::policy_violation, "frame refused: replayed");
      return false;
    }
    if (alice_.peer->closed && alice_.peer->reason.rfind("frame refused", 0) == 0) {
      std::fprintf(stderr, "\n==FUZZ== a valid, fresh token closed the connection: %d \"%s\"\n", alice_.peer->code,
                   alice_.peer->reason.c_str());
      mh::fuzz::broken("a token that verifies is taken", __FILE__, __LINE__);
    }
    return true;
  }

  std::vector<std::string> names(const std::string& room) const {
    const auto it = rooms_.find(room);
    return it == rooms_.end() ? std::vector<std::string>{} : std::vector<std::string>(it->second.begin(), it->second.end());
  }

  Conn* conn_of(const std::string& name) {
    if (name == "bob") return &bob_;
    if (name == "carol") return &carol_;
    return nullptr;
  }

  Want error(const std::string& reason) const { return {{{"type", "error"}, {"reason", reason}, {"time", kNow}}}; }
  // An error quoting `quoted`, cut to at most `max` bytes.
  Want error_cut(const std::string& before, const std::string& quoted, std::size_t max, const std::string& after) const {
    Want w = error(before + after);
    w.cut = quoted;
    w.max_cut = max;
    w.before = before;
    w.after = after;
    return w;
  }

  void only_alice(const Want& w) {
    expect(alice_, {w}, "alice");
    expect(bob_, {}, "bob");
    expect(carol_, {}, "carol");
    MH_FUZZ_CHECK(!alice_.peer->closed);
  }

  void dispatch_json() {
    const json j = json::parse(plain_, nullptr, false);
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
      return only_alice(error("a frame must hold a JSON object with a string \"type\""));
    const std::string type = j["type"].get<std::string>();
    const std::string uuid = clients().alice->uuid.to_string();

    if (type == "say" || type == "msg") {
      const bool say = type == "say";
      if (!only(j, say ? std::set<std::string>{"type", "text"} : std::set<std::string>{"type", "to", "text"}))
        return only_alice(error(type + ": unknown field"));
      if (!say && (!j.contains("to") || !j["to"].is_string())) return only_alice(error("msg: \"to\" must be a string"));
      if (const std::string bad = text_refusal(j); !bad.empty()) return only_alice(error(type + ": " + bad));
      json out = {{"type", "message"}, {"room", room_}, {"from", "alice"}, {"uuid", uuid},
                  {"text", j["text"]}, {"time", kNow}, {"private", !say}};
      std::vector<Conn*> to;
      if (say) {
        for (const auto& n : names(room_))
          if (conn_of(n)) to.push_back(conn_of(n));
      } else {
        out["to"] = j["to"];
        if (Conn* c = conn_of(j["to"].get<std::string>())) to.push_back(c);
        if (to.empty()) return only_alice(error_cut("msg: ", j["to"].get<std::string>(), 64, " is not in the chat"));
      }
      expect(alice_, {}, "alice");
      for (Conn* c : {&bob_, &carol_})
        expect(*c, std::find(to.begin(), to.end(), c) != to.end() ? std::vector<Want>{{out}} : std::vector<Want>{},
               c->client->name.c_str());
      MH_FUZZ_CHECK(!alice_.peer->closed);
      return;
    }
    if (type == "join") {
      if (!only(j, {"type", "room"})) return only_alice(error("join: unknown field"));
      if (!j.contains("room") || !j["room"].is_string() || !valid_room(j["room"].get<std::string>()))
        return only_alice(error("join: room names are 1-32 characters of A-Z a-z 0-9 . _ -"));
      const std::string room = j["room"].get<std::string>();
      if (room == room_) return only_alice(error("join: you are already in " + room));
      std::map<Conn*, std::vector<Want>> got;
      const std::string old = room_;
      rooms_[old].erase("alice");
      for (const auto& n : names(old))
        got[conn_of(n)].push_back({{{"type", "notice"}, {"event", "leave"}, {"room", old}, {"name", "alice"},
                                    {"text", "alice left " + old}, {"time", kNow}}});
      if (rooms_[old].empty()) rooms_.erase(old);
      for (const auto& n : names(room))
        got[conn_of(n)].push_back({{{"type", "notice"}, {"event", "join"}, {"room", room}, {"name", "alice"},
                                    {"text", "alice joined " + room}, {"time", kNow}}});
      rooms_[room].insert("alice");
      room_ = room;
      const json limits = {{"messages_per_second", limits_.messages_per_second},
                           {"burst", limits_.burst},
                           {"max_text_bytes", limits_.max_text_bytes},
                           {"max_frame_bytes", limits_.max_frame_bytes}};
      expect(alice_,
             {{{{"type", "notice"}, {"event", "joined"}, {"room", room}, {"limits", limits},
                {"text", "you joined " + room}, {"time", kNow}}},
              {{{"type", "who"}, {"room", room}, {"members", names(room)}, {"time", kNow}}}},
             "alice");
      for (Conn* c : {&bob_, &carol_}) expect(*c, got[c], c->client->name.c_str());
      MH_FUZZ_CHECK(!alice_.peer->closed);
      return;
    }
    if (type == "rooms" || type == "who" || type == "quit") {
      if (!only(j, {"type"})) return only_alice(error(type + ": unknown field"));
      if (type == "quit") return closed(net::close_code::normal, "bye");
      if (type == "who") return only_alice({{{"type", "who"}, {"room", room_}, {"members", names(room_)}, {"time", kNow}}});
      json list = json::array();
      for (const auto& [name, members] : rooms_) list.push_back({{"name", name}, {"members", members.size()}});
      return only_alice({{{"type", "rooms"}, {"rooms", list}, {"time", kNow}}});
    }
    only_alice(error_cut("unknown message type \"", type, 32, "\""));
  }

  web::ChatLimits limits_;
  FixedClock clock_{kNow};
  double ticks_ = 100.0;
  web::ChatHub hub_;
  Conn alice_, bob_, carol_;
  std::map<std::string, std::set<std::string>> rooms_;  // room -> names in it
  std::string room_;                                   // alice's
  std::set<Bytes> macs_;                               // of the tokens accepted
  std::string plain_;                                  // of the current frame
};

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  Rng rng(data, size);
  const bool plaintext = data[0] % 2 == 1;
  std::string_view rest = fuzz::text(data + 1, size - 1);
  web::ChatLimits limits;
  limits.replay_capacity = 4096;
  Chat chat(limits);
  for (std::size_t n = 0; n < kMaxFrames && !rest.empty(); ++n) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!plaintext) {
      chat.frame(std::string(line));
      continue;
    }
    FernetIv iv;
    for (auto& b : iv) b = static_cast<std::uint8_t>(rng.next());
    chat.frame(fernet_encrypt(clients().alice->session_key, as_bytes(line), kNow, iv));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
