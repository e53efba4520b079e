// The chat shared through Redis (store/redis_chat.hpp): several hubs, one per "instance", each
// with its own relay, on one real redis-server. What each connection receives is opened with its
// own keys, as in the hub's tests; only here it arrives from the store's log, on the relay's
// thread, so the tests wait for it.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <thread>

#include "store/redis_chat.hpp"
#include "store/redis_test_util.hpp"
#include "support/chat_peer.hpp"
#include "web/chat_hub.hpp"

namespace mh::web {
namespace {

using store::testing::eventually;

struct Instance {
  std::unique_ptr<store::RedisClient> redis;
  std::unique_ptr<store::RedisChat> relay;
  std::unique_ptr<ChatHub> hub;
  mutable std::mutex log_mutex;
  std::string log;  // the hub's log lines
  std::string log_text() const {
    std::lock_guard lock(log_mutex);
    return log;
  }
};

// What `upgrade` throws: its code and text ("" if it did not throw).
std::pair<Errc, std::string> refusal_of(const std::function<void()>& upgrade) {
  try {
    upgrade();
  } catch (const Error& e) { return {e.code(), e.what()}; }
  return {Errc::internal, ""};
}

class SharedChat : public ::testing::Test {
 protected:
  Instance& instance(ChatLimits limits = {}) {
    auto i = std::make_unique<Instance>();
    i->redis = std::make_unique<store::RedisClient>(store::testing::options_for(redis_));
    i->relay = std::make_unique<store::RedisChat>(*i->redis, std::chrono::milliseconds(1000));
    i->hub =
        std::make_unique<ChatHub>(*registry_, clock_, limits, [at = i.get()](ChatLogLevel, const std::string& line) {
          std::lock_guard lock(at->log_mutex);
          at->log += line + "\n";
        });
    i->hub->relay_through(*i->relay);
    EXPECT_TRUE(eventually([&] { return i->relay->reading(); }));
    instances_.push_back(std::move(i));
    return *instances_.back();
  }

  std::shared_ptr<const auth::ClientRecord> client(const std::string& name, int k) {
    return register_client(*registry_, name, k);
  }

  // A connection to `on`, once its welcome (from the log) has arrived.
  static std::unique_ptr<Conn> join(Instance& on, std::shared_ptr<const auth::ClientRecord> c,
                                    const std::string& room = "lobby") {
    auto conn = std::make_unique<Conn>();
    conn->client = std::move(c);
    conn->handler = on.hub->connect(conn->client, room, conn->binding);
    conn->handler->on_open(conn->peer);
    EXPECT_TRUE(eventually([&] { return !conn->of_type("who").empty() || conn->peer->closed(); }));
    return conn;
  }

  // The reader connections of every relay (those blocked in XREAD), killed as a broken link would.
  std::vector<std::string> reader_ids() {
    std::vector<std::string> ids;
    const auto list = admin_.command({"CLIENT", "LIST"}).str;
    std::size_t at = 0;
    for (std::size_t nl; (nl = list.find('\n', at)) != std::string::npos; at = nl + 1) {
      const std::string line = list.substr(at, nl - at);
      if (line.find("cmd=xread") != std::string::npos) ids.push_back(line.substr(3, line.find(' ') - 3));
    }
    return ids;
  }

