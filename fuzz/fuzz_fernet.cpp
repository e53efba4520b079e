// Fernet (core/fernet.hpp) with the spec's test key and clock (tests/vectors/fernet), so the
// seed tokens decrypt. The input is tried three ways:
//  1. As a token: fernet_decrypt (one-shot) vs FernetDecoder fed input-derived pieces must agree.
//     Both accept with the same plaintext (and the decoder's plaintext_bytes() is what its sink
//     got), or both refuse with a FernetError. The failure reason is the same too, with one
//     documented exception: the streaming decoder reports the first failure in stream order and
//     checks the version byte and the timestamp as soon as they arrive, while the one-shot
//     decoder decodes all the base64 first. So when one-shot says `malformed` (bad base64 later in
//     the token), streaming may say bad_version, expired or from_future instead. Every other
//     reason must match exactly.
//  2. As plaintext: fernet_encrypt, FernetEncoder with splits (exact-size output buffers) and
//     fernet_token_length agree; the token decrypts back (one-shot and streaming); changing any
//     one character of it is refused by both decoders.
//  3. As a key: FernetKey::parse accepts only text that format() reproduces exactly.
#include <climits>
#include <cstring>
#include <memory>
#include <optional>

#include "core/fernet.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace mh;
using mh::fuzz::Rng;

constexpr std::string_view kSecret = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
constexpr std::int64_t kNow = 499162801;  // 1985-10-26T01:20:01-07:00, the spec's verify time

const FernetKey& key() {
  static const FernetKey k = FernetKey::parse(kSecret);
  return k;
}

struct Outcome {
  std::optional<Bytes> plain;            // accepted
  std::optional<FernetFailure> failure;  // refused
};

Outcome oneshot(std::string_view token, std::int64_t now, std::optional<std::int64_t> ttl) {
  try {
    return {fernet_decrypt(key(), token, now, ttl), std::nullopt};
  } catch (const FernetError& e) {
    return {std::nullopt, e.failure()};
  }  // any other mh::Error (e.g. Errc::internal) reaches guarded(): a bug
}

class CollectSink final : public FernetSink {
 public:
  void write(ByteView p) override { got.insert(got.end(), p.begin(), p.end()); }
  Bytes got;
};

Outcome streaming(std::string_view token, std::int64_t now, std::optional<std::int64_t> ttl, Rng& rng) {
  CollectSink sink;
  FernetDecoder dec(key(), now, ttl, sink);
  try {
    std::size_t off = 0;
    for (std::size_t n : rng.splits(token.size())) {
      dec.update(token.substr(off, n));
      off += n;
      MH_FUZZ_CHECK(dec.plaintext_bytes() == sink.got.size());
    }
    dec.finish();
  } catch (const FernetError& e) {
    MH_FUZZ_CHECK(dec.plaintext_bytes() == sink.got.size());
    return {std::nullopt, e.failure()};
  }
  MH_FUZZ_CHECK(dec.plaintext_bytes() == sink.got.size());
  return {std::move(sink.got), std::nullopt};
}

bool compatible(FernetFailure oneshot_failure, FernetFailure stream_failure) {
  if (oneshot_failure == stream_failure) return true;
  return oneshot_failure == FernetFailure::malformed &&
         (stream_failure == FernetFailure::bad_version || stream_failure == FernetFailure::expired ||
          stream_failure == FernetFailure::from_future);
}

void compare_decoders(std::string_view token, std::int64_t now, std::optional<std::int64_t> ttl, Rng& rng) {
  const Outcome a = oneshot(token, now, ttl);
  const Outcome b = streaming(token, now, ttl, rng);
  MH_FUZZ_CHECK(a.plain.has_value() != a.failure.has_value());
  MH_FUZZ_CHECK(b.plain.has_value() != b.failure.has_value());
  MH_FUZZ_CHECK(a.plain.has_value() == b.plain.has_value());
  if (a.plain) {
    MH_FUZZ_CHECK(*a.plain == *b.plain);
    // An accepted token has the exact length its plaintext implies.
    MH_FUZZ_CHECK(token.size() == fernet_token_length(a.plain->size()));
  } else {
    if (!compatible(*a.failure, *b.failure)) {
      std::fprintf(stderr, "==FUZZ== one-shot failure %d, streaming failure %d\n", static_cast<int>(*a.failure),
                   static_cast<int>(*b.failure));
    }
    MH_FUZZ_CHECK(compatible(*a.failure, *b.failure));
  }
}

