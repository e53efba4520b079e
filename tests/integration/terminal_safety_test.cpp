// Issue 12, item 4: nothing a server (or an on-path attacker) sends reaches the user's terminal
// as a control: error reasons, listing names, chat names, texts, rooms and reasons are printed
// escaped (core/terminal_text.hpp), legitimate non-ASCII text is kept, and the server's access log
// escapes the request target. Hostile servers here: a proxy in front of the real server that
// answers the discovery document or the handshake itself, a proxy holding the client's session
// secret (a hostile or compromised server) that answers a listing with sealed answers that open,
// and a stand-in chat server holding the session secret too.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <nlohmann/json.hpp>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <functional>
#include <regex>
#include <thread>

#include "core/base64.hpp"
#include "core/ed25519.hpp"
#include "core/fernet.hpp"
#include "core/httpsig.hpp"
#include "core/key_schedule.hpp"
#include "core/rsa.hpp"
#include "core/seal.hpp"
#include "core/stream.hpp"
#include "core/strict_json.hpp"
#include "core/uuid.hpp"
#include "core/x25519.hpp"
#include "io/system_clock.hpp"
#include "support/interactive_process.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/tamper_proxy.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

// Byte sequences that act on a terminal when printed raw: ESC, BEL, CR, a raw 0x9b (CSI), U+009B
// as UTF-8, and the bidi overrides used below (RLO U+202E, PDF U+202C, RLI U+2067).
::testing::AssertionResult no_raw_controls(const std::string& s) {
  for (const std::string bad :
       {"\x1b", "\x07", "\r", "\x9b", "\xc2\x9b", "\xe2\x80\xae", "\xe2\x80\xac", "\xe2\x81\xa7"})
    if (s.find(bad) != std::string::npos)
      return ::testing::AssertionFailure() << "raw control bytes (" << base64_encode(as_bytes(bad)) << ") in: " << s;
  return ::testing::AssertionSuccess();
}

void write_private(const fs::path& p, const std::string& data) {
  write_file(p, data);
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

// A loopback listener running `serve(fd)` for each connection, one at a time, on its own thread.
class FakeListener {
 public:
  explicit FakeListener(std::function<void(int)> serve) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("fake server: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        serve_(c);
        ::close(c);
      }
    });
  }
  ~FakeListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::function<void(int)> serve_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The request head (and its Content-Length body) from fd, within 10 s; empty on EOF.
std::string read_request(int fd) {
  std::string in;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string lower = in.substr(0, end);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto cl = lower.find("content-length:");
      const std::size_t want = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
      if (in.size() >= end + 4 + want) return in;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return {};
    in.append(buf, static_cast<std::size_t>(n));
  }
  return {};
}

