// Chat tickets (web/chat_tickets.hpp, PROTOCOL.md §9.1 "From a browser"): a ticket opens one chat,
// for its room and the binding of the request that got it, under the session it was issued for,
// until its lifetime is over; anything else is refused with the exact reason. It shows nothing of
// what it holds.
#include <gtest/gtest.h>

#include "auth/replay_cache.hpp"
#include "core/base64.hpp"
#include "support/chat_peer.hpp"
#include "web/chat_tickets.hpp"

namespace mh::web {
namespace {

constexpr std::string_view kInvalid = "chat: the ticket is not valid (expired, used or never issued)";

class ChatTicketsTest : public ::testing::Test {
 protected:
  Bytes seed_ = random_bytes(32);
  std::unique_ptr<auth::ClientRegistry> registry_ = auth::make_in_memory_registry(100);
  auth::ReplayCache spent_{121, 1000, 100};
  ChatTickets tickets_{seed_, *registry_, spent_, 30};
  std::shared_ptr<const auth::ClientRecord> alice_ = register_client(*registry_, "alice", 0);
  Binding binding_ = [] {
    Binding b{};
    const Bytes r = random_bytes(b.size());
    std::copy(r.begin(), r.end(), b.begin());
    return b;
  }();

  void expect_refused(std::string_view ticket, std::int64_t now, Errc code, std::string_view reason) {
    try {
      tickets_.spend(ticket, now);
      ADD_FAILURE() << "spent: " << ticket;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code);
      EXPECT_EQ(std::string(e.what()), reason);
    }
  }
};

TEST_F(ChatTicketsTest, ATicketIsSpentOnceForItsRoomBindingAndSession) {
  const std::string t = tickets_.issue(*alice_, "lobby", binding_, kNow);
  EXPECT_LE(t.size(), 226u);
  EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  const SpentTicket s = tickets_.spend(t, kNow + 29);
  EXPECT_EQ(s.client->uuid, alice_->uuid);
  EXPECT_EQ(s.room, "lobby");
  EXPECT_EQ(s.binding, binding_);
  expect_refused(t, kNow + 29, Errc::forbidden, kInvalid);
  // Two tickets for the same request are two tickets.
  EXPECT_NE(tickets_.issue(*alice_, "lobby", binding_, kNow), tickets_.issue(*alice_, "lobby", binding_, kNow));
}

TEST_F(ChatTicketsTest, ATicketShowsNeitherItsRoomNorItsSession) {
  const std::string t = tickets_.issue(*alice_, "secret-room", binding_, kNow);
  const Bytes raw = base64_decode(t, Alphabet::url, Padding::forbidden);
  const std::string_view bytes = as_chars(raw);
  EXPECT_EQ(bytes.find("secret-room"), std::string_view::npos);
  EXPECT_EQ(bytes.find(as_chars(alice_->keyid)), std::string_view::npos);
  EXPECT_EQ(bytes.find(as_chars(binding_)), std::string_view::npos);
  EXPECT_EQ(t.find(base64_encode(as_bytes("secret-room"), Alphabet::url, false).substr(0, 12)), std::string::npos);
}

TEST_F(ChatTicketsTest, ATicketLastsItsLifetimeAndNotASecondMore) {
  const std::string t = tickets_.issue(*alice_, "a", binding_, kNow);
  expect_refused(t, kNow + 30, Errc::forbidden, kInvalid);
  EXPECT_EQ(tickets_.spend(t, kNow + 29).room, "a");
}

TEST_F(ChatTicketsTest, AnyChangedByteOrLengthIsRefused) {
  const std::string room(32, 'r');  // the longest room: the longest ticket
  const std::string t = tickets_.issue(*alice_, room, binding_, kNow);
  EXPECT_EQ(t.size(), 226u);
  Bytes raw = base64_decode(t, Alphabet::url, Padding::forbidden);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    Bytes changed = raw;
    changed[i] ^= 0x01;
    expect_refused(base64_encode(changed, Alphabet::url, false), kNow, Errc::forbidden, kInvalid);
  }
  for (const std::string& bad : {std::string(), std::string("*"), t + "A", t.substr(1), t + "=", std::string(4096, 'A'),
                                 base64_encode(Bytes(raw.begin(), raw.end() - 1), Alphabet::url, false)})
    expect_refused(bad, kNow, Errc::forbidden, kInvalid);
  EXPECT_EQ(tickets_.spend(t, kNow).room, room);
}

TEST_F(ChatTicketsTest, OnlyThisServersKeyMakesTickets) {
  auth::ReplayCache other_spent{121, 1000, 100};
  const ChatTickets other(random_bytes(32), *registry_, other_spent, 30);
  expect_refused(other.issue(*alice_, "lobby", binding_, kNow), kNow, Errc::forbidden, kInvalid);
  // Another instance with the same (pinned) key takes it.
  const ChatTickets twin(seed_, *registry_, spent_, 30);
  EXPECT_EQ(twin.spend(tickets_.issue(*alice_, "lobby", binding_, kNow), kNow).room, "lobby");
}

TEST_F(ChatTicketsTest, ATicketOfAnEndedOrReplacedSessionIs401) {
  const std::string t = tickets_.issue(*alice_, "lobby", binding_, kNow);
  ASSERT_TRUE(registry_->end_session(alice_->uuid));
  expect_refused(t, kNow, Errc::unauthenticated, "chat: the session of this ticket has ended; handshake again");
  const auto again = register_client(*registry_, "alice", 0);  // a new handshake: a new session
  expect_refused(t, kNow, Errc::unauthenticated, "chat: the session of this ticket has ended; handshake again");
  EXPECT_EQ(tickets_.spend(tickets_.issue(*again, "lobby", binding_, kNow), kNow).client->uuid, again->uuid);
}

}  // namespace
}  // namespace mh::web
