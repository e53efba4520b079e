// RFC 4648 §10 vectors, the url alphabet, streaming in every split, and strict refusals.
#include <gtest/gtest.h>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "support/test_support.hpp"

namespace mh {
namespace {

struct Vec {
  const char* plain;
  const char* b64;
};
constexpr Vec kRfc4648[] = {{"", ""},
                            {"f", "Zg=="},
                            {"fo", "Zm8="},
                            {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="},
                            {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};

TEST(Base64, Rfc4648Vectors) {
  for (const auto& v : kRfc4648) {
    EXPECT_EQ(base64_encode(as_bytes(v.plain)), v.b64);
    EXPECT_EQ(base64_decode(v.b64), to_bytes(v.plain));
  }
}

TEST(Base64, UnpaddedForms) {
  EXPECT_EQ(base64_encode(as_bytes("fo"), Alphabet::standard, false), "Zm8");
  EXPECT_EQ(base64_encode(as_bytes("f"), Alphabet::url, false), "Zg");
  EXPECT_EQ(base64_decode("Zm8", Alphabet::standard, Padding::optional), to_bytes("fo"));
  EXPECT_EQ(base64_decode("Zm8=", Alphabet::standard, Padding::optional), to_bytes("fo"));
  EXPECT_EQ(base64_decode("Zm9vYg", Alphabet::url, Padding::forbidden), to_bytes("foob"));
  for (std::size_t n = 0; n < 20; ++n)
    EXPECT_EQ(base64_encode(test::pattern_bytes(n), Alphabet::url, false).size(), base64_encoded_length(n, false));
}

TEST(Base64, IsBase64TextTakesOnlyTheAlphabetsCharacters) {
  EXPECT_TRUE(is_base64_text("", Alphabet::url));
  EXPECT_TRUE(is_base64_text("AZaz09-_", Alphabet::url));
  EXPECT_TRUE(is_base64_text("AZaz09+/", Alphabet::standard));
  for (const char* bad : {"A=", "A B", "A\n", "+", "/", "A&room=x", "\xc3\x80"})
    EXPECT_FALSE(is_base64_text(bad, Alphabet::url)) << bad;
  for (const char* bad : {"A=", "-", "_", "A\t"}) EXPECT_FALSE(is_base64_text(bad, Alphabet::standard)) << bad;
}

TEST(Base64, UrlAlphabet) {
  const Bytes b = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64_encode(b), "+/+/");
  EXPECT_EQ(base64_encode(b, Alphabet::url), "-_-_");
  EXPECT_EQ(base64_decode("-_-_", Alphabet::url), b);
  EXPECT_THROW(base64_decode("-_-_", Alphabet::standard), Error);
  EXPECT_THROW(base64_decode("+/+/", Alphabet::url), Error);
}

void expect_refused(std::string_view in, Padding p, const std::string& reason) {
  try {
    base64_decode(in, Alphabet::standard, p);
    ADD_FAILURE() << "accepted " << in;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::bad_request);
    EXPECT_EQ(std::string(e.what()), "base64: " + reason) << in;
  }
}

TEST(Base64, StrictRefusals) {
  expect_refused("Zm9v!", Padding::optional, "invalid character");
  expect_refused("Zm 9v", Padding::required, "invalid character");
  expect_refused("Zm8", Padding::required, "missing padding");
  expect_refused("Zm8=", Padding::forbidden, "unexpected padding");
  expect_refused("Zm8=Zm8=", Padding::required, "data after padding");
  expect_refused("Zm=8", Padding::required, "data after padding");
  expect_refused("Z===", Padding::required, "truncated input");
  expect_refused("Z", Padding::optional, "truncated input");
  expect_refused("Zm9=", Padding::required, "non-canonical trailing bits");  // 'fo' is Zm8=
  expect_refused("Zh==", Padding::required, "non-canonical trailing bits");  // 'f' is Zg==
  expect_refused("Zm8==", Padding::required, "data after padding");
  expect_refused("Zm9vZ=", Padding::optional, "incomplete padding");
}

TEST(Base64, StreamingEqualsOneShotForEverySplit) {
  const Bytes data = test::pattern_bytes(301);
  const std::string whole = base64_encode(data, Alphabet::url);
  for (std::size_t step = 1; step <= 17; ++step) {
    Base64Encoder enc(Alphabet::url);
    std::string out;
    for (std::size_t off = 0; off < data.size(); off += step)
      enc.update(ByteView(data).subspan(off, std::min(step, data.size() - off)), out);
    enc.finish(out);
    EXPECT_EQ(out, whole) << "step " << step;

    Base64Decoder dec(Alphabet::url);
    Bytes back;
    for (std::size_t off = 0; off < whole.size(); off += step)
      dec.update(std::string_view(whole).substr(off, step), back);
    dec.finish(back);
    EXPECT_EQ(back, data) << "step " << step;
  }
}

TEST(Base64, RoundTripAllLengths) {
  for (std::size_t n = 0; n < 70; ++n) {
    const Bytes d = test::pattern_bytes(n, static_cast<std::uint32_t>(n));
    for (auto a : {Alphabet::standard, Alphabet::url}) {
      EXPECT_EQ(base64_decode(base64_encode(d, a), a), d);
      EXPECT_EQ(base64_decode(base64_encode(d, a, false), a, Padding::forbidden), d);
    }
  }
}

// The vector decoder (32 characters a step) against the encoder, at every length and every
// alignment of a step, and a bad character at every position of a step refused as before.
TEST(Base64, FastDecoderAgreesAndRefusesAtEveryPosition) {
  for (const Alphabet a : {Alphabet::standard, Alphabet::url}) {
    for (std::size_t n = 0; n < 300; ++n) {
      const Bytes d = test::pattern_bytes(n, static_cast<std::uint32_t>(n * 17 + 3));
      EXPECT_EQ(base64_decode(base64_encode(d, a), a), d) << n;
    }
    Bytes all;  // every 6-bit value in every position of a step
    for (int rep = 0; rep < 4; ++rep)
      for (int v = 0; v < 256; ++v) all.push_back(static_cast<std::uint8_t>(v));
    EXPECT_EQ(base64_decode(base64_encode(all, a), a), all);
    const std::string good = base64_encode(test::pattern_bytes(96, 1), a);  // 128 characters
    const char other62 = a == Alphabet::url ? '+' : '-', other63 = a == Alphabet::url ? '/' : '_';
    for (std::size_t i = 0; i < good.size(); ++i) {
      // '=' inside the text (not in its last quantum, where it could be valid padding).
      const bool pad_fits = i + 4 < good.size();
      for (const char bad : {'!', ' ', '=', other62, other63, '\x80', '\xff', '@', '[', '`', '{', ':', '.'}) {
        if (bad == '=' && !pad_fits) continue;
        std::string s = good;
        s[i] = bad;
        try {
          base64_decode(s, a);
          ADD_FAILURE() << "accepted " << static_cast<int>(static_cast<unsigned char>(bad)) << " at " << i;
        } catch (const Error& e) {
          const std::string why = e.what();
          if (bad == '=')  // a quantum "xyz=" ends the text: its bits are checked before what follows
            EXPECT_TRUE(why == "base64: data after padding" || why == "base64: non-canonical trailing bits")
                << why << " at " << i;
          else
            EXPECT_EQ(why, "base64: invalid character")
                << static_cast<int>(static_cast<unsigned char>(bad)) << " at " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace mh

namespace mh {
namespace {

// An independent, deliberately naive encoder: the reference for the fast paths (table, AVX2).
std::string reference_encode(ByteView in, bool url) {
  const char* a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::uint32_t b0 = in[i], b1 = i + 1 < in.size() ? in[i + 1] : 0, b2 = i + 2 < in.size() ? in[i + 2] : 0;
    const std::uint32_t v = b0 << 16 | b1 << 8 | b2;
    out += a[v >> 18];
    out += a[(v >> 12) & 63];
    out += i + 1 < in.size() ? a[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? a[v & 63] : '=';
  }
  return out;
}

TEST(Base64, FastEncodersAgreeWithANaiveReference) {
  for (std::size_t n = 0; n < 300; ++n) {
    const Bytes d = test::pattern_bytes(n, static_cast<std::uint32_t>(n * 31 + 1));
    EXPECT_EQ(base64_encode(d), reference_encode(d, false)) << n;
    EXPECT_EQ(base64_encode(d, Alphabet::url), reference_encode(d, true)) << n;
  }
  // Every 6-bit value in every position of a SIMD block, both alphabets.
  Bytes all;
  for (int rep = 0; rep < 4; ++rep)
    for (int v = 0; v < 256; ++v) all.push_back(static_cast<std::uint8_t>(v));
  const Bytes big = test::pattern_bytes(1 << 20, 5);
  for (const Bytes* d : {static_cast<const Bytes*>(&all), &big}) {
    EXPECT_EQ(base64_encode(*d), reference_encode(*d, false));
    EXPECT_EQ(base64_encode(*d, Alphabet::url), reference_encode(*d, true));
  }
}

}  // namespace
}  // namespace mh
