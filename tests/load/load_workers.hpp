#pragma once
// The load tool's workers (tests/load/load_main.cpp drives them): one thread per connection slot,
// each a real protocol client built from the project's own parts — the core's handshake state
// machine, the sealing profile and the stream, net::HttpClient and net::WebSocketClient — so every
// answer is checked the way the real client checks it (the sealed reply of the handshake, every
// sealed head and chunk of every answer, the upload's size and cksum, chat frames in sequence).
//
// Slot roles:
//   get        sealed GET/HEAD of files whose bytes are known (compared after opening), a
//              directory listing, a missing file (404 is the expected answer there)
//   upload     PUT of a request body stream + commit (PROTOCOL.md §8), sometimes a GET back
//   chat       sealed WebSocket upgrade, a few "say" frames, reading the room, a clean close; then again
//   handshake  POST /auth/handshake with a pre-generated key of its own (reconnect every other
//              time), the reply verified (pinned fingerprint), then one GET under the new session
//
// Outcomes are sorted into ok, deliberate limits (429, 503, 507, chat "dropped" notices and 1008
// flooding / 1013 closes) and real errors (anything else), by kind.
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/handshake.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"
#include "net/http_client.hpp"
#include "support/signed_client.hpp"

namespace mh::load {

enum class Kind : std::size_t { handshake, get, upload_put, upload_commit, chat_open, chat_send, chat_relay, count };
inline constexpr std::size_t kKinds = static_cast<std::size_t>(Kind::count);
const char* kind_name(Kind k) noexcept;

struct KindStats {
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> limited;  // deliberate limits, by what the server said
  std::map<std::string, std::uint64_t> errors;   // everything else
  std::vector<std::uint32_t> latency_us;         // of the ok ones
  std::uint64_t limited_total() const;
  std::uint64_t errors_total() const;
};

struct Stats {
  std::array<KindStats, kKinds> kinds;
  KindStats& operator[](Kind k) { return kinds[static_cast<std::size_t>(k)]; }
  const KindStats& operator[](Kind k) const { return kinds[static_cast<std::size_t>(k)]; }
  void merge(Stats&& other);
};

// A registered client: its RSA key, and the session a handshake gave it.
struct Identity {
  std::shared_ptr<const RsaPrivateKey> rsa;
  std::string name;
  test::Session session;
};

// The files the server serves, with their exact bytes (to compare with what comes back).
struct Corpus {
  std::vector<std::pair<std::string, std::string>> files;  // target -> content
  std::string listing_target;                              // a directory, "?list"
};

// Shared by every worker; read-only once the run starts except the atomics.
struct Shared {
  net::ServerUrl url;
  std::string fingerprint;            // pinned: "SHA256:..."
  handshake::ServerKeys server_keys;  // the pinned identity and the static key it vouched for
  Corpus corpus;
  std::chrono::milliseconds think{250};           // mean pause between two operations of a slot
  std::chrono::milliseconds chat_interval{2000};  // between two chat frames of one connection
  std::chrono::milliseconds timeout{30000};       // every network step
  std::atomic<bool> stop{false};
  std::mutex stop_mutex;  // with stop_cv: pauses end at once when the run stops
  std::condition_variable stop_cv;
  void request_stop();
  std::atomic<std::int64_t> open_connections{0};  // slots that hold a live connection now
  std::atomic<std::int64_t> peak_connections{0};
  std::array<std::atomic<std::uint64_t>, 3> live{};  // ok, limited, errors (for progress lines)
  void opened();
  void closed();
};

// The server's keys from /.well-known/minihttps, checked against the pinned fingerprint and the
// static key's signature.
handshake::ServerKeys discover(net::HttpClient& http, const std::string& fingerprint);

// The handshake as a client does it, over `http`: a fresh hello signed with `key` and sealed to the
// static key, the reply opened and checked. Throws mh::Error with a short reason on any refusal.
Identity handshake(net::HttpClient& http, const Shared& sh, std::shared_ptr<const RsaPrivateKey> key,
                   const std::string& name, std::optional<Uuid> uuid);

struct SlotConfig {
  enum class Role { get, upload, chat, handshake } role;
  std::size_t index = 0;                        // slot number (names, seeds)
  const Identity* identity = nullptr;           // get, upload, chat
  std::shared_ptr<const RsaPrivateKey> key;     // handshake: this slot's own key
  std::string room;                             // chat
  std::chrono::steady_clock::time_point start;  // when to open the connection (ramp-up)
};

// Runs one slot until sh.stop; returns what it saw.
Stats run_slot(Shared& sh, const SlotConfig& cfg);

}  // namespace mh::load
