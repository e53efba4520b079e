// bench_presign: pre-computes signed requests for the load generator (wrk + bench/replay.lua),
// so that signing — the client's cost — is not measured as the server's.
//
//   bench_presign get HOME AUTHORITY TARGET COUNT OUT     signed GETs with the session in HOME
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

int presign_get(const fs::path& home, const std::string& authority, const std::string& target, std::size_t count,
                const std::string& out) {
  const auto key = RsaPrivateKey::from_pem(slurp(home / "identity.pem"));
  std::string uuid;
  for (const auto& e : fs::directory_iterator(home / "sessions"))
    uuid = nlohmann::json::parse(slurp(e.path()))["uuid"].get<std::string>();
  const std::int64_t created = std::time(nullptr);
  generate(count, out, [&](std::size_t) {
    const auto params = httpsig::make_params(
        {{"@method", {}}, {"@authority", {}}, {"@path", {}}},
        {.created = created, .nonce = base64_encode(random_bytes(12), Alphabet::url, false), .alg = "rsa-pss-sha512", .keyid = uuid});
    const httpsig::Message m{"GET", "http", authority, target, std::nullopt, {}, nullptr};
    const Bytes sig = key.sign_pss_sha512(as_bytes(httpsig::signature_base(m, params)));
    return "GET " + target + " HTTP/1.1\r\nHost: " + authority +
           "\r\nSignature-Input: " + httpsig::signature_input_member("sig1", params) +
           "\r\nSignature: " + httpsig::signature_member("sig1", sig) + "\r\n\r\n";
  });
  return 0;
}

int presign_hello(int bits, const std::string& authority, std::size_t count, const std::string& out) {
  const auto key = RsaPrivateKey::generate(bits);
  struct Now final : Clock {
    std::int64_t now() const override { return std::time(nullptr); }
  } clock;
  generate(count, out, [&](std::size_t i) {
    const auto hs = handshake::ClientHandshake::create(key, "bench" + std::to_string(i % 1), std::nullopt, clock);
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
    if (a.size() == 6 && a[0] == "get") return presign_get(a[1], a[2], a[3], std::stoul(a[4]), a[5]);
    if (a.size() == 5 && a[0] == "hello") return presign_hello(std::stoi(a[1]), a[2], std::stoul(a[3]), a[4]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_presign: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: bench_presign get HOME AUTHORITY TARGET COUNT OUT\n"
               "       bench_presign hello BITS AUTHORITY COUNT OUT\n");
  return 2;
}
