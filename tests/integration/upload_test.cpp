// Uploads end to end (docs/PROTOCOL.md §8): the CRC the server reports is the `cksum` command's;
// the confirm -> commit / discard -> retry path of the real client with 1, 3 and 4 corrupted
// attempts (a server built with the test-only fault hook); a PUT body is a request body stream,
// and every way of breaking it (a tampered chunk, a chunk of another request or of the response
// purpose, reordered, duplicated or dropped chunks, a stream cut short, a Content-Length that is
// no stream) is refused with its exact reason and leaves nothing; kill -9 mid-upload leaves
// nothing visible after a restart; another client can neither read, list, commit nor delete.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <functional>
#include <thread>

#include "core/cksum.hpp"
#include "core/stream.hpp"
#include "io/system_clock.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The streams of the wire-level tests are cut into 4 KiB chunks: 10000 bytes are three chunks
// (4096, 4096, 1808).
constexpr std::uint32_t kChunk = 4096;
constexpr std::size_t kThreeChunks = 10000;

void connect(const fs::path& home, const ServerProcess& s, const std::string& name) {
  const auto r = run_client(home, {"connect", "--server", s.url(), "--name", name, "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string system_cksum(const fs::path& f) {
  const auto r = run_process({"cksum", f.string()});
  return r.out.substr(0, r.out.find(' '));
}

std::string chunk_refused(int i) {
  return "upload: chunk " + std::to_string(i) +
         " does not verify (tampered, reordered, duplicated, or from another response)";
}

// The tokens of a body stream of `size` plaintext bytes, one string each.
std::vector<std::string> tokens_of(const std::string& stream, std::size_t size) {
  const auto layout = stream::Layout::whole(size, kChunk);
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::uint64_t i = 0; i < layout.chunk_count(); ++i) {
    out.push_back(stream.substr(at, layout.token_length(i)));
    at += out.back().size();
  }
  EXPECT_EQ(at, stream.size());
  return out;
}

std::string joined(const std::vector<std::string>& tokens) {
  std::string s;
  for (const auto& t : tokens) s += t;
  return s;
}

TEST(Uploads, CrcIsTheCksumCommandsAndTheFileComesBackExactly) {
  ServerProcess server;
  TempDir home, work;
  connect(home.path(), server, "uploader");
  const Bytes data = pattern_bytes((2u << 20) + 7, 3);
  write_file(work / "data.bin", as_chars(data));
  const auto r = run_client(home.path(), {"put", (work / "data.bin").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "uploaded data.bin (" + std::to_string(data.size()) + " bytes, cksum " +
                       system_cksum(work / "data.bin") + ")\n");
  auto ls = run_client(home.path(), {"ls", "-l", "--uploads"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find(std::to_string(data.size()) + "  "), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("data.bin"), std::string::npos) << ls.out;
  const auto get = run_client(home.path(), {"get", "--uploads", "data.bin", "-o", (work / "back.bin").string()});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(read_file(work / "back.bin"), as_chars(data));
  // The stored file is the plaintext, in the client's private area, and nothing else is left.
  const auto files = files_below(server.upload_dir());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename(), "data.bin");
  EXPECT_EQ(read_file(server.upload_dir() / files[0]), as_chars(data));
  // A second put replaces it atomically; rm removes it.
  write_file(work / "data.bin", "new content\n");
  ASSERT_EQ(run_client(home.path(), {"put", (work / "data.bin").string()}).exit_code, 0);
  EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "data.bin"}).out, "new content\n");
  const auto rm = run_client(home.path(), {"rm", "data.bin"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, "removed data.bin\n");
  EXPECT_TRUE(files_below(server.upload_dir()).empty());
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
    EXPECT_NE(r.err.find("attempt " + std::to_string(i) + ": the server stored 36 bytes with CRC "), std::string::npos)
        << r.err;
  if (bad < 4) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "uploaded f.txt (36 bytes, cksum " + crc + ", after " + std::to_string(bad + 1) + " attempts)\n");
    EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "f.txt"}).out, "payload that the server will damage\n");
    // Discarded attempts leave nothing behind: only the committed file.
    const auto files = files_below(server.upload_dir());
    ASSERT_EQ(files.size(), 1u) << ::testing::PrintToString(files);
    EXPECT_EQ(fs::path(files[0]).filename(), "f.txt");
  } else {
    EXPECT_EQ(r.exit_code, 5) << r.err;
    EXPECT_NE(r.err.find("put f.txt: the server's checksum did not match ours in 4 attempts; nothing was stored"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("giving up"), std::string::npos) << r.err;
    EXPECT_TRUE(files_below(server.upload_dir()).empty());
    EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "f.txt"}).exit_code, 1);
  }
}
INSTANTIATE_TEST_SUITE_P(BadAttempts, RetryPath, ::testing::Values(1, 3, 4));

