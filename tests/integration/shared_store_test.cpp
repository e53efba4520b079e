// Several minihttpsd instances sharing one Redis (--store, docs/ARCHITECTURE.md §7): real
// servers, a real redis-server, the real client, and a TCP balancer in front as HAProxy would be.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include "core/bytes.hpp"
#include "core/cksum.hpp"
#include "core/fernet.hpp"
#include "core/key_schedule.hpp"
#include "core/routes.hpp"
#include "core/rsa.hpp"
#include "net/http_client.hpp"
#include "net/websocket_client.hpp"
#include "support/balancer.hpp"
#include "support/interactive_process.hpp"
#include "support/raw_handshake.hpp"
#include "support/redis_server.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// What a server's keys folder holds, copied for another instance of the same server.
void copy_identity(const fs::path& from, const fs::path& to) {
  for (const auto& e : fs::directory_iterator(from))
    if (e.is_regular_file() && e.path().filename() != "lock") fs::copy_file(e.path(), to / e.path().filename());
}

struct JsonReason {
  int status = 0;
  std::string reason;
};
JsonReason post_hello(const std::string& url, const std::string& body) {
  net::HttpClient http(net::ServerUrl::parse(url), 10s);
  const auto r = http.send(
      net::Request{"POST", "/auth/handshake", {{"Content-Type", "application/json"}}, body, {}, {}, true}, 1 << 20);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  return {r.status, j.is_object() && j.contains("reason") ? j["reason"].get<std::string>() : ""};
}

class SharedStore : public ::testing::Test {
 protected:
  SharedStore() {
    a_ = std::make_unique<ServerProcess>(options({}));
    b_ = another_instance(keys_b_.path());
    balancer_ = std::make_unique<Balancer>(std::vector<std::uint16_t>{a_->port(), b_->port()});
  }

  ServerOptions options(const fs::path& keys) {
    ServerOptions o = with_keys(keys, {"--store", redis_.url(), "--store-timeout", "0.5"});
    return o;
  }

  // One more instance of A's server: its identity, root, upload folder and store.
  std::unique_ptr<ServerProcess> another_instance(const fs::path& keys, const std::vector<std::string>& extra = {}) {
    copy_identity(a_->keys(), keys);
    ServerOptions o = options(keys);
    o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
    o.root = a_->root();
    o.upload_dir = a_->upload_dir();
    return std::make_unique<ServerProcess>(o);
  }

  CommandResult client(const fs::path& home, std::vector<std::string> args) { return run_client(home, args); }

  // `minihttpsd ctl` against the instance whose keys folder is `keys`.
  static CommandResult ctl(const fs::path& keys, std::vector<std::string> args) {
    std::vector<std::string> argv{server_binary().string(), "ctl", "--keys", keys.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, {}, 10s);
  }

  // `minihttps chat` in the lobby through the balancer (pinned by the caller), once it has joined.
  static std::unique_ptr<InteractiveProcess> chat_in_lobby(const fs::path& home) {
    auto p = std::make_unique<InteractiveProcess>(
        std::vector<std::string>{client_binary().string(), "--home", home.string(), "chat", "--room", "lobby"});
    EXPECT_TRUE(p->wait_line(std::regex(R"(\* you joined lobby$)"), 15s)) << p->out() << p->err();
    return p;
  }

  // The chat ends as a client sees a close by the server with `reason`.
  static void expect_closed(InteractiveProcess& chat, const std::string& reason) {
    EXPECT_EQ(chat.wait_exit(5s), 4) << chat.err();
    EXPECT_NE(chat.err().find("minihttps: chat: closed by the server: " + reason + " (1008)"), std::string::npos)
        << chat.err();
  }

  // The session `on` signs with is over: its next request is refused.
  static void expect_session_ended(SignedClient& on) {
    const Reply after = on.send("GET", "/hello.txt");
    EXPECT_EQ(after.status, 401);
    EXPECT_EQ(after.reason(), "signature: session unknown or ended: handshake again");
  }

