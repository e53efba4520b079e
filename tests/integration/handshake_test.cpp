// The minihttps/2 handshake end to end (docs/PROTOCOL.md §2, §3): the real minihttpsd, driven by
// the real minihttps binary (connect, whoami, logout, key pinning, the static key's signature,
// registry policy) and by hand-made hellos over raw HTTP — sealed to the server's static key as a
// client seals them, or crafted field by field — for the exact status and reason of every refusal,
// replay, time window, rate limit and concurrency, and for what the wire shows of a client.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/ed25519.hpp"
#include "core/error.hpp"
#include "core/handshake.hpp"
#include "core/hash.hpp"
#include "core/rsa.hpp"
#include "core/seal.hpp"
#include "core/uuid.hpp"
#include "core/x25519.hpp"
#include "net/http_client.hpp"
#include "support/raw_handshake.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/tamper_proxy.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

namespace fs = std::filesystem;
namespace hs2 = handshake;
using json = nlohmann::json;
using namespace std::chrono_literals;
using test::b64u_text;
using test::CommandResult;
using test::crafted_hello;
using test::CraftedHello;
using test::error_of;
using test::make_hello;
using test::run_client;
using test::ServerOptions;
using test::ServerProcess;
using test::TempDir;
using test::unix_now;

constexpr const char* kBadName = "handshake: name must be 1-32 characters of A-Z a-z 0-9 . _ -";
constexpr const char* kNotSealedToUs =
    "handshake: the hello is not sealed to this server's static key (fetch /.well-known/minihttps again)";
constexpr const char* kBadSignature = "handshake: client signature does not verify";
constexpr const char* kVersionOne =
    "handshake: protocol version 1 is not supported; this server speaks minihttps/2 (update the client)";

std::string b64u(ByteView b) { return b64u_text(b); }

// ---- RSA identities: 2048-bit keys made once per process, in parallel, on demand -------------------

class KeyPool {
 public:
  static KeyPool& instance() {
    static KeyPool pool;
    return pool;
  }
  // The i-th key (stable for the whole process). Most tests need two: they are made together.
  const RsaPrivateKey& at(std::size_t i) {
    ensure(std::max<std::size_t>(i + 1, 2));
    std::lock_guard lock(mutex_);
    return keys_[i];
  }
  void ensure(std::size_t n) {
    std::lock_guard lock(mutex_);
    if (keys_.size() >= n) return;
    const std::size_t missing = n - keys_.size();
    std::vector<std::optional<RsaPrivateKey>> made(missing);
    std::atomic<std::size_t> next{0};
    const unsigned workers = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < workers; ++t)
      threads.emplace_back([&] {
        for (std::size_t i; (i = next++) < missing;) made[i] = RsaPrivateKey::generate(2048);
      });
    for (auto& t : threads) t.join();
    for (auto& k : made) keys_.push_back(std::move(*k));
  }

 private:
  std::mutex mutex_;
  std::deque<RsaPrivateKey> keys_;  // a deque: references stay valid as it grows
};

const RsaPrivateKey& key(std::size_t i) { return KeyPool::instance().at(i); }
std::string key_name(std::size_t i) { return "key" + std::to_string(i); }

// ---- raw HTTP --------------------------------------------------------------------------------------

struct Reply {
  int status = 0;
  std::string body;
  std::string error;   // the JSON error body's "error"
  std::string reason;  // ... and its "reason"
  std::optional<std::string> retry_after;
};

Reply send(net::HttpClient& client, const std::string& method, const std::string& target, const std::string& body) {
  net::Request req{method, target, {{"Content-Type", "application/json"}}, body, {}, {}, !body.empty()};
  const net::ClientResponse r = client.send(req, 1 << 20);
  Reply out{r.status, r.body, {}, {}, {}};
  const json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("reason") && j["reason"].is_string()) out.reason = j["reason"];
  if (j.is_object() && j.contains("error") && j["error"].is_string()) out.error = j["error"];
  if (const auto h = r.header("Retry-After")) out.retry_after = std::string(*h);
  return out;
}

Reply post_hello(net::HttpClient& client, const std::string& body) {
  return send(client, "POST", "/auth/handshake", body);
}

Reply post_hello(const std::string& url, const std::string& body) {
  net::HttpClient client(net::ServerUrl::parse(url), 10s);
  return post_hello(client, body);
}

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// A JSON object, and its text with one field changed or removed.
struct JsonEdits {
  json base;
  std::string with(const char* field, json value) const {
    json j = base;
    j[field] = std::move(value);
    return j.dump();
  }
  std::string without(const char* field) const {
    json j = base;
    j.erase(field);
    return j.dump();
  }
};

// Each case's text, made into a hello by `hello_of`, is refused with 400 and the case's reason.
struct RefusalCase {
  std::string what, text, reason;
};
void expect_bad_requests(const std::string& url, const std::vector<RefusalCase>& cases,
                         const std::function<std::string(const std::string&)>& hello_of) {
  net::HttpClient client(net::ServerUrl::parse(url), 10s);
  for (const auto& c : cases) {
    const Reply r = post_hello(client, hello_of(c.text));
    EXPECT_EQ(r.status, 400) << c.what << ": " << r.body;
    EXPECT_EQ(r.error, "bad_request") << c.what;
    EXPECT_EQ(r.reason, c.reason) << c.what;
  }
}

// What a hello or a reply must never show on the wire: the client's name, its UUID (in any of the
// forms a careless encoder could use), its RSA key (DER, b64u, b64, hex, fingerprint) and the
// session's keyid. Empty when none appears, else which ones did.
std::string identity_shown(const std::string& wire, const std::string& name, const Uuid& uuid, const RsaPrivateKey& k,
                           const std::optional<KeyId>& keyid = {}) {
  const Bytes spki = k.public_key().spki_der();
  const std::string uuid_hex = to_hex(uuid.bytes);
  std::vector<std::pair<std::string, std::string>> needles = {
      {"name", name},
      {"UUID", uuid.to_string()},
      {"UUID hex", uuid_hex},
      {"UUID b64u", b64u(uuid.bytes)},
      {"UUID raw", std::string(as_chars(ByteView(uuid.bytes)))},
      {"SPKI b64u", b64u(spki).substr(40, 60)},
      {"SPKI b64", base64_encode(spki).substr(40, 60)},
      {"SPKI hex", to_hex(spki).substr(80, 80)},
      {"SPKI raw", std::string(as_chars(ByteView(spki).subspan(40, 60)))},
      {"key fingerprint", k.public_key().fingerprint().substr(7)},
  };
  if (keyid) {
    needles.push_back({"keyid b64u", b64u(*keyid)});
    needles.push_back({"keyid hex", to_hex(*keyid)});
  }
  std::string shown;
  for (const auto& [what, needle] : needles)
    if (wire.find(needle) != std::string::npos) shown += what + "; ";
  return shown;
}

