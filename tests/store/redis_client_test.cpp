// RedisClient against a real redis-server: replies, binary safety, pipelines, error replies, db
// selection, scripts, and what happens when Redis stops, restarts or hangs.
#include <gtest/gtest.h>
#include <signal.h>

#include <mutex>
#include <thread>

#include "store/redis_test_util.hpp"

namespace mh::store {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using testing::options_for;

void expect_string(const Reply& r, const std::string& want) {
  EXPECT_EQ(r.type, Reply::Type::string);
  EXPECT_EQ(r.str, want);
}

class RedisClientOver : public ::testing::TestWithParam<RedisServer::Listen> {};

TEST_P(RedisClientOver, AnswersEachKindOfReply) {
  RedisServer server(GetParam());
  RedisClient redis(options_for(server));

  const Reply ok = redis.command({"SET", "k", "v"});
  EXPECT_EQ(ok.type, Reply::Type::status);
  EXPECT_EQ(ok.str, "OK");
  expect_string(redis.command({"GET", "k"}), "v");
  EXPECT_TRUE(redis.command({"GET", "missing"}).is_nil());

  EXPECT_EQ(redis.command({"INCR", "n"}).integer, 1);
  const Reply two = redis.command({"INCR", "n"});
  EXPECT_EQ(two.type, Reply::Type::integer);
  EXPECT_EQ(two.integer, 2);
  EXPECT_EQ(redis.command({"INCRBY", "n", "-5"}).integer, -3);

  EXPECT_EQ(redis.command({"RPUSH", "l", "a", "b", "c"}).integer, 3);
  const Reply list = redis.command({"LRANGE", "l", "0", "-1"});
  ASSERT_EQ(list.type, Reply::Type::array);
  ASSERT_EQ(list.elements.size(), 3u);
  expect_string(list.elements[0], "a");
  expect_string(list.elements[1], "b");
  expect_string(list.elements[2], "c");

  const Reply empty = redis.command({"LRANGE", "none", "0", "-1"});
  EXPECT_EQ(empty.type, Reply::Type::array);
  EXPECT_TRUE(empty.elements.empty());

  // MGET: an array holding a nil between strings.
  const Reply mget = redis.command({"MGET", "k", "missing", "k"});
  ASSERT_EQ(mget.elements.size(), 3u);
  expect_string(mget.elements[0], "v");
  EXPECT_TRUE(mget.elements[1].is_nil());
  expect_string(mget.elements[2], "v");
  EXPECT_EQ(redis.address().text(), server.url());
}

INSTANTIATE_TEST_SUITE_P(UnixAndTcp, RedisClientOver,
                         ::testing::Values(RedisServer::Listen::unix_socket, RedisServer::Listen::tcp),
                         [](const auto& info) {
                           return info.param == RedisServer::Listen::tcp ? std::string("Tcp") : std::string("Unix");
                         });

TEST(RedisClient, KeysAndValuesAreBinarySafe) {
  RedisServer server;
  RedisClient redis(options_for(server));
  const std::string key("k\0\r\n1", 5);
  const std::string value("a\0b\r\n$3\r\n\0", 10);
  EXPECT_EQ(redis.command({"SET", key, value}).str, "OK");
  expect_string(redis.command({"GET", key}), value);
  EXPECT_TRUE(redis.command({"GET", "k"}).is_nil());

  const std::string big(as_chars(test::pattern_bytes(1 << 20, 7)));
  EXPECT_EQ(redis.command({"SET", "big", big}).str, "OK");
  const Reply back = redis.command({"GET", "big"});
  EXPECT_EQ(back.str.size(), big.size());
  EXPECT_TRUE(back.str == big);
  EXPECT_EQ(redis.command({"STRLEN", "big"}).integer, 1 << 20);

  const Reply empty_value = redis.command({"SET", "e", ""});
  EXPECT_EQ(empty_value.str, "OK");
  expect_string(redis.command({"GET", "e"}), "");
}

TEST(RedisClient, APipelineAnswersEveryCommandInOrder) {
  RedisServer server;
  RedisClient redis(options_for(server));
  std::vector<Command> commands;
  for (int i = 0; i < 100; ++i) commands.push_back(i % 2 == 0 ? Command{"INCR", "p"} : Command{"GET", "p"});
  const auto replies = redis.pipeline(commands);
  ASSERT_EQ(replies.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    SCOPED_TRACE(i);
    if (i % 2 == 0) {
      EXPECT_EQ(replies[i].type, Reply::Type::integer);
      EXPECT_EQ(replies[i].integer, i / 2 + 1);
    } else {
      expect_string(replies[i], std::to_string(i / 2 + 1));
    }
  }
  EXPECT_TRUE(redis.pipeline({}).empty());
}

TEST(RedisClient, AnErrorReplyIsAReplyAndTheConnectionStaysInUse) {
  RedisServer server;
  RedisOptions o = options_for(server);
  o.pool_size = 1;
  RedisClient redis(o);
  const long long id = redis.command({"CLIENT", "ID"}).integer;
  EXPECT_EQ(redis.command({"SET", "s", "text"}).str, "OK");

  const Reply e = redis.command({"INCR", "s"});
  EXPECT_EQ(e.type, Reply::Type::error);
  EXPECT_EQ(e.str, "ERR value is not an integer or out of range");
  const Reply wrong = redis.command({"LPUSH", "s", "x"});
  EXPECT_EQ(wrong.str, "WRONGTYPE Operation against a key holding the wrong kind of value");

  // In a pipeline, the error takes its place and the others are answered.
  const auto replies = redis.pipeline({{"GET", "s"}, {"INCR", "s"}, {"NOSUCHCOMMAND"}, {"GET", "s"}});
  ASSERT_EQ(replies.size(), 4u);
  expect_string(replies[0], "text");
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_TRUE(replies[2].is_error());
  EXPECT_EQ(replies[2].str.substr(0, 28), "ERR unknown command 'NOSUCHC");
  expect_string(replies[3], "text");

  EXPECT_EQ(redis.command({"CLIENT", "ID"}).integer, id);  // the same connection all along
}

TEST(RedisClient, AnEmptyCommandIsRefusedBeforeAnythingIsSent) {
  RedisServer server;
  RedisClient redis(options_for(server));
  Errc code = Errc::bad_request;
  EXPECT_EQ(test::error_of([&] { redis.pipeline({{"PING"}, {}}); }, &code), "store: an empty command");
  EXPECT_EQ(code, Errc::internal);
  EXPECT_EQ(redis.command({"PING"}).str, "PONG");
}

TEST(RedisClient, SelectsTheDbOfTheUrl) {
  RedisServer server;
  RedisClient db0(options_for(server));
  RedisOptions o3 = options_for(server);
  o3.address = parse_redis_url(server.url() + "?db=3");
  RedisClient db3(o3);

  EXPECT_EQ(db3.command({"SET", "only-in-3", "x"}).str, "OK");
  expect_string(db3.command({"GET", "only-in-3"}), "x");
  EXPECT_TRUE(db0.command({"GET", "only-in-3"}).is_nil());
  EXPECT_EQ(db0.command({"DBSIZE"}).integer, 0);
  EXPECT_EQ(db3.command({"DBSIZE"}).integer, 1);
}

TEST(RedisClient, SelectsTheDbOverTcpToo) {
  RedisServer server(RedisServer::Listen::tcp);
  RedisOptions o = options_for(server);
  o.address = parse_redis_url(server.url() + "/5");
  RedisClient db5(o);
  RedisClient db0(options_for(server));
  EXPECT_EQ(db5.command({"SET", "k", "5"}).str, "OK");
  EXPECT_TRUE(db0.command({"GET", "k"}).is_nil());
  expect_string(db5.command({"GET", "k"}), "5");
}

TEST(RedisClient, EvalRunsAScriptAndReloadsItAfterAFlush) {
  RedisServer server;
  RedisClient redis(options_for(server));
  const Script add("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  const Reply first = redis.eval(add, {"counter"}, {"5"});
  EXPECT_EQ(first.type, Reply::Type::integer);
  EXPECT_EQ(first.integer, 5);
  EXPECT_EQ(redis.eval(add, {"counter"}, {"2"}).integer, 7);

  // The SHA-1 the client sends is the one Redis computes.
  expect_string(redis.command({"SCRIPT", "LOAD", add.text()}), "8cd00688c05c46bde4a2e60658ef20a2e5c0b248");
  EXPECT_EQ(add.sha1(), "8cd00688c05c46bde4a2e60658ef20a2e5c0b248");  // what Redis names it
  EXPECT_EQ(redis.command({"SCRIPT", "FLUSH"}).str, "OK");
  EXPECT_EQ(redis.eval(add, {"counter"}, {"3"}).integer, 10);  // NOSCRIPT, then LOAD and retry

  const Reply nested = redis.eval(Script("return {1, {'a', 'b'}, 'c'}"), {}, {});
  ASSERT_EQ(nested.type, Reply::Type::array);
  ASSERT_EQ(nested.elements.size(), 3u);
  EXPECT_EQ(nested.elements[0].integer, 1);
  ASSERT_EQ(nested.elements[1].elements.size(), 2u);
  expect_string(nested.elements[1].elements[1], "b");
  expect_string(nested.elements[2], "c");

  const Reply fails = redis.eval(Script("return redis.error_reply('MINE went wrong')"), {}, {});
  EXPECT_EQ(fails.type, Reply::Type::error);
  EXPECT_EQ(fails.str, "MINE went wrong");
  const Reply broken = redis.eval(Script("return ("), {}, {});
  EXPECT_EQ(broken.type, Reply::Type::error);
  EXPECT_EQ(broken.str.substr(0, 26), "ERR Error compiling script");
}

struct StateLog {
  std::mutex m;
  std::vector<std::pair<bool, std::string>> events;
  int restarts = 0;
  void hook(RedisOptions& o) {
    o.on_state = [this](bool up, const std::string& why) {
      std::lock_guard lock(m);
      events.emplace_back(up, why);
    };
    o.on_restart = [this] {
      std::lock_guard lock(m);
      ++restarts;
    };
  }
  std::vector<std::pair<bool, std::string>> seen() {
    std::lock_guard lock(m);
    return events;
  }
  int restarts_seen() {
    std::lock_guard lock(m);
    return restarts;
  }
};

TEST(RedisClient, ReportsTheLinkDownOnceAndUpOnceWhenRedisComesBack) {
  RedisServer server;
  StateLog log;
  RedisOptions o = options_for(server);
  log.hook(o);
  RedisClient redis(o);
  EXPECT_EQ(redis.command({"PING"}).str, "PONG");
  EXPECT_TRUE(log.seen().empty());  // a first success changes nothing

  server.stop();
  const std::string down = "store: cannot connect (" + server.url() + "): No such file or directory";
  Errc code = Errc::internal;
  EXPECT_EQ(test::error_of([&] { redis.command({"PING"}); }, &code), down);
  EXPECT_EQ(code, Errc::unavailable);
  EXPECT_EQ(test::error_of([&] { redis.pipeline({{"PING"}, {"PING"}}); }), down);
  EXPECT_EQ(test::error_of([&] { redis.eval(Script("return 1"), {}, {}); }), down);
  EXPECT_EQ(log.seen(), (std::vector<std::pair<bool, std::string>>{{false, down}}));

  server.start();
  EXPECT_EQ(redis.command({"SET", "a", "1"}).str, "OK");
  expect_string(redis.command({"GET", "a"}), "1");
  EXPECT_EQ(log.seen(), (std::vector<std::pair<bool, std::string>>{{false, down}, {true, ""}}));
}

TEST(RedisClient, AFailureBeforeAnySuccessIsReported) {
  RedisServer server(RedisServer::Listen::tcp);
  const std::string url = server.url();
  server.stop();
  StateLog log;
  RedisOptions o;
  o.address = parse_redis_url(url);
  log.hook(o);
  RedisClient redis(o);
  const std::string refused = "store: cannot connect (" + url + "): Connection refused";
  EXPECT_EQ(test::error_of([&] { redis.command({"PING"}); }), refused);
  EXPECT_EQ(log.seen(), (std::vector<std::pair<bool, std::string>>{{false, refused}}));
}

TEST(RedisClient, ALostConnectionFailsTheCallThatWasUsingIt) {
  RedisServer server;
  RedisOptions o = options_for(server);
  o.pool_size = 1;
  RedisClient redis(o);
  RedisClient killer(options_for(server));
  const long long id = redis.command({"CLIENT", "ID"}).integer;
  // The server closes the connection while the call waits for its answer.
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    killer.command({"CLIENT", "KILL", "ID", std::to_string(id)});
  });
  Errc code = Errc::internal;
  const std::string why = test::error_of([&] { redis.command({"BLPOP", "nothing", "0.5"}); }, &code);
  t.join();
  EXPECT_EQ(code, Errc::unavailable);
  EXPECT_EQ(why, "store: connection lost (" + server.url() + "): Server closed the connection");
  EXPECT_NE(redis.command({"CLIENT", "ID"}).integer, id);  // dialed again
}

