// ParallelSealer: a file sealed on worker threads is the body stream StreamWriter would make of
// it (same token lengths, the same version and timestamp in each token, every chunk opening to
// the file's bytes at its offset, accepted whole by the server's reader), for sizes that end
// mid-chunk, on a chunk boundary, in one chunk and at 0 bytes; on the caller's thread as on 1 or
// 3 workers; and a file that shrank, or cannot be read, fails at its chunk, in order.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "client/parallel_sealer.hpp"
#include "core/stream.hpp"
#include "io/unique_fd.hpp"
#include "support/test_support.hpp"
#include "client/test_keys.hpp"

namespace mh::client {
namespace {

using stream::Layout;
using test_keys::binding;
using test_keys::secret;

constexpr std::uint32_t kChunk = 4096;
constexpr std::int64_t kNow = 1700000000;

struct SealedFile {
  std::vector<SealedChunk> chunks;
  std::string error;  // "" when every chunk came out
};

// Seals `layout` from the file at `path` with `threads` workers, collecting what next() gives.
SealedFile seal_file(const std::filesystem::path& path, const Layout& layout, unsigned threads, int flags = O_RDONLY) {
  const io::UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  EXPECT_GE(fd.get(), 0);
  const FixedClock clock(kNow);
  ParallelSealer sealer(fd.get(), secret(), KeyPurpose::request_body, binding(), layout, clock, threads);
  SealedFile out;
  try {
    while (auto c = sealer.next()) out.chunks.push_back(std::move(*c));
  } catch (const Error& e) {
    out.error = e.what();
    // Every later call says the same.
    EXPECT_EQ(test::error_of([&] { sealer.next(); }), out.error);
  }
  return out;
}

class Sealing : public ::testing::TestWithParam<unsigned> {};

// The sizes: 3 chunks and a part, exactly 4 chunks, 0 bytes, half a chunk, exactly one chunk, and
// 20 chunks (more than the window of any thread count).
TEST_P(Sealing, IsTheStreamStreamWriterMakes) {
  const unsigned threads = GetParam();
  for (const std::uint64_t size : {std::uint64_t{3 * kChunk + 123}, std::uint64_t{4 * kChunk}, std::uint64_t{0},
                                   std::uint64_t{kChunk / 2}, std::uint64_t{kChunk}, std::uint64_t{20 * kChunk + 1}}) {
    SCOPED_TRACE("size " + std::to_string(size) + ", threads " + std::to_string(threads));
    const test::TempDir dir;
    const Bytes data = test::pattern_bytes(static_cast<std::size_t>(size), 9);
    test::write_file(dir / "f", as_chars(data));
    const Layout layout = Layout::whole(size, kChunk);
    const SealedFile sealed = seal_file(dir / "f", layout, threads);
    ASSERT_EQ(sealed.error, "");
    ASSERT_EQ(sealed.chunks.size(), layout.chunk_count());

    // What the sequential writer makes of the same bytes, under the same keys and clock.
    const FixedClock clock(kNow);
    stream::StreamWriter writer(secret(), KeyPurpose::request_body, binding(), layout, clock);
    std::string expected;
    writer.write(data, expected);
    writer.finish(expected);

    const stream::ChunkKeys keys(secret(), KeyPurpose::request_body, binding(), layout.last_chunk());
    std::string stream_bytes;
    std::size_t at = 0;
    for (std::uint64_t i = 0; i < layout.chunk_count(); ++i) {
      const SealedChunk& c = sealed.chunks[i];
      EXPECT_EQ(c.index, i);
      const Bytes want(data.begin() + static_cast<std::ptrdiff_t>(layout.offset(i)),
                       data.begin() + static_cast<std::ptrdiff_t>(layout.offset(i) + layout.plaintext_size(i)));
      EXPECT_EQ(c.plaintext, want) << "chunk " << i;
      EXPECT_EQ(stream::open_chunk(keys, i, c.token, layout.plaintext_size(i)), want) << "chunk " << i;
      // Same length, and the same Fernet version and timestamp (the first 9 bytes, 12
      // characters): only the IV and what follows from it differ.
      ASSERT_EQ(c.token.size(), layout.token_length(i));
      EXPECT_EQ(c.token.substr(0, 12), expected.substr(at, 12)) << "chunk " << i;
      at += c.token.size();
      stream_bytes += c.token;
    }
    EXPECT_EQ(stream_bytes.size(), expected.size());

    // The server's reader, which knows only the length, takes it whole.
    Bytes opened;
    stream::StreamReader reader(secret(), KeyPurpose::request_body, binding(),
                                stream::split_stream_length(stream_bytes.size(), kChunk),
                                [&](std::uint64_t, ByteView p) { opened.insert(opened.end(), p.begin(), p.end()); });
    reader.update(stream_bytes);
    reader.finish();
    EXPECT_EQ(opened, data);
    EXPECT_EQ(reader.plaintext_bytes(), size);
  }
}

// The file has fewer bytes than when it was measured: the chunks it still holds whole come out,
// in order, then the one it ends in fails, and nothing after it comes out.
TEST_P(Sealing, FileThatShrankFailsAtItsChunk) {
  const test::TempDir dir;
  const Bytes data = test::pattern_bytes(2 * kChunk + 10, 3);
  test::write_file(dir / "f", as_chars(data));
  const SealedFile sealed = seal_file(dir / "f", Layout::whole(6 * kChunk + 7, kChunk), GetParam());
  EXPECT_EQ(sealed.error, "the file shrank while it was being sent");
  ASSERT_EQ(sealed.chunks.size(), 2u);
  EXPECT_EQ(sealed.chunks[0].index, 0u);
  EXPECT_EQ(sealed.chunks[1].index, 1u);
}

TEST_P(Sealing, UnreadableFileFailsAtTheFirstChunk) {
  const test::TempDir dir;
  test::write_file(dir / "f", std::string(3 * kChunk, 'x'));
  const SealedFile sealed = seal_file(dir / "f", Layout::whole(3 * kChunk, kChunk), GetParam(), O_WRONLY);
  EXPECT_EQ(sealed.error, "cannot read the file: Bad file descriptor");
  EXPECT_TRUE(sealed.chunks.empty());
}

INSTANTIATE_TEST_SUITE_P(Threads, Sealing, ::testing::Values(0u, 1u, 3u),
                         [](const auto& info) { return std::to_string(info.param); });

TEST(ParallelSealer, UsesWorkersOnlyForSeveralChunks) {
  EXPECT_EQ(ParallelSealer::threads_for(Layout::whole(kChunk, kChunk)), 0u);
  EXPECT_EQ(ParallelSealer::threads_for(Layout::whole(0, kChunk)), 0u);
  const unsigned many = ParallelSealer::threads_for(Layout::whole(10 * kChunk, kChunk));
  EXPECT_LE(many, 4u);
  EXPECT_EQ(many == 0, std::thread::hardware_concurrency() < 2);
}

}  // namespace
}  // namespace mh::client