// DER helpers for hand-made RSA public keys (the server checks the size before the signature,
// so a key nobody holds the private half of is enough to test the size policy).
void der_length(Bytes& out, std::size_t n) {
  if (n < 128) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n < 256) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
  }
}
Bytes der(std::uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  der_length(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
// SubjectPublicKeyInfo of an rsaEncryption key with a pseudo-random odd modulus of exactly `bits` bits.
Bytes fake_rsa_spki(int bits, const Bytes& exponent = {0x01, 0x00, 0x01}) {
  Bytes n = test::pattern_bytes(static_cast<std::size_t>((bits + 7) / 8), static_cast<std::uint32_t>(bits));
  const int top = (bits - 1) % 8;  // the highest bit of the first byte that must be set
  n[0] = static_cast<std::uint8_t>((n[0] & ((1u << top) - 1)) | (1u << top));
  n.back() |= 1;
  if (n[0] & 0x80) n.insert(n.begin(), 0);
  const Bytes rsa_public_key = der(0x30, cat({der(0x02, n), der(0x02, exponent)}));
  const Bytes algorithm = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
  return der(0x30, cat({algorithm, der(0x03, cat({Bytes{0x00}, rsa_public_key}))}));
}

// The modulus of fake_rsa_spki(bits), for forging what a key with e = 1 "signs".
std::size_t modulus_bytes(int bits) { return static_cast<std::size_t>((bits + 7) / 8); }

// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-512, MGF1-SHA512 and a 64-byte salt, for a modulus of
// `bits` bits. With e = 1, s^e mod n = s, so this encoding is itself a valid "signature".
Bytes emsa_pss_sha512(ByteView message, int bits) {
  const std::size_t em_bits = static_cast<std::size_t>(bits - 1), em_len = (em_bits + 7) / 8, h_len = 64, s_len = 64;
  const Sha512Digest m_hash = sha512(message);
  const Bytes salt = test::pattern_bytes(s_len, 99);
  Bytes m_prime(8, 0);
  m_prime.insert(m_prime.end(), m_hash.begin(), m_hash.end());
  m_prime.insert(m_prime.end(), salt.begin(), salt.end());
  const Sha512Digest h = sha512(m_prime);
  Bytes db(em_len - s_len - h_len - 2, 0);
  db.push_back(0x01);
  db.insert(db.end(), salt.begin(), salt.end());
  Bytes mask;
  for (std::uint32_t counter = 0; mask.size() < db.size(); ++counter) {
    Bytes block(h.begin(), h.end());
    for (int i = 3; i >= 0; --i) block.push_back(static_cast<std::uint8_t>(counter >> (8 * i)));
    const Sha512Digest d = sha512(block);
    mask.insert(mask.end(), d.begin(), d.end());
  }
  for (std::size_t i = 0; i < db.size(); ++i) db[i] ^= mask[i];
  db[0] &= static_cast<std::uint8_t>(0xff >> (8 * em_len - em_bits));
  Bytes em = db;
  em.insert(em.end(), h.begin(), h.end());
  em.push_back(0xbc);
  em.insert(em.begin(), modulus_bytes(bits) - em.size(), 0);
  return em;
}

// ---- the client binary -------------------------------------------------------------------------

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

fs::path session_file(const fs::path& home, std::uint16_t port) {
  return home / "sessions" / ("127.0.0.1_" + std::to_string(port) + ".json");
}
fs::path session_file(const fs::path& home, const ServerProcess& s) { return session_file(home, s.port()); }

CommandResult connect(const fs::path& home, const ServerProcess& s, const std::string& name,
                      std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"connect", "--server", s.url(), "--name", name, "--rsa-bits", "2048"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_client(home, args);
}

// The UUID of "connected to URL as NAME (UUID); session expires ..." (empty when it does not match).
std::string connected_uuid(const CommandResult& r, const std::string& url, const std::string& name) {
  const std::regex line(
      "connected to " + std::regex_replace(url, std::regex(R"([.])"), R"(\.)") + " as " + name +
      R"( \(([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\); session expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n)");
  std::smatch m;
  if (!std::regex_match(r.out, m, line)) return {};
  return m[1];
}
std::string connected_uuid(const CommandResult& r, const ServerProcess& s, const std::string& name) {
  return connected_uuid(r, s.url(), name);
}

// Puts an existing identity into a home (as connect would have created it): saves a key generation.
void seed_identity(const fs::path& home, const RsaPrivateKey& k) {
  fs::create_directories(home);
  fs::permissions(home, fs::perms::owner_all, fs::perm_options::replace);
  test::write_file(home / "identity.pem", k.pem());
  fs::permissions(home / "identity.pem", fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

// =====================================================================================================
// Through the real client binary
// =====================================================================================================

TEST(CliHandshake, ConnectSavesPrivateStateAndWhoamiShowsIt) {
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";  // does not exist yet: connect creates it

  const CommandResult r = connect(home, server, "alice");
  ASSERT_EQ(r.exit_code, 0) << describe(r) << server.stderr_text();
  const std::string uuid = connected_uuid(r, server, "alice");
  ASSERT_FALSE(uuid.empty()) << r.out;
  EXPECT_NE(r.err.find("created a new 2048-bit RSA identity in " + (home / "identity.pem").string()), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("trusting " + server.authority() + " on first use: server key " + server.fingerprint() +
                       " (recorded in " + (home / "known_servers").string() + ")"),
            std::string::npos)
      << r.err;

  // Files and their modes.
  EXPECT_EQ(mode_of(home), 0700u);
  EXPECT_EQ(mode_of(home / "identity.pem"), 0600u);
  EXPECT_EQ(mode_of(home / "sessions"), 0700u);
  ASSERT_TRUE(fs::exists(session_file(home, server)));
  EXPECT_EQ(mode_of(session_file(home, server)), 0600u);
  EXPECT_EQ(test::read_file(home / "known_servers"), server.authority() + " " + server.fingerprint() + "\n");

  // The session: a keyid that is no UUID, the secret (never on the wire), the chunk size of the
  // reply, and the keys the hello was sealed to, as the server publishes them.
  const json session = json::parse(test::read_file(session_file(home, server)));
  const json doc = test::well_known(server.url());
  EXPECT_EQ(session.at("version"), 2);
  EXPECT_EQ(session.at("server"), server.url());
  EXPECT_EQ(session.at("name"), "alice");
  EXPECT_EQ(session.at("uuid"), uuid);
  const std::string keyid = session.at("keyid");
  EXPECT_TRUE(seal::parse_keyid(keyid)) << keyid;
  EXPECT_EQ(keyid.find(uuid.substr(0, 8)), std::string::npos);
  EXPECT_EQ(test::b64u_bytes(session.at("secret")).size(), 32u);
  EXPECT_EQ(session.at("chunk_size"), 262144);
  EXPECT_EQ(session.at("server_fingerprint"), server.fingerprint());
  EXPECT_EQ(session.at("server_key"), doc.at("public_key"));
  EXPECT_EQ(session.at("static_key"), doc.at("static_key"));
  EXPECT_FALSE(session.contains("session_key")) << "no v1 Fernet session key";
  EXPECT_NEAR(static_cast<double>(session.at("expires").get<std::int64_t>()), static_cast<double>(unix_now() + 3600),
              10);
  EXPECT_EQ(json::parse(test::read_file(home / "config.json")).at("server"), server.url());

  // whoami: without --server it uses the server remembered by connect.
  const std::string my_key = RsaPrivateKey::from_pem(test::read_file(home / "identity.pem")).public_key().fingerprint();
  for (const bool explicit_server : {false, true}) {
    std::vector<std::string> args = {"whoami"};
    if (explicit_server) args = {"whoami", "--server", server.url()};
    const CommandResult w = run_client(home, args);
    ASSERT_EQ(w.exit_code, 0) << describe(w);
    const std::regex expected("name        alice\nuuid        " + uuid + "\nserver      " +
                              std::regex_replace(server.url(), std::regex(R"([.])"), R"(\.)") + "\nserver key  " +
                              std::regex_replace(server.fingerprint(), std::regex(R"([+/])"), R"(\$&)") +
                              "\nyour key    " + std::regex_replace(my_key, std::regex(R"([+/])"), R"(\$&)") +
                              "\nsession     " + keyid +  // b64u: no regex metacharacters
                              ", chunks of 262144 bytes" +
                              R"(\nexpires     \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (59|60) min\)\n)");
    EXPECT_TRUE(std::regex_match(w.out, expected)) << w.out;
  }
  // The server logged the handshake.
  EXPECT_TRUE(server.wait_for_stderr("POST /auth/handshake 200", 2s)) << server.stderr_text();
}

TEST(CliHandshake, SecondClientGetsAnotherUuidAndReconnectKeepsIt) {
  ServerProcess server;
  TempDir tmp;
  const fs::path a = tmp / "a", b = tmp / "b", c = tmp / "c";
  seed_identity(a, key(0));
  seed_identity(b, key(1));
  seed_identity(c, key(2));

  const CommandResult ra = connect(a, server, "alice");
  ASSERT_EQ(ra.exit_code, 0) << describe(ra);
  EXPECT_EQ(ra.err.find("created a new"), std::string::npos) << "a seeded identity is reused: " << ra.err;
  const std::string ua = connected_uuid(ra, server, "alice");
  const CommandResult rb = connect(b, server, "bob");
  ASSERT_EQ(rb.exit_code, 0) << describe(rb);
  const std::string ub = connected_uuid(rb, server, "bob");
  ASSERT_FALSE(ua.empty());
  ASSERT_FALSE(ub.empty());
  EXPECT_NE(ua, ub);

  // Reconnect: same UUID, no new trust notice, the session file is rewritten.
  const std::string before = test::read_file(session_file(a, server));
  const CommandResult again = connect(a, server, "alice");
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(connected_uuid(again, server, "alice"), ua);
  EXPECT_EQ(again.err, "") << "already pinned, identity exists: no notices";
  EXPECT_NE(test::read_file(session_file(a, server)), before) << "a new session key was saved";

  // Reconnect under another name: same UUID, the new name shows, the old one is free again.
  const CommandResult renamed = connect(a, server, "alice2");
  ASSERT_EQ(renamed.exit_code, 0) << describe(renamed);
  EXPECT_EQ(connected_uuid(renamed, server, "alice2"), ua);
  const CommandResult w = run_client(a, {"whoami"});
  ASSERT_EQ(w.exit_code, 0) << describe(w);
  EXPECT_NE(w.out.find("name        alice2\n"), std::string::npos) << w.out;
  const CommandResult rc = connect(c, server, "alice");
  ASSERT_EQ(rc.exit_code, 0) << describe(rc);
  const std::string uc = connected_uuid(rc, server, "alice");
  EXPECT_FALSE(uc.empty());
  EXPECT_NE(uc, ua);
  EXPECT_NE(uc, ub);
}

TEST(CliHandshake, WrongFingerprintIsRefusedAndSavesNothing) {
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";
  seed_identity(home, key(0));
  const std::string wrong = "SHA256:" + std::string(43, 'A');

  const CommandResult r = connect(home, server, "alice", {"--fingerprint", wrong});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.out, "");
  // What was expected and what the server presented; no pin is claimed, and no command offered
  // that would accept the key the user just rejected (ClientUx.WrongFingerprint... has the text).
  EXPECT_NE(r.err.find("the server at " + server.authority() + " presented key " + server.fingerprint() +
                       ", but --fingerprint expected " + wrong + ".\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("pinned"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--fingerprint " + server.fingerprint()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(session_file(home, server)));
  EXPECT_FALSE(fs::exists(home / "known_servers"));
  EXPECT_FALSE(fs::exists(home / "config.json"));

  // After a good connect, a wrong explicit pin changes nothing either.
  ASSERT_EQ(connect(home, server, "alice").exit_code, 0);
  const std::string known = test::read_file(home / "known_servers");
  const std::string session = test::read_file(session_file(home, server));
  const CommandResult again = connect(home, server, "alice", {"--fingerprint", wrong});
  EXPECT_EQ(again.exit_code, 4) << describe(again);
  EXPECT_EQ(test::read_file(home / "known_servers"), known);
  EXPECT_EQ(test::read_file(session_file(home, server)), session);

  // The right one, explicitly: fine.
  const CommandResult right = connect(home, server, "alice", {"--fingerprint", server.fingerprint()});
  EXPECT_EQ(right.exit_code, 0) << describe(right);
}

TEST(CliHandshake, ServerKeyFilePinsTheKey) {
  ServerProcess server;
  TempDir tmp;
  const fs::path good = tmp / "good", bad = tmp / "bad";
  seed_identity(good, key(0));
  seed_identity(bad, key(1));

  const CommandResult r =
      connect(good, server, "alice", {"--server-key", (server.keys() / "server_ed25519.pub").string()});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(connected_uuid(r, server, "alice").empty()) << r.out;
  EXPECT_EQ(r.err.find("trusting"), std::string::npos) << "an explicit pin is not trust on first use: " << r.err;
  EXPECT_EQ(test::read_file(good / "known_servers"), server.authority() + " " + server.fingerprint() + "\n");

  const fs::path other_pub = tmp / "other.pub";
  const Ed25519KeyPair other = Ed25519KeyPair::generate();
  test::write_file(other_pub, ed25519_public_pem(other.public_key()));
  const CommandResult refused = connect(bad, server, "bob", {"--server-key", other_pub.string()});
  EXPECT_EQ(refused.exit_code, 4) << describe(refused);
  EXPECT_NE(refused.err.find("presented key " + server.fingerprint() + ", but --server-key " + other_pub.string() +
                             " expected " + ed25519_fingerprint(other.public_key()) + ".\n"),
            std::string::npos)
      << refused.err;
  EXPECT_FALSE(fs::exists(session_file(bad, server)));
  EXPECT_FALSE(fs::exists(bad / "known_servers"));
}

TEST(CliHandshake, ChangedServerKeyIsRefusedUntilTheUserConfirmsIt) {
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";
  seed_identity(home, key(0));
  ASSERT_EQ(connect(home, server, "alice").exit_code, 0);
  const std::string old_fp = server.fingerprint();
  const std::string known = test::read_file(home / "known_servers");

  // A hello sealed before a restart, and one sealed to the static key that is about to change.
  const auto keys = test::server_keys(server.url());
  const std::string before_restart = make_hello(keys, key(0), "alice").hello_json();
  const std::string before_key_change = make_hello(keys, key(0), "alice").hello_json();

  // Restarted with the same keys: still trusted, and the static key is the same (kept in the keys
  // directory), so the hello sealed before the restart opens.
  const std::uint16_t port = server.port();
  server.restart();
  EXPECT_EQ(post_hello(server.url(), before_restart).status, 200);
  ASSERT_EQ(server.port(), port);
  ASSERT_EQ(server.fingerprint(), old_fp);
  const CommandResult same = connect(home, server, "alice");
  EXPECT_EQ(same.exit_code, 0) << describe(same);
  const std::string session_after_restart = test::read_file(session_file(home, server));

  // Restarted with another key on the same address: refused, naming both keys and the fix.
  const fs::path new_keys = tmp / "new-keys";
  fs::create_directories(new_keys);
  server.restart_with_keys(new_keys);
  ASSERT_EQ(server.port(), port);
  const std::string new_fp = server.fingerprint();
  ASSERT_NE(new_fp, old_fp);
  // The new static key cannot open what was sealed to the old one.
  const Reply stale = post_hello(server.url(), before_key_change);
  EXPECT_EQ(stale.status, 400) << stale.body;
  EXPECT_EQ(stale.reason, kNotSealedToUs);
  const CommandResult r = connect(home, server, "alice");
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("the server at " + server.authority() + " presented key " + new_fp + ", but " + old_fp +
                       " is pinned (" + (home / "known_servers").string() + ")"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("minihttps connect --server " + server.url() + " --name alice --fingerprint " + new_fp),
            std::string::npos)
      << r.err;
  EXPECT_EQ(test::read_file(home / "known_servers"), known) << "the pin is not replaced";
  EXPECT_EQ(test::read_file(session_file(home, server)), session_after_restart) << "the session is not overwritten";

  // whoami still shows the old (pinned) key; the recovery command from the message works.
  const CommandResult recover = connect(home, server, "alice", {"--fingerprint", new_fp});
  EXPECT_EQ(recover.exit_code, 0) << describe(recover);
  EXPECT_EQ(test::read_file(home / "known_servers"), server.authority() + " " + new_fp + "\n");
  const CommandResult w = run_client(home, {"whoami"});
  EXPECT_NE(w.out.find("server key  " + new_fp + "\n"), std::string::npos) << w.out;
}

TEST(CliHandshake, NameHeldByAnotherKeyIsRefused) {
  ServerProcess server;
  TempDir tmp;
  seed_identity(tmp / "a", key(0));
  seed_identity(tmp / "b", key(1));
  ASSERT_EQ(connect(tmp / "a", server, "alice").exit_code, 0);
  const CommandResult r = connect(tmp / "b", server, "alice");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "minihttps: handshake refused: registry: the name 'alice' is held by another key\n");
  EXPECT_FALSE(fs::exists(session_file(tmp / "b", server)));
  EXPECT_FALSE(fs::exists(tmp / "b" / "known_servers"));
}

TEST(CliHandshake, FullRegistryRefusesNewClientsButNotKnownOnes) {
  ServerProcess server(test::with_args({"--max-clients", "1"}));
  TempDir tmp;
  seed_identity(tmp / "a", key(0));
  seed_identity(tmp / "b", key(1));
  ASSERT_EQ(connect(tmp / "a", server, "alice").exit_code, 0);
  // A signed request makes alice's identity "used": only unused ones may make room (PROTOCOL §3.2),
  // and this test must not depend on how long the machine takes between the two connects.
  const CommandResult ls = test::run_client(tmp / "a", {"ls", "/"});
  ASSERT_EQ(ls.exit_code, 0) << describe(ls);
  const CommandResult r = connect(tmp / "b", server, "bob");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: handshake refused: registry: full, try again later\n");
  EXPECT_FALSE(fs::exists(session_file(tmp / "b", server)));
  // The registered client can still reconnect.
  const CommandResult again = connect(tmp / "a", server, "alice");
  EXPECT_EQ(again.exit_code, 0) << describe(again);
}

TEST(CliHandshake, AuthorizedClientsRestrictWhoMayRegister) {
  TempDir tmp;
  const fs::path a = tmp / "a", b = tmp / "b";
  seed_identity(b, key(1));
  std::string fp_a;
  {
    // A first connect (to an open server) creates A's identity; whoami shows its fingerprint.
    ServerProcess open_server;
    ASSERT_EQ(connect(a, open_server, "alice").exit_code, 0);
    const CommandResult w = run_client(a, {"whoami"});
    ASSERT_EQ(w.exit_code, 0) << describe(w);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(w.out, m, std::regex(R"(your key    (SHA256:[A-Za-z0-9+/]{43})\n)"))) << w.out;
    fp_a = m[1];
    EXPECT_EQ(fp_a, RsaPrivateKey::from_pem(test::read_file(a / "identity.pem")).public_key().fingerprint());
  }
  const fs::path keys = tmp / "keys";
  fs::create_directories(keys);
  test::write_file(keys / "authorized_clients", "# who may register\n\n  " + fp_a + "  \n");
  ServerProcess server(test::with_keys(keys));
  EXPECT_TRUE(server.wait_for_stderr("only the 1 keys in " + keys.string() + "/authorized_clients may register", 2s))
      << server.stderr_text();

  const CommandResult ra = connect(a, server, "alice");
  EXPECT_EQ(ra.exit_code, 0) << describe(ra);
  const CommandResult rb = connect(b, server, "bob");
  EXPECT_EQ(rb.exit_code, 4) << describe(rb);
  EXPECT_EQ(rb.err, "minihttps: handshake refused: handshake: this key is not authorized on this server (" +
                        key(1).public_key().fingerprint() + ")\n");
  EXPECT_FALSE(fs::exists(session_file(b, server)));
}

TEST(CliHandshake, MalformedAuthorizedClientsStopsTheServer) {
  TempDir tmp;
  test::write_file(tmp / "authorized_clients", "# ok\nnot-a-fingerprint\n");
  const CommandResult r = test::run_server_binary(
      {"--listen", "127.0.0.1:0", "--keys", tmp.path().string(), "--root", tmp.path().string()}, 10s);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find((tmp / "authorized_clients").string() + ":2: not a key fingerprint (SHA256:...)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("listening on"), std::string::npos) << r.out;
}

TEST(CliHandshake, LogoutForgetsTheSession) {
  ServerProcess server;
  TempDir tmp;
  const fs::path home = tmp / "home";
  seed_identity(home, key(0));
  const CommandResult c = connect(home, server, "alice");
  ASSERT_EQ(c.exit_code, 0) << describe(c);
  const std::string uuid = connected_uuid(c, server, "alice");

  const CommandResult out = run_client(home, {"logout"});
  EXPECT_EQ(out.exit_code, 0) << describe(out) << "\nserver:\n" << server.stderr_text();
  EXPECT_EQ(out.out, "logged out of " + server.url() + "\n");
  EXPECT_FALSE(fs::exists(session_file(home, server)));

  const CommandResult w = run_client(home, {"whoami"});
  EXPECT_EQ(w.exit_code, 4) << describe(w);
  EXPECT_EQ(w.err, "minihttps: no session with " + server.url() + " (logged out): run `minihttps connect " +
                       server.authority() + "`\n");
  const CommandResult twice = run_client(home, {"logout"});
  EXPECT_EQ(twice.exit_code, 4) << describe(twice);

  // The identity survives a logout: connecting again gives the same UUID.
  const CommandResult back = connect(home, server, "alice");
  ASSERT_EQ(back.exit_code, 0) << describe(back);
  EXPECT_EQ(connected_uuid(back, server, "alice"), uuid);
}

TEST(CliHandshake, LogoutWithTheServerDownStillForgetsTheSession) {
  auto server = std::make_unique<ServerProcess>();
  TempDir tmp;
  const fs::path home = tmp / "home";
  seed_identity(home, key(0));
  ASSERT_EQ(connect(home, *server, "alice").exit_code, 0);
  const fs::path session = session_file(home, *server);
  const std::string url = server->url();
  EXPECT_EQ(server->stop(), 0) << server->stderr_text();

  const CommandResult out = run_client(home, {"logout"});
  EXPECT_EQ(out.exit_code, 0) << describe(out);
  EXPECT_NE(out.err.find("could not tell the server"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("forgetting the session anyway"), std::string::npos) << out.err;
  EXPECT_EQ(out.out, "logged out of " + url + "\n");
  EXPECT_FALSE(fs::exists(session));
}

// The server forgot the session (restart): logout gets 401. That means the session is gone already,
// so the client should just forget it; it must not register again just to log out.
TEST(CliHandshake, LogoutAfterTheServerForgotTheSessionDoesNotRegisterAgain) {
  ServerProcess server;
  TempDir tmp;
  seed_identity(tmp / "a", key(0));
  seed_identity(tmp / "b", key(1));
  ASSERT_EQ(connect(tmp / "a", server, "alice").exit_code, 0);
  server.restart();
  // Meanwhile someone else registers the name on the restarted server.
  ASSERT_EQ(connect(tmp / "b", server, "alice").exit_code, 0);

  const CommandResult out = run_client(tmp / "a", {"logout"});
  EXPECT_EQ(out.exit_code, 0) << "BUG: logout re-handshakes on 401 (and fails when that is refused)\n" << describe(out);
  EXPECT_EQ(out.err.find("handshaking again"), std::string::npos) << out.err;
  EXPECT_FALSE(fs::exists(session_file(tmp / "a", server))) << "the local session must be forgotten in any case";
}

TEST(CliHandshake, ServerPolicyOptionsAreApplied) {
  ServerProcess server(test::with_args({"--max-skew", "5", "--session-ttl", "10", "--chunk-size", "65536"}));
  const auto keys = test::server_keys(server.url());
  const std::int64_t now = unix_now();
  const Reply late =
      post_hello(server.url(), make_hello(keys, key(0), key_name(0), std::nullopt, now - 20).hello_json());
  EXPECT_EQ(late.status, 403) << late.body;
  EXPECT_EQ(late.reason, "handshake: hello time outside the allowed window");
  auto hello = make_hello(keys, key(0), key_name(0));
  const Reply ok = post_hello(server.url(), hello.hello_json());
  ASSERT_EQ(ok.status, 200) << ok.body;
  const hs2::ClientSession s = hello.consume(ok.body);
  EXPECT_NEAR(static_cast<double>(s.expires), static_cast<double>(now + 10), 3);
  EXPECT_EQ(s.chunk_size, 65536u);
  EXPECT_EQ(test::well_known(server.url()).at("chunk_size"), 65536);
}

// The well-known document is not authenticated: an on-path attacker can put its own static key in
// it, so that the hello (name, key, UUID) is sealed to the attacker. The identity key vouches for
// the static key; with a static key it did not sign, the client refuses before it sends a hello,
// pinned or on first use, and stores nothing.
TEST(CliHandshake, StaticKeyNotSignedByThePinnedIdentityIsRefused) {
  ServerProcess server;
  test::TamperProxy proxy(server.port());
  TempDir tmp;
  const X25519KeyPair attacker_static = X25519KeyPair::generate();
  const Ed25519KeyPair attacker_identity = Ed25519KeyPair::generate();
  // Replaces the value of "field" in the document (same length, so Content-Length still holds).
  const auto replace_value = [](std::string response, const std::string& field, const std::string& value) {
    const auto at = response.find("\"" + field + "\":\"");
    if (at == std::string::npos) return response;
    const auto from = at + field.size() + 4;
    return response.replace(from, response.find('"', from) - from, value);
  };
  for (const bool resigned : {false, true}) {
    SCOPED_TRACE(resigned ? "static key signed by the attacker's identity" : "static key swapped, signature kept");
    proxy.set_rewriter([&](const std::string&, const std::string& response) {
      std::string out = replace_value(response, "static_key", b64u(attacker_static.public_key));
      if (resigned)
        out = replace_value(out, "static_signature",
                            b64u(hs2::sign_static_key(attacker_identity, attacker_static.public_key)));
      return out;
    });
    proxy.set_mode(test::TamperProxy::Mode::rewrite, "GET /.well-known/minihttps ");
    for (const bool pinned : {true, false}) {
      const fs::path home = tmp / ((resigned ? "r" : "s") + std::string(pinned ? "-pinned" : "-tofu"));
      seed_identity(home, key(0));
      std::vector<std::string> args = {"connect", "--server", proxy.url(), "--name", "alice"};
      if (pinned) args.insert(args.end(), {"--fingerprint", server.fingerprint()});
      const CommandResult r = run_client(home, args);
      EXPECT_EQ(r.exit_code, 4) << describe(r);
      EXPECT_EQ(r.out, "");
      EXPECT_EQ(r.err, "minihttps: handshake: the server's static key is not signed by its identity key\n");
      EXPECT_FALSE(fs::exists(session_file(home, proxy.port())));
      EXPECT_FALSE(fs::exists(home / "known_servers")) << "a refused server is not trusted on first use";
    }
  }
  EXPECT_EQ(proxy.tampered(), 4);
  // No hello was sent: nothing was sealed to the attacker's key.
  EXPECT_EQ(server.stderr_text().find("/auth/handshake"), std::string::npos) << server.stderr_text();
  // The genuine document, through the same proxy: fine.
  proxy.set_mode(test::TamperProxy::Mode::pass);
  seed_identity(tmp / "ok", key(0));
  const CommandResult ok = run_client(
      tmp / "ok", {"connect", "--server", proxy.url(), "--name", "alice", "--fingerprint", server.fingerprint()});
  EXPECT_EQ(ok.exit_code, 0) << describe(ok);
}

// What the CLI puts on the wire, seen by an observer between it and the server: a reconnect's
// hello (which carries the UUID) and its reply show no name, UUID, key or keyid.
TEST(CliHandshake, TheClientsHelloAndItsReplyShowNoIdentityOnTheWire) {
  ServerProcess server;
  test::TamperProxy proxy(server.port());
  std::mutex m;
  std::vector<std::pair<std::string, std::string>> seen;  // request, response
  proxy.set_rewriter([&](const std::string& request, const std::string& response) {
    std::lock_guard lock(m);
    seen.emplace_back(request, response);
    return response;
  });
  proxy.set_mode(test::TamperProxy::Mode::rewrite, "POST /auth/handshake ");
  TempDir tmp;
  const fs::path home = tmp / "home";
  seed_identity(home, key(0));
  const std::string name = "wire-watcher-7";
  const std::vector<std::string> args = {"connect", "--server",      proxy.url(),         "--name",
                                         name,      "--fingerprint", server.fingerprint()};
  const CommandResult first = run_client(home, args);
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  const CommandResult again = run_client(home, args);
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  const auto uuid = Uuid::parse(connected_uuid(again, proxy.url(), name));
  ASSERT_TRUE(uuid) << again.out;
  EXPECT_EQ(connected_uuid(first, proxy.url(), name), uuid->to_string());
  const json session = json::parse(test::read_file(session_file(home, proxy.port())));
  const auto keyid = seal::parse_keyid(session.at("keyid").get<std::string>());
  ASSERT_TRUE(keyid);

  std::lock_guard lock(m);
  ASSERT_EQ(seen.size(), 2u);
  const auto& [request, response] = seen[1];
  EXPECT_EQ(identity_shown(request, name, *uuid, key(0), keyid), "") << request;
  EXPECT_EQ(identity_shown(response, name, *uuid, key(0), keyid), "") << response;
  // Both bodies are envelopes: an ephemeral key and a token, nothing else.
  for (const std::string* message : {&request, &response}) {
    const json j = json::parse(message->substr(message->find("\r\n\r\n") + 4));
    std::vector<std::string> fields;
    for (const auto& [k, v] : j.items()) fields.push_back(k);
    EXPECT_EQ(fields, (std::vector<std::string>{"sealed", "version", "x25519"})) << *message;
  }
}

// =====================================================================================================
// Hand-made hellos over raw HTTP
// =====================================================================================================

class RawHandshake : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Generous rate limits: these tests send many hellos from one address.
    server_ = new ServerProcess(
        test::with_args({"--handshake-rate", "1000000", "--handshake-burst", "1000000", "--server-handshake-rate",
                         "1000000", "--server-handshake-burst", "1000000"}));
    keys_ = new hs2::ServerKeys(test::server_keys(server_->url()));
  }
  static void TearDownTestSuite() {
    delete keys_;
    delete server_;
    server_ = nullptr;
  }
  static const ServerProcess& server() { return *server_; }
  static std::string url() { return server_->url(); }
  static const hs2::ServerKeys& keys() { return *keys_; }
  // A hello to this suite's server, as the CLI makes it.
  static hs2::ClientHandshake hello(const RsaPrivateKey& k, const std::string& name, std::optional<Uuid> uuid = {},
                                    std::optional<std::int64_t> time = {}) {
    return make_hello(keys(), k, name, uuid, time);
  }
  // A hello built field by field, signed by k.
  static CraftedHello crafted(const RsaPrivateKey& k, const std::string& name) {
    return crafted_hello(keys(), k, name);
  }
  static Uuid uuid_of(hs2::ClientHandshake& hs, const Reply& r) { return hs.consume(r.body).uuid; }

  static ServerProcess* server_;
  static hs2::ServerKeys* keys_;
};
ServerProcess* RawHandshake::server_ = nullptr;
hs2::ServerKeys* RawHandshake::keys_ = nullptr;

TEST_F(RawHandshake, ValidHelloIsAnsweredWithASealedSignedReplyAndTheSessionWorks) {
  auto hs = hello(key(0), key_name(0));
  const Reply r = post_hello(url(), hs.hello_json());
  ASSERT_EQ(r.status, 200) << r.body;

  // The reply is an envelope with the server's fresh ephemeral key.
  const hs2::Envelope reply = hs2::parse_envelope(r.body);
  EXPECT_NE(reply.x25519, hs2::parse_envelope(hs.hello_json()).x25519);
  EXPECT_NE(reply.x25519, keys().static_key);
  EXPECT_EQ(json::parse(r.body).at("version"), 2);

  // It opens, its signature verifies with the pinned identity key (inside consume), and it names a
  // fresh v4 UUID, a random keyid, the expiry and the chunk size.
  const hs2::ClientSession s = hs.consume(r.body);
  EXPECT_EQ(s.uuid.version(), 4);
  EXPECT_NE(b64u(s.keyid), b64u(s.uuid.bytes));
  EXPECT_NEAR(static_cast<double>(s.expires), static_cast<double>(unix_now() + 3600), 10);
  EXPECT_EQ(s.chunk_size, 262144u);

  // The session secret never crossed the wire, yet it is the server's: a sealed request made with
  // it is answered, and the answer opens.
  TempDir home;
  test::write_home(home.path(), key(0), s);
  test::SignedClient c(home.path(), url());
  const test::Reply got = c.send("GET", "/hello.txt");
  EXPECT_TRUE(got.error.empty()) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "hello, world\n");

  // A reply changed on the way, or meant for another hello, does not open.
  for (const bool other_hello : {false, true}) {
    auto mine = hello(key(0), key_name(0));
    auto theirs = hello(key(0), key_name(0));
    const Reply ok = post_hello(url(), (other_hello ? theirs : mine).hello_json());
    ASSERT_EQ(ok.status, 200) << ok.body;
    hs2::Envelope e = hs2::parse_envelope(ok.body);
    if (!other_hello) e.sealed[e.sealed.size() / 2] = e.sealed[e.sealed.size() / 2] == 'A' ? 'B' : 'A';
    Errc code{};
    EXPECT_EQ(error_of([&] { mine.consume(hs2::to_json(e)); }, &code),
              "handshake: the reply does not open: not the server holding the static key");
    EXPECT_EQ(code, Errc::trust);
  }
}

TEST_F(RawHandshake, WellKnownDocumentPublishesTheStaticKeySignedByTheIdentity) {
  const json doc = test::well_known(url());
  std::vector<std::string> fields;
  for (const auto& [k, v] : doc.items()) fields.push_back(k);
  EXPECT_EQ(fields, (std::vector<std::string>{"chunk_size", "fingerprint", "handshake", "protocol", "public_key",
                                              "sealed", "static_key", "static_signature", "version"}));
  EXPECT_EQ(doc.at("version"), 2);
  EXPECT_EQ(doc.at("protocol"), "minihttps/2");
  EXPECT_EQ(doc.at("handshake"), "/auth/handshake");
  EXPECT_EQ(doc.at("sealed"), "/.well-known/minihttps/sealed");
  EXPECT_EQ(doc.at("chunk_size"), 262144);

  // The identity key: the one in the keys directory, and the fingerprint the server printed.
  const Ed25519Public identity = test::b64u_fixed<32>(doc.at("public_key"));
  EXPECT_EQ(identity, ed25519_public_from_pem(test::read_file(server().keys() / "server_ed25519.pub")));
  EXPECT_EQ(doc.at("fingerprint"), server().fingerprint());
  EXPECT_EQ(ed25519_fingerprint(identity), server().fingerprint());

  // The static key: made beside the identity key (secret 0600), vouched for by the identity.
  const X25519Public static_key = test::b64u_fixed<32>(doc.at("static_key"));
  const fs::path static_file = server().keys() / "server_x25519.key";
  EXPECT_EQ(mode_of(static_file), 0600u);
  std::string secret = test::read_file(static_file);
  ASSERT_TRUE(secret.ends_with("\n"));
  secret.pop_back();
  EXPECT_EQ(X25519KeyPair::from_secret(test::b64u_bytes(secret)).public_key, static_key);
  const Bytes signature = test::b64u_bytes(doc.at("static_signature"));
  ASSERT_EQ(signature.size(), 64u);
  EXPECT_NO_THROW(hs2::verify_static_key(identity, static_key, signature));
  EXPECT_TRUE(ed25519_verify(identity, hs2::static_key_message(static_key), signature));
  // ... and for no other key, by no other identity.
  EXPECT_EQ(error_of([&] { hs2::verify_static_key(identity, X25519KeyPair::generate().public_key, signature); }),
            "handshake: the server's static key is not signed by its identity key");
  EXPECT_EQ(error_of([&] { hs2::verify_static_key(Ed25519KeyPair::generate().public_key(), static_key, signature); }),
            "handshake: the server's static key is not signed by its identity key");
  // Static: the same document every time.
  EXPECT_EQ(test::well_known(url()), doc);
}

// A version-1 client gets a refusal that says what to do, not a parse error about fields it sent.
TEST_F(RawHandshake, VersionOneHelloIsRefusedClearly) {
  const RsaPrivateKey& k = key(0);
  Bytes nonce(32);
  random_fill(nonce);
  const json v1 = {{"version", 1},
                   {"name", "alice"},
                   {"x25519", b64u(X25519KeyPair::generate().public_key)},
                   {"nonce", b64u(nonce)},
                   {"rsa_spki", b64u(k.public_key().spki_der())},
                   {"time", unix_now()},
                   {"signature", b64u(k.sign_pss_sha512(as_bytes(std::string_view("a version-1 transcript"))))}};
  for (const std::string& body :
       {v1.dump(), std::string(R"({"version":1})"), std::string(R"({"version":1,"sealed":"x"})")}) {
    const Reply r = post_hello(url(), body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_EQ(r.error, "bad_request");
    EXPECT_EQ(r.reason, kVersionOne) << body;
  }
  for (const int version : {0, 3, -1}) {
    json j = json::parse(hello(k, key_name(0)).hello_json());
    j["version"] = version;
    const Reply r = post_hello(url(), j.dump());
    EXPECT_EQ(r.status, 400) << version;
    EXPECT_EQ(r.reason, "handshake: unsupported protocol version") << version;
  }
}

// A client holding an old or wrong static key (or the identity key of another server, which the
// hello key binds too) is told to fetch the document again; nothing is registered.
TEST_F(RawHandshake, HelloSealedToAnotherStaticKeyIsRefused) {
  const hs2::ServerKeys other_static{keys().identity, X25519KeyPair::generate().public_key};
  const hs2::ServerKeys other_identity{Ed25519KeyPair::generate().public_key(), keys().static_key};
  for (const auto& k : {other_static, other_identity}) {
    const Reply r = post_hello(url(), make_hello(k, key(5), "sealed-elsewhere").hello_json());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.error, "bad_request");
    EXPECT_EQ(r.reason, kNotSealedToUs);
  }
  // Signed for another server but sealed to this one: the signature covers both server keys.
  for (const auto& k : {other_static, other_identity}) {
    CraftedHello h = crafted(key(5), "signed-elsewhere");
    h.sign(key(5), k);
    const Reply r = post_hello(url(), h.json());
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.reason, kBadSignature);
  }
  // The name was not taken by any of them.
  EXPECT_EQ(post_hello(url(), hello(key(6), "sealed-elsewhere").hello_json()).status, 200);
  EXPECT_EQ(post_hello(url(), hello(key(6), key_name(6)).hello_json()).status, 200);  // and free again
}

