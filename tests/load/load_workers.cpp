#include "load/load_workers.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <random>
#include <thread>

#include "core/base64.hpp"
#include "core/cksum.hpp"
#include "core/handshake.hpp"
#include "core/seal.hpp"
#include "support/raw_handshake.hpp"
#include "core/httpsig.hpp"
#include "io/system_clock.hpp"
#include "net/websocket_client.hpp"

namespace mh::load {
namespace {

using SteadyClock = std::chrono::steady_clock;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr std::size_t kMaxDistinctReasons = 40;  // per kind; the rest is counted under "(other)"

std::uint32_t micros_since(SteadyClock::time_point t0) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX));
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

std::string reason_of(const net::ClientResponse& r) {
  const auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("reason") && j["reason"].is_string()) return j["reason"].get<std::string>();
  return r.body.substr(0, 80);
}

// One place that counts an outcome, so the totals and the progress counters always agree.
class Recorder {
 public:
  Recorder(Shared& sh, Stats& st) : sh_(sh), st_(st) {}

  void ok(Kind k, std::optional<std::uint32_t> latency_us) {
    auto& ks = st_[k];
    ++ks.ok;
    if (latency_us) ks.latency_us.push_back(*latency_us);
    ++sh_.live[0];
  }
  void limited(Kind k, const std::string& what) {
    bump(st_[k].limited, what);
    ++sh_.live[1];
  }
  void error(Kind k, const std::string& what) {
    bump(st_[k].errors, what);
    ++sh_.live[2];
  }
  // An HTTP answer other than the one expected: 429, 503 and 507 are limits the server applies
  // on purpose; anything else is an error.
  void unexpected(Kind k, const net::ClientResponse& r) { unexpected(k, r.status, reason_of(r)); }
  void unexpected(Kind k, int status, const std::string& reason) {
    const std::string what = std::to_string(status) + " " + reason;
    if (status == 429 || status == 503 || status == 507)
      limited(k, what);
    else
      error(k, what);
  }
  // An exception out of the network layer or a check.
  void failed(Kind k, const std::exception& e) {
    std::string what = e.what();
    // Ports and addresses vary from run to run; the kind of failure does not.
    const std::string authority = sh_.url.authority();
    for (auto p = what.find(authority); p != std::string::npos; p = what.find(authority))
      what.replace(p, authority.size(), "SERVER");
    if (const auto* me = dynamic_cast<const Error*>(&e)) what = std::string(errc_name(me->code())) + ": " + what;
    error(k, what);
  }

 private:
  static void bump(std::map<std::string, std::uint64_t>& m, const std::string& what) {
    if (m.size() >= kMaxDistinctReasons && !m.count(what))
      ++m["(other)"];
    else
      ++m[what];
  }
  Shared& sh_;
  Stats& st_;
};

// A sealed request as the real client makes it (PROTOCOL.md §5.1).
test::Built seal(const Identity& id, const net::ServerUrl& url, const std::string& method, const std::string& target,
                 const std::string& body = {}, bool upgrade = false) {
  return test::seal_request(*id.rsa, id.session, url.authority(), method, target, {}, body, upgrade);
}

// Sleeps until `until` or until the run stops.
void sleep_until(Shared& sh, SteadyClock::time_point until) {
  std::unique_lock lock(sh.stop_mutex);
  sh.stop_cv.wait_until(lock, until, [&] { return sh.stop.load(); });
}

// Sleeps about `mean` (uniform in [0, 2*mean]) or until the run stops.
void pause(Shared& sh, std::mt19937& rng, std::chrono::milliseconds mean) {
  if (mean.count() <= 0) return;
  std::uniform_int_distribution<long> d(0, 2 * mean.count());
  sleep_until(sh, SteadyClock::now() + std::chrono::milliseconds(d(rng)));
}

// Holds the slot in the "open connections" gauge from its first answer to its end.
class ConnectionGauge {
 public:
  explicit ConnectionGauge(Shared& sh) : sh_(sh) {}
  ~ConnectionGauge() { down(); }
  void up() {
    if (!open_) sh_.opened();
    open_ = true;
  }
  void down() {
    if (open_) sh_.closed();
    open_ = false;
  }

 private:
  Shared& sh_;
  bool open_ = false;
};

