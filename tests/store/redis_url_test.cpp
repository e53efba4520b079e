// parse_redis_url: the two accepted forms, and every refusal with the text the operator sees.
#include <gtest/gtest.h>

#include "store/redis_client.hpp"
#include "support/test_support.hpp"

namespace mh::store {
namespace {

struct Accepted {
  const char* url;
  const char* host;
  int port;
  const char* unix_path;
  int db;
  const char* text;
};
constexpr Accepted kAccepted[] = {
    {"redis://localhost", "localhost", 6379, "", 0, "redis://localhost:6379"},
    {"redis://127.0.0.1:6380/3", "127.0.0.1", 6380, "", 3, "redis://127.0.0.1:6380/3"},
    {"redis://redis.internal:1/15", "redis.internal", 1, "", 15, "redis://redis.internal:1/15"},
    {"redis://h/", "h", 6379, "", 0, "redis://h:6379"},
    {"redis://h:65535/0", "h", 65535, "", 0, "redis://h:65535"},
    {"redis://[::1]:6379", "::1", 6379, "", 0, "redis://[::1]:6379"},
    {"redis://[::1]", "::1", 6379, "", 0, "redis://[::1]:6379"},
    {"redis://[2001:db8::7]:7000/2", "2001:db8::7", 7000, "", 2, "redis://[2001:db8::7]:7000/2"},
    {"unix:///run/redis/redis.sock", "", 6379, "/run/redis/redis.sock", 0, "unix:///run/redis/redis.sock"},
    {"unix:///tmp/r.sock?db=2", "", 6379, "/tmp/r.sock", 2, "unix:///tmp/r.sock?db=2"},
};

TEST(RedisUrl, AcceptsTcpAndUnixForms) {
  for (const auto& a : kAccepted) {
    SCOPED_TRACE(a.url);
    const RedisAddress r = parse_redis_url(a.url);
    EXPECT_EQ(r.host, a.host);
    EXPECT_EQ(r.port, a.port);
    EXPECT_EQ(r.unix_path, a.unix_path);
    EXPECT_EQ(r.db, a.db);
    EXPECT_EQ(r.text(), a.text);
  }
}

struct Refused {
  std::string url;
  const char* error;
};

TEST(RedisUrl, RefusesWithTheProblemNamed) {
  const Refused refused[] = {
      {"rediss://h:6380", "store: rediss:// (TLS) is not supported; use redis:// or unix://"},
      {"http://h", "store: a redis URL starts with redis:// or unix://"},
      {"", "store: a redis URL starts with redis:// or unix://"},
      {"REDIS://h", "store: a redis URL starts with redis:// or unix://"},
      {" redis://h", "store: a redis URL starts with redis:// or unix://"},
      {"redis://user:pass@h", "store: credentials (user:pass@) are not accepted in a redis URL"},
      {"redis://:secret@h:6379", "store: credentials (user:pass@) are not accepted in a redis URL"},
      {"redis://", "store: the redis URL has no host"},
      {"redis://:6379", "store: the redis URL has no host"},
      {"redis:///3", "store: the redis URL has no host"},
      {"redis://h h", "store: bad host in the redis URL"},
      {"redis://h?db=1", "store: bad host in the redis URL"},
      {"redis://::1", "store: the redis URL has no host"},
      {"redis://[::1", "store: unclosed [ in the redis URL's host"},
      {"redis://[::1]x", "store: unexpected text after the redis URL's host"},
      {"redis://[]:1", "store: bad host in the redis URL"},
      {"redis://[1.2.3.4]", "store: bad host in the redis URL"},
      {"redis://[fe80::1%eth0]", "store: bad host in the redis URL"},
      {"redis://h:", "store: bad port in the redis URL (1..65535)"},
      {"redis://h:0", "store: bad port in the redis URL (1..65535)"},
      {"redis://h:65536", "store: bad port in the redis URL (1..65535)"},
      {"redis://h:-1", "store: bad port in the redis URL (1..65535)"},
      {"redis://h:+80", "store: bad port in the redis URL (1..65535)"},
      {"redis://h:6379x", "store: bad port in the redis URL (1..65535)"},
      {"redis://h:0006379", "store: bad port in the redis URL (1..65535)"},
      {"redis://h/16", "store: bad db in the redis URL (0..15)"},
      {"redis://h/-1", "store: bad db in the redis URL (0..15)"},
      {"redis://h/x", "store: bad db in the redis URL (0..15)"},
      {"redis://h/1x", "store: unexpected text after the db in the redis URL"},
      {"redis://h/3/x", "store: unexpected text after the db in the redis URL"},
      {"redis://h/3?timeout=1", "store: unexpected text after the db in the redis URL"},
      {"unix://relative.sock", "store: a unix redis URL needs an absolute path (unix:///PATH)"},
      {"unix://", "store: a unix redis URL needs an absolute path (unix:///PATH)"},
      {"unix:///", "store: the unix redis URL has no socket path"},
      {"unix:///tmp/r.sock?x=1", "store: only ?db=N may follow the socket path in a unix redis URL"},
      {"unix:///tmp/r.sock?db=16", "store: bad db in the redis URL (0..15)"},
      {"unix:///tmp/r.sock?db=", "store: bad db in the redis URL (0..15)"},
      {"unix:///tmp/r.sock?db=1&x", "store: unexpected text after the db in the redis URL"},
      {"unix:///tmp/a\nb", "store: control character in the redis socket path"},
      {"unix:///" + std::string(107, 'a'), "store: the redis socket path is too long"},
  };
  for (const auto& r : refused) {
    SCOPED_TRACE(r.url);
    Errc code = Errc::internal;
    EXPECT_EQ(test::error_of([&] { parse_redis_url(r.url); }, &code), r.error);
    EXPECT_EQ(code, Errc::bad_request);
  }
}

TEST(RedisUrl, TheLongestSocketPathThatFits) {
  const std::string path = "/" + std::string(106, 'a');  // 107 bytes and the NUL: sun_path's 108
  EXPECT_EQ(parse_redis_url("unix://" + path).unix_path, path);
}

}  // namespace
}  // namespace mh::store
