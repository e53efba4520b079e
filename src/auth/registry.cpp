#include "auth/registry.hpp"

#include <array>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "auth/address_group.hpp"
#include "core/error.hpp"

namespace mh::auth {
namespace {

using RecordPtr = std::shared_ptr<const ClientRecord>;

class InMemoryRegistry final : public ClientRegistry {
 public:
  InMemoryRegistry(std::size_t capacity, RegistryLimits limits) : capacity_(capacity), limits_(limits) {}

  RecordPtr register_session(const Registration& r, const Grant& grant) override {
    std::lock_guard reg(registration_);
    std::optional<Uuid> uuid;
    if (const auto it = by_key_.find(r.fingerprint); it != by_key_.end()) uuid = it->second;
    if (r.requested) {
      const RecordPtr held = lookup(*r.requested);
      if (held && held->fingerprint != r.fingerprint)
        throw Error(Errc::forbidden, "registry: that UUID belongs to another key");
    }
    if (const auto it = by_name_.find(r.name); it != by_name_.end() && (!uuid || it->second != *uuid))
      throw Error(Errc::conflict, "registry: the name '" + r.name + "' is held by another key");
    const RecordPtr previous = uuid ? lookup(*uuid) : nullptr;
    const std::string group = address_group(r.address);
    if (!uuid) {
      if (const auto it = per_group_.find(group); it != per_group_.end() && it->second >= limits_.per_address)
        throw Error(Errc::rate_limited, "registry: too many identities registered from this address");
      if (by_key_.size() >= capacity_ && !evict_one_unused(r.now))
        throw Error(Errc::unavailable, "registry: full, try again later");
      do uuid = Uuid::random_v4();
      while (lookup(*uuid));
    }
    auto rec = new_record(r, *uuid, grant(*uuid));
    rec->created = previous ? previous->created : r.now;
    if (previous) rec->used.store(previous->used.load(std::memory_order_relaxed), std::memory_order_relaxed);
    rec->registered_from = previous ? previous->registered_from : group;
    if (previous && previous->name != r.name) by_name_.erase(previous->name);
    by_name_[r.name] = *uuid;
    by_key_[r.fingerprint] = *uuid;
    if (!previous) ++per_group_[group];
    if (previous) unindex_keyid(previous->keyid);
    index_keyid(rec->keyid, *uuid);
    publish(*uuid, rec);
    return rec;
  }

  RecordPtr find_session(const KeyId& keyid, std::int64_t now) const override {
    const KeyShard& ks = key_shard(keyid);
    std::optional<Uuid> uuid;
    {
      std::shared_lock lock(ks.mutex);
      const auto it = ks.uuids.find(keyid);
      if (it == ks.uuids.end()) return nullptr;
      uuid = it->second;
    }
    RecordPtr rec = lookup(*uuid);
    // A newer handshake may have published a record with another keyid in between.
    if (!rec || !rec->live(now) || rec->keyid != keyid) return nullptr;
    return rec;
  }

  RecordPtr find_client_session(const Uuid& uuid, std::int64_t now) const override {
    RecordPtr rec = lookup(uuid);
    if (!rec || !rec->live(now)) return nullptr;
    return rec;
  }

  bool end_session(const Uuid& uuid) override {
    std::lock_guard reg(registration_);
    const RecordPtr rec = lookup(uuid);
    if (!rec) return false;
    unindex_keyid(rec->keyid);
    publish(uuid, ended_copy(*rec));
    return true;
  }

  std::optional<Uuid> resolve(std::string_view text) const override {
    if (const auto u = Uuid::parse(text); u && lookup(*u)) return u;
    std::lock_guard reg(registration_);
    if (const auto it = by_name_.find(std::string(text)); it != by_name_.end()) return it->second;
    return std::nullopt;
  }

  std::vector<ClientInfo> list() const override {
    std::vector<ClientInfo> out;
    for (const Shard& s : shards_) {
      std::shared_lock lock(s.mutex);
      for (const auto& [uuid, rec] : s.records)
        out.push_back({rec->uuid, rec->name, rec->fingerprint, rec->address, rec->created,
                       rec->last_seen.load(std::memory_order_relaxed), rec->session_expires});
    }
    return out;
  }

  std::size_t sweep(std::int64_t now, std::int64_t retention) override {
    std::lock_guard reg(registration_);
    std::size_t removed = 0;
    for (Shard& s : shards_) {
      std::unique_lock lock(s.mutex);
      for (auto it = s.records.begin(); it != s.records.end();) {
        const ClientRecord& rec = *it->second;
        // A revoked session has expiry 0; it ended when it was last seen.
        const std::int64_t ended = rec.session_expires == 0 ? rec.last_seen.load() : rec.session_expires;
        const bool unused_too_long = !rec.used.load() && rec.created + limits_.unused_ttl <= now;
        if (!unused_too_long && (rec.live(now) || ended + retention > now)) {
          ++it;
          continue;
        }
        forget_indexes(rec);
        it = s.records.erase(it);
        ++removed;
      }
    }
    return removed;
  }

