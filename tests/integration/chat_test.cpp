// The chat relay end to end (issue 6): three real `minihttps chat` clients against the real
// minihttpsd, driven through their stdin like users at a terminal, and hand-made WebSocket
// clients (signed with a real client's identity) for the attacks: unsigned or badly signed
// upgrades, forged, tampered and replayed frames, an oversize frame, a flood. The kick test runs
// the server's parts in-process so it can call ChatHub::kick the way the operator console does.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>
#include <thread>

#include "auth/auth_service.hpp"
#include "auth/registry.hpp"
#include "core/fernet.hpp"
#include "io/server_identity.hpp"
#include "io/system_clock.hpp"
#include "net/http_server.hpp"
#include "net/websocket_client.hpp"
#include "support/interactive_process.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "web/chat_hub.hpp"
#include "web/request_verifier.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kWait = 15s;

std::string regex_escape(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

// A whole output line "[HH:MM:SS] <body>".
std::regex line_re(const std::string& body) {
  return std::regex(R"(^\[\d\d:\d\d:\d\d\] )" + regex_escape(body) + "$");
}

std::unique_ptr<InteractiveProcess> start_chat(const fs::path& home, const std::string& room) {
  return std::make_unique<InteractiveProcess>(
      std::vector<std::string>{client_binary().string(), "--home", home.string(), "chat", "--room", room});
}

::testing::AssertionResult joined(InteractiveProcess& p, const std::string& room) {
  if (p.wait_line(line_re("* you joined " + room), kWait)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no '* you joined " << room << "'\nstdout:\n" << p.out() << "\nstderr:\n"
                                       << p.err();
}

// The texts of the messages `from` said (not private), in the order they were printed.
std::vector<std::string> said_by(const InteractiveProcess& p, const std::string& from) {
  std::vector<std::string> out;
  const std::regex re(R"(^\[\d\d:\d\d:\d\d\] )" + regex_escape(from) + ": (.*)$");
  for (const auto& l : p.lines()) {
    std::smatch m;
    if (std::regex_match(l, m, re)) out.push_back(m[1]);
  }
  return out;
}

// A hand-made chat connection with the identity and session a real `minihttps connect` left in
// `home`: it can send anything, and sees the server's messages decrypted.
class RawChat {
 public:
  RawChat(const fs::path& home, const std::string& url) : signer_(home, url), ws_(net::ServerUrl::parse(url), 10s) {}

  int open(const std::string& room) {
    const net::Request req = signer_.build("GET", "/chat?room=" + room);
    return ws_.open(req.target, req.headers).status;
  }
  std::string frame(const json& msg) const {
    return fernet_encrypt(signer_.session_key(), as_bytes(msg.dump()), std::time(nullptr));
  }
  bool send(std::string text) { return ws_.send(std::move(text)); }
  bool say(const std::string& text) { return send(frame({{"type", "say"}, {"text", text}})); }
  // The next message from the server, decrypted; nullopt on timeout or once closed.
  std::optional<json> next(std::chrono::milliseconds timeout = kWait) {
    const auto f = ws_.receive(timeout);
    if (!f) return std::nullopt;
    return json::parse(as_chars(fernet_decrypt(signer_.session_key(), *f, std::time(nullptr), 300)));
  }
  ::testing::AssertionResult wait_joined() {
    while (const auto m = next())
      if ((*m)["type"] == "notice" && m->value("event", "") == "joined") return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no joined notice";
  }
  // Everything until the server closes the connection; then its close code and reason.
  std::vector<json> until_closed() {
    std::vector<json> all;
    while (const auto m = next()) all.push_back(*m);
    return all;
  }
  net::WebSocketClient& ws() { return ws_; }
  SignedClient& signer() { return signer_; }

 private:
  SignedClient signer_;
  net::WebSocketClient ws_;
};

class Chat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    for (const char* name : {"alice", "bob", "carol"}) {
      auto* home = new TempDir();
      const auto r = run_client(home->path(), {"connect", "--server", server_->url(), "--name", name, "--rsa-bits", "2048"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      homes_.push_back(home);
    }
  }
  static void TearDownTestSuite() {
    for (auto* h : homes_) delete h;
    homes_.clear();
    delete server_;
  }
  static const fs::path& alice() { return homes_[0]->path(); }
  static const fs::path& bob() { return homes_[1]->path(); }
  static const fs::path& carol() { return homes_[2]->path(); }

  // Ends the chats (end of input) and expects each to exit 0.
  static void finish(std::initializer_list<InteractiveProcess*> ps) {
    for (auto* p : ps) p->close_stdin();
    for (auto* p : ps) EXPECT_EQ(p->wait_exit(kWait), 0) << p->err();
  }
  static void expect_not_logged(std::initializer_list<const char*> texts) {
    const std::string log = server_->stderr_text();
    for (const char* t : texts) EXPECT_EQ(log.find(t), std::string::npos) << "the server logged '" << t << "'";
  }

  static ServerProcess* server_;
  static std::vector<TempDir*> homes_;
};
ServerProcess* Chat::server_ = nullptr;
std::vector<TempDir*> Chat::homes_;

// ---- three real clients ------------------------------------------------------------------------

TEST_F(Chat, BroadcastReachesTheOtherTwoExactlyOnceInOrder) {
  auto a = start_chat(alice(), "bcast");
  auto b = start_chat(bob(), "bcast");
  auto c = start_chat(carol(), "bcast");
  ASSERT_TRUE(joined(*a, "bcast"));
  ASSERT_TRUE(joined(*b, "bcast"));
  ASSERT_TRUE(joined(*c, "bcast"));
  const std::vector<std::string> sent = {"broadcast-one", "broadcast-two", "broadcast-three", "broadcast-four",
                                         "broadcast-five"};
  for (const auto& s : sent) ASSERT_TRUE(a->write_line(s));
  for (auto* p : {b.get(), c.get()}) ASSERT_TRUE(p->wait_count(std::regex("\\] alice: broadcast-"), 5, kWait)) << p->out();
  finish({a.get(), b.get(), c.get()});
  EXPECT_EQ(said_by(*b, "alice"), sent);  // exactly once each, in order, even after everything ended
  EXPECT_EQ(said_by(*c, "alice"), sent);
  EXPECT_TRUE(said_by(*a, "alice").empty()) << a->out();  // no echo to the sender
  expect_not_logged({"broadcast-one", "broadcast-five"});
}

TEST_F(Chat, PrivateMessageReachesOnlyItsTarget) {
  auto a = start_chat(alice(), "priv");
  auto b = start_chat(bob(), "priv");
  auto c = start_chat(carol(), "priv");
  ASSERT_TRUE(joined(*a, "priv"));
  ASSERT_TRUE(joined(*b, "priv"));
  ASSERT_TRUE(joined(*c, "priv"));
  ASSERT_TRUE(a->write_line("/msg carol for-carol-only"));
  ASSERT_TRUE(a->write_line("after-the-private-one"));
  ASSERT_TRUE(c->wait_line(line_re("alice (private): for-carol-only"), kWait)) << c->out();
  // Each recipient sees messages in the order the server relayed them: once bob has the
  // broadcast, a misrouted private message would already be there.
  ASSERT_TRUE(b->wait_line(line_re("alice: after-the-private-one"), kWait)) << b->out();
  ASSERT_TRUE(c->wait_line(line_re("alice: after-the-private-one"), kWait)) << c->out();
  finish({a.get(), b.get(), c.get()});
  EXPECT_EQ(b->out().find("for-carol-only"), std::string::npos) << b->out();
  EXPECT_EQ(a->out().find("for-carol-only"), std::string::npos) << a->out();
  EXPECT_EQ(c->matching(std::regex("for-carol-only")).size(), 1u);
  expect_not_logged({"for-carol-only", "after-the-private-one"});
}

TEST_F(Chat, RoomsSeparateTrafficAndWhoListsMembers) {
  auto a = start_chat(alice(), "red");
  auto b = start_chat(bob(), "red");
  auto c = start_chat(carol(), "blue");
  ASSERT_TRUE(joined(*a, "red"));
  ASSERT_TRUE(joined(*b, "red"));
  ASSERT_TRUE(joined(*c, "blue"));
  ASSERT_TRUE(a->write_line("only-for-red"));
  ASSERT_TRUE(b->wait_line(line_re("alice: only-for-red"), kWait));
  ASSERT_TRUE(c->write_line("only-for-blue"));
  ASSERT_TRUE(c->write_line("/join red"));
  ASSERT_TRUE(c->wait_line(line_re("* you joined red"), kWait)) << c->out() << c->err();
  ASSERT_TRUE(b->wait_line(line_re("* carol joined red"), kWait));  // after only-for-blue, had it come
  ASSERT_TRUE(b->write_line("/who"));
  EXPECT_TRUE(b->wait_line(line_re("* in red: alice, bob, carol"), kWait)) << b->out();
  ASSERT_TRUE(c->write_line("/rooms"));
  EXPECT_TRUE(c->wait_line(line_re("* rooms: red (3)"), kWait)) << c->out();
  ASSERT_TRUE(c->write_line("now-in-red"));
  ASSERT_TRUE(a->wait_line(line_re("carol: now-in-red"), kWait));
  finish({a.get(), b.get(), c.get()});
  EXPECT_EQ(a->out().find("only-for-blue"), std::string::npos);
  EXPECT_EQ(b->out().find("only-for-blue"), std::string::npos);
  EXPECT_EQ(c->out().find("only-for-red"), std::string::npos);
}

TEST_F(Chat, QuitSendsWhatWasTypedAndExitsZero) {
  auto a = start_chat(alice(), "quit");
  auto b = start_chat(bob(), "quit");
  ASSERT_TRUE(joined(*a, "quit"));
  ASSERT_TRUE(joined(*b, "quit"));
  ASSERT_TRUE(a->write_line("last-words"));
  ASSERT_TRUE(a->write_line("/quit"));
  EXPECT_EQ(a->wait_exit(kWait), 0) << a->err();  // stdin still open: /quit alone ends it
  EXPECT_TRUE(b->wait_line(line_re("alice: last-words"), kWait)) << b->out();
  EXPECT_TRUE(b->wait_line(line_re("* alice left quit"), kWait)) << b->out();
  finish({b.get()});
}

// ---- refusals at the upgrade --------------------------------------------------------------------

TEST_F(Chat, UnsignedOrBadlySignedUpgradeIsRefused) {
  const auto url = net::ServerUrl::parse(server_->url());
  {
    net::WebSocketClient ws(url, 10s);
    const auto r = ws.open("/chat", {});
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.header("WWW-Authenticate").value_or(""), "MiniHTTPS handshake=\"/auth/handshake\"");
    EXPECT_TRUE(ws.closed());
  }
  SignedClient signer(alice(), server_->url());
  auto status_of = [&](const net::Request& req) {
    net::WebSocketClient ws(url, 10s);
    return ws.open(req.target, req.headers).status;
  };
  SignOptions flipped;
  flipped.flip_signature_bit = true;
  EXPECT_EQ(status_of(signer.build("GET", "/chat", flipped)), 403);
  SignOptions stale;
  stale.created = std::time(nullptr) - 3600;
  EXPECT_EQ(status_of(signer.build("GET", "/chat", stale)), 403);
  SignOptions stranger;
  stranger.keyid = Uuid::random_v4().to_string();
  EXPECT_EQ(status_of(signer.build("GET", "/chat", stranger)), 401);
  // The same signed upgrade twice: the nonce is spent the first time.
  const net::Request once = signer.build("GET", "/chat?room=replay");
  EXPECT_EQ(status_of(once), 101);
  EXPECT_EQ(status_of(once), 403);
  EXPECT_EQ(status_of(signer.build("GET", "/chat?room=no%2Fslash")), 400);
  // Signed, but not an upgrade: 426, signed like every answer to a verified request.
  const auto plain = signer.send("GET", "/chat");
  EXPECT_EQ(plain.status, 426);
  EXPECT_EQ(plain.header("Upgrade").value_or(""), "websocket");
  // The real client without a session says how to get one.
  TempDir nobody;
  const auto r = run_client(nobody.path(), {"--server", server_->url(), "chat"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("not connected"), std::string::npos) << r.err;
}

// ---- attacks on an open chat ----------------------------------------------------------------------

TEST_F(Chat, ForgedTamperedOrReplayedFrameClosesThatSocketOnly) {
  auto b = start_chat(bob(), "forge");
  auto c = start_chat(carol(), "forge");
  ASSERT_TRUE(joined(*b, "forge"));
  ASSERT_TRUE(joined(*c, "forge"));

  {  // a token under a key that is not the session key
    RawChat raw(alice(), server_->url());
    ASSERT_EQ(raw.open("forge"), 101);
    ASSERT_TRUE(raw.wait_joined());
    ASSERT_TRUE(raw.send(fernet_encrypt(FernetKey::generate(), as_bytes(std::string(R"({"type":"say","text":"forged-text"})")),
                                        std::time(nullptr))));
    raw.until_closed();
    EXPECT_EQ(raw.ws().close_info().code, 1008);
    EXPECT_EQ(raw.ws().close_info().reason, "frame refused: fernet: token MAC does not verify");
  }
  {  // a real frame with one character changed
    RawChat raw(alice(), server_->url());
    ASSERT_EQ(raw.open("forge"), 101);
    ASSERT_TRUE(raw.wait_joined());
    std::string token = raw.frame({{"type", "say"}, {"text", "tampered-text"}});
    token[60] = token[60] == 'A' ? 'B' : 'A';
    ASSERT_TRUE(raw.send(token));
    raw.until_closed();
    EXPECT_EQ(raw.ws().close_info().code, 1008);
  }
  {  // a real frame sent twice: relayed once, then the connection is closed
    RawChat raw(alice(), server_->url());
    ASSERT_EQ(raw.open("forge"), 101);
    ASSERT_TRUE(raw.wait_joined());
    const std::string token = raw.frame({{"type", "say"}, {"text", "replayed-text"}});
    ASSERT_TRUE(raw.send(token));
    ASSERT_TRUE(raw.send(token));
    raw.until_closed();
    EXPECT_EQ(raw.ws().close_info().code, 1008);
    EXPECT_EQ(raw.ws().close_info().reason, "frame refused: replayed");
  }
  // The others never saw a forgery and still talk.
  ASSERT_TRUE(b->write_line("still-here"));
  ASSERT_TRUE(c->wait_line(line_re("bob: still-here"), kWait)) << c->out();
  finish({b.get(), c.get()});
  for (auto* p : {b.get(), c.get()}) {
    EXPECT_EQ(said_by(*p, "alice"), std::vector<std::string>{"replayed-text"}) << p->out();
    EXPECT_EQ(p->out().find("forged-text"), std::string::npos);
    EXPECT_EQ(p->out().find("tampered-text"), std::string::npos);
  }
  expect_not_logged({"forged-text", "tampered-text", "replayed-text"});
}

TEST_F(Chat, OversizeFrameClosesWith1009) {
  RawChat raw(alice(), server_->url());
  ASSERT_EQ(raw.open("big"), 101);
  ASSERT_TRUE(raw.wait_joined());
  raw.send(std::string(65 * 1024, 'A'));
  raw.until_closed();
  EXPECT_EQ(raw.ws().close_info().code, 1009);
}

TEST_F(Chat, FloodIsDroppedWithNoticesThenClosed) {
  // A client of its own: the frame bucket is per client and outlives connections, so alice's
  // could still be short of the tests before this one.
  TempDir mallory;
  const auto c = run_client(mallory.path(), {"connect", "--server", server_->url(), "--name", "mallory", "--rsa-bits", "2048"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto b = start_chat(bob(), "flood");
  ASSERT_TRUE(joined(*b, "flood"));
  RawChat raw(mallory.path(), server_->url());
  ASSERT_EQ(raw.open("flood"), 101);
  ASSERT_TRUE(raw.wait_joined());
  std::vector<std::string> frames;
  for (int i = 0; i < 60; ++i) frames.push_back(raw.frame({{"type", "say"}, {"text", "flood-" + std::to_string(i)}}));
  for (auto& f : frames) raw.send(std::move(f));  // as fast as possible: the limit is 10/s, burst 20
  std::size_t dropped = 0;
  for (const auto& m : raw.until_closed())
    if (m["type"] == "notice" && m["text"] == "message dropped: more than 10 messages per second") ++dropped;
  EXPECT_EQ(raw.ws().close_info().code, 1008);
  EXPECT_EQ(raw.ws().close_info().reason, "flooding: too many messages");
  EXPECT_GE(dropped, 1u);
  ASSERT_TRUE(b->wait_line(line_re("* mallory left flood"), kWait));
  finish({b.get()});
  // The burst passed, in order; a little more may have trickled in while the frames arrived.
  const auto got = said_by(*b, "mallory");
  ASSERT_GE(got.size(), 20u) << b->out();
  EXPECT_LE(got.size(), 25u) << b->out();
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(got[i], "flood-" + std::to_string(i));
}

// ---- per-client limits across reconnections (issue 12, item 5) ---------------------------------

// Connects a fresh client home to `server` as `name`.
void connect_client(const ServerProcess& server, const TempDir& home, const std::string& name) {
  const auto r = run_client(home.path(), {"connect", "--server", server.url(), "--name", name, "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// The attack: a client sent its burst, closed, reopened and sent again, and so relayed 1,651
// messages/s against a limit of 10/s. The frame bucket is the client's, kept across connections.
// The rate is 0.01/s so that no frame comes back during the test: every count is exact.
TEST(ChatRateLimits, ReconnectingDoesNotRefillTheMessageBucket) {
  ServerProcess server(with_args({"--chat-rate", "0.01", "--chat-burst", "5"}));
  TempDir alice, bob;
  connect_client(server, alice, "alice");
  connect_client(server, bob, "bob");
  RawChat listener(bob.path(), server.url());
  ASSERT_EQ(listener.open("lobby"), 101);
  ASSERT_TRUE(listener.wait_joined());
  std::vector<std::string> heard;  // what bob got from alice, in order
  auto listen_until = [&](std::size_t count) {
    while (heard.size() < count) {
      const auto m = listener.next();
      if (!m) return false;
      if ((*m)["type"] == "message") heard.push_back((*m)["text"]);
    }
    return true;
  };
  const std::string dropped = "message dropped: more than 0.01 messages per second";
  for (int round = 0; round < 4; ++round) {
    RawChat a(alice.path(), server.url());
    ASSERT_EQ(a.open("lobby"), 101) << "round " << round;
    ASSERT_TRUE(a.wait_joined());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.say("round" + std::to_string(round) + "-" + std::to_string(i)));
    if (round == 0) {
      ASSERT_TRUE(listen_until(5)) << "the burst was not relayed";
    } else {  // a new connection, the same empty bucket: each frame is dropped with a notice
      int notices = 0;
      while (notices < 5) {
        const auto m = a.next();
        ASSERT_TRUE(m) << "round " << round << ": " << notices << " drop notices, then nothing";
        if ((*m)["type"] == "notice" && m->value("event", "") == "dropped") {
          EXPECT_EQ((*m)["text"], dropped);
          ++notices;
        }
        EXPECT_NE((*m)["type"], "error") << m->dump();
      }
    }
    EXPECT_TRUE(a.ws().close(1000, "bye", kWait));
  }
  // Bob's own bucket is untouched: his "who" is answered after everything alice's frames caused.
  ASSERT_TRUE(listener.send(listener.frame({{"type", "who"}})));
  for (;;) {
    const auto m = listener.next();
    ASSERT_TRUE(m) << "no answer to who";
    if ((*m)["type"] == "message") heard.push_back((*m)["text"]);
    if ((*m)["type"] == "who") break;
  }
  EXPECT_EQ(heard, (std::vector<std::string>{"round0-0", "round0-1", "round0-2", "round0-3", "round0-4"}));
}

// Opening chat connections is limited per client: with a burst of 3 (and 0.01 more a second, so
// none comes back during the test) exactly the 4th upgrade is refused, though the first three were
// closed again; another client is not affected.
TEST(ChatRateLimits, UpgradeBurstThenTooManyRequestsPerClient) {
  ServerProcess server(with_args({"--chat-upgrade-rate", "0.01", "--chat-upgrade-burst", "3"}));
  TempDir alice, bob;
  connect_client(server, alice, "alice");
  connect_client(server, bob, "bob");
  for (int i = 0; i < 3; ++i) {
    RawChat a(alice.path(), server.url());
    ASSERT_EQ(a.open("lobby"), 101) << i;
    ASSERT_TRUE(a.wait_joined());
    EXPECT_TRUE(a.ws().close(1000, "bye", kWait));
  }
  SignedClient signer(alice.path(), server.url());
  net::WebSocketClient ws(net::ServerUrl::parse(server.url()), 10s);
  const net::Request req = signer.build("GET", "/chat?room=lobby");
  const auto r = ws.open(req.target, req.headers);
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(ws.closed());
  // Retry-After: the whole seconds until the next token, at most 1 / 0.01 (how many depends on
  // how long the three upgrades took); the reason says the same.
  const std::string retry(r.header("Retry-After").value_or(""));
  ASSERT_FALSE(retry.empty());
  const int seconds = std::stoi(retry);
  EXPECT_GE(seconds, 1);
  EXPECT_LE(seconds, 100);
  EXPECT_EQ(json::parse(r.body),
            (json{{"error", "rate_limited"},
                  {"reason", "chat: too many chat connections from this client (at most 0.01 a second, 3 at once); "
                             "try again in " + retry + " s"}}));

  RawChat other(bob.path(), server.url());
  EXPECT_EQ(other.open("lobby"), 101);
  // The real client says why, and exits 1 (a refusal by the server).
  const auto c = run_process({client_binary().string(), "--home", alice.path().string(), "chat"}, "", 30s);
  EXPECT_EQ(c.exit_code, 1) << c.err;
  EXPECT_NE(c.err.find("too many chat connections from this client"), std::string::npos) << c.err;
}

// ---- the operator's kick, the server's stop, volume --------------------------------------------

// minihttpsd's parts in this process (auth, verifier, chat hub) behind the real HTTP server, so the
// test can call ChatHub::kick like the operator console does.
class InProcessServer final : public net::Handler {
 public:
  InProcessServer() {
    fs::create_directories(dir_ / "keys");
    fs::permissions(dir_ / "keys", fs::perms::owner_all, fs::perm_options::replace);
    id_.emplace(io::load_or_create_server_identity(dir_ / "keys"));
    auth_ = std::make_unique<auth::AuthService>(id_->key, *registry_, auth::AuthConfig{}, clock_);
    http_ = std::make_unique<net::HttpServer>(*this, net::ServerLimits{}, 2);
    port_ = http_->listen("127.0.0.1", 0);
    thread_ = std::thread([this] { http_->run(); });
  }
  ~InProcessServer() override {
    http_->stop(0ms);
    thread_.join();
  }
  net::Dispatch on_head(net::Request& req) override {
    if (req.target == "/auth/handshake")
      return net::BufferBody{16384, [this](net::Request& r) {
                               return net::json_response(200, auth_->handshake(r.body, r.remote_address));
                             }};
    const auto v = verifier_.verify(req);
    if (req.target.rfind("/chat", 0) == 0) return hub_.upgrade(v.client, "lobby");
    throw Error(Errc::not_found, "not here");
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  web::ChatHub& hub() { return hub_; }
  auth::ClientRegistry& registry() { return *registry_; }

 private:
  TempDir dir_;
  io::SystemClock clock_;
  std::optional<io::LoadedIdentity> id_;
  std::unique_ptr<auth::ClientRegistry> registry_ = auth::make_in_memory_registry(100);
  auth::ReplayCache nonces_{121, 1 << 16};
  web::RequestVerifier verifier_{*registry_, nonces_, clock_, 60};
  web::ChatHub hub_{*registry_, clock_};
  std::unique_ptr<auth::AuthService> auth_;
  std::unique_ptr<net::HttpServer> http_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST(ChatKick, KickedClientIsClosedAndCannotRejoinWithoutANewHandshake) {
  InProcessServer server;
  TempDir mallory, bob;
  for (auto [home, name] : {std::pair{&mallory, "mallory"}, std::pair{&bob, "bob"}}) {
    const auto r = run_client(home->path(), {"connect", "--server", server.url(), "--name", name, "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto m = start_chat(mallory.path(), "lobby");
  auto b = start_chat(bob.path(), "lobby");
  ASSERT_TRUE(joined(*m, "lobby"));
  ASSERT_TRUE(joined(*b, "lobby"));
  const auto uuid = server.registry().resolve("mallory");
  ASSERT_TRUE(uuid);

  EXPECT_EQ(server.hub().kick(*uuid, "spamming"), 1u);
  EXPECT_EQ(m->wait_exit(kWait), 4);
  EXPECT_NE(m->err().find("minihttps: chat: closed by the server: kicked: spamming (1008)"), std::string::npos) << m->err();
  EXPECT_TRUE(b->wait_line(line_re("* mallory left lobby"), kWait)) << b->out();

  // The old session no longer opens the chat...
  SignedClient old(mallory.path(), server.url());
  net::WebSocketClient ws(net::ServerUrl::parse(server.url()), 10s);
  const net::Request req = old.build("GET", "/chat");
  EXPECT_EQ(ws.open(req.target, req.headers).status, 401);
  // ...a new handshake does (the client makes it by itself on 401).
  auto again = start_chat(mallory.path(), "lobby");
  ASSERT_TRUE(joined(*again, "lobby"));
  EXPECT_NE(again->err().find("session expired or revoked: handshaking again"), std::string::npos) << again->err();
  EXPECT_TRUE(b->wait_line(line_re("* mallory joined lobby"), kWait));
  again->close_stdin();
  EXPECT_EQ(again->wait_exit(kWait), 0) << again->err();
  b->close_stdin();
  EXPECT_EQ(b->wait_exit(kWait), 0) << b->err();
}

TEST(ChatStop, ServerStopClosesChatsWithGoingAway) {
  ServerProcess server;
  TempDir home;
  const auto r = run_client(home.path(), {"connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = start_chat(home.path(), "lobby");
  ASSERT_TRUE(joined(*a, "lobby"));
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(a->wait_exit(kWait), 3);
  EXPECT_NE(a->err().find("minihttps: chat: the server is shutting down"), std::string::npos) << a->err();
}

TEST(ChatVolume, TwoHundredMessagesBetweenTwoClientsAllArrive) {
  // The rate limit is raised for this test only (the default, 10/s, would make it take 20 s:
  // the client paces itself by the limits the server announces).
  ServerProcess server(with_args({"--chat-rate", "2000", "--chat-burst", "500"}));
  TempDir alice, bob;
  for (auto [home, name] : {std::pair{&alice, "alice"}, std::pair{&bob, "bob"}}) {
    const auto r = run_client(home->path(), {"connect", "--server", server.url(), "--name", name, "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto b = start_chat(bob.path(), "volume");
  ASSERT_TRUE(joined(*b, "volume"));
  std::string input;
  std::vector<std::string> sent;
  for (int i = 0; i < 200; ++i) {
    char text[32];
    std::snprintf(text, sizeof text, "volume-%03d", i);
    sent.push_back(text);
    input += std::string(text) + "\n";
  }
  // The whole conversation from a pipe: the client sends everything, then exits 0.
  const auto a = run_process({client_binary().string(), "--home", alice.path().string(), "chat", "--room", "volume"},
                             input, 30s);
  EXPECT_EQ(a.exit_code, 0) << a.err;
  ASSERT_TRUE(b->wait_count(std::regex("\\] alice: volume-"), 200, kWait)) << b->out();
  b->close_stdin();
  EXPECT_EQ(b->wait_exit(kWait), 0) << b->err();
  EXPECT_EQ(said_by(*b, "alice"), sent);
}

}  // namespace
}  // namespace mh::test