TEST(RedisClient, ARestartIsReportedOnceByTheNextConnection) {
  RedisServer server;
  StateLog log;
  RedisOptions o = options_for(server);
  log.hook(o);
  RedisClient redis(o);
  EXPECT_EQ(redis.command({"SET", "k", "v"}).str, "OK");
  EXPECT_EQ(log.restarts_seen(), 0);

  server.restart();
  // The idle connection to the old server is seen closed and not used: no failure at all.
  EXPECT_TRUE(redis.command({"GET", "k"}).is_nil());
  EXPECT_EQ(redis.command({"SET", "k", "w"}).str, "OK");
  EXPECT_EQ(log.restarts_seen(), 1);
  EXPECT_TRUE(log.seen().empty());

  server.kill();
  server.start();
  EXPECT_TRUE(redis.command({"GET", "k"}).is_nil());
  EXPECT_EQ(log.restarts_seen(), 2);
}

TEST(RedisClient, AHungServerFailsTheCallAfterTheTimeout) {
  RedisServer server;
  StateLog log;
  RedisOptions o = options_for(server, 200ms);
  log.hook(o);
  RedisClient redis(o);
  EXPECT_EQ(redis.command({"PING"}).str, "PONG");

  ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
  const std::string hung = "store: no answer within 200 ms (" + server.url() + "): Resource temporarily unavailable";
  const auto start = std::chrono::steady_clock::now();
  Errc code = Errc::internal;
  EXPECT_EQ(test::error_of([&] { redis.command({"GET", "k"}); }, &code), hung);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
  EXPECT_EQ(code, Errc::unavailable);
  // A new connection is accepted by the kernel, but its setup gets no answer either.
  RedisClient fresh(options_for(server, 200ms));
  EXPECT_EQ(test::error_of([&] { fresh.command({"PING"}); }), hung);

  ASSERT_EQ(::kill(server.pid(), SIGCONT), 0);
  EXPECT_EQ(redis.command({"PING"}).str, "PONG");
  EXPECT_EQ(log.seen(), (std::vector<std::pair<bool, std::string>>{{false, hung}, {true, ""}}));
}

