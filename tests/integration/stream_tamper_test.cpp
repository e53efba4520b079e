// The chunked stream under an on-path attacker (docs/PROTOCOL.md §6.3, docs/SECURITY.md): the real
// CLI downloads big.bin (many 4 KiB chunks) through the tamper proxy, which reorders, drops,
// duplicates, cuts, splices and stretches the chunk tokens, or swaps the sealed head. Each time the
// CLI exits 5 with the exact reason; -o FILE never appears (at most FILE.part, holding exactly the
// chunks that verified, for -C); on stdout only verified bytes are written and the output is
// declared incomplete.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/stream.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"
#include "support/tamper_proxy.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using Mode = TamperProxy::Mode;
using Match = TamperProxy::Match;

constexpr std::uint32_t kChunk = 4096;
constexpr std::uint64_t kSize = 300 * 1024 + 123;  // 76 chunks: 75 of 4 KiB and a final one of 123 bytes
const stream::Layout kLayout = stream::Layout::whole(kSize, kChunk);
const std::uint64_t kToken = stream::token_length(kChunk);  // L(C): every token but the final one
const std::string kNotVerified = " does not verify (tampered, reordered, duplicated, or from another response)";

std::size_t entries_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

class StreamTamper : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(with_args({"--chunk-size", std::to_string(kChunk)}));
    file_ = new std::string(as_chars(pattern_bytes(kSize, 31)));
    write_file(server_->root() / "big.bin", *file_);
    proxy_ = new TamperProxy(server_->port(), kChunk);
    home_ = new TempDir();
    // Only through the proxy, pinned to the real server's key: what follows is an on-path attacker.
    const auto r = run_client(home_->path(), {"connect", "--server", proxy_->url(), "--name", "streamer", "--rsa-bits",
                                              "2048", "--fingerprint", server_->fingerprint()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete home_;
    delete proxy_;
    delete file_;
    delete server_;
  }
  void TearDown() override { proxy_->reset(); }

  static CommandResult client(const std::vector<std::string>& args) { return run_client(home_->path(), args); }
  // The answers to a download of big.bin, and no other.
  static Match big() { return Match::at_least(kLayout.stream_length()); }
  static std::string prefix(std::uint64_t n) { return file_->substr(0, n); }

  // An untouched download through the proxy (which may record its answer).
  static void download_cleanly() {
    TempDir out;
    const auto r = client({"get", "big.bin", "-o", (out / "big.bin").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(read_file(out / "big.bin") == *file_);
  }

  // `get big.bin -o FILE` and `get big.bin` (stdout) under the proxy's current mode: exit 5 with
  // `reason`; `kept` verified bytes in FILE.part and on stdout. A refusal of the head comes before
  // any output, so stdout has nothing to declare incomplete.
  static void expect_refused(const std::string& reason, std::uint64_t kept, bool at_head = false) {
    const int tampered = proxy_->tampered();
    TempDir out;
    const fs::path file = out / "big.bin", part = out / "big.bin.part";
    auto r = client({"get", "big.bin", "-o", file.string()});
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_FALSE(fs::exists(file));
    EXPECT_EQ(r.out, "");
    if (kept == 0) {
      EXPECT_EQ(r.err, "minihttps: " + reason + "\n");
      EXPECT_EQ(entries_in(out.path()), 0u);  // no FILE.part either
    } else {
      EXPECT_EQ(r.err, "minihttps: " + reason + "; kept " + part.string() + " (" + std::to_string(kept) + " of " +
                           std::to_string(kSize) + " bytes verified): run the same get with -C to continue\n");
      EXPECT_TRUE(fs::exists(part) && read_file(part) == prefix(kept)) << "FILE.part is not the verified prefix";
      EXPECT_EQ(entries_in(out.path()), 2u);  // FILE.part and its record
    }
    r = client({"get", "big.bin"});
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_EQ(r.err, "minihttps: " + std::string(at_head ? "" : "output incomplete: ") + reason + "\n");
    EXPECT_EQ(r.out.size(), kept);
    EXPECT_TRUE(r.out == prefix(kept)) << "stdout is not the verified prefix";
    EXPECT_EQ(proxy_->tampered(), tampered + 2);
  }

  static ServerProcess* server_;
  static std::string* file_;
  static TamperProxy* proxy_;
  static TempDir* home_;
};
ServerProcess* StreamTamper::server_ = nullptr;
std::string* StreamTamper::file_ = nullptr;
TamperProxy* StreamTamper::proxy_ = nullptr;
TempDir* StreamTamper::home_ = nullptr;

TEST_F(StreamTamper, UntouchedDownloadIsExact) {
  ASSERT_EQ(kLayout.chunk_count(), 76u);
  download_cleanly();
  const auto r = client({"get", "big.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == *file_);
  EXPECT_EQ(proxy_->tampered(), 0);
}

TEST_F(StreamTamper, ReorderedChunksAreRefusedAtTheFirst) {
  proxy_->set_mode(Mode::reorder_chunks, big());
  expect_refused("chunk 0" + kNotVerified, 0);
}

TEST_F(StreamTamper, DroppedChunkIsRefusedByTheHeadsLength) {
  // The attacker fixes Content-Length; the sealed head fixes the stream's length, so the head is
  // refused before a chunk is read.
  proxy_->set_mode(Mode::drop_chunk, big());
  expect_refused("the answer's Content-Length " + std::to_string(kLayout.stream_length() - kToken) +
                     " is not the length of the stream its head announces (" + std::to_string(kLayout.stream_length()) +
                     ")",
                 0, true);
}

TEST_F(StreamTamper, DuplicatedChunkKeepsOnlyTheChunkBeforeIt) {
  proxy_->set_mode(Mode::duplicate_chunk, big());
  expect_refused("chunk 1" + kNotVerified, kChunk);
}

TEST_F(StreamTamper, StreamCutAfterTheFirstChunkIsIncomplete) {
  proxy_->set_mode(Mode::truncate_at_chunk, big());
  expect_refused("the stream ended after chunk 0, before its last chunk: the output is incomplete", kChunk);
}

TEST_F(StreamTamper, ChunkFromAnEarlierAnswerToTheSameFileIsRefused) {
  // The same file, the same index, a genuine token: but made for another request.
  proxy_->record_next(big());
  download_cleanly();
  proxy_->set_mode(Mode::splice_recorded_chunk, big());
  expect_refused("chunk 1" + kNotVerified, kChunk);
}

TEST_F(StreamTamper, HeadOfAnEarlierAnswerIsNotBoundToThisRequest) {
  proxy_->record_next(big());
  download_cleanly();
  proxy_->set_mode(Mode::swap_head, big());
  expect_refused("the response head is not bound to this request", 0, true);
}

TEST_F(StreamTamper, WholeEarlierAnswerReplayedIsRefusedAtTheHead) {
  proxy_->record_next(big());
  download_cleanly();
  proxy_->set_mode(Mode::replay_recorded, big());
  expect_refused("the response head is not bound to this request", 0, true);
}

TEST_F(StreamTamper, TokenPastTheDeclaredEndIsRefused) {
  // Every chunk verified, but the answer is longer than it said: the file is not committed.
  proxy_->set_mode(Mode::stretch_body, big());
  expect_refused("response refused: bytes after the declared Content-Length", kSize);
}

TEST_F(StreamTamper, FlippedCharacterFailsItsChunk) {
  proxy_->set_mode(Mode::flip_body_bit, big());
  const std::uint64_t hit = kLayout.stream_length() / 2 / kToken;  // the token holding the middle byte
  expect_refused("chunk " + std::to_string(hit) + kNotVerified, hit * kChunk);
}

TEST_F(StreamTamper, BodyCutInTheMiddleKeepsTheWholeChunksBeforeTheCut) {
  proxy_->set_mode(Mode::truncate_body, big());
  const std::uint64_t whole = kLayout.stream_length() / 2 / kToken;  // tokens that arrived whole
  expect_refused(
      "the stream ended after chunk " + std::to_string(whole - 1) + ", before its last chunk: the output is incomplete",
      whole * kChunk);
}

TEST_F(StreamTamper, KeptPrefixIsContinuedWithDashC) {
  TempDir out;
  const fs::path file = out / "big.bin";
  proxy_->set_mode(Mode::duplicate_chunk, big());
  ASSERT_EQ(client({"get", "big.bin", "-o", file.string()}).exit_code, 5);
  ASSERT_EQ(fs::file_size(file.string() + ".part"), kChunk);
  proxy_->set_mode(Mode::pass);
  const auto r = client({"get", "big.bin", "-o", file.string(), "-C"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_file(file) == *file_);
  EXPECT_EQ(entries_in(out.path()), 1u);  // FILE.part and its record are gone
}

// Matching: a plain request by its request line, a sealed one by its place among the answers.
TEST_F(StreamTamper, PlainRequestsMatchByRequestLineSealedOnesByCount) {
  SignedClient c(home_->path(), proxy_->url());
  SignOptions plain;
  plain.sealed = false;
  const int tampered = proxy_->tampered();
  proxy_->set_mode(Mode::reorder_chunks, "GET /big.bin");
  EXPECT_EQ(c.send("GET", "/big.bin", plain).error, "chunk 0" + kNotVerified);
  EXPECT_EQ(c.send("GET", "/big.bin").body, *file_);  // sealed: "POST /.well-known/...", no match
  proxy_->set_mode(Mode::reorder_chunks, Match::sealed(2));
  EXPECT_EQ(c.send("GET", "/big.bin").body, *file_);
  EXPECT_EQ(c.send("GET", "/big.bin").error, "chunk 0" + kNotVerified);
  EXPECT_EQ(c.send("GET", "/big.bin").body, *file_);
  EXPECT_EQ(proxy_->tampered(), tampered + 2);
}

}  // namespace
}  // namespace mh::test