// A sealed GET (or HEAD) whose answer must be `expected_status`; every head and chunk must open,
// and a 200 body be `expected` (or, without one, a listing).
bool checked_get(Recorder& rec, net::HttpClient& http, const Shared& sh, const Identity& id, const std::string& method,
                 const std::string& target, int expected_status, const std::string* expected) {
  const test::Built req = seal(id, sh.url, method, target);
  const auto t0 = SteadyClock::now();
  const auto raw = http.send(req.request, 8 << 20);
  const auto us = micros_since(t0);
  const test::Reply r = test::open_answer(id.session.secret, req.binding, raw);
  if (!r.error.empty()) {
    rec.error(Kind::get, "integrity: " + r.error);
    return false;
  }
  if (r.status != expected_status) {
    rec.unexpected(Kind::get, r.status, r.reason());
    return false;
  }
  if (r.status == 200 && method == "GET") {
    if (expected && r.body != *expected) {
      rec.error(Kind::get, "integrity: the opened body differs from the file");
      return false;
    }
    if (!expected) {  // a listing
      const auto j = json::parse(r.body, nullptr, false);
      if (!j.is_object() || !j.contains("entries")) {
        rec.error(Kind::get, "integrity: listing is not the JSON expected");
        return false;
      }
    }
  }
  rec.ok(Kind::get, us);
  return true;
}

// ---- roles -----------------------------------------------------------------------------------------

// Opens the slot's connection at once with the public document (PROTOCOL.md §2), so every slot holds
// its connection from the ramp-up on, whatever its first real operation costs.
void connect_first(Shared& sh, net::HttpClient& http, Recorder& rec, ConnectionGauge& gauge) {
  try {
    const auto t0 = SteadyClock::now();
    const auto r = http.send(net::Request{"GET", "/.well-known/minihttps", {}, {}, {}, {}, false});
    const auto us = micros_since(t0);
    if (r.status != 200 || r.body.find(sh.fingerprint) == std::string::npos) {
      rec.unexpected(Kind::get, r);
      return;
    }
    rec.ok(Kind::get, us);
    gauge.up();
  } catch (const std::exception& e) { rec.failed(Kind::get, e); }
}

void get_role(Shared& sh, const SlotConfig& c, Recorder& rec, std::mt19937& rng) {
  net::HttpClient http(sh.url, sh.timeout);
  ConnectionGauge gauge(sh);
  const auto& files = sh.corpus.files;  // small, tiny, medium, large
  std::uniform_int_distribution<int> pick(0, 99);
  connect_first(sh, http, rec, gauge);
  while (!sh.stop) {
    const int p = pick(rng);
    try {
      bool ok;
      if (p < 80) {
        const std::size_t f = p < 35 ? 0 : p < 55 ? 1 : p < 74 ? 2 : 3;
        const auto& [target, content] = files[f % files.size()];
        ok = checked_get(rec, http, sh, *c.identity, "GET", target, 200, &content);
      } else if (p < 88) {
        ok = checked_get(rec, http, sh, *c.identity, "GET", sh.corpus.listing_target, 200, nullptr);
      } else if (p < 95) {
        ok = checked_get(rec, http, sh, *c.identity, "HEAD", files[0].first, 200, nullptr);
      } else {
        ok = checked_get(rec, http, sh, *c.identity, "GET", "/no-such-file.txt", 404, nullptr);
      }
      if (ok) gauge.up();
    } catch (const std::exception& e) { rec.failed(Kind::get, e); }
    pause(sh, rng, sh.think);
  }
}

