// The command lines of minihttps and minihttpsd: help, usage errors and their exit codes
// (minihttps: 0 ok, 1 refused/local, 2 usage, 3 network, 4 auth/trust, 5 integrity).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <functional>
#include <thread>

#include "core/ed25519.hpp"
#include "core/handshake.hpp"
#include "core/rsa.hpp"
#include "core/x25519.hpp"
#include "support/server_process.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::CommandResult;
using test::run_client;
using test::run_server_binary;
using test::ServerProcess;
using test::TempDir;

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

// A loopback port nobody listens on: bound once to learn a free number, then closed.
std::uint16_t unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("cannot find a free port");
  ::close(fd);
  return ntohs(a.sin_port);
}

// A minimal stand-in server: answers every request with respond(request body) (a whole HTTP
// response), or never answers when respond is empty. For client behaviour against broken or
// hostile servers.
class FakeServer {
 public:
  using Respond = std::function<std::string(const std::string& body)>;
  explicit FakeServer(Respond respond) : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("fake server: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

  static std::string http(int status, const std::string& body, const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }
  void serve(int c) {
    std::string in;
    char buf[4096];
    std::size_t head_end = std::string::npos, want = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        head_end += 4;
        std::string head = in.substr(0, head_end);
        for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const auto cl = head.find("content-length:");
        want = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15));
      }
      if (head_end != std::string::npos && in.size() >= head_end + want) break;
    }
    ++requests_;
    if (!respond_) {  // a server that accepts and then says nothing
      while (!stop_) std::this_thread::sleep_for(20ms);
      return;
    }
    const std::string out = respond_(head_end == std::string::npos ? std::string() : in.substr(head_end, want));
    for (std::size_t off = 0; off < out.size();) {
      const ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
  }

  Respond respond_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A reply to `hello_json` as a real server would make it, with `tweak` applied before signing.
std::string signed_reply(const std::string& hello_json, const Ed25519KeyPair& key,
                         const std::function<void(handshake::ServerReply&)>& tweak = {}) {
  const handshake::ClientHello h = handshake::parse_client_hello(hello_json);
  handshake::ServerReply r;
  r.uuid = Uuid::random_v4();
  r.x25519 = X25519KeyPair::generate().public_key;
  random_fill(r.nonce);
  r.expires = static_cast<std::int64_t>(std::time(nullptr)) + 3600;
  r.server_key = key.public_key();
  if (tweak) tweak(r);
  r.signature = key.sign(handshake::transcript2(handshake::transcript1(h), h, r));
  return handshake::to_json(r);
}

// ---- minihttps -------------------------------------------------------------------------------------

TEST(ClientCli, HelpListsCommandsAndExitCodes) {
  TempDir home;
  const CommandResult r = run_client(home.path(), {"--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* s : {"connect", "whoami", "logout", "--home", "--server", "--quiet", "--verbose", "--timeout",
                        "Exit codes: 0 ok, 1 refused by the server or local error, 2 usage, 3 network,",
                        "4 authentication/trust, 5 integrity (nothing was written)."})
    EXPECT_TRUE(contains(r.out, s)) << "missing '" << s << "' in\n" << r.out;
  EXPECT_EQ(r.err, "");

  const CommandResult sub = run_client(home.path(), {"connect", "--help"});
  EXPECT_EQ(sub.exit_code, 0) << describe(sub);
  for (const char* s : {"--name", "--fingerprint", "--server-key", "--rsa-bits", "3072"})
    EXPECT_TRUE(contains(sub.out, s)) << "missing '" << s << "' in\n" << sub.out;
}

TEST(ClientCli, UsageErrorsExitWith2) {
  TempDir tmp;
  const fs::path home = tmp / "home";
  struct Case {
    std::vector<std::string> args;
    std::string in_stderr;
  };
  const std::vector<Case> cases = {
      {{}, "A subcommand is required"},
      // CLI11 (require_subcommand + fallthrough) does not name the unknown word; see the report.
      {{"frobnicate"}, "A subcommand is required"},
      {{"connect", "--server", "http://127.0.0.1:1"}, "--name is required"},
      {{"connect", "--server", "http://127.0.0.1:1", "--name", "a", "--rsa-bits", "1024"}, "--rsa-bits"},
      {{"connect", "--server", "http://127.0.0.1:1", "--name", "a", "--fingerprint", "SHA256:x", "--server-key", "k.pub"},
       "excludes"},
      {{"whoami", "--timeout", "0"}, "--timeout"},
      {{"whoami", "--no-such-flag"}, "--no-such-flag"},
  };
  for (const auto& c : cases) {
    const CommandResult r = run_client(home, c.args);
    std::string what;
    for (const auto& a : c.args) what += " " + a;
    EXPECT_EQ(r.exit_code, 2) << what << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, c.in_stderr)) << what << ": expected '" << c.in_stderr << "' in\n" << r.err;
    EXPECT_FALSE(fs::exists(home)) << what << ": a usage error must not create the home";
  }
}