// ---- the request body stream, attacked on the wire ------------------------------------------------

class UploadAttacks : public ::testing::Test {
 protected:
  ServerProcess server{with_args({"--chunk-size", std::to_string(kChunk)})};
  TempDir home, work;
  void SetUp() override { connect(home.path(), server, "attacker"); }

  // A sealed PUT /.uploads/NAME whose body `make` builds from the request's binding B: the body is
  // not signed (its keys bind it), so a test may send any bytes under a valid signature.
  Reply put(SignedClient& c, const std::string& name, const std::function<std::string(const Binding&)>& make) {
    Built b = c.build("PUT", "/.uploads/" + name, {}, "-", true);
    b.request.body = make(b.binding);
    b.request.has_body = !b.request.body.empty();
    return c.open(c.send_raw(b.request), b.binding);
  }
  // The refusal is a sealed answer (the request verified) with that status and reason, and
  // nothing of the body was kept.
  void expect_refused(const Reply& r, int status, const std::string& reason) {
    EXPECT_TRUE(r.sealed) << "refused in clear: " << r.body;
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.reason(), reason);
    EXPECT_EQ(files_below(server.upload_dir()), std::vector<std::string>{});
  }
};

TEST_F(UploadAttacks, AStreamOfManyChunksIsStoredExactlyAndCommitted) {
  SignedClient c(home.path(), server.url());
  ASSERT_EQ(c.chunk_size(), kChunk);
  const Bytes data = pattern_bytes(kThreeChunks, 7);
  const std::int64_t before = std::time(nullptr);
  const auto r = c.send("PUT", "/.uploads/three.bin", {}, std::string(as_chars(data)));
  const std::int64_t after = std::time(nullptr);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["name"], "three.bin");
  EXPECT_EQ(j["size"], kThreeChunks);
  EXPECT_EQ(j["cksum"], cksum(data));
  const std::string id = j["attempt"];
  EXPECT_EQ(id.size(), 32u);
  EXPECT_GE(j["expires"].get<std::int64_t>(), before + 600);  // --upload-timeout's default
  EXPECT_LE(j["expires"].get<std::int64_t>(), after + 600);
  // Pending, it is not visible; committed, it is the plaintext.
  EXPECT_EQ(c.send("GET", "/.uploads/three.bin").status, 404);
  const auto commit = c.send("POST", "/.uploads/three.bin?commit=" + id);
  EXPECT_EQ(commit.status, 201);
  EXPECT_EQ(nlohmann::json::parse(commit.body),
            (nlohmann::json{{"name", "three.bin"}, {"size", kThreeChunks}, {"cksum", cksum(data)}}));
  EXPECT_EQ(c.send("GET", "/.uploads/three.bin").body, as_chars(data));
  EXPECT_EQ(c.send("POST", "/.uploads/three.bin?commit=" + id).status, 404);  // spent
}

TEST_F(UploadAttacks, TamperedChunkIsRefusedAndLeavesNothing) {
  SignedClient c(home.path(), server.url());
  const std::string data(kThreeChunks, 'x');
  expect_refused(put(c, "evil.bin",
                     [&](const Binding& b) {
                       auto tokens = tokens_of(body_stream(c, b, data), data.size());
                       char& ch = tokens[1][tokens[1].size() / 2];
                       ch = ch == 'A' ? 'B' : 'A';
                       return joined(tokens);
                     }),
                 400, chunk_refused(1));
}

TEST_F(UploadAttacks, ChunkMadeForAnotherRequestIsRefused) {
  SignedClient c(home.path(), server.url());
  const Built other = c.build("PUT", "/.uploads/other.bin", {}, "-", true);
  expect_refused(
      put(c, "moved.bin", [&](const Binding&) { return body_stream(c, other.binding, "another request's body"); }), 400,
      chunk_refused(0));
}

// The purpose in the key keeps an upload chunk from being a response chunk, and the other way round.
TEST_F(UploadAttacks, ChunkOfTheResponseBodyPurposeIsRefused) {
  SignedClient c(home.path(), server.url());
  const std::string data = "a response chunk reflected as an upload";
  expect_refused(put(c, "reflected.bin",
                     [&](const Binding& b) {
                       io::SystemClock clock;
                       stream::StreamWriter w(c.secret(), KeyPurpose::response_body, b,
                                              stream::Layout::whole(data.size(), kChunk), clock);
                       std::string out;
                       w.write(as_bytes(data), out);
                       w.finish(out);
                       return out;
                     }),
                 400, chunk_refused(0));
}