  std::size_t size() const override {
    std::lock_guard reg(registration_);
    return by_key_.size();
  }

 private:
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<Uuid, RecordPtr, UuidHash> records;
  };

  Shard& shard(const Uuid& u) const { return shards_[UuidHash{}(u) % shards_.size()]; }

  RecordPtr lookup(const Uuid& u) const {
    Shard& s = shard(u);
    std::shared_lock lock(s.mutex);
    const auto it = s.records.find(u);
    return it == s.records.end() ? nullptr : it->second;
  }

  void publish(const Uuid& u, RecordPtr rec) {
    Shard& s = shard(u);
    std::unique_lock lock(s.mutex);
    s.records[u] = std::move(rec);
  }

  struct KeyShard {
    mutable std::shared_mutex mutex;
    std::unordered_map<KeyId, Uuid, KeyIdHash> uuids;
  };
  KeyShard& key_shard(const KeyId& k) const { return key_shards_[k[15] % key_shards_.size()]; }

  void index_keyid(const KeyId& k, const Uuid& u) {
    KeyShard& ks = key_shard(k);
    std::unique_lock lock(ks.mutex);
    ks.uuids[k] = u;
  }
  void unindex_keyid(const KeyId& k) {
    KeyShard& ks = key_shard(k);
    std::unique_lock lock(ks.mutex);
    ks.uuids.erase(k);
  }

  // Under registration_. Removes a record's name, key, keyid and address-group entries.
  void forget_indexes(const ClientRecord& rec) {
    unindex_keyid(rec.keyid);
    by_name_.erase(rec.name);
    by_key_.erase(rec.fingerprint);
    if (const auto it = per_group_.find(rec.registered_from); it != per_group_.end() && --it->second == 0)
      per_group_.erase(it);
  }

  // Under registration_. Makes room in a full registry by forgetting the identity that never made
  // a request and registered longest ago, if it is at least unused_evictable_after seconds old.
  // A scan of the registry: it runs only when the registry is full, and the scan is what a full
  // registry costs a newcomer instead of a refusal.
  bool evict_one_unused(std::int64_t now) {
    RecordPtr oldest;
    for (const Shard& s : shards_) {
      std::shared_lock lock(s.mutex);
      for (const auto& [uuid, rec] : s.records)
        if (!rec->used.load() && rec->created + limits_.unused_evictable_after <= now &&
            (!oldest || rec->created < oldest->created))
          oldest = rec;
    }
    if (!oldest) return false;
    Shard& s = shard(oldest->uuid);
    std::unique_lock lock(s.mutex);
    s.records.erase(oldest->uuid);
    forget_indexes(*oldest);
    return true;
  }

  static RecordPtr ended_copy(const ClientRecord& r) {
    auto c = std::make_shared<ClientRecord>(r.key);
    c->uuid = r.uuid;
    c->name = r.name;
    c->fingerprint = r.fingerprint;
    // The secret and keyid are gone: nothing can use this record's session.
    c->session_expires = 0;
    c->created = r.created;
    c->address = r.address;
    c->registered_from = r.registered_from;
    c->last_seen.store(r.last_seen.load());
    c->used.store(r.used.load());
    return c;
  }

  const std::size_t capacity_;
  const RegistryLimits limits_;
  mutable std::mutex registration_;  // guards the indexes and serialises registrations
  std::unordered_map<std::string, Uuid> by_name_;
  std::unordered_map<std::string, Uuid> by_key_;            // key fingerprint -> UUID
  std::unordered_map<std::string, std::size_t> per_group_;  // address group -> identities registered from it
  mutable std::array<Shard, 16> shards_;
  mutable std::array<KeyShard, 16> key_shards_;  // keyid -> UUID of live sessions
};

}  // namespace

std::shared_ptr<ClientRecord> new_record(const Registration& r, const Uuid& uuid, SessionGrant g) {
  auto rec = std::make_shared<ClientRecord>(r.key);
  rec->uuid = uuid;
  rec->name = r.name;
  rec->fingerprint = r.fingerprint;
  rec->session_secret = std::move(g.secret);
  rec->keyid = g.keyid;
  rec->chunk_size = g.chunk_size;
  rec->session_expires = g.expires;
  rec->created = r.now;
  rec->address = r.address;
  rec->last_seen.store(r.now, std::memory_order_relaxed);
  return rec;
}

std::unique_ptr<ClientRegistry> make_in_memory_registry(std::size_t capacity, RegistryLimits limits) {
  return std::make_unique<InMemoryRegistry>(capacity, limits);
}

}  // namespace mh::auth
