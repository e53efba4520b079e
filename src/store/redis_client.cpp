// RedisClient: a bounded pool of blocking hiredis connections. A connection is taken for one call
// (or one pipeline) and given back only if the call left it healthy; a failed one is freed, so
// the next call dials again and the client recovers by itself when Redis is back.
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <poll.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/bytes.hpp"
#include "store/redis_client.hpp"
#include "store/redis_link.hpp"

namespace mh::store {
namespace {

enum LinkState : int { kUnknown, kUp, kDown };

// The run_id line of INFO server: it changes whenever Redis restarts.
std::string run_id_of(const std::string& info) {
  const std::string key = "run_id:";
  std::size_t at = info.find(key);
  while (at != std::string::npos && at != 0 && info[at - 1] != '\n') at = info.find(key, at + 1);
  if (at == std::string::npos) return {};
  const std::size_t begin = at + key.size();
  return info.substr(begin, info.find_first_of("\r\n", begin) - begin);
}

// An idle connection has nothing to read: if its socket is readable, Redis closed it (restart,
// idle timeout) and using it would fail the caller's call for nothing.
bool looks_alive(const redisContext* c) {
  pollfd p{c->fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

std::string sha1_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), md, &n, EVP_sha1(), nullptr) != 1)
    throw Error(Errc::internal, "store: SHA-1 failed");
  return to_hex(ByteView(md, n));
}

}  // namespace

struct RedisClient::Impl {
  RedisOptions opt;
  std::size_t pool_size;

  std::mutex pool_mutex;
  std::condition_variable pool_freed;
  std::vector<redisContext*> idle;
  std::size_t open = 0;  // idle + in use + being dialed

  // Reports are serialized so that on_state never sees the same value twice in a row; the
  // callbacks run under report_mutex (never the pool's) and must not call back into the client.
  std::mutex report_mutex;
  std::atomic<int> state{kUnknown};
  std::string run_id;

  explicit Impl(RedisOptions o) : opt(std::move(o)), pool_size(opt.pool_size == 0 ? 1 : opt.pool_size) {}

  ~Impl() {
    for (auto* c : idle) redisFree(c);
  }

  void report(bool up, const std::string& why) {
    const int want = up ? kUp : kDown;
    if (state.load(std::memory_order_acquire) == want) return;
    std::lock_guard lock(report_mutex);
    const int was = state.exchange(want, std::memory_order_acq_rel);
    if (was == want || !opt.on_state) return;
    if (up && was == kUnknown) return;  // the first success ever changes nothing
    opt.on_state(up, why);
  }

  // true when this connection's Redis is not the one the previous connection talked to.
  bool note_run_id(const std::string& id) {
    std::lock_guard lock(report_mutex);
    const bool restarted = !run_id.empty() && id != run_id;
    run_id = id;
    return restarted;
  }

  // An idle connection, or nullptr when the caller may dial a new one (already counted in open).
  redisContext* take() {
    std::vector<redisContext*> dead;
    redisContext* found = nullptr;
    {
      std::unique_lock lock(pool_mutex);
      if (!pool_freed.wait_for(lock, opt.timeout, [&] { return !idle.empty() || open < pool_size; }))
        throw Error(Errc::unavailable, "store: all " + std::to_string(pool_size) + " connections busy");
      while (!idle.empty() && !found) {
        redisContext* c = idle.back();
        idle.pop_back();
        if (looks_alive(c))
          found = c;
        else
          dead.push_back(c);
      }
      open -= dead.size();
      if (!found) ++open;
    }
    for (auto* c : dead) redisFree(c);
    if (!dead.empty()) pool_freed.notify_all();
    return found;
  }

  void give_back(redisContext* c, bool healthy) {
    {
      std::lock_guard lock(pool_mutex);
      if (healthy)
        idle.push_back(c);
      else
        --open;
    }
    if (!healthy) redisFree(c);
    pool_freed.notify_one();
  }

  // A new connection on its db, and whether its Redis restarted since the last one.
  redisContext* connect(bool& restarted) {
    detail::Context c = detail::dial(opt.address, opt.timeout);
    std::vector<Command> setup;
    if (opt.address.db != 0) setup.push_back({"SELECT", std::to_string(opt.address.db)});
    setup.push_back({"INFO", "server"});
    const auto replies = detail::round_trip(c.get(), setup, opt.address, opt.timeout);
    for (const auto& r : replies)
      if (r.is_error())
        throw Error(Errc::unavailable, "store: cannot set up the connection (" + opt.address.text() + "): " + r.str);
    restarted = note_run_id(run_id_of(replies.back().str));
    return c.release();
  }

  std::vector<Reply> exchange(const std::vector<Command>& commands) {
    redisContext* c = take();  // "all busy" is not a link failure: no report
    bool restarted = false;
    std::vector<Reply> replies;
    try {
      if (!c) {
        try {
          c = connect(restarted);
        } catch (...) {
          {
            std::lock_guard lock(pool_mutex);
            --open;
          }
          pool_freed.notify_one();
          throw;
        }
      }
      replies = detail::round_trip(c, commands, opt.address, opt.timeout);
    } catch (const Error& e) {
      if (c) give_back(c, false);
      if (e.code() == Errc::unavailable) report(false, e.what());
      throw;
    } catch (...) {
      if (c) give_back(c, false);
      throw;
    }
    give_back(c, true);
    report(true, "");
    if (restarted && opt.on_restart) opt.on_restart();
    return replies;
  }
};

RedisClient::RedisClient(RedisOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RedisClient::~RedisClient() = default;

Reply RedisClient::command(const Command& argv) { return std::move(impl_->exchange({argv}).front()); }

std::vector<Reply> RedisClient::pipeline(const std::vector<Command>& commands) {
  if (commands.empty()) return {};
  return impl_->exchange(commands);
}

Script::Script(std::string text) : text_(std::move(text)), sha1_(sha1_hex(text_)) {}

Reply RedisClient::eval(const Script& script, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args) {
  Command evalsha{"EVALSHA", script.sha1(), std::to_string(keys.size())};
  evalsha.insert(evalsha.end(), keys.begin(), keys.end());
  evalsha.insert(evalsha.end(), args.begin(), args.end());
  Reply r = command(evalsha);
  if (!r.is_error() || !r.str.starts_with("NOSCRIPT")) return r;
  // Load and run in one round trip; a script that does not compile answers its error on LOAD.
  auto replies = impl_->exchange({{"SCRIPT", "LOAD", script.text()}, evalsha});
  return std::move(replies[0].is_error() ? replies[0] : replies[1]);
}

const RedisAddress& RedisClient::address() const noexcept { return impl_->opt.address; }

}  // namespace mh::store
