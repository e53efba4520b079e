#include "store/redis_registry.hpp"

#include <charconv>
#include <chrono>
#include <ctime>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "auth/address_group.hpp"
#include "core/error.hpp"
#include "store/registry_scripts.hpp"

namespace mh::store {
namespace {

using RecordPtr = std::shared_ptr<const auth::ClientRecord>;

// How long an instance trusts what it read: the bound on how late it sees a session end.
constexpr double kCacheSeconds = 1.0;
constexpr std::size_t kMaxCached = 1 << 16;
constexpr int kRegisterAttempts = 4;

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- the sealed session value: length-prefixed fields ----------------------------------------

void put(std::string& out, std::string_view field) {
  const auto n = static_cast<std::uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(field);
}

struct FieldReader {
  ByteView in;
  std::size_t at = 0;
  std::string_view next() {
    if (in.size() - at < 4) throw Error(Errc::unavailable, "store: a session value is malformed");
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | in[at + static_cast<std::size_t>(i)];
    at += 4;
    if (in.size() - at < n) throw Error(Errc::unavailable, "store: a session value is malformed");
    const std::string_view f = as_chars(in.subspan(at, n));
    at += n;
    return f;
  }
};

std::string session_key(const KeyId& keyid) { return "mh:sess:" + to_hex(keyid); }

std::int64_t to_int(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) throw Error(Errc::unavailable, "store: a number is malformed");
  return v;
}

[[noreturn]] void unexpected(const Reply& r, const char* what) {
  throw Error(Errc::unavailable, std::string("store: ") + what + " failed" + (r.is_error() ? ": " + r.str : ""));
}

class RedisRegistry final : public auth::ClientRegistry {
 public:
  RedisRegistry(RedisClient& redis, const ValueSealer& sealer, RedisRegistryOptions o)
      : redis_(redis), sealer_(sealer), o_(o) {}

  RecordPtr register_session(const auth::Registration& r, const Grant& grant) override {
    const std::string group = auth::address_group(r.address);
    for (int attempt = 0; attempt < kRegisterAttempts; ++attempt) {
      const std::string candidate = Uuid::random_v4().to_string();
      std::vector<std::string> args = {"check",
                                       r.fingerprint,
                                       r.name,
                                       r.requested ? r.requested->to_string() : "",
                                       candidate,
                                       group,
                                       std::to_string(o_.capacity),
                                       std::to_string(o_.limits.per_address),
                                       std::to_string(r.now),
                                       std::to_string(o_.limits.unused_ttl),
                                       std::to_string(o_.limits.unused_evictable_after),
                                       std::to_string(o_.retention),
                                       std::to_string(r.hello_time)};
      const Reply checked = redis_.eval(scripts::kRegister, {}, args);
      refuse_unless_ok(checked);
      if (checked.elements[0].str == "retry") continue;
      const auto uuid = Uuid::parse(checked.elements[1].str);
      if (!uuid || checked.elements.size() != 5) unexpected(checked, "registration");

      auto rec = auth::new_record(r, *uuid, grant(*uuid));
      rec->created = to_int(checked.elements[2].str);
      rec->registered_from = checked.elements[3].str;
      rec->used.store(checked.elements[4].str == "1", std::memory_order_relaxed);

      const Bytes der = r.key.spki_der();
      args[0] = "commit";
      args.insert(args.end(), {uuid->to_string(), std::string(as_chars(der)), r.address, to_hex(rec->keyid),
                               std::to_string(rec->session_expires), seal_session(*rec)});
      const Reply committed = redis_.eval(scripts::kRegister, {}, args);
      refuse_unless_ok(committed);
      if (committed.elements[0].str == "retry") continue;
      remember(rec, rec->used.load());
      return rec;
    }
    throw Error(Errc::unavailable, "registry: too many registrations of this key at once, try again");
  }

  RecordPtr find_session(const KeyId& keyid, std::int64_t now) const override {
    if (RecordPtr rec = cached(keyid, now)) return rec;
    const Reply r = redis_.command({"GET", session_key(keyid)});
    if (r.is_nil()) {
      forget(keyid);
      return nullptr;
    }
    if (r.type != Reply::Type::string) unexpected(r, "session lookup");
    const auto rec = open_session(keyid, r.str);
    if (!rec || rec->keyid != keyid || !rec->live(now)) return nullptr;
    return remember(rec, false);
  }

  RecordPtr find_client_session(const Uuid& uuid, std::int64_t now) const override {
    {
      std::shared_lock lock(mutex_);
      if (const auto it = keyid_of_.find(uuid); it != keyid_of_.end())
        if (const auto c = cache_.find(it->second); c != cache_.end() && fresh(c->second) && c->second.rec->live(now))
          return c->second.rec;
    }
    const Reply r = redis_.eval(scripts::kClientSession, {}, {uuid.to_string()});
    if (r.is_nil()) return nullptr;
    if (r.type != Reply::Type::array || r.elements.size() != 2) unexpected(r, "session lookup");
    const Bytes k = from_hex(r.elements[0].str);
    if (k.size() != 16) unexpected(r, "session lookup");
    KeyId keyid{};
    std::copy(k.begin(), k.end(), keyid.begin());
    const auto rec = open_session(keyid, r.elements[1].str);
    if (!rec || rec->uuid != uuid || !rec->live(now)) return nullptr;
    return remember(rec, false);
  }

