// Digest-pass amplification (issue 12, item 12): a signed answer over 1 MiB needs a pass that
// encrypts and hashes the whole body before its head can be sent. The server runs that pass in
// steps and abandons it as soon as the client has gone; it lets a client have at most
// --max-digest-passes-per-client (2) such answers in flight (429 beyond) and all clients together
// run at most --max-digest-passes (16) passes (503 beyond), both with Retry-After: 1, while other
// clients are served.
//
// Nothing here depends on timing. "In flight" is made certain by a client that reads the head
// and then stops reading a body far larger than the socket buffers, so the server cannot finish
// sending it. "The client has gone before the pass ends" and "two requests arrive together" are
// made certain by stopping the server (SIGSTOP) while the clients send (and close), so the server
// finds everything waiting when it resumes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kAcceptSignature = R"(sig1=("@status" "content-digest" "signature";req;key="sig1");alg="ed25519")";

// Reads until a whole response head has arrived (or the peer closes, or `timeout`); returns
// everything read, which may include the start of the body.
std::string read_head(int fd, std::chrono::milliseconds timeout) {
  std::string got;
  const auto deadline = SteadyClock::now() + timeout;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos && SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string status_line(const std::string& r) { return r.substr(0, r.find("\r\n")); }

// Reads a response head and, if it says Content-Length: N with N small (an error answer), its
// body; of a large body only what came with the head.
std::string read_response_start(int fd, std::chrono::milliseconds timeout) {
  std::string got = read_head(fd, timeout);
  const auto head_end = got.find("\r\n\r\n");
  const auto cl = got.find("\r\nContent-Length: ");
  if (head_end == std::string::npos || cl == std::string::npos || cl > head_end) return got;
  const std::size_t length = std::stoull(got.substr(cl + 18));
  if (length > 4096) return got;
  const auto deadline = SteadyClock::now() + timeout;
  char buf[4096];
  while (got.size() < head_end + 4 + length && SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string json_reason(const std::string& answer) {
  const auto head_end = answer.find("\r\n\r\n");
  if (head_end == std::string::npos) return "";
  const auto j = nlohmann::json::parse(answer.substr(head_end + 4), nullptr, false);
  return j.is_object() ? j.value("reason", "") : "";
}

std::string reason_of(const net::ClientResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("reason", "") : "";
}

// One registered client (a real `minihttps connect`) that can send signed requests.
struct Client {
  TempDir home;
  std::unique_ptr<SignedClient> signer;

  Client(const ServerProcess& s, const std::string& name) {
    const auto r = run_client(home.path(), {"connect", "--server", s.url(), "--name", name, "--rsa-bits", "2048"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    signer = std::make_unique<SignedClient>(home.path(), s.url());
  }

  SignOptions wants_signature() const {
    SignOptions o;
    o.extra.push_back({"Accept-Signature", kAcceptSignature});
    return o;
  }

  // A signed GET asking for a signed answer, as it goes on the wire.
  std::string wire_get(const ServerProcess& s, const std::string& target) {
    const net::Request req = signer->build("GET", target, wants_signature());
    std::string head = "GET " + target + " HTTP/1.1\r\nHost: " + s.authority() + "\r\n";
    for (const auto& h : req.headers) head += h.name + ": " + h.value + "\r\n";
    return head + "\r\n";
  }

  // Opens a connection with a tiny receive buffer, asks for `target` and reads only the head: the
  // server is then stuck sending the body (far larger than the socket buffers) and holds its
  // slot until this connection closes. Returns the fd (the head read is in `head`).
  int hold(const ServerProcess& s, const std::string& target, std::string& head) {
    const int fd = tcp_connect(s.port(), 16 * 1024);
    EXPECT_GE(fd, 0);
    if (fd < 0) return fd;
    EXPECT_TRUE(send_all(fd, wire_get(s, target)));
    head = read_head(fd, 120s);  // the digest pass must finish first; generous for sanitizers
    return fd;
  }
};

// Waits until every thread of `pid` is stopped (SIGSTOP is delivered asynchronously).
bool wait_stopped(pid_t pid, std::chrono::milliseconds timeout) {
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto deadline = SteadyClock::now() + timeout; SteadyClock::now() < deadline;) {
    bool all = true;
    std::error_code ec;
    for (const auto& t : fs::directory_iterator(tasks, ec)) {
      const std::string stat = read_file(t.path() / "stat");
      const auto close = stat.rfind(')');
      if (close == std::string::npos || close + 2 >= stat.size() || (stat[close + 2] != 'T' && stat[close + 2] != 't'))
        all = false;
    }
    if (!ec && all) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// Whether some access-log line mentions `target` with `status_and_bytes` (e.g. " 499 0B").
bool access_logged(const std::string& log, const std::string& target, const std::string& status_and_bytes) {
  std::size_t start = 0;
  while (start < log.size()) {
    auto end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string_view line(log.data() + start, end - start);
    if (line.find(" access ") != std::string_view::npos && line.find(target) != std::string_view::npos &&
        line.find(status_and_bytes) != std::string_view::npos)
      return true;
    start = end + 1;
  }
  return false;
}

// A sparse file: the pass encrypts and hashes its bytes like any other, the disk stays empty.
void make_large_file(const ServerProcess& s, const std::string& name, std::uint64_t bytes) {
  write_file(s.root() / name, "");
  fs::resize_file(s.root() / name, bytes);
}

TEST(DigestPass, ClientThatClosesAtOnceAbandonsThePassAndOthersAreServed) {
  ServerProcess server;
  make_large_file(server, "huge.bin", 256ull << 20);
  Client alice(server, "alice");
  Client bob(server, "bob");
  const std::string request = alice.wire_get(server, "/huge.bin");

  const int fd = tcp_connect(server.port());
  ASSERT_GE(fd, 0);
  // With the server stopped, the request and the close both wait in its socket: when it resumes,
  // it reads the head and finds the end of the stream right behind it, before the pass has run.
  server.kill(SIGSTOP);
  const bool stopped = wait_stopped(server.pid(), 10s);
  const bool sent = send_all(fd, request);
  ::close(fd);
  server.kill(SIGCONT);
  ASSERT_TRUE(stopped);
  ASSERT_TRUE(sent);

  EXPECT_TRUE(server.wait_for_stderr("response abandoned: client gone", 60s)) << server.stderr_text();
  // Another client is served.
  const auto r = bob.signer->send("GET", "/hello.txt", bob.wants_signature());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.header("Signature").has_value());
  // And the access log says nothing was sent for the abandoned one (its line follows the event).
  bool logged = false;
  for (const auto deadline = SteadyClock::now() + 20s; !logged && SteadyClock::now() < deadline;
       std::this_thread::sleep_for(20ms))
    logged = access_logged(server.stderr_text(), "/huge.bin", " 499 0B");
  EXPECT_TRUE(logged) << server.stderr_text();
}

TEST(DigestPass, ThirdLargeSignedResponseOfOneClientIs429WhileAnotherClientIsServed) {
  ServerProcess server;
  make_large_file(server, "large.bin", 32ull << 20);
  Client alice(server, "alice");
  Client bob(server, "bob");

  std::string head1, head2;
  const int first = alice.hold(server, "/large.bin", head1);
  const int second = alice.hold(server, "/large.bin", head2);
  ASSERT_EQ(status_line(head1), "HTTP/1.1 200 OK") << head1;
  ASSERT_EQ(status_line(head2), "HTTP/1.1 200 OK") << head2;

  // The third, while both are in flight: refused before any pass, signed, with Retry-After.
  const auto refused = alice.signer->send("GET", "/large.bin", alice.wants_signature());
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(reason_of(refused), "this client is at its limit of 2 large signed responses in flight; retry later");
  EXPECT_EQ(refused.header("Retry-After").value_or(""), "1");
  EXPECT_TRUE(refused.header("Signature").has_value());
  EXPECT_TRUE(refused.header("Content-Digest").has_value());
  // Small answers are not limited.
  EXPECT_EQ(alice.signer->send("GET", "/hello.txt", alice.wants_signature()).status, 200);

  // Another client gets a large signed answer at the same time.
  std::string bob_head;
  const int bobs = bob.hold(server, "/large.bin", bob_head);
  EXPECT_EQ(status_line(bob_head), "HTTP/1.1 200 OK") << bob_head;
  ::close(bobs);

  // Once one of alice's connections closes, its slot is given back: she is served again.
  ::close(first);
  int status = 0;
  for (const auto deadline = SteadyClock::now() + 60s; SteadyClock::now() < deadline;) {
    std::string head;
    const int fd = alice.hold(server, "/large.bin", head);
    ::close(fd);
    status = head.empty() ? 0 : std::stoi(head.substr(9, 3));
    if (status != 429) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, 200);
  ::close(second);
}

// The server-wide bound counts running passes only (a slow reader cannot hold it). Two clients
// whose requests arrive together on a one-thread server: the pass runs in many steps, each
// followed by a turn of the event loop, so the other request is read and judged while the first
// pass is still running (an order, not a timing): one is answered, the other refused.
TEST(DigestPass, PassesBeyondTheServerLimitAre503WhileSmallAnswersAreServed) {
  ServerProcess server(with_args({"--max-digest-passes", "1", "--threads", "1"}));
  make_large_file(server, "huge.bin", 64ull << 20);  // 256 steps; the other request needs a few turns
  Client alice(server, "alice");
  Client bob(server, "bob");
  const std::string requests[2] = {alice.wire_get(server, "/huge.bin"), bob.wire_get(server, "/huge.bin")};
  int fds[2] = {tcp_connect(server.port(), 16 * 1024), tcp_connect(server.port(), 16 * 1024)};
  ASSERT_GE(fds[0], 0);
  ASSERT_GE(fds[1], 0);
  server.kill(SIGSTOP);
  const bool stopped = wait_stopped(server.pid(), 10s);
  const bool sent = send_all(fds[0], requests[0]) && send_all(fds[1], requests[1]);
  server.kill(SIGCONT);
  ASSERT_TRUE(stopped);
  ASSERT_TRUE(sent);

  std::string answers[2];
  for (int i = 0; i < 2; ++i) answers[i] = read_response_start(fds[i], 120s);
  const int refused = status_line(answers[0]) == "HTTP/1.1 503 Service Unavailable" ? 0 : 1;
  const std::string& no = answers[refused];
  EXPECT_EQ(status_line(answers[1 - refused]), "HTTP/1.1 200 OK") << answers[1 - refused];
  EXPECT_EQ(status_line(no), "HTTP/1.1 503 Service Unavailable") << no;
  EXPECT_EQ(json_reason(no), "the server is busy with digest passes (limit 1); retry later") << no;
  EXPECT_NE(no.find("\r\nRetry-After: 1\r\n"), std::string::npos) << no;
  EXPECT_NE(no.find("\r\nSignature: sig1=:"), std::string::npos) << no;
  ::close(fds[0]);
  ::close(fds[1]);
  // Small answers are never limited.
  EXPECT_EQ(bob.signer->send("GET", "/hello.txt", bob.wants_signature()).status, 200);
}

TEST(DigestPass, LimitOptionsAreValidated) {
  const auto r = run_server_binary({"--max-digest-passes-per-client", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("--max-digest-passes-per-client"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace mh::test