void send_all(int fd, const std::string& s) {
  for (std::size_t off = 0; off < s.size();) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string http_answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// A client home with an identity and no session yet.
void make_identity(const fs::path& home) {
  static const RsaPrivateKey identity = RsaPrivateKey::generate(2048);
  fs::create_directories(home);
  write_private(home / "identity.pem", identity.pem());
}

// ---- error reasons --------------------------------------------------------------------------

TEST(TerminalSafety, HostileServerErrorReasonsArePrintedEscaped) {
  struct Case {
    std::string request;  // the request line the hostile answer replaces the server's for
    std::string response;
    int exit_code;
    std::string err;
  };
  const std::string handshake = "POST /auth/handshake ", discovery = "GET /.well-known/minihttps ";
  ServerProcess server;
  TamperProxy proxy(server.port());
  const std::vector<Case> cases = {
      // OSC 0 sets the window title; CSI 2 J clears the screen and a fake prompt follows.
      {handshake,
       http_answer(403, R"({"error":"forbidden","reason":"\u001b]0;pwned\u0007\u001b[2J\u001b[Huser@host:~$ "})"), 4,
       "minihttps: handshake refused: \\x1b]0;pwned\\x07\\x1b[2J\\x1b[Huser@host:~$ \n"},
      // U+009B (CSI), a bidi override, and CR LF starting a fake success line.
      {handshake,
       http_answer(403, R"({"error":"forbidden","reason":"a\u009b31mb \u202eevil\u202c\r\nminihttps: connected"})"), 4,
       "minihttps: handshake refused: a\\u009b31mb \\u202eevil\\u202c\\r\\nminihttps: connected\n"},
      // An overlong reason is cut, visibly.
      {handshake, http_answer(400, R"({"error":"bad_request","reason":")" + std::string(10000, 'x') + "\"}"), 1,
       "minihttps: handshake refused: " + std::string(300, 'x') + "\u2026 (9700 more bytes)\n"},
      // A reply whose error quotes the server (an unknown field's name).
      {handshake, http_answer(200, R"({"version":2,"\u001b]0;pwned\u0007":1})"), 1,
       "minihttps: handshake: unknown field '\\x1b]0;pwned\\x07'\n"},
      // The discovery document comes before any key is checked: its refusal and its fields too.
      {discovery, http_answer(404, R"({"error":"not_found","reason":"\u001b]0;pwned\u0007gone\r\n"})"), 1,
       "minihttps: the server at 127.0.0.1:" + std::to_string(proxy.port()) +
           " does not offer minihttps/2: \\x1b]0;pwned\\x07gone\\r\\n\n"},
      {discovery, http_answer(200, R"({"\u001b[2J\u202e":1,"version":2})"), 1,
       "minihttps: discovery: unknown field '\\x1b[2J\\u202e'\n"},
  };
  TempDir tmp;
  make_identity(tmp / "home");
  for (const auto& c : cases) {
    proxy.set_rewriter([&](const std::string&, const std::string&) { return c.response; });
    proxy.set_mode(TamperProxy::Mode::rewrite, c.request);
    const CommandResult r = run_client(tmp / "home", {"connect", "--server", proxy.url(), "--name", "alice"});
    EXPECT_EQ(r.exit_code, c.exit_code) << describe(r);
    EXPECT_EQ(r.err, c.err);
    EXPECT_TRUE(no_raw_controls(r.out + r.err));
    EXPECT_FALSE(fs::exists(tmp / "home" / "known_servers"));
  }
}

// ---- listings -------------------------------------------------------------------------------

std::string ls_dir_line(const std::string& name) { return name + "/\n"; }

