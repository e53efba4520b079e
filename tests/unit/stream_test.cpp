// The v2 stream (docs/PROTOCOL.md §6, §7.1): token lengths L(n), layouts of whole
// representations and ranges (also over 4 GiB), the receiver's split of an unknown size, one-chunk
// seal and open (a stock Fernet decrypt with an HKDF key opens every chunk), the sequential writer
// and reader in odd splits, and every tamper case refused with its exact reason, releasing nothing
// of the chunk that failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/base64.hpp"
#include "core/hash.hpp"
#include "core/stream.hpp"
#include "support/test_support.hpp"

namespace mh::stream {
namespace {

constexpr std::uint32_t C = 4096;  // most tests use the smallest chunk size: same logic, less work
constexpr std::int64_t kNow = 1700000000;
const std::string kDoesNotVerify = " does not verify (tampered, reordered, duplicated, or from another response)";

// L(n) exactly as §1 writes it: 4·⌈(57 + 16·(⌊n/16⌋ + 1)) / 3⌉.
std::uint64_t L(std::uint64_t n) {
  const std::uint64_t raw = 57 + 16 * (n / 16 + 1);
  return 4 * ((raw + 2) / 3);
}

const SessionSecret& secret() {
  static const SessionSecret s(test::pattern_bytes(32, 77));
  return s;
}

Binding binding(std::uint32_t seed) {
  const Bytes b = test::pattern_bytes(32, seed);
  Binding out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}
const Binding kB = binding(1);

// "errc: reason" of the Error f throws, so one comparison checks both; "accepted" if none.
std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) { return std::string(errc_name(e.code())) + ": " + e.what(); }
  return "accepted";
}

// Calls fn with consecutive pieces of `all`, cycling through `pieces` (0 = an empty piece).
template <class T, class Fn>
void in_pieces(T all, const std::vector<std::size_t>& pieces, Fn&& fn) {
  std::size_t off = 0;
  for (std::size_t k = 0; off < all.size() || k == 0; ++k) {
    const std::size_t n = pieces.empty() ? all.size() : std::min(pieces[k % pieces.size()], all.size() - off);
    fn(all.subspan(off, n));
    off += n;
  }
}

std::string write_stream(const Layout& layout, ByteView plain, KeyPurpose purpose = KeyPurpose::response_body,
                         const Binding& b = kB, const std::vector<std::size_t>& pieces = {}) {
  const FixedClock clock(kNow);
  StreamWriter w(secret(), purpose, b, layout, clock);
  std::string out;
  in_pieces(plain, pieces, [&](ByteView piece) { w.write(piece, out); });
  w.finish(out);
  EXPECT_EQ(out.size(), layout.stream_length());
  return out;
}

// The tokens of a stream, cut by the layout's lengths.
std::vector<std::string> tokens_of(const Layout& layout, std::string_view stream) {
  std::vector<std::string> out;
  for (std::uint64_t i = layout.first_chunk(); i <= layout.last_chunk(); ++i) {
    out.emplace_back(stream.substr(0, layout.token_length(i)));
    stream.remove_prefix(layout.token_length(i));
  }
  EXPECT_TRUE(stream.empty());
  return out;
}

std::string join(const std::vector<std::string>& tokens) {
  std::string s;
  for (const auto& t : tokens) s += t;
  return s;
}

struct ReadResult {
  Bytes plain;
  std::vector<std::uint64_t> released;  // chunk indices handed to the callback, in order
  std::string error;                    // "" when the stream was accepted
};

template <class Plan>
ReadResult read_stream(const Plan& plan, std::string_view stream, KeyPurpose purpose = KeyPurpose::response_body,
                       const Binding& b = kB, const std::vector<std::size_t>& pieces = {}) {
  ReadResult r;
  StreamReader reader(secret(), purpose, b, plan, [&](std::uint64_t i, ByteView p) {
    r.released.push_back(i);
    r.plain.insert(r.plain.end(), p.begin(), p.end());
  });
  try {
    in_pieces(std::span<const char>(stream), pieces,
              [&](std::span<const char> piece) { reader.update(std::string_view(piece.data(), piece.size())); });
    reader.finish();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::integrity) << e.what();
    r.error = e.what();
  }
  EXPECT_EQ(reader.done(), r.error.empty());
  EXPECT_EQ(reader.chunks_opened(), r.released.size());
  EXPECT_EQ(reader.plaintext_bytes(), r.plain.size());
  return r;
}

std::vector<std::uint64_t> indices(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

Bytes slice(const Bytes& b, std::uint64_t off, std::uint64_t n) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(off), b.begin() + static_cast<std::ptrdiff_t>(off + n));
}

// ---- lengths ---------------------------------------------------------------------------------