TEST_F(RawHandshake, TamperedSealedTokenIsRefused) {
  const std::string body = hello(key(0), key_name(0)).hello_json();
  const hs2::Envelope good = hs2::parse_envelope(body);
  const hs2::Envelope someone_elses = hs2::parse_envelope(hello(key(1), key_name(1)).hello_json());
  struct Case {
    std::string what;
    hs2::Envelope e;
  };
  std::vector<Case> cases;
  for (const std::size_t at : {std::size_t{20}, good.sealed.size() / 2, good.sealed.size() - 10}) {
    hs2::Envelope e = good;
    e.sealed[at] = e.sealed[at] == 'A' ? 'B' : 'A';
    cases.push_back({"a character changed at " + std::to_string(at), e});
  }
  hs2::Envelope truncated = good;
  truncated.sealed.resize(truncated.sealed.size() - 4);
  cases.push_back({"truncated", truncated});
  hs2::Envelope extended = good;
  extended.sealed += "AAAA";
  cases.push_back({"extended", extended});
  hs2::Envelope rekeyed = good;
  rekeyed.x25519 = X25519KeyPair::generate().public_key;
  cases.push_back({"another ephemeral key in the envelope", rekeyed});
  hs2::Envelope pasted = good;
  pasted.sealed = someone_elses.sealed;
  cases.push_back({"another hello's token under this ephemeral key", pasted});
  hs2::Envelope junk = good;
  junk.sealed = "not a Fernet token";
  cases.push_back({"not a token", junk});
  hs2::Envelope empty = good;
  empty.sealed = "";
  cases.push_back({"empty token", empty});
  for (const auto& c : cases) {
    const Reply r = post_hello(url(), hs2::to_json(c.e));
    EXPECT_EQ(r.status, 400) << c.what << ": " << r.body;
    EXPECT_EQ(r.reason, kNotSealedToUs) << c.what;
  }
  // The untouched hello was not consumed by the refusals: it still works once.
  EXPECT_EQ(post_hello(url(), body).status, 200);
}