TEST(RedisClient, ThePoolServesManyThreadsWithFewConnections) {
  RedisServer server;
  RedisOptions o = options_for(server);
  o.pool_size = 2;
  RedisClient redis(o);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) redis.command({"INCR", "shared"});
    });
  for (auto& t : threads) t.join();
  expect_string(redis.command({"GET", "shared"}), "1600");
  // CLIENT LIST: this client's two connections, and no more.
  const std::string clients = redis.command({"CLIENT", "LIST"}).str;
  EXPECT_EQ(std::count(clients.begin(), clients.end(), '\n'), 2);
}

TEST(RedisClient, AllConnectionsBusyFailsAfterTheTimeout) {
  RedisServer server;
  StateLog log;
  RedisOptions o = options_for(server, 2000ms);
  o.pool_size = 1;
  log.hook(o);
  RedisClient redis(o);
  EXPECT_EQ(redis.command({"PING"}).str, "PONG");
  // The one connection is held for 3 s by three BLPOPs of 1 s (each answered well within the
  // 2 s timeout, even on a busy machine), while a second call may wait only 2 s for it.
  std::vector<Reply> held;
  std::string holder_error;
  std::thread holder([&] {
    try {
      held = redis.pipeline({{"BLPOP", "x", "1"}, {"BLPOP", "x", "1"}, {"BLPOP", "x", "1"}});
    } catch (const std::exception& e) { holder_error = e.what(); }
  });
  std::this_thread::sleep_for(200ms);
  Errc code = Errc::internal;
  EXPECT_EQ(test::error_of([&] { redis.command({"PING"}); }, &code), "store: all 1 connections busy");
  EXPECT_EQ(code, Errc::unavailable);
  holder.join();
  EXPECT_EQ(holder_error, "");
  ASSERT_EQ(held.size(), 3u);
  EXPECT_TRUE(held[2].is_nil());
  EXPECT_EQ(redis.command({"PING"}).str, "PONG");
  EXPECT_TRUE(log.seen().empty());  // a busy pool says nothing about the link
}

}  // namespace
}  // namespace mh::store
