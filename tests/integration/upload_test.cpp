// Uploads end to end (issue 5): the CRC the server reports is the `cksum` command's; the retry
// path with 1, 3 and 4 corrupted attempts (a server built with the test-only fault hook); a
// tampered or truncated body leaves nothing; kill -9 mid-upload leaves nothing visible after a
// restart; another client can neither read, list nor delete; 413 and 507 limits.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/cksum.hpp"
#include "core/fernet.hpp"
#include "core/httpsig.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string connect(const fs::path& home, const ServerProcess& s, const std::string& name) {
  const auto r = run_client(home, {"connect", "--server", s.url(), "--name", name, "--rsa-bits", "2048"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::string system_cksum(const fs::path& f) {
  const auto r = run_process({"cksum", f.string()});
  return r.out.substr(0, r.out.find(' '));
}

// Every file under the server's upload directory (committed or not).
std::vector<std::string> stored_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).string());
  return out;
}

TEST(Uploads, CrcIsTheCksumCommandsAndTheFileComesBackExactly) {
  ServerProcess server;
  TempDir home, work;
  connect(home.path(), server, "uploader");
  const Bytes data = pattern_bytes((2u << 20) + 7, 3);
  write_file(work / "data.bin", as_chars(data));
  const auto r = run_client(home.path(), {"put", (work / "data.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "uploaded data.bin (" + std::to_string(data.size()) + " bytes, cksum " + system_cksum(work / "data.bin") + ")\n");
  auto ls = run_client(home.path(), {"ls", "--uploads"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find(std::to_string(data.size()) + "  "), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("data.bin"), std::string::npos) << ls.out;
  const auto get = run_client(home.path(), {"get", "--uploads", "data.bin", "-o", (work / "back.bin").string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(read_file(work / "back.bin"), as_chars(data));
  // The stored file is the plaintext, in the client's private area, and nothing else is left.
  const auto files = stored_files(server.upload_dir());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename(), "data.bin");
  // A second put replaces it atomically; rm removes it.
  write_file(work / "data.bin", "new content\n");
  ASSERT_EQ(run_client(home.path(), {"put", (work / "data.bin").string()}).exit_code, 0);
  EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "data.bin"}).out, "new content\n");
  const auto rm = run_client(home.path(), {"rm", "data.bin"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, "removed data.bin\n");
  EXPECT_TRUE(stored_files(server.upload_dir()).empty());
}

class RetryPath : public ::testing::TestWithParam<int> {};

TEST_P(RetryPath, CorruptedAttemptsAreRetriedUpToFourTimes) {
  const int bad = GetParam();
  ServerOptions o = with_args({"--test-corrupt-uploads", std::to_string(bad)});
  o.binary = faulty_server_binary();
  ServerProcess server(o);
  TempDir home, work;
  connect(home.path(), server, "retrier");
  write_file(work / "f.txt", "payload that the server will damage\n");
  const auto r = run_client(home.path(), {"put", (work / "f.txt").string()});
  const std::string crc = system_cksum(work / "f.txt");
  // Each bad attempt is reported and discarded.
  for (int i = 1; i <= std::min(bad, 4); ++i)
    EXPECT_NE(r.err.find("attempt " + std::to_string(i) + ": the server stored 36 bytes with CRC "), std::string::npos) << r.err;
  if (bad < 4) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "uploaded f.txt (36 bytes, cksum " + crc + ", after " + std::to_string(bad + 1) + " attempts)\n");
    EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "f.txt"}).out, "payload that the server will damage\n");
  } else {
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_NE(r.err.find("put f.txt: the server's checksum did not match ours in 4 attempts; nothing was stored"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("giving up"), std::string::npos) << r.err;
    EXPECT_TRUE(stored_files(server.upload_dir()).empty());
    EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "f.txt"}).exit_code, 1);
  }
  // Discarded attempts leave nothing behind.
  if (bad < 4) {
    EXPECT_EQ(stored_files(server.upload_dir()).size(), 1u);
  }
}
INSTANTIATE_TEST_SUITE_P(BadAttempts, RetryPath, ::testing::Values(1, 3, 4));

class UploadAttacks : public ::testing::Test {
 protected:
  ServerProcess server;
  TempDir home, work;
  void SetUp() override { connect(home.path(), server, "attacker"); }

  static std::string reason_of(const net::ClientResponse& r) {
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("reason", "") : "";
  }
};

TEST_F(UploadAttacks, TamperedTokenIsRefusedAndLeavesNothing) {
  SignedClient c(home.path(), server.url());
  std::string token = fernet_encrypt(c.session_key(), as_bytes(std::string(5000, 'x')), std::time(nullptr));
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';  // signed and digested as is
  const auto r = c.send("PUT", "/uploads/evil.bin", {}, token);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(reason_of(r), "fernet: token MAC does not verify");
  EXPECT_TRUE(stored_files(server.upload_dir()).empty());
}

TEST_F(UploadAttacks, TruncatedTokenIsRefusedAndLeavesNothing) {
  SignedClient c(home.path(), server.url());
  const std::string token = fernet_encrypt(c.session_key(), as_bytes(std::string(5000, 'x')), std::time(nullptr));
  const auto r = c.send("PUT", "/uploads/cut.bin", {}, token.substr(0, token.size() - 100));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(reason_of(r).rfind("fernet: ", 0), 0u) << reason_of(r);
  EXPECT_TRUE(stored_files(server.upload_dir()).empty());
}

