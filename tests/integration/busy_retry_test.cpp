// A busy server (429, 503 with Retry-After) to the real client: a get or a put is sent again after
// the seconds the answer asks, at most 3 times, each with a notice on stderr (none with -q); then
// the refusal is reported as always (exit 1). An rm (DELETE) is never sent again by itself. The
// real minihttpsd says 429 once a client holds its share of the remembered request nonces
// (--replay-per-client): every request after that, within the replay window, is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {

constexpr int kShare = 16;  // the smallest --replay-per-client

const std::string kRefused = "signature: too many requests from this client within the replay window; slow down";
const std::string kNotices =
    "server busy (429): retrying in 1 s\nserver busy (429): retrying in 1 s\nserver busy (429): retrying in 1 s\n";

class BusyServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The replay window (2 * --max-skew + 1 seconds) outlasts the whole suite: once the share is
    // spent, every request of the client is refused.
    server_ = new ServerProcess(with_args({"--replay-per-client", std::to_string(kShare), "--max-skew", "600"}));
    home_ = new TempDir();
    const auto r = run_client(
        home_->path(), {"--quiet", "connect", "--server", server_->url(), "--name", "busy", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    SignedClient spender(home_->path(), server_->url());
    for (int i = 0; i < kShare; ++i) ASSERT_EQ(spender.send("GET", "/hello.txt").status, 200) << i;
    const Reply refused = spender.send("GET", "/hello.txt");
    ASSERT_EQ(refused.status, 429);
    ASSERT_EQ(refused.header("Retry-After").value_or(""), "1");
  }
  static void TearDownTestSuite() {
    delete home_;
    delete server_;
  }
  static CommandResult client(const std::vector<std::string>& args) { return run_client(home_->path(), args); }

  static ServerProcess* server_;
  static TempDir* home_;
};
ServerProcess* BusyServer::server_ = nullptr;
TempDir* BusyServer::home_ = nullptr;

TEST_F(BusyServer, GetIsRetriedThreeTimesThenFails) {
  const CommandResult r = client({"get", "hello.txt"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, kNotices + "minihttps: get /hello.txt: " + kRefused + "\n");
}

TEST_F(BusyServer, QuietRetriesWithoutNotices) {
  const CommandResult r = client({"-q", "get", "hello.txt"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "minihttps: get /hello.txt: " + kRefused + "\n");
}

TEST_F(BusyServer, PutIsRetriedAndNothingIsStored) {
  const TempDir dir;
  write_file(dir / "note.txt", "a small upload\n");
  const CommandResult r = client({"put", (dir / "note.txt").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, kNotices + "minihttps: put note.txt: " + kRefused + "\n");
  for (const auto& e : std::filesystem::recursive_directory_iterator(server_->upload_dir()))
    EXPECT_FALSE(e.is_regular_file()) << e.path();
}

TEST_F(BusyServer, RmIsNotRetried) {
  const CommandResult r = client({"rm", "note.txt"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "minihttps: rm note.txt: " + kRefused + "\n");
}

}  // namespace
}  // namespace mh::test
