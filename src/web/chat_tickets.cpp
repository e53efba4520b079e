#include "web/chat_tickets.hpp"

#include <algorithm>
#include <cstring>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/fernet.hpp"
#include "core/hash.hpp"

namespace mh::web {

namespace {

// Sealed (Fernet under the ticket key): keyid(16) || id(16) || expires(8, big-endian) || B(32) ||
// room(1-32). The ticket is the token's raw bytes in base64url without padding, so it needs no
// escaping in a URL and shows nothing: not even the room (PROTOCOL.md §12).
constexpr std::size_t kKeyidAt = 0, kIdAt = 16, kExpiresAt = 32, kBindingAt = 40, kFixed = 72;  // then the room
constexpr std::size_t kMaxRoom = 32;
constexpr std::size_t kMaxTicketChars = 226;  // the token of kFixed + kMaxRoom bytes, unpadded
constexpr std::string_view kInvalid = "chat: the ticket is not valid (expired, used or never issued)";
// Spent tickets share the nonce store with signed requests; the prefix keeps them apart from
// any request nonce (those are base64 text).
constexpr std::string_view kSpentPrefix = "chat ticket ";

[[noreturn]] void invalid() { throw Error(Errc::forbidden, std::string(kInvalid)); }

}  // namespace

ChatTickets::ChatTickets(ByteView server_seed, auth::ClientRegistry& registry, auth::NonceStore& spent,
                         std::int64_t lifetime)
    : key_(FernetKey::from_bytes(
          hkdf_sha256(server_seed, {}, as_bytes(std::string_view("minihttps/2 chat ticket key")), 32).view())),
      registry_(registry),
      spent_(spent),
      lifetime_(lifetime) {}

std::string ChatTickets::issue(const auth::ClientRecord& client, std::string_view room, const Binding& binding,
                               std::int64_t now) const {
  if (room.empty() || room.size() > kMaxRoom) throw Error(Errc::internal, "chat ticket: room name unchecked");
  Bytes t;
  t.reserve(kFixed + room.size());
  t.insert(t.end(), client.keyid.begin(), client.keyid.end());
  const Bytes id = random_bytes(kExpiresAt - kIdAt);
  t.insert(t.end(), id.begin(), id.end());
  const auto expires = static_cast<std::uint64_t>(now + lifetime_);
  for (int shift = 56; shift >= 0; shift -= 8) t.push_back(static_cast<std::uint8_t>(expires >> shift));
  t.insert(t.end(), binding.begin(), binding.end());
  t.insert(t.end(), room.begin(), room.end());
  const Bytes raw = base64_decode(fernet_encrypt(key_, t, now), Alphabet::url, Padding::required);
  return base64_encode(raw, Alphabet::url, false);
}

SpentTicket ChatTickets::spend(std::string_view ticket, std::int64_t now) const {
  if (ticket.size() > kMaxTicketChars) invalid();
  Bytes t;
  try {
    const Bytes raw = base64_decode(ticket, Alphabet::url, Padding::forbidden);
    t = fernet_decrypt(key_, base64_encode(raw, Alphabet::url, true), now);
  } catch (const std::exception&) { invalid(); }  // not base64url, or a token this key did not seal
  if (t.size() < kFixed + 1 || t.size() > kFixed + kMaxRoom) invalid();

  const std::uint8_t* p = t.data();
  KeyId keyid{};
  std::memcpy(keyid.data(), p + kKeyidAt, keyid.size());
  const ByteView id(p + kIdAt, kExpiresAt - kIdAt);
  std::uint64_t expires = 0;
  for (std::size_t i = kExpiresAt; i < kBindingAt; ++i) expires = expires << 8 | p[i];
  SpentTicket out;
  std::memcpy(out.binding.data(), p + kBindingAt, out.binding.size());
  out.room.assign(reinterpret_cast<const char*>(p + kFixed), t.size() - kFixed);
  if (now >= static_cast<std::int64_t>(expires)) invalid();

  out.client = registry_.find_session(keyid, now);
  if (!out.client) throw Error(Errc::unauthenticated, "chat: the session of this ticket has ended; handshake again");
  Bytes spent_id(kSpentPrefix.begin(), kSpentPrefix.end());
  spent_id.insert(spent_id.end(), id.begin(), id.end());
  const std::string_view scope(reinterpret_cast<const char*>(out.client->uuid.bytes.data()),
                               out.client->uuid.bytes.size());
  switch (spent_.check_and_insert(scope, spent_id, now)) {
    case auth::NonceStore::Verdict::fresh: break;
    case auth::NonceStore::Verdict::replayed: invalid();
    case auth::NonceStore::Verdict::full:
    case auth::NonceStore::Verdict::scope_full: throw Error(Errc::unavailable, "server busy, try again later");
  }
  // A store restarted from a snapshot may have forgotten that this ticket was spent.
  if (static_cast<std::int64_t>(expires) - lifetime_ < spent_.vouches_from())
    throw Error(Errc::unavailable, "store: restarted; ask for a new chat ticket");
  return out;
}

}  // namespace mh::web
