#pragma once
// A chat connection as the hub sees it, for tests below the WebSocket layer: a fake peer records
// what the hub sends and how it closes the connection; Conn numbers and seals a client's frames
// (PROTOCOL.md §9) and opens what it received. Shared by the hub's tests and the shared chat's.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/registry.hpp"
#include "core/fernet.hpp"
#include "core/rsa.hpp"
#include "net/http_types.hpp"

namespace mh::web {

using nlohmann::json;
inline constexpr std::int64_t kNow = 1'700'000'000;

class FakePeer final : public net::WebSocketPeer {
 public:
  void send(std::string text) override {
    std::lock_guard lock(mutex_);
    if (!closed_) frames_.push_back(std::move(text));
  }
  void close(int code, std::string reason) override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    code_ = code;
    reason_ = std::move(reason);
  }
  std::vector<std::string> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  int code() const {
    std::lock_guard lock(mutex_);
    return code_;
  }
  std::string reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> frames_;
  bool closed_ = false;
  int code_ = 0;
  std::string reason_;
};

inline const RsaPublicKey& key(int i) {
  static const std::vector<RsaPublicKey> keys = [] {
    std::vector<RsaPublicKey> v;
    for (int k = 0; k < 5; ++k) v.push_back(RsaPrivateKey::generate(2048).public_key());
    return v;
  }();
  return keys[static_cast<std::size_t>(i)];
}

// A binding B no other connection has (the upgrade request's, in the server).
inline Binding fresh_binding() {
  static std::atomic<std::uint64_t> n{0};
  Binding b{};
  const std::uint64_t v = ++n;
  for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  b[31] = 0xc4;
  return b;
}

// `msg` with "seq": n, as the client puts it in frame n.
inline std::string with_seq(json msg, std::uint64_t n) {
  msg["seq"] = n;
  return msg.dump();
}

// One WebSocket connection of a client, as the hub sees it.
struct Conn {
  std::shared_ptr<const auth::ClientRecord> client;
  Binding binding = fresh_binding();
  std::shared_ptr<FakePeer> peer = std::make_shared<FakePeer>();
  std::unique_ptr<net::WebSocketHandler> handler;
  std::uint64_t sent = 0;  // frames this client sent on the connection

  FernetKey to_client_key(std::uint64_t n) const {
    return client->session_secret.derive(KeyPurpose::chat_to_client, binding, n, false);
  }
  FernetKey to_server_key(std::uint64_t n) const {
    return client->session_secret.derive(KeyPurpose::chat_to_server, binding, n, false);
  }

  // Everything received so far: frame n opened under K("chat to client", B, n, 0), its "seq"
  // checked to be n and then taken out.
  std::vector<json> received() const {
    std::vector<json> out;
    const auto frames = peer->frames();
    for (std::size_t n = 0; n < frames.size(); ++n) {
      json j = json::parse(as_chars(fernet_decrypt(to_client_key(n), frames[n], kNow)));
      EXPECT_EQ(j["seq"], n) << j.dump();
      j.erase("seq");
      out.push_back(j);
    }
    return out;
  }
  std::vector<json> of_type(const std::string& type) const {
    std::vector<json> out;
    for (auto& j : received())
      if (j["type"] == type) out.push_back(j);
    return out;
  }
  std::vector<std::string> texts() const {  // the "text" of every message received
    std::vector<std::string> out;
    for (auto& j : of_type("message")) out.push_back(j["text"].get<std::string>());
    return out;
  }
  std::vector<std::string> notices() const {
    std::vector<std::string> out;
    for (auto& j : of_type("notice")) out.push_back(j["text"].get<std::string>());
    return out;
  }
  std::vector<std::string> errors() const {
    std::vector<std::string> out;
    for (auto& j : of_type("error")) out.push_back(j["reason"].get<std::string>());
    return out;
  }
  // Frame n of this connection: `plaintext` under K("chat to server", B, n, 0).
  std::string sealed(std::string_view plaintext, std::uint64_t n, std::int64_t at = kNow) const {
    return fernet_encrypt(to_server_key(n), as_bytes(plaintext), at);
  }
  std::string frame(const json& msg, std::uint64_t n) const { return sealed(with_seq(msg, n), n); }
  // The next frame, as the client sends it.
  std::string next(const json& msg) { return frame(msg, sent++); }
  void send(const json& msg) { handler->on_message(next(msg)); }
  void say(const std::string& text) { send({{"type", "say"}, {"text", text}}); }
};

// A client with a live session in `registry`, under test key k.
inline std::shared_ptr<const auth::ClientRecord> register_client(auth::ClientRegistry& registry,
                                                                 const std::string& name, int k) {
  return registry.register_session(
      auth::Registration{name, key(k), key(k).fingerprint(), std::nullopt, "127.0.0.1", kNow}, [](const Uuid&) {
        KeyId keyid{};
        const Bytes id = random_bytes(keyid.size());
        std::copy(id.begin(), id.end(), keyid.begin());
        return auth::SessionGrant{SessionSecret(random_bytes(32)), keyid, kNow + 3600, 262144};
      });
}

}  // namespace mh::web