TEST_F(UploadAttacks, ReorderedDuplicatedOrDroppedChunksAreRefused) {
  SignedClient c(home.path(), server.url());
  const std::string data(as_chars(pattern_bytes(kThreeChunks, 11)));
  struct Case {
    const char* what;
    std::vector<int> order;  // which tokens of the real stream, in which order
    int refused;             // the first index that does not open
  };
  for (const Case& k : {Case{"swapped", {1, 0, 2}, 0}, Case{"duplicated", {0, 0, 2}, 1}, Case{"dropped", {0, 2}, 1},
                        Case{"final first", {2, 1, 0}, 0}}) {
    SCOPED_TRACE(k.what);
    expect_refused(put(c, "shuffled.bin",
                       [&](const Binding& b) {
                         const auto tokens = tokens_of(body_stream(c, b, data), data.size());
                         std::vector<std::string> sent;
                         for (const int i : k.order) sent.push_back(tokens[static_cast<std::size_t>(i)]);
                         return joined(sent);
                       }),
                   400, chunk_refused(k.refused));
  }
}

// A stream that stops early: a Content-Length of the first two chunks ends on a chunk not
// sealed as the last; the whole length with the connection half-closed after two chunks is a
// stream that ended before its last chunk.
TEST_F(UploadAttacks, StreamCutBeforeItsLastChunkIsRefused) {
  SignedClient c(home.path(), server.url());
  const std::string data(kThreeChunks, 'c');
  expect_refused(put(c, "cut.bin",
                     [&](const Binding& b) {
                       auto tokens = tokens_of(body_stream(c, b, data), data.size());
                       tokens.pop_back();
                       return joined(tokens);
                     }),
                 400, chunk_refused(1));

  Built b = c.build("PUT", "/.uploads/cut.bin", {}, data);
  const auto tokens = tokens_of(b.request.body, data.size());
  const int fd = tcp_connect(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, wire_head(b.request, server.authority(), b.request.body.size()) + tokens[0] + tokens[1]));
  ::shutdown(fd, SHUT_WR);
  const Received raw = read_until_closed(fd, 20s);
  ::close(fd);
  EXPECT_TRUE(raw.eof);
  expect_refused(c.open(parse_wire_answer(raw.data), b.binding), 400,
                 "upload: the stream ended after chunk 1, before its last chunk: the output is incomplete");
}

TEST_F(UploadAttacks, ContentLengthThatIsNotAStreamIs400) {
  SignedClient c(home.path(), server.url());
  const std::uint64_t full = stream::token_length(kChunk);
  for (const std::uint64_t length :
       {std::uint64_t{1}, std::uint64_t{99}, std::uint64_t{101}, full + 50, 2 * full + 99}) {
    SCOPED_TRACE(length);
    expect_refused(
        put(c, "odd.bin", [&](const Binding&) { return std::string(length, 'A'); }), 400,
        "stream: length " + std::to_string(length) + " is not a stream of chunk size " + std::to_string(kChunk));
  }
}

TEST_F(UploadAttacks, CommitOfAnUnknownOrForeignAttemptIs404) {
  SignedClient c(home.path(), server.url());
  const auto r = c.send("POST", "/.uploads/x.txt?commit=00112233445566778899aabbccddeeff");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.reason(), "upload: no such attempt (expired, discarded or never made)");
  // An id that is not 32 hex digits is malformed, not unknown (PROTOCOL.md §8 "In parts").
  const auto malformed = c.send("POST", "/.uploads/x.txt?commit=../../etc");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.reason(),
            "upload: commit takes 1 to 64 distinct attempt ids (32 hex digits), separated by commas");
  // A name may hold directories (PROTOCOL.md §8); its segments follow §7.4 like any path.
  EXPECT_EQ(c.send("PUT", "/.uploads/a/b", {}, "x").status, 200);
  EXPECT_EQ(c.send("PUT", "/.uploads/a/.b", {}, "x").status, 403);
  EXPECT_EQ(c.send("PUT", "/.uploads/..%2fx", {}, "x").status, 403);
  // At most 32 segments after the area's own name (§7.4's limit, on what follows /.uploads).
  std::string deep = "/.uploads";
  for (int i = 0; i < 32; ++i) deep += "/d";
  EXPECT_EQ(c.send("PUT", deep, {}, "x").status, 200);
  const auto too_deep = c.send("PUT", deep + "/d", {}, "x");
  EXPECT_EQ(too_deep.status, 400);
  EXPECT_EQ(too_deep.reason(), "path: too many segments");
  // Only PUT takes a body.
  const Built with_body = c.build("POST", "/.uploads/x.txt?commit=00112233445566778899aabbccddeeff", {}, "body", true);
  const auto refused = c.open(c.send_raw(with_body.request), with_body.binding);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.reason(), "upload: only PUT takes a body");
  // An attempt belongs to its name and its client.
  const auto p = c.send("PUT", "/.uploads/mine.txt", {}, "mine\n");
  ASSERT_EQ(p.status, 200) << p.body;
  const std::string id = nlohmann::json::parse(p.body)["attempt"];
  EXPECT_EQ(c.send("POST", "/.uploads/other.txt?commit=" + id).status, 404);
  TempDir bob_home;
  connect(bob_home.path(), server, "bob");
  SignedClient bob(bob_home.path(), server.url());
  EXPECT_EQ(bob.send("POST", "/.uploads/mine.txt?commit=" + id).reason(),
            "upload: no such attempt (expired, discarded or never made)");
  EXPECT_EQ(bob.send("DELETE", "/.uploads/mine.txt?attempt=" + id).status, 404);
  EXPECT_EQ(c.send("POST", "/.uploads/mine.txt?commit=" + id).status, 201);
  EXPECT_EQ(bob.send("GET", "/.uploads/mine.txt").status, 404);
}

