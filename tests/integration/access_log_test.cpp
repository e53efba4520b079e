// --access-log FILE (issue 15): Combined Log Format lines with a UTC offset in every timestamp,
// Apache's %X connection status ("X" for a response the connection broke off: an aborted download
// is never logged as a complete 200) and %D microseconds; the console log gets no access lines then.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The log's lines once one of them contains `needle` (or what it has after 10 s).
std::vector<std::string> wait_lines(const fs::path& log, const std::string& needle) {
  std::vector<std::string> lines;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    lines.clear();
    std::istringstream in(fs::exists(log) ? read_file(log) : "");
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    if (!lines.empty() && lines.back().find(needle) != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  return lines;
}

const std::string kTime =
    R"(\[\d\d/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\])";

TEST(AccessLog, CombinedLogFormatWithOffsetStatusAndAbortedDownloads) {
  TempDir dir, home;
  fs::create_directories(dir / "www");
  write_file(dir / "www" / "hello.txt", "hello, world\n");
  write_file(dir / "www" / "big.bin", std::string(32 << 20, 'b'));
  const fs::path log = dir / "access.log";
  ServerOptions o = with_args({"--access-log", log.string()});
  o.root = dir / "www";
  ServerProcess server(o);
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server.url(), "--name", "logged", "--rsa-bits", "2048"})
                .exit_code,
            0);
  SignedClient c(home.path(), server.url());
  const std::string uuid = c.uuid().to_string();
  SignOptions plain;
  plain.sealed = false;  // so that the log names the file (a sealed request's target is inside its seal)

  // A complete answer on a connection that stays open.
  ASSERT_EQ(c.send("GET", "/hello.txt", plain).status, 200);
  // A request that no signature covers: 401, no client.
  const int raw = tcp_connect(server.port());
  ASSERT_TRUE(send_all(
      raw, "GET /x%22y\\z HTTP/1.1\r\nHost: a\r\nUser-Agent: t\"e\\st\r\nReferer: r\r\nConnection: close\r\n\r\n"));
  char sink[4096];
  while (::read(raw, sink, sizeof sink) > 0) {}
  ::close(raw);
  // A download broken off by its client after a few bytes.
  const int cut = tcp_connect(server.port(), 16 * 1024);
  ASSERT_TRUE(send_all(cut, wire_head(c.build("GET", "/big.bin", plain).request, server.authority(), 0)));
  ASSERT_GT(::read(cut, sink, sizeof sink), 0);
  ::close(cut);

  const auto lines = wait_lines(log, "/big.bin");
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  const auto matching = [&](const std::string& re) {
    std::size_t n = 0;
    for (const auto& l : lines) n += std::regex_match(l, std::regex(re));
    return n;
  };
  EXPECT_EQ(matching("127\\.0\\.0\\.1 - " + uuid + " " + kTime +
                     R"( "GET /hello\.txt HTTP/1\.1" 200 \d+ "-" "minihttps/[0-9.]+" \+ \d+)"),
            1u)
      << all;
  EXPECT_EQ(
      matching("127\\.0\\.0\\.1 - - " + kTime + R"( "GET /x%22y\\\\z HTTP/1\.1" 401 \d+ "r" "t\\"e\\\\st" - \d+)"), 1u)
      << all;
  EXPECT_GE(matching("127\\.0\\.0\\.1 - - " + kTime +
                     R"( "POST /auth/handshake HTTP/1\.1" 200 \d+ "-" "minihttps/[0-9.]+" [+-] \d+)"),
            1u)
      << all;
  // The broken-off download: 200 as answered, the bytes that went out (less than the stream), "X".
  std::smatch m;
  bool aborted = false;
  for (const auto& l : lines)
    if (std::regex_match(l, m,
                         std::regex("127\\.0\\.0\\.1 - " + uuid + " " + kTime +
                                    R"( "GET /big\.bin HTTP/1\.1" 200 (\d+) "-" "-" X \d+)"))) {
      aborted = true;
      EXPECT_LT(std::stoull(m[2].str()), 32ull << 20) << l;
    }
  EXPECT_TRUE(aborted) << all;
  // Nothing of it in the console log.
  EXPECT_EQ(server.stderr_text().find(" access "), std::string::npos) << server.stderr_text();
}

// The offset is the server's own: under TZ=XYZ-5 (five hours east of UTC) both logs say +05.
TEST(AccessLog, EveryTimestampCarriesTheLocalOffset) {
  TempDir dir;
  const fs::path log = dir / "access.log";
  ServerOptions o = with_args({"--access-log", log.string()});
  o.env = {"TZ=XYZ-5"};
  ServerProcess server(o);
  net::HttpClient http(net::ServerUrl::parse(server.url()), 10s);
  ASSERT_EQ(http.send(net::Request{"GET", "/.well-known/minihttps", {}, {}, {}, {}, false}).status, 200);
  const auto lines = wait_lines(log, "/.well-known/minihttps");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex("127\\.0\\.0\\.1 - - \\[\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0500\\] "
                           "\"GET /\\.well-known/minihttps HTTP/1\\.1\" 200 \\d+ \"-\" \"[^\"]*\" \\+ \\d+")))
      << lines[0];
  const std::string err = server.stderr_text();
  std::istringstream in(err);
  std::size_t stamped = 0;
  for (std::string l; std::getline(in, l); ++stamped)
    EXPECT_TRUE(std::regex_search(l, std::regex("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\+05:00 "))) << l;
  EXPECT_GE(stamped, 1u) << err;
}

TEST(AccessLog, AnAccessLogThatCannotBeOpenedStopsTheStart) {
  TempDir dir;
  const auto r = run_server_binary({"--listen", "127.0.0.1:0", "--root", dir.path().string(), "--keys",
                                    (dir / "keys").string(), "--access-log", (dir / "no" / "such" / "log").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.err.find("cannot open the access log " + (dir / "no" / "such" / "log").string() +
                         ": No such file or directory\n") != std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace mh::test
