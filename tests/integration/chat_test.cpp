// The chat relay end to end (docs/PROTOCOL.md §9): three real `minihttps chat` clients against the
// real minihttpsd, driven through their stdin like users at a terminal, and hand-made WebSocket
// clients (with a real client's identity and session) for the attacks. The upgrade is a sealed GET
// of /.well-known/minihttps/sealed with the WebSocket fields; its 101 carries a sealed head of
// status 200 bound to the upgrade; frame n each way is sealed under K("chat to server"/"chat to
// client", B, n, 0) and says "seq": n. Attacked: unsigned or badly signed upgrades, forged,
// tampered, replayed, dropped and foreign frames, an oversize frame, a flood, a replaced session.
// The kick goes through `minihttpsd ctl`, as the operator's.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>
#include <thread>

#include "core/fernet.hpp"
#include "core/key_schedule.hpp"
#include "core/routes.hpp"
#include "net/websocket_client.hpp"
#include "support/interactive_process.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

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
std::regex line_re(const std::string& body) { return std::regex(R"(^\[\d\d:\d\d:\d\d\] )" + regex_escape(body) + "$"); }

std::unique_ptr<InteractiveProcess> start_chat(const fs::path& home, const std::string& room) {
  return std::make_unique<InteractiveProcess>(
      std::vector<std::string>{client_binary().string(), "--home", home.string(), "chat", "--room", room});
}