TEST(StreamLengths, TokenLengthIsTheSpecsL) {
  EXPECT_EQ(token_length(0), 100u);
  EXPECT_EQ(token_length(14), 100u);
  EXPECT_EQ(token_length(15), 100u);
  EXPECT_EQ(token_length(16), 120u);
  EXPECT_EQ(token_length(262144), 349624u);
  // The largest request head token (§5.1 prints "L(8192) = 10996", which is no token length at all).
  EXPECT_EQ(token_length(8192), 11020u);
  for (std::uint64_t n = 0; n < 5000; ++n) ASSERT_EQ(token_length(n), L(n)) << n;
  for (std::uint64_t n : {std::uint64_t{4194304}, std::uint64_t{5} << 30, (std::uint64_t{1} << 62) + 7})
    EXPECT_EQ(token_length(n), L(n));
}

TEST(StreamLengths, TokenLengthsAreExactlyTheLOfWholeBlocks) {
  EXPECT_TRUE(is_token_length(100));
  EXPECT_TRUE(is_token_length(120));
  EXPECT_TRUE(is_token_length(140));
  EXPECT_TRUE(is_token_length(164));
  EXPECT_TRUE(is_token_length(184));
  std::set<std::uint64_t> lengths;
  for (std::uint64_t j = 0; j <= 300; ++j) lengths.insert(L(16 * j));
  for (std::uint64_t r = 0; r <= L(16 * 300); ++r) ASSERT_EQ(is_token_length(r), lengths.count(r) == 1) << r;
  EXPECT_TRUE(is_token_length(L(kMaxChunkSize)));
}

TEST(StreamLengths, ChunkSizes) {
  for (std::uint64_t c : {4096u, 8192u, 262144u, 4194304u}) EXPECT_TRUE(valid_chunk_size(c)) << c;
  for (std::uint64_t c : {0u, 1u, 2048u, 4095u, 4097u, 12288u, 8388608u, 0xffffffffu})
    EXPECT_FALSE(valid_chunk_size(c)) << c;
  EXPECT_EQ(refusal([] { Layout::whole(10, 12288); }),
            "bad_request: stream: chunk size 12288 is not a power of two from 4096 to 4194304");
  EXPECT_EQ(refusal([] { split_stream_length(100, 2048); }),
            "bad_request: stream: chunk size 2048 is not a power of two from 4096 to 4194304");
}

// ---- layouts ---------------------------------------------------------------------------------

TEST(StreamLayout, Empty) {
  const Layout l = Layout::whole(0, C);
  EXPECT_EQ(l.chunk_count(), 1u);
  EXPECT_EQ(l.first_chunk(), 0u);
  EXPECT_EQ(l.last_chunk(), 0u);
  EXPECT_EQ(l.plaintext_size(0), 0u);
  EXPECT_EQ(l.token_length(0), 100u);
  EXPECT_EQ(l.stream_length(), 100u);
  EXPECT_EQ(l.byte_count(), 0u);
  EXPECT_EQ(l.first_byte(), 0u);
  EXPECT_EQ(refusal([&] { l.last_byte(); }), "internal: stream: an empty representation has no last byte");
}

TEST(StreamLayout, WholeRepresentations) {
  struct Case {
    std::uint64_t size, chunks, final_size, stream_length;
  };
  const Case cases[] = {
      {1, 1, 1, L(1)},         {C - 1, 1, C - 1, L(C - 1)},           {C, 1, C, L(C)}, {C + 1, 2, 1, L(C) + L(1)},
      {3 * C, 3, C, 3 * L(C)}, {3 * C + 17, 4, 17, 3 * L(C) + L(17)},
  };
  for (const Case& c : cases) {
    const Layout l = Layout::whole(c.size, C);
    EXPECT_EQ(l.chunk_count(), c.chunks) << c.size;
    EXPECT_EQ(l.first_chunk(), 0u);
    EXPECT_EQ(l.last_chunk(), c.chunks - 1);
    EXPECT_EQ(l.count(), c.chunks);
    for (std::uint64_t i = 0; i + 1 < c.chunks; ++i) EXPECT_EQ(l.plaintext_size(i), C);
    EXPECT_EQ(l.plaintext_size(c.chunks - 1), c.final_size) << c.size;
    EXPECT_EQ(l.offset(c.chunks - 1), (c.chunks - 1) * C);
    EXPECT_EQ(l.stream_length(), c.stream_length) << c.size;
    EXPECT_EQ(l.byte_count(), c.size);
    EXPECT_EQ(l.first_byte(), 0u);
    EXPECT_EQ(l.last_byte(), c.size - 1);
  }
}

TEST(StreamLayout, OverFourGiB) {
  const std::uint64_t n = (std::uint64_t{5} << 30) + 7;
  const Layout l = Layout::whole(n, kDefaultChunkSize);
  const std::uint64_t m = (std::uint64_t{5} << 30) / kDefaultChunkSize + 1;  // 20481: the last holds 7 bytes
  EXPECT_EQ(l.chunk_count(), m);
  EXPECT_EQ(l.plaintext_size(m - 2), kDefaultChunkSize);
  EXPECT_EQ(l.plaintext_size(m - 1), 7u);
  EXPECT_EQ(l.offset(m - 1), std::uint64_t{5} << 30);
  EXPECT_EQ(l.stream_length(), (m - 1) * 349624 + 100);
  EXPECT_EQ(l.stream_length(), 7160299620u);
  EXPECT_EQ(l.last_byte(), n - 1);
  // The last two chunks only: a range near the end of a big file.
  const Layout tail = Layout::covering(n, kDefaultChunkSize, n - 10, n - 1);
  EXPECT_EQ(tail.first_chunk(), m - 2);
  EXPECT_EQ(tail.last_chunk(), m - 1);
  EXPECT_EQ(tail.first_byte(), (m - 2) * kDefaultChunkSize);
  EXPECT_EQ(tail.byte_count(), kDefaultChunkSize + 7);
  EXPECT_EQ(tail.stream_length(), 349624u + 100u);
}

