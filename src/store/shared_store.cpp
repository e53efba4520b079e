#include "store/shared_store.hpp"

#include <ctime>

#include "core/error.hpp"
#include "store/redis_limiter.hpp"
#include "store/redis_nonces.hpp"

namespace mh::store {
namespace {

constexpr const char* kOwnerKey = "mh:owner";
constexpr const char* kClaimedInKey = "mh:claimed_in";

// KEYS[1] owner, KEYS[2] the run it was claimed in; ARGV[1] our fingerprint, ARGV[2] this run.
// Claims an empty store; replies {owner, the run it was claimed in}.
const Script kClaim{R"lua(
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then redis.call('SET', KEYS[2], ARGV[2]) end
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
)lua"};

// The owner check and the restart rule, in front of a nonce store.
class Epoch {
 public:
  Epoch(RedisClient& redis, std::string fingerprint, std::int64_t max_skew,
        std::function<void(bool, const std::string&)> log)
      : redis_(redis), fingerprint_(std::move(fingerprint)), max_skew_(max_skew), log_(std::move(log)) {}

  // From the client, on the connection that saw a new run_id: no I/O here.
  void restarted() {
    restarted_at_.store(std::time(nullptr));
    checked_.store(false);
    restarts_.fetch_add(1);
  }
  std::uint64_t restarts() const { return restarts_.load(); }

  // Before any nonce is checked: claims the store or checks it is ours, once after start and
  // once after each restart of Redis. Whoever claims the store records the run of Redis it
  // claimed it in: an instance that sees a restart and finds that run is the current one knows
  // another instance found the store empty; an older run means the data came back from disk.
  void check() {
    if (checked_.load(std::memory_order_acquire)) return;
    std::lock_guard lock(mutex_);
    if (checked_.load()) return;
    refuse_evicting_store();
    const std::string run = current_run();
    const Reply r = redis_.eval(kClaim, {kOwnerKey, kClaimedInKey}, {fingerprint_, run});
    if (r.type != Reply::Type::array || r.elements.size() != 2 || r.elements[0].type != Reply::Type::string)
      throw Error(Errc::unavailable, "store: cannot read " + std::string(kOwnerKey));
    const std::string& owner = r.elements[0].str;
    if (owner != fingerprint_)
      throw Error(Errc::forbidden, "store: " + redis_.address().text() + " holds the state of another server (" +
                                       owner + "); this server is " + fingerprint_ +
                                       ": give it a copy of that server's keys, or a store of its own "
                                       "(another Redis, or another database: redis://HOST:PORT/N)");
    const std::int64_t at = restarted_at_.load();
    if (at != 0 && r.elements[1].str != run) {
      vouches_from_.store(at + max_skew_ + 1);
      log_(true, "store: Redis restarted with its data (from a snapshot); requests signed before " +
                     std::to_string(at + max_skew_ + 1) + " are refused, as their nonces may be lost");
    } else if (at != 0) {
      log_(true, "store: Redis restarted empty; every session ended, clients will handshake again");
    }
    checked_.store(true, std::memory_order_release);
  }

  std::int64_t vouches_from() const { return vouches_from_.load(); }

 private:
  // A Redis that evicts keys under memory pressure would forget nonces and let replays through:
  // only noeviction (writes fail instead, which is `full`: 503) is safe. A Redis that does not let
  // us ask (CONFIG renamed away) is taken on trust, with a warning.
  void refuse_evicting_store() {
    const Reply r = redis_.command({"CONFIG", "GET", "maxmemory-policy"});
    if (r.type != Reply::Type::array || r.elements.size() != 2) {
      if (!warned_config_.exchange(true))
        log_(true, "store: cannot read maxmemory-policy (" + r.str + "); it must be noeviction");
      return;
    }
    if (r.elements[1].str != "noeviction")
      throw Error(Errc::unavailable, "store: Redis may evict keys (maxmemory-policy " + r.elements[1].str +
                                         "), which would forget nonces: set maxmemory-policy noeviction");
  }

  // Redis's run_id: a new one each time it starts.
  std::string current_run() {
    const Reply info = redis_.command({"INFO", "server"});
    const auto at = info.str.find("run_id:");
    if (info.type != Reply::Type::string || at == std::string::npos)
      throw Error(Errc::unavailable, "store: INFO server gave no run_id");
    return info.str.substr(at + 7, info.str.find_first_of("\r\n", at) - at - 7);
  }

