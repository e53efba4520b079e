// Fernet: the spec's generate/verify/invalid vectors, and the streaming encoder and decoder
// (byte identity with one-shot, every single-byte flip and every truncation refused, nothing
// committed).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fernet.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

nlohmann::json vectors(const char* name) {
  return nlohmann::json::parse(test::read_file(test::vectors_dir() / "fernet" / name));
}

FernetIv iv_from(const nlohmann::json& j) {
  FernetIv iv{};
  for (std::size_t i = 0; i < 16; ++i) iv[i] = j[i].get<std::uint8_t>();
  return iv;
}

// A sink like the real ones: it keeps plaintext aside and only "commits" on request.
struct CollectingSink : FernetSink {
  Bytes pending;
  Bytes committed;
  void write(ByteView p) override { pending.insert(pending.end(), p.begin(), p.end()); }
  void commit() { committed = pending; }
};

Bytes stream_decrypt(const FernetKey& key, std::string_view token, std::int64_t now, std::optional<std::int64_t> ttl,
                     std::size_t step) {
  CollectingSink sink;
  FernetDecoder dec(key, now, ttl, sink);
  for (std::size_t off = 0; off < token.size(); off += step) dec.update(token.substr(off, step));
  dec.finish();
  sink.commit();
  return sink.committed;
}

std::string stream_encrypt(const FernetKey& key, ByteView plain, std::int64_t now, const FernetIv& iv,
                           std::size_t step) {
  FernetEncoder enc(key, now, iv);
  std::string out;
  for (std::size_t off = 0; off < plain.size(); off += step)
    enc.update(plain.subspan(off, std::min(step, plain.size() - off)), out);
  enc.finish(out);
  return out;
}

TEST(Fernet, SpecGenerate) {
  for (const auto& v : vectors("generate.json")) {
    const auto key = FernetKey::parse(v["secret"].get<std::string>());
    const std::string src = v["src"];
    const auto now = test::parse_rfc3339(v["now"].get<std::string>());
    EXPECT_EQ(fernet_encrypt(key, as_bytes(src), now, iv_from(v["iv"])), v["token"].get<std::string>());
    for (std::size_t step : {1u, 3u, 100u})
      EXPECT_EQ(stream_encrypt(key, as_bytes(src), now, iv_from(v["iv"]), step), v["token"].get<std::string>());
    EXPECT_EQ(key.format(), v["secret"].get<std::string>());
  }
}

TEST(Fernet, SpecVerify) {
  for (const auto& v : vectors("verify.json")) {
    const auto key = FernetKey::parse(v["secret"].get<std::string>());
    const auto now = test::parse_rfc3339(v["now"].get<std::string>());
    const std::string token = v["token"];
    EXPECT_EQ(fernet_decrypt(key, token, now, v["ttl_sec"].get<int>()), to_bytes(v["src"].get<std::string>()));
    for (std::size_t step : {1u, 7u, 1000u})
      EXPECT_EQ(stream_decrypt(key, token, now, v["ttl_sec"].get<int>(), step), to_bytes(v["src"].get<std::string>()));
  }
}

TEST(Fernet, SpecInvalidEachForItsOwnReason) {
  const std::map<std::string, FernetFailure> why = {
      {"incorrect mac", FernetFailure::bad_mac},
      {"too short", FernetFailure::too_short},
      {"invalid base64", FernetFailure::malformed},
      {"payload size not multiple of block size", FernetFailure::bad_length},
      {"payload padding error", FernetFailure::bad_padding},
      {"far-future TS (unacceptable clock skew)", FernetFailure::from_future},
      {"expired TTL", FernetFailure::expired},
      {"incorrect IV (causes padding error)", FernetFailure::bad_padding},
  };
  const auto cases = vectors("invalid.json");
  ASSERT_EQ(cases.size(), 8u);
  for (const auto& v : cases) {
    const std::string desc = v["desc"];
    ASSERT_TRUE(why.count(desc)) << desc;
    const auto key = FernetKey::parse(v["secret"].get<std::string>());
    const auto now = test::parse_rfc3339(v["now"].get<std::string>());
    const std::string token = v["token"];
    const int ttl = v["ttl_sec"];
    try {
      fernet_decrypt(key, token, now, ttl);
      ADD_FAILURE() << "one-shot accepted: " << desc;
    } catch (const FernetError& e) {
      EXPECT_EQ(e.failure(), why.at(desc)) << desc << ": " << e.what();
      EXPECT_EQ(e.code(), Errc::integrity);
    }
    for (std::size_t step : {1u, 5u, 4096u}) {
      CollectingSink sink;
      try {
        FernetDecoder dec(key, now, ttl, sink);
        for (std::size_t off = 0; off < token.size(); off += step)
          dec.update(std::string_view(token).substr(off, step));
        dec.finish();
        sink.commit();
        ADD_FAILURE() << "streaming accepted: " << desc;
      } catch (const FernetError& e) {
        EXPECT_EQ(e.failure(), why.at(desc)) << desc << " step " << step << ": " << e.what();
      }
      EXPECT_TRUE(sink.committed.empty());
    }
  }
}