TEST_F(RawHandshake, SmallOrderX25519KeyIsRefused) {
  const hs2::Envelope good = hs2::parse_envelope(hello(key(0), key_name(0)).hello_json());
  const char* points[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",  // 0
      "0100000000000000000000000000000000000000000000000000000000000000",  // 1 (order 4)
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  // order 8
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p - 1 (order 2)
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p, i.e. 0 again
  };
  for (const char* hex : points) {
    hs2::Envelope e = good;
    const Bytes p = from_hex(hex);
    std::copy(p.begin(), p.end(), e.x25519.begin());
    const Reply r = post_hello(url(), hs2::to_json(e));
    EXPECT_EQ(r.status, 400) << hex << ": " << r.body;
    EXPECT_EQ(r.reason, "handshake: small-order X25519 key") << hex;
  }
}

// The outer JSON, before anything is opened.
TEST_F(RawHandshake, MalformedEnvelopesAreRefusedWithTheirReason) {
  const JsonEdits edit{json::parse(hello(key(0), key_name(0)).hello_json())};
  const json& base = edit.base;
  const std::string x = base.at("x25519");
  std::string x_std = x;
  x_std[0] = '+';
  std::vector<RefusalCase> cases = {
      {"empty body", "", "handshake: message is not a JSON object"},
      {"broken JSON", R"({"version":2,)", "handshake: message is not a JSON object"},
      {"array", "[1,2]", "handshake: message is not a JSON object"},
      {"string", R"("hello")", "handshake: message is not a JSON object"},
      {"null", "null", "handshake: message is not a JSON object"},
      {"trailing garbage", base.dump() + "x", "handshake: message is not a JSON object"},
      {"unknown field", edit.with("extra", 1), "handshake: unknown field 'extra'"},
      {"a name in clear", edit.with("name", "alice"), "handshake: unknown field 'name'"},
      {"version as string", edit.with("version", "2"), "handshake: field 'version' must be an integer"},
      {"version as float", edit.with("version", 2.5), "handshake: field 'version' must be an integer"},
      {"x25519 padded", edit.with("x25519", x + "="), "handshake: field 'x25519' is not unpadded base64url"},
      {"x25519 standard alphabet", edit.with("x25519", x_std), "handshake: field 'x25519' is not unpadded base64url"},
      {"x25519 as array", edit.with("x25519", json::array({1, 2})), "handshake: field 'x25519' must be a string"},
      {"x25519 of 31 bytes", edit.with("x25519", b64u(Bytes(31, 9))), "handshake: field 'x25519' has the wrong length"},
      {"x25519 of 33 bytes", edit.with("x25519", b64u(Bytes(33, 9))), "handshake: field 'x25519' has the wrong length"},
      {"x25519 of 64 bytes", edit.with("x25519", b64u(Bytes(64, 9))), "handshake: field 'x25519' too long"},
      {"sealed as number", edit.with("sealed", 5), "handshake: field 'sealed' must be a string"},
      {"sealed as object", edit.with("sealed", json::object()), "handshake: field 'sealed' must be a string"},
      {"sealed longer than 8192", edit.with("sealed", std::string(hs2::kMaxSealedChars + 1, 'A')),
       "handshake: field 'sealed' too long"},
  };
  for (const char* f : {"version", "x25519", "sealed"})
    cases.push_back(
        {std::string("missing ") + f, edit.without(f), std::string("handshake: missing field '") + f + "'"});
  expect_bad_requests(url(), cases, [](const std::string& body) { return body; });
}