  bool end_session(const Uuid& uuid) override {
    {
      std::unique_lock lock(mutex_);
      if (const auto it = keyid_of_.find(uuid); it != keyid_of_.end()) {
        cache_.erase(it->second);
        keyid_of_.erase(it);
      }
    }
    const std::int64_t now = std::time(nullptr);
    const Reply r = redis_.eval(
        scripts::kEndSession, {},
        {uuid.to_string(), std::to_string(now), std::to_string(o_.limits.unused_ttl), std::to_string(o_.retention)});
    if (r.type != Reply::Type::integer) unexpected(r, "ending a session");
    return r.integer == 1;
  }

  std::optional<Uuid> resolve(std::string_view text) const override {
    if (const auto u = Uuid::parse(text)) {
      const Reply r = redis_.command({"EXISTS", "mh:id:" + u->to_string()});
      if (r.type == Reply::Type::integer && r.integer == 1) return u;
    }
    const Reply r = redis_.command({"GET", "mh:name:" + std::string(text)});
    if (r.type != Reply::Type::string) return std::nullopt;
    return Uuid::parse(r.str);
  }

  std::vector<auth::ClientInfo> list() const override {
    const Reply ids = redis_.command({"ZRANGE", "mh:clients", "0", "-1"});
    if (ids.type != Reply::Type::array) unexpected(ids, "listing");
    std::vector<Command> gets;
    for (const auto& id : ids.elements)
      gets.push_back({"HMGET", "mh:id:" + id.str, "name", "fp", "address", "created", "last_seen", "expires"});
    const auto replies = gets.empty() ? std::vector<Reply>{} : redis_.pipeline(gets);
    std::vector<auth::ClientInfo> out;
    for (std::size_t i = 0; i < replies.size(); ++i) {
      const auto& f = replies[i].elements;
      const auto uuid = Uuid::parse(ids.elements[i].str);
      if (!uuid || f.size() != 6 || f[0].is_nil()) continue;  // forgotten since
      out.push_back({*uuid, f[0].str, f[1].str, f[2].str, to_int(f[3].str), to_int(f[4].str), to_int(f[5].str)});
    }
    return out;
  }

  std::size_t sweep(std::int64_t now, std::int64_t) override {
    flush(now);
    // Identities expire in Redis by themselves; the listing set is cleaned of those that did.
    const Reply ids = redis_.command({"ZRANGE", "mh:clients", "0", "-1"});
    if (ids.type != Reply::Type::array || ids.elements.empty()) return 0;
    std::vector<Command> exists;
    for (const auto& id : ids.elements) exists.push_back({"EXISTS", "mh:id:" + id.str});
    const auto replies = redis_.pipeline(exists);
    Command zrem = {"ZREM", "mh:clients"};
    for (std::size_t i = 0; i < replies.size(); ++i)
      if (replies[i].type == Reply::Type::integer && replies[i].integer == 0) zrem.push_back(ids.elements[i].str);
    if (zrem.size() == 2) return 0;
    redis_.command(zrem);
    return zrem.size() - 2;
  }

  std::size_t size() const override {
    const Reply r = redis_.command({"ZCARD", "mh:clients"});
    return r.type == Reply::Type::integer ? static_cast<std::size_t>(r.integer) : 0;
  }