  test::RedisServer redis_;
  store::RedisClient admin_{store::testing::options_for(redis_)};
  FixedClock clock_{kNow};
  std::unique_ptr<auth::ClientRegistry> registry_ = auth::make_in_memory_registry(100);
  std::vector<std::unique_ptr<Instance>> instances_;  // hubs first: each stops its relay
};

std::vector<std::string> without(std::vector<std::string> texts, const std::string& prefix) {
  std::erase_if(texts, [&](const std::string& t) { return t.rfind(prefix, 0) == 0; });
  return texts;
}

TEST_F(SharedChat, EveryReaderOnEveryInstanceGetsEveryMessageOnceInOneOrder) {
  Instance& a = instance();
  Instance& b = instance();
  Instance& c = instance();
  auto alice = join(a, client("alice", 0));
  auto bob = join(b, client("bob", 1));
  auto carol = join(c, client("carol", 2));
  auto dave = join(a, client("dave", 3));  // listeners, on two instances
  auto erin = join(b, client("erin", 4));
  // Three senders on three instances at once.
  std::vector<std::thread> senders;
  for (Conn* who : {alice.get(), bob.get(), carol.get()})
    senders.emplace_back([who] {
      for (int i = 0; i < 15; ++i) who->say(who->client->name + "-" + std::to_string(i));
    });
  for (auto& t : senders) t.join();
  ASSERT_TRUE(eventually([&] { return dave->texts().size() >= 45 && erin->texts().size() >= 45; }));
  ASSERT_TRUE(eventually([&] { return alice->texts().size() >= 30 && carol->texts().size() >= 30; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing more may come
  const auto order = dave->texts();
  ASSERT_EQ(order.size(), 45u);
  EXPECT_EQ(erin->texts(), order);  // the same order on every instance
  EXPECT_EQ(alice->texts(), without(order, "alice-"));
  EXPECT_EQ(bob->texts(), without(order, "bob-"));
  EXPECT_EQ(carol->texts(), without(order, "carol-"));
  for (const std::string name : {"alice", "bob", "carol"}) {  // each sender's own order, each once
    std::vector<std::string> mine;
    for (const auto& t : order)
      if (t.rfind(name + "-", 0) == 0) mine.push_back(t);
    ASSERT_EQ(mine.size(), 15u);
    for (int i = 0; i < 15; ++i) EXPECT_EQ(mine[static_cast<std::size_t>(i)], name + "-" + std::to_string(i));
  }
  const json m = erin->of_type("message").at(0);
  EXPECT_EQ(m["time"], kNow);
  EXPECT_EQ(m["room"], "lobby");
  EXPECT_EQ(m["private"], false);
}

TEST_F(SharedChat, JoinsLeavesWhoAndRoomsAreTheSameOnEveryInstance) {
  Instance& a = instance();
  Instance& b = instance();
  auto alice = join(a, client("alice", 0));
  auto bob = join(b, client("bob", 1));
  EXPECT_EQ(bob->of_type("who").at(0)["members"], (json{"alice", "bob"}));
  ASSERT_TRUE(eventually([&] { return alice->notices().size() == 2; }));
  EXPECT_EQ(alice->notices(), (std::vector<std::string>{"you joined lobby", "bob joined lobby"}));

  alice->send({{"type", "join"}, {"room", "red"}});
  ASSERT_TRUE(eventually([&] { return alice->of_type("who").size() == 2; }));
  EXPECT_EQ(alice->of_type("who").at(1),
            (json{{"type", "who"}, {"room", "red"}, {"members", {"alice"}}, {"time", kNow}}));
  ASSERT_TRUE(eventually([&] { return bob->notices().size() == 2; }));
  EXPECT_EQ(bob->notices().back(), "alice left lobby");
  bob->send({{"type", "rooms"}});
  bob->send({{"type", "who"}});
  ASSERT_TRUE(eventually([&] { return !bob->of_type("rooms").empty() && bob->of_type("who").size() == 2; }));
  EXPECT_EQ(bob->of_type("rooms").at(0)["rooms"],
            (json{{{"name", "lobby"}, {"members", 1}}, {{"name", "red"}, {"members", 1}}}));
  EXPECT_EQ(bob->of_type("who").at(1)["members"], (json{"bob"}));
  bob->say("not for red");  // alice left lobby: it does not reach her

  auto carol = join(b, client("carol", 2), "red");
  ASSERT_TRUE(eventually([&] { return alice->notices().size() == 4; }));
  EXPECT_EQ(alice->notices().back(), "carol joined red");
  carol->handler->on_close();
  ASSERT_TRUE(eventually([&] { return alice->notices().size() == 5; }));
  EXPECT_EQ(alice->notices().back(), "carol left red");
  EXPECT_TRUE(alice->texts().empty());
}

TEST_F(SharedChat, ARoomsSizeHoldsAcrossInstances) {
  ChatLimits limits;
  limits.max_room_members = 2;
  Instance& a = instance(limits);
  Instance& b = instance(limits);
  auto alice = join(a, client("alice", 0));
  auto bob = join(b, client("bob", 1));
  EXPECT_EQ(refusal_of([&] { a.hub->upgrade(client("carol", 2), "lobby", fresh_binding()); }),
            std::pair(Errc::unavailable, std::string("chat: room lobby is full")));
  auto dave = join(a, client("dave", 3));  // past the upgrade's check: refused when it opens
  EXPECT_TRUE(dave->peer->closed());
  EXPECT_EQ(dave->peer->code(), net::close_code::try_again_later);
  EXPECT_EQ(dave->peer->reason(), "room lobby is full");
  EXPECT_EQ(dave->errors(), (std::vector<std::string>{"room lobby is full"}));
  bob->handler->on_close();
  auto erin = join(a, client("erin", 4));  // a seat is free again
  EXPECT_FALSE(erin->peer->closed());
  EXPECT_EQ(erin->of_type("who").at(0)["members"], (json{"alice", "erin"}));
}

TEST_F(SharedChat, PrivateMessagesCrossInstancesAndNeedSomeoneElseThere) {
  Instance& a = instance();
  Instance& b = instance();
  auto alice = join(a, client("alice", 0));
  auto bob = join(b, client("bob", 1), "elsewhere");
  alice->send({{"type", "msg"}, {"to", "bob"}, {"text", "psst"}});
  ASSERT_TRUE(eventually([&] { return !bob->texts().empty(); }));
  const json m = bob->of_type("message").at(0);
  EXPECT_EQ(m["private"], true);
  EXPECT_EQ(m["to"], "bob");
  EXPECT_EQ(m["from"], "alice");
  EXPECT_EQ(m["uuid"], alice->client->uuid.to_string());
  alice->send({{"type", "msg"}, {"to", "nobody"}, {"text", "hello?"}});
  alice->send({{"type", "msg"}, {"to", "alice"}, {"text", "me?"}});  // her only connection: nobody else
  ASSERT_TRUE(eventually([&] { return alice->errors().size() == 2; }));
  EXPECT_EQ(alice->errors(),
            (std::vector<std::string>{"msg: nobody is not in the chat", "msg: alice is not in the chat"}));
  EXPECT_TRUE(alice->texts().empty());
}

TEST_F(SharedChat, TheMessageBudgetIsOneForAllInstances) {
  ChatLimits limits;
  limits.messages_per_second = 0.001;  // no refill within the test
  limits.burst = 3;
  Instance& a = instance(limits);
  Instance& b = instance(limits);
  const auto carol_record = client("carol", 2);
  auto carol_on_a = join(a, carol_record);
  auto carol_on_b = join(b, carol_record);
  auto bob = join(b, client("bob", 1));
  carol_on_a->say("one");
  carol_on_a->say("two");
  carol_on_b->say("three");
  carol_on_b->say("four");  // the fourth of the client's, wherever it is sent: dropped
  ASSERT_TRUE(eventually([&] { return bob->texts().size() == 3; }));
  ASSERT_TRUE(eventually([&] { return carol_on_b->notices().size() >= 2; }));
  EXPECT_EQ(carol_on_b->notices().back(), "message dropped: more than 0.001 messages per second");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(bob->texts(), (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(SharedChat, UpgradesAreCountedForAllInstances) {
  ChatLimits limits;
  limits.upgrades_per_second = 0.001;
  limits.upgrade_burst = 2;
  Instance& a = instance(limits);
  Instance& b = instance(limits);
  const auto alice = client("alice", 0);
  a.hub->upgrade(alice, "lobby", fresh_binding());
  b.hub->upgrade(alice, "lobby", fresh_binding());
  try {
    a.hub->upgrade(alice, "lobby", fresh_binding());
    FAIL() << "a third upgrade";
  } catch (const ChatRateLimited& e) {
    EXPECT_EQ(e.code(), Errc::rate_limited);
    EXPECT_GE(e.retry_after(), 999);
  }
}

// A broken link between a relay and Redis: reading resumes after the last event read, so a reader
// misses nothing of what was said meanwhile and gets nothing twice.
TEST_F(SharedChat, AReaderWhoseLinkBreaksResumesWhereItStopped) {
  Instance& a = instance();
  Instance& b = instance();
  auto alice = join(a, client("alice", 0));
  auto bob = join(b, client("bob", 1));
  alice->say("before");
  ASSERT_TRUE(eventually([&] { return bob->texts().size() == 1; }));
  ASSERT_TRUE(eventually([&] { return reader_ids().size() == 2; }));
  for (const auto& id : reader_ids()) admin_.command({"CLIENT", "KILL", "ID", id});
  for (int i = 0; i < 15; ++i) alice->say("during-" + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return bob->texts().size() >= 16; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<std::string> expected{"before"};
  for (int i = 0; i < 15; ++i) expected.push_back("during-" + std::to_string(i));
  EXPECT_EQ(bob->texts(), expected);
  EXPECT_TRUE(eventually([&] { return b.log_text().find("cannot read the store's chat log") != std::string::npos; }))
      << b.log_text();
  EXPECT_TRUE(eventually([&] {
    return b.log_text().find("reading the store's chat log (the store is back)") != std::string::npos;
  })) << b.log_text();
}

// The log trimmed past what an instance had read: its readers would silently miss events, so
// their connections close and they reconnect.
TEST_F(SharedChat, EventsTrimmedBeforeTheyWereReadCloseThatInstancesConnections) {
  Instance& b = instance();
  auto bob = join(b, client("bob", 1));
  ASSERT_TRUE(eventually([&] { return reader_ids().size() == 1; }));
  const auto id = reader_ids().at(0);
  // At once, before the reader can come back: its link broken, an event posted and trimmed.
  const auto replies = admin_.pipeline({{"MULTI"},
                                        {"CLIENT", "KILL", "ID", id},
                                        {"XADD", store::RedisChat::kLog, "*", "e", "{}"},
                                        {"XTRIM", store::RedisChat::kLog, "MAXLEN", "0"},
                                        {"EXEC"}});
  ASSERT_EQ(replies.back().type, store::Reply::Type::array) << replies.back().str;
  ASSERT_TRUE(eventually([&] { return bob->peer->closed(); })) << b.log_text();
  EXPECT_EQ(bob->peer->code(), net::close_code::try_again_later);
  EXPECT_EQ(bob->peer->reason(), "chat: messages were lost; reconnect");
  EXPECT_NE(b.log_text().find("lost events not yet read here; closed 1 connection(s)"), std::string::npos);
}

TEST_F(SharedChat, WithoutTheStoreUpgradesAre503AndMessagesAreNotDone) {
  Instance& a = instance();
  auto alice = join(a, client("alice", 0));
  redis_.stop();
  ASSERT_TRUE(eventually([&] { return !a.relay->reading(); }));
  EXPECT_EQ(refusal_of([&] { a.hub->upgrade(client("bob", 1), "lobby", fresh_binding()); }),
            std::pair(Errc::unavailable, std::string("chat: the store cannot be reached; try again later")));
  alice->say("lost?");
  ASSERT_TRUE(eventually([&] { return !alice->errors().empty(); }));
  EXPECT_EQ(alice->errors().at(0).rfind("not done: store: ", 0), 0u) << alice->errors().at(0);
  EXPECT_TRUE(alice->errors().at(0).ends_with("; send it again in a moment")) << alice->errors().at(0);
  EXPECT_FALSE(alice->peer->closed());
  redis_.start();
  EXPECT_TRUE(eventually([&] { return a.relay->reading(); }));
  auto bob = join(a, client("bob", 1));
  EXPECT_FALSE(bob->peer->closed());
}

}  // namespace
}  // namespace mh::web
