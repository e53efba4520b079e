// The operator (issue 5): the console on a terminal (driven through a pty), the same commands
// over `minihttpsd ctl`, kick proven by the kicked session's next request failing with a plain 401
// "session unknown or ended" and the client's transparent re-handshake (same UUID, new keyid),
// graceful stop (an in-flight upload stream finishes and its sealed answer opens, exit 0; a second
// signal stops at once), the config file and the port file.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "core/rsa.hpp"
#include "support/raw_handshake.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

CommandResult ctl(const ServerProcess& s, std::vector<std::string> args) {
  std::vector<std::string> argv = {server_binary().string(), "ctl", "--keys", s.keys().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {}, 10s);
}

// What a request under a kicked (or otherwise ended) session gets: a plain 401 and the reason.
void expect_session_ended(const Reply& r) {
  EXPECT_EQ(r.status, 401);
  EXPECT_FALSE(r.sealed);
  EXPECT_EQ(r.header("WWW-Authenticate").value_or(""), "MiniHTTPS handshake=\"/auth/handshake\"");
  EXPECT_EQ(r.reason(), "signature: session unknown or ended: handshake again");
  EXPECT_EQ(r.body.find("hello"), std::string::npos) << r.body;
}

void connect(const fs::path& home, const ServerProcess& s, const std::string& name) {
  const auto r = run_client(home, {"connect", "--server", s.url(), "--name", name, "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

TEST(OperatorCtl, ListKickAndStop) {
  ServerProcess server;
  TempDir alice, bob;
  connect(alice.path(), server, "alice");
  connect(bob.path(), server, "bob");
  const Uuid alice_uuid = SignedClient(alice.path(), server.url()).uuid();
  EXPECT_EQ(fs::status(server.keys() / "control.sock").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  auto r = ctl(server, {"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "NAME             UUID")) << r.out;
  EXPECT_TRUE(contains(r.out, "alice            " + alice_uuid.to_string() + " 127.0.0.1")) << r.out;
  EXPECT_TRUE(contains(r.out, "2 clients\n")) << r.out;

  // Kick: the next request gets 401 at once, in clear (the server no longer knows the session, so
  // it cannot seal the answer), with the reason every ended session gets...
  SignedClient kicked(alice.path(), server.url());
  ASSERT_EQ(kicked.send("GET", "/hello.txt").status, 200);
  r = ctl(server, {"kick", "alice"});
  EXPECT_EQ(r.out, "kicked alice (" + alice_uuid.to_string() + ")\n");
  expect_session_ended(kicked.send("GET", "/hello.txt"));
  // ...the identity stays listed, its session ended...
  r = ctl(server, {"list"});
  EXPECT_TRUE(contains(r.out, alice_uuid.to_string() + " 127.0.0.1" + std::string(7, ' ') + "ended ")) << r.out;
  // ...and the client's own re-handshake works (same key, same UUID, a new session).
  const auto again = run_client(alice.path(), {"get", "hello.txt"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "hello, world\n");
  EXPECT_TRUE(contains(again.err, "handshaking again")) << again.err;
  const SignedClient rejoined(alice.path(), server.url());
  EXPECT_EQ(rejoined.uuid(), alice_uuid);
  EXPECT_NE(rejoined.keyid(), kicked.keyid());
  expect_session_ended(kicked.send("GET", "/hello.txt"));  // the kicked session stays ended

  // By UUID too; unknown names are reported.
  SignedClient bob_session(bob.path(), server.url());
  const Uuid bob_uuid = bob_session.uuid();
  EXPECT_EQ(ctl(server, {"kick", bob_uuid.to_string()}).out,
            "kicked " + bob_uuid.to_string() + " (" + bob_uuid.to_string() + ")\n");
  expect_session_ended(bob_session.send("GET", "/hello.txt"));
  // A command that fails says so on stderr and exits non-zero: 1 refused, 2 usage.
  r = ctl(server, {"kick", "nobody"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "no client named nobody\n");
  r = ctl(server, {"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("unknown command 'frobnicate'\ncommands:\n", 0), 0u) << r.err;
  r = ctl(server, {"kick"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "usage: /kick NAME|UUID\n");

  r = ctl(server, {"stop"});
  EXPECT_EQ(r.out, "stopping\n");
  EXPECT_EQ(server.wait_exit(10s), 0);
  EXPECT_FALSE(fs::exists(server.keys() / "control.sock"));
  r = ctl(server, {"list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "no server answers on")) << r.err;
}

TEST(OperatorCtl, UsageErrors) {
  const auto r = run_process({server_binary().string(), "ctl"}, {}, 10s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "usage: minihttpsd ctl [--keys DIR | --socket PATH] list | kick NAME|UUID | ban NAME|UUID|FINGERPRINT | "
            "unban NAME|UUID|FINGERPRINT | bans | stop\n");
}

// What a banned key's handshake meets (PROTOCOL.md §3.2 step 11, §11): 403 with the reason, on
// the wire and as the CLI reports it.
void expect_banned(const fs::path& home, const ServerProcess& s, const std::string& fingerprint) {
  const std::string reason = "handshake: this key is banned on this server (" + fingerprint + ")";
  const RsaPrivateKey k = RsaPrivateKey::from_pem(read_file(home / "identity.pem"));
  net::HttpClient http(net::ServerUrl::parse(s.url()), 10s);
  const std::string hello = make_hello(server_keys(s.url()), k, "alice").hello_json();
  const auto raw = http.send(
      net::Request{"POST", "/auth/handshake", {{"Content-Type", "application/json"}}, hello, {}, {}, true}, 1 << 20);
  EXPECT_EQ(raw.status, 403) << raw.body;
  const auto j = nlohmann::json::parse(raw.body, nullptr, false);
  EXPECT_EQ(j.is_object() && j.contains("reason") ? j["reason"].get<std::string>() : raw.body, reason);
  const auto r = run_client(home, {"get", "hello.txt"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, "minihttps: handshake refused: " + reason + "\n")) << r.err;
}

// The fingerprint on the one ban line of KEYS/banned.
std::string banned_fingerprint(const ServerProcess& s) {
  const std::string text = read_file(s.keys() / "banned");
  const auto at = text.find("\nSHA256:");
  return at == std::string::npos ? "" : text.substr(at + 1, 7 + 43);
}

TEST(OperatorCtl, BanRefusesTheKeyAcrossRestartsUntilUnbanned) {
  TempDir keys_dir, alice, bob;
  ServerProcess server(with_keys(keys_dir / "keys"));
  connect(alice.path(), server, "alice");
  connect(bob.path(), server, "bob");
  SignedClient live(alice.path(), server.url());
  const Uuid alice_uuid = live.uuid();
  ASSERT_EQ(live.send("GET", "/hello.txt").status, 200);

  auto r = ctl(server, {"ban", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string fp = banned_fingerprint(server);
  ASSERT_EQ(fp.size(), 50u) << read_file(server.keys() / "banned");
  EXPECT_EQ(r.out, "banned alice (" + fp + ")\n");
  // The file: a header comment, then the fingerprint and a comment naming the client.
  const std::string file = read_file(server.keys() / "banned");
  EXPECT_TRUE(contains(file, "\n" + fp + "  # alice " + alice_uuid.to_string() + " banned 20")) << file;
  EXPECT_EQ(fs::status(server.keys() / "banned").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // Its live session ended at once; its handshakes are refused; bob is untouched.
  expect_session_ended(live.send("GET", "/hello.txt"));
  expect_banned(alice.path(), server, fp);
  EXPECT_EQ(run_client(bob.path(), {"get", "hello.txt"}).out, "hello, world\n");
  r = ctl(server, {"bans"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind(fp + "  alice " + alice_uuid.to_string() + " banned 20", 0), 0u) << r.out;
  EXPECT_TRUE(contains(r.out, "\n1 banned key\n")) << r.out;
  r = ctl(server, {"ban", "alice"});
  EXPECT_EQ(r.out, "already banned: alice (" + fp + ")\n");

  // A restart keeps the ban (the registry forgets alice; the ban names her key).
  server.restart();
  expect_banned(alice.path(), server, fp);
  r = ctl(server, {"unban", "nobody"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "no ban for nobody\n");
  r = ctl(server, {"unban", "alice"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "unbanned alice (" + fp + ")\n");
  EXPECT_FALSE(contains(read_file(server.keys() / "banned"), fp));
  const auto back = run_client(alice.path(), {"get", "hello.txt"});
  EXPECT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, "hello, world\n");
  EXPECT_EQ(ctl(server, {"bans"}).out, "0 banned keys\n");

  // By fingerprint, for a key that is not registered now: banned at its next handshake.
  r = ctl(server, {"ban", fp});
  EXPECT_EQ(r.out, "banned " + fp + " (" + fp + ")\n");
  server.restart();
  expect_banned(alice.path(), server, fp);
  EXPECT_EQ(ctl(server, {"unban", fp}).exit_code, 0);
}

// A server whose stdin is a terminal: the console. Driven through a pseudo-terminal.
class PtyServer {
 public:
  explicit PtyServer(const fs::path& dir, const char* log_level = "warn") {
    fs::create_directories(dir / "www");
    write_file(dir / "www" / "hello.txt", "hello\n");
    const std::string root = (dir / "www").string(), keys = (dir / "keys").string(), up = (dir / "uploads").string();
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      execl(server_binary().c_str(), "minihttpsd", "--listen", "127.0.0.1:0", "--root", root.c_str(), "--keys",
            keys.c_str(), "--upload-dir", up.c_str(), "--log-level", log_level, static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~PtyServer() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }
  // Reads until `needle` appears in the output (returns it all) or the timeout passes.
  std::string read_until(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!contains(out_, needle) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) break;
      out_.append(buf, static_cast<std::size_t>(n));
    }
    return out_;
  }
  void type(const std::string& line) { press(line + "\n"); }
  void press(const std::string& keys) { (void)!::write(master_, keys.data(), keys.size()); }
  std::string url() {
    const std::string all = read_until("fingerprint ");
    const auto a = all.find("http://");
    return all.substr(a, all.find_first_of("\r\n", a) - a);
  }
  int wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      read_until("\x01", 50ms);  // keep draining the terminal
    }
    return -1;
  }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string out_;
};

TEST(OperatorConsole, ListKickAndQuitOnATerminal) {
  TempDir dir, home;
  PtyServer server(dir.path());
  const std::string url = server.url();
  ASSERT_TRUE(contains(server.read_until("operator console: /help for commands"), "operator console"))
      << server.read_until("");
  const auto r = run_client(home.path(), {"connect", "--server", url, "--name", "carol", "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  server.type("/help");
  EXPECT_TRUE(contains(server.read_until("/quit"), "/kick NAME|UUID"));
  server.type("/list");
  EXPECT_TRUE(contains(server.read_until("1 client"), "carol ")) << server.read_until("");
  server.type("/kick carol");
  EXPECT_TRUE(contains(server.read_until("kicked carol ("), "kicked carol ("));
  SignedClient c(home.path(), url);
  expect_session_ended(c.send("GET", "/hello.txt"));
  server.type("/quit");
  EXPECT_TRUE(contains(server.read_until("stopping"), "stopping"));
  EXPECT_EQ(server.wait_exit(10s), 0);
}

// A log line written while the operator types goes above the prompt: the prompt line is cleared,
// the log line written, and the prompt with what was typed so far drawn again below it.
TEST(OperatorConsole, LogLinesGoAboveThePromptAndTheTypedCommand) {
  TempDir dir, home;
  PtyServer server(dir.path(), "info");
  const std::string url = server.url();
  ASSERT_TRUE(contains(server.read_until("operator console: /help for commands\r\nminihttpsd> "), "minihttpsd> "))
      << server.read_until("");
  server.press("/li");
  ASSERT_TRUE(contains(server.read_until("minihttpsd> /li"), "minihttpsd> /li"));
  const auto r = run_client(home.path(), {"connect", "--server", url, "--name", "dave", "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string out = server.read_until(" 200 ");
  const std::regex above(
      "minihttpsd> /li\r\x1b\\[K\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d\\d:\\d\\d "
      "\x1b\\[32minfo\x1b\\[m access 127\\.0\\.0\\.1 [^\r\n]*\r\nminihttpsd> /li");
  EXPECT_TRUE(std::regex_search(server.read_until("\r\nminihttpsd> /li", 5s), above)) << server.read_until("");
  server.press("st\n");  // the command goes on where the operator left it
  EXPECT_TRUE(contains(server.read_until("1 client"), "dave ")) << server.read_until("");
  server.type("/quit");
  EXPECT_EQ(server.wait_exit(10s), 0);
  (void)out;
}

// Sends a request head and half its body by hand; returns the socket.
int half_request(const ServerProcess& s, const net::Request& req, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(s.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  std::string head = req.method + " " + req.target + " HTTP/1.1\r\nHost: " + s.authority() +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& h : req.headers) head += h.name + ": " + h.value + "\r\n";
  head += "\r\n" + body.substr(0, body.size() / 2);
  (void)!::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  return fd;
}

// A raw answer as HttpClient would have returned it (for SignedClient::open).
net::ClientResponse parse_response(const std::string& raw) {
  net::ClientResponse r;
  const auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  for (auto at = raw.find("\r\n") + 2; at < head_end;) {
    const auto eol = raw.find("\r\n", at);
    const std::string line = raw.substr(at, eol - at);
    const auto colon = line.find(':');
    r.headers.push_back({line.substr(0, colon), line.substr(line.find_first_not_of(' ', colon + 1))});
    at = eol + 2;
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

TEST(GracefulStop, InFlightUploadFinishesThenExitZero) {
  ServerOptions o;
  o.grace = 10;
  ServerProcess server(o);
  TempDir home;
  connect(home.path(), server, "inflight");
  SignedClient c(home.path(), server.url());
  const Built put = c.build("PUT", "/.uploads/late.bin", {}, std::string(1 << 20, 'g'));  // a body stream
  const std::string& stream = put.request.body;
  const int fd = half_request(server, put.request, stream);
  ASSERT_GE(fd, 0);
  std::this_thread::sleep_for(200ms);
  server.kill(SIGTERM);
  ASSERT_TRUE(server.wait_for_stderr("SIGTERM received", 5s));
  std::this_thread::sleep_for(200ms);
  // New connections are refused while the request in flight may still finish.
  net::HttpClient fresh(net::ServerUrl::parse(server.url()), 2s);
  EXPECT_THROW(fresh.send(net::Request{"GET", "/.well-known/minihttps", {}, {}, {}, {}, false}), Error);
  const std::string rest = stream.substr(stream.size() / 2);
  (void)!::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
  const std::string answer = read_all(fd);
  ::close(fd);
  const Reply opened = c.open(parse_response(answer), put.binding);
  EXPECT_TRUE(opened.error.empty()) << opened.error;
  EXPECT_EQ(opened.status, 200) << answer.substr(0, 300);
  EXPECT_TRUE(contains(opened.body, "\"size\":1048576")) << opened.body;
  EXPECT_EQ(server.wait_exit(10s), 0);
}

TEST(GracefulStop, SecondSignalStopsAtOnce) {
  ServerOptions o;
  o.grace = 60;
  ServerProcess server(o);
  TempDir home;
  connect(home.path(), server, "stuck");
  SignedClient c(home.path(), server.url());
  const Built put = c.build("PUT", "/.uploads/stuck.bin", {}, std::string(1 << 20, 's'));
  const int fd = half_request(server, put.request, put.request.body);
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  server.kill(SIGTERM);
  ASSERT_TRUE(server.wait_for_stderr("SIGTERM received", 5s));
  server.kill(SIGTERM);
  EXPECT_EQ(server.wait_exit(10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // not the 60 s grace (a bound, not a benchmark)
  ::close(fd);
}

TEST(ServerConfig, ConfigFileWithFlagsWinning) {
  TempDir dir, home;
  write_file(dir / "server.toml", "session-ttl = 100\nmax-skew = 30\n");
  ServerProcess server(with_args({"--config", (dir / "server.toml").string(), "--session-ttl", "200"}));
  connect(home.path(), server, "configured");
  const auto who = run_client(home.path(), {"whoami"});
  EXPECT_TRUE(contains(who.out, "(in 3 min)")) << who.out;  // 200 s, not 100 s or the default hour

  // Bad values fail at start, naming the option.
  write_file(dir / "bad.toml", "session-ttl = 1\n");
  const auto bad = run_server_binary({"--config", (dir / "bad.toml").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "--session-ttl")) << bad.err;

  // A key no option has (a typo) is an error naming the key, the file and the line.
  write_file(dir / "typo.toml", "# the served folder\nsession-ttl = 100\nroott = \"srv\"\n");
  const auto typo = run_server_binary({"--config", (dir / "typo.toml").string()});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_EQ(typo.err,
            (dir / "typo.toml").string() + ":3: unknown option 'roott'\nRun with --help for more information.\n");
  EXPECT_FALSE(contains(typo.out, "listening"));
  // Underscores are not dashes to CLI11: such a key would be ignored just the same.
  write_file(dir / "underscore.toml", "session_ttl = 100\n");
  const auto underscore = run_server_binary({"--config", (dir / "underscore.toml").string()});
  EXPECT_EQ(underscore.exit_code, 2);
  EXPECT_EQ(underscore.err, (dir / "underscore.toml").string() +
                                ":1: unknown option 'session_ttl'\nRun with --help for more information.\n");
}

TEST(ServerConfig, MissingRootExitsTwoNamingTheOption) {
  TempDir dir;
  const auto r = run_server_binary({"--root", "nosuchdir", "--keys", (dir / "keys").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "--root nosuchdir: no such directory\nRun with --help for more information.\n");
  EXPECT_EQ(r.out, "");
}

// Two servers on one keys folder would rewrite each other's bans and control socket: the second
// is refused (exit 1) before it listens, naming the first one's pid.
TEST(ServerConfig, SecondServerOnTheSameKeysFolderFailsBeforeListening) {
  ServerProcess first;
  TempDir dir;
  const auto r = run_server_binary({"--listen", "127.0.0.1:0", "--keys", first.keys().string(), "--root",
                                    dir.path().string(), "--upload-dir", (dir / "up").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  const std::string why = "another minihttpsd (pid " + std::to_string(first.pid()) + ") uses the keys folder " +
                          first.keys().string() + " (" + (first.keys() / "lock").string() + " is locked)\n";
  EXPECT_TRUE(r.err.size() > why.size() && r.err.substr(r.err.size() - why.size()) == why) << r.err;
  EXPECT_TRUE(contains(r.err, " error another minihttpsd")) << r.err;
  // The first one is untouched.
  EXPECT_EQ(ctl(first, {"list"}).exit_code, 0);
}

TEST(ServerCli, VersionPrintsTheProjectVersion) {
  const auto r = run_server_binary({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "minihttpsd 0.1.0\n");
  EXPECT_EQ(r.err, "");
}

TEST(ServerConfig, PortFileIsAFallbackAndRecordsThePort) {
  TempDir dir;
  const fs::path port_file = dir / "port";
  std::uint16_t first = 0;
  {
    ServerProcess server(with_args({"--port-file", port_file.string()}));
    first = server.port();
    EXPECT_EQ(read_file(port_file), std::to_string(first) + "\n");
  }
  // Without --listen the port file decides (ServerProcess always passes --listen, so run by hand).
  const auto r = run_process({"sh", "-c",
                              "timeout 3 " + server_binary().string() + " --port-file " + port_file.string() +
                                  " --root " + dir.path().string() + " --keys " + (dir / "keys").string() +
                                  " --upload-dir " + (dir / "up").string() + " --control-socket off | head -1"},
                             {}, 10s);
  EXPECT_EQ(r.out, "listening on http://127.0.0.1:" + std::to_string(first) + "\n") << r.err;
}

}  // namespace
}  // namespace mh::test
