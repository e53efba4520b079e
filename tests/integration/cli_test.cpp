// The command lines of minihttps and minihttpsd: help, usage errors and their exit codes
// (minihttps: 0 ok, 1 refused/local, 2 usage, 3 network, 4 auth/trust, 5 integrity); the client
// against stand-in minihttps/2 servers that lie in the discovery document or the handshake reply;
// and downloads that stop half-way (Ctrl-C, a cut or stalled connection, a file that changed)
// and what `get -C` makes of them.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/ed25519.hpp"
#include "core/fernet.hpp"
#include "core/handshake.hpp"
#include "core/rsa.hpp"
#include "core/stream.hpp"
#include "core/strict_json.hpp"
#include "core/uuid.hpp"
#include "core/x25519.hpp"
#include "io/system_clock.hpp"
#include "support/interactive_process.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using test::CommandResult;
using test::run_client;
using test::run_server_binary;
using test::ServerProcess;
using test::TempDir;

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

// A socket listening on 127.0.0.1 on a free port; the port in *port.
int listen_on_loopback(std::uint16_t* port, const std::string& who) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(who + ": cannot listen");
  *port = ntohs(a.sin_port);
  return fd;
}

// One request as a stand-in server received it: the request line and the body.
struct FakeRequest {
  std::string line, body;
};