TEST(StreamLayout, TooLarge) {
  EXPECT_NO_THROW(Layout::whole(kMaxSize, kMaxChunkSize));
  EXPECT_EQ(refusal([] { Layout::whole(kMaxSize + 1, C); }),
            "bad_request: stream: a representation of 4611686018427387905 bytes is too large");
  EXPECT_EQ(Layout::whole(kMaxSize, C).stream_length(), (kMaxSize / C) * L(C));
}

TEST(StreamLayout, CoveringIsTheWholeChunksOfTheSpan) {
  const std::uint64_t n = 3 * C + 100;  // chunks 0..2 of C bytes, 3 of 100
  struct Case {
    std::uint64_t a, b, first, last, first_byte, last_byte;
  };
  const Case cases[] = {
      {0, 0, 0, 0, 0, C - 1},              // the first byte
      {n - 1, n - 1, 3, 3, 3 * C, n - 1},  // the last byte
      {C - 1, C, 0, 1, 0, 2 * C - 1},      // across an edge
      {C, 2 * C - 1, 1, 1, C, 2 * C - 1},  // exactly one chunk
      {2 * C - 1, 3 * C, 1, 3, C, n - 1},  // across two edges, into the final chunk
      {5, n - 1, 0, 3, 0, n - 1},          // to the end
  };
  for (const Case& c : cases) {
    const Layout l = Layout::covering(n, C, c.a, c.b);
    EXPECT_EQ(l.first_chunk(), c.first) << c.a << "-" << c.b;
    EXPECT_EQ(l.last_chunk(), c.last) << c.a << "-" << c.b;
    EXPECT_EQ(l.first_byte(), c.first_byte) << c.a << "-" << c.b;
    EXPECT_EQ(l.last_byte(), c.last_byte) << c.a << "-" << c.b;
    EXPECT_EQ(l.byte_count(), c.last_byte - c.first_byte + 1);
    std::uint64_t len = 0;
    for (std::uint64_t i = c.first; i <= c.last; ++i) len += L(l.plaintext_size(i));
    EXPECT_EQ(l.stream_length(), len);
    EXPECT_EQ(l, Layout::chunks(n, C, c.first, c.last));
  }
  EXPECT_EQ(Layout::covering(n, C, 0, n - 1), Layout::whole(n, C));
  EXPECT_EQ(Layout::covering(n, C, C, 2 * C - 1).stream_length(), L(C));
  EXPECT_EQ(Layout::covering(n, C, n - 1, n - 1).stream_length(), L(100));
}

TEST(StreamLayout, RefusesSpansAndChunksOutsideTheRepresentation) {
  EXPECT_EQ(refusal([] { Layout::covering(100, C, 5, 4); }),
            "internal: stream: bytes 5-4 are not within a representation of 100 bytes");
  EXPECT_EQ(refusal([] { Layout::covering(100, C, 0, 100); }),
            "internal: stream: bytes 0-100 are not within a representation of 100 bytes");
  EXPECT_EQ(refusal([] { Layout::covering(0, C, 0, 0); }),
            "internal: stream: bytes 0-0 are not within a representation of 0 bytes");
  EXPECT_EQ(refusal([] { Layout::chunks(2 * C, C, 1, 2); }),
            "bad_request: stream: chunks 1..2 are not chunks of a representation of 8192 bytes");
  EXPECT_EQ(refusal([] { Layout::chunks(2 * C, C, 1, 0); }),
            "bad_request: stream: chunks 1..0 are not chunks of a representation of 8192 bytes");
  EXPECT_EQ(Layout::chunks(0, C, 0, 0), Layout::whole(0, C));
}

// ---- a receiver that does not know the size --------------------------------------------------