::testing::AssertionResult joined(InteractiveProcess& p, const std::string& room) {
  if (p.wait_line(line_re("* you joined " + room), kWait)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no '* you joined " << room << "'\nstdout:\n"
                                       << p.out() << "\nstderr:\n"
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

constexpr const char* kRefused = "frame refused: out of sequence or tampered";

// A hand-made chat connection with the identity and session a real `minihttps connect` left in
// `home`: it numbers and seals its frames as a client must (or any other way a test says), and
// opens the server's frames as the next of the connection, checking their "seq".
class RawChat {
 public:
  RawChat(const fs::path& home, const std::string& url) : signer_(home, url), ws_(net::ServerUrl::parse(url), 10s) {}

  // The sealed upgrade for GET /chat?room=ROOM (or another inner request), opened as a client
  // must: accepted() when the 101 carries a head of status 200 bound to it.
  Reply open(const std::string& room, SignOptions o = {}, const std::string& method = "GET") {
    return open_target("/chat?room=" + room, std::move(o), method);
  }
  Reply open_target(const std::string& target, SignOptions o = {}, const std::string& method = "GET") {
    o.upgrade = true;
    const Built b = signer_.build(method, target, o);
    return open_built(b);
  }
  Reply open_built(const Built& b) {
    binding_ = b.binding;
    sent_ = received_ = 0;
    last_ = ws_.open(b.request.target, b.request.headers);
    return signer_.open(last_, b.binding);
  }
  // The browser's way in (PROTOCOL.md §9.1, "From a browser"): a sealed POST /chat?room=ROOM that
  // answers a ticket, then the unsigned upgrade that spends it; frames are keyed by B of the POST.
  Reply ask_ticket(const std::string& room) {
    const Built b = signer_.build("POST", "/chat?room=" + room);
    ticket_binding_ = b.binding;
    return signer_.open(signer_.send_raw(b.request), b.binding);
  }
  net::ClientResponse spend(const std::string& ticket) {
    binding_ = ticket_binding_;
    sent_ = received_ = 0;
    last_ = ws_.open(std::string(routes::kTicketedChat) + "?ticket=" + ticket, {});
    return last_;
  }
  static bool accepted(const Reply& r) {
    return r.outer_status == 101 && r.sealed && r.error.empty() && r.status == 200;
  }

  // Frame n of this connection: {"seq": n, ...msg} under K("chat to server", B, n, 0).
  std::string frame(json msg) {
    msg["seq"] = sent_;
    return seal(msg, sent_++, binding_);
  }
  std::string seal(const json& msg, std::uint64_t n, const Binding& b) const {
    const FernetKey key = signer_.secret().derive(KeyPurpose::chat_to_server, b, n, false);
    return fernet_encrypt(key, as_bytes(msg.dump()), std::time(nullptr));
  }
  bool send(std::string text) { return ws_.send(std::move(text)); }
  bool say(const std::string& text) { return send(frame({{"type", "say"}, {"text", text}})); }
  // The next message from the server, opened as its next frame (a failure is a test failure);
  // nullopt on timeout or once closed. Its "seq" is taken off.
  std::optional<json> next(std::chrono::milliseconds timeout = kWait) {
    const auto f = ws_.receive(timeout);
    if (!f) return std::nullopt;
    const std::uint64_t n = received_++;
    try {
      const FernetKey key = signer_.secret().derive(KeyPurpose::chat_to_client, binding_, n, false);
      json j = json::parse(as_chars(fernet_decrypt(key, *f, 0, std::nullopt)));
      EXPECT_EQ(j.value("seq", std::uint64_t{0} - 1), n) << j.dump();
      j.erase("seq");
      return j;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "frame " << n << " from the server does not open as frame " << n << ": " << e.what();
      return std::nullopt;
    }
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
  ::testing::AssertionResult refused_with(int code, const std::string& reason) {
    until_closed();
    const auto info = ws_.close_info();
    if (info.code == code && info.reason == reason) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "closed with " << info.code << " \"" << info.reason << "\" " << info.error;
  }
  net::WebSocketClient& ws() { return ws_; }
  SignedClient& signer() { return signer_; }
  const Binding& binding() const { return binding_; }
  const net::ClientResponse& upgrade_answer() const { return last_; }

 private:
  SignedClient signer_;
  net::WebSocketClient ws_;
  Binding binding_{}, ticket_binding_{};
  std::uint64_t sent_ = 0, received_ = 0;
  net::ClientResponse last_;
};

class Chat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The attack tests open many chat connections as alice: the upgrade limit is not theirs to test.
    server_ = new ServerProcess(with_args({"--chat-upgrade-burst", "100"}));
    for (const char* name : {"alice", "bob", "carol"}) {
      auto* home = new TempDir();
      const auto r =
          run_client(home->path(), {"connect", "--server", server_->url(), "--name", name, "--rsa-bits", "2048"});
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
  for (auto* p : {b.get(), c.get()})
    ASSERT_TRUE(p->wait_count(std::regex("\\] alice: broadcast-"), 5, kWait)) << p->out();
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

// ---- the upgrade ---------------------------------------------------------------------------------

TEST_F(Chat, UpgradeIsASealedGetWhose101CarriesAHeadBoundToIt) {
  RawChat raw(alice(), server_->url());
  const Reply r = raw.open("sealedroom");
  ASSERT_TRUE(RawChat::accepted(r)) << r.outer_status << " " << r.status << " " << r.error << " " << r.body;
  EXPECT_FALSE(r.head->chunks);  // no body follows
  EXPECT_EQ(r.header("Upgrade").value_or(""), "websocket");
  // The head opens only under this upgrade's binding.
  const Built other = raw.signer().build("GET", "/chat?room=sealedroom", [] {
    SignOptions o;
    o.upgrade = true;
    return o;
  }());
  EXPECT_EQ(raw.signer().open(raw.upgrade_answer(), other.binding).error,
            "the response head is not bound to this request");
  ASSERT_TRUE(raw.wait_joined());
  EXPECT_TRUE(raw.ws().close(1000, "bye", kWait));
}

TEST_F(Chat, UnsignedOrBadlySignedUpgradeIsRefused) {
  const auto url = net::ServerUrl::parse(server_->url());
  for (const char* target : {"/.well-known/minihttps/sealed", "/chat"}) {
    net::WebSocketClient ws(url, 10s);
    const auto r = ws.open(target, {});
    EXPECT_EQ(r.status, 401) << target;
    EXPECT_EQ(r.header("WWW-Authenticate").value_or(""), "MiniHTTPS handshake=\"/auth/handshake\"");
    EXPECT_TRUE(ws.closed());
  }
  // Refused before the signature verified: in clear, with the verifier's reason.
  const auto refused = [&](const SignOptions& o, int status, const std::string& reason) {
    RawChat raw(alice(), server_->url());
    const Reply r = raw.open("lobby", o);
    EXPECT_FALSE(r.sealed) << reason;
    EXPECT_EQ(r.status, status) << reason;
    EXPECT_EQ(r.reason(), reason);
    EXPECT_TRUE(raw.ws().closed());
  };
  SignOptions flipped;
  flipped.flip_signature_bit = true;
  refused(flipped, 403, "signature: does not verify");
  SignOptions stale;
  stale.created = std::time(nullptr) - 3600;
  refused(stale, 403, "signature: created is outside the allowed window");
  SignOptions stranger;
  stranger.keyid = seal::keyid_text(KeyId{7, 7, 7});
  refused(stranger, 401, "signature: session unknown or ended: handshake again");
  // The same signed upgrade twice: the nonce is spent the first time.
  {
    RawChat raw(alice(), server_->url());
    SignOptions o;
    o.upgrade = true;
    const Built once = raw.signer().build("GET", "/chat?room=replay", o);
    EXPECT_TRUE(RawChat::accepted(raw.open_built(once)));
    RawChat again(alice(), server_->url());
    const Reply r = again.open_built(once);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.reason(), "signature: nonce already used (replayed request)");
  }
}

// Verified, then refused: sealed answers with the real status inside (the outer one says 200).
TEST_F(Chat, RefusalsAfterTheSignatureAreSealed) {
  const auto sealed_refusal = [&](const Reply& r, int status, const std::string& reason) {
    EXPECT_TRUE(r.sealed) << reason;
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.outer_status, 200) << reason;
    EXPECT_EQ(r.status, status) << reason;
    EXPECT_EQ(r.reason(), reason);
  };
  RawChat raw(alice(), server_->url());
  sealed_refusal(raw.open("no%2Fslash"), 400, "chat: room names are 1-32 characters of A-Z a-z 0-9 . _ -");
  sealed_refusal(raw.open_target("/chat?x=1"), 400, "chat: the only query parameter is room=NAME");
  sealed_refusal(raw.open("lobby", {}, "PUT"), 405, "chat: use GET with a WebSocket upgrade, or POST for a ticket");
  // Signed, but not an upgrade: 426; a plain (unsealed) answer also says which upgrade in clear.
  SignedClient& signer = raw.signer();
  sealed_refusal(signer.send("GET", "/chat"), 426, "chat: needs a WebSocket upgrade");
  SignOptions plain;
  plain.sealed = false;
  const Reply r = signer.send("GET", "/chat", plain);
  EXPECT_EQ(r.outer_status, 426);
  EXPECT_EQ(r.header("Upgrade").value_or(""), "websocket");
  // The real client without a session says how to get one.
  TempDir nobody;
  const auto c = run_client(nobody.path(), {"--server", server_->url(), "chat"});
  EXPECT_EQ(c.exit_code, 4);
  EXPECT_EQ(c.err, "minihttps: no identity in " + nobody.path().string() + ": run minihttps connect first\n");
}

// ---- tickets (the browser's way in) ----------------------------------------------------------------

constexpr const char* kBadTicket = "chat: the ticket is not valid (expired, used or never issued)";

TEST_F(Chat, ASealedPostGetsATicketWhoseUnsignedUpgradeIsTheChat) {
  RawChat member(bob(), server_->url());
  ASSERT_TRUE(RawChat::accepted(member.open("ticketed")));
  ASSERT_TRUE(member.wait_joined());
  RawChat page(alice(), server_->url());
  const Reply granted = page.ask_ticket("ticketed");
  ASSERT_EQ(granted.status, 200) << granted.body;
  EXPECT_TRUE(granted.sealed);
  EXPECT_EQ(granted.outer_status, 200);
  const json j = json::parse(granted.body);
  EXPECT_EQ(j.size(), 3u) << granted.body;
  EXPECT_EQ(j["room"], "ticketed");
  const std::int64_t lifetime = j["expires"].get<std::int64_t>() - std::time(nullptr);
  EXPECT_GE(lifetime, 28);
  EXPECT_LE(lifetime, 30);
  const std::string ticket = j["ticket"];
  EXPECT_LE(ticket.size(), 226u);

  const net::ClientResponse up = page.spend(ticket);
  EXPECT_EQ(up.status, 101);
  EXPECT_FALSE(up.header(seal::kSealedField).has_value());
  ASSERT_TRUE(page.wait_joined());  // frame 0 opened under K("chat to client", B of the POST, 0, 0)
  ASSERT_TRUE(page.say("through a ticket"));
  std::optional<json> said;
  while ((said = member.next()) && (*said)["type"] != "message") {}
  ASSERT_TRUE(said);
  EXPECT_EQ((*said)["text"], "through a ticket");
  EXPECT_EQ((*said)["from"], "alice");

  // Spent: a second upgrade with it is refused, plainly (nothing verified to seal for).
  RawChat again(alice(), server_->url());
  const net::ClientResponse twice = again.spend(ticket);
  EXPECT_EQ(twice.status, 403);
  EXPECT_EQ(json::parse(twice.body)["reason"], kBadTicket);
}

TEST_F(Chat, TicketsAreAskedForLikeUpgradesAndRefusedExactly) {
  RawChat page(alice(), server_->url());
  // Asking passes the upgrade's own checks, answered sealed.
  const Reply bad_room = page.ask_ticket("no%2Fslash");
  EXPECT_TRUE(bad_room.sealed);
  EXPECT_EQ(bad_room.status, 400);
  EXPECT_EQ(bad_room.reason(), "chat: room names are 1-32 characters of A-Z a-z 0-9 . _ -");
  const Reply with_body = page.signer().send("POST", "/chat", {}, "x");
  EXPECT_EQ(with_body.status, 400);
  EXPECT_EQ(with_body.reason(), "chat: the upgrade request takes no body");

  // Spending, in this order: method, body, query, upgrade, ticket, session.
  const std::string path(routes::kTicketedChat);
  const auto plain = [&](const std::string& method, const std::string& target, net::Headers headers = {}) {
    net::Request req;
    req.method = method;
    req.target = target;
    req.headers = std::move(headers);
    return page.signer().send_raw(req);
  };
  const net::Headers upgrade{{"Connection", "Upgrade"},
                             {"Upgrade", "websocket"},
                             {"Sec-WebSocket-Version", "13"},
                             {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  const std::string granted = json::parse(page.ask_ticket("lobby").body)["ticket"];
  const auto post = plain("POST", path + "?ticket=" + granted, upgrade);
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(json::parse(post.body)["reason"], "chat: use GET with a WebSocket upgrade");
  for (const std::string& query :
       {std::string(), std::string("?ticket="), std::string("?room=lobby"), "?ticket=" + granted + "&room=x"}) {
    const auto r = plain("GET", path + query, upgrade);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(json::parse(r.body)["reason"], "chat: the only query parameter is ticket=TICKET") << query;
  }
  const auto no_upgrade = plain("GET", path + "?ticket=" + granted);
  EXPECT_EQ(no_upgrade.status, 426);
  EXPECT_EQ(no_upgrade.header("Upgrade").value_or(""), "websocket");
  EXPECT_EQ(json::parse(no_upgrade.body)["reason"], "chat: needs a WebSocket upgrade");
  std::string forged = granted;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(page.spend(forged).status, 403);
  EXPECT_EQ(json::parse(page.spend("not-a-ticket").body)["reason"], kBadTicket);
  // None of those spent it: the refusals before the ticket check leave it whole.
  EXPECT_EQ(page.spend(granted).status, 101);
  ASSERT_TRUE(page.wait_joined());

  // A ticket of a session that ended (logout) is 401 with the handshake hint.
  TempDir home;
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server_->url(), "--name", "leaver", "--rsa-bits", "2048"})
                .exit_code,
            0);
  RawChat leaver(home.path(), server_->url());
  const std::string kept = json::parse(leaver.ask_ticket("lobby").body)["ticket"];
  ASSERT_EQ(run_client(home.path(), {"logout"}).exit_code, 0);
  const net::ClientResponse ended = leaver.spend(kept);
  EXPECT_EQ(ended.status, 401);
  EXPECT_EQ(json::parse(ended.body)["reason"], "chat: the session of this ticket has ended; handshake again");
  EXPECT_TRUE(ended.header("WWW-Authenticate").has_value());
}

// ---- frames ----------------------------------------------------------------------------------------

TEST_F(Chat, FramesFromTheServerAreNumberedFromZero) {
  RawChat a(alice(), server_->url());
  ASSERT_TRUE(RawChat::accepted(a.open("numbered")));
  // next() opens frame n under K("chat to client", B, n, 0) and checks "seq": n.
  const auto joined = a.next();
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->value("event", ""), "joined");
  const auto who = a.next();
  ASSERT_TRUE(who);
  EXPECT_EQ((*who)["type"], "who");
  RawChat b(bob(), server_->url());
  ASSERT_TRUE(RawChat::accepted(b.open("numbered")));
  ASSERT_TRUE(b.wait_joined());
  const auto join = a.next();  // frame 2
  ASSERT_TRUE(join);
  EXPECT_EQ(join->value("event", ""), "join");
  ASSERT_TRUE(b.say("numbered-text"));
  const auto said = a.next();  // frame 3
  ASSERT_TRUE(said);
  EXPECT_EQ((*said)["text"], "numbered-text");
  EXPECT_EQ((*said)["from"], "bob");
  // A server frame opens only as its own number on its own connection.
  ASSERT_TRUE(b.say("second-text"));
  const auto raw = a.ws().receive(kWait);
  ASSERT_TRUE(raw);
  const auto opens = [&](std::uint64_t n, const Binding& binding) {
    try {
      fernet_decrypt(a.signer().secret().derive(KeyPurpose::chat_to_client, binding, n, false), *raw, 0);
      return true;
    } catch (const std::exception&) { return false; }
  };
  EXPECT_TRUE(opens(4, a.binding()));
  EXPECT_FALSE(opens(3, a.binding()));
  EXPECT_FALSE(opens(5, a.binding()));
  EXPECT_FALSE(opens(4, b.binding()));
  EXPECT_TRUE(a.ws().close(1000, "bye", kWait));
  EXPECT_TRUE(b.ws().close(1000, "bye", kWait));
}