TEST(Fernet, TimeRulesMatchPythonCryptography) {
  const auto key = FernetKey::generate();
  const std::string t = fernet_encrypt(key, as_bytes("x"), 1000);
  EXPECT_EQ(fernet_decrypt(key, t, 1000 + 60, 60), to_bytes("x"));  // exactly at ttl: still valid
  EXPECT_THROW(fernet_decrypt(key, t, 1000 + 61, 60), FernetError);
  EXPECT_EQ(fernet_decrypt(key, t, 1000 - 60, 60), to_bytes("x"));  // 60 s of clock skew allowed
  EXPECT_THROW(fernet_decrypt(key, t, 1000 - 61, 60), FernetError);
  EXPECT_EQ(fernet_decrypt(key, t, 999999999), to_bytes("x"));  // no ttl: time not checked
  // A hostile timestamp near the top of the range must not overflow.
  const std::string far = fernet_encrypt(key, as_bytes("x"), INT64_MAX);
  EXPECT_THROW(fernet_decrypt(key, far, 1000, 60), FernetError);
}

TEST(Fernet, KeyParsing) {
  const auto k = FernetKey::generate();
  EXPECT_EQ(FernetKey::parse(k.format()).format(), k.format());
  EXPECT_EQ(k.format().size(), 44u);
  EXPECT_THROW(FernetKey::parse("c2hvcnQ="), Error);
  EXPECT_THROW(FernetKey::parse("cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4="), Error);  // standard alphabet
}

TEST(Fernet, TokenLengthIsExact) {
  const auto key = FernetKey::generate();
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 1000u, 4096u})
    EXPECT_EQ(fernet_encrypt(key, test::pattern_bytes(n), 5).size(), fernet_token_length(n)) << n;
}

constexpr std::size_t kChunk = 16 * 1024;  // the encoder's internal slice

TEST(FernetStreaming, ByteIdenticalToOneShotAndRoundTrips) {
  const auto key = FernetKey::generate();
  FernetIv iv{};
  random_fill(iv);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, kChunk - 1,
                        kChunk, kChunk + 1, std::size_t{10} << 20}) {
    const Bytes plain = test::pattern_bytes(n, static_cast<std::uint32_t>(n));
    const std::string one = fernet_encrypt(key, plain, 1234567890, iv);
    ASSERT_EQ(one.size(), fernet_token_length(n));
    for (std::size_t step : {std::size_t{1000}, kChunk, std::size_t{1} << 20}) {
      if (n > (1u << 20) && step < kChunk) continue;  // keep the 10 MiB case quick
      ASSERT_EQ(stream_encrypt(key, plain, 1234567890, iv, step), one) << n << " step " << step;
    }
    EXPECT_EQ(fernet_decrypt(key, one, 1234567890, 60), plain) << n;
    for (std::size_t step : {std::size_t{999}, std::size_t{65536}})
      EXPECT_EQ(stream_decrypt(key, one, 1234567890, 60, step), plain) << n << " step " << step;
  }
}

TEST(FernetStreaming, EveryFlippedByteIsRefusedAndNothingCommitted) {
  const auto key = FernetKey::generate();
  const std::string token = fernet_encrypt(key, test::pattern_bytes(100), 1000);
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (char replacement : {'A', 'B', '-', '=', '%'}) {
      if (token[i] == replacement) continue;
      std::string bad = token;
      bad[i] = replacement;
      CollectingSink sink;
      bool refused = false;
      try {
        FernetDecoder dec(key, 1000, 60, sink);
        dec.update(bad);
        dec.finish();
        sink.commit();
      } catch (const FernetError&) { refused = true; }
      EXPECT_TRUE(refused) << "position " << i << " -> " << replacement;
      EXPECT_TRUE(sink.committed.empty());
    }
  }
}

TEST(FernetStreaming, EveryTruncationIsRefusedAndNothingCommitted) {
  const auto key = FernetKey::generate();
  const std::string token = fernet_encrypt(key, test::pattern_bytes(200), 1000);
  for (std::size_t len = 0; len < token.size(); ++len) {
    CollectingSink sink;
    EXPECT_THROW(
        {
          FernetDecoder dec(key, 1000, 60, sink);
          dec.update(std::string_view(token).substr(0, len));
          dec.finish();
          sink.commit();
        },
        FernetError)
        << len;
    EXPECT_TRUE(sink.committed.empty());
  }
  // Extra bytes after a complete token are refused too.
  EXPECT_THROW(stream_decrypt(key, token + "AAAA", 1000, 60, 7), FernetError);
}

TEST(FernetStreaming, WrongKeyIsRefused) {
  const auto a = FernetKey::generate(), b = FernetKey::generate();
  const std::string token = fernet_encrypt(a, as_bytes("secret"), 1000);
  try {
    stream_decrypt(b, token, 1000, 60, 10);
    ADD_FAILURE();
  } catch (const FernetError& e) {
    EXPECT_EQ(e.failure(), FernetFailure::bad_mac);
    EXPECT_STREQ(e.what(), "fernet: token MAC does not verify");
  }
}

}  // namespace
}  // namespace mh
