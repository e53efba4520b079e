// ParallelReader: chunks opened on workers are released in index order, each only once it
// opened; an update that completes no token still releases what opened since (output does not
// wait for the next token); the first failure is thrown in order, with the chunks before it
// released and none after, and again by every later call.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "client/parallel_reader.hpp"
#include "client/test_keys.hpp"
#include "core/stream.hpp"

namespace mh::client {
namespace {

using namespace std::chrono_literals;
using stream::Layout;
using test_keys::binding;
using test_keys::secret;

constexpr std::uint32_t kChunk = 4096;
constexpr unsigned kThreads = 3;  // workers whatever the machine has

struct Released {
  std::vector<std::uint64_t> indices;
  Bytes plain;
};

// The response body stream of `data` as the server makes it.
std::string stream_of(const Layout& layout, ByteView data) {
  const FixedClock clock(1700000000);
  stream::StreamWriter w(secret(), KeyPurpose::response_body, binding(), layout, clock);
  std::string out;
  w.write(data, out);
  w.finish(out);
  return out;
}

ParallelReader reader_into(Released& r, const Layout& layout) {
  return ParallelReader(
      secret(), KeyPurpose::response_body, binding(), layout,
      [&r](std::uint64_t i, ByteView p) {
        r.indices.push_back(i);
        r.plain.insert(r.plain.end(), p.begin(), p.end());
      },
      kThreads);
}

TEST(ParallelReader, ReleasesEveryChunkInOrder) {
  const Layout layout = Layout::whole(20 * kChunk + 33, kChunk);
  const Bytes data = test::pattern_bytes(20 * kChunk + 33, 4);
  const std::string s = stream_of(layout, data);
  Released r;
  ParallelReader reader = reader_into(r, layout);
  for (std::size_t at = 0; at < s.size(); at += 1000) reader.update(std::string_view(s).substr(at, 1000));
  reader.finish();
  EXPECT_EQ(r.plain, data);
  ASSERT_EQ(r.indices.size(), 21u);
  for (std::uint64_t i = 0; i < 21; ++i) EXPECT_EQ(r.indices[i], i);
}

// Chunk 0 is complete, chunk 1 is not: once chunk 0 opened, an update with no new bytes (the
// caller coming back from a read that brought nothing new) releases it.
TEST(ParallelReader, UpdateReleasesWhatOpenedSinceTheLastToken) {
  const Layout layout = Layout::whole(3 * kChunk, kChunk);
  const std::string s = stream_of(layout, test::pattern_bytes(3 * kChunk, 5));
  Released r;
  ParallelReader reader = reader_into(r, layout);
  reader.update(std::string_view(s).substr(0, layout.token_length(0) + 10));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (r.indices.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
    reader.update({});
  }
  EXPECT_EQ(r.indices, std::vector<std::uint64_t>{0});
}

TEST(ParallelReader, FirstFailureIsThrownInOrderAndAgain) {
  const Layout layout = Layout::whole(8 * kChunk, kChunk);
  const Bytes data = test::pattern_bytes(8 * kChunk, 6);
  std::string s = stream_of(layout, data);
  s[2 * layout.token_length(0) + 100] ^= 1;  // one bit of chunk 2's token
  Released r;
  ParallelReader reader = reader_into(r, layout);
  const std::string refused = "chunk 2 does not verify (tampered, reordered, duplicated, or from another response)";
  std::string first = "accepted";
  try {
    reader.update(s);
    reader.finish();
  } catch (const Error& e) { first = e.what(); }
  EXPECT_EQ(first, refused);
  EXPECT_EQ(r.indices, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(test::error_of([&] { reader.update({}); }), refused);
  EXPECT_EQ(test::error_of([&] { reader.finish(); }), refused);
  reader.salvage();
  EXPECT_EQ(r.indices.size(), 2u) << "nothing after the failure";
}

}  // namespace
}  // namespace mh::client