TEST_F(Chat, ForgedTamperedReplayedDroppedOrForeignFrameClosesThatSocketOnly) {
  auto b = start_chat(bob(), "forge");
  auto c = start_chat(carol(), "forge");
  ASSERT_TRUE(joined(*b, "forge"));
  ASSERT_TRUE(joined(*c, "forge"));
  const auto attacker = [&] {
    auto raw = std::make_unique<RawChat>(alice(), server_->url());
    EXPECT_TRUE(RawChat::accepted(raw->open("forge")));
    EXPECT_TRUE(raw->wait_joined());
    return raw;
  };
  {  // a token under a key that is not the connection's
    auto raw = attacker();
    ASSERT_TRUE(raw->send(fernet_encrypt(FernetKey::generate(),
                                         as_bytes(std::string(R"({"seq":0,"type":"say","text":"forged-text"})")),
                                         std::time(nullptr))));
    EXPECT_TRUE(raw->refused_with(1008, kRefused));
  }
  {  // a real frame with one character changed
    auto raw = attacker();
    std::string token = raw->frame({{"type", "say"}, {"text", "tampered-text"}});
    token[60] = token[60] == 'A' ? 'B' : 'A';
    ASSERT_TRUE(raw->send(token));
    EXPECT_TRUE(raw->refused_with(1008, kRefused));
  }
  {  // a real frame sent twice: relayed once, then the connection is closed
    auto raw = attacker();
    const std::string token = raw->frame({{"type", "say"}, {"text", "replayed-text"}});
    ASSERT_TRUE(raw->send(token));
    ASSERT_TRUE(raw->send(token));
    EXPECT_TRUE(raw->refused_with(1008, kRefused));
  }
  {  // frame 0 never sent: frame 1 comes first
    auto raw = attacker();
    raw->frame({{"type", "say"}, {"text", "dropped-text"}});
    ASSERT_TRUE(raw->send(raw->frame({{"type", "say"}, {"text", "after-the-drop-text"}})));
    EXPECT_TRUE(raw->refused_with(1008, kRefused));
  }
  {  // frame 0 of another connection of the same client (same session, another binding)
    auto raw = attacker();
    auto other = attacker();
    ASSERT_TRUE(raw->send(other->frame({{"type", "say"}, {"text", "foreign-text"}})));
    EXPECT_TRUE(raw->refused_with(1008, kRefused));
    EXPECT_TRUE(other->ws().close(1000, "bye", kWait));  // its own connection never saw it
  }
  {  // the right key, but the frame says it is another one
    auto raw = attacker();
    ASSERT_TRUE(raw->send(raw->seal({{"seq", 1}, {"type", "say"}, {"text", "misnumbered-text"}}, 0, raw->binding())));
    EXPECT_TRUE(raw->refused_with(1008, kRefused));
  }
  // The others never saw a forgery and still talk.
  ASSERT_TRUE(b->write_line("still-here"));
  ASSERT_TRUE(c->wait_line(line_re("bob: still-here"), kWait)) << c->out();
  finish({b.get(), c.get()});
  for (auto* p : {b.get(), c.get()}) {
    EXPECT_EQ(said_by(*p, "alice"), std::vector<std::string>{"replayed-text"}) << p->out();
    for (const char* text :
         {"forged-text", "tampered-text", "dropped-text", "after-the-drop-text", "foreign-text", "misnumbered-text"})
      EXPECT_EQ(p->out().find(text), std::string::npos) << text;
  }
  expect_not_logged({"forged-text", "tampered-text", "replayed-text", "dropped-text", "foreign-text"});
}

