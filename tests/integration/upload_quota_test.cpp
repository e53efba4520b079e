// Upload limits end to end (issue 12, items 7 and 11), through the real minihttpsd and the real
// minihttps: the size limit is exact (a file of --max-upload-size bytes passes, one byte more is
// 413, with the client's exit code and message, and on the wire as a sealed answer), every file
// counts at least one block against the quota, the caps on files and pending attempts are 507
// naming the limit, and the new options are validated. The boundaries themselves (the race, the open failures, the
// expiry at commit) are tested in-process in tests/server/upload_service_test.cpp.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "core/cksum.hpp"
#include "support/server_process.hpp"
#include "support/signed_client.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;

void connect(const fs::path& home, const ServerProcess& s, const std::string& name) {
  const auto r = run_client(home, {"connect", "--server", s.url(), "--name", name, "--rsa-bits", "2048"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// Every regular file under the upload directory (committed or not), by file name.
std::vector<std::string> stored_names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& f : files_below(dir)) out.push_back(fs::path(f).filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The attack: with --max-upload-size 1000 `minihttps put` of a 1000-byte file failed with 413.
// 1000: the 1001-byte file's stream is as long as the 1000-byte one's (refused as it opens);
// 1023: the 1024-byte file's is one block longer (refused at once). Same answer either way.
class UploadSizeLimitCli : public ::testing::TestWithParam<int> {};

TEST_P(UploadSizeLimitCli, PutOfExactlyTheLimitWorksAndOneByteMoreIs413) {
  const int max = GetParam();
  ServerProcess server(with_args({"--max-upload-size", std::to_string(max)}));
  TempDir home, work;
  connect(home.path(), server, "sizer");
  write_file(work / "exact", std::string(static_cast<std::size_t>(max), 'e'));
  write_file(work / "over", std::string(static_cast<std::size_t>(max) + 1, 'o'));
  auto r = run_client(home.path(), {"put", (work / "exact").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "uploaded exact (" + std::to_string(max) + " bytes, cksum " +
                       std::to_string(cksum(as_bytes(read_file(work / "exact")))) + ")\n");
  r = run_client(home.path(), {"put", (work / "over").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "minihttps: put over: upload: larger than the server's limit of " + std::to_string(max) + " bytes\n");
  EXPECT_EQ(stored_names(server.upload_dir()), std::vector<std::string>{"exact"});
  EXPECT_EQ(run_client(home.path(), {"get", "--uploads", "exact"}).out,
            std::string(static_cast<std::size_t>(max), 'e'));
}

INSTANTIATE_TEST_SUITE_P(Limits, UploadSizeLimitCli, ::testing::Values(1000, 1023),
                         [](const auto& info) { return "max" + std::to_string(info.param); });

// The same on the wire, with 4 KiB chunks: 1000 (one more byte is a stream of the same length,
// refused as it opens), 1023 (one more is a longer stream, refused at once), 8192 (one more is a
// third chunk). The refusal is a sealed 413 with the limit in its reason; the exact file is kept.
class UploadSizeLimitWire : public ::testing::TestWithParam<int> {};

TEST_P(UploadSizeLimitWire, ExactlyTheLimitIsAcceptedAndOneByteMoreIs413) {
  const auto max = static_cast<std::size_t>(GetParam());
  ServerProcess server(with_args({"--max-upload-size", std::to_string(max), "--chunk-size", "4096"}));
  TempDir home;
  connect(home.path(), server, "wiresizer");
  SignedClient c(home.path(), server.url());
  const auto over = c.send("PUT", "/.uploads/over", {}, std::string(max + 1, 'o'));
  EXPECT_TRUE(over.sealed) << over.body;
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(over.reason(), "upload: larger than the server's limit of " + std::to_string(max) + " bytes");
  EXPECT_EQ(stored_names(server.upload_dir()), std::vector<std::string>{});
  const auto exact = c.send("PUT", "/.uploads/exact", {}, std::string(max, 'e'));
  ASSERT_EQ(exact.status, 200) << exact.body;
  EXPECT_EQ(nlohmann::json::parse(exact.body)["size"], max);
  const std::string id = nlohmann::json::parse(exact.body)["attempt"];
  EXPECT_EQ(c.send("POST", "/.uploads/exact?commit=" + id).status, 201);
  EXPECT_EQ(stored_names(server.upload_dir()), std::vector<std::string>{"exact"});
  EXPECT_EQ(c.send("GET", "/.uploads/exact").body, std::string(max, 'e'));
}

INSTANTIATE_TEST_SUITE_P(Limits, UploadSizeLimitWire, ::testing::Values(1000, 1023, 8192),
                         [](const auto& info) { return "max" + std::to_string(info.param); });

// The attack: hundreds of empty files under a 100-byte quota. Each counts 4096 bytes now.
TEST(UploadQuotaCli, EmptyFilesCountOneBlockEach) {
  ServerProcess server(with_args({"--upload-quota", "12288"}));
  TempDir home, work;
  connect(home.path(), server, "emptier");
  write_file(work / "empty", "");
  for (const char* name : {"e0", "e1", "e2"}) {
    const auto r = run_client(home.path(), {"put", (work / "empty").string(), name});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
  }
  const auto r = run_client(home.path(), {"put", (work / "empty").string(), "e3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "minihttps: put e3: upload: your quota of 12288 bytes would be exceeded\n");
  EXPECT_EQ(stored_names(server.upload_dir()), (std::vector<std::string>{"e0", "e1", "e2"}));
}

TEST(UploadQuotaCli, FileAndPendingCapsAre507NamingTheLimit) {
  ServerProcess server(with_args({"--upload-max-files", "3", "--upload-max-pending", "2"}));
  TempDir home, work;
  connect(home.path(), server, "capped");
  write_file(work / "a", "a\n");
  ASSERT_EQ(run_client(home.path(), {"put", (work / "a").string()}).exit_code, 0);
  // Two attempts left pending; a third is refused.
  SignedClient c(home.path(), server.url());
  auto put = [&](const std::string& name) { return c.send("PUT", "/.uploads/" + name, {}, name); };
  const auto p = put("p"), q = put("q");
  ASSERT_EQ(p.status, 200) << p.body;
  ASSERT_EQ(q.status, 200) << q.body;
  const auto third = put("r");
  EXPECT_EQ(third.status, 507);
  EXPECT_TRUE(third.sealed);
  EXPECT_EQ(third.reason(), "upload: your limit of 2 pending attempts would be exceeded");
  // One committed: 2 files + 1 pending attempt = 3, the file limit.
  const std::string id = nlohmann::json::parse(p.body)["attempt"].get<std::string>();
  ASSERT_EQ(c.send("POST", "/.uploads/p?commit=" + id).status, 201);
  const auto r = run_client(home.path(), {"put", (work / "a").string(), "c"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "minihttps: put c: upload: your limit of 3 files would be exceeded\n");
  const std::string qid = nlohmann::json::parse(q.body)["attempt"].get<std::string>();
  EXPECT_EQ(c.send("DELETE", "/.uploads/q?attempt=" + qid).status, 204);
  EXPECT_EQ(run_client(home.path(), {"put", (work / "a").string(), "c"}).exit_code, 0);
  EXPECT_EQ(stored_names(server.upload_dir()), (std::vector<std::string>{"a", "c", "p"}));
}

TEST(UploadQuotaCli, NewLimitsAreValidatedAndListed) {
  TempDir tmp;
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--upload-quota", "4095"},
                                              {"--upload-max-files", "0"},
                                              {"--upload-max-pending", "0"}}) {
    std::vector<std::string> args = {"--keys", (tmp / "keys").string(), "--root", tmp.path().string()};
    args.insert(args.end(), bad.begin(), bad.end());
    const CommandResult r = run_server_binary(args);
    EXPECT_EQ(r.exit_code, 2) << bad[0] << "\n" << r.err;
    EXPECT_NE(r.err.find(bad[0]), std::string::npos) << r.err;
  }
  const CommandResult help = run_server_binary({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* s : {"--upload-max-files", "10000", "--upload-max-pending", "16", "at least 4096"})
    EXPECT_NE(help.out.find(s), std::string::npos) << "missing '" << s << "' in\n" << help.out;
}

}  // namespace
}  // namespace mh::test
