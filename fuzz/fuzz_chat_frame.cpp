// Chat frames (web/chat_hub.hpp, docs/PROTOCOL.md §9, docs/PROTOCOL.md §9.2): what ChatHub does
// with the frames one client sends, below the WebSocket layer (the handler's on_message, as the
// session calls it; the hub's frame check and JSON dispatch are private, so this is their entry
// point). Three clients with fixed session secrets are joined through ChatHub::connect with
// recording peers and fixed upgrade bindings: alice (the sender) and bob in "lobby", carol in "den".
// Time is fixed and the rate-limit clock moves one second per frame, so no frame is dropped for the
// rate.
//
// The first input byte picks the mode (byte % 3; the seeds use '0', '1' and '2'); the rest is split
// on '\n' into at most kMaxFrames frames:
//  0  each line is the frame text itself: a Fernet token (seed_corpus.cpp makes valid ones under
//     alice's keys: secret bytes 0x30..0x4f, binding bytes 0x90..0xaf, time 1700000000) or anything.
//  1  each line is a message: the target puts "seq": n in front (when the line starts with '{') and
//     seals it as alice's next frame n, with an IV from the input's Rng, so the JSON validation is
//     reached with any bytes.
//  2  each line is the plaintext itself, sealed as alice's next frame with nothing added, so the
//     "seq" is the input's.
// In modes 1 and 2 a line "@K rest" seals `rest` under the key of frame K instead (K decimal), so
// dropped, replayed and reordered keys are reachable too.
// Every frame's outcome is compared with the documented checks, in order:
//  * frame n (n = the frames alice had accepted) must open under K("chat to server", B, n, 0)
//    (never checked for age) and hold a JSON object whose "seq" is the unsigned integer n; anything
//    else closes alice with 1008 "frame refused: out of sequence or tampered", and a frame that does
//    is never refused;
//  * the JSON (without "seq"): an object with a string "type" and only that type's fields, a
//    "text" of 1-4096 bytes without control characters, a "to" string, a valid room name. Anything
//    else gets alice exactly one "error" (and the connection stays open); say/msg/join/rooms/who/
//    quit have exactly their documented effect on alice, bob and carol (who gets which message,
//    notice or answer, with which fields), quit closes with 1000 "bye".
//  * Once alice is closed, nothing she sends has any effect.
// Everything the hub sends to a connection opens as its frame m (0, 1, 2, ...) under that
// connection's K("chat to client", B, m, 0), carries "seq": m, is a JSON object, and carries the
// server time; close reasons fit a WebSocket close frame (123 bytes). Nothing escapes on_message
// (the session would close with 1011).
#include <algorithm>
#include <array>
#include <optional>
#include <tuple>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "auth/registry.hpp"
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
constexpr std::string_view kRefused = "frame refused: out of sequence or tampered";

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

// Bytes first, first + 1, ...: alice's session secret starts at 0x30, bob's at 0x50, carol's at
// 0x70; the upgrade bindings at 0x90, 0xb0, 0xd0 (seed_corpus.cpp uses alice's).
template <std::size_t N>
std::array<std::uint8_t, N> bytes_from(std::uint8_t first) {
  std::array<std::uint8_t, N> b{};
  for (std::size_t i = 0; i < N; ++i) b[i] = static_cast<std::uint8_t>(first + i);
  return b;
}

struct Clients {
  std::unique_ptr<auth::ClientRegistry> registry = auth::make_in_memory_registry(8);
  std::shared_ptr<const auth::ClientRecord> alice, bob, carol;

  Clients() {
    alice = add("alice", 0x30);
    bob = add("bob", 0x50);
    carol = add("carol", 0x70);
  }
  std::shared_ptr<const auth::ClientRecord> add(const std::string& name, std::uint8_t first) {
    const RsaPublicKey key = RsaPrivateKey::generate(2048).public_key();
    return registry->register_session(
        auth::Registration{name, key, key.fingerprint(), std::nullopt, "127.0.0.1", kNow}, [&](const Uuid&) {
          const auto secret = bytes_from<32>(first);
          return auth::SessionGrant{SessionSecret(secret), bytes_from<16>(first), kNow + 1000000, 262144};
        });
  }
};