void upload_role(Shared& sh, const SlotConfig& c, Recorder& rec, std::mt19937& rng) {
  net::HttpClient http(sh.url, sh.timeout);
  ConnectionGauge gauge(sh);
  const Identity& id = *c.identity;
  const std::string target = "/.uploads/slot" + std::to_string(c.index) + ".bin";
  std::uniform_int_distribution<int> pick(0, 99);
  connect_first(sh, http, rec, gauge);
  while (!sh.stop) {
    const int p = pick(rng);
    const std::size_t size = p < 70 ? 4096 + static_cast<std::size_t>(p) : p < 95 ? 65536 + 13 : 512 * 1024 + 7;
    std::string data(size, '\0');
    for (auto& ch : data) ch = static_cast<char>(rng());
    try {
      const test::Built put_req = seal(id, sh.url, "PUT", target, data);
      auto t0 = SteadyClock::now();
      const test::Reply put =
          test::open_answer(id.session.secret, put_req.binding, http.send(put_req.request, 64 << 10));
      auto us = micros_since(t0);
      if (!put.error.empty()) {
        rec.error(Kind::upload_put, "integrity: " + put.error);
        continue;
      }
      if (put.status != 200) {
        rec.unexpected(Kind::upload_put, put.status, put.reason());
        pause(sh, rng, sh.think);
        continue;
      }
      gauge.up();
      const auto j = json::parse(put.body, nullptr, false);
      if (!j.is_object() || !j.contains("attempt") || !j["attempt"].is_string() || !j.contains("cksum") ||
          !j.contains("size")) {
        rec.error(Kind::upload_put, "integrity: the attempt answer is not the JSON expected");
        continue;
      }
      if (j["size"].get<std::uint64_t>() != size || j["cksum"].get<std::uint32_t>() != cksum(as_bytes(data))) {
        rec.error(Kind::upload_put, "integrity: the server's size or cksum differs from ours");
        continue;
      }
      rec.ok(Kind::upload_put, us);
      t0 = SteadyClock::now();
      const test::Built commit_req = seal(id, sh.url, "POST", target + "?commit=" + j["attempt"].get<std::string>());
      const test::Reply commit =
          test::open_answer(id.session.secret, commit_req.binding, http.send(commit_req.request));
      us = micros_since(t0);
      if (commit.status != 201) {
        rec.unexpected(Kind::upload_commit, commit.status, commit.error.empty() ? commit.reason() : commit.error);
        continue;
      }
      rec.ok(Kind::upload_commit, us);
      if (p % 3 == 0) checked_get(rec, http, sh, id, "GET", target, 200, &data);
    } catch (const std::exception& e) { rec.failed(Kind::upload_put, e); }
    pause(sh, rng, sh.think);
  }
}