TEST(StreamSplit, RoundTripsWithWholeLayouts) {
  for (std::uint32_t c : {C, kDefaultChunkSize}) {
    std::vector<std::uint64_t> sizes;
    for (std::uint64_t n = 0; n <= 40; ++n) sizes.push_back(n);
    for (std::uint64_t k = 1; k <= 3; ++k)
      for (std::uint64_t d = 0; d <= 40; ++d) sizes.insert(sizes.end(), {k * c - d, k * c + d});
    sizes.push_back((std::uint64_t{5} << 30) + 7);
    for (std::uint64_t n : sizes) {
      const Layout l = Layout::whole(n, c);
      const UnknownSizeSplit s = split_stream_length(l.stream_length(), c);
      const std::uint64_t final_size = l.plaintext_size(l.last_chunk());
      EXPECT_EQ(s.chunk_size, c);
      EXPECT_EQ(s.tokens, l.chunk_count()) << n;
      EXPECT_EQ(s.final_token_length, l.token_length(l.last_chunk())) << n;
      EXPECT_LE(s.final_min_size, final_size) << n;
      EXPECT_GE(s.final_max_size, final_size) << n;
      EXPECT_LT(s.final_max_size - s.final_min_size, 16u) << n;
      EXPECT_GE(s.max_plaintext, n);
      EXPECT_LT(s.max_plaintext - n, 16u) << n;
      EXPECT_EQ(s.max_plaintext, (s.tokens - 1) * c + s.final_max_size);
    }
  }
}

TEST(StreamSplit, AcceptsExactlyTheLengthsOfStreams) {
  std::set<std::uint64_t> lengths;
  for (std::uint64_t n = 0; n <= 3 * C; ++n) lengths.insert(Layout::whole(n, C).stream_length());
  for (std::uint64_t t = 0; t <= 3 * L(C); ++t) {
    bool accepted = true;
    try {
      split_stream_length(t, C);
    } catch (const Error& e) {
      accepted = false;
      ASSERT_EQ(e.code(), Errc::bad_request);
      ASSERT_EQ(std::string(e.what()), "stream: length " + std::to_string(t) + " is not a stream of chunk size 4096");
    }
    ASSERT_EQ(accepted, lengths.count(t) == 1) << t;
  }
}

TEST(StreamSplit, RefusesLengthsThatAreNotStreams) {
  for (std::uint64_t t : {std::uint64_t{0}, std::uint64_t{99}, std::uint64_t{101}, std::uint64_t{104}, L(C) + 1,
                          L(C) + 99, 2 * L(C) + 50})
    EXPECT_EQ(refusal([&] { split_stream_length(t, C); }),
              "bad_request: stream: length " + std::to_string(t) + " is not a stream of chunk size 4096");
  EXPECT_EQ(refusal([] { split_stream_length(349624 + 1, kDefaultChunkSize); }),
            "bad_request: stream: length 349625 is not a stream of chunk size 262144");
}

TEST(StreamSplit, FinalChunkBounds) {
  // One token of L(0): an empty file, or up to 15 bytes.
  UnknownSizeSplit s = split_stream_length(100, C);
  EXPECT_EQ(s.tokens, 1u);
  EXPECT_EQ(s.final_min_size, 0u);
  EXPECT_EQ(s.final_max_size, 15u);
  // After full chunks a final token of L(0) holds at least one byte: only an empty file is empty.
  s = split_stream_length(2 * L(C) + 100, C);
  EXPECT_EQ(s.tokens, 3u);
  EXPECT_EQ(s.final_min_size, 1u);
  EXPECT_EQ(s.final_max_size, 15u);
  EXPECT_EQ(s.max_plaintext, 2 * C + 15);
  // A final token of L(C) can only hold C bytes, not C + 15.
  s = split_stream_length(2 * L(C), C);
  EXPECT_EQ(s.tokens, 2u);
  EXPECT_EQ(s.final_min_size, C);
  EXPECT_EQ(s.final_max_size, C);
  EXPECT_EQ(s.max_plaintext, 2 * C);
}

// ---- one chunk -------------------------------------------------------------------------------

TEST(StreamChunk, SealIntoWritesExactlyTheTokenLength) {
  const ChunkKeys keys(secret(), KeyPurpose::response_body, kB, 3);
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 100u, 4095u, 4096u, 16384u, 16385u, 262144u}) {
    const Bytes plain = test::pattern_bytes(n, static_cast<std::uint32_t>(n));
    const std::size_t len = token_length(n);
    std::string buf(len + 64, '#');
    seal_chunk_into(keys, 2, plain, kNow, buf.data());
    EXPECT_EQ(buf.substr(len), std::string(64, '#')) << n;
    EXPECT_EQ(buf.find('#'), len) << n;
    EXPECT_EQ(open_chunk(keys, 2, std::string_view(buf).substr(0, len), n), plain) << n;
    const std::string token = seal_chunk(keys, 3, plain, kNow);
    EXPECT_EQ(token.size(), len);
    EXPECT_EQ(open_chunk(keys, 3, token, n), plain);
    EXPECT_NE(token, seal_chunk(keys, 3, plain, kNow));  // a fresh IV every time
  }
}

// "A stock HKDF and a stock Fernet library are enough to open every token" (§4): every chunk of a
// stream opens with fernet_decrypt under HKDF-SHA256(secret, no salt, info, 32), with a TTL even.
TEST(StreamChunk, StockFernetWithHkdfOpensEveryChunk) {
  const Layout layout = Layout::whole(3 * C + 5, C);
  const Bytes plain = test::pattern_bytes(layout.size(), 3);
  const std::vector<std::string> tokens = tokens_of(layout, write_stream(layout, plain));
  ASSERT_EQ(tokens.size(), 4u);
  for (std::uint64_t i = 0; i < tokens.size(); ++i) {
    const Bytes info = key_info(KeyPurpose::response_body, kB, i, i == 3);
    const FernetKey key = FernetKey::from_bytes(hkdf_sha256(secret().bytes(), {}, info, 32).view());
    EXPECT_EQ(fernet_decrypt(key, tokens[i], kNow + 1, 60), slice(plain, i * C, layout.plaintext_size(i))) << i;
  }
}

