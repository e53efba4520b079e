// `ls` and `whoami` as file tools show them: names (directories with '/'), `-l` with sizes in bytes
// and local modification times in ls's format, `-h` with KiB/MiB, `ls FILE` showing that one file,
// errors that name the user's path (never the request target behind it), and `--json` for `ls`
// and `whoami` with the field names the README documents. The real client against a real server.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>

#include <nlohmann/json.hpp>

#include "support/server_process.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

void set_mtime(const fs::path& p, std::int64_t t) {
  const timespec times[2] = {{static_cast<time_t>(t), 0}, {static_cast<time_t>(t), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0) << p;
}

std::string utc_format(std::int64_t t, const char* format) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// A served folder of known names, sizes and times. The client shows local time: TZ=UTC for the
// test process is inherited by the client it runs.
class Listing : public ::testing::Test {
 protected:
  static constexpr std::int64_t kOld = 1748781296;  // 2025-06-01T12:34:56Z: more than six months ago

  Listing() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    fs::create_directories(root_ / "docs" / "sub");
    write_file(root_ / "docs" / "a.txt", "twelve bytes");
    write_file(root_ / "docs" / "big.bin", std::string(1536000, 'b'));  // 1.46 MiB
    write_file(root_ / "docs" / "mid.bin", std::string(20000, 'm'));    // 19.5 KiB
    set_mtime(root_ / "docs" / "a.txt", kOld);
    set_mtime(root_ / "docs" / "big.bin", recent_);
    set_mtime(root_ / "docs" / "mid.bin", recent_);
  }
  void SetUp() override {
    const auto r =
        run_client(home_.path(), {"connect", "--server", server_.url(), "--name", "lister", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
  }
  CommandResult client(const std::vector<std::string>& args) { return run_client(home_.path(), args); }
  ServerOptions options() {
    ServerOptions o;
    o.root = root_.path();
    return o;
  }

  TempDir root_, home_;
  const std::int64_t recent_ = static_cast<std::int64_t>(std::time(nullptr)) - 3600;
  ServerProcess server_{options()};
};

TEST_F(Listing, PlainLsShowsNamesWithASlashAfterDirectories) {
  const auto r = client({"ls", "docs"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "a.txt\nbig.bin\nmid.bin\nsub/\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(Listing, LongFormatHasBytesAndLsLikeLocalTimes) {
  const auto r = client({"ls", "-l", "/docs/"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string recent = utc_format(recent_, "%b %e %H:%M");
  EXPECT_EQ(r.out,
            "file          12  Jun  1  2025  a.txt\n"
            "file     1536000  " +
                recent +
                "  big.bin\n"
                "file       20000  " +
                recent +
                "  mid.bin\n"
                "dir            -                sub/\n");
}

TEST_F(Listing, HumanSizesInBinaryUnits) {
  const auto r = client({"ls", "-h", "docs"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string recent = utc_format(recent_, "%b %e %H:%M");
  EXPECT_EQ(r.out,
            "file        12 B  Jun  1  2025  a.txt\n"
            "file     1.5 MiB  " +
                recent +
                "  big.bin\n"
                "file      20 KiB  " +
                recent +
                "  mid.bin\n"
                "dir            -                sub/\n");
  EXPECT_EQ(client({"ls", "-lh", "docs"}).out, r.out);
}

TEST_F(Listing, LsOfAFileShowsThatFile) {
  auto r = client({"ls", "docs/a.txt"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "a.txt\n");
  r = client({"ls", "-l", "/docs/a.txt"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "file          12  Jun  1  2025  a.txt\n");
}

TEST_F(Listing, ErrorsNameTheUsersPathNotTheRequestTarget) {
  auto r = client({"ls", "docs/nope"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: ls docs/nope: no such file or directory\n");
  EXPECT_EQ(r.out, "");
  r = client({"ls", "nothere/a.txt"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: ls nothere/a.txt: no such file or directory\n");
  r = client({"ls", "--uploads", "missing"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: ls missing: no such file or directory\n");
  // A refused path keeps the server's reason, after the user's path.
  r = client({"ls", "docs/.hidden"});
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err, "minihttps: ls docs/.hidden: path: hidden name\n");
}

TEST_F(Listing, LsJsonHasStableFieldsAndValues) {
  auto r = client({"ls", "--json", "docs"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_EQ(r.out.back(), '\n');
  const json j = json::parse(r.out);
  EXPECT_EQ(j["path"], "/docs/");
  EXPECT_EQ(j["truncated"], false);
  ASSERT_EQ(j["entries"].size(), 4u) << r.out;
  EXPECT_EQ(j["entries"][0], json({{"name", "a.txt"}, {"type", "file"}, {"size", 12}, {"mtime", kOld}}));
  EXPECT_EQ(j["entries"][1], json({{"name", "big.bin"}, {"type", "file"}, {"size", 1536000}, {"mtime", recent_}}));
  EXPECT_EQ(j["entries"][3], json({{"name", "sub"}, {"type", "dir"}}));
  r = client({"ls", "--json", "docs/a.txt"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(json::parse(r.out),
            json({{"path", "/docs/a.txt"},
                  {"entries", json::array({{{"name", "a.txt"}, {"type", "file"}, {"size", 12}, {"mtime", kOld}}})},
                  {"truncated", false}}));
  r = client({"ls", "--json", "--uploads"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(json::parse(r.out), json({{"path", "/"}, {"entries", json::array()}, {"truncated", false}}));
}

TEST_F(Listing, WhoamiJsonHasStableFieldsAndValues) {
  const auto plain = client({"whoami"});
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  const auto r = client({"whoami", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out);
  EXPECT_EQ(j["name"], "lister");
  EXPECT_EQ(j["server"], server_.url());
  EXPECT_EQ(j["server_fingerprint"], server_.fingerprint());
  // The same values as the plain form's lines.
  for (const auto& [field, label] : {std::pair{"uuid", "uuid        "}, {"client_fingerprint", "your key    "}}) {
    const auto at = plain.out.find(label);
    ASSERT_NE(at, std::string::npos) << plain.out;
    EXPECT_EQ(j[field].get<std::string>(), plain.out.substr(at + 12, plain.out.find('\n', at) - at - 12)) << field;
  }
  EXPECT_EQ(j["uuid"].get<std::string>().size(), 36u);
  EXPECT_TRUE(j["keyid"].is_string());
  EXPECT_TRUE(j["chunk_size"].is_number_unsigned());
  const std::int64_t now = std::time(nullptr);
  EXPECT_GT(j["expires"].get<std::int64_t>(), now);
  EXPECT_NEAR(j["expires_in"].get<std::int64_t>(), j["expires"].get<std::int64_t>() - now, 2) << r.out;
  EXPECT_EQ(j.size(), 9u) << r.out;
}

}  // namespace
}  // namespace mh::test