// Chat: the server re-encrypts every frame under each reader's key; messages carry the sender's
// steady-clock time, so the relay latency is measured end to end (sender and reader are threads
// of this process).
void chat_role(Shared& sh, const SlotConfig& c, Recorder& rec, std::mt19937& rng) {
  const Identity& id = *c.identity;
  std::uniform_int_distribution<int> frames_per_session(3, 8);
  ConnectionGauge gauge(sh);
  while (!sh.stop) {
    net::WebSocketClient ws(sh.url, sh.timeout);
    bool joined = false, closed_by_us = false;
    try {
      const test::Built req = seal(id, sh.url, "GET", "/chat?room=" + c.room, {}, true);
      const auto t0 = SteadyClock::now();
      const auto r = ws.open(req.request.target, req.request.headers);
      const auto us = micros_since(t0);
      if (r.status != 101) {
        const test::Reply refusal = test::open_answer(id.session.secret, req.binding, r);
        rec.unexpected(Kind::chat_open, refusal.status, refusal.reason());
        pause(sh, rng, sh.think);
        continue;
      }
      const auto head = r.header(seal::kSealedField);
      if (!head || seal::open_response_head(id.session.secret, req.binding, *head).status != 200) {
        rec.error(Kind::chat_open, "integrity: the upgrade's sealed head is missing or not 200");
        continue;
      }
      // Frames are numbered per connection and direction, and keyed by their number (§9.2).
      std::uint64_t sent_seq = 0, received_seq = 0;
      const auto open_frame = [&](const std::string& token) {
        const FernetKey key = id.session.secret.derive(KeyPurpose::chat_to_client, req.binding, received_seq, false);
        json j = json::parse(as_chars(fernet_decrypt(key, token, 0)), nullptr, false);
        if (!j.is_object() || !j.contains("seq") || j["seq"] != received_seq)
          throw Error(Errc::integrity, "chat frame out of sequence");
        ++received_seq;
        return j;
      };
      rec.ok(Kind::chat_open, us);
      gauge.up();
      // Reads (and checks) what arrived until `until`; false once the connection has ended.
      auto read_until = [&](SteadyClock::time_point until) {
        for (;;) {
          const auto now = SteadyClock::now();
          const auto left = until > now ? std::chrono::duration_cast<std::chrono::milliseconds>(until - now) : 0ms;
          const auto m = ws.receive(left);
          if (!m) return !ws.closed();
          const json j = open_frame(*m);
          const std::string type = j.value("type", "");
          if (type == "message") {
            const std::string text = j.value("text", "");
            if (text.rfind("t=", 0) != 0) {
              rec.error(Kind::chat_relay, "integrity: a relayed text that nobody sent");
              continue;
            }
            const std::int64_t sent = std::stoll(text.substr(2));
            rec.ok(Kind::chat_relay,
                   static_cast<std::uint32_t>(std::clamp<std::int64_t>((steady_ns() - sent) / 1000, 0, UINT32_MAX)));
          } else if (type == "notice") {
            const std::string ev = j.value("event", "");
            if (ev == "joined") joined = true;
            if (ev == "dropped") rec.limited(Kind::chat_send, "notice dropped (chat rate limit)");
          } else if (type == "error") {
            rec.error(Kind::chat_send, "chat error: " + j.value("reason", ""));
          } else if (type != "who") {
            rec.error(Kind::chat_relay, "integrity: unexpected message type '" + type + "'");
          }
        }
      };
      const int frames = frames_per_session(rng);
      // The server's first words: the joined notice (then who). Waited for even when the run stops.
      bool alive = true;
      for (const auto until = SteadyClock::now() + sh.timeout; alive && !joined && SteadyClock::now() < until;)
        alive = read_until(std::min(until, SteadyClock::now() + 100ms));
      for (int i = 0; i < frames && alive && !sh.stop; ++i) {
        std::uniform_int_distribution<long> jitter(sh.chat_interval.count() / 2, sh.chat_interval.count() * 3 / 2);
        alive = read_until(SteadyClock::now() + std::chrono::milliseconds(jitter(rng)));
        if (!alive || sh.stop) break;
        const std::uint64_t n = sent_seq++;
        const json say = {{"seq", n}, {"type", "say"}, {"text", "t=" + std::to_string(steady_ns())}};
        const FernetKey key = id.session.secret.derive(KeyPurpose::chat_to_server, req.binding, n, false);
        if (ws.send(fernet_encrypt(key, as_bytes(say.dump()), io::SystemClock().now())))
          rec.ok(Kind::chat_send, std::nullopt);
        else
          alive = false;
      }
      if (alive) alive = read_until(SteadyClock::now() + 20ms);
      if (alive) {
        closed_by_us = true;
        if (!ws.close(1000, "bye", 10s)) rec.error(Kind::chat_open, "chat: the close handshake did not complete");
        while (const auto m = ws.receive(0ms)) {  // what arrived meanwhile still counts
          const json j = open_frame(*m);
          if (j.value("type", "") == "message") rec.ok(Kind::chat_relay, std::nullopt);
        }
      }
      if (!joined) rec.error(Kind::chat_open, "chat: no 'joined' notice after the upgrade");
      if (!closed_by_us) {
        const auto info = ws.close_info();
        const std::string what = "closed by the server " + std::to_string(info.code) + " " + info.reason + info.error;
        if ((info.code == 1008 && info.reason.find("flooding") != std::string::npos) || info.code == 1013)
          rec.limited(Kind::chat_send, what);
        else
          rec.error(Kind::chat_send, what);
      }
    } catch (const std::exception& e) { rec.failed(Kind::chat_open, e); }
    gauge.down();
    if (!sh.stop) pause(sh, rng, sh.think);
  }
}

void handshake_role(Shared& sh, const SlotConfig& c, Recorder& rec, std::mt19937& rng) {
  net::HttpClient http(sh.url, sh.timeout);
  ConnectionGauge gauge(sh);
  const std::string name = "hs-" + std::to_string(c.index);
  std::optional<Uuid> known;
  connect_first(sh, http, rec, gauge);
  for (std::uint64_t round = 0; !sh.stop; ++round) {
    try {
      // Every other handshake is a reconnect that names the UUID it had: it must get it back.
      const std::optional<Uuid> ask = round % 2 == 1 ? known : std::nullopt;
      auto h = handshake::ClientHandshake::create(*c.key, name, ask, sh.server_keys, io::SystemClock());
      const net::Request req{"POST", "/auth/handshake", {{"Content-Type", "application/json"}}, h.hello_json(), {}, {},
                             true};
      const auto t0 = SteadyClock::now();
      const auto r = http.send(req, 64 << 10);
      const auto us = micros_since(t0);
      if (r.status != 200) {
        rec.unexpected(Kind::handshake, r);
      } else {
        gauge.up();
        const auto s = h.consume(r.body);  // opens the sealed reply, checks the pinned key's signature
        if (known && s.uuid != *known) {
          rec.error(Kind::handshake, "handshake: the same key got another UUID");
        } else {
          rec.ok(Kind::handshake, us);
          known = s.uuid;
          // The new session works at once: a signed GET decrypts under the derived key.
          const Identity fresh{c.key, name, test::Session{s.uuid, s.keyid, s.secret, s.chunk_size}};
          const auto& [target, content] = sh.corpus.files[round % sh.corpus.files.size()];
          checked_get(rec, http, sh, fresh, "GET", target, 200, &content);
        }
      }
    } catch (const std::exception& e) { rec.failed(Kind::handshake, e); }
    pause(sh, rng, sh.think);
  }
}

}  // namespace