TEST(StreamChunk, OpenRefusesWithTheSpecsReasons) {
  const ChunkKeys keys(secret(), KeyPurpose::response_body, kB, 1);
  const std::string token = seal_chunk(keys, 1, test::pattern_bytes(17, 1), kNow);
  EXPECT_EQ(refusal([&] { open_chunk(keys, 1, token, 20); }), "integrity: chunk 1 holds 17 bytes, expected 20");
  EXPECT_EQ(refusal([&] { open_chunk(keys, 0, token, 17); }), "integrity: chunk 0" + kDoesNotVerify);
  EXPECT_EQ(refusal([&] {
              open_chunk(keys, Token{1, token, 18, 31});
            }),
            "integrity: chunk 1 holds 17 bytes, expected 18 to 31");
  EXPECT_EQ(open_chunk(keys, Token{1, token, 1, 31}).size(), 17u);
  EXPECT_EQ(refusal([&] { open_chunk(keys, 1, "not a token", 0); }), "integrity: chunk 1" + kDoesNotVerify);
  // The last flag is part of the key: the same index under a message whose last chunk is 2.
  const ChunkKeys longer(secret(), KeyPurpose::response_body, kB, 2);
  EXPECT_EQ(refusal([&] { open_chunk(longer, 1, token, 17); }), "integrity: chunk 1" + kDoesNotVerify);
}

// A clock that ticks once per reading: each chunk must carry the time it was sealed at.
class TickingClock final : public Clock {
 public:
  std::int64_t now() const override { return t_++; }

 private:
  mutable std::int64_t t_ = kNow;
};

TEST(StreamChunk, WriterStampsEachChunkWithTheCurrentTime) {
  const Layout layout = Layout::whole(3 * C, C);
  const TickingClock clock;
  StreamWriter w(secret(), KeyPurpose::response_body, kB, layout, clock);
  std::string out;
  w.write(test::pattern_bytes(3 * C, 2), out);
  w.finish(out);
  const std::vector<std::string> tokens = tokens_of(layout, out);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Bytes raw = base64_decode(tokens[i], Alphabet::url, Padding::required);
    std::int64_t t = 0;
    for (int k = 1; k <= 8; ++k) t = t << 8 | raw[k];
    EXPECT_EQ(t, kNow + static_cast<std::int64_t>(i));
  }
}

// ---- writer and reader -----------------------------------------------------------------------

TEST(Stream, RoundTripInOddSplits) {
  const std::vector<std::size_t> write_pieces = {1, 7, C, C - 1, 9000, 0, 3};
  const std::vector<std::size_t> read_pieces = {13, 1, 0, 5000, 2 * L(C) + 1, 99};
  for (std::uint64_t n : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{C - 1}, std::uint64_t{C},
                          std::uint64_t{C + 1}, std::uint64_t{3 * C}, std::uint64_t{5 * C + 1234}}) {
    const Layout layout = Layout::whole(n, C);
    const Bytes plain = test::pattern_bytes(n, static_cast<std::uint32_t>(n));
    const std::string stream = write_stream(layout, plain, KeyPurpose::request_body, kB, write_pieces);
    // The client knows every size.
    ReadResult r = read_stream(layout, stream, KeyPurpose::request_body, kB, read_pieces);
    EXPECT_EQ(r.error, "") << n;
    EXPECT_EQ(r.plain, plain) << n;
    EXPECT_EQ(r.released, indices(0, layout.last_chunk()));
    // The server reading an upload knows only the length.
    const UnknownSizeSplit split = split_stream_length(stream.size(), C);
    r = read_stream(split, stream, KeyPurpose::request_body, kB, {1, 2, 3, 4096});
    EXPECT_EQ(r.error, "") << n;
    EXPECT_EQ(r.plain, plain) << n;
  }
}

TEST(Stream, WriterAppendsOnlyCompleteTokens) {
  const Layout layout = Layout::whole(2 * C + 10, C);
  const Bytes plain = test::pattern_bytes(layout.size(), 9);
  const FixedClock clock(kNow);
  StreamWriter w(secret(), KeyPurpose::response_body, kB, layout, clock);
  std::string out;
  std::set<std::size_t> boundaries = {0, L(C), 2 * L(C), 2 * L(C) + L(10)};
  in_pieces(ByteView(plain), {1000}, [&](ByteView piece) {
    w.write(piece, out);
    EXPECT_EQ(boundaries.count(out.size()), 1u) << out.size();
  });
  EXPECT_EQ(out.size(), layout.stream_length());  // the final chunk sealed as soon as it was full
  w.finish(out);
  EXPECT_EQ(out.size(), layout.stream_length());
  EXPECT_EQ(w.written(), layout.size());
}

