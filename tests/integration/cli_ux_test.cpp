// The client as a file tool, run as a user runs it (the real minihttps against the real
// minihttpsd): --version, a mistyped command, server addresses as people type them, `get` of a
// directory, binary bytes headed for a terminal, a reader that closes the pipe early, a wrong or
// malformed --fingerprint, the exit codes of README.md, and whoami once the session is gone.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "support/server_process.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The client with `home`, its environment holding no MINIHTTPS_SERVER and the login name `user`.
CommandResult client(const fs::path& home, const std::vector<std::string>& args, const std::string& user = "alice") {
  std::vector<std::string> argv = {client_binary().string(), "--home", home.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {}, 60s, {"MINIHTTPS_SERVER=", "USER=" + user});
}

void connect(const fs::path& home, const ServerProcess& s, const std::string& name = "alice") {
  const CommandResult r = client(home, {"--quiet", "connect", s.authority(), "--name", name, "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
}

// The client on a pseudo-terminal (its stdin, stdout and stderr): what the terminal showed, and
// the exit code.
CommandResult on_terminal(const fs::path& home, const std::vector<std::string>& args) {
  std::vector<std::string> all = {client_binary().string(), "--home", home.string()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  CommandResult r;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pf{master, POLLIN, 0};
    if (::poll(&pf, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child closed the terminal (it exited)
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) status = -1;
  ::close(master);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// A server of its own for each test: names are held by keys, and every test's home has its own.
class ClientUx : public ::testing::Test {
 protected:
  ServerProcess& server() { return server_; }
  ServerProcess server_;
  TempDir tmp_;
  fs::path home_ = tmp_ / "home";
};

// ---- --version, a mistyped command --------------------------------------------------------------

TEST(ClientUxCli, VersionIsTheProjectsVersion) {
  TempDir tmp;
  const CommandResult r = client(tmp / "home", {"--version"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "minihttps 0.1.0\n");
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(fs::exists(tmp / "home"));
}

TEST(ClientUxCli, MistypedCommandNamesTheNearestOne) {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::vector<Case> cases = {
      {{"gte", "docs/a.txt"}, "minihttps: unknown command 'gte': did you mean 'get'?\n"},
      {{"-q", "wohami"}, "minihttps: unknown command 'wohami': did you mean 'whoami'?\n"},
      {{"--timeout", "5", "lst"}, "minihttps: unknown command 'lst': did you mean 'ls'?\n"},
      {{"conect", "127.0.0.1:1"}, "minihttps: unknown command 'conect': did you mean 'connect'?\n"},
      {{"frobnicate"},
       "minihttps: unknown command 'frobnicate' (the commands: connect, get, ls, put, rm, chat, whoami, logout, "
       "page)\n"},
  };
  for (const auto& c : cases) {
    const CommandResult r = client(tmp / "home", c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << "\n" << describe(r);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(fs::exists(tmp / "home"));
}

// ---- server addresses ---------------------------------------------------------------------------

TEST_F(ClientUx, ServerAddressesAsPeopleTypeThem) {
  const std::string a = server().authority();
  // HOST:PORT, as minihttpsd prints it; the name defaults to the login name.
  const CommandResult plain = client(home_, {"connect", a, "--rsa-bits", "2048"});
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  EXPECT_EQ(plain.out.rfind("connected to http://" + a + " as alice (", 0), 0u) << plain.out;
  // No address: the remembered server, and the name this home used with it.
  const CommandResult again = client(home_, {"connect"}, "somebody-else");
  EXPECT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(again.out.rfind("connected to http://" + a + " as alice (", 0), 0u) << again.out;
  EXPECT_EQ(again.err, "");
  // http:// works as it did, as the argument and as --server.
  EXPECT_EQ(client(home_, {"connect", "http://" + a}).exit_code, 0);
  EXPECT_NE(client(home_, {"--server", "http://" + a + "/", "ls", "docs"}).out.find("a.txt"), std::string::npos);
  EXPECT_EQ(client(home_, {"--server", a, "get", "hello.txt"}).out, "hello, world\n");

  // Another scheme is a usage error, nothing created (https:// is TLS: tests/integration/tls_test.cpp).
  TempDir other;
  const CommandResult ftp = client(other / "home", {"--server", "ftp://" + a, "ls"});
  EXPECT_EQ(ftp.exit_code, 2) << describe(ftp);
  EXPECT_EQ(ftp.err,
            "minihttps: server URL must be HOST:PORT, http://HOST:PORT or https://HOST:PORT (got 'ftp://" + a + "')\n");
  EXPECT_FALSE(fs::exists(other / "home"));
}

TEST(ClientUxCli, FreshHomeNamesTheOneCommandToRun) {
  TempDir tmp;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"ls"}, {"get", "hello.txt"}, {"whoami"}, {"connect"}, {"connect", "--name", "alice"}}) {
    const CommandResult r = client(tmp / "home", args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << "\n" << describe(r);
    EXPECT_EQ(r.err, "minihttps: no server yet: run `minihttps connect HOST:PORT`\n") << args[0];
  }
  EXPECT_FALSE(fs::exists(tmp / "home"));
}

// ---- get of a directory -------------------------------------------------------------------------

TEST_F(ClientUx, GetOfADirectoryIsRefusedAndWritesNothing) {
  connect(home_, server());
  const fs::path out = tmp_ / "out";
  fs::create_directories(out);
  const std::string docs =
      "minihttps: docs/ is a directory: fetch it with `minihttps get -r docs/` or list it with `minihttps ls docs/`\n";
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::vector<Case> cases = {
      // Known by the server's answer, a listing, before anything is opened for writing. (A
      // directory with an index.html answers that page: Web.DirectoryServesIndexAndLsLists.)
      {{"get", "docs"}, docs},
      {{"get", "docs/"}, docs},
      {{"get", "docs", "-o", out.string()}, docs},
      {{"get", "docs", "-o", (out / "d").string()}, docs},
      {{"get", "/docs/", "-o", "-"},
       "minihttps: /docs/ is a directory: fetch it with `minihttps get -r /docs/` or "
       "list it with `minihttps ls /docs/`\n"},
      {{"get", "/"},
       "minihttps: / is a directory: fetch it with `minihttps get -r /` or list it with `minihttps ls /`\n"},
  };
  for (const auto& c : cases) {
    const CommandResult r = client(home_, c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args[1] << "\n" << describe(r);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(files_below(out), std::vector<std::string>{}) << "nothing is written for a directory";

  // A JSON file is a file: its media type is the listing's, its name says it is one.
  write_file(server().root() / "data.json", "{\"entries\":[]}\n");
  const CommandResult json = client(home_, {"get", "data.json"});
  EXPECT_EQ(json.exit_code, 0) << describe(json);
  EXPECT_EQ(json.out, "{\"entries\":[]}\n");
}

// ---- binary output and pipes --------------------------------------------------------------------

TEST_F(ClientUx, BinaryToATerminalIsRefusedUnlessForced) {
  connect(home_, server());
  // data.bin holds pseudo-random bytes: NULs and invalid UTF-8 among the first.
  const CommandResult bin = on_terminal(home_, {"get", "data.bin"});
  EXPECT_EQ(bin.exit_code, 1) << describe(bin);
  EXPECT_EQ(bin.out,
            "minihttps: binary output can mess up your terminal: use -o FILE to save it, or -o - to write it here "
            "anyway\r\n");
  // Text is shown (the terminal turns \n into \r\n), UTF-8 included.
  write_file(server().root() / "utf8.txt", "gr\xc3\xbc\xc3\x9f dich \xe2\x82\xac\n");
  EXPECT_EQ(on_terminal(home_, {"get", "hello.txt"}).out, "hello, world\r\n");
  EXPECT_EQ(on_terminal(home_, {"get", "utf8.txt"}).out, "gr\xc3\xbc\xc3\x9f dich \xe2\x82\xac\r\n");
  // -o - forces it.
  const CommandResult forced = on_terminal(home_, {"get", "data.bin", "-o", "-"});
  EXPECT_EQ(forced.exit_code, 0) << describe(forced);
  EXPECT_GE(forced.out.size(), 4096u);
  EXPECT_EQ(forced.out.find("binary output"), std::string::npos);
  // Not a terminal: the bytes as they are.
  const CommandResult piped = client(home_, {"get", "data.bin"});
  EXPECT_EQ(piped.exit_code, 0) << describe(piped);
  EXPECT_EQ(piped.out, read_file(server().root() / "data.bin"));
}

TEST_F(ClientUx, ReaderClosingThePipeEndsTheDownloadQuietly) {
  connect(home_, server());
  // Far more than a pipe holds, so that the client is still writing when the reader leaves.
  const Bytes big = pattern_bytes(8 << 20, 7);
  write_file(server().root() / "big.bin", as_chars(big));
  int out[2], err[2];
  ASSERT_EQ(::pipe(out), 0);
  ASSERT_EQ(::pipe(err), 0);
  const std::string bin = client_binary().string(), home = home_.string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // as `minihttps get big.bin | head -c1` runs it
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    execl(bin.c_str(), bin.c_str(), "--home", home.c_str(), "get", "big.bin", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  char first = 0;
  ASSERT_EQ(::read(out[0], &first, 1), 1);
  EXPECT_EQ(static_cast<std::uint8_t>(first), big[0]);
  ::close(out[0]);  // head -c1 has what it wanted
  std::string errors;
  char buf[4096];
  for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) errors.append(buf, static_cast<std::size_t>(n));
  ::close(err[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(errors, "");
}

// ---- --fingerprint ------------------------------------------------------------------------------

TEST_F(ClientUx, WrongFingerprintSaysWhatWasExpectedAndOffersNoWayToAcceptIt) {
  const std::string wrong = "SHA256:" + std::string(42, 'A') + "E";
  const CommandResult r =
      client(home_, {"--quiet", "connect", server().authority(), "--fingerprint", wrong, "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.err,
            "minihttps: the server at " + server().authority() + " presented key " + server().fingerprint() +
                ", but --fingerprint expected " + wrong +
                ".\nNothing of yours was sent to it, and nothing about it was recorded. Check the fingerprint with the "
                "server's operator (minihttpsd prints it when it starts).\n");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(home_ / "known_servers"));
  EXPECT_FALSE(fs::exists(home_ / "config.json"));
  EXPECT_FALSE(fs::exists(home_ / "sessions"));
}

TEST(ClientUxCli, MalformedFingerprintIsAUsageErrorNamingTheOption) {
  TempDir tmp;
  for (const std::string& fp :
       {std::string("SHA256:x"), "SHA256:" + std::string(44, 'A'), "sha256:" + std::string(43, 'A'),
        "SHA256:" + std::string(42, 'A') + "!", std::string(43, 'A')}) {
    const CommandResult r = client(tmp / "home", {"connect", "127.0.0.1:1", "--fingerprint", fp});
    EXPECT_EQ(r.exit_code, 2) << fp << "\n" << describe(r);
    EXPECT_EQ(r.err,
              "minihttps: --fingerprint must be SHA256: and 43 base64 characters, as minihttpsd prints it (got '" + fp +
                  "')\n");
  }
  EXPECT_FALSE(fs::exists(tmp / "home")) << "no identity is made for a malformed fingerprint";
}

// ---- exit codes ---------------------------------------------------------------------------------

// README.md: 0 ok, 1 refused by the server or a local file problem, 2 usage, 3 network,
// 4 authentication or trust, 5 integrity (the last is proven by the Download and StreamTamper suites).
TEST_F(ClientUx, ExitCodesAreTheReadmes) {
  connect(home_, server());
  write_file(server().root() / ".secret", "hidden\n");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string err;
  };
  const std::string missing = (tmp_ / "missing.txt").string();
  const std::vector<Case> cases = {
      {{"-q", "get", "hello.txt", "-o", (tmp_ / "hello.txt").string()}, 0, ""},
      // A local file problem: 1 (it was 2, a usage error).
      {{"put", missing}, 1, "minihttps: put: cannot read " + missing + ": No such file or directory\n"},
      {{"get", "hello.txt", "-o", (tmp_ / "no" / "dir" / "x").string()},
       1,
       "minihttps: cannot create " + (tmp_ / "no" / "dir" / "x.part").string() + ": No such file or directory\n"},
      // Refused by the server: 1, a path it will not serve included (it was 4, as if trust failed).
      {{"get", "nothing-here.txt"}, 1, "minihttps: get /nothing-here.txt: file: not found\n"},
      {{"get", ".secret"}, 1, "minihttps: get /.secret: path: hidden name\n"},
      {{"get", "docs"},
       1,
       "minihttps: docs/ is a directory: fetch it with `minihttps get -r docs/` or list it with `minihttps ls "
       "docs/`\n"},
      {{"get"}, 2, "path is required"},
      {{"--server", "127.0.0.1:1", "ls"},
       4,
       "minihttps: not connected to http://127.0.0.1:1: run `minihttps connect 127.0.0.1:1`\n"},
  };
  for (const auto& c : cases) {
    const CommandResult r = client(home_, c.args);
    std::string what;
    for (const auto& a : c.args) what += " " + a;
    EXPECT_EQ(r.exit_code, c.code) << what << "\n" << describe(r);
    if (c.code == 2)
      EXPECT_NE(r.err.find(c.err), std::string::npos) << what << "\n" << r.err;
    else
      EXPECT_EQ(r.err, c.err) << what;
  }
  // 3: nothing listening.
  const CommandResult net = client(tmp_ / "other", {"connect", "127.0.0.1:1", "--rsa-bits", "2048"});
  EXPECT_EQ(net.exit_code, 3) << describe(net);
}

// ---- whoami once the session is gone ------------------------------------------------------------

TEST_F(ClientUx, WhoamiAfterLogoutSaysTheSessionIsGone) {
  connect(home_, server());
  const CommandResult before = client(home_, {"whoami"});
  ASSERT_EQ(before.exit_code, 0) << describe(before);
  EXPECT_NE(before.out.find("name        alice\n"), std::string::npos) << before.out;
  ASSERT_EQ(client(home_, {"logout"}).exit_code, 0);
  const std::string url = server().url(), a = server().authority();
  const CommandResult after = client(home_, {"whoami"});
  EXPECT_EQ(after.exit_code, 4) << describe(after);
  EXPECT_EQ(after.out, "");
  EXPECT_EQ(after.err, "minihttps: no session with " + url + " (logged out): run `minihttps connect " + a + "`\n");
  // So do the other commands; the command named works, and then whoami is back.
  const CommandResult ls = client(home_, {"ls"});
  EXPECT_EQ(ls.exit_code, 4) << describe(ls);
  EXPECT_EQ(ls.err, after.err);
  ASSERT_EQ(client(home_, {"--quiet", "connect", a}).exit_code, 0);
  EXPECT_EQ(client(home_, {"whoami"}).exit_code, 0);
}

TEST_F(ClientUx, WhoamiAfterAKickAsksTheServerAndSaysItEndedTheSession) {
  connect(home_, server(), "kickme");
  ASSERT_EQ(client(home_, {"whoami"}).exit_code, 0);
  const CommandResult kick =
      run_process({server_binary().string(), "ctl", "--keys", server().keys().string(), "kick", "kickme"}, {}, 30s);
  ASSERT_EQ(kick.exit_code, 0) << describe(kick);
  const CommandResult after = client(home_, {"whoami"});
  EXPECT_EQ(after.exit_code, 4) << describe(after);
  EXPECT_EQ(after.out, "");
  EXPECT_EQ(after.err, "minihttps: the session with " + server().url() +
                           " was ended by the server: run `minihttps connect " + server().authority() +
                           "` (get, ls and put connect again by themselves)\n");
  // Asking did not renew it; a get does, and whoami then sees the new session.
  EXPECT_EQ(client(home_, {"whoami"}).exit_code, 4);
  const CommandResult get = client(home_, {"get", "hello.txt"});
  EXPECT_EQ(get.exit_code, 0) << describe(get);
  EXPECT_EQ(client(home_, {"whoami"}).exit_code, 0);
}

}  // namespace
}  // namespace mh::test