// A minimal stand-in server: answers every request with respond(request) (a whole HTTP
// response), or never answers when respond is empty. For client behaviour against broken or
// hostile servers.
class FakeServer {
 public:
  using Respond = std::function<std::string(const FakeRequest&)>;
  explicit FakeServer(Respond respond) : respond_(std::move(respond)), fd_(listen_on_loopback(&port_, "fake server")) {
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

  static std::string http(int status, const std::string& body, const std::string& extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
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
    const FakeRequest req{in.substr(0, in.find("\r\n")),
                          head_end == std::string::npos ? std::string() : in.substr(head_end, want)};
    const std::string out = respond_(req);
    for (std::size_t off = 0; off < out.size();) {
      const ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
  }

  Respond respond_;
  std::uint16_t port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// What a stand-in minihttps/2 server does to its handshake reply after the server's own code
// (core/handshake) made it.
enum class ReplyTweak {
  none,
  flip_signature,  // the Ed25519 signature over TH2, one bit off (re-sealed under the reply key)
  wrong_key,       // sealed under a key the client cannot derive (a server without the static key)
  small_order,     // the server's ephemeral X25519 key replaced by a small-order point
};

// The keys of a stand-in minihttps/2 server (an identity key and the static key it vouched for)
// and the answers made with them.
struct FakeV2 {
  Ed25519KeyPair identity = Ed25519KeyPair::generate();
  X25519KeyPair static_key = X25519KeyPair::generate();

  // GET /.well-known/minihttps, as docs/PROTOCOL.md §2 shows it; `tweak` may change it.
  std::string discovery(const std::function<void(json&)>& tweak = {}) const {
    json j = {{"chunk_size", 262144},
              {"fingerprint", ed25519_fingerprint(identity.public_key())},
              {"handshake", "/auth/handshake"},
              {"protocol", "minihttps/2"},
              {"public_key", b64u(identity.public_key())},
              {"sealed", "/.well-known/minihttps/sealed"},
              {"static_key", b64u(static_key.public_key)},
              {"static_signature", b64u(handshake::sign_static_key(identity, static_key.public_key))},
              {"version", 2}};
    if (tweak) tweak(j);
    return j.dump();
  }

  // The reply to `hello` that the server's handshake code makes, then tweaked.
  std::string reply_to(const std::string& hello, ReplyTweak tweak = ReplyTweak::none) const {
    const io::SystemClock clock;
    const X25519KeyPair ephemeral = X25519KeyPair::generate();
    handshake::ServerHandshake hs(identity, static_key, {}, clock, {.ephemeral = ephemeral});
    hs.consume_hello(hello);
    handshake::Envelope reply = handshake::parse_envelope(hs.create_reply(Uuid::random_v4()).reply_json);
    switch (tweak) {
      case ReplyTweak::none: break;
      case ReplyTweak::flip_signature: {
        // The reply key as both ends derive it (§3.3), to open the reply and seal it again.
        const X25519Public client = handshake::parse_envelope(hello).x25519;
        const handshake::ServerKeys mine{identity.public_key(), static_key.public_key};
        const FernetKey key =
            handshake::reply_key(x25519_shared(ephemeral.secret, client), x25519_shared(static_key.secret, client),
                                 handshake::transcript1(mine, client, hs.identity()));
        handshake::ReplyIdentity r = handshake::parse_reply_identity(as_chars(fernet_decrypt(key, reply.sealed, 0)));
        r.signature[5] ^= 1;
        reply.sealed = fernet_encrypt(key, as_bytes(handshake::to_json(r)), clock.now());
        break;
      }
      case ReplyTweak::wrong_key:
        reply.sealed = fernet_encrypt(FernetKey::generate(), as_bytes(std::string_view("{}")), clock.now());
        break;
      case ReplyTweak::small_order: reply.x25519.fill(0); break;
    }
    return handshake::to_json(reply);
  }

  // A stand-in server: the discovery document, `handshake(hello)` for the handshake, and
  // `other(request)` for everything else (404 when empty).
  FakeServer::Respond serve(std::function<std::string(const std::string& hello)> handshake,
                            FakeServer::Respond other = {}) const {
    return [this, handshake = std::move(handshake), other = std::move(other)](const FakeRequest& r) {
      if (r.line == "GET /.well-known/minihttps HTTP/1.1") return FakeServer::http(200, discovery());
      if (r.line == "POST /auth/handshake HTTP/1.1") return handshake(r.body);
      if (other) return other(r);
      return FakeServer::http(404, R"({"error":"not_found","reason":"file: not found"})");
    };
  }
  // One that answers every handshake honestly.
  FakeServer::Respond honest(FakeServer::Respond other = {}) const {
    return serve([this](const std::string& hello) { return FakeServer::http(200, reply_to(hello)); }, std::move(other));
  }
};

// A TCP relay between the client and the real server. It records, per connection, the head of
// the server's answer and how many bytes of body it passed on after it, and can stop passing the
// body on after `limit` bytes: Stop::hold sends nothing more until release() (a stalled
// network), Stop::cut closes both ends (a broken one).
class Relay {
 public:
  enum class Stop { never, hold, cut };
  struct Transfer {
    std::string head;        // the answer's head, up to and with the empty line
    std::uint64_t body = 0;  // body bytes passed on to the client
  };

  explicit Relay(std::uint16_t server_port)
      : server_port_(server_port), listen_fd_(listen_on_loopback(&port_, "relay")) {
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~Relay() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // For the connections accepted from now on.
  void stop_after(std::uint64_t body_bytes, Stop how) {
    std::lock_guard lock(mutex_);
    limit_ = body_bytes;
    how_ = how;
    released_ = false;
  }
  void release() { released_ = true; }
  std::vector<Transfer> transfers() const {
    std::lock_guard lock(mutex_);
    return transfers_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard lock(mutex_);
      transfers_.emplace_back();
      workers_.emplace_back(
          [this, c, index = transfers_.size() - 1, how = how_, limit = limit_] { serve(c, index, how, limit); });
    }
  }

  void serve(int client, std::size_t index, Stop how, std::uint64_t limit) {
    const int server = test::tcp_connect(server_port_);
    std::string start;                     // the answer's first bytes, until its head is complete
    std::optional<std::uint64_t> body_at;  // where the body starts in what the server sent
    std::string pending;                   // from the server, not yet passed on
    std::uint64_t passed = 0;              // bytes passed on to the client
    while (server >= 0 && !stop_) {
      // Until the head is known everything may pass; then the head and `limit` bytes of body.
      const bool limited = how != Stop::never && !released_;
      const std::uint64_t cap = !limited || !body_at ? UINT64_MAX : *body_at + limit;
      if (!pending.empty() && passed < cap) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(pending.size(), cap - passed));
        if (!test::send_all(client, std::string_view(pending).substr(0, n))) break;
        pending.erase(0, n);
        passed += n;
        std::lock_guard lock(mutex_);
        if (body_at) transfers_[index].body = passed - *body_at;
      }
      if (limited && passed == cap && how == Stop::cut) break;
      const bool held = limited && passed == cap;  // read nothing more from the server
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, held || !pending.empty() ? 1 : 2, 50) <= 0) continue;
      char buf[16384];
      if (p[0].revents) {
        const ssize_t n = ::read(client, buf, sizeof buf);
        if (n <= 0 || !test::send_all(server, std::string_view(buf, static_cast<std::size_t>(n)))) break;
      }
      if (!held && pending.empty() && p[1].revents) {
        const ssize_t n = ::read(server, buf, sizeof buf);
        if (n <= 0) break;
        pending.assign(buf, static_cast<std::size_t>(n));
        if (!body_at) {
          start.append(pending);
          if (const auto end = start.find("\r\n\r\n"); end != std::string::npos) {
            body_at = end + 4;
            std::lock_guard lock(mutex_);
            transfers_[index].head = start.substr(0, end + 4);
          }
        }
      }
    }
    if (server >= 0) ::close(server);
    ::close(client);
  }

  std::uint16_t server_port_, port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false}, released_{false};
  mutable std::mutex mutex_;
  Stop how_ = Stop::never;
  std::uint64_t limit_ = 0;
  std::vector<Transfer> transfers_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// ---- minihttps -------------------------------------------------------------------------------------