TEST(Stream, WriterRefusesMoreOrLessThanTheLayout) {
  const Layout layout = Layout::whole(C + 1, C);
  const FixedClock clock(kNow);
  std::string out;
  StreamWriter w(secret(), KeyPurpose::response_body, kB, layout, clock);
  EXPECT_EQ(refusal([&] { w.write(test::pattern_bytes(C + 2, 1), out); }),
            "internal: stream: more plaintext than the layout's 4097 bytes");
  EXPECT_EQ(out, "");
  w.write(test::pattern_bytes(C, 1), out);
  EXPECT_EQ(out.size(), L(C));
  EXPECT_EQ(refusal([&] { w.finish(out); }), "internal: stream: finished after 4096 of the layout's 4097 bytes");
  EXPECT_EQ(out.size(), L(C));
}

TEST(Stream, RangeRoundTrip) {
  const std::uint64_t n = 6 * C + 300;
  const Bytes file = test::pattern_bytes(n, 6);
  const Layout range = Layout::covering(n, C, 2 * C + 5, 3 * C);  // chunks 2..3
  ASSERT_EQ(range.first_chunk(), 2u);
  ASSERT_EQ(range.last_chunk(), 3u);
  const std::string stream = write_stream(range, slice(file, range.first_byte(), range.byte_count()));
  ReadResult r = read_stream(range, stream, KeyPurpose::response_body, kB, {777});
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.released, indices(2, 3));
  EXPECT_EQ(r.plain, Bytes(file.begin() + 2 * C, file.begin() + 4 * C));
  // A range that holds the final chunk.
  const Layout tail = Layout::covering(n, C, n - 1, n - 1);
  r = read_stream(tail, write_stream(tail, slice(file, 6 * C, 300)));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.released, indices(6, 6));
  EXPECT_EQ(r.plain, Bytes(file.begin() + 6 * C, file.end()));
}

TEST(Stream, DefaultChunkSize) {
  const Layout layout = Layout::whole(2 * kDefaultChunkSize + kDefaultChunkSize / 2, kDefaultChunkSize);
  const Bytes plain = test::pattern_bytes(layout.size(), 8);
  const std::string stream = write_stream(layout, plain, KeyPurpose::response_body, kB, {100000});
  EXPECT_EQ(stream.size(), 2 * 349624 + L(kDefaultChunkSize / 2));
  const ReadResult r = read_stream(layout, stream, KeyPurpose::response_body, kB, {65536});
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.plain, plain);
}

// Each token can be opened on its own, in any order (on other threads): the splitter only cuts.
TEST(Stream, TokenSplitterLetsChunksOpenOutOfOrder) {
  const Layout layout = Layout::whole(4 * C + 50, C);
  const Bytes plain = test::pattern_bytes(layout.size(), 10);
  const std::string stream = write_stream(layout, plain);
  TokenSplitter splitter(layout);
  std::vector<std::pair<std::uint64_t, std::string>> tokens;
  in_pieces(std::span<const char>(stream), {3000}, [&](std::span<const char> p) {
    splitter.update(std::string_view(p.data(), p.size()), [&](const Token& t) {
      EXPECT_EQ(t.min_size, layout.plaintext_size(t.index));
      EXPECT_EQ(t.max_size, layout.plaintext_size(t.index));
      tokens.emplace_back(t.index, std::string(t.text));
    });
  });
  splitter.finish();
  ASSERT_EQ(tokens.size(), 5u);
  const ChunkKeys keys(secret(), KeyPurpose::response_body, kB, layout.last_chunk());
  Bytes back(layout.size());
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    const Bytes p = open_chunk(keys, it->first, it->second, layout.plaintext_size(it->first));
    std::copy(p.begin(), p.end(), back.begin() + static_cast<std::ptrdiff_t>(layout.offset(it->first)));
  }
  EXPECT_EQ(back, plain);
}

TEST(Stream, ReleasesNothingBeforeATokenIsComplete) {
  const Layout layout = Layout::whole(C + 1, C);
  const std::string stream = write_stream(layout, test::pattern_bytes(C + 1, 4));
  std::vector<std::uint64_t> released;
  StreamReader reader(secret(), KeyPurpose::response_body, kB, layout,
                      [&](std::uint64_t i, ByteView) { released.push_back(i); });
  for (std::size_t k = 0; k < stream.size(); ++k) {
    reader.update(stream.substr(k, 1));
    const std::size_t want = k + 1 < L(C) ? 0 : k + 1 < stream.size() ? 1 : 2;
    ASSERT_EQ(released.size(), want) << k;
  }
  reader.finish();
  EXPECT_TRUE(reader.done());
}