// A discard with a malformed query must not fall back to deleting the committed file.
TEST_F(UploadAttacks, DeleteWithAMalformedAttemptQueryIs400AndKeepsTheFile) {
  write_file(work.path() / "keep.txt", "keep me\n");
  ASSERT_EQ(run_client(home.path(), {"put", (work.path() / "keep.txt").string()}).exit_code, 0);
  SignedClient c(home.path(), server.url());
  for (const std::string q : {"?attempt=", "?attempt", "?x=1", "?"}) {
    const auto r = c.send("DELETE", "/.uploads/keep.txt" + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_EQ(r.reason(), "upload: DELETE takes ?attempt=ID or no query") << q;
  }
  const auto got = run_client(home.path(), {"get", "--uploads", "keep.txt"});
  EXPECT_EQ(got.out, "keep me\n") << got.err;
  EXPECT_EQ(c.send("DELETE", "/.uploads/keep.txt").status, 204);
}

// The private area is /.uploads/, a name no served file can have: a served folder named uploads/
// is served like any other, next to the client's own uploads (issue 15).
TEST(Uploads, AServedFolderNamedUploadsIsServedNotShadowed) {
  TempDir dir, home, work;
  fs::create_directories(dir / "www" / "uploads");
  write_file(dir / "www" / "uploads" / "served.txt", "served, not uploaded\n");
  ServerOptions o;
  o.root = dir / "www";
  ServerProcess server(o);
  connect(home.path(), server, "shadow");
  write_file(work / "served.txt", "uploaded\n");
  ASSERT_EQ(run_client(home.path(), {"put", (work / "served.txt").string()}).exit_code, 0);
  const auto served = run_client(home.path(), {"get", "uploads/served.txt"});
  EXPECT_EQ(served.exit_code, 0) << served.err;
  EXPECT_EQ(served.out, "served, not uploaded\n");
  const auto listed = run_client(home.path(), {"ls", "uploads"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("served.txt"), std::string::npos) << listed.out;
  EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "served.txt"}).out, "uploaded\n");
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
  EXPECT_EQ(get.err, "minihttps: get /.uploads/secret.txt: file: not found\n");
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
  EXPECT_EQ(files_below(server.upload_dir()).size(), 3u);
}

TEST(UploadCrash, KillDashNineMidUploadLeavesNothingVisibleAfterRestart) {
  ServerOptions o;
  TempDir keep;
  o.upload_dir = keep / "uploads";
  ServerProcess server(o);
  TempDir home;
  connect(home.path(), server, "crasher");
  SignedClient c(home.path(), server.url());
  const Built req = c.build("PUT", "/.uploads/partial.bin", {}, std::string(4 << 20, 'k'));
  // Send the head and half of the body by hand, then kill the server while it waits for more.
  const int fd = tcp_connect(server.port());
  ASSERT_GE(fd, 0);
  const std::string& body = req.request.body;
  ASSERT_TRUE(send_all(fd, wire_head(req.request, server.authority(), body.size()) + body.substr(0, body.size() / 2)));
  // Wait until the server has started writing the attempt.
  bool writing = false;
  for (int i = 0; i < 250 && !writing; ++i) {
    for (const auto& f : files_below(server.upload_dir())) writing = writing || f.find(".part") != std::string::npos;
    if (!writing) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(writing) << "the server never started the attempt";
  server.kill(SIGKILL);
  EXPECT_EQ(server.wait_exit(5s), 128 + SIGKILL);
  ::close(fd);
  EXPECT_FALSE(files_below(server.upload_dir()).empty());  // the debris is there...
  server.restart();
  EXPECT_TRUE(files_below(server.upload_dir()).empty());  // ...and gone at start-up
  const auto ls = run_client(home.path(), {"ls", "--uploads"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, "");
}

}  // namespace
}  // namespace mh::test
