// Microbenchmarks of the core primitives (make bench). bench/run.sh prints them next to
// `openssl speed` figures for the same primitives, measured in the same run.
#include <benchmark/benchmark.h>

#include "core/base64.hpp"
#include "core/cksum.hpp"
#include "core/ed25519.hpp"
#include "core/fernet.hpp"
#include "core/rsa.hpp"
#include "core/seal.hpp"
#include "core/stream.hpp"
#include "core/x25519.hpp"

namespace mh {
namespace {

Bytes data(std::size_t n) {
  Bytes b(n);
  random_fill(b);
  return b;
}

// Streaming encryption into a reused buffer, as the server does it (64 KiB writes).
void BM_FernetEncrypt(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0));
  const Bytes plain = data(n);
  const auto key = FernetKey::generate();
  constexpr std::size_t kWrite = 64 * 1024;
  std::string out(FernetEncoder::max_update_output(kWrite) + FernetEncoder::max_finish_output(), '\0');
  for (auto _ : st) {
    FernetEncoder enc(key, 1700000000);
    for (std::size_t off = 0; off < n; off += kWrite) {
      char* end = enc.update(ByteView(plain).subspan(off, std::min(kWrite, n - off)), out.data());
      benchmark::DoNotOptimize(end);
    }
    benchmark::DoNotOptimize(enc.finish(out.data()));
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * n));
}
BENCHMARK(BM_FernetEncrypt)->Arg(1024)->Arg(16 << 20);

struct NullSink : FernetSink {
  void write(ByteView p) override { benchmark::DoNotOptimize(p.data()); }
};

void BM_FernetDecrypt(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0));
  const auto key = FernetKey::generate();
  const std::string token = fernet_encrypt(key, data(n), 1700000000);
  NullSink sink;
  for (auto _ : st) {
    FernetDecoder dec(key, 1700000000, 60, sink);
    for (std::size_t off = 0; off < token.size(); off += 64 * 1024)
      dec.update(std::string_view(token).substr(off, 64 * 1024));
    dec.finish();
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * n));
}
BENCHMARK(BM_FernetDecrypt)->Arg(1024)->Arg(16 << 20);

void BM_Base64UrlEncode(benchmark::State& st) {
  const Bytes in = data(1 << 20);
  std::string out(base64_encoded_length(in.size()) + 4, '\0');
  for (auto _ : st) {
    Base64Encoder enc(Alphabet::url);
    benchmark::DoNotOptimize(enc.finish(enc.update(in, out.data())));
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * in.size()));
}
BENCHMARK(BM_Base64UrlEncode);

void BM_Cksum(benchmark::State& st) {
  const Bytes in = data(16 << 20);
  for (auto _ : st) benchmark::DoNotOptimize(cksum(in));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * in.size()));
}
BENCHMARK(BM_Cksum);

void BM_RsaPssSign(benchmark::State& st) {
  const auto key = RsaPrivateKey::generate(static_cast<int>(st.range(0)));
  const Bytes msg = data(300);
  for (auto _ : st) benchmark::DoNotOptimize(key.sign_pss_sha512(msg));
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_RsaPssSign)->Arg(2048)->Arg(3072);

void BM_RsaPssVerify(benchmark::State& st) {
  const auto key = RsaPrivateKey::generate(static_cast<int>(st.range(0)));
  const auto pub = key.public_key();  // parsed once, as the server caches it
  const Bytes msg = data(300);
  const Bytes sig = key.sign_pss_sha512(msg);
  for (auto _ : st) benchmark::DoNotOptimize(pub.verify_pss_sha512(msg, sig));
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_RsaPssVerify)->Arg(2048)->Arg(3072);

// All the cryptography the server does for one sealed GET of a 1 KiB file (PROTOCOL.md §5-§6),
// through the same core calls and nothing else: verify the RSA-PSS signature, bind the request,
// open the sealed head, seal the response head, derive the one chunk's key and seal the chunk.
// Its rate is the "crypto bound" of a sealed 1 KiB GET in bench/peer.py.
void BM_SealedGetCrypto(benchmark::State& st) {
  const auto key = RsaPrivateKey::generate(static_cast<int>(st.range(0)));
  const auto pub = key.public_key();
  const Bytes secret_bytes = data(32);
  const SessionSecret secret(secret_bytes);
  KeyId keyid{};
  random_fill(keyid);
  const std::int64_t now = 1700000000;
  const auto fresh = seal::Freshness::fresh(now);
  seal::Signed s;
  const httpsig::Message m =
      seal::seal_request(seal::Credentials{secret, keyid, key}, bhttp::Request{"GET", "http", "", "/1k.bin", {}},
                         "http", "127.0.0.1:8443", fresh, s);
  const std::string token = *httpsig::field_value(m, seal::kSealedField);
  const Bytes signature = key.sign_pss_sha512(as_bytes(s.signature_base));
  const Bytes body = data(1024);
  seal::ResponseHead head;
  head.content_type = "application/octet-stream";
  head.content_length = body.size();
  head.etag = "\"0123456789abcdef\"";
  head.chunks = seal::Chunks{262144, 0, 0};
  std::string out(stream::token_length(body.size()), '\0');
  for (auto _ : st) {
    benchmark::DoNotOptimize(pub.verify_pss_sha512(as_bytes(s.signature_base), signature));
    const Binding binding = request_binding(s.signature_base, signature);
    benchmark::DoNotOptimize(seal::open_request_head(secret, keyid, now, fresh.nonce, token, "127.0.0.1:8443"));
    benchmark::DoNotOptimize(seal::seal_response_head(secret, binding, head, now));
    const stream::ChunkKeys keys(secret, KeyPurpose::response_body, binding, 0);
    stream::seal_chunk_into(keys, 0, body, now, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_SealedGetCrypto)->Arg(2048)->Arg(3072);

void BM_X25519(benchmark::State& st) {
  const auto a = X25519KeyPair::generate(), b = X25519KeyPair::generate();
  for (auto _ : st) benchmark::DoNotOptimize(x25519_shared(a.secret, b.public_key));
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_X25519);

void BM_Ed25519Sign(benchmark::State& st) {
  const auto kp = Ed25519KeyPair::generate();
  const Bytes msg = data(32);
  for (auto _ : st) benchmark::DoNotOptimize(kp.sign(msg));
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Ed25519Sign);

void BM_Ed25519Verify(benchmark::State& st) {
  const auto kp = Ed25519KeyPair::generate();
  const Bytes msg = data(32);
  const auto sig = kp.sign(msg);
  for (auto _ : st) benchmark::DoNotOptimize(ed25519_verify(kp.public_key(), msg, sig));
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Ed25519Verify);

}  // namespace
}  // namespace mh

BENCHMARK_MAIN();