TEST(Stream, ACallbackFailureStopsTheReader) {
  const Layout layout = Layout::whole(3 * C, C);
  const std::string stream = write_stream(layout, test::pattern_bytes(3 * C, 5));
  std::vector<std::uint64_t> released;
  StreamReader reader(secret(), KeyPurpose::response_body, kB, layout, [&](std::uint64_t i, ByteView) {
    if (i == 1) throw std::runtime_error("disk full");
    released.push_back(i);
  });
  EXPECT_THROW(reader.update(std::string_view(stream).substr(0, 2 * L(C))), std::runtime_error);
  EXPECT_EQ(refusal([&] { reader.update(std::string_view(stream).substr(2 * L(C))); }),
            "internal: stream: the reader stopped at an earlier failure");
  EXPECT_EQ(released, indices(0, 0));
  EXPECT_FALSE(reader.done());
}

// ---- tampering -------------------------------------------------------------------------------

class StreamTamper : public ::testing::Test {
 protected:
  // Five chunks: 0..3 of C bytes, 4 of 100.
  const Layout layout = Layout::whole(4 * C + 100, C);
  const Bytes plain = test::pattern_bytes(layout.size(), 20);
  const std::vector<std::string> tokens = tokens_of(layout, write_stream(layout, plain));

  // The stream is refused for `reason` after chunks 0..released-1 (and nothing else) came out.
  void expect_refused(const std::string& stream, const std::string& reason, std::uint64_t released,
                      const std::vector<std::size_t>& pieces = {}) const {
    const ReadResult r = read_stream(layout, stream, KeyPurpose::response_body, kB, pieces);
    EXPECT_EQ(r.error, reason);
    std::vector<std::uint64_t> want;
    for (std::uint64_t i = 0; i < released; ++i) want.push_back(i);
    EXPECT_EQ(r.released, want) << reason;
    EXPECT_EQ(r.plain, slice(plain, 0, std::min(released * C, plain.size()))) << reason;
  }
};

TEST_F(StreamTamper, Intact) {
  const ReadResult r = read_stream(layout, join(tokens));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.plain, plain);
}

TEST_F(StreamTamper, Reordered) {
  std::vector<std::string> t = tokens;
  std::swap(t[1], t[2]);
  expect_refused(join(t), "chunk 1" + kDoesNotVerify, 1);
}

TEST_F(StreamTamper, DroppedMiddleChunk) {
  std::vector<std::string> t = tokens;
  t.erase(t.begin() + 2);
  expect_refused(join(t), "chunk 2" + kDoesNotVerify, 2);
  // The server, which takes the layout from the length, is not fooled either.
  const ReadResult r = read_stream(split_stream_length(join(t).size(), C), join(t));
  EXPECT_EQ(r.error, "chunk 2" + kDoesNotVerify);
  EXPECT_EQ(r.released, indices(0, 1));
}

TEST_F(StreamTamper, DuplicatedChunk) {
  std::vector<std::string> t = tokens;
  t[2] = t[1];  // in place of the next one
  expect_refused(join(t), "chunk 2" + kDoesNotVerify, 2);
  t = tokens;
  t.insert(t.begin() + 2, t[1]);  // inserted, fed token by token
  expect_refused(join(t), "chunk 2" + kDoesNotVerify, 2, {tokens[0].size()});
}

TEST_F(StreamTamper, TruncatedAtAChunkBoundary) {
  const std::vector<std::string> t(tokens.begin(), tokens.begin() + 3);
  expect_refused(join(t), "the stream ended after chunk 2, before its last chunk: the output is incomplete", 3);
  expect_refused("", "the stream ended before its first chunk: the output is incomplete", 0);
  // Inside a token: what opened stays released, the partial token does not.
  expect_refused(join(t) + tokens[3].substr(0, 50),
                 "the stream ended after chunk 2, before its last chunk: the output is incomplete", 3);
  const Layout range = Layout::chunks(layout.size(), C, 2, 4);
  const ReadResult r = read_stream(range, "");
  EXPECT_EQ(r.error, "the stream ended before its first chunk: the output is incomplete");
}

TEST_F(StreamTamper, ChunkFromAnotherBinding) {
  const std::string other_stream = write_stream(layout, plain, KeyPurpose::response_body, binding(2));
  const std::vector<std::string> other = tokens_of(layout, other_stream);
  std::vector<std::string> t = tokens;
  t[1] = other[1];
  expect_refused(join(t), "chunk 1" + kDoesNotVerify, 1);
}

TEST_F(StreamTamper, ChunkFromAnotherPurpose) {
  // The client's own upload chunk reflected back as a response chunk.
  const std::string upload = write_stream(layout, plain, KeyPurpose::request_body, kB);
  std::vector<std::string> t = tokens;
  t[1] = tokens_of(layout, upload)[1];
  expect_refused(join(t), "chunk 1" + kDoesNotVerify, 1);
  expect_refused(upload, "chunk 0" + kDoesNotVerify, 0);
}