  void connect_through(std::size_t instance, const fs::path& home, const std::string& name) {
    balancer_->pin(instance);
    const auto r = run_client(home, {"connect", "--server", balancer_->url(), "--name", name, "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  RedisServer redis_;
  TempDir keys_b_;
  std::unique_ptr<ServerProcess> a_, b_;
  std::unique_ptr<Balancer> balancer_;
};

TEST_F(SharedStore, BothInstancesAreTheSameServer) {
  EXPECT_EQ(a_->fingerprint(), b_->fingerprint());
  EXPECT_TRUE(a_->wait_for_stderr("store: using " + redis_.url(), 5s)) << a_->stderr_text();
}

TEST_F(SharedStore, AHandshakeThroughOneInstanceServesGetPutAndLsThroughTheOther) {
  TempDir home, work;
  connect_through(0, home.path(), "alice");
  balancer_->pin(1);
  auto r = client(home.path(), {"get", "hello.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n");
  write_file(work.path() / "note.txt", "written through B\n");
  r = client(home.path(), {"put", (work.path() / "note.txt").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  balancer_->pin(0);  // the upload is on the folder both share
  r = client(home.path(), {"get", "/.uploads/note.txt", "-o", (work.path() / "back.txt").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(work.path() / "back.txt"), "written through B\n");
  r = client(home.path(), {"ls", "docs"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a.txt\n");
  const auto routed = balancer_->routed();
  EXPECT_EQ(std::count(routed.begin(), routed.end(), 1u) > 0, true);
}

TEST_F(SharedStore, ARequestCapturedOnOneInstanceIsRefusedByTheOther) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  // Both through the balancer, as behind one address: the same Host, so the copy is exact.
  SignedClient on_a(home.path(), balancer_->url()), on_b(home.path(), balancer_->url());
  const Built captured = on_a.build("GET", "/hello.txt");
  balancer_->pin(0);
  const Reply first = on_a.open(on_a.send_raw(captured.request), captured.binding);
  balancer_->pin(1);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "hello, world\n");
  const Reply replayed = on_b.open(on_b.send_raw(captured.request), captured.binding);
  EXPECT_EQ(replayed.status, 403);
  EXPECT_EQ(replayed.reason(), "signature: nonce already used (replayed request)");
  EXPECT_EQ(on_a.open(on_a.send_raw(captured.request), captured.binding).status, 403);
  const auto routed = balancer_->routed();  // ..., the request to A, then the copy to B
  ASSERT_GE(routed.size(), 2u);
  EXPECT_EQ(routed[routed.size() - 2], 0u);
  EXPECT_EQ(routed.back(), 1u);
}

// The browser's chat ticket (PROTOCOL.md §9.1) asked for on one instance opens the chat on the
// other: its key comes from the server key both hold, and its spending is in the store both share,
// so it opens one chat only, whichever instance sees it next.
TEST_F(SharedStore, AChatTicketAskedForOnOneInstanceIsSpentOnceOnEither) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  SignedClient on_a(home.path(), balancer_->url());
  const Built asked = on_a.build("POST", "/chat?room=lobby");
  const Reply granted = on_a.open(on_a.send_raw(asked.request), asked.binding);
  ASSERT_EQ(granted.status, 200) << granted.body;
  const std::string ticket = nlohmann::json::parse(granted.body)["ticket"];
  const std::string target = std::string(routes::kTicketedChat) + "?ticket=" + ticket;

  balancer_->pin(1);
  net::WebSocketClient on_b(net::ServerUrl::parse(balancer_->url()), 10s);
  ASSERT_EQ(on_b.open(target, {}).status, 101);
  const auto first = on_b.receive(10s);  // frame 0, under K("chat to client", B of the POST, 0, 0)
  ASSERT_TRUE(first);
  const FernetKey key = on_a.secret().derive(KeyPurpose::chat_to_client, asked.binding, 0, false);
  const auto notice = nlohmann::json::parse(as_chars(fernet_decrypt(key, *first, 0, std::nullopt)));
  EXPECT_EQ(notice["type"], "notice") << notice.dump();
  EXPECT_EQ(notice["event"], "joined") << notice.dump();
  EXPECT_EQ(notice["room"], "lobby") << notice.dump();

  for (std::size_t instance : {0u, 1u}) {
    balancer_->pin(instance);
    net::WebSocketClient again(net::ServerUrl::parse(balancer_->url()), 10s);
    const auto twice = again.open(target, {});
    EXPECT_EQ(twice.status, 403) << instance;
    EXPECT_EQ(nlohmann::json::parse(twice.body)["reason"],
              "chat: the ticket is not valid (expired, used or never issued)");
  }
  const auto routed = balancer_->routed();  // ..., the POST to A, the chat to B, the copies to A and B
  ASSERT_GE(routed.size(), 4u);
  EXPECT_EQ(std::vector<std::size_t>(routed.end() - 4, routed.end()), (std::vector<std::size_t>{0, 1, 0, 1}));
}

TEST_F(SharedStore, AHelloReplayedToAnotherInstanceIsRefused) {
  const RsaPrivateKey key = RsaPrivateKey::generate(2048);
  const auto hello = make_hello(server_keys(a_->url()), key, "hello-replay").hello_json();
  EXPECT_EQ(post_hello(a_->url(), hello).status, 200);
  const JsonReason again = post_hello(b_->url(), hello);
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(again.reason, "handshake: hello replayed");
}

TEST_F(SharedStore, AKickOnOneInstanceEndsTheSessionOnTheOtherWithinASecond) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  SignedClient on_a(home.path(), a_->url());
  ASSERT_EQ(on_a.send("GET", "/hello.txt").status, 200);
  const auto r = ctl(keys_b_.path(), {"kick", "alice"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "kicked alice (" + on_a.uuid().to_string() + ")\n");
  std::this_thread::sleep_for(1100ms);  // what an instance read, it trusts for at most a second
  expect_session_ended(on_a);
}

// The kick on B reaches A as an event (mh:events): A closes the chat with the kick's own reason
// (the sweep would say "session ended") and refuses the session's next request.
TEST_F(SharedStore, AKickOnOneInstanceClosesTheChatOnTheOther) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  const Uuid alice = SignedClient(home.path(), a_->url()).uuid();
  auto chat = chat_in_lobby(home.path());  // on A: the balancer is pinned there
  const auto r = ctl(keys_b_.path(), {"kick", "alice"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "kicked alice (" + alice.to_string() + ")\n");
  expect_closed(*chat, "kicked by the operator");
  EXPECT_TRUE(a_->wait_for_stderr("kicked " + alice.to_string() + " (by another instance)", 5s)) << a_->stderr_text();
  SignedClient on_a(home.path(), a_->url());
  expect_session_ended(on_a);
}

// What no event announces — here a logout through B; as well a kick published while A's
// subscription was down — the chat sweep finds: every second with a shared store, so the chat on
// A closes within about two seconds (the registry trusts what it read for one).
TEST_F(SharedStore, ASessionEndedWithoutAnEventLeavesTheChatOnTheOtherInstanceBySweep) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  auto chat = chat_in_lobby(home.path());
  balancer_->pin(1);
  const auto r = client(home.path(), {"logout"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_closed(*chat, "session ended: handshake again");
}

// Bans live in the store (mh:bans): a ban on B closes the client's chat on A and refuses its key's
// handshake there at once; lifted on A, it is lifted on B. Neither instance writes KEYS/banned.
TEST_F(SharedStore, ABanOnOneInstanceHoldsOnTheOtherUntilLiftedOnEither) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  auto chat = chat_in_lobby(home.path());
  auto r = ctl(keys_b_.path(), {"ban", "alice"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.rfind("banned alice (SHA256:", 0), 0u) << r.out;
  const std::string fp = r.out.substr(std::string("banned alice (").size(), 7 + 43);
  EXPECT_EQ(r.out, "banned alice (" + fp + ")\n");
  expect_closed(*chat, "kicked: banned by the operator");

  const RsaPrivateKey key = RsaPrivateKey::from_pem(read_file(home.path() / "identity.pem"));
  const JsonReason refused = post_hello(a_->url(), make_hello(server_keys(a_->url()), key, "alice").hello_json());
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.reason, "handshake: this key is banned on this server (" + fp + ")");
  r = ctl(a_->keys(), {"bans"});
  EXPECT_EQ(r.out.rfind(fp + "  alice ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\n1 banned key\n"), std::string::npos) << r.out;
  r = ctl(a_->keys(), {"unban", "alice"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "unbanned alice (" + fp + ")\n");
  EXPECT_EQ(ctl(keys_b_.path(), {"bans"}).out, "0 banned keys\n");
  EXPECT_EQ(post_hello(b_->url(), make_hello(server_keys(b_->url()), key, "alice").hello_json()).status, 200);
  EXPECT_FALSE(fs::exists(a_->keys() / "banned"));
  EXPECT_FALSE(fs::exists(keys_b_.path() / "banned"));
}

// The bans an instance kept alone (KEYS/banned) join the store when it starts on it.
TEST_F(SharedStore, AnInstanceImportsItsKeysBannedIntoTheStore) {
  const std::string fp = "SHA256:" + std::string(42, 'm') + "0";
  TempDir keys_c;
  copy_identity(a_->keys(), keys_c.path());
  write_file(keys_c.path() / "banned",
             fp + "  # mallory 0b3e6a52-5c3e-4c8a-9d57-0e0c9b1f2a11 banned 2026-12-01T10:00:00Z\n");
  ServerProcess c(options(keys_c.path()));
  EXPECT_TRUE(c.wait_for_stderr("store: imported 1 of the 1 bans in " + keys_c.path().string() + "/banned", 5s))
      << c.stderr_text();
  EXPECT_EQ(ctl(a_->keys(), {"bans"}).out,
            fp + "  mallory 0b3e6a52-5c3e-4c8a-9d57-0e0c9b1f2a11 banned 2026-12-01T10:00:00Z\n1 banned key\n");
}

// The chat through three instances: each client handshakes through A, then chats through its
// own instance; every reader gets every message once, and all of them in one order.
TEST_F(SharedStore, ChatThroughThreeInstancesReachesEveryReaderOnceInOneOrder) {
  TempDir keys_c;
  auto c = another_instance(keys_c.path());
  Balancer three({a_->port(), b_->port(), c->port()});
  TempDir homes[4];
  const std::string names[4] = {"alice", "bob", "carol", "dave"};
  std::vector<std::unique_ptr<InteractiveProcess>> chats;
  for (std::size_t i = 0; i < 4; ++i) {
    three.pin(0);
    const auto r =
        run_client(homes[i].path(), {"connect", "--server", three.url(), "--name", names[i], "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    three.pin(i % 3);  // alice on A, bob on B, carol on C, dave (who only reads) on A
    chats.push_back(chat_in_lobby(homes[i].path()));
  }
  ASSERT_TRUE(chats[0]->wait_line(std::regex(R"(\* dave joined lobby$)"), 15s)) << chats[0]->out();
  for (int n = 0; n < 5; ++n)
    for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(chats[i]->write_line(names[i] + "-" + std::to_string(n)));
  const std::regex said(R"(^\[\d\d:\d\d:\d\d\] (alice|bob|carol): ((alice|bob|carol)-\d)$)");
  ASSERT_TRUE(chats[3]->wait_count(said, 15, 15s)) << chats[3]->out();
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(chats[i]->wait_count(said, 10, 15s)) << chats[i]->out();
  ASSERT_TRUE(chats[0]->write_line("/msg carol psst"));
  ASSERT_TRUE(chats[2]->wait_line(std::regex(R"(alice \(private\): psst$)"), 15s)) << chats[2]->out();
  ASSERT_TRUE(chats[2]->write_line("/who"));
  EXPECT_TRUE(chats[2]->wait_line(std::regex(R"(\* in lobby: alice, bob, carol, dave$)"), 15s)) << chats[2]->out();
  const auto texts = [&](std::size_t i) {
    std::vector<std::string> out;
    for (const auto& l : chats[i]->matching(said)) out.push_back(std::regex_replace(l, said, "$2"));
    return out;
  };
  const auto order = texts(3);
  ASSERT_EQ(order.size(), 15u) << chats[3]->out();  // each once
  for (std::size_t i = 0; i < 3; ++i) {
    std::vector<std::string> others;
    for (const auto& t : order)
      if (t.rfind(names[i] + "-", 0) != 0) others.push_back(t);
    EXPECT_EQ(texts(i), others) << names[i];  // the same order, without its own
  }
  for (std::size_t i = 0; i < 3; ++i) {  // each sender's in the order sent
    std::vector<std::string> mine;
    for (const auto& t : order)
      if (t.rfind(names[i] + "-", 0) == 0) mine.push_back(t);
    EXPECT_EQ(mine, (std::vector<std::string>{names[i] + "-0", names[i] + "-1", names[i] + "-2", names[i] + "-3",
                                              names[i] + "-4"}));
  }
  for (auto& chat : chats) {
    chat->close_stdin();
    EXPECT_EQ(chat->wait_exit(10s), 0) << chat->err();
  }
}

TEST_F(SharedStore, AKilledInstancesClientsCarryOnThroughTheOther) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  a_->kill(SIGKILL);
  EXPECT_EQ(a_->wait_exit(5s), 128 + SIGKILL);
  balancer_->pin(std::nullopt);
  for (int i = 0; i < 3; ++i) {
    const auto r = client(home.path(), {"get", "hello.txt"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "hello, world\n");
  }
}

TEST_F(SharedStore, RedisDownIs503WithTheReasonThenEverythingRecoversByItself) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  SignedClient on_b(home.path(), b_->url());
  redis_.stop();
  std::this_thread::sleep_for(1100ms);  // past what B may have cached
  const Reply down = on_b.send("GET", "/hello.txt");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.reason().rfind("store: ", 0), 0u) << down.reason();
  EXPECT_TRUE(b_->wait_for_stderr("answering 503 until it is back", 5s)) << b_->stderr_text();

  redis_.start();  // empty: the session went with it, so it must handshake again
  const Reply back = on_b.send("GET", "/hello.txt");
  EXPECT_EQ(back.status, 401);
  EXPECT_TRUE(b_->wait_for_stderr("reachable again; serving", 5s)) << b_->stderr_text();
  connect_through(1, home.path(), "alice");
  balancer_->pin(0);
  const auto r = client(home.path(), {"get", "hello.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n");
}

TEST_F(SharedStore, AnInstanceWithAnotherIdentityIsRefusedTheStore) {
  ServerOptions o = options({});
  o.start_timeout = 10s;
  try {
    ServerProcess stranger(o);
    ADD_FAILURE() << "a server with another identity started on the store";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("holds the state of another server (" + a_->fingerprint() + ")"),
              std::string::npos)
        << e.what();
  }
}

// ---- uploads on the folder the instances share (docs/PROTOCOL.md §8) --------------------------------

std::string attempt_of(const Reply& put) {
  const auto j = nlohmann::json::parse(put.body, nullptr, false);
  return j.is_object() && j.contains("attempt") ? j["attempt"].get<std::string>() : "";
}

TEST_F(SharedStore, AnUploadPutOnOneInstanceIsCommittedOrDiscardedOnTheOther) {
  TempDir home;
  connect_through(0, home.path(), "alice");
  SignedClient on_a(home.path(), a_->url()), on_b(home.path(), b_->url());
  const std::string data = "sent to A, committed on B\n";
  const Reply put = on_a.send("PUT", "/.uploads/dir/split.txt", {}, data);
  ASSERT_EQ(put.status, 200) << put.body;
  const std::string id = attempt_of(put);
  ASSERT_EQ(id.size(), 32u);
  EXPECT_EQ(on_b.send("GET", "/.uploads/dir/split.txt").status, 404);  // pending: not visible
  const Reply commit = on_b.send("POST", "/.uploads/dir/split.txt?commit=" + id);
  EXPECT_EQ(commit.status, 201) << commit.body;
  EXPECT_EQ(nlohmann::json::parse(commit.body),
            (nlohmann::json{{"name", "dir/split.txt"}, {"size", data.size()}, {"cksum", cksum(as_bytes(data))}}));
  EXPECT_EQ(on_a.send("GET", "/.uploads/dir/split.txt").body, data);
  EXPECT_EQ(on_a.send("POST", "/.uploads/dir/split.txt?commit=" + id).status, 404);  // spent, on either

  // The other way round, and a discard: the attempt is gone for both.
  const Reply again = on_b.send("PUT", "/.uploads/second.txt", {}, "second\n");
  ASSERT_EQ(again.status, 200) << again.body;
  const std::string id2 = attempt_of(again);
  EXPECT_EQ(on_a.send("DELETE", "/.uploads/second.txt?attempt=" + id2).status, 204);
  const Reply late = on_b.send("POST", "/.uploads/second.txt?commit=" + id2);
  EXPECT_EQ(late.status, 404);
  EXPECT_EQ(late.reason(), "upload: no such attempt (expired, discarded or never made)");
  for (const auto& f : files_below(a_->upload_dir())) EXPECT_EQ(f.find(".attempts/"), std::string::npos) << f;
}

TEST_F(SharedStore, TheUploadQuotaHoldsAcrossInstances) {
  TempDir home, keys_c, keys_d;
  connect_through(0, home.path(), "alice");
  // Two more instances, both with a quota of three blocks: together they allow what one would.
  const std::vector<std::string> quota = {"--upload-quota", "12288"};
  const auto c = another_instance(keys_c.path(), quota);
  const auto d = another_instance(keys_d.path(), quota);
  SignedClient on_c(home.path(), c->url()), on_d(home.path(), d->url());
  const std::string five_k(5000, 'x');
  const Reply first = on_c.send("PUT", "/.uploads/1.bin", {}, five_k);
  ASSERT_EQ(first.status, 200) << first.body;
  const Reply second = on_d.send("PUT", "/.uploads/2.bin", {}, five_k);
  ASSERT_EQ(second.status, 200) << second.body;
  const std::string refused_reason = "upload: your quota of 12288 bytes would be exceeded";
  for (SignedClient* on : {&on_c, &on_d}) {
    const Reply third = on->send("PUT", "/.uploads/3.bin", {}, five_k);
    EXPECT_EQ(third.status, 507);
    EXPECT_EQ(third.reason(), refused_reason);
  }
  // Committed on the other instance it still counts; discarded, its room is free for both.
  EXPECT_EQ(on_d.send("POST", "/.uploads/1.bin?commit=" + attempt_of(first)).status, 201);
  EXPECT_EQ(on_d.send("PUT", "/.uploads/3.bin", {}, five_k).status, 507);
  EXPECT_EQ(on_c.send("DELETE", "/.uploads/2.bin?attempt=" + attempt_of(second)).status, 204);
  const Reply third = on_d.send("PUT", "/.uploads/3.bin", {}, five_k);
  EXPECT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(on_c.send("POST", "/.uploads/3.bin?commit=" + attempt_of(third)).status, 201);
  EXPECT_EQ(on_c.send("PUT", "/.uploads/4.bin", {}, five_k).status, 507);
}

TEST_F(SharedStore, StartingAnotherInstanceKeepsTheAttemptsInFlightOnTheOthers) {
  TempDir home, keys_c;
  connect_through(0, home.path(), "alice");
  SignedClient on_a(home.path(), a_->url());
  const Reply put = on_a.send("PUT", "/.uploads/kept.txt", {}, "in flight on A\n");
  ASSERT_EQ(put.status, 200) << put.body;
  const std::string id = attempt_of(put);
  const auto files = files_below(a_->upload_dir());
  ASSERT_EQ(files.size(), 1u);
  const fs::path ready = a_->upload_dir() / files[0];
  ASSERT_EQ(ready.filename().string(), id + ".ready");
  // A leftover no store holds (an instance killed before the store recorded it, long ago).
  const fs::path stale = ready.parent_path() / "0123456789abcdef0123456789abcdef.ready";
  write_file(stale, "stale");
  const auto c = another_instance(keys_c.path());  // its start-up clears what nobody holds
  EXPECT_TRUE(fs::exists(ready));
  EXPECT_FALSE(fs::exists(stale));
  SignedClient on_c(home.path(), c->url());
  EXPECT_EQ(on_c.send("POST", "/.uploads/kept.txt?commit=" + id).status, 201);
  EXPECT_EQ(on_a.send("GET", "/.uploads/kept.txt").body, "in flight on A\n");
}

}  // namespace
}  // namespace mh::test
