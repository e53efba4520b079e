// When the client sends a request again by itself after a busy answer (client/retry.hpp): 429
// and 503 to GET, HEAD and PUT only, after Retry-After seconds (1 without one, at most 10), at
// most 3 times; and where the seconds come from (the sealed head, or a plain refusal's field).
#include <gtest/gtest.h>

#include "client/retry.hpp"
#include "client/test_keys.hpp"
#include "core/seal.hpp"

namespace mh::client {
namespace {

Answer busy(int status, std::optional<std::uint64_t> retry_after = std::nullopt) {
  Answer a;
  a.status = status;
  a.retry_after = retry_after;
  return a;
}

TEST(BusyRetry, WaitsWhatTheServerSaysWithinLimits) {
  EXPECT_EQ(busy_wait(busy(429), "GET", 0), 1u);
  EXPECT_EQ(busy_wait(busy(503), "GET", 0), 1u);
  EXPECT_EQ(busy_wait(busy(429, 4), "HEAD", 0), 4u);
  EXPECT_EQ(busy_wait(busy(503, 0), "PUT", 1), 0u);
  EXPECT_EQ(busy_wait(busy(429, 10), "GET", 2), 10u);
  EXPECT_EQ(busy_wait(busy(429, 11), "GET", 0), 10u);
  EXPECT_EQ(busy_wait(busy(503, UINT64_MAX), "GET", 0), 10u);
}

TEST(BusyRetry, OnlyBusyAnswersToRepeatableRequestsThreeTimes) {
  EXPECT_EQ(busy_wait(busy(429), "GET", kMaxBusyRetries), std::nullopt);
  EXPECT_EQ(kMaxBusyRetries, 3);
  for (const char* method : {"POST", "DELETE"}) {
    EXPECT_EQ(busy_wait(busy(429), method, 0), std::nullopt) << method;
    EXPECT_EQ(busy_wait(busy(503), method, 0), std::nullopt) << method;
  }
  for (const int status : {200, 206, 401, 404, 413, 500, 502, 504})
    EXPECT_EQ(busy_wait(busy(status, 1), "GET", 0), std::nullopt) << status;
}

TEST(BusyRetry, Notice) {
  EXPECT_EQ(busy_notice(429, 1), "server busy (429): retrying in 1 s");
  EXPECT_EQ(busy_notice(503, 10), "server busy (503): retrying in 10 s");
}

// A plain refusal: Retry-After in delta-seconds is taken; a date, or anything else, is absent.
TEST(BusyRetry, PlainRefusalsRetryAfterField) {
  const auto read = [](const std::string& value) {
    net::ClientResponse outer;
    outer.status = 429;
    const std::string body = R"({"error":"rate_limited","reason":"slow down"})";
    outer.headers = {{"Content-Length", std::to_string(body.size())}};
    if (!value.empty()) outer.headers.push_back({"Retry-After", value});
    outer.body = body;
    AnswerReader reader(test_keys::secret(), test_keys::binding(), 4096);
    return reader.read(outer);
  };
  const Answer a = read("7");
  EXPECT_FALSE(a.sealed);
  EXPECT_EQ(a.status, 429);
  EXPECT_EQ(a.retry_after, 7u);
  EXPECT_EQ(read("").retry_after, std::nullopt);
  EXPECT_EQ(read("Wed, 21 Oct 2015 07:28:00 GMT").retry_after, std::nullopt);
  EXPECT_EQ(read("-1").retry_after, std::nullopt);
}

// A sealed answer's retry-after is in its sealed head.
TEST(BusyRetry, SealedHeadsRetryAfter) {
  seal::ResponseHead head;
  head.status = 503;
  head.retry_after = 5;
  net::ClientResponse outer;
  outer.status = 200;
  outer.headers = {{std::string(seal::kSealedField),
                    seal::seal_response_head(test_keys::secret(), test_keys::binding(), head, 1700000000)},
                   {"Content-Length", "0"}};
  AnswerReader reader(test_keys::secret(), test_keys::binding(), 4096);
  const Answer a = reader.read(outer);
  EXPECT_TRUE(a.sealed);
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.retry_after, 5u);
  EXPECT_EQ(busy_wait(a, "GET", 0), 5u);
}

}  // namespace
}  // namespace mh::client