TEST(ClientCli, BadServerUrlIsRefusedBeforeAnythingIsCreated) {
  TempDir tmp;
  const fs::path home = tmp / "home";
  struct Case {
    std::string url, reason;
  };
  const std::vector<Case> cases = {
      {"ftp://x", "minihttps: server URL must start with http:// (got 'ftp://x')\n"},
      {"https://example.org", "minihttps: server URL must start with http:// (got 'https://example.org')\n"},
      {"http://h:99999", "minihttps: server URL: bad port '99999'\n"},
      {"http://h:80a", "minihttps: server URL: bad port '80a'\n"},
      {"http://h:123456", "minihttps: server URL: bad port '123456'\n"},
      {"http://h/path", "minihttps: server URL must be http://HOST[:PORT] (got 'http://h/path')\n"},
      {"http://", "minihttps: server URL must be http://HOST[:PORT] (got 'http://')\n"},
      {"http://:8443", "minihttps: server URL: missing host\n"},
      {"http://[::1", "minihttps: server URL: unterminated IPv6 address\n"},
      {"http://h:", "minihttps: server URL: empty port\n"},
  };
  for (const auto& c : cases) {
    // A bad URL is a mistake on the command line: exit 2 (usage), before any key is made.
    const CommandResult r = run_client(home, {"connect", "--server", c.url, "--name", "alice", "--rsa-bits", "2048"});
    EXPECT_EQ(r.exit_code, 2) << c.url << "\n" << describe(r);
    EXPECT_EQ(r.err, c.reason) << c.url;
    EXPECT_FALSE(fs::exists(home / "identity.pem")) << c.url << ": no key is made for a bad URL";
  }
}

TEST(ClientCli, ConnectWithoutServerIsRefused) {
  TempDir tmp;
  const CommandResult r = test::run_process(
      {test::client_binary().string(), "--home", (tmp / "home").string(), "connect", "--name", "alice"}, {}, 30s,
      {"MINIHTTPS_SERVER="});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err, "minihttps: connect needs --server http://HOST:PORT\n");
}