// The sealed identity: anyone who knows the public static key can seal anything to it, so what
// opens is judged field by field like any input.
TEST_F(RawHandshake, MalformedSealedIdentitiesAreRefusedWithTheirReason) {
  const CraftedHello h = crafted(key(0), key_name(0));
  const JsonEdits edit{json::parse(hs2::to_json(h.identity))};
  const json& base = edit.base;
  std::string nonce_slash = base.at("nonce");
  nonce_slash[5] = '/';
  std::vector<RefusalCase> cases = {
      {"empty", "", "handshake: message is not a JSON object"},
      {"broken JSON", R"({"name":)", "handshake: message is not a JSON object"},
      {"array", "[]", "handshake: message is not a JSON object"},
      {"trailing garbage", base.dump() + "}", "handshake: message is not a JSON object"},
      {"unknown field", edit.with("extra", 1), "handshake: unknown field 'extra'"},
      {"a v1 field", edit.with("x25519", b64u(Bytes(32, 1))), "handshake: unknown field 'x25519'"},
      {"name as number", edit.with("name", 42), "handshake: field 'name' must be a string"},
      {"name too long", edit.with("name", std::string(300, 'a')), "handshake: field 'name' too long"},
      {"empty name", edit.with("name", ""), kBadName},
      {"33-character name", edit.with("name", std::string(33, 'a')), kBadName},
      {"name with a space", edit.with("name", "a b"), kBadName},
      {"name starting with -", edit.with("name", "-x"), kBadName},
      {"name starting with .", edit.with("name", ".x"), kBadName},
      {"name with a slash", edit.with("name", "a/b"), kBadName},
      {"non-ASCII name", edit.with("name", "j\xc3\xa9r\xc3\xb4me"), kBadName},
      {"nonce standard alphabet", edit.with("nonce", nonce_slash),
       "handshake: field 'nonce' is not unpadded base64url"},
      {"nonce of 31 bytes", edit.with("nonce", b64u(Bytes(31, 9))), "handshake: field 'nonce' has the wrong length"},
      {"nonce of 33 bytes", edit.with("nonce", b64u(Bytes(33, 9))), "handshake: field 'nonce' has the wrong length"},
      {"nonce of 64 bytes", edit.with("nonce", b64u(Bytes(64, 9))), "handshake: field 'nonce' too long"},
      {"empty rsa_spki", edit.with("rsa_spki", ""), "handshake: field 'rsa_spki' has the wrong length"},
      {"rsa_spki of 1025 bytes", edit.with("rsa_spki", b64u(Bytes(1025, 9))),
       "handshake: field 'rsa_spki' has the wrong length"},
      {"rsa_spki as number", edit.with("rsa_spki", 1), "handshake: field 'rsa_spki' must be a string"},
      {"empty signature", edit.with("signature", ""), "handshake: field 'signature' has the wrong length"},
      {"signature of 513 bytes", edit.with("signature", b64u(Bytes(513, 9))),
       "handshake: field 'signature' has the wrong length"},
      {"signature with a dot", edit.with("signature", "abc.def"),
       "handshake: field 'signature' is not unpadded base64url"},
      {"bad UUID", edit.with("uuid", "not-a-uuid"), "handshake: field 'uuid' is not a UUID"},
      {"UUID without dashes", edit.with("uuid", "0123456789abcdef0123456789abcdef"),
       "handshake: field 'uuid' is not a UUID"},
      {"UUID too long", edit.with("uuid", Uuid::random_v4().to_string() + "0"), "handshake: field 'uuid' too long"},
      {"UUID as number", edit.with("uuid", 5), "handshake: field 'uuid' must be a string"},
      {"time as string", edit.with("time", "now"), "handshake: field 'time' must be an integer"},
      {"time as float", edit.with("time", 1.5), "handshake: field 'time' must be an integer"},
      {"time past int64", edit.with("time", 9223372036854775808ull), "handshake: field 'time' is out of range"},
      {"rsa_spki not DER", edit.with("rsa_spki", b64u(test::pattern_bytes(100))), "rsa: cannot parse public key"},
  };
  for (const char* f : {"name", "nonce", "rsa_spki", "time", "signature"})
    cases.push_back(
        {std::string("missing ") + f, edit.without(f), std::string("handshake: missing field '") + f + "'"});
  // An Ed25519 key where the RSA key belongs (SPKI DER of the id-Ed25519 algorithm).
  Bytes ed_spki = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  const auto ed = Ed25519KeyPair::generate().public_key();
  ed_spki.insert(ed_spki.end(), ed.begin(), ed.end());
  cases.push_back(
      {"Ed25519 key as rsa_spki", edit.with("rsa_spki", b64u(ed_spki)), "rsa: public key is not an RSA key"});
  expect_bad_requests(url(), cases, [&](const std::string& identity) { return h.seal(identity); });
  // A null UUID is the same as none; this identity is signed without one, so it is accepted.
  const Reply null_uuid = post_hello(url(), h.seal(edit.with("uuid", nullptr)));
  EXPECT_EQ(null_uuid.status, 200) << null_uuid.body;
}