TEST(TerminalSafety, LsShowsControlAndBidiNamesFromTheRealServerEscaped) {
  ServerProcess server;
  // Valid UTF-8 names a legitimate server lists as they are.
  fs::create_directories(server.root() /
                         "c1_\xc2\x9b"
                         "2J");
  fs::create_directories(server.root() /
                         "rlo_\xe2\x80\xae"
                         "txt.exe");
  fs::create_directories(server.root() / "caf\xc3\xa9_\xe6\x97\xa5\xe6\x9c\xac");
  // Names no request could reach are not listed at all (PROTOCOL.md §6): raw ESC, raw 0x9b.
  fs::create_directories(server.root() / "esc_\x1b[2J");
  fs::create_directories(server.root() / "raw_\x9b");
  TempDir home;
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server.url(), "--name", "lister", "--rsa-bits", "2048"})
                .exit_code,
            0);
  const auto r = run_client(home.path(), {"ls", "/"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(ls_dir_line("c1_\\u009b2J")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(ls_dir_line("rlo_\\u202etxt.exe")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(ls_dir_line("caf\xc3\xa9_\xe6\x97\xa5\xe6\x9c\xac")), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("esc_"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("raw_"), std::string::npos) << r.out;
  EXPECT_TRUE(no_raw_controls(r.out + r.err));
}

// A request as a server sees it: the outer request line and fields, for the signature base.
httpsig::Message parse_request(const std::string& request) {
  httpsig::Message req{"", "http", "", "", std::nullopt, {}, nullptr};
  const auto line_end = request.find("\r\n");
  const std::string line = request.substr(0, line_end);
  req.method = line.substr(0, line.find(' '));
  req.target = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
  for (std::size_t pos = line_end + 2; pos < request.size();) {
    const auto e = request.find("\r\n", pos);
    if (e == pos || e == std::string::npos) break;
    const std::string h = request.substr(pos, e - pos);
    const auto colon = h.find(':');
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    req.headers.emplace_back(h.substr(0, colon), value);
    if (net::iequals(h.substr(0, colon), "Host")) req.authority = value;
    pos = e + 2;
  }
  return req;
}

// The binding B of a signed request (docs/PROTOCOL.md §4), as the server computes it: the
// signature base the client signed, rebuilt from the request's fields, and the signature.
Binding binding_of(const std::string& request) {
  const httpsig::Message req = parse_request(request);
  const auto input = httpsig::field_value(req, "Signature-Input");
  const auto signature = httpsig::field_value(req, "Signature");
  if (!input || !signature) throw std::runtime_error("not a signed request: " + request.substr(0, 200));
  const auto params = httpsig::parse_signature_input(*input).front().second;
  return request_binding(httpsig::signature_base(req, params), httpsig::parse_signature(*signature).front().second);
}

// A sealed answer (docs/PROTOCOL.md §5.3) of `status` with `body` as its stream, bound to `b`.
std::string sealed_answer(const SessionSecret& secret, std::uint32_t chunk_size, const Binding& b, int status,
                          const std::string& content_type, const std::string& body) {
  const io::SystemClock clock;
  const auto layout = stream::Layout::whole(body.size(), chunk_size);
  seal::ResponseHead head;
  head.status = status;
  head.content_type = content_type;
  head.content_length = body.size();
  head.chunks = seal::Chunks{chunk_size, 0, layout.last_chunk()};
  std::string chunks;
  stream::StreamWriter w(secret, KeyPurpose::response_body, b, layout, clock);
  w.write(as_bytes(body), chunks);
  w.finish(chunks);
  return "HTTP/1.1 200 OK\r\nContent-Type: application/minihttps-stream\r\nContent-Length: " +
         std::to_string(chunks.size()) + "\r\n" + std::string(seal::kSealedField) + ": " +
         seal::seal_response_head(secret, b, head, clock.now()) + "\r\nCache-Control: private, no-store\r\n\r\n" +
         chunks;
}

// A proxy in front of the real server that holds the client's session secret (read from its
// home): it stands for a hostile or compromised server, whose sealed answers open. Under v2 the
// secret is all such a server needs; its identity key only signed the handshake.
class SealingProxy {
 public:
  explicit SealingProxy(const ServerProcess& server) : proxy_(server.port()) {}
  TamperProxy& proxy() { return proxy_; }

  // Answers sealed requests with `status` and `plaintext` (JSON), sealed under the session of
  // the client whose home is `home` and bound to each request, as the real server would (§5.3).
  // nth > 0: only the nth sealed answer from now on (the others pass untouched).
  void answer(const fs::path& home, const std::string& plaintext, int status = 200, int nth = 0) {
    const SignedClient session(home, proxy_.url());
    proxy_.set_rewriter([secret = session.secret(), chunk = session.chunk_size(), plaintext, status](
                            const std::string& request, const std::string&) {
      return sealed_answer(secret, chunk, binding_of(request), status, "application/json", plaintext);
    });
    proxy_.set_mode(TamperProxy::Mode::rewrite,
                    TamperProxy::Match{"POST " + std::string(seal::kSealedPath) + " ", nth, 0});
  }

 private:
  TamperProxy proxy_;
};

TEST(TerminalSafety, LsShowsEscapeSequencesFromAHostileServerEscaped) {
  ServerProcess server;
  SealingProxy hostile(server);
  TempDir home;
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", hostile.proxy().url(), "--name", "victim", "--rsa-bits",
                                     "2048", "--fingerprint", server.fingerprint()})
                .exit_code,
            0);
  const json listing = {{"path", "/"},
                        {"entries",
                         {{{"name", "\x1b]0;pwned\x07"}, {"type", "dir"}},
                          {{"name", "\x1b[2J\x1b[Huser@host:~$ "}, {"type", "dir"}},
                          {{"name", "two\r\nlines"}, {"type", "dir"}},
                          {{"name",
                            "\xc2\x9b"
                            "31mred"},
                           {"type", "dir"}},
                          {{"name",
                            "\xe2\x80\xae"
                            "fdp.exe"},
                           {"type", "dir"}},
                          {{"name", std::string(2000, 'n')}, {"type", "dir"}}}}};
  hostile.answer(home.path(), listing.dump());
  const auto r = run_client(home.path(), {"ls", "/"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(hostile.proxy().tampered(), 1);
  EXPECT_EQ(r.out, ls_dir_line("\\x1b]0;pwned\\x07") + ls_dir_line("\\x1b[2J\\x1b[Huser@host:~$ ") +
                       ls_dir_line("two\\r\\nlines") + ls_dir_line("\\u009b31mred") + ls_dir_line("\\u202efdp.exe") +
                       ls_dir_line(std::string(1024, 'n') + "\u2026 (976 more bytes)"));
  EXPECT_TRUE(no_raw_controls(r.out + r.err));
}

// get -r makes local paths of listed names: a hostile server's "..", "a/b" or "/etc/x" must not
// lead it out of -o DIR. Such names are reported and nothing is made of them; the rest still comes.
TEST(TerminalSafety, GetRecursiveMakesNoPathOfAHostileListingsNames) {
  ServerProcess server;
  SealingProxy hostile(server);
  TempDir home, work;
  ASSERT_EQ(run_client(home.path(), {"--quiet", "connect", "--server", hostile.proxy().url(), "--name", "victim",
                                     "--rsa-bits", "2048"})
                .exit_code,
            0);
  const json listing = {{"path", "/"},
                        {"entries",
                         {{{"name", ".."}, {"type", "dir"}},
                          {{"name", "../escape.txt"}, {"type", "file"}, {"size", 1}, {"mtime", 0}},
                          {{"name", "/tmp/abs.txt"}, {"type", "file"}, {"size", 1}, {"mtime", 0}},
                          {{"name", "hello.txt"}, {"type", "file"}, {"size", 13}, {"mtime", 0}}}}};
  hostile.answer(home.path(), listing.dump(), 200, 1);  // the listing only: hello.txt is the real one
  const auto r = run_client(home.path(), {"get", "-r", "/", "-o", (work / "out/").string()});
  EXPECT_EQ(r.exit_code, 5) << describe(r);
  EXPECT_EQ(hostile.proxy().tampered(), 1);
  EXPECT_EQ(files_below(work.path()), std::vector<std::string>{"out/hello.txt"});
  EXPECT_EQ(read_file(work / "out" / "hello.txt"), "hello, world\n");
  EXPECT_FALSE(fs::exists("/tmp/abs.txt"));
  for (const char* name : {"..", "../escape.txt", "/tmp/abs.txt"})
    EXPECT_NE(r.err.find("minihttps: get /: the server listed an impossible name in /: " + std::string(name) +
                         "; not fetched\n"),
              std::string::npos)
        << r.err;
  EXPECT_NE(r.err.find("; 3 failed\n"), std::string::npos) << r.err;
}

// Under v2 a refusal after the signature verified is sealed: only the session's other end can
// write it, and that end may be hostile. Its reason is printed escaped like any other.
TEST(TerminalSafety, SealedRefusalReasonsFromAHostileServerArePrintedEscaped) {
  ServerProcess server;
  SealingProxy hostile(server);
  TempDir home;
  ASSERT_EQ(run_client(home.path(), {"--quiet", "connect", "--server", hostile.proxy().url(), "--name", "victim",
                                     "--rsa-bits", "2048", "--fingerprint", server.fingerprint()})
                .exit_code,
            0);
  const json refusal = {{"error", "not_found"},
                        {"reason",
                         "\x1b]0;pwned\x07\xe2\x80\xae"
                         "gone\r\nminihttps: saved hello.txt"}};
  hostile.answer(home.path(), refusal.dump(), 404);
  TempDir out;
  const auto r = run_client(home.path(), {"get", "hello.txt", "-o", (out / "hello.txt").string()});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(hostile.proxy().tampered(), 1);
  EXPECT_EQ(r.err, "minihttps: get /hello.txt: \\x1b]0;pwned\\x07\\u202egone\\r\\nminihttps: saved hello.txt\n");
  EXPECT_TRUE(no_raw_controls(r.out + r.err));
  EXPECT_TRUE(fs::is_empty(out.path()));
}

// ---- chat -----------------------------------------------------------------------------------

std::string clock_prefix(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return "[" + std::string(buf) + "] ";
}

TEST(TerminalSafety, ChatBidiAndC1FromAnotherUserArriveEscaped) {
  // A legitimate server relays these (they are not C0 controls): the client must escape them.
  ServerProcess server;
  TempDir alice_home, bob_home;
  for (auto* h : {&alice_home, &bob_home})
    ASSERT_EQ(run_client(h->path(), {"connect", "--server", server.url(), "--name", h == &alice_home ? "alice" : "bob",
                                     "--rsa-bits", "2048"})
                  .exit_code,
              0);
  InteractiveProcess alice({client_binary().string(), "--home", alice_home.path().string(), "chat"});
  ASSERT_TRUE(alice.wait_line(std::regex(R"(\* you joined lobby)"), 15s)) << alice.err();
  InteractiveProcess bob({client_binary().string(), "--home", bob_home.path().string(), "chat"});
  ASSERT_TRUE(bob.wait_line(std::regex(R"(\* you joined lobby)"), 15s)) << bob.err();
  ASSERT_TRUE(
      bob.write_line("pay \xe2\x80\xae"
                     "0001\xe2\x80\xac now \xc2\x9b"
                     "2J caf\xc3\xa9"));
  const auto at = alice.wait_line(std::regex(R"(\] bob: )"), 15s);
  ASSERT_TRUE(at) << alice.out();
  const std::string line = alice.lines()[*at];
  EXPECT_EQ(line.substr(line.find("] ") + 2), "bob: pay \\u202e0001\\u202c now \\u009b2J caf\xc3\xa9");
  bob.close_stdin();
  alice.close_stdin();
  EXPECT_EQ(bob.wait_exit(15s), 0);
  EXPECT_EQ(alice.wait_exit(15s), 0);
  EXPECT_TRUE(no_raw_controls(alice.out() + alice.err()));
}

// A stand-in chat server that shares a session with a client home (as if a handshake had made
// it; see home_for()): it accepts any sealed upgrade with a sealed head bound to it (§9.1), sends
// `frames`, each sealed as the connection's next frame with its "seq" (§9.2) as the real one
// would, then answers the client's close.
class FakeChatServer {
 public:
  explicit FakeChatServer(std::vector<json> frames)
      : secret_bytes_(random_bytes(32)),
        secret_(secret_bytes_),
        frames_(std::move(frames)),
        listener_([this](int fd) { serve(fd); }) {}
  const FakeListener& listener() const { return listener_; }

  // A home with an identity and a session for this server's address, as `connect` would leave.
  void make_home(const fs::path& home) const {
    make_identity(home);
    fs::create_directories(home / "sessions");
    std::string file = listener_.authority();
    for (char& c : file) c = c == ':' ? '_' : c;
    const Ed25519KeyPair server_key = Ed25519KeyPair::generate();
    write_private(home / "sessions" / (file + ".json"),
                  json{{"version", 2},
                       {"server", listener_.url()},
                       {"authority", listener_.authority()},
                       {"name", "alice"},
                       {"keyid", b64u(random_bytes(16))},
                       {"uuid", Uuid::random_v4().to_string()},
                       {"secret", b64u(secret_bytes_)},
                       {"expires", std::time(nullptr) + 3600},
                       {"chunk_size", 262144},
                       {"server_fingerprint", ed25519_fingerprint(server_key.public_key())},
                       {"server_key", b64u(server_key.public_key())},
                       {"static_key", b64u(X25519KeyPair::generate().public_key)}}
                      .dump());
  }

 private:
  static std::string frame(std::uint8_t opcode, const std::string& payload) {
    std::string f(1, static_cast<char>(0x80 | opcode));
    if (payload.size() < 126) {
      f += static_cast<char>(payload.size());
    } else {
      f += static_cast<char>(126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xff);
    }
    return f + payload;
  }
  void serve(int fd) {
    const std::string req = read_request(fd);
    std::string lower = req;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto k = lower.find("sec-websocket-key:");
    if (k == std::string::npos) return;
    std::string key = req.substr(k + 18, req.find("\r\n", k) - k - 18);
    while (!key.empty() && key.front() == ' ') key.erase(0, 1);
    const std::string magic = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::uint8_t sha[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(magic.data()), magic.size(), sha);
    const Binding b = binding_of(req);
    const std::int64_t now = std::time(nullptr);
    seal::ResponseHead accepted;  // status 200, no body: the connection is the chat
    send_all(fd,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                 base64_encode(ByteView(sha, sizeof sha)) + "\r\n" + std::string(seal::kSealedField) + ": " +
                 seal::seal_response_head(secret_, b, accepted, now) + "\r\n\r\n");
    for (std::size_t n = 0; n < frames_.size(); ++n) {
      json j = frames_[n];
      j["seq"] = n;
      const FernetKey k = secret_.derive(KeyPurpose::chat_to_client, b, n, false);
      send_all(fd, frame(0x1, fernet_encrypt(k, as_bytes(j.dump()), now)));
    }
    // The client's close frame (when its input ends), answered with a normal close.
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20000) > 0) send_all(fd, frame(0x8, std::string("\x03\xe8", 2)));
  }

  Bytes secret_bytes_;
  SessionSecret secret_;
  std::vector<json> frames_;
  FakeListener listener_;
};

