// RedisSubscriber against a real redis-server: delivery in order, the link reported down and up
// across a stop, a restart and a hang, and a destructor that does not wait on the network.
#include <gtest/gtest.h>
#include <signal.h>

#include <mutex>

#include "store/redis_test_util.hpp"

namespace mh::store {
namespace {

using namespace std::chrono_literals;
using test::RedisServer;
using testing::eventually;
using testing::options_for;

// What a subscriber's callbacks saw, read from the test thread.
struct Seen {
  std::mutex m;
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<bool> links;

  std::unique_ptr<RedisSubscriber> subscribe(const RedisOptions& o, std::vector<std::string> channels) {
    return std::make_unique<RedisSubscriber>(
        o, std::move(channels),
        [this](const std::string& channel, const std::string& payload) {
          std::lock_guard lock(m);
          messages.emplace_back(channel, payload);
        },
        [this](bool up) {
          std::lock_guard lock(m);
          links.push_back(up);
        });
  }
  std::size_t message_count() {
    std::lock_guard lock(m);
    return messages.size();
  }
  std::vector<bool> link_history() {
    std::lock_guard lock(m);
    return links;
  }
};

TEST(RedisSubscriber, DeliversEveryMessageInOrderAndResubscribesAfterARestart) {
  RedisServer server;
  RedisClient publisher(options_for(server));
  Seen seen;
  auto sub = seen.subscribe(options_for(server), {"news", "other"});
  ASSERT_TRUE(eventually([&] { return sub->subscribed(); }));
  EXPECT_EQ(seen.link_history(), std::vector<bool>{true});

  std::vector<std::pair<std::string, std::string>> sent;
  for (int i = 0; i < 100; ++i) {
    const std::string channel = i % 10 == 9 ? "other" : "news";
    const std::string payload = "m" + std::to_string(i) + std::string(i, '\0');
    EXPECT_EQ(publisher.command({"PUBLISH", channel, payload}).integer, 1);  // one subscriber got it
    sent.emplace_back(channel, payload);
  }
  EXPECT_EQ(publisher.command({"PUBLISH", "unrelated", "x"}).integer, 0);
  ASSERT_TRUE(eventually([&] { return seen.message_count() == 100; }));
  {
    std::lock_guard lock(seen.m);
    EXPECT_EQ(seen.messages, sent);
  }

  server.stop();
  ASSERT_TRUE(eventually([&] { return seen.link_history().size() == 2; }));
  EXPECT_EQ(seen.link_history(), (std::vector<bool>{true, false}));
  EXPECT_FALSE(sub->subscribed());

  server.start();
  ASSERT_TRUE(eventually([&] { return sub->subscribed(); }));
  EXPECT_EQ(seen.link_history(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(publisher.command({"PUBLISH", "news", "again"}).integer, 1);
  ASSERT_TRUE(eventually([&] { return seen.message_count() == 101; }));
  std::lock_guard lock(seen.m);
  EXPECT_EQ(seen.messages.back(), std::make_pair(std::string("news"), std::string("again")));
}

TEST(RedisSubscriber, SaysNothingUntilTheFirstSubscription) {
  RedisServer server(RedisServer::Listen::tcp);
  server.stop();
  Seen seen;
  auto sub = seen.subscribe(options_for(server), {"c"});
  std::this_thread::sleep_for(300ms);  // several failed dials
  EXPECT_TRUE(seen.link_history().empty());
  EXPECT_FALSE(sub->subscribed());

  server.start();
  ASSERT_TRUE(eventually([&] { return sub->subscribed(); }));
  EXPECT_EQ(seen.link_history(), std::vector<bool>{true});
}

TEST(RedisSubscriber, AHungServerBreaksTheLinkAndItComesBack) {
  RedisServer server;
  Seen seen;
  auto sub = seen.subscribe(options_for(server, 200ms), {"c"});
  ASSERT_TRUE(eventually([&] { return sub->subscribed(); }));

  // Nothing arrives from a stopped server: the PING after a quiet second goes unanswered.
  ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] { return !sub->subscribed(); }));
  EXPECT_EQ(seen.link_history(), (std::vector<bool>{true, false}));

  ASSERT_EQ(::kill(server.pid(), SIGCONT), 0);
  ASSERT_TRUE(eventually([&] { return sub->subscribed(); }));
  EXPECT_EQ(seen.link_history(), (std::vector<bool>{true, false, true}));
  RedisClient publisher(options_for(server));
  // The first connection may still be counted until Redis notices it closed: wait for one.
  ASSERT_TRUE(eventually([&] { return publisher.command({"PUBSUB", "NUMSUB", "c"}).elements.at(1).integer == 1; }));
  EXPECT_EQ(publisher.command({"PUBLISH", "c", "after"}).integer, 1);
  ASSERT_TRUE(eventually([&] { return seen.message_count() == 1; }));
}

TEST(RedisSubscriber, AQuietLinkStaysUp) {
  RedisServer server;
  Seen seen;
  auto sub = seen.subscribe(options_for(server), {"c"});  // 1 s for each PING's answer, on a busy machine too
  ASSERT_TRUE(eventually([&] { return sub->subscribed(); }));
  std::this_thread::sleep_for(2500ms);  // two heartbeats, answered
  EXPECT_EQ(seen.link_history(), std::vector<bool>{true});
  EXPECT_TRUE(sub->subscribed());
}

TEST(RedisSubscriber, TheDestructorReturnsPromptly) {
  RedisServer server;
  Seen seen;
  for (bool running : {true, false}) {
    SCOPED_TRACE(running);
    if (!running) server.stop();  // the thread is then backing off between dials
    auto sub = seen.subscribe(options_for(server), {"c"});
    if (running) {
      ASSERT_TRUE(eventually([&] { return sub->subscribed(); }));
    }
    std::this_thread::sleep_for(100ms);
    const auto start = std::chrono::steady_clock::now();
    sub.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  }
}

TEST(RedisSubscriber, NeedsAChannel) {
  Errc code = Errc::internal;
  EXPECT_EQ(test::error_of([] { RedisSubscriber s(RedisOptions{}, {}, nullptr, nullptr); }, &code),
            "store: a subscriber needs at least one channel");
  EXPECT_EQ(code, Errc::bad_request);
}

}  // namespace
}  // namespace mh::store