TEST(ClientCli, HelpListsCommandsAndExitCodes) {
  TempDir home;
  const CommandResult r = run_client(home.path(), {"--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* s : {"connect", "whoami", "logout", "--home", "--server", "--quiet", "--verbose", "--timeout",
                        "Exit codes: 0 ok, 1 refused by the server or local error, 2 usage, 3 network,",
                        "4 authentication/trust, 5 integrity (nothing unverified was written)."})
    EXPECT_TRUE(contains(r.out, s)) << "missing '" << s << "' in\n" << r.out;
  EXPECT_EQ(r.err, "");

  const CommandResult sub = run_client(home.path(), {"connect", "--help"});
  EXPECT_EQ(sub.exit_code, 0) << describe(sub);
  for (const char* s : {"--name", "--fingerprint", "--server-key", "--rsa-bits", "3072"})
    EXPECT_TRUE(contains(sub.out, s)) << "missing '" << s << "' in\n" << sub.out;

  const CommandResult get = run_client(home.path(), {"get", "--help"});
  EXPECT_EQ(get.exit_code, 0) << describe(get);
  for (const char* s : {"-o,--output", "--uploads", "-C,--continue", "from FILE.part, if the file did not change"})
    EXPECT_TRUE(contains(get.out, s)) << "missing '" << s << "' in\n" << get.out;
  // Still accepted (scripts use it) but no longer shown: minihttps/2 checks no token's age.
  EXPECT_FALSE(contains(get.out, "--max-token-age")) << get.out;
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
      {{"frobnicate"}, "unknown command 'frobnicate'"},  // more in ClientUxCli.MistypedCommandNamesTheNearestOne
      {{"connect", "--server", "http://127.0.0.1:1", "--name"}, "--name: 1 required TEXT missing"},
      {{"connect", "--server", "http://127.0.0.1:1", "--name", "a", "--rsa-bits", "1024"}, "--rsa-bits"},
      {{"connect", "--server", "http://127.0.0.1:1", "--name", "a", "--fingerprint", "SHA256:x", "--server-key",
        "k.pub"},
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
      {"ftp://x", "minihttps: server URL must be HOST:PORT, http://HOST:PORT or https://HOST:PORT (got 'ftp://x')\n"},
      {"https://h/path",
       "minihttps: server URL must be HOST:PORT, http://HOST:PORT or https://HOST:PORT (got 'https://h/path')\n"},
      {"https://h:65536", "minihttps: server URL: bad port '65536'\n"},
      {"http://h:99999", "minihttps: server URL: bad port '99999'\n"},
      {"http://h:80a", "minihttps: server URL: bad port '80a'\n"},
      {"http://h:123456", "minihttps: server URL: bad port '123456'\n"},
      {"http://h/path",
       "minihttps: server URL must be HOST:PORT, http://HOST:PORT or https://HOST:PORT (got 'http://h/path')\n"},
      {"http://", "minihttps: server URL must be HOST:PORT, http://HOST:PORT or https://HOST:PORT (got 'http://')\n"},
      {"h:8443/x", "minihttps: server URL must be HOST:PORT, http://HOST:PORT or https://HOST:PORT (got 'h:8443/x')\n"},
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
  EXPECT_EQ(r.err, "minihttps: no server yet: run `minihttps connect HOST:PORT`\n");
}

TEST(ClientCli, WhoamiWithoutAnythingSaysWhatToDo) {
  TempDir tmp;
  const fs::path home = tmp / "home";
  // No server remembered and none given.
  const CommandResult none = test::run_process({test::client_binary().string(), "--home", home.string(), "whoami"}, {},
                                               30s, {"MINIHTTPS_SERVER="});
  EXPECT_EQ(none.exit_code, 2) << describe(none);
  EXPECT_EQ(none.err, "minihttps: no server yet: run `minihttps connect HOST:PORT`\n");
  // A server, but no session with it.
  const CommandResult r = run_client(home, {"whoami", "--server", "http://127.0.0.1:9"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err, "minihttps: not connected to http://127.0.0.1:9: run `minihttps connect 127.0.0.1:9`\n");
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
  const CommandResult r = run_client(
      tmp / "home", {"--quiet", "connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"});
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
  EXPECT_TRUE(contains(r.err, "> GET " + server.url() + "/.well-known/minihttps\n< 200\n> POST " + server.url() +
                                  "/auth/handshake\n< 200\n"))
      << r.err;
  // A sealed request shows the real target and the session it travels under, then the real status.
  const std::string keyid = json::parse(
      test::read_file(tmp / "home" / "sessions" / ("127.0.0.1_" + std::to_string(server.port()) + ".json")))["keyid"];
  const CommandResult get = run_client(tmp / "home", {"-v", "get", "/hello.txt"});
  EXPECT_EQ(get.exit_code, 0) << describe(get);
  EXPECT_EQ(get.err, "> GET " + server.url() + "/hello.txt (sealed, session " + keyid + ")\n< 200 (sealed)\n" +
                         "13 bytes, text/plain; charset=utf-8\n");
}

TEST(ClientAgainstBadServers, UnansweredRequestTimesOut) {
  FakeServer silent(nullptr);
  TempDir tmp;
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = run_client(
      tmp / "home", {"--timeout", "1", "connect", "--server", silent.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "timed out")) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
}

// A home with an identity and nothing else (no key is made: the output starts with the error).
void make_identity(const fs::path& home) {
  static const RsaPrivateKey identity = RsaPrivateKey::generate(2048);
  fs::create_directories(home);
  test::write_file(home / "identity.pem", identity.pem());
  fs::permissions(home / "identity.pem", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

TEST(ClientAgainstBadServers, ReplyWithABadSignatureIsNotTrustedOnFirstUse) {
  const FakeV2 v2;
  FakeServer fake(v2.serve(
      [&](const std::string& hello) { return FakeServer::http(200, v2.reply_to(hello, ReplyTweak::flip_signature)); }));
  TempDir tmp;
  const CommandResult r =
      run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err, "created a new 2048-bit RSA identity in " + (tmp / "home" / "identity.pem").string() +
                       "\nminihttps: handshake: the server's signature does not verify\n");
  EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers")) << "an unverified key must not be pinned";
  EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
}

TEST(ClientAgainstBadServers, ReplyNotSealedUnderTheReplyKeyIsNotTrusted) {
  // What an on-path attacker without the server's static key can send at best.
  const FakeV2 v2;
  FakeServer fake(v2.serve(
      [&](const std::string& hello) { return FakeServer::http(200, v2.reply_to(hello, ReplyTweak::wrong_key)); }));
  TempDir tmp;
  make_identity(tmp / "home");
  const CommandResult r = run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err, "minihttps: handshake: the reply does not open: not the server holding the static key\n");
  EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
  EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
}

TEST(ClientAgainstBadServers, SmallOrderServerKeyIsRefused) {
  const FakeV2 v2;
  FakeServer fake(v2.serve(
      [&](const std::string& hello) { return FakeServer::http(200, v2.reply_to(hello, ReplyTweak::small_order)); }));
  TempDir tmp;
  const CommandResult r =
      run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "minihttps: x25519: peer key is a small-order point\n")) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
  EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
}