const char* kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::handshake: return "handshake";
    case Kind::get: return "get";
    case Kind::upload_put: return "upload put";
    case Kind::upload_commit: return "upload commit";
    case Kind::chat_open: return "chat open";
    case Kind::chat_send: return "chat frame sent";
    case Kind::chat_relay: return "chat relayed";
    case Kind::count: break;
  }
  return "?";
}

std::uint64_t KindStats::limited_total() const {
  std::uint64_t n = 0;
  for (const auto& [k, v] : limited) n += v;
  return n;
}

std::uint64_t KindStats::errors_total() const {
  std::uint64_t n = 0;
  for (const auto& [k, v] : errors) n += v;
  return n;
}

void Stats::merge(Stats&& o) {
  for (std::size_t i = 0; i < kKinds; ++i) {
    auto& a = kinds[i];
    auto& b = o.kinds[i];
    a.ok += b.ok;
    for (const auto& [k, v] : b.limited) a.limited[k] += v;
    for (const auto& [k, v] : b.errors) a.errors[k] += v;
    a.latency_us.insert(a.latency_us.end(), b.latency_us.begin(), b.latency_us.end());
    b.latency_us = {};
  }
}

void Shared::opened() {
  const auto now = ++open_connections;
  auto peak = peak_connections.load();
  while (now > peak && !peak_connections.compare_exchange_weak(peak, now)) {}
}

void Shared::closed() { --open_connections; }

void Shared::request_stop() {
  {
    std::lock_guard lock(stop_mutex);
    stop = true;
  }
  stop_cv.notify_all();
}

handshake::ServerKeys discover(net::HttpClient& http, const std::string& fingerprint) {
  // The published keys, the static key checked against the identity's signature (test support).
  const handshake::ServerKeys k = test::server_keys(http.server().str());
  if (ed25519_fingerprint(k.identity) != fingerprint) throw Error(Errc::trust, "discovery: not the pinned server key");
  return k;
}

Identity handshake(net::HttpClient& http, const Shared& sh, std::shared_ptr<const RsaPrivateKey> key,
                   const std::string& name, std::optional<Uuid> uuid) {
  auto h = handshake::ClientHandshake::create(*key, name, uuid, sh.server_keys, io::SystemClock());
  const net::Request req{"POST", "/auth/handshake", {{"Content-Type", "application/json"}}, h.hello_json(), {}, {},
                         true};
  const auto r = http.send(req, 64 << 10);
  if (r.status != 200)
    throw Error(errc_for_status(r.status),
                "handshake of " + name + ": " + std::to_string(r.status) + " " + reason_of(r));
  const auto s = h.consume(r.body);
  return Identity{std::move(key), name, test::Session{s.uuid, s.keyid, s.secret, s.chunk_size}};
}

Stats run_slot(Shared& sh, const SlotConfig& c) {
  Stats st;
  Recorder rec(sh, st);
  std::mt19937 rng(static_cast<std::uint32_t>(c.index * 2654435761u + 17));
  sleep_until(sh, c.start);
  if (sh.stop) return st;
  switch (c.role) {
    case SlotConfig::Role::get: get_role(sh, c, rec, rng); break;
    case SlotConfig::Role::upload: upload_role(sh, c, rec, rng); break;
    case SlotConfig::Role::chat: chat_role(sh, c, rec, rng); break;
    case SlotConfig::Role::handshake: handshake_role(sh, c, rec, rng); break;
  }
  return st;
}

}  // namespace mh::load