TEST(ClientCli, WhoamiWithoutAnythingSaysWhatToDo) {
  TempDir tmp;
  const fs::path home = tmp / "home";
  // No server remembered and none given.
  const CommandResult none = test::run_process(
      {test::client_binary().string(), "--home", home.string(), "whoami"}, {}, 30s, {"MINIHTTPS_SERVER="});
  EXPECT_EQ(none.exit_code, 2) << describe(none);
  EXPECT_EQ(none.err, "minihttps: no server: pass --server http://HOST:PORT (or set MINIHTTPS_SERVER)\n");
  // A server, but no session with it.
  const CommandResult r = run_client(home, {"whoami", "--server", "http://127.0.0.1:9"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err,
            "minihttps: not connected to http://127.0.0.1:9: run minihttps connect --server http://127.0.0.1:9 --name NAME\n");
  // MINIHTTPS_SERVER stands in for --server.
  const CommandResult env = test::run_process({test::client_binary().string(), "--home", home.string(), "whoami"}, {},
                                              30s, {"MINIHTTPS_SERVER=http://127.0.0.1:9"});
  EXPECT_EQ(env.exit_code, 4) << describe(env);
  EXPECT_TRUE(contains(env.err, "not connected to http://127.0.0.1:9")) << env.err;
}

TEST(ClientCli, InvalidNameIsRefused) {
  ServerProcess server;
  TempDir tmp;
  for (const std::string& name : std::vector<std::string>{"a b", "-x", std::string(33, 'n')}) {
    const CommandResult r =
        run_client(tmp / "home", {"connect", "--server", server.url(), "--name", name, "--rsa-bits", "2048"});
    EXPECT_EQ(r.exit_code, 2) << name << "\n" << describe(r);
    EXPECT_EQ(r.err, "minihttps: name must be 1-32 characters of A-Z a-z 0-9 . _ - (got '" + name + "')\n");
    EXPECT_FALSE(fs::exists(tmp / "home" / "sessions")) << name;
    EXPECT_FALSE(fs::exists(tmp / "home" / "identity.pem")) << name << ": the name is checked before a key is made";
  }
}

TEST(ClientCli, NothingListeningIsANetworkError) {
  TempDir tmp;
  const fs::path home = tmp / "home";
  const std::uint16_t port = unused_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const CommandResult r = run_client(home, {"connect", "--server", url, "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "minihttps: cannot connect to 127.0.0.1:" + std::to_string(port) + ": ")) << r.err;
  EXPECT_TRUE(contains(r.err, "refused")) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(home / "sessions"));
  EXPECT_FALSE(fs::exists(home / "known_servers"));
}

TEST(ClientCli, QuietConnectPrintsNothing) {
  ServerProcess server;
  TempDir tmp;
  const CommandResult r =
      run_client(tmp / "home", {"--quiet", "connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(fs::exists(tmp / "home" / "known_servers"));
}

TEST(ClientCli, VerboseConnectShowsTheExchange) {
  ServerProcess server;
  TempDir tmp;
  // Global options may follow the command (fallthrough).
  const CommandResult r =
      run_client(tmp / "home", {"connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048", "-v"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "> POST " + server.url() + "/auth/handshake\n< 200\n")) << r.err;
}

TEST(ClientAgainstBadServers, UnansweredRequestTimesOut) {
  FakeServer silent(nullptr);
  TempDir tmp;
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = run_client(tmp / "home", {"--timeout", "1", "connect", "--server", silent.url(), "--name",
                                                    "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "timed out")) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
}

TEST(ClientAgainstBadServers, ReplyWithABadSignatureIsNotTrustedOnFirstUse) {
  const Ed25519KeyPair key = Ed25519KeyPair::generate();
  FakeServer fake([&](const std::string& hello) {
    std::string reply = signed_reply(hello, key);
    handshake::ServerReply r = handshake::parse_server_reply(reply);
    r.signature[5] ^= 1;
    return FakeServer::http(200, handshake::to_json(r));
  });
  TempDir tmp;
  const CommandResult r =
      run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err, "created a new 2048-bit RSA identity in " + (tmp / "home" / "identity.pem").string() +
                       "\nminihttps: handshake: the server's signature does not verify\n");
  EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers")) << "an unverified key must not be pinned";
  EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
}

TEST(ClientAgainstBadServers, SmallOrderServerKeyIsRefused) {
  const Ed25519KeyPair key = Ed25519KeyPair::generate();
  FakeServer fake([&](const std::string& hello) {
    return FakeServer::http(200, signed_reply(hello, key, [](handshake::ServerReply& r) { r.x25519.fill(0); }));
  });
  TempDir tmp;
  const CommandResult r =
      run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "minihttps: x25519: peer key is a small-order point\n")) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
  EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
}

TEST(ClientAgainstBadServers, HonestStandInIsAccepted) {
  // Control for the two tests above: the same stand-in with an untouched reply works.
  const Ed25519KeyPair key = Ed25519KeyPair::generate();
  FakeServer fake([&](const std::string& hello) { return FakeServer::http(200, signed_reply(hello, key)); });
  TempDir tmp;
  const CommandResult r =
      run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(test::read_file(tmp / "home" / "known_servers"),
            "127.0.0.1:" + fake.url().substr(fake.url().rfind(':') + 1) + " " + ed25519_fingerprint(key.public_key()) + "\n");
}

TEST(ClientAgainstBadServers, MalformedOrRefusingRepliesAreReported) {
  struct Case {
    std::string response;
    int exit_code;
    std::string err;
  };
  const std::vector<Case> cases = {
      {FakeServer::http(200, "not json"), 1, "minihttps: handshake: message is not a JSON object\n"},
      {FakeServer::http(200, "{}"), 1, "minihttps: handshake: missing field 'version'\n"},
      {FakeServer::http(500, "oops"), 1, "minihttps: handshake refused: HTTP 500\n"},
      {FakeServer::http(429, R"({"error":"rate_limited","reason":"slow down"})", "Retry-After: 1\r\n"), 1,
       "minihttps: handshake refused: slow down\n"},
      {FakeServer::http(403, R"({"error":"forbidden","reason":"go away"})"), 4, "minihttps: handshake refused: go away\n"},
      {FakeServer::http(200, std::string(64 * 1024, 'x')), 3, "minihttps: response body too large\n"},
  };
  TempDir tmp;
  const RsaPrivateKey identity = RsaPrivateKey::generate(2048);
  fs::create_directories(tmp / "home");
  test::write_file(tmp / "home" / "identity.pem", identity.pem());
  fs::permissions(tmp / "home" / "identity.pem", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  for (const auto& c : cases) {
    FakeServer fake([&](const std::string&) { return c.response; });
    const CommandResult r = run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice"});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.response.substr(0, 80) << "\n" << describe(r);
    EXPECT_EQ(r.err, c.err) << c.response.substr(0, 80);
    EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
    EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
  }
}

TEST(ClientCli, IdentityReadableByOthersIsRefused) {
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";
  ASSERT_EQ(run_client(home, {"connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"}).exit_code, 0);
  fs::permissions(home / "identity.pem", fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  const CommandResult r = run_client(home, {"connect", "--server", server.url(), "--name", "alice"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err, "minihttps: " + (home / "identity.pem").string() + " is readable by others; run: chmod 600 " +
                       (home / "identity.pem").string() + "\n");
  const CommandResult w = run_client(home, {"whoami"});
  EXPECT_EQ(w.exit_code, 4) << describe(w);
}

TEST(ClientCli, CorruptSessionFileDoesNotBlockConnect) {
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";
  ASSERT_EQ(run_client(home, {"connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"}).exit_code, 0);
  const fs::path session = home / "sessions" / ("127.0.0.1_" + std::to_string(server.port()) + ".json");
  test::write_file(session, "garbage");
  // whoami rightly says the file is broken and to connect again ...
  const CommandResult w = run_client(home, {"whoami"});
  EXPECT_EQ(w.exit_code, 1) << describe(w);
  EXPECT_EQ(w.err, "minihttps: " + session.string() + " is not valid; run minihttps connect again\n");
  // ... so connect must get past it (it only wants the old UUID from it).
  const CommandResult r = run_client(home, {"connect", "--server", server.url(), "--name", "alice"});
  EXPECT_EQ(r.exit_code, 0) << "BUG: connect refuses with the advice to run connect: " << describe(r);
}

TEST(ClientCli, SmallIdentityKeyIsRefusedBeforeAnythingIsSent) {
  // A 1024-bit identity (made by another tool) cannot sign RSA-PSS-SHA512 with a 64-byte salt.
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";
  const CommandResult gen =
      test::run_process({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"}, {}, 30s);
  ASSERT_EQ(gen.exit_code, 0) << describe(gen);
  fs::create_directories(home);
  test::write_file(home / "identity.pem", gen.out);
  fs::permissions(home / "identity.pem", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  const CommandResult r = run_client(home, {"connect", "--server", server.url(), "--name", "alice"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: " + (home / "identity.pem").string() +
                       " is a 1024-bit key; minihttps needs 2048-4096 bits (move it away to create a new one)\n");
  EXPECT_FALSE(fs::exists(home / "known_servers"));
  EXPECT_FALSE(server.wait_for_stderr("/auth/handshake", 200ms)) << "nothing reached the server";
}

// ---- minihttpsd ------------------------------------------------------------------------------------

TEST(ServerCli, HelpListsOptionsWithDefaults) {
  const CommandResult r = run_server_binary({"--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* s : {"--listen", "127.0.0.1:8443", "--root", "--keys", "--threads", "--session-ttl", "3600",
                        "--max-skew", "60", "--max-clients", "10000", "--handshake-rate", "--handshake-burst",
                        "--max-connections", "20000", "--max-header-bytes", "--request-timeout", "--grace",
                        "--log-level", "info", "--no-access-log", "--config"})
    EXPECT_TRUE(contains(r.out, s)) << "missing '" << s << "' in\n" << r.out;
}

TEST(ServerCli, BadOptionsExitWith2NamingTheOption) {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    std::string in_stderr;
  };
  const std::vector<Case> cases = {
      {{"--threads", "-1"}, "--threads"},
      {{"--threads", "257"}, "--threads"},
      {{"--listen", "nonsense"}, "--listen"},
      {{"--listen", "127.0.0.1:65536"}, "--listen"},
      {{"--listen", "127.0.0.1:"}, "--listen"},
      {{"--max-skew", "0"}, "--max-skew"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--max-clients", "0"}, "--max-clients"},
      {{"--no-such-option"}, "--no-such-option"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"--keys", (tmp / "keys").string(), "--root", tmp.path().string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CommandResult r = run_server_binary(args, 10s);
    std::string what;
    for (const auto& a : c.args) what += " " + a;
    EXPECT_EQ(r.exit_code, 2) << what << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, c.in_stderr)) << what << ": expected '" << c.in_stderr << "' in\n" << r.err;
    EXPECT_FALSE(contains(r.out, "listening on")) << what;
  }
}

TEST(ServerCli, ListenOnAnAddressInUseFails) {
  ServerProcess first;
  TempDir tmp;
  const CommandResult r = run_server_binary(
      {"--listen", first.authority(), "--keys", (tmp / "keys").string(), "--root", tmp.path().string()}, 10s);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "listen: cannot bind " + first.authority() + ": ")) << r.err;
}

TEST(ServerCli, StartsPrintsItsAddressAndStopsOnSigterm) {
  TempDir tmp;
  auto server = std::make_unique<ServerProcess>(test::with_keys(tmp / "keys"));
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(server->fingerprint().rfind("SHA256:", 0), 0u);
  EXPECT_EQ(server->fingerprint().size(), 7u + 43u);
  EXPECT_TRUE(contains(server->stdout_text(), "listening on " + server->url() + "\nfingerprint " + server->fingerprint() + "\n"))
      << server->stdout_text();
  // The key was created in --keys, secret 0600.
  EXPECT_TRUE(fs::exists(tmp / "keys" / "server_ed25519.key"));
  EXPECT_EQ(fs::status(tmp / "keys" / "server_ed25519.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(server->running());
  server->kill(SIGTERM);
  EXPECT_EQ(server->wait_exit(5s), 0) << server->stderr_text();
  EXPECT_FALSE(server->running());
  EXPECT_TRUE(contains(server->stderr_text(), "SIGTERM received")) << server->stderr_text();

  // Started again with the same keys: the same fingerprint.
  const std::string fp = server->fingerprint();
  server->restart();
  EXPECT_EQ(server->fingerprint(), fp);
  EXPECT_TRUE(server->running());
}

// The harness itself: a server that cannot start is reported with what it said, and no process
// is left behind by ServerProcess or run_process.
TEST(ServerHarness, StartFailureIsReportedAndNothingIsLeftBehind) {
  try {
    ServerProcess bad(test::with_args({"--threads", "-1"}));
    ADD_FAILURE() << "a server with a bad option started";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "minihttpsd did not start")) << e.what();
    EXPECT_TRUE(contains(e.what(), "--threads: Value -1 not in range 0 to 256")) << e.what();
  }
  pid_t pid = 0;
  {
    ServerProcess server;
    pid = server.pid();
    EXPECT_GT(pid, 0);
    EXPECT_EQ(::kill(pid, 0), 0);
    server.restart();
    EXPECT_NE(server.pid(), pid);
    EXPECT_EQ(::kill(pid, 0), -1) << "the first run was reaped";
    EXPECT_TRUE(contains(server.stderr_text(), "[minihttpsd exited: 0]")) << server.stderr_text();
    pid = server.pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1) << "stopped and reaped";
  // A command that outlives its timeout is killed and reaped.
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = test::run_process({"sleep", "30"}, {}, 300ms);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_TRUE(contains(r.err, "killed after 300 ms")) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  int status = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "no child left";
  EXPECT_EQ(errno, ECHILD);
}

TEST(ServerCli, SecretKeyReadableByOthersIsRefused) {
  TempDir tmp;
  { ServerProcess once(test::with_keys(tmp / "keys")); }
  fs::permissions(tmp / "keys" / "server_ed25519.key", fs::perms::group_read, fs::perm_options::add);
  const CommandResult r = run_server_binary(
      {"--listen", "127.0.0.1:0", "--keys", (tmp / "keys").string(), "--root", tmp.path().string()}, 10s);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "server_ed25519.key is readable by others; run: chmod 600")) << r.err;
}

// Writes below the upload directory go by name: another user who could write there could plant
// symlinks. The server will not start on such a directory.
TEST(ServerCli, UploadDirectoryWritableByOthersIsRefused) {
  TempDir tmp;
  fs::create_directories(tmp / "uploads");
  fs::permissions(tmp / "uploads", fs::perms::all);  // 0777
  const CommandResult r = run_server_binary({"--listen", "127.0.0.1:0", "--keys", (tmp / "keys").string(), "--root",
                                             tmp.path().string(), "--upload-dir", (tmp / "uploads").string(),
                                             "--control-socket", "off"},
                                            10s);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "uploads is writable by other users or owned by another; run: chown $(id -u) ")) << r.err;
  fs::permissions(tmp / "uploads", fs::perms::owner_all, fs::perm_options::replace);
  test::ServerOptions o = test::with_keys(tmp / "keys");
  o.upload_dir = tmp / "uploads";
  ServerProcess fine(o);
  EXPECT_TRUE(fine.running());
}

}  // namespace
}  // namespace mh
