// Registry, handshake and replay-memory exhaustion (the attack review): one address may hold only
// so many identities, all addresses together only so many handshakes a second, and one client only
// its share of the remembered nonces. Distinct client addresses come from binding to 127.0.0.N,
// which Linux routes over loopback without setup. Hellos are minihttps/2 ones, sealed to the
// server's published static key.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "core/rsa.hpp"
#include "support/raw_handshake.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh {
namespace {
using test::ServerProcess;

struct Answer {
  int status = 0;
  std::string error, reason;
};

// POST /auth/handshake from the given source address over a fresh connection.
Answer post_hello_from(const std::string& source, std::uint16_t port, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0) << source;
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server), 0);
  const std::string req =
      "POST /auth/handshake HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
      "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  EXPECT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string in;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  Answer a;
  if (in.size() > 12) a.status = std::stoi(in.substr(9, 3));
  const auto body_at = in.find("\r\n\r\n");
  const auto j = nlohmann::json::parse(body_at == std::string::npos ? "" : in.substr(body_at + 4), nullptr, false);
  if (j.is_object() && j.contains("reason")) a.reason = j["reason"];
  if (j.is_object() && j.contains("error")) a.error = j["error"];
  return a;
}

// A hello sealed to the server's published static key.
std::string hello_json(const handshake::ServerKeys& server, const RsaPrivateKey& k, const std::string& name) {
  return test::make_hello(server, k, name).hello_json();
}

const std::vector<RsaPrivateKey>& keys() {
  static const std::vector<RsaPrivateKey> k = [] {
    std::vector<RsaPrivateKey> v;
    for (int i = 0; i < 4; ++i) v.push_back(RsaPrivateKey::generate(2048));
    return v;
  }();
  return k;
}

TEST(RegistryLimits, OneAddressHoldsAtMostItsShareOfIdentities) {
  ServerProcess server(test::with_args({"--max-clients", "10", "--max-clients-per-address", "3"}));
  const auto sk = test::server_keys(server.url());
  for (int i = 0; i < 3; ++i) {
    const Answer a = post_hello_from("127.0.0.1", server.port(), hello_json(sk, keys()[i], "k" + std::to_string(i)));
    EXPECT_EQ(a.status, 200) << i << ": " << a.reason;
  }
  Answer a = post_hello_from("127.0.0.1", server.port(), hello_json(sk, keys()[3], "k3"));
  EXPECT_EQ(a.status, 429);
  EXPECT_EQ(a.error, "rate_limited");
  EXPECT_EQ(a.reason, "registry: too many identities registered from this address");
  // A known key reconnects from there (and from anywhere) as before; a new key from another
  // address registers.
  EXPECT_EQ(post_hello_from("127.0.0.1", server.port(), hello_json(sk, keys()[0], "k0")).status, 200);
  EXPECT_EQ(post_hello_from("127.0.0.9", server.port(), hello_json(sk, keys()[1], "k1")).status, 200);
  a = post_hello_from("127.0.0.2", server.port(), hello_json(sk, keys()[3], "k3"));
  EXPECT_EQ(a.status, 200) << a.reason;
}

// 8 loopback addresses got 392 handshakes through in 3 s: the server-wide budget holds for all of
// them together. (Refill 0.01/s, so no refill can happen while the test runs, however slowly.)
TEST(RegistryLimits, ServerWideHandshakeBudgetHoldsAcrossAddresses) {
  ServerProcess server(test::with_args({"--server-handshake-rate", "0.01", "--server-handshake-burst", "4"}));
  const auto sk = test::server_keys(server.url());  // a GET: no handshake spent
  std::vector<int> statuses;
  for (int i = 0; i < 8; ++i) {
    const std::string source = "127.0.0." + std::to_string(i + 1);
    const RsaPrivateKey& k =
        keys()[static_cast<std::size_t>(i) % keys().size()];  // refused or not, by the budget alone
    const Answer a = post_hello_from(source, server.port(), hello_json(sk, k, "s" + std::to_string(i)));
    statuses.push_back(a.status);
    if (a.status != 200) {
      EXPECT_EQ(a.error, "unavailable");
      EXPECT_EQ(a.reason, "handshake: too many handshakes on this server right now, try again shortly");
    }
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 200, 503, 503, 503, 503}));
}

// The replay memory is shared by every client: one client may hold only its share of it. The
// refusal comes before the answer could be sealed: plain, with the real status.
TEST(ReplayLimits, OneClientCannotFillTheReplayMemoryForEveryone) {
  ServerProcess server(test::with_args({"--replay-capacity", "1024", "--replay-per-client", "40"}));
  test::TempDir greedy_home, other_home;
  for (auto* home : {&greedy_home, &other_home}) {
    const auto r = test::run_client(home->path(), {"connect", "--server", server.url(), "--name",
                                                   home == &greedy_home ? "greedy" : "other", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  test::SignedClient greedy(greedy_home.path(), server.url()), other(other_home.path(), server.url());
  std::vector<int> statuses;
  for (int i = 0; i < 41; ++i) statuses.push_back(greedy.send("GET", "/").status);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 40);
  EXPECT_EQ(statuses.back(), 429);
  const auto refused = greedy.send("GET", "/");
  EXPECT_EQ(refused.status, 429);
  EXPECT_FALSE(refused.sealed);
  EXPECT_EQ(refused.reason(), "signature: too many requests from this client within the replay window; slow down");
  EXPECT_EQ(refused.header("Retry-After").value_or(""), "1");
  // Everyone else is served as before.
  for (int i = 0; i < 30; ++i) ASSERT_EQ(other.send("GET", "/").status, 200) << i;
}

// Nonces are remembered per client (its UUID), not per session: a new handshake gives a new keyid
// but no second use of a nonce. A keyid is case-sensitive b64u: in another case it names no session.
TEST(ReplayLimits, ANonceIsTheClientsAcrossSessions) {
  ServerProcess server;
  test::TempDir home;
  const std::vector<std::string> connect = {"connect", "--server",   server.url(), "--name",
                                            "casey",   "--rsa-bits", "2048"};
  ASSERT_EQ(test::run_client(home.path(), connect).exit_code, 0);
  test::SignedClient first(home.path(), server.url());
  test::SignOptions o;
  o.nonce = "the-same-nonce";
  EXPECT_EQ(first.send("GET", "/", o).status, 200);
  ASSERT_EQ(test::run_client(home.path(), connect).exit_code, 0);
  test::SignedClient second(home.path(), server.url());
  ASSERT_NE(second.keyid(), first.keyid());
  ASSERT_EQ(second.uuid(), first.uuid());
  const auto again = second.send("GET", "/", o);
  EXPECT_EQ(again.status, 403);
  EXPECT_FALSE(again.sealed);
  EXPECT_EQ(again.reason(), "signature: nonce already used (replayed request)");
  o.nonce = "another-nonce";
  EXPECT_EQ(second.send("GET", "/", o).status, 200);

  std::string flipped = second.keyid_text();
  for (char& c : flipped)
    if (std::isalpha(static_cast<unsigned char>(c))) {
      c = static_cast<char>(std::isupper(static_cast<unsigned char>(c)) ? std::tolower(c) : std::toupper(c));
      break;
    }
  o.nonce = std::nullopt;
  o.keyid = flipped;
  const auto other_case = second.send("GET", "/", o);
  EXPECT_EQ(other_case.status, 401);
  EXPECT_EQ(other_case.reason(), "signature: session unknown or ended: handshake again");
}

}  // namespace
}  // namespace mh