TEST_F(RawHandshake, OversizedBodyIs413) {
  net::HttpClient client(net::ServerUrl::parse(url()), 10s);
  const std::string prefix = R"({"version":2,"pad":")";
  for (const std::size_t size : {std::size_t{20 * 1024}, hs2::kMaxMessageBytes + 1}) {
    const std::string body = prefix + std::string(size - prefix.size() - 2, 'a') + "\"}";
    ASSERT_EQ(body.size(), size);
    const Reply r = post_hello(url(), body);
    EXPECT_EQ(r.status, 413) << size << ": " << r.body;
    EXPECT_EQ(r.error, "payload_too_large");
    EXPECT_EQ(r.reason, "request body too large");
  }
  // Exactly at the limit the body is read and judged on its content.
  const std::string body = prefix + std::string(hs2::kMaxMessageBytes - prefix.size() - 2, 'a') + "\"}";
  const Reply r = post_hello(client, body);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.reason, "handshake: unknown field 'pad'");
}

TEST_F(RawHandshake, HelloTimeOutsideTheWindowIsRefused) {
  const std::int64_t now = unix_now();
  for (const std::int64_t offset : {-120, 120, -3600, 3600}) {
    const Reply r = post_hello(url(), hello(key(0), key_name(0), std::nullopt, now + offset).hello_json());
    EXPECT_EQ(r.status, 403) << "offset " << offset << ": " << r.body;
    EXPECT_EQ(r.error, "forbidden");
    EXPECT_EQ(r.reason, "handshake: hello time outside the allowed window") << "offset " << offset;
  }
  // Inside the default 60 s window: accepted.
  for (const std::int64_t offset : {-30, 30}) {
    const Reply r = post_hello(url(), hello(key(0), key_name(0), std::nullopt, now + offset).hello_json());
    EXPECT_EQ(r.status, 200) << "offset " << offset << ": " << r.body;
  }
}