  RedisClient& redis_;
  const std::string fingerprint_;
  const std::int64_t max_skew_;
  std::function<void(bool, const std::string&)> log_;
  std::mutex mutex_;
  std::atomic<bool> checked_{false};
  std::atomic<std::int64_t> restarted_at_{0};
  std::atomic<std::int64_t> vouches_from_{INT64_MIN};
  std::atomic<std::uint64_t> restarts_{0};
  std::atomic<bool> warned_config_{false};
};

class GuardedNonces final : public auth::NonceStore {
 public:
  GuardedNonces(Epoch& epoch, RedisClient& redis, std::string prefix, std::int64_t window, std::size_t share)
      : epoch_(epoch), inner_(redis, std::move(prefix), window, share) {}
  // The call that dials the restarted Redis is the one that finds out: the rule is brought up to
  // date before its verdict goes back, and the caller compares with vouches_from() after it.
  Verdict check_and_insert(std::string_view scope, ByteView nonce, std::int64_t now) override {
    epoch_.check();
    const std::uint64_t before = epoch_.restarts();
    const Verdict v = inner_.check_and_insert(scope, nonce, now);
    if (epoch_.restarts() != before) epoch_.check();
    return v;
  }
  std::int64_t vouches_from() const override { return epoch_.vouches_from(); }

 private:
  Epoch& epoch_;
  RedisNonceStore inner_;
};

RedisOptions client_options(const SharedStoreOptions& o, Epoch*& epoch) {
  RedisOptions r;
  r.address = o.address;
  r.timeout = o.timeout;
  r.pool_size = o.connections;
  const auto log = o.log;
  const std::string where = o.address.text();
  r.on_state = [log, where](bool up, const std::string& why) {
    if (up)
      log(false, "store: " + where + " reachable again; serving");
    else
      log(true, "store: " + where + " unreachable, answering 503 until it is back (" + why + ")");
  };
  r.on_restart = [&epoch] {
    if (epoch) epoch->restarted();
  };
  return r;
}

}  // namespace

struct SharedStore::Impl {
  Impl(const Ed25519KeyPair& identity, const SharedStoreOptions& o)
      : redis(client_options(o, epoch_ptr)),
        sealer(identity),
        epoch(redis, ed25519_fingerprint(identity.public_key()), o.max_skew, o.log),
        // A signed request or a hello is acceptable for 2 * max_skew seconds: its nonce is kept that long.
        request_nonces(epoch, redis, "mh:rn:", 2 * o.max_skew + 1, o.replay_per_client),
        hello_nonces(epoch, redis, "mh:hn:", 2 * o.max_skew + 1, 0),
        handshake_limiter(redis, "mh:hl:", o.handshakes_per_second, o.handshake_burst),
        server_handshake_limiter(redis, "mh:hs:", o.server_handshakes_per_second, o.server_handshake_burst),
        registry(make_redis_registry(redis, sealer, o.registry)) {
    epoch_ptr = &epoch;
  }
  Epoch* epoch_ptr = nullptr;  // set before any call can reach Redis
  RedisClient redis;
  ValueSealer sealer;
  Epoch epoch;
  GuardedNonces request_nonces, hello_nonces;
  RedisLimiter handshake_limiter, server_handshake_limiter;
  std::unique_ptr<auth::ClientRegistry> registry;
};

SharedStore::SharedStore(const Ed25519KeyPair& identity, SharedStoreOptions options)
    : impl_(std::make_unique<Impl>(identity, options)) {
  try {
    impl_->epoch.check();
    options.log(false, "store: using " + options.address.text());
  } catch (const Error& e) {
    if (e.code() != Errc::unavailable) throw;
    options.log(true, std::string(e.what()) + "; answering 503 until it is reachable");
  }
}

SharedStore::~SharedStore() = default;

auth::ClientRegistry& SharedStore::registry() noexcept { return *impl_->registry; }
auth::NonceStore& SharedStore::request_nonces() noexcept { return impl_->request_nonces; }
auth::NonceStore& SharedStore::hello_nonces() noexcept { return impl_->hello_nonces; }
auth::Limiter& SharedStore::handshake_limiter() noexcept { return impl_->handshake_limiter; }
auth::Limiter& SharedStore::server_handshake_limiter() noexcept { return impl_->server_handshake_limiter; }
RedisClient& SharedStore::redis() noexcept { return impl_->redis; }

}  // namespace mh::store
