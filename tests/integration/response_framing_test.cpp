// Issue 12, item 6: the client reads a response body only within the Content-Length its head
// declares (PROTOCOL.md §1, §5.3). An on-path attacker who keeps a genuine sealed response head
// (it fixes the real status and the stream's chunk layout, not the outer framing) cannot make the
// client read a chunked stream, a body without a length, bytes past the declared end, or a
// Content-Length other than the length of the stream the sealed head announces.
// The real server and client, with the tamper proxy in between. Every request the CLI sends after
// connect is a sealed POST to the same path, so the proxy matches on that.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/stream.hpp"
#include "support/server_process.hpp"
#include "support/tamper_proxy.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint64_t kBigFile = 4u << 20;
constexpr std::uint32_t kChunk = 262144;  // the server's default chunk size
// The request line of every sealed request (what the CLI sends after connect).
const std::string kSealed = "POST /.well-known/minihttps/sealed ";

// The value of the response's Content-Length and the response with it replaced (or removed).
std::string content_length_of(const std::string& response) {
  std::string lower = response;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto p = lower.find("\r\ncontent-length:");
  const auto e = response.find("\r\n", p + 2);
  const std::string value = response.substr(p + 17, e - p - 17);
  return value.substr(value.find_first_not_of(' '));
}
std::string with_content_length(const std::string& response, const std::string& value) {
  std::string lower = response;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto p = lower.find("\r\ncontent-length:");
  const auto e = response.find("\r\n", p + 2);
  return response.substr(0, p) + (value.empty() ? "" : "\r\nContent-Length: " + value) + response.substr(e);
}

std::size_t entries_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

class ResponseFraming : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    write_file(server_->root() / "big.bin", as_chars(pattern_bytes(kBigFile, 7)));
    proxy_ = new TamperProxy(server_->port());
    home_ = new TempDir();
    // Only through the proxy, pinned to the real server's key: what follows is an on-path attacker.
    const auto r = run_client(home_->path(), {"connect", "--server", proxy_->url(), "--name", "framing", "--rsa-bits",
                                              "2048", "--fingerprint", server_->fingerprint()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete home_;
    delete proxy_;
    delete server_;
  }
  void TearDown() override { proxy_->set_mode(TamperProxy::Mode::pass); }

  static CommandResult client(const std::vector<std::string>& args) { return run_client(home_->path(), args); }

  static ServerProcess* server_;
  static TamperProxy* proxy_;
  static TempDir* home_;
};
ServerProcess* ResponseFraming::server_ = nullptr;
TamperProxy* ResponseFraming::proxy_ = nullptr;
TempDir* ResponseFraming::home_ = nullptr;

TEST_F(ResponseFraming, ChunkedJunkBehindAGenuineSealedHeadIsRefusedAtTheHead) {
  TempDir out;
  const int tampered_before = proxy_->tampered();
  proxy_->set_mode(TamperProxy::Mode::chunked_junk, kSealed);
  const auto r = client({"get", "big.bin", "-o", (out / "big.bin").string()});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err,
            "minihttps: response refused: Transfer-Encoding is not allowed (responses carry Content-Length); "
            "nothing was written\n");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(out / "big.bin"));
  EXPECT_EQ(entries_in(out.path()), 0u);  // no temporary file left either
  EXPECT_EQ(proxy_->tampered(), tampered_before + 1);
  EXPECT_EQ(proxy_->declared_length(), stream::Layout::whole(kBigFile, kChunk).stream_length());
  // The client hung up while the proxy still had junk to send, well before twice the declared
  // length (what is in flight is the sockets' buffers, not what the client read).
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!proxy_->client_closed_early() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(proxy_->client_closed_early());
  EXPECT_LT(proxy_->junk_sent(), 2 * proxy_->declared_length());
}

