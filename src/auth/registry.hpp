#pragma once
// The client registry: who is registered (UUID, name, RSA key) and their live session (keyid,
// secret, expiry). ClientRegistry is the interface a shared backend could implement later;
// InMemoryRegistry is the one minihttpsd uses: sharded by UUID so the per-request lookup takes
// only a shared lock on one of 16 shards, while registrations (rare) serialise on one mutex.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/key_schedule.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"

namespace mh::auth {

// One registered client. Immutable once published, except last_seen; a new handshake publishes
// a new record (same UUID) and revocation publishes one with the session ended.
struct ClientRecord {
  explicit ClientRecord(RsaPublicKey k) : key(std::move(k)) {}

  Uuid uuid;
  std::string name;
  RsaPublicKey key;  // parsed once: requests are verified against this object
  std::string fingerprint;
  SessionSecret session_secret;      // every key of the session derives from it (PROTOCOL.md §4)
  KeyId keyid{};                     // names the session in signatures; zero once ended
  std::uint32_t chunk_size = 0;      // of the session's streams
  std::int64_t session_expires = 0;  // unix seconds; 0 = revoked (logout or kick)
  std::int64_t created = 0;
  std::string address;          // of the latest handshake
  std::string registered_from;  // address group of the first handshake (per-address limit)
  mutable std::atomic<std::int64_t> last_seen{0};
  // Set by the first verified request under this identity (in any session): until then it is
  // only a handshake, which costs an attacker little, so it may be dropped early (RegistryLimits).
  mutable std::atomic<bool> used{false};

  bool live(std::int64_t now) const noexcept { return session_expires > now; }
  void mark_used() const noexcept {
    if (!used.load(std::memory_order_relaxed)) used.store(true, std::memory_order_relaxed);
  }
};

struct ClientInfo {  // what the operator console lists
  Uuid uuid;
  std::string name;
  std::string fingerprint;
  std::string address;
  std::int64_t created = 0;
  std::int64_t last_seen = 0;
  std::int64_t session_expires = 0;
};

struct Registration {
  std::string name;
  RsaPublicKey key;
  std::string fingerprint;
  std::optional<Uuid> requested;  // the UUID the client says it had
  std::string address;
  std::int64_t now = 0;
  // The hello's own time. A shared registry refuses a hello older than the last one it took for
  // the key, so a hello replayed after the store lost its nonces cannot replace a newer session.
  std::int64_t hello_time = 0;
};

// What keeps the registry from being held full cheaply (docs/SECURITY.md, registry exhaustion).
struct RegistryLimits {
  // Identities registered from one address group (auth/address_group.hpp) at a time; a new key
  // from a group holding this many is refused with 429.
  std::size_t per_address = 500;
  // An identity that never made a request is forgotten this long after its handshake ...
  std::int64_t unused_ttl = 600;
  // ... and, when the registry is full, the oldest one at least this old makes room for a new key.
  std::int64_t unused_evictable_after = 10;
};

struct SessionGrant {
  SessionSecret secret;
  KeyId keyid{};
  std::int64_t expires = 0;
  std::uint32_t chunk_size = 0;
};

// The record a registration publishes: who (from `r`), the session (from `g`), under `uuid`.
// created, registered_from and used are the caller's, since only it knows the identity's past.
std::shared_ptr<ClientRecord> new_record(const Registration& r, const Uuid& uuid, SessionGrant g);

class ClientRegistry {
 public:
  virtual ~ClientRegistry() = default;

  // Picks the UUID — the key's existing one, else a fresh v4 — calls grant(uuid) to make the
  // session, and publishes the record. Errc::forbidden if `requested` belongs to another key,
  // Errc::conflict if the name is held by another key, Errc::rate_limited if the key is new and
  // its address group already holds RegistryLimits::per_address identities, Errc::unavailable if
  // the registry is full (after evicting the oldest evictable unused identity, if any).
  using Grant = std::function<SessionGrant(const Uuid&)>;
  virtual std::shared_ptr<const ClientRecord> register_session(const Registration& r, const Grant& grant) = 0;

  // The record of the live session `keyid` names, or nullptr: unknown keyid, expired or revoked
  // session, or one a newer handshake of the same client replaced.
  virtual std::shared_ptr<const ClientRecord> find_session(const KeyId& keyid, std::int64_t now) const = 0;
  // The client's live session, whatever its keyid, or nullptr.
  virtual std::shared_ptr<const ClientRecord> find_client_session(const Uuid& uuid, std::int64_t now) const = 0;

  // Ends the session at once (logout, kick). The identity (UUID, name, key) is kept until swept,
  // so a new handshake with the same key gets the same UUID. False if unknown.
  virtual bool end_session(const Uuid& uuid) = 0;

  // NAME or UUID text -> UUID of a registered client.
  virtual std::optional<Uuid> resolve(std::string_view name_or_uuid) const = 0;
  virtual std::vector<ClientInfo> list() const = 0;
  // Forgets clients whose session ended more than `retention` seconds ago, and identities that
  // never made a request RegistryLimits::unused_ttl seconds after their handshake. Returns how many.
  virtual std::size_t sweep(std::int64_t now, std::int64_t retention) = 0;
  virtual std::size_t size() const = 0;
  // Writes back what this process learnt from requests (last seen, first use) to a registry shared
  // with other instances; nothing to do for one kept in this process.
  virtual void flush(std::int64_t /*now*/) {}
};

std::unique_ptr<ClientRegistry> make_in_memory_registry(std::size_t capacity, RegistryLimits limits = {});

}  // namespace mh::auth