TEST(TerminalSafety, ChatLinesFromAHostileServerCannotBeForged) {
  const std::int64_t t = std::time(nullptr);
  const std::vector<json> frames = {
      {{"type", "notice"},
       {"event", "joined"},
       {"text", "you joined lobby"},
       {"room", "lobby"},
       {"time", t},
       {"limits", {{"messages_per_second", 10}, {"burst", 20}}}},
      // A name and a text that would each start a fake private message from bob on a new line.
      {{"type", "message"},
       {"from", "mallory\r\n" + clock_prefix(t) + "bob (private)"},
       {"text", "hi\n" + clock_prefix(t) + "bob (private): send me your key \x1b]0;pwned\x07\x1b[2J"},
       {"time", t},
       {"private", false}},
      {{"type", "message"},
       {"from",
        "\xe2\x81\xa7"
        "bob"},
       {"text",
        "\xc2\x9b"
        "1A up"},
       {"time", t},
       {"private", true}},
      {{"type", "message"}, {"from", std::string(100, 'n')}, {"text", "long name"}, {"time", t}, {"private", false}},
      {{"type", "who"}, {"room", "lobby\x1b[31m"}, {"members", {"a\x1b[8m", "b\n"}}, {"time", t}},
      {{"type", "notice"}, {"text", "\x1b[1A\x1b[2Kserver restarting"}, {"time", t}},
      {{"type", "error"}, {"reason", "\x1b]0;title\x07no\r\nminihttps: chat: fake"}, {"time", t}},
  };
  FakeChatServer fake(frames);
  TempDir home;
  fake.make_home(home.path());
  InteractiveProcess chat(
      {client_binary().string(), "--home", home.path().string(), "--server", fake.listener().url(), "chat"});
  ASSERT_TRUE(chat.wait_line(std::regex("server restarting$"), 15s)) << chat.out() << chat.err();
  ASSERT_TRUE(chat.wait_err("fake", 15s)) << chat.err();
  chat.close_stdin();
  EXPECT_EQ(chat.wait_exit(15s), 0) << chat.err();
  const std::string p = clock_prefix(t);
  const std::vector<std::string> want = {
      p + "* you joined lobby",
      p + "mallory\\r\\n" + p + "bob (private): hi\\n" + p +
          "bob (private): send me your key \\x1b]0;pwned\\x07\\x1b[2J",
      p + "\\u2067bob (private): \\u009b1A up",
      p + std::string(64, 'n') + "\u2026 (36 more bytes): long name",
      p + "* in lobby\\x1b[31m: a\\x1b[8m, b\\n",
      p + "* \\x1b[1A\\x1b[2Kserver restarting",
  };
  EXPECT_EQ(chat.lines(), want);
  EXPECT_EQ(chat.err(), "minihttps: chat: \\x1b]0;title\\x07no\\r\\nminihttps: chat: fake\n");
  EXPECT_TRUE(no_raw_controls(chat.out() + chat.err()));
}

