// HTTP framing (issue 12, item 9): a request head whose body length or host a proxy in front of
// the server could read differently from the server (request smuggling, RFC 9112 §6.3 and §3.2)
// is answered with an exact status and reason, `Connection: close`, and the connection is closed:
// a second request pipelined behind it is never answered. Raw sockets against the real server.
// The rules are the same for the sealed endpoint of minihttps/2: a genuine sealed request with its
// framing changed is refused before its signature is looked at, in clear.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <sstream>
#include <string>

#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

std::size_t count_of(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// What the server answered to one request head, with a well-formed request pipelined behind it.
struct Outcome {
  std::string status_line;
  std::string reason;     // of the JSON error body
  bool connection_close;  // the answer says Connection: close
  std::size_t answers;    // status lines received: 1 when the pipelined request was not answered
  bool closed;            // the server closed the connection afterwards
  std::string raw;
};

class Framing : public ::testing::Test {
 protected:
  // The request the bad one smuggles or hides: answered 200 if the server ever reads it.
  std::string pipelined() const {
    return "GET /.well-known/minihttps HTTP/1.1\r\nHost: " + server_.authority() + "\r\n\r\n";
  }
  std::string host_line() const { return "Host: " + server_.authority() + "\r\n"; }

  Outcome send(const std::string& request) {
    const int fd = tcp_connect(server_.port());
    EXPECT_GE(fd, 0);
    Outcome o{};
    if (fd < 0) return o;
    EXPECT_TRUE(send_all(fd, request + pipelined()));
    const Received r = read_until_closed(fd, 10s);
    ::close(fd);
    o.raw = r.data;
    o.status_line = r.data.substr(0, r.data.find("\r\n"));
    const auto head_end = r.data.find("\r\n\r\n");
    const std::string head = r.data.substr(0, head_end);
    o.connection_close =
        head.find("\r\nConnection: close\r\n") != std::string::npos || head.ends_with("\r\nConnection: close");
    if (head_end != std::string::npos) {
      // The body ends where a pipelined answer would start.
      std::string body = r.data.substr(head_end + 4);
      body = body.substr(0, body.find("HTTP/1.1 "));
      const auto j = nlohmann::json::parse(body, nullptr, false);
      o.reason = j.is_object() ? j.value("reason", "") : "";
    }
    o.answers = count_of(r.data, "HTTP/1.1 ");
    o.closed = r.eof;
    return o;
  }

  // The exact refusal, the close, and no answer to the request behind it.
  void expect_refused(const std::string& request, const std::string& status_line, const std::string& reason) {
    SCOPED_TRACE(request);
    const Outcome o = send(request);
    EXPECT_EQ(o.status_line, status_line) << o.raw;
    EXPECT_EQ(o.reason, reason) << o.raw;
    EXPECT_TRUE(o.connection_close) << o.raw;
    EXPECT_EQ(o.answers, 1u) << "the pipelined request was answered:\n" << o.raw;
    EXPECT_TRUE(o.closed) << o.raw;
  }

  ServerProcess server_;
};

// The control: well-formed pipelined requests are both answered on one kept-alive connection,
// so "not answered" below means refused, not "pipelining does not work".
TEST_F(Framing, WellFormedPipelinedRequestsAreBothAnswered) {
  const int fd = tcp_connect(server_.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, pipelined() + pipelined()));
  std::string got;
  const auto deadline = SteadyClock::now() + 10s;
  char buf[16384];
  while (count_of(got, "HTTP/1.1 200 OK") < 2 && SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(count_of(got, "HTTP/1.1 200 OK"), 2u) << got;
  EXPECT_EQ(got.find("Connection: close"), std::string::npos) << got;
}

// RFC 9112 §9.6: a client's "Connection: close" is honoured after a request with a body too
// (reading the body used to lose the header, and the server kept the connection open until its
// request timeout). The answer says so, and the request pipelined behind is not answered.
TEST_F(Framing, ConnectionCloseAfterARequestWithABodyIsHonoured) {
  const std::string body = "{}";
  const Outcome o =
      send("POST /auth/handshake HTTP/1.1\r\n" + host_line() +
           "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body);
  EXPECT_EQ(o.status_line, "HTTP/1.1 400 Bad Request") << o.raw;
  EXPECT_TRUE(o.connection_close) << o.raw;
  EXPECT_EQ(o.answers, 1u) << o.raw;
  EXPECT_TRUE(o.closed) << o.raw;
}

// RFC 9112 §6.3 item 4: chunked not the final coding (or repeated, or not chunked at all) -> the
// length cannot be determined: 400 and close. Before the fix these were bodiless and kept alive.
TEST_F(Framing, TransferEncodingOtherThanOneChunkedIs400AndCloses) {
  const std::string reason = "unsupported Transfer-Encoding";
  for (const std::string te :
       {"gzip", "chunked, chunked", "x-chunked", "gzip, chunked", "chunked, gzip", "chunked;foo=bar", "identity"})
    expect_refused("POST /auth/handshake HTTP/1.1\r\n" + host_line() + "Transfer-Encoding: " + te + "\r\n\r\n",
                   "HTTP/1.1 400 Bad Request", reason);
  // Two fields: together `chunked, chunked` (Beast refuses the second itself) and `gzip, chunked`.
  expect_refused("POST /auth/handshake HTTP/1.1\r\n" + host_line() +
                     "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 "HTTP/1.1 400 Bad Request", reason);
  expect_refused("POST /auth/handshake HTTP/1.1\r\n" + host_line() +
                     "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 "HTTP/1.1 400 Bad Request", reason);
}

// PROTOCOL.md: every request body has a Content-Length. A single chunked coding (any case,
// optional whitespace) is well-framed but refused: 411 (RFC 9112 §6.3 item 7), then close, since
// the chunked body is not read.
TEST_F(Framing, ChunkedRequestBodyIs411AndCloses) {
  for (const std::string te : {"chunked", "CHUNKED", "Chunked  "})
    expect_refused("POST /auth/handshake HTTP/1.1\r\n" + host_line() + "Transfer-Encoding:  " + te +
                       "\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                   "HTTP/1.1 411 Length Required", "chunked request bodies are not accepted: send Content-Length");
}

// RFC 9112 §6.3 item 3: both fields -> 400 and close, whichever comes first and whatever the coding.
TEST_F(Framing, TransferEncodingWithContentLengthIs400AndCloses) {
  const std::string reason = "request has both Transfer-Encoding and Content-Length";
  const std::string post = "POST /auth/handshake HTTP/1.1\r\n" + host_line();
  expect_refused(post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request",
                 reason);
  expect_refused(post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request",
                 reason);
  expect_refused(post + "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 400 Bad Request",
                 reason);
  expect_refused(post + "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello", "HTTP/1.1 400 Bad Request",
                 reason);
}

// RFC 9112 §6.3 item 5: several Content-Length values, even equal ones, are refused.
TEST_F(Framing, DuplicateOrListContentLengthIs400AndCloses) {
  const std::string reason = "more than one Content-Length";
  const std::string post = "POST /auth/handshake HTTP/1.1\r\n" + host_line();
  expect_refused(post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 400 Bad Request", reason);
  expect_refused(post + "Content-Length: 5, 5\r\n\r\nhello", "HTTP/1.1 400 Bad Request", reason);
  expect_refused(post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "HTTP/1.1 400 Bad Request", reason);
  // A list of different values is not a valid Content-Length at all (Beast refuses the field).
  expect_refused(post + "Content-Length: 5,6\r\n\r\nhello!", "HTTP/1.1 400 Bad Request", "bad Content-Length");
  expect_refused(post + "Content-Length: five\r\n\r\nhello", "HTTP/1.1 400 Bad Request", "bad Content-Length");
}

// RFC 9112 §3.2: no Host, more than one, or one that is not a host -> 400 and close.
TEST_F(Framing, MissingDuplicateOrListHostIs400AndCloses) {
  const std::string get = "GET /.well-known/minihttps HTTP/1.1\r\n";
  expect_refused(get + "\r\n", "HTTP/1.1 400 Bad Request", "missing Host header");
  expect_refused(get + host_line() + host_line() + "\r\n", "HTTP/1.1 400 Bad Request", "more than one Host header");
  expect_refused(get + host_line() + "Host: elsewhere.example\r\n\r\n", "HTTP/1.1 400 Bad Request",
                 "more than one Host header");
  expect_refused(get + "Host: " + server_.authority() + ", elsewhere.example\r\n\r\n", "HTTP/1.1 400 Bad Request",
                 "invalid Host header");
  expect_refused(get + "Host: " + server_.authority() + ",elsewhere.example\r\n\r\n", "HTTP/1.1 400 Bad Request",
                 "invalid Host header");
}

// A well-framed request with odd but valid hosts is still served (no over-blocking).
TEST_F(Framing, ValidHostFormsAreServed) {
  for (const std::string& host : {server_.authority(), std::string("[::1]:8443"), std::string("localhost")}) {
    SCOPED_TRACE(host);
    const int fd = tcp_connect(server_.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "GET /.well-known/minihttps HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"));
    const Received r = read_until_closed(fd, 10s);
    ::close(fd);
    EXPECT_EQ(r.data.substr(0, r.data.find("\r\n")), "HTTP/1.1 200 OK") << r.data;
  }
}

// A sealed upload (its body a request body stream) as a client would send it, with its framing
// changed. The framing is judged first, so the refusal is the same as for any request, in clear
// (no MiniHTTPS-Sealed head: no session is known yet); the nonce is not spent, so the same request
// well framed is then accepted.
TEST_F(Framing, SealedRequestsAreFramedLikeAnyOther) {
  TempDir home;
  const auto connected =
      run_client(home.path(), {"connect", "--server", server_.url(), "--name", "framer", "--rsa-bits", "2048"});
  ASSERT_EQ(connected.exit_code, 0) << connected.err;
  SignedClient client(home.path(), server_.url());
  const Built put = client.build("PUT", "/.uploads/framed.txt", {}, "framed upload\n");
  const std::string& stream = put.request.body;
  const auto raw = [&](const std::string& framing, const std::string& body) {
    std::string head = put.request.method + " " + put.request.target + " HTTP/1.1\r\n" + host_line();
    for (const auto& h : put.request.headers) head += h.name + ": " + h.value + "\r\n";
    return head + framing + "\r\n" + body;
  };
  const std::string length = "Content-Length: " + std::to_string(stream.size()) + "\r\n";
  std::ostringstream chunk_size;
  chunk_size << std::hex << stream.size();
  const std::string chunked = chunk_size.str() + "\r\n" + stream + "\r\n0\r\n\r\n";

  expect_refused(raw("Transfer-Encoding: chunked\r\n", chunked), "HTTP/1.1 411 Length Required",
                 "chunked request bodies are not accepted: send Content-Length");
  expect_refused(raw(length + "Transfer-Encoding: chunked\r\n", chunked), "HTTP/1.1 400 Bad Request",
                 "request has both Transfer-Encoding and Content-Length");
  expect_refused(raw(length + length, stream), "HTTP/1.1 400 Bad Request", "more than one Content-Length");
  expect_refused(raw(length + "Host: elsewhere.example\r\n", stream), "HTTP/1.1 400 Bad Request",
                 "more than one Host header");
  for (const std::string& refused : {raw("Transfer-Encoding: chunked\r\n", chunked), raw(length + length, stream)})
    EXPECT_EQ(send(refused).raw.find("MiniHTTPS-Sealed"), std::string::npos);

  const Reply accepted = client.open(client.send_raw(put.request), put.binding);
  EXPECT_TRUE(accepted.error.empty()) << accepted.error;
  EXPECT_EQ(accepted.outer_status, 200);
  EXPECT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_NE(accepted.body.find("\"size\":14"), std::string::npos) << accepted.body;
}

}  // namespace
}  // namespace mh::test