TEST_F(UploadAttacks, BodyThatIsNotTheSignedOneIsRefused) {
  SignedClient c(home.path(), server.url());
  const std::string good = fernet_encrypt(c.session_key(), as_bytes("good"), std::time(nullptr));
  const std::string other = fernet_encrypt(c.session_key(), as_bytes("evil"), std::time(nullptr));
  net::Request req = c.build("PUT", "/uploads/swap.txt", {}, good);
  req.body = other;  // same length, another (valid) token
  const auto r = c.send_raw(req);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason_of(r), "signature: body does not match content-digest");
  EXPECT_TRUE(stored_files(server.upload_dir()).empty());
}

TEST_F(UploadAttacks, CommitOfAnUnknownOrForeignAttemptIs404) {
  SignedClient c(home.path(), server.url());
  const auto r = c.send("POST", "/uploads/x.txt?commit=00112233445566778899aabbccddeeff");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(reason_of(r), "upload: no such attempt (expired, discarded or never made)");
  EXPECT_EQ(c.send("POST", "/uploads/x.txt?commit=../../etc").status, 404);
  EXPECT_EQ(c.send("PUT", "/uploads/a/b").status, 400);
  EXPECT_EQ(c.send("PUT", "/uploads/..%2fx").status, 403);
}

// A discard with a malformed query must not fall back to deleting the committed file.
TEST_F(UploadAttacks, DeleteWithAMalformedAttemptQueryIs400AndKeepsTheFile) {
  write_file(work.path() / "keep.txt", "keep me\n");
  ASSERT_EQ(run_client(home.path(), {"put", (work.path() / "keep.txt").string()}).exit_code, 0);
  SignedClient c(home.path(), server.url());
  for (const std::string q : {"?attempt=", "?attempt", "?x=1", "?"}) {
    const auto r = c.send("DELETE", "/uploads/keep.txt" + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_EQ(reason_of(r), "upload: DELETE takes ?attempt=ID or no query") << q;
  }
  const auto got = run_client(home.path(), {"get", "--uploads", "keep.txt"});
  EXPECT_EQ(got.out, "keep me\n") << got.err;
  EXPECT_EQ(c.send("DELETE", "/uploads/keep.txt").status, 204);
}

TEST(UploadPrivacy, AnotherClientCannotReadListOrDelete) {
  ServerProcess server;
  TempDir alice, bob, work;
  connect(alice.path(), server, "alice");
  connect(bob.path(), server, "bob");
  write_file(work / "secret.txt", "alice's secret\n");
  ASSERT_EQ(run_client(alice.path(), {"put", (work / "secret.txt").string()}).exit_code, 0);
  const auto ls = run_client(bob.path(), {"ls", "--uploads"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, "");
  const auto get = run_client(bob.path(), {"get", "--uploads", "secret.txt"});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_EQ(get.err, "minihttps: get /uploads/secret.txt: file: not found\n");
  const auto rm = run_client(bob.path(), {"rm", "secret.txt"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_EQ(rm.err, "minihttps: rm secret.txt: upload: no such upload\n");
  EXPECT_EQ(run_client(alice.path(), {"get", "--uploads", "secret.txt"}).out, "alice's secret\n");
}

// Each file counts at least one block (4096 bytes) against the quota: three small files fill 12288.
TEST(UploadLimits, SizeLimitIs413AndQuotaIs507) {
  ServerProcess server(with_args({"--max-upload-size", "1000", "--upload-quota", "12288"}));
  TempDir home, work;
  connect(home.path(), server, "limited");
  write_file(work / "big", std::string(2000, 'b'));
  write_file(work / "ok", std::string(900, 'o'));
  auto r = run_client(home.path(), {"put", (work / "big").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "minihttps: put big: upload: larger than the server's limit of 1000 bytes\n");
  for (const char* name : {"a", "b", "c"}) {
    r = run_client(home.path(), {"put", (work / "ok").string(), name});
    EXPECT_EQ(r.exit_code, 0) << name << r.err;
  }
  r = run_client(home.path(), {"put", (work / "ok").string(), "d"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "minihttps: put d: upload: your quota of 12288 bytes would be exceeded\n");
  EXPECT_EQ(stored_files(server.upload_dir()).size(), 3u);
}

TEST(UploadCrash, KillDashNineMidUploadLeavesNothingVisibleAfterRestart) {
  ServerOptions o;
  TempDir keep;
  o.upload_dir = keep / "uploads";
  ServerProcess server(o);
  TempDir home;
  connect(home.path(), server, "crasher");
  SignedClient c(home.path(), server.url());
  const std::string token = fernet_encrypt(c.session_key(), as_bytes(std::string(4 << 20, 'k')), std::time(nullptr));
  const net::Request req = c.build("PUT", "/uploads/partial.bin", {}, token);
  // Send the head and half of the body by hand, then kill the server while it waits for more.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string head = "PUT /uploads/partial.bin HTTP/1.1\r\nHost: " + server.authority() + "\r\nContent-Length: " +
                     std::to_string(token.size()) + "\r\n";
  for (const auto& h : req.headers) head += h.name + ": " + h.value + "\r\n";
  head += "\r\n";
  const std::string half = head + token.substr(0, token.size() / 2);
  ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
  // Wait until the server has started writing the attempt.
  bool writing = false;
  for (int i = 0; i < 100 && !writing; ++i) {
    for (const auto& f : stored_files(server.upload_dir())) writing = writing || f.find(".part") != std::string::npos;
    if (!writing) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(writing) << "the server never started the attempt";
  server.kill(SIGKILL);
  EXPECT_EQ(server.wait_exit(5s), 128 + SIGKILL);
  ::close(fd);
  EXPECT_FALSE(stored_files(server.upload_dir()).empty());  // the debris is there...
  server.restart();
  EXPECT_TRUE(stored_files(server.upload_dir()).empty());   // ...and gone at start-up
  const auto ls = run_client(home.path(), {"ls", "--uploads"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, "");
}

}  // namespace
}  // namespace mh::test