// A connection lives as long as the session it was opened under: a new handshake replaces it.
TEST_F(Chat, FrameAfterTheSessionWasReplacedClosesTheChat) {
  TempDir home;
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server_->url(), "--name", "replacer", "--rsa-bits", "2048"})
                .exit_code,
            0);
  RawChat raw(home.path(), server_->url());
  ASSERT_TRUE(RawChat::accepted(raw.open("replaced")));
  ASSERT_TRUE(raw.wait_joined());
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server_->url(), "--name", "replacer"}).exit_code, 0);
  ASSERT_TRUE(raw.say("after-the-new-handshake"));
  EXPECT_TRUE(raw.refused_with(1008, "session ended: handshake again"));
}

TEST_F(Chat, OversizeFrameClosesWith1009) {
  RawChat raw(alice(), server_->url());
  ASSERT_TRUE(RawChat::accepted(raw.open("big")));
  ASSERT_TRUE(raw.wait_joined());
  raw.send(std::string(65 * 1024, 'A'));
  raw.until_closed();
  EXPECT_EQ(raw.ws().close_info().code, 1009);
}

TEST_F(Chat, FloodIsDroppedWithNoticesThenClosed) {
  // A client of its own: the frame bucket is per client and outlives connections, so alice's
  // could still be short of the tests before this one.
  TempDir mallory;
  const auto c =
      run_client(mallory.path(), {"connect", "--server", server_->url(), "--name", "mallory", "--rsa-bits", "2048"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto b = start_chat(bob(), "flood");
  ASSERT_TRUE(joined(*b, "flood"));
  RawChat raw(mallory.path(), server_->url());
  ASSERT_TRUE(RawChat::accepted(raw.open("flood")));
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
  ASSERT_TRUE(RawChat::accepted(listener.open("lobby")));
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
    ASSERT_TRUE(RawChat::accepted(a.open("lobby"))) << "round " << round;
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
    ASSERT_TRUE(RawChat::accepted(a.open("lobby"))) << i;
    ASSERT_TRUE(a.wait_joined());
    EXPECT_TRUE(a.ws().close(1000, "bye", kWait));
  }
  RawChat fourth(alice.path(), server.url());
  const Reply r = fourth.open("lobby");
  EXPECT_TRUE(r.sealed);  // refused after the signature verified
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(fourth.ws().closed());
  // retry-after: the whole seconds until the next token, at most 1 / 0.01 (how many depends on
  // how long the three upgrades took); the reason says the same.
  ASSERT_TRUE(r.head && r.head->retry_after);
  const std::int64_t seconds = *r.head->retry_after;
  const std::string retry = std::to_string(seconds);
  EXPECT_GE(seconds, 1);
  EXPECT_LE(seconds, 100);
  EXPECT_EQ(json::parse(r.body),
            (json{{"error", "rate_limited"},
                  {"reason",
                   "chat: too many chat connections from this client (at most 0.01 a second, 3 at once); "
                   "try again in " +
                       retry + " s"}}));

  RawChat other(bob.path(), server.url());
  EXPECT_TRUE(RawChat::accepted(other.open("lobby")));
  // The real client says why, and exits 1 (a refusal by the server).
  const auto c = run_process({client_binary().string(), "--home", alice.path().string(), "chat"}, "", 30s);
  EXPECT_EQ(c.exit_code, 1) << c.err;
  EXPECT_NE(c.err.find("too many chat connections from this client"), std::string::npos) << c.err;
}

// ---- the operator's kick, the server's stop, volume --------------------------------------------

// The operator's kick (`minihttpsd ctl kick`, like /kick on the console) ends the session and
// closes its chats; the old session cannot open the chat again, a new handshake can.
TEST(ChatKick, KickedClientIsClosedAndCannotRejoinWithoutANewHandshake) {
  ServerProcess server;
  TempDir mallory, bob;
  connect_client(server, mallory, "mallory");
  connect_client(server, bob, "bob");
  auto m = start_chat(mallory.path(), "lobby");
  auto b = start_chat(bob.path(), "lobby");
  ASSERT_TRUE(joined(*m, "lobby"));
  ASSERT_TRUE(joined(*b, "lobby"));
  RawChat old(mallory.path(), server.url());  // the session the kick ends
  ASSERT_TRUE(RawChat::accepted(old.open("lobby")));
  ASSERT_TRUE(old.wait_joined());

  const auto kick =
      run_process({server_binary().string(), "ctl", "--keys", server.keys().string(), "kick", "mallory"}, {}, 30s);
  EXPECT_EQ(kick.exit_code, 0) << kick.err;
  EXPECT_EQ(kick.out.rfind("kicked mallory (", 0), 0u) << kick.out;
  EXPECT_TRUE(old.refused_with(1008, "kicked by the operator"));
  EXPECT_EQ(m->wait_exit(kWait), 4);
  EXPECT_NE(m->err().find("minihttps: chat: closed by the server: kicked by the operator (1008)"), std::string::npos)
      << m->err();
  EXPECT_TRUE(b->wait_line(line_re("* mallory left lobby"), kWait)) << b->out();

  // The old session no longer opens the chat...
  RawChat stale(mallory.path(), server.url());
  const Reply r = stale.open("lobby");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.reason(), "signature: session unknown or ended: handshake again");
  // ...a new handshake does (the client makes it by itself on 401).
  auto again = start_chat(mallory.path(), "lobby");
  ASSERT_TRUE(joined(*again, "lobby"));
  EXPECT_NE(again->err().find("handshaking again"), std::string::npos) << again->err();
  EXPECT_TRUE(b->wait_line(line_re("* mallory joined lobby"), kWait));
  again->close_stdin();
  EXPECT_EQ(again->wait_exit(kWait), 0) << again->err();
  b->close_stdin();
  EXPECT_EQ(b->wait_exit(kWait), 0) << b->err();
}

TEST(ChatStop, ServerStopClosesChatsWithGoingAway) {
  ServerProcess server;
  TempDir home;
  const auto r =
      run_client(home.path(), {"connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"});
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
    const auto r =
        run_client(home->path(), {"connect", "--server", server.url(), "--name", name, "--rsa-bits", "2048"});
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
  const auto a =
      run_process({client_binary().string(), "--home", alice.path().string(), "chat", "--room", "volume"}, input, 30s);
  EXPECT_EQ(a.exit_code, 0) << a.err;
  ASSERT_TRUE(b->wait_count(std::regex("\\] alice: volume-"), 200, kWait)) << b->out();
  b->close_stdin();
  EXPECT_EQ(b->wait_exit(kWait), 0) << b->err();
  EXPECT_EQ(said_by(*b, "alice"), sent);
}

}  // namespace
}  // namespace mh::test
