// bench_presign: pre-computes signed requests for the load generator (wrk + bench/replay.lua),
// so that signing — the client's cost — is not measured as the server's.
//
//   bench_presign get [--plain] HOME AUTHORITY TARGET COUNT OUT
//                                                         GETs signed with the session in HOME:
//                                                         sealed as the CLI sends them, or with
//                                                         --plain unsealed (PROTOCOL.md §5.4)
//   bench_presign hello BITS AUTHORITY COUNT OUT          handshake POSTs (one RSA key, fresh
//                                                         nonces and X25519 keys)
// OUT holds records "<length>\n<raw HTTP/1.1 request>". Work is spread over all cores.
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/base64.hpp"
#include "core/handshake.hpp"
#include "core/seal.hpp"
#include "core/httpsig.hpp"
#include "core/rsa.hpp"
#include "core/uuid.hpp"

using namespace mh;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class Make>
void generate(std::size_t count, const std::string& out_path, Make make) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> parts(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t i = t; i < count; i += threads) {
        const std::string req = make(i);
        parts[t] += std::to_string(req.size()) + "\n" + req;
      }
    });
  }
  for (auto& th : pool) th.join();
  std::ofstream out(out_path, std::ios::binary);
  for (const auto& p : parts) out << p;
}

Bytes b64u(const nlohmann::json& j, const char* field) {
  return base64_decode(j.at(field).get<std::string>(), Alphabet::url, Padding::forbidden);
}

// The one session file of a client home after `minihttps connect`.
nlohmann::json session_of(const fs::path& home) {
  for (const auto& e : fs::directory_iterator(home / "sessions")) return nlohmann::json::parse(slurp(e.path()));
  throw std::runtime_error("no session in " + home.string() + ": run minihttps connect first");
}

// Sealed GETs as the CLI sends them (docs/PROTOCOL.md §5.1): the benchmark measures the request
// the client really makes. `plain`: the same GET unsealed and signed as a stock RFC 9421 client
// would (§5.4, without Accept-Signature), to measure what sealing costs the server.
int presign_get(bool plain, const fs::path& home, const std::string& authority, const std::string& target,
                std::size_t count, const std::string& out) {
  const auto key = RsaPrivateKey::from_pem(slurp(home / "identity.pem"));
  const auto j = session_of(home);
  const SessionSecret secret(b64u(j, "secret"));
  KeyId keyid{};
  const Bytes id = b64u(j, "keyid");
  std::copy(id.begin(), id.end(), keyid.begin());
  const std::int64_t created = std::time(nullptr);
  generate(count, out, [&](std::size_t) {
    const seal::Credentials credentials{secret, keyid, key};
    const auto fresh = seal::Freshness::fresh(created);
    seal::Signed s;
    httpsig::Message m;
    if (plain) {
      m = httpsig::Message{"GET", "http", authority, target, std::nullopt, {}, nullptr};
      s = seal::sign(credentials, m, fresh);
    } else {
      m = seal::seal_request(credentials, bhttp::Request{"GET", "http", "", target, {}}, "http", authority, fresh, s);
    }
    std::string req = m.method + " " + m.target + " HTTP/1.1\r\nHost: " + authority + "\r\nContent-Length: 0";
    for (const auto& [name, value] : m.headers) req += "\r\n" + name + ": " + value;
    return req + "\r\n\r\n";
  });
  return 0;
}

// Hellos sealed to the server whose keys the session in HOME recorded.
int presign_hello(int bits, const std::string& authority, std::size_t count, const std::string& out,
                  const fs::path& home) {
  const auto key = RsaPrivateKey::generate(bits);
  const auto j = session_of(home);
  handshake::ServerKeys server;
  const Bytes identity = b64u(j, "server_key"), static_key = b64u(j, "static_key");
  std::copy(identity.begin(), identity.end(), server.identity.begin());
  std::copy(static_key.begin(), static_key.end(), server.static_key.begin());
  struct Now final : Clock {
    std::int64_t now() const override { return std::time(nullptr); }
  } clock;
  generate(count, out, [&](std::size_t i) {
    const auto hs =
        handshake::ClientHandshake::create(key, "bench" + std::to_string(i % 1), std::nullopt, server, clock);
    const std::string body = hs.hello_json();
    return "POST /auth/handshake HTTP/1.1\r\nHost: " + authority +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 6 && a[0] == "get") return presign_get(false, a[1], a[2], a[3], std::stoul(a[4]), a[5]);
    if (a.size() == 7 && a[0] == "get" && a[1] == "--plain")
      return presign_get(true, a[2], a[3], a[4], std::stoul(a[5]), a[6]);
    if (a.size() == 6 && a[0] == "hello") return presign_hello(std::stoi(a[1]), a[2], std::stoul(a[3]), a[4], a[5]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_presign: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: bench_presign get [--plain] HOME AUTHORITY TARGET COUNT OUT\n"
               "       bench_presign hello BITS AUTHORITY COUNT OUT HOME\n");
  return 2;
}