Clients& clients() {
  static Clients c;
  return c;
}

Binding binding_of(const std::string& name) {
  return bytes_from<32>(name == "alice" ? 0x90 : name == "bob" ? 0xb0 : 0xd0);
}

struct Conn {
  std::shared_ptr<const auth::ClientRecord> client;
  Binding binding{};
  std::shared_ptr<Peer> peer = std::make_shared<Peer>();
  std::unique_ptr<net::WebSocketHandler> handler;
  std::size_t seen = 0;  // frames already checked: the next one is frame `seen`

  // The frames received since the last call, opened and parsed, "seq" checked and taken out.
  std::vector<json> take() {
    std::vector<json> out;
    for (; seen < peer->frames.size(); ++seen) {
      const FernetKey key = client->session_secret.derive(KeyPurpose::chat_to_client, binding, seen, false);
      Bytes plain;
      MH_FUZZ_CHECK(fuzz::accepts([&] { plain = fernet_decrypt(key, peer->frames[seen], kNow); }, {}));
      json j = json::parse(as_chars(plain), nullptr, false);
      MH_FUZZ_CHECK(j.is_object() && j.contains("seq") && j["seq"].is_number_unsigned() && j["seq"] == seen);
      j.erase("seq");
      MH_FUZZ_CHECK(j.contains("type") && j["type"].is_string());
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
    for (const auto& j : got)
      std::fprintf(stderr, "  %s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
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
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
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

  // The number the next frame from alice must carry: the frames she had accepted.
  std::uint64_t next_seq() const { return accepted_; }
  // Frame k of alice's connection: `plaintext` under K("chat to server", B, k, 0).
  std::string seal(std::uint64_t k, std::string_view plaintext, const FernetIv& iv) const {
    const FernetKey key = clients().alice->session_secret.derive(KeyPurpose::chat_to_server, alice_.binding, k, false);
    return fernet_encrypt(key, as_bytes(plaintext), kNow, iv);
  }

 private:
  Conn join(std::shared_ptr<const auth::ClientRecord> c, const std::string& room) {
    Conn conn;
    conn.client = std::move(c);
    conn.binding = binding_of(conn.client->name);
    conn.handler = hub_.connect(conn.client, room, conn.binding);
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

  // The frame checks; true when the frame reaches the JSON (then in plain_, without its "seq").
  bool text_accepted(const std::string& text) {
    const FernetKey key =
        clients().alice->session_secret.derive(KeyPurpose::chat_to_server, alice_.binding, accepted_, false);
    Bytes plain;
    if (fuzz::refuses([&] { plain = fernet_decrypt(key, text, kNow); })) {
      closed(net::close_code::policy_violation, std::string(kRefused));
      return false;
    }
    json j = json::parse(as_chars(plain), nullptr, false);
    if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
        j["seq"].get<std::uint64_t>() != accepted_) {
      closed(net::close_code::policy_violation, std::string(kRefused));
      return false;
    }
    ++accepted_;
    if (alice_.peer->closed && alice_.peer->reason.rfind("frame refused", 0) == 0) {
      std::fprintf(stderr, "\n==FUZZ== frame %llu, which opens and carries its seq, closed the connection: %d \"%s\"\n",
                   static_cast<unsigned long long>(accepted_ - 1), alice_.peer->code, alice_.peer->reason.c_str());
      mh::fuzz::broken("a frame in sequence is taken", __FILE__, __LINE__);
    }
    j.erase("seq");
    plain_ = j;
    return true;
  }

  std::vector<std::string> names(const std::string& room) const {
    const auto it = rooms_.find(room);
    return it == rooms_.end() ? std::vector<std::string>{}
                              : std::vector<std::string>(it->second.begin(), it->second.end());
  }

  Conn* conn_of(const std::string& name) {
    if (name == "bob") return &bob_;
    if (name == "carol") return &carol_;
    return nullptr;
  }

  Want error(const std::string& reason) const { return {{{"type", "error"}, {"reason", reason}, {"time", kNow}}}; }
  // An error quoting `quoted`, cut to at most `max` bytes.
  Want error_cut(const std::string& before, const std::string& quoted, std::size_t max,
                 const std::string& after) const {
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
    const json& j = plain_;
    if (!j.contains("type") || !j["type"].is_string())
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
                  {"text", j["text"]}, {"time", kNow},  {"private", !say}};
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
        got[conn_of(n)].push_back({{{"type", "notice"},
                                    {"event", "leave"},
                                    {"room", old},
                                    {"name", "alice"},
                                    {"text", "alice left " + old},
                                    {"time", kNow}}});
      if (rooms_[old].empty()) rooms_.erase(old);
      for (const auto& n : names(room))
        got[conn_of(n)].push_back({{{"type", "notice"},
                                    {"event", "join"},
                                    {"room", room},
                                    {"name", "alice"},
                                    {"text", "alice joined " + room},
                                    {"time", kNow}}});
      rooms_[room].insert("alice");
      room_ = room;
      const json limits = {{"messages_per_second", limits_.messages_per_second},
                           {"burst", limits_.burst},
                           {"max_text_bytes", limits_.max_text_bytes},
                           {"max_frame_bytes", limits_.max_frame_bytes}};
      expect(alice_,
             {{{{"type", "notice"},
                {"event", "joined"},
                {"room", room},
                {"limits", limits},
                {"text", "you joined " + room},
                {"time", kNow}}},
              {{{"type", "who"}, {"room", room}, {"members", names(room)}, {"time", kNow}}}},
             "alice");
      for (Conn* c : {&bob_, &carol_}) expect(*c, got[c], c->client->name.c_str());
      MH_FUZZ_CHECK(!alice_.peer->closed);
      return;
    }
    if (type == "rooms" || type == "who" || type == "quit") {
      if (!only(j, {"type"})) return only_alice(error(type + ": unknown field"));
      if (type == "quit") return closed(net::close_code::normal, "bye");
      if (type == "who")
        return only_alice({{{"type", "who"}, {"room", room_}, {"members", names(room_)}, {"time", kNow}}});
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
  std::string room_;                                    // alice's
  std::uint64_t accepted_ = 0;                          // frames alice had accepted
  json plain_;                                          // the current frame's object, without "seq"
};

// "@K rest": K and rest; otherwise nullopt.
std::optional<std::pair<std::uint64_t, std::string_view>> key_prefix(std::string_view line) {
  if (line.empty() || line[0] != '@') return std::nullopt;
  const auto sp = line.find(' ');
  const std::string_view digits = line.substr(1, sp == std::string_view::npos ? std::string_view::npos : sp - 1);
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  std::uint64_t k = 0;
  for (const char c : digits) k = k * 10 + static_cast<std::uint64_t>(c - '0');
  return std::pair{k, sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1)};
}

void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  Rng rng(data, size);
  const int mode = data[0] % 3;
  std::string_view rest = fuzz::text(data + 1, size - 1);
  Chat chat{web::ChatLimits{}};
  for (std::size_t n = 0; n < kMaxFrames && !rest.empty(); ++n) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (mode == 0) {
      chat.frame(std::string(line));
      continue;
    }
    std::uint64_t k = chat.next_seq();
    if (const auto p = key_prefix(line)) std::tie(k, line) = *p;
    std::string plaintext(line);
    if (mode == 1 && !line.empty() && line[0] == '{') {
      const bool empty_object = line.size() > 1 && line[1] == '}';
      plaintext =
          "{\"seq\":" + std::to_string(chat.next_seq()) + (empty_object ? "" : ",") + std::string(line.substr(1));
    }
    FernetIv iv;
    for (auto& b : iv) b = static_cast<std::uint8_t>(rng.next());
    chat.frame(chat.seal(k, plaintext, iv));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