TEST_F(RawHandshake, BadClientSignatureIsRefused) {
  const CraftedHello good = crafted(key(0), key_name(0));

  CraftedHello flipped = good;
  flipped.identity.signature[17] ^= 0x01;
  Reply r = post_hello(url(), flipped.json());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.error, "forbidden");
  EXPECT_EQ(r.reason, kBadSignature);

  CraftedHello other_signer = good;
  other_signer.sign(key(1));  // key 1's signature over a hello that names key 0
  EXPECT_EQ(post_hello(url(), other_signer.json()).reason, kBadSignature);

  // Every field of the transcript is covered: change one after signing.
  CraftedHello renamed = good;
  renamed.identity.name = "mallory";
  EXPECT_EQ(post_hello(url(), renamed.json()).reason, kBadSignature);
  CraftedHello retimed = good;
  retimed.identity.time -= 1;
  EXPECT_EQ(post_hello(url(), retimed.json()).reason, kBadSignature);
  CraftedHello renonced = good;
  renonced.identity.nonce[0] ^= 1;
  EXPECT_EQ(post_hello(url(), renonced.json()).reason, kBadSignature);
  CraftedHello with_uuid = good;
  with_uuid.identity.uuid = Uuid::random_v4();
  EXPECT_EQ(post_hello(url(), with_uuid.json()).reason, kBadSignature);
  // The ephemeral key too: the same identity, sealed properly under another ephemeral key.
  CraftedHello rekeyed = good;
  rekeyed.ephemeral = X25519KeyPair::generate();
  EXPECT_EQ(post_hello(url(), rekeyed.json()).reason, kBadSignature);

  // The untouched hello was never consumed by the refusals above: it still works once.
  EXPECT_EQ(post_hello(url(), good.json()).status, 200);
}

TEST_F(RawHandshake, RsaKeySizeOutsidePolicyIsRefused) {
  const std::string reason = "handshake: RSA key size must be 2048-4096 bits";
  // The core will not make such a key ...
  EXPECT_THROW(RsaPrivateKey::generate(1024), Error);
  // ... but a client can bring one: a real 1024-bit key from the openssl CLI.
  const CommandResult gen =
      test::run_process({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"}, {}, 30s);
  ASSERT_EQ(gen.exit_code, 0) << describe(gen);
  const RsaPrivateKey small = RsaPrivateKey::from_pem(gen.out);
  ASSERT_EQ(small.bits(), 1024);
  CraftedHello h = crafted_hello(keys(), small.public_key().spki_der(), "small", 128);
  try {
    h.sign(small);  // PSS-SHA512 with a 64-byte salt: too big for the modulus
  } catch (const Error&) {}
  Reply r = post_hello(url(), h.json());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.reason, reason);

  // Hand-made public keys: below, at and above the limits (the size is checked first, so no
  // private key is needed; within the limits the made-up signature fails instead).
  for (const int bits : {2040, 2047, 4097, 4104}) {
    r = post_hello(url(), crafted_hello(keys(), fake_rsa_spki(bits), "fake").json());
    EXPECT_EQ(r.status, 400) << bits << ": " << r.body;
    EXPECT_EQ(r.reason, reason) << bits;
  }
  for (const int bits : {2048, 3072, 4096}) {
    ASSERT_EQ(RsaPublicKey::from_spki_der(fake_rsa_spki(bits)).bits(), bits);
    r = post_hello(url(),
                   crafted_hello(keys(), fake_rsa_spki(bits), "fake", static_cast<std::size_t>(bits / 8)).json());
    EXPECT_EQ(r.status, 403) << bits << ": " << r.body;
    EXPECT_EQ(r.reason, kBadSignature) << bits;
  }
}

// The attack review's free identities. Sealing is no obstacle: anyone can seal anything to the
// published static key. With e = 1 the "signature" is the PSS encoding itself, so no private key
// is needed; other exponents turn one modulus into many identities, and a huge one makes every
// verification cost many times more. Only e = 65537 is accepted, before the signature is checked.
TEST_F(RawHandshake, PublicExponentOtherThan65537IsRefused) {
  const std::string reason = "handshake: RSA public exponent must be 65537";
  CraftedHello forged = crafted_hello(keys(), fake_rsa_spki(2048, {0x01}), "nokey", 0);
  forged.identity.signature = emsa_pss_sha512(forged.transcript(), 2048);
  Reply r = post_hello(url(), forged.json());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.error, "bad_request");
  EXPECT_EQ(r.reason, reason);

  // A real key with e = 3 from the openssl CLI, signing correctly.
  const CommandResult gen = test::run_process({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                               "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:3"},
                                              {}, 60s);
  ASSERT_EQ(gen.exit_code, 0) << describe(gen);
  const RsaPrivateKey e3 = RsaPrivateKey::from_pem(gen.out);
  ASSERT_FALSE(e3.public_key().has_exponent_65537());
  r = post_hello(url(), crafted_hello(keys(), e3, "three").json());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.reason, reason);

  // The same modulus under other exponents, and a 3072-bit exponent.
  Bytes huge = test::pattern_bytes(384, 5);
  huge[0] = 0x7f;
  huge.back() |= 1;
  for (const Bytes& e :
       {Bytes{0x05}, Bytes{0x11}, Bytes{0x01, 0x01}, Bytes{0x01, 0x00, 0x03}, Bytes{0x01, 0x00, 0x00, 0x01}, huge}) {
    r = post_hello(url(), crafted_hello(keys(), fake_rsa_spki(2048, e), "fake").json());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.reason, reason);
  }
  // 65537 itself gets as far as the signature.
  r = post_hello(url(), crafted_hello(keys(), fake_rsa_spki(2048), "fake").json());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.reason, kBadSignature);
}