TEST(ClientAgainstBadServers, HonestStandInIsAccepted) {
  // Control for the tests above: the same stand-in with an untouched reply works.
  const FakeV2 v2;
  FakeServer fake(v2.honest());
  TempDir tmp;
  const CommandResult r =
      run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice", "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(test::read_file(tmp / "home" / "known_servers"),
            fake.authority() + " " + ed25519_fingerprint(v2.identity.public_key()) + "\n");
  EXPECT_EQ(fake.requests(), 2) << "the discovery document, then the handshake";
}

// The discovery document (docs/PROTOCOL.md §2) is not authenticated: the client believes the
// static key only when the pinned identity key signed it.
TEST(ClientAgainstBadServers, DiscoveryProblemsAreReportedAndNothingIsPinned) {
  const FakeV2 v2;
  const FakeV2 other;
  struct Case {
    std::string discovery;
    int exit_code;
    std::string err;
  };
  const std::vector<Case> cases = {
      // A static key of the attacker's, "vouched for" by another identity key.
      {v2.discovery([&](json& j) {
         j["static_key"] = b64u(other.static_key.public_key);
         j["static_signature"] = b64u(handshake::sign_static_key(other.identity, other.static_key.public_key));
       }),
       4, "minihttps: handshake: the server's static key is not signed by its identity key\n"},
      // A signed static key of small order would give the hello no secrecy.
      {v2.discovery([&](json& j) {
         X25519Public zero{};
         j["static_key"] = b64u(zero);
         j["static_signature"] = b64u(handshake::sign_static_key(v2.identity, zero));
       }),
       1, "minihttps: x25519: peer key is a small-order point\n"},
      {v2.discovery([](json& j) { j["fingerprint"] = "SHA256:" + std::string(43, 'A'); }), 1,
       "minihttps: discovery: the fingerprint is not the public key's\n"},
      // A version-1 server's document.
      {json{{"fingerprint", ed25519_fingerprint(v2.identity.public_key())},
            {"handshake", "/auth/handshake"},
            {"protocol", "minihttps/1"},
            {"public_key", b64u(v2.identity.public_key())},
            {"version", 1}}
           .dump(),
       1,
       "minihttps: discovery: the server does not speak minihttps/2 (update the server or use a version-1 client)\n"},
      {"not json", 1, "minihttps: discovery: message is not a JSON object\n"},
  };
  TempDir tmp;
  make_identity(tmp / "home");
  for (const auto& c : cases) {
    FakeServer fake([&](const FakeRequest& r) {
      return r.line.rfind("GET /.well-known/minihttps ", 0) == 0 ? FakeServer::http(200, c.discovery)
                                                                 : FakeServer::http(500, "{}");
    });
    const CommandResult r = run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice"});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.discovery << "\n" << describe(r);
    EXPECT_EQ(r.err, c.err) << c.discovery;
    EXPECT_EQ(fake.requests(), 1) << "no hello is sent: " << c.discovery;
    EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
    EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
  }
  // A server that does not offer the document at all.
  FakeServer old(
      [](const FakeRequest&) { return FakeServer::http(404, R"({"error":"not_found","reason":"file: not found"})"); });
  const CommandResult r = run_client(tmp / "home", {"connect", "--server", old.url(), "--name", "alice"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: the server at " + old.authority() + " does not offer minihttps/2: file: not found\n");
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
      {FakeServer::http(200, R"({"version":1})"), 1,
       "minihttps: handshake: protocol version 1 is not supported; this server speaks minihttps/2 (update the "
       "client)\n"},
      {FakeServer::http(200, R"({"version":2,"x25519":"AAAA","sealed":""})"), 1,
       "minihttps: handshake: field 'x25519' has the wrong length\n"},
      {FakeServer::http(500, "oops"), 1, "minihttps: handshake refused: HTTP 500\n"},
      {FakeServer::http(429, R"({"error":"rate_limited","reason":"slow down"})", "Retry-After: 1\r\n"), 1,
       "minihttps: handshake refused: slow down\n"},
      {FakeServer::http(403, R"({"error":"forbidden","reason":"go away"})"), 4,
       "minihttps: handshake refused: go away\n"},
      {FakeServer::http(200, std::string(64 * 1024, 'x')), 3, "minihttps: response body too large\n"},
  };
  TempDir tmp;
  make_identity(tmp / "home");
  const FakeV2 v2;
  for (const auto& c : cases) {
    FakeServer fake(v2.serve([&](const std::string&) { return c.response; }));
    const CommandResult r = run_client(tmp / "home", {"connect", "--server", fake.url(), "--name", "alice"});
    EXPECT_EQ(r.exit_code, c.exit_code) << c.response.substr(0, 80) << "\n" << describe(r);
    EXPECT_EQ(r.err, c.err) << c.response.substr(0, 80);
    EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
    EXPECT_FALSE(fs::exists(tmp / "home" / "sessions"));
  }
}

// After a genuine handshake, a plain 2xx to a sealed request is refused: only refusals made
// before the signature verified travel in clear (docs/PROTOCOL.md §5.3).
TEST(ClientAgainstBadServers, PlainSuccessToASealedRequestIsRefused) {
  const FakeV2 v2;
  FakeServer fake(v2.honest([](const FakeRequest& r) {
    if (r.line != "POST /.well-known/minihttps/sealed HTTP/1.1") return FakeServer::http(400, "{}");
    return FakeServer::http(200, "forged contents");
  }));
  TempDir tmp;
  make_identity(tmp / "home");
  ASSERT_EQ(run_client(tmp / "home", {"--quiet", "connect", "--server", fake.url(), "--name", "alice"}).exit_code, 0);
  const CommandResult out = run_client(tmp / "home", {"get", "hello.txt"});
  EXPECT_EQ(out.exit_code, 5) << describe(out);
  EXPECT_EQ(out.out, "");
  EXPECT_EQ(out.err, "minihttps: the server answered a sealed request in clear (HTTP 200)\n");
  TempDir dir;
  const CommandResult file = run_client(tmp / "home", {"get", "hello.txt", "-o", (dir / "hello.txt").string()});
  EXPECT_EQ(file.exit_code, 5) << describe(file);
  EXPECT_EQ(file.err, "minihttps: the server answered a sealed request in clear (HTTP 200)\n");
  EXPECT_TRUE(fs::is_empty(dir.path())) << "neither the file nor a .part";
}

TEST(ClientCli, IdentityReadableByOthersIsRefused) {
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";
  ASSERT_EQ(run_client(home, {"connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"}).exit_code,
            0);
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
  ASSERT_EQ(run_client(home, {"connect", "--server", server.url(), "--name", "alice", "--rsa-bits", "2048"}).exit_code,
            0);
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
  EXPECT_FALSE(server.wait_for_stderr(" access ", 200ms)) << "nothing reached the server";
}

// A version-1 session file (a Fernet session key, the UUID as keyid) is of no use to
// minihttps/2: the client asks for a new handshake instead of failing on the file.
TEST(ClientCli, VersionOneSessionAsksToConnectAgain) {
  TempDir tmp;
  const fs::path home = tmp / "home";
  make_identity(home);
  fs::create_directories(home / "sessions");
  test::write_file(home / "sessions" / "127.0.0.1_9.json", json{{"server", "http://127.0.0.1:9"},
                                                                {"name", "alice"},
                                                                {"uuid", Uuid::random_v4().to_string()},
                                                                {"session_key", FernetKey::generate().format()},
                                                                {"expires", std::time(nullptr) + 3600}}
                                                               .dump());
  const CommandResult r = run_client(home, {"whoami", "--server", "http://127.0.0.1:9"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err, "minihttps: not connected to http://127.0.0.1:9: run `minihttps connect 127.0.0.1:9`\n");
}

// ---- get: downloads that stop, and -C -----------------------------------------------------------

// The real server (4 KiB chunks) behind a Relay, and a client connected through it.
class Download : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kChunk = 4096;
  // 64 whole chunks and a short final one.
  static constexpr std::uint64_t kSize = 64 * kChunk + 100;
  // Where the relay cuts: 32 whole tokens and half of the next, so 32 chunks open.
  static std::uint64_t half_stream() { return 32 * stream::token_length(kChunk) + stream::token_length(kChunk) / 2; }
  static constexpr std::uint64_t kHalf = 32 * kChunk;  // the bytes those 32 chunks hold
  // Where the relay stalls: 48 whole tokens and half of the next. A stalled client has written at
  // least half of the file by then, but how much more depends on what it still holds (chunks its
  // workers opened after it went back to the network).
  static std::uint64_t stall_point() { return 48 * stream::token_length(kChunk) + stream::token_length(kChunk) / 2; }

  static void SetUpTestSuite() {
    server_ = new ServerProcess(test::with_args({"--chunk-size", std::to_string(kChunk)}));
    relay_ = new Relay(server_->port());
    home_ = new TempDir();
    const CommandResult r = run_client(
        home_->path(), {"--quiet", "connect", "--server", relay_->url(), "--name", "downloader", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
  }
  static void TearDownTestSuite() {
    delete home_;
    delete relay_;
    delete server_;
  }
  void TearDown() override { relay_->stop_after(0, Relay::Stop::never); }

  // A file of kSize bytes (or `size`) in the server's root; returns its contents.
  static std::string serve_file(const std::string& name, std::uint32_t seed, std::uint64_t size = kSize) {
    const std::string data(as_chars(test::pattern_bytes(static_cast<std::size_t>(size), seed)));
    test::write_file(server_->root() / name, data);
    return data;
  }
  static CommandResult client(const std::vector<std::string>& args) { return run_client(home_->path(), args); }
  static std::vector<std::string> client_argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {test::client_binary().string(), "--home", home_->path().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  // Waits until `file` holds `size` bytes (or more, with at_least).
  static bool wait_for_size(const fs::path& file, std::uint64_t size, std::chrono::milliseconds timeout,
                            bool at_least = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::error_code ec;
    for (std::uint64_t n; n = fs::file_size(file, ec), ec || (at_least ? n < size : n != size);) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
  static std::string record_of(const fs::path& file) { return file.string() + ".part.minihttps"; }

  static ServerProcess* server_;
  static Relay* relay_;
  static TempDir* home_;
};
ServerProcess* Download::server_ = nullptr;
Relay* Download::relay_ = nullptr;
TempDir* Download::home_ = nullptr;

// Ctrl-C half-way keeps FILE.part and its record; -C then asks for the rest only and completes
// the file byte for byte.
TEST_F(Download, InterruptedDownloadContinuesWithOnlyTheRest) {
  const std::string data = serve_file("big.bin", 7);
  TempDir out;
  const fs::path file = out / "big.bin", part = out / "big.bin.part";
  relay_->stop_after(stall_point(), Relay::Stop::hold);
  test::InteractiveProcess get(client_argv({"get", "big.bin", "-o", file.string()}));
  ASSERT_TRUE(wait_for_size(part, kHalf, 15s, true)) << get.err();
  // The stalled client has written what it will; the record counts a chunk right after writing
  // it: give that moment, then press Ctrl-C.
  std::this_thread::sleep_for(300ms);
  get.kill(SIGINT);
  EXPECT_EQ(get.wait_exit(15s), 130) << get.err();
  const std::uint64_t kept = fs::file_size(part);
  EXPECT_EQ(kept % kChunk, 0u);
  EXPECT_GE(kept, kHalf);
  EXPECT_EQ(get.err(), "\nminihttps: interrupted: kept " + part.string() + " (" + std::to_string(kept) + " of " +
                           std::to_string(kSize) + " bytes verified); run the same get with -C to continue\n");
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(test::read_file(part), data.substr(0, kept));
  const json record = json::parse(test::read_file(record_of(file)));
  EXPECT_EQ(record["server_fingerprint"], server_->fingerprint());
  EXPECT_EQ(record["path"], "/big.bin");
  EXPECT_TRUE(record["etag"].is_string()) << record;
  EXPECT_EQ(record["size"], kSize);
  EXPECT_EQ(record["chunk_size"], kChunk);
  EXPECT_EQ(record["verified"], kept);
  relay_->release();

  relay_->stop_after(0, Relay::Stop::never);
  const std::size_t before = relay_->transfers().size();
  const CommandResult r = client({"get", "big.bin", "-C", "-o", file.string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err, "saved " + file.string() + " (" + std::to_string(kSize) + " bytes, continued from byte " +
                       std::to_string(kept) + ")\n");
  EXPECT_EQ(test::read_file(file), data);
  EXPECT_FALSE(fs::exists(part));
  EXPECT_FALSE(fs::exists(record_of(file)));
  // One request, whose answer carried only the chunks from the first one not kept on: at most
  // about half of the whole stream.
  const auto transfers = relay_->transfers();
  ASSERT_EQ(transfers.size(), before + 1);
  const std::uint64_t rest = stream::Layout::chunks(kSize, kChunk, kept / kChunk, 64).stream_length();
  const std::uint64_t whole = stream::Layout::whole(kSize, kChunk).stream_length();
  EXPECT_EQ(transfers.back().body, rest);
  EXPECT_LE(transfers.back().body * 100, whole * 55) << transfers.back().body << " of " << whole;
  EXPECT_TRUE(contains(transfers.back().head, "\r\nContent-Length: " + std::to_string(rest) + "\r\n"))
      << transfers.back().head;
}

// A broken connection keeps FILE.part too; when the file then changes on the server, -C refuses
// to join two versions, and leaves FILE.part as it was. Removing it starts again, as advised.
TEST_F(Download, ContinuingAFileThatChangedIsRefused) {
  const std::string data = serve_file("changing.bin", 8);
  TempDir out;
  const fs::path file = out / "changing.bin", part = out / "changing.bin.part";
  relay_->stop_after(half_stream(), Relay::Stop::cut);
  const CommandResult cut = client({"get", "changing.bin", "-o", file.string()});
  EXPECT_EQ(cut.exit_code, 5) << describe(cut);
  // The stream's own reason (PROTOCOL.md §6.3): chunks 0-31 opened, the 33rd never came whole.
  EXPECT_EQ(cut.err,
            "minihttps: the stream ended after chunk 31, before its last chunk: the output is incomplete; kept " +
                part.string() + " (" + std::to_string(kHalf) + " of " + std::to_string(kSize) +
                " bytes verified): run the same get with -C to continue\n");
  EXPECT_EQ(test::read_file(part), data.substr(0, kHalf));
  const std::string record = test::read_file(record_of(file));
  const std::string old_etag = json::parse(record)["etag"];
  relay_->stop_after(0, Relay::Stop::never);

  const std::string changed = serve_file("changing.bin", 9, kSize + 5000);
  test::SignedClient signer(home_->path(), relay_->url());
  const test::Reply head = signer.send("HEAD", "/changing.bin");
  ASSERT_EQ(head.status, 200) << head.error;
  ASSERT_TRUE(head.head && head.head->etag);
  const std::string new_etag = *head.head->etag;
  ASSERT_NE(new_etag, old_etag);

  const CommandResult r = client({"get", "changing.bin", "-C", "-o", file.string()});
  EXPECT_EQ(r.exit_code, 5) << describe(r);
  EXPECT_EQ(r.err, "minihttps: the file changed on the server since the partial download: ETag " + old_etag +
                       " is now " + new_etag + "; remove " + part.string() + " to start again\n");
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(test::read_file(part), data.substr(0, kHalf)) << "FILE.part is left as it was";
  EXPECT_EQ(test::read_file(record_of(file)), record);

  fs::remove(part);
  const CommandResult again = client({"get", "changing.bin", "-C", "-o", file.string()});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(again.err, "saved " + file.string() + " (" + std::to_string(changed.size()) + " bytes)\n");
  EXPECT_EQ(test::read_file(file), changed);
  EXPECT_FALSE(fs::exists(record_of(file)));
}

// On stdout every chunk is written as soon as it opens, so a cut stream cannot pass for the
// whole file: it ends with exit 5 and "output incomplete", after exactly the chunks that opened.
TEST_F(Download, CutStreamToStdoutIsOutputIncomplete) {
  const std::string data = serve_file("piped.bin", 10);
  relay_->stop_after(half_stream(), Relay::Stop::cut);
  const CommandResult r = client({"get", "piped.bin"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err,
            "minihttps: output incomplete: the stream ended after chunk 31, before its last chunk: the output is "
            "incomplete\n");
  EXPECT_EQ(r.out.size(), kHalf);
  EXPECT_TRUE(r.out == data.substr(0, kHalf)) << "what was written is the start of the file";
}

// -o naming a pipe (or a device such as /dev/null) writes into it: it is never replaced by the
// downloaded file (renaming FILE.part over /dev/null once made it a regular file), and -C into
// it is refused.
TEST_F(Download, OutputIntoAPipeIsWrittenThroughAndNeverReplaced) {
  const std::string data = serve_file("to-fifo.bin", 12);
  TempDir dir;
  const fs::path fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Read and write ends held here, so neither side blocks in open() whatever the client does.
  const int fd = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string got;
  std::atomic<bool> client_done{false};
  std::thread reader([&] {
    char buf[65536];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 50);
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0)
        got.append(buf, static_cast<std::size_t>(n));
      else if (client_done)
        break;  // it has exited and the pipe is empty
    }
  });
  const CommandResult r = client({"-q", "get", "to-fifo.bin", "-o", fifo.string()});
  client_done = true;
  reader.join();
  ::close(fd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(got == data) << got.size() << " bytes";
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_FALSE(fs::exists(fifo.string() + ".part"));
  const CommandResult again = client({"get", "-C", "to-fifo.bin", "-o", fifo.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "minihttps: cannot continue into " + fifo.string() + ": it is not a regular file\n");
  EXPECT_TRUE(fs::is_fifo(fifo));
}

// minihttps/2 checks no token's age: a download that stalls for longer than --max-token-age
// (still accepted, and ignored) completes.
TEST_F(Download, SlowDownloadOutlivesALowMaxTokenAge) {
  const std::string data = serve_file("slow.bin", 11);
  TempDir out;
  const fs::path file = out / "slow.bin";
  relay_->stop_after(stall_point(), Relay::Stop::hold);
  test::InteractiveProcess get(client_argv({"get", "slow.bin", "--max-token-age", "1", "-o", file.string()}));
  ASSERT_TRUE(wait_for_size(out / "slow.bin.part", kHalf, 15s, true)) << get.err();
  // The chunks still held were sealed before the stall: by the time they arrive they are more
  // than a second old.
  std::this_thread::sleep_for(2200ms);
  relay_->release();
  EXPECT_EQ(get.wait_exit(15s), 0) << get.err();
  EXPECT_EQ(get.err(), "saved " + file.string() + " (" + std::to_string(kSize) + " bytes)\n");
  EXPECT_EQ(test::read_file(file), data);
}

// What arrived before a stall is written during it: the client's HTTP reader hands on every
// read, not whole 64 KiB blocks, and the chunks in flight (at most 6: 4 workers and 2) are all
// that may still wait. 11 tokens and a half are less than one such block.
TEST_F(Download, StalledDownloadWritesWhatArrived) {
  const std::string data = serve_file("stalled.bin", 13);
  TempDir out;
  const fs::path file = out / "stalled.bin";
  relay_->stop_after(11 * stream::token_length(kChunk) + stream::token_length(kChunk) / 2, Relay::Stop::hold);
  test::InteractiveProcess get(client_argv({"get", "stalled.bin", "-o", file.string()}));
  EXPECT_TRUE(wait_for_size(out / "stalled.bin.part", (11 - 6) * kChunk, 15s, true)) << get.err();
  relay_->release();
  EXPECT_EQ(get.wait_exit(15s), 0) << get.err();
  EXPECT_EQ(test::read_file(file), data);
}

TEST_F(Download, ContinueNeedsAFileAndStartsOverWithoutARecord) {
  const std::string data = serve_file("plain.bin", 12);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"get", "plain.bin", "-C"},
                                               std::vector<std::string>{"get", "plain.bin", "-C", "-o", "-"}}) {
    const CommandResult r = client(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_EQ(r.err, "minihttps: -C continues a download to a file: it needs -o FILE\n");
    EXPECT_EQ(r.out, "");
  }
  // A FILE.part without its record says nothing of what it holds: it is downloaded again.
  TempDir out;
  const fs::path file = out / "plain.bin", part = out / "plain.bin.part";
  test::write_file(part, std::string(3 * kChunk, 'j'));
  const CommandResult r = client({"get", "plain.bin", "-C", "-o", file.string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err, "minihttps: " + part.string() + " has no record " + record_of(file) +
                       "; downloading from the start\nsaved " + file.string() + " (" + std::to_string(kSize) +
                       " bytes)\n");
  EXPECT_EQ(test::read_file(file), data);
  EXPECT_FALSE(fs::exists(part));
}

// ---- minihttpsd ------------------------------------------------------------------------------------

TEST(ServerCli, HelpListsOptionsWithDefaults) {
  const CommandResult r = run_server_binary({"--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* s : {"--listen",
                        "127.0.0.1:8443",
                        "--root",
                        "--keys",
                        "--threads",
                        "--session-ttl",
                        "3600",
                        "--max-skew",
                        "60",
                        "--chunk-size",
                        "262144",
                        "--require-sealed",
                        "--max-clients",
                        "10000",
                        "--handshake-rate",
                        "--handshake-burst",
                        "--max-connections",
                        "20000",
                        "--max-header-bytes",
                        "--request-timeout",
                        "--grace",
                        "--log-level",
                        "info",
                        "--no-access-log",
                        "--config"})
    EXPECT_TRUE(contains(r.out, s)) << "missing '" << s << "' in\n" << r.out;
}

TEST(ServerCli, BadOptionsExitWith2NamingTheOption) {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    std::string in_stderr;
  };
  const std::vector<Case> cases = {
      {{"--threads", "-1"}, "--threads"},         {{"--threads", "257"}, "--threads"},
      {{"--listen", "nonsense"}, "--listen"},     {{"--listen", "127.0.0.1:65536"}, "--listen"},
      {{"--listen", "127.0.0.1:"}, "--listen"},   {{"--max-skew", "0"}, "--max-skew"},
      {{"--log-level", "loud"}, "--log-level"},   {{"--max-clients", "0"}, "--max-clients"},
      {{"--chunk-size", "5000"}, "--chunk-size"}, {{"--chunk-size", "2048"}, "--chunk-size"},
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
  EXPECT_TRUE(contains(server->stdout_text(),
                       "listening on " + server->url() + "\nfingerprint " + server->fingerprint() + "\n"))
      << server->stdout_text();
  // Both keys were created in --keys, secret 0600: the identity key and the static key.
  for (const char* key : {"server_ed25519.key", "server_x25519.key"}) {
    EXPECT_TRUE(fs::exists(tmp / "keys" / key)) << key;
    EXPECT_EQ(fs::status(tmp / "keys" / key).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << key;
  }
  const std::string static_key = test::read_file(tmp / "keys" / "server_x25519.key");
  EXPECT_TRUE(server->running());
  server->kill(SIGTERM);
  EXPECT_EQ(server->wait_exit(5s), 0) << server->stderr_text();
  EXPECT_FALSE(server->running());
  EXPECT_TRUE(contains(server->stderr_text(), "SIGTERM received")) << server->stderr_text();

  // Started again with the same keys: the same fingerprint and static key.
  const std::string fp = server->fingerprint();
  server->restart();
  EXPECT_EQ(server->fingerprint(), fp);
  EXPECT_EQ(test::read_file(tmp / "keys" / "server_x25519.key"), static_key);
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
  for (const char* key : {"server_ed25519.key", "server_x25519.key"}) {
    fs::permissions(tmp / "keys" / key, fs::perms::group_read, fs::perm_options::add);
    const CommandResult r = run_server_binary(
        {"--listen", "127.0.0.1:0", "--keys", (tmp / "keys").string(), "--root", tmp.path().string()}, 10s);
    EXPECT_EQ(r.exit_code, 1) << key << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, std::string(key) + " is readable by others; run: chmod 600")) << r.err;
    fs::permissions(tmp / "keys" / key, fs::perms::group_read, fs::perm_options::remove);
  }
}

// Writes below the upload directory go by name: another user who could write there could plant
// symlinks. The server will not start on such a directory.
TEST(ServerCli, UploadDirectoryWritableByOthersIsRefused) {
  TempDir tmp;
  fs::create_directories(tmp / "uploads");
  fs::permissions(tmp / "uploads", fs::perms::all);  // 0777
  const CommandResult r =
      run_server_binary({"--listen", "127.0.0.1:0", "--keys", (tmp / "keys").string(), "--root", tmp.path().string(),
                         "--upload-dir", (tmp / "uploads").string(), "--control-socket", "off"},
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