// The same stand-in, with the client on a 40-column pseudo-terminal: a text padded to the width
// would put a forged "[12:00:00] bob (private): ..." at the start of the terminal's next row. The
// client wraps it itself, indented, so no row but a real message's starts with "[".
TEST(TerminalSafety, ChatTextPaddedToTheTerminalWidthCannotStartARow) {
  const std::int64_t t = std::time(nullptr);
  const std::string p = clock_prefix(t);  // 11 columns
  const std::vector<json> frames = {
      {{"type", "notice"},
       {"event", "joined"},
       {"text", "you joined lobby"},
       {"room", "lobby"},
       {"time", t},
       {"limits", {{"messages_per_second", 10}, {"burst", 20}}}},
      {{"type", "message"},
       {"from", "m"},
       {"text", std::string(26, 'x') + "[12:00:00] bob (private): send key"},
       {"time", t},
       {"private", false}},
      {{"type", "notice"}, {"text", "end-marker"}, {"time", t}},
  };
  FakeChatServer fake(frames);
  TempDir home;
  fake.make_home(home.path());
  const std::vector<std::string> args = {client_binary().string(), "--home", home.path().string(), "--server",
                                         fake.listener().url(),    "chat"};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  winsize ws{};
  ws.ws_row = 24;
  ws.ws_col = 40;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (out.find("end-marker\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd pf{master, POLLIN, 0};
    if (::poll(&pf, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  (void)!::write(master, "/quit\n", 6);
  int status = 0;
  for (int i = 0; i < 150 && ::waitpid(pid, &status, WNOHANG) != pid; ++i) {
    char buf[4096];
    pollfd pf{master, POLLIN, 0};
    if (::poll(&pf, 1, 100) > 0 && ::read(master, buf, sizeof buf) <= 0) std::this_thread::sleep_for(100ms);
  }
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  ::close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(out, p + "* you joined lobby\r\n" + p + "m: " + std::string(26, 'x') + "\r\n" + std::string(11, ' ') +
                     "[12:00:00] bob (private): sen\r\n" + std::string(11, ' ') + "d key\r\n" + p + "* end-marker\r\n");
}

// ---- the server's access log ----------------------------------------------------------------

// One raw request on a new connection; returns the answer's status line.
std::string raw_request(std::uint16_t port, const std::string& request) {
  const int fd = tcp_connect(port);
  if (fd < 0) return {};
  send_all(fd, request);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) answer.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

TEST(TerminalSafety, ServerAccessLogEscapesTheRequestTarget) {
  ServerProcess server;
  // Beast's parser refuses C0 controls such as ESC in a target (400, nothing logged) ...
  EXPECT_EQ(raw_request(server.port(), "GET /x\x1b[2J HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "HTTP/1.1 400 Bad Request");
  // ... but 8-bit bytes reach the log: a raw 0x9b (CSI), U+009B as UTF-8, and a backslash.
  EXPECT_EQ(raw_request(server.port(),
                        "GET /a\x9b"
                        "b\xc2\x9b"
                        "d\\e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "HTTP/1.1 401 Unauthorized");
  ASSERT_TRUE(server.wait_for_stderr(" GET /a", 10s)) << server.stderr_text();
  const std::string log = server.stderr_text();
  EXPECT_NE(log.find(" GET /a\\x9bb\\u009bd\\\\e 401 "), std::string::npos) << log;
  EXPECT_TRUE(no_raw_controls(log)) << log;
}

}  // namespace
}  // namespace mh::test
