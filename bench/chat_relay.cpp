// chat_relay: messages per second relayed by minihttpsd's chat between two clients (issue 6).
//
//   chat_relay URL HOME_A HOME_B [MESSAGES] [WINDOW]
//
// HOME_A and HOME_B are client homes after `minihttps connect` (identity.pem + one session).
// Both open a signed WebSocket upgrade to /chat?room=bench; A says MESSAGES messages as fast as
// the window allows (at most WINDOW sent but not yet received by B, so the server's per-reader
// queue never overflows), B receives them. Each message costs what the real client pays: JSON,
// Fernet encryption under A's key, the server's verify + decrypt + re-encrypt for B, B's decrypt.
// The server needs a rate limit above the rate measured (--chat-rate 1000000 --chat-burst 1000000);
// bench/chat.sh sets that up. Prints one line: messages, seconds, messages/s.
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/base64.hpp"
#include "core/fernet.hpp"
#include "core/key_schedule.hpp"
#include "core/seal.hpp"
#include "core/httpsig.hpp"
#include "core/rsa.hpp"
#include "net/websocket_client.hpp"

using namespace mh;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One chat client from a home after `minihttps connect`: the sealed upgrade, then frames in
// sequence under the connection's keys (docs/PROTOCOL.md §9).
struct Client {
  std::optional<RsaPrivateKey> rsa;
  std::optional<SessionSecret> secret;
  Binding binding{};
  std::uint64_t sent = 0, received = 0;
  std::unique_ptr<net::WebSocketClient> ws;

  Client(const fs::path& home, const net::ServerUrl& url) {
    rsa = RsaPrivateKey::from_pem(slurp(home / "identity.pem"));
    KeyId keyid{};
    for (const auto& e : fs::directory_iterator(home / "sessions")) {
      const auto j = json::parse(slurp(e.path()));
      secret.emplace(base64_decode(j["secret"].get<std::string>(), Alphabet::url, Padding::forbidden));
      const Bytes id = base64_decode(j["keyid"].get<std::string>(), Alphabet::url, Padding::forbidden);
      std::copy(id.begin(), id.end(), keyid.begin());
    }
    if (!secret) throw std::runtime_error("no session in " + home.string() + ": run minihttps connect first");
    ws = std::make_unique<net::WebSocketClient>(url, std::chrono::seconds(10));
    seal::Signed s;
    const auto m = seal::seal_request(
        seal::Credentials{*secret, keyid, *rsa}, bhttp::Request{"GET", "http", "", "/chat?room=bench", {}}, "http",
        url.authority(), seal::Freshness::fresh(std::time(nullptr)), s, seal::SealOptions{.upgrade = true});
    binding = s.binding;
    net::Headers headers;
    for (const auto& [n, v] : m.headers) headers.push_back({n, v});
    const auto res = ws->open(m.target, headers);
    if (res.status != 101) throw std::runtime_error("upgrade refused: HTTP " + std::to_string(res.status));
  }

  json next() {
    const auto f = ws->receive(std::chrono::seconds(10));
    if (!f) throw std::runtime_error("nothing received for 10 s (closed: " + ws->close_info().reason + ")");
    const FernetKey k = secret->derive(KeyPurpose::chat_to_client, binding, received++, false);
    return json::parse(as_chars(fernet_decrypt(k, *f, 0)));
  }
  void send(json j) {
    const std::uint64_t n = sent++;
    j["seq"] = n;
    ws->send(fernet_encrypt(secret->derive(KeyPurpose::chat_to_server, binding, n, false), as_bytes(j.dump()),
                            std::time(nullptr)));
  }
  void wait_for(const std::string& type, const std::string& event = {}) {
    for (;;) {
      const json j = next();
      if (j["type"] == type && (event.empty() || j.value("event", "") == event)) return;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URL HOME_A HOME_B [MESSAGES] [WINDOW]\n", argv[0]);
    return 2;
  }
  const auto url = net::ServerUrl::parse(argv[1]);
  const long messages = argc > 4 ? std::atol(argv[4]) : 20000;
  const long window = argc > 5 ? std::atol(argv[5]) : 256;
  try {
    Client b(argv[3], url);
    b.wait_for("notice", "joined");
    Client a(argv[2], url);
    a.wait_for("notice", "joined");
    b.wait_for("notice", "join");  // A is in the room

    std::atomic<long> received{0};
    std::mutex mutex;
    std::condition_variable progressed;
    const auto start = std::chrono::steady_clock::now();
    std::thread receiver([&] {
      try {
        for (long i = 0; i < messages; ++i) {
          const json j = b.next();
          if (j["type"] != "message" || j["text"] != std::to_string(i))
            throw std::runtime_error("out of order or unexpected: " + j.dump());
          received = i + 1;
          if (i % 16 == 0 || i + 1 == messages) progressed.notify_one();
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "chat_relay: %s\n", e.what());
        std::_Exit(1);
      }
      progressed.notify_one();
    });
    for (long i = 0; i < messages; ++i) {
      if (i - received.load() >= window) {
        std::unique_lock lock(mutex);
        progressed.wait_for(lock, std::chrono::milliseconds(1), [&] { return i - received.load() < window; });
        --i;
        continue;
      }
      a.send(json{{"type", "say"}, {"text", std::to_string(i)}});
    }
    receiver.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("chat relay: %ld messages A->B in %.3f s: %.0f messages/s (window %ld)\n", messages, secs,
                static_cast<double>(messages) / secs, window);
    a.ws->close(1000, "bye", std::chrono::seconds(2));
    b.ws->close(1000, "bye", std::chrono::seconds(2));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat_relay: %s\n", e.what());
    return 1;
  }
}