TEST_F(StreamTamper, WrongLastFlag) {
  // Chunks 0..3 of an 8-chunk file, cut short after chunk 1 and passed off as the answer to a range
  // of chunks 0..1: chunk 1 was sealed as "not last".
  const std::uint64_t n = 8 * C;
  const Bytes file = test::pattern_bytes(n, 21);
  const Layout sent = Layout::chunks(n, C, 0, 3);
  const std::vector<std::string> t = tokens_of(sent, write_stream(sent, slice(file, 0, 4 * C)));
  const Layout claimed = Layout::chunks(n, C, 0, 1);
  ReadResult r = read_stream(claimed, t[0] + t[1]);
  EXPECT_EQ(r.error, "chunk 1" + kDoesNotVerify);
  EXPECT_EQ(r.released, indices(0, 0));
  // And the other way: a message that ended at chunk 1, extended with chunks of a longer one.
  const Layout short_one = Layout::chunks(n, C, 0, 1);
  const std::vector<std::string> s = tokens_of(short_one, write_stream(short_one, slice(file, 0, 2 * C)));
  r = read_stream(sent, s[0] + s[1] + t[2] + t[3]);
  EXPECT_EQ(r.error, "chunk 1" + kDoesNotVerify);
  EXPECT_EQ(r.released, indices(0, 0));
}

TEST_F(StreamTamper, BytesAfterTheLastChunk) {
  // In the same piece: nothing of it is released.
  expect_refused(join(tokens) + "A", "the stream continues after its last chunk", 0);
  // After the stream completed: everything opened, and then the extra byte is refused.
  const ReadResult r = read_stream(layout, join(tokens) + "A", KeyPurpose::response_body, kB, {join(tokens).size(), 1});
  EXPECT_EQ(r.error, "the stream continues after its last chunk");
  EXPECT_EQ(r.released, indices(0, 4));
}

TEST_F(StreamTamper, FlippedByte) {
  const std::size_t start = 2 * L(C);
  for (std::size_t pos : {start, start + 1, start + 40, start + L(C) / 2, start + L(C) - 2, start + L(C) - 1}) {
    std::string s = join(tokens);
    s[pos] = s[pos] == 'A' ? 'B' : 'A';
    expect_refused(s, "chunk 2" + kDoesNotVerify, 2, {5000});
  }
}

TEST_F(StreamTamper, ChunkOfTheWrongSize) {
  // A final chunk of 97 bytes has the token length of one of 100 (same AES blocks).
  const ChunkKeys keys(secret(), KeyPurpose::response_body, kB, 4);
  std::vector<std::string> t = tokens;
  t[4] = seal_chunk(keys, 4, test::pattern_bytes(97, 1), kNow);
  expect_refused(join(t), "chunk 4 holds 97 bytes, expected 100", 4);
}

TEST_F(StreamTamper, UploadChunkSizes) {
  // The server cannot know the final size, but an empty chunk after full ones, or a final one over
  // C bytes, is no stream a sender makes.
  const ChunkKeys two(secret(), KeyPurpose::request_body, kB, 1);
  const std::string full = seal_chunk(two, 0, test::pattern_bytes(C, 1), kNow);
  std::string s = full + seal_chunk(two, 1, {}, kNow);
  ReadResult r = read_stream(split_stream_length(s.size(), C), s, KeyPurpose::request_body);
  EXPECT_EQ(r.error, "chunk 1 holds 0 bytes, expected 1 to 15");
  EXPECT_EQ(r.released, indices(0, 0));
  const ChunkKeys one(secret(), KeyPurpose::request_body, kB, 0);
  s = seal_chunk(one, 0, test::pattern_bytes(C + 1, 1), kNow);
  ASSERT_EQ(s.size(), L(C));
  r = read_stream(split_stream_length(s.size(), C), s, KeyPurpose::request_body);
  EXPECT_EQ(r.error, "chunk 0 holds 4097 bytes, expected 4096");
  EXPECT_TRUE(r.released.empty());
  // A non-final chunk of another size has another token length: the framing of the length puts
  // the token edge elsewhere, and chunk 0 fails its MAC.
  s = seal_chunk(two, 0, test::pattern_bytes(C - 16, 1), kNow) + seal_chunk(two, 1, test::pattern_bytes(16, 1), kNow);
  r = read_stream(split_stream_length(s.size(), C), s, KeyPurpose::request_body);
  EXPECT_EQ(r.error, "chunk 0" + kDoesNotVerify);
  EXPECT_TRUE(r.released.empty());
}

TEST_F(StreamTamper, FailureIsFinal) {
  std::vector<std::string> t = tokens;
  std::swap(t[1], t[2]);
  std::vector<std::uint64_t> released;
  StreamReader reader(secret(), KeyPurpose::response_body, kB, layout,
                      [&](std::uint64_t i, ByteView) { released.push_back(i); });
  const std::string s = join(t);
  const std::string want = "integrity: chunk 1" + kDoesNotVerify;
  EXPECT_EQ(refusal([&] { reader.update(std::string_view(s).substr(0, 2 * L(C))); }), want);
  EXPECT_EQ(refusal([&] { reader.update(std::string_view(s).substr(2 * L(C))); }), want);
  EXPECT_EQ(refusal([&] { reader.finish(); }), want);
  EXPECT_EQ(released, indices(0, 0));
  EXPECT_FALSE(reader.done());
}

}  // namespace
}  // namespace mh::stream