std::string stream_encrypt(ByteView plain, std::int64_t t, const FernetIv& iv, Rng& rng) {
  FernetEncoder enc(key(), t, iv);
  std::string out;
  std::size_t off = 0;
  for (std::size_t n : rng.splits(plain.size())) {
    const std::size_t room = FernetEncoder::max_update_output(n);
    auto buf = std::make_unique<char[]>(room);
    char* end = enc.update(plain.subspan(off, n), buf.get());
    MH_FUZZ_CHECK(end >= buf.get() && static_cast<std::size_t>(end - buf.get()) <= room);
    out.append(buf.get(), end);
    off += n;
  }
  auto tail = std::make_unique<char[]>(FernetEncoder::max_finish_output());
  char* end = enc.finish(tail.get());
  MH_FUZZ_CHECK(static_cast<std::size_t>(end - tail.get()) <= FernetEncoder::max_finish_output());
  out.append(tail.get(), end);
  return out;
}

void run(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = fuzz::text(data, size);
  Rng rng(data, size);

  // 1. The input as a token, under a few clocks and TTLs (the spec's own first).
  compare_decoders(in, kNow, 60, rng);
  const auto now = static_cast<std::int64_t>(rng.range(0, std::uint64_t{1} << 40));
  const std::optional<std::int64_t> ttl =
      rng.coin() ? std::nullopt : std::optional<std::int64_t>(static_cast<std::int64_t>(rng.range(0, 1u << 31)));
  switch (rng.range(0, 2)) {
    case 0: compare_decoders(in, kNow, std::nullopt, rng); break;
    case 1: compare_decoders(in, now, ttl, rng); break;
    default: compare_decoders(in, kNow + static_cast<std::int64_t>(rng.range(0, 240)) - 120, ttl, rng); break;
  }

  // 2. The input as plaintext.
  FernetIv iv{};
  for (auto& b : iv) b = static_cast<std::uint8_t>(rng.next());
  const std::int64_t stamped = kNow - static_cast<std::int64_t>(rng.range(0, 60));
  const ByteView plain(data, size);
  const std::string token = fernet_encrypt(key(), plain, stamped, iv);
  MH_FUZZ_CHECK(token.size() == fernet_token_length(size));
  MH_FUZZ_CHECK(stream_encrypt(plain, stamped, iv, rng) == token);
  const Bytes want(plain.begin(), plain.end());
  MH_FUZZ_CHECK(fernet_decrypt(key(), token, kNow, 60) == want);
  const Outcome s = streaming(token, kNow, 60, rng);
  MH_FUZZ_CHECK(s.plain && *s.plain == want);
  if (!token.empty()) {
    static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/!";
    std::string tampered = token;
    const std::size_t pos = rng.range(0, tampered.size() - 1);
    char c;
    do c = kChars[rng.range(0, sizeof kChars - 2)];
    while (c == tampered[pos]);
    tampered[pos] = c;
    MH_FUZZ_CHECK(!oneshot(tampered, kNow, rng.coin() ? std::optional<std::int64_t>(60) : std::nullopt).plain);
    MH_FUZZ_CHECK(!streaming(tampered, kNow, 60, rng).plain);
  }

  // 3. The input as a key.
  try {
    const FernetKey k = FernetKey::parse(in);
    MH_FUZZ_CHECK(k.format() == in);
  } catch (const Error& e) { MH_FUZZ_CHECK(e.code() == Errc::bad_request); }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return mh::fuzz::guarded([&] { run(data, size); });
}