TEST_F(RawHandshake, ReplayedHelloIsRefused) {
  auto hs = hello(key(0), key_name(0));
  const std::string body = hs.hello_json();
  net::HttpClient client(net::ServerUrl::parse(url()), 10s);
  const Reply first = post_hello(client, body);
  ASSERT_EQ(first.status, 200) << first.body;
  for (int i = 0; i < 2; ++i) {
    const Reply again = post_hello(client, body);
    EXPECT_EQ(again.status, 403) << again.body;
    EXPECT_EQ(again.error, "forbidden");
    EXPECT_EQ(again.reason, "handshake: hello replayed");
  }
  // The same replay on a new connection: still refused.
  EXPECT_EQ(post_hello(url(), body).reason, "handshake: hello replayed");
  // The nonce is what counts, not the bytes: the same identity under a fresh ephemeral key, signed
  // again (so that everything verifies), is a replay too.
  CraftedHello same_nonce = crafted(key(0), key_name(0));
  same_nonce.identity.nonce = hs.identity().nonce;
  same_nonce.sign(key(0));
  EXPECT_EQ(post_hello(url(), same_nonce.json()).reason, "handshake: hello replayed");
  // A fresh hello with the same key is fine and keeps the UUID.
  auto fresh = hello(key(0), key_name(0));
  const Reply fresh_reply = post_hello(client, fresh.hello_json());
  ASSERT_EQ(fresh_reply.status, 200) << fresh_reply.body;
  EXPECT_EQ(uuid_of(fresh, fresh_reply), uuid_of(hs, first));
}

TEST_F(RawHandshake, UuidIsReboundOnlyForTheSameKey) {
  auto first_hs = hello(key(0), key_name(0));
  const Reply first = post_hello(url(), first_hs.hello_json());
  ASSERT_EQ(first.status, 200) << first.body;
  const Uuid u0 = uuid_of(first_hs, first);

  // Reconnect with the UUID, or without it: the key keeps its UUID (and gets a new keyid).
  for (const std::optional<Uuid> offered : {std::optional<Uuid>(u0), std::optional<Uuid>()}) {
    auto hs = hello(key(0), key_name(0), offered);
    const Reply r = post_hello(url(), hs.hello_json());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(uuid_of(hs, r), u0);
  }
  // Another key cannot take it.
  const Reply stolen = post_hello(url(), hello(key(1), key_name(1), u0).hello_json());
  EXPECT_EQ(stolen.status, 403) << stolen.body;
  EXPECT_EQ(stolen.reason, "registry: that UUID belongs to another key");
  // A UUID nobody holds is not granted on request: the server picks a fresh one.
  const Uuid unknown = Uuid::random_v4();
  auto fresh_hs = hello(key(1), key_name(1), unknown);
  const Reply fresh = post_hello(url(), fresh_hs.hello_json());
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  const Uuid u1 = uuid_of(fresh_hs, fresh);
  EXPECT_NE(u1, unknown);
  EXPECT_NE(u1, u0);
  EXPECT_EQ(u1.version(), 4);
}

TEST_F(RawHandshake, NameHeldByAnotherKeyIs409) {
  ASSERT_EQ(post_hello(url(), hello(key(0), "shared-name").hello_json()).status, 200);
  const Reply r = post_hello(url(), hello(key(1), "shared-name").hello_json());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.error, "conflict");
  EXPECT_EQ(r.reason, "registry: the name 'shared-name' is held by another key");
  // Once its holder renames itself the name is free.
  ASSERT_EQ(post_hello(url(), hello(key(0), key_name(0)).hello_json()).status, 200);
  EXPECT_EQ(post_hello(url(), hello(key(1), "shared-name").hello_json()).status, 200);
  ASSERT_EQ(post_hello(url(), hello(key(1), key_name(1)).hello_json()).status, 200);  // as it was
}

TEST_F(RawHandshake, HandshakeEndpointWantsPost) {
  net::HttpClient client(net::ServerUrl::parse(url()), 10s);
  const Reply r = send(client, "GET", "/auth/handshake", "");
  EXPECT_EQ(r.status, 405) << r.body;
  EXPECT_EQ(r.reason, "use POST");
}

// What a passive observer of the handshake sees (PROTOCOL.md §3.7): two ephemeral keys and two
// tokens. The bytes exactly as they went over the socket, for a reconnect (its hello carries the
// UUID) and its reply (which carries the UUID and the keyid).
TEST_F(RawHandshake, TheHelloAndReplyOnTheWireShowNoIdentity) {
  const std::string name = "observed-name-42";
  auto first = hello(key(7), name);
  const Reply registered = post_hello(url(), first.hello_json());
  ASSERT_EQ(registered.status, 200) << registered.body;
  const Uuid uuid = uuid_of(first, registered);

  auto hs = hello(key(7), name, uuid);
  const std::string body = hs.hello_json();
  const std::string request =
      "POST /auth/handshake HTTP/1.1\r\nHost: " + server().authority() +
      "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  const int fd = test::tcp_connect(server().port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(test::send_all(fd, request));
  const test::Received received = test::read_until_closed(fd, 10s);
  ::close(fd);
  const std::string& response = received.data;
  ASSERT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  const hs2::ClientSession s = hs.consume(response.substr(response.find("\r\n\r\n") + 4));
  ASSERT_EQ(s.uuid, uuid);

  EXPECT_EQ(identity_shown(request, name, uuid, key(7), s.keyid), "") << request;
  EXPECT_EQ(identity_shown(response, name, uuid, key(7), s.keyid), "") << response;
  // The control: the same check finds them where they are in clear (a b64 window of the key can
  // match too, when it holds no + or /).
  EXPECT_TRUE(identity_shown(hs2::to_json(hs.identity()), name, uuid, key(7)).starts_with("name; UUID; SPKI b64u; "));
}

TEST_F(RawHandshake, ConcurrentHandshakesAllSucceedWithDistinctUuids) {
  // Keys 0..15, all at once: some are registered by other tests of this suite already (same key,
  // same name: they keep their UUID), which does not change that 16 keys must get 16 distinct
  // UUIDs (and their sessions 16 distinct keyids).
  constexpr std::size_t kThreads = 16, kPerThread = 1, kFirst = 0;
  KeyPool::instance().ensure(kFirst + kThreads * kPerThread);
  std::vector<std::optional<hs2::ClientHandshake>> hellos;
  for (std::size_t i = 0; i < kThreads * kPerThread; ++i)
    hellos.emplace_back(hello(key(kFirst + i), key_name(kFirst + i)));

  std::vector<Reply> replies(hellos.size());
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      net::HttpClient client(net::ServerUrl::parse(url()), 30s);
      while (!go.load()) std::this_thread::yield();
      for (std::size_t k = 0; k < kPerThread; ++k) {
        const std::size_t i = t * kPerThread + k;
        try {
          replies[i] = post_hello(client, hellos[i]->hello_json());
        } catch (const std::exception& e) { replies[i].body = e.what(); }
      }
    });
  go = true;
  for (auto& th : threads) th.join();

  std::set<Uuid> uuids;
  std::set<std::string> keyids;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    ASSERT_EQ(replies[i].status, 200) << "hello " << i << ": " << replies[i].body;
    const auto s = hellos[i]->consume(replies[i].body);
    uuids.insert(s.uuid);
    keyids.insert(b64u(s.keyid));
  }
  EXPECT_EQ(uuids.size(), kThreads * kPerThread);
  EXPECT_EQ(keyids.size(), kThreads * kPerThread);
}

// ---- rate limit: its own server ---------------------------------------------------------------------

TEST(RawHandshakeRateLimit, BurstThenTooManyRequestsPerAddress) {
  // Listens on the IPv6 wildcard (dual stack), so 127.0.0.1 and ::1 are two client addresses.
  ServerOptions options = test::with_args({"--handshake-rate", "1", "--handshake-burst", "3"});
  options.listen_host = "::";
  ServerProcess server(options);
  const auto keys = test::server_keys(server.url());  // a GET: does not count as a handshake
  // Everything is prepared first, so the 10 hellos go out well within a second.
  std::vector<std::string> bodies;
  for (int i = 0; i < 10; ++i) bodies.push_back(make_hello(keys, key(0), key_name(0)).hello_json());
  const std::string v6_hello = make_hello(keys, key(1), key_name(1)).hello_json();

  net::HttpClient client(net::ServerUrl::parse(server.url()), 10s);
  std::vector<int> statuses;
  for (const auto& b : bodies) {
    const Reply r = post_hello(client, b);
    statuses.push_back(r.status);
    if (r.status == 429) {
      EXPECT_EQ(r.error, "rate_limited");
      EXPECT_EQ(r.reason, "too many handshakes from this address, slow down");
      EXPECT_EQ(r.retry_after, std::optional<std::string>("1"));
    }
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 429, 429, 429, 429, 429, 429, 429}));
  // The limit comes before anything else: junk from this address is 429 too, not 400.
  EXPECT_EQ(post_hello(client, "junk").status, 429);

  // Another address has its own bucket.
  const Reply v6 = post_hello("http://[::1]:" + std::to_string(server.port()), v6_hello);
  EXPECT_EQ(v6.status, 200) << v6.body;

  // The bucket refills at 1 per second.
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(post_hello(client, make_hello(keys, key(0), key_name(0)).hello_json()).status, 200);
  EXPECT_EQ(post_hello(client, make_hello(keys, key(0), key_name(0)).hello_json()).status, 429);
}

}  // namespace
}  // namespace mh