TEST_F(ResponseFraming, ChunkedListingIsRefusedToo) {
  proxy_->set_mode(TamperProxy::Mode::chunked_junk, kSealed);
  const auto r = client({"ls", "/"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err,
            "minihttps: response refused: Transfer-Encoding is not allowed (responses carry Content-Length); "
            "nothing was written\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(ResponseFraming, BodyWithoutContentLengthIsRefused) {
  TempDir out;
  // The genuine response with its Content-Length removed: a body "until the connection closes".
  proxy_->set_rewriter(
      [](const std::string&, const std::string& response) { return with_content_length(response, ""); });
  proxy_->set_mode(TamperProxy::Mode::rewrite, kSealed);
  const auto r = client({"get", "hello.txt", "-o", (out / "hello.txt").string()});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err, "minihttps: response refused: no Content-Length; nothing was written\n");
  EXPECT_EQ(entries_in(out.path()), 0u);
}

TEST_F(ResponseFraming, BytesAfterTheDeclaredLengthAreRefused) {
  TempDir out;
  // The genuine answer, then a forged second response in the same write.
  proxy_->set_mode(TamperProxy::Mode::bytes_after_body, kSealed);
  const auto r = client({"get", "hello.txt", "-o", (out / "hello.txt").string()});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  // The genuine chunk had opened and went to FILE.part; the answer as a whole is refused, so FILE
  // is never made, and not a byte of the forged response is written anywhere.
  const fs::path part = out / "hello.txt.part";
  EXPECT_EQ(r.err, "minihttps: response refused: bytes after the declared Content-Length; kept " + part.string() +
                       " (13 of 13 bytes verified): run the same get with -C to continue\n");
  EXPECT_FALSE(fs::exists(out / "hello.txt"));
  EXPECT_EQ(read_file(part), "hello, world\n");
  EXPECT_EQ(entries_in(out.path()), 2u);  // FILE.part and its record
  // Without the attacker, -C finishes from what had verified.
  proxy_->set_mode(TamperProxy::Mode::pass);
  const auto resumed = client({"get", "-C", "hello.txt", "-o", (out / "hello.txt").string()});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_file(out / "hello.txt"), "hello, world\n");
  EXPECT_EQ(entries_in(out.path()), 1u);
}

// The sealed head fixes the stream's layout, so its length is known before a byte of it is read:
// a Content-Length that says otherwise (a listing "of 1 GiB", a body cut or padded to another
// length) is refused at the head, and nothing is read or written.
TEST_F(ResponseFraming, ContentLengthOtherThanTheSealedStreamsIsRefusedBeforeItIsRead) {
  std::mutex m;
  std::string genuine;
  const auto declare = [&](std::string value) {
    proxy_->set_rewriter([&, value](const std::string&, const std::string& response) {
      std::lock_guard lock(m);
      genuine = content_length_of(response);
      return with_content_length(response, value);
    });
  };
  declare("1073741824");
  proxy_->set_mode(TamperProxy::Mode::rewrite, kSealed);
  auto r = client({"ls", "/"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  {
    std::lock_guard lock(m);
    EXPECT_EQ(r.err,
              "minihttps: the answer's Content-Length 1073741824 is not the length of the stream its head announces (" +
                  genuine + ")\n");
  }
  EXPECT_EQ(r.out, "");

  TempDir out;
  const std::uint64_t stream = stream::Layout::whole(kBigFile, kChunk).stream_length();
  for (const std::uint64_t declared : {stream - 100, stream + 100}) {
    declare(std::to_string(declared));
    r = client({"get", "big.bin", "-o", (out / "big.bin").string()});
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_EQ(r.err, "minihttps: the answer's Content-Length " + std::to_string(declared) +
                         " is not the length of the stream its head announces (" + std::to_string(stream) + ")\n");
    EXPECT_EQ(entries_in(out.path()), 0u);
  }
}

TEST_F(ResponseFraming, UntouchedResponsesStillWork) {
  TempDir out;
  const auto r = client({"get", "big.bin", "-o", (out / "big.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fs::file_size(out / "big.bin"), kBigFile);
  EXPECT_EQ(client({"ls", "/"}).exit_code, 0);
}

}  // namespace
}  // namespace mh::test
