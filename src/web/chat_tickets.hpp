#pragma once
// Chat tickets: how a client that cannot put headers on a WebSocket upgrade (a browser) opens the
// chat (docs/PROTOCOL.md §9.1, "From a browser"). A sealed POST /chat passes every check of the
// upgrade and gets a ticket; the unsigned upgrade of /.well-known/minihttps/chat?ticket=T spends it
// within its lifetime, once, and the connection's frames are keyed by B of the POST.
//
// A ticket is opaque to clients. Inside (docs/ARCHITECTURE.md §8): the session's keyid, 16 random
// bytes, the expiry, B and the room, sealed as a Fernet token under a key derived from the
// server's Ed25519 seed, in base64url without padding. So any instance holding the pinned key can
// open it, no client can make one (a client knows its session secret, not the server's seed), and
// the wire shows nothing of it; spending goes through the nonce store every instance shares, so a
// ticket opens one chat.
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/nonce_store.hpp"
#include "auth/registry.hpp"
#include "core/bytes.hpp"
#include "core/fernet.hpp"
#include "core/key_schedule.hpp"

namespace mh::web {

struct SpentTicket {
  std::shared_ptr<const auth::ClientRecord> client;  // the live session the ticket was issued under
  std::string room;
  Binding binding{};  // B of the ticket request
};

class ChatTickets {
 public:
  // `lifetime` seconds; at most the nonce store's window, so a ticket is remembered as spent for as
  // long as it could be spent.
  ChatTickets(ByteView server_seed, auth::ClientRegistry& registry, auth::NonceStore& spent, std::int64_t lifetime);

  std::int64_t lifetime() const noexcept { return lifetime_; }

  // A ticket for `room` (already checked) under the client's current session.
  std::string issue(const auth::ClientRecord& client, std::string_view room, const Binding& binding,
                    std::int64_t now) const;

  // Spends a ticket. Errc::forbidden "chat: the ticket is not valid (expired, used or never
  // issued)" for a malformed, forged, expired or spent one; Errc::unauthenticated when its session
  // has ended; Errc::unavailable when the store cannot say whether it was spent.
  SpentTicket spend(std::string_view ticket, std::int64_t now) const;

 private:
  FernetKey key_;
  auth::ClientRegistry& registry_;
  auth::NonceStore& spent_;
  std::int64_t lifetime_;
};

}  // namespace mh::web
