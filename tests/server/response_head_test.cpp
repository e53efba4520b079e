// The response head the HTTP server writes itself (src/net/http_server.cpp, response_head): the
// exact bytes on the wire for each shape of answer, through a real HttpServer on a loopback port.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <memory>
#include <thread>

#include "net/http_server.hpp"
#include "support/test_support.hpp"

namespace mh::net {
namespace {

using namespace std::chrono_literals;

class StringBody final : public BodySource {
 public:
  explicit StringBody(std::string s) : s_(std::move(s)) {}
  std::uint64_t size() const override { return s_.size(); }
  std::size_t read(char* buf, std::size_t cap) override {
    const std::size_t n = std::min(cap, s_.size() - pos_);
    std::memcpy(buf, s_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string s_;
  std::size_t pos_ = 0;
};

// One canned answer per path.
class Canned final : public Handler {
 public:
  Dispatch on_head(Request& req) override {
    Response r;
    r.set("X-Kind", "canned");
    if (req.target == "/text") {
      r.body = "hello";
    } else if (req.target == "/stream") {
      r.stream = std::make_unique<StringBody>(std::string(100000, 'x'));
    } else if (req.target == "/empty-stream") {
      r.stream = std::make_unique<StringBody>("");
    } else if (req.target == "/204") {
      r.status = 204;
    } else if (req.target == "/304") {
      r.status = 304;
    } else if (req.target == "/head") {
      r.head_only = true;
      r.body = "twelve bytes";
    } else if (req.target == "/close") {
      r.close = true;
      r.body = "bye";
    } else if (req.target == "/split") {
      r.set("X-Bad", "a\r\nInjected: yes");
    } else {
      r.status = 404;
    }
    return r;
  }
};

class ResponseHead : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = server_.listen("127.0.0.1", 0);
    thread_ = std::thread([this] { server_.run(); });
  }
  void TearDown() override {
    server_.stop(0ms);
    thread_.join();
  }
  // The whole byte stream of one request on a connection of its own that asks to close.
  std::string exchange(const std::string& target) {
    const int fd = test::tcp_connect(port_);
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(test::send_all(fd, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    auto got = test::read_until_closed(fd, 5s);
    ::close(fd);
    return got.data;
  }

  Canned handler_;
  HttpServer server_{handler_, ServerLimits{}, 1};
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(ResponseHead, StringBodyHasItsLength) {
  EXPECT_EQ(exchange("/text"),
            "HTTP/1.1 200 OK\r\nX-Kind: canned\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
}

TEST_F(ResponseHead, StreamedBodyHasItsLengthAndEveryByte) {
  const std::string got = exchange("/stream");
  const std::string head = "HTTP/1.1 200 OK\r\nX-Kind: canned\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(got.size(), head.size() + 100000);
  EXPECT_EQ(got.substr(0, head.size()), head);
  EXPECT_EQ(got.substr(head.size()), std::string(100000, 'x'));
}

TEST_F(ResponseHead, EmptyStreamStillSendsItsHead) {
  EXPECT_EQ(exchange("/empty-stream"),
            "HTTP/1.1 200 OK\r\nX-Kind: canned\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST_F(ResponseHead, NoContentAndNotModifiedCarryNoLength) {
  EXPECT_EQ(exchange("/204"), "HTTP/1.1 204 No Content\r\nX-Kind: canned\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(exchange("/304"), "HTTP/1.1 304 Not Modified\r\nX-Kind: canned\r\nConnection: close\r\n\r\n");
}

TEST_F(ResponseHead, HeadOnlyGivesTheLengthWithoutTheBody) {
  EXPECT_EQ(exchange("/head"), "HTTP/1.1 200 OK\r\nX-Kind: canned\r\nContent-Length: 12\r\nConnection: close\r\n\r\n");
}

TEST_F(ResponseHead, KeptAliveConnectionsCarryNoConnectionField) {
  const int fd = test::tcp_connect(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(test::send_all(fd, "GET /text HTTP/1.1\r\nHost: x\r\n\r\nGET /close HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto got = test::read_until_closed(fd, 5s);
  ::close(fd);
  EXPECT_EQ(got.data,
            "HTTP/1.1 200 OK\r\nX-Kind: canned\r\nContent-Length: 5\r\n\r\nhello"
            "HTTP/1.1 200 OK\r\nX-Kind: canned\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye");
}

TEST_F(ResponseHead, FieldThatWouldSplitTheHeadDropsTheConnectionUnanswered) {
  EXPECT_EQ(exchange("/split"), "");
  // The server goes on.
  EXPECT_EQ(exchange("/text"),
            "HTTP/1.1 200 OK\r\nX-Kind: canned\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
}

}  // namespace
}  // namespace mh::net