  void flush(std::int64_t now) override {
    std::vector<std::string> args = {std::to_string(now), std::to_string(o_.limits.unused_ttl),
                                     std::to_string(o_.retention)};
    {
      std::unique_lock lock(mutex_);
      const double t = steady_seconds();
      for (auto it = cache_.begin(); it != cache_.end();) {
        Entry& e = it->second;
        const std::int64_t seen = e.rec->last_seen.load(std::memory_order_relaxed);
        const bool used = e.rec->used.load(std::memory_order_relaxed);
        if (seen > e.flushed_last_seen || (used && !e.flushed_used)) {
          args.insert(args.end(), {e.rec->uuid.to_string(), std::to_string(seen), used ? "1" : "0"});
          e.flushed_last_seen = seen;
          e.flushed_used = used;
        }
        // What is written back and stale is forgotten, so the cache holds only what is in use.
        if (t - e.fetched > kCacheSeconds) {
          keyid_of_.erase(e.rec->uuid);
          it = cache_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (args.size() > 3) redis_.eval(scripts::kTouch, {}, args);
  }

 private:
  struct Entry {
    RecordPtr rec;
    double fetched = 0;
    std::int64_t flushed_last_seen = 0;
    bool flushed_used = false;
  };

  static bool fresh(const Entry& e) { return steady_seconds() - e.fetched <= kCacheSeconds; }

  static void refuse_unless_ok(const Reply& r) {
    if (r.is_error()) unexpected(r, "registration");
    if (r.type != Reply::Type::array || r.elements.empty()) unexpected(r, "registration");
    const std::string& word = r.elements[0].str;
    if (word == "ok" && r.elements.size() >= 2) return;
    if (word == "retry") return;
    if (word == "forbidden") throw Error(Errc::forbidden, "registry: that UUID belongs to another key");
    if (word == "conflict") throw Error(Errc::conflict, "registry: the name is held by another key");
    if (word == "rate_limited")
      throw Error(Errc::rate_limited, "registry: too many identities registered from this address");
    if (word == "full") throw Error(Errc::unavailable, "registry: full, try again later");
    if (word == "stale") throw Error(Errc::forbidden, "handshake: hello replayed");
    unexpected(r, "registration");
  }

  // Everything a ClientRecord needs, so that finding a session is one GET.
  std::string seal_session(const auth::ClientRecord& r) const {
    const Bytes der = r.key.spki_der();
    std::string plain;
    put(plain, as_chars(r.uuid.bytes));
    put(plain, as_chars(r.keyid));
    put(plain, as_chars(r.session_secret.bytes()));
    put(plain, r.name);
    put(plain, r.fingerprint);
    put(plain, as_chars(der));
    put(plain, std::to_string(r.chunk_size));
    put(plain, std::to_string(r.session_expires));
    put(plain, std::to_string(r.created));
    put(plain, r.address);
    put(plain, r.registered_from);
    std::string sealed = sealer_.seal(plain, session_key(r.keyid));
    secure_wipe(plain.data(), plain.size());
    return sealed;
  }

  // nullptr when the value does not open (sealed by a server with another identity, or altered).
  std::shared_ptr<auth::ClientRecord> open_session(const KeyId& keyid, const std::string& sealed) const {
    const auto plain = sealer_.open(sealed, session_key(keyid));
    if (!plain) return nullptr;
    FieldReader f{plain->view()};
    const auto uuid = f.next(), kid = f.next(), secret = f.next(), name = f.next(), fp = f.next(), der = f.next();
    if (uuid.size() != 16 || kid.size() != 16 || secret.size() != 32) return nullptr;
    auto rec = std::make_shared<auth::ClientRecord>(RsaPublicKey::from_spki_der(as_bytes(der)));
    std::copy(uuid.begin(), uuid.end(), rec->uuid.bytes.begin());
    std::copy(kid.begin(), kid.end(), rec->keyid.begin());
    rec->session_secret = SessionSecret(as_bytes(secret));
    rec->name = std::string(name);
    rec->fingerprint = std::string(fp);
    rec->chunk_size = static_cast<std::uint32_t>(to_int(f.next()));
    rec->session_expires = to_int(f.next());
    rec->created = to_int(f.next());
    rec->address = std::string(f.next());
    rec->registered_from = std::string(f.next());
    return rec;
  }

  RecordPtr cached(const KeyId& keyid, std::int64_t now) const {
    std::shared_lock lock(mutex_);
    const auto it = cache_.find(keyid);
    if (it == cache_.end() || !fresh(it->second) || !it->second.rec->live(now)) return nullptr;
    return it->second.rec;
  }

  // Keeps `rec` for a second. A record read again carries on what requests taught the one it
  // replaces, so nothing waiting to be written back is lost.
  RecordPtr remember(const std::shared_ptr<auth::ClientRecord>& rec, bool flushed_used) const {
    std::unique_lock lock(mutex_);
    Entry e{rec, steady_seconds(), rec->last_seen.load(), flushed_used};
    if (const auto it = cache_.find(rec->keyid); it != cache_.end()) {
      const auth::ClientRecord& old = *it->second.rec;
      rec->last_seen.store(std::max(rec->last_seen.load(), old.last_seen.load()));
      if (old.used.load()) rec->used.store(true);
      e.flushed_last_seen = it->second.flushed_last_seen;
      e.flushed_used = it->second.flushed_used;
      it->second = e;
    } else if (cache_.size() < kMaxCached) {
      cache_.emplace(rec->keyid, e);
    }
    keyid_of_[rec->uuid] = rec->keyid;
    return rec;
  }

  void forget(const KeyId& keyid) const {
    std::unique_lock lock(mutex_);
    if (const auto it = cache_.find(keyid); it != cache_.end()) {
      keyid_of_.erase(it->second.rec->uuid);
      cache_.erase(it);
    }
  }

  RedisClient& redis_;
  const ValueSealer& sealer_;
  const RedisRegistryOptions o_;
  mutable std::shared_mutex mutex_;  // guards the cache
  mutable std::unordered_map<KeyId, Entry, KeyIdHash> cache_;
  mutable std::unordered_map<Uuid, KeyId, UuidHash> keyid_of_;
};

}  // namespace

std::unique_ptr<auth::ClientRegistry> make_redis_registry(RedisClient& redis, const ValueSealer& sealer,
                                                          RedisRegistryOptions options) {
  return std::make_unique<RedisRegistry>(redis, sealer, options);
}

}  // namespace mh::store
