// Several files in one command, with the real client and server: `get -r DIR` and `put -r DIR`
// keep relative paths and verify every file as a single get or put does, `get A B -o DIR/` and
// scp-like `put SRC... DEST/` keep the names, several sources never land on one name, a failure
// of one file leaves nothing of it and makes the exit code non-zero while the others still go,
// and a summary ends the batch. Nested upload names on the server (docs/PROTOCOL.md §8): the
// missing directories are made at commit, a file in the way of a directory (or a directory in the
// way of a file) is 409, and a removal takes away the directories it leaves empty.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "core/cksum.hpp"
#include "support/server_process.hpp"
#include "support/tamper_proxy.hpp"
#include "support/test_support.hpp"

namespace mh::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// "3 files, 1.2 MiB in 0.4 s; 1 failed": everything but the seconds, which a test never asserts.
std::regex summary(const std::string& counts, const std::string& size, const std::string& tail = "") {
  return std::regex(counts + ", " + std::regex_replace(size, std::regex("\\."), "\\.") + " in [0-9]+\\.[0-9] s" + tail +
                    "\n");
}

// The committed uploads of the one client of `server`: paths below its area's files/.
std::vector<std::string> uploads_of(const ServerProcess& server) {
  std::vector<std::string> out;
  for (const auto& f : files_below(server.upload_dir())) out.push_back(f.substr(f.find("/files/") + 7));
  return out;
}

// Every directory left below the area's files/ (empty ones included).
std::vector<std::string> upload_dirs_of(const ServerProcess& server) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& area : fs::directory_iterator(server.upload_dir(), ec))
    for (const auto& e : fs::recursive_directory_iterator(area.path() / "files", ec))
      if (e.is_directory()) out.push_back(e.path().lexically_relative(area.path() / "files").string());
  std::sort(out.begin(), out.end());
  return out;
}

class Transfer : public ::testing::Test {
 protected:
  Transfer() : server_(served()) {}

  ServerOptions served() {
    ServerOptions o;
    fs::create_directories(root_ / "docs" / "sub" / "deeper");
    fs::create_directories(root_ / "docs" / "empty");
    write_file(root_ / "docs" / "a.txt", "document a\n");
    write_file(root_ / "docs" / "sub" / "b.bin", as_chars(pattern_bytes(300000, 7)));
    write_file(root_ / "docs" / "sub" / "deeper" / "c.txt", "c\n");
    write_file(root_ / "top.txt", "top\n");
    write_file(root_ / "docs" / ".secret", "never listed\n");
    o.root = root_.path();
    return o;
  }
  void SetUp() override {
    const auto r = client({"connect", "--server", server_.url(), "--name", "mover", "--rsa-bits", "2048"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
  }
  CommandResult client(const std::vector<std::string>& args) { return run_client(home_.path(), args); }
  std::string out(const std::string& name) const { return (work_ / name).string(); }

  TempDir root_, home_, work_;
  ServerProcess server_;
};

// ---- get ------------------------------------------------------------------------------------------

TEST_F(Transfer, GetRecursiveKeepsRelativePathsAndEndsWithASummary) {
  const auto r = client({"get", "-r", "docs", "-o", out("copy/")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const fs::path copy = work_ / "copy" / "docs";
  EXPECT_EQ(read_file(copy / "a.txt"), "document a\n");
  EXPECT_EQ(read_file(copy / "sub" / "b.bin"), as_chars(pattern_bytes(300000, 7)));
  EXPECT_EQ(read_file(copy / "sub" / "deeper" / "c.txt"), "c\n");
  EXPECT_TRUE(fs::is_directory(copy / "empty"));  // as cp -r makes it
  EXPECT_FALSE(fs::exists(copy / ".secret"));
  EXPECT_EQ(files_below(work_ / "copy"),
            (std::vector<std::string>{"docs/a.txt", "docs/sub/b.bin", "docs/sub/deeper/c.txt"}));
  const std::string prefix = "saved " + (copy / "").string();
  EXPECT_TRUE(std::regex_match(
      r.err, std::regex(prefix + "a.txt \\(11 bytes\\)\n" + prefix + "sub/b.bin \\(300000 bytes\\)\n" + prefix +
                        "sub/deeper/c.txt \\(2 bytes\\)\n" + "3 files, 293 KiB in [0-9]+\\.[0-9] s\n")))
      << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(Transfer, GetRecursiveOfTheTopWritesIntoTheDirectoryItself) {
  const auto r = client({"-q", "get", "-r", "/", "-o", out(".")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(files_below(work_.path()),
            (std::vector<std::string>{"docs/a.txt", "docs/sub/b.bin", "docs/sub/deeper/c.txt", "top.txt"}));
}

TEST_F(Transfer, SeveralFilesGoIntoTheOutputDirectoryUnderTheirNames) {
  const auto r = client({"get", "top.txt", "docs/a.txt", "/docs/sub/deeper/c.txt", "-o", out("several/")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(files_below(work_ / "several"), (std::vector<std::string>{"a.txt", "c.txt", "top.txt"}));
  EXPECT_EQ(read_file(work_ / "several" / "c.txt"), "c\n");
  EXPECT_TRUE(std::regex_search(r.err, summary("3 files", "17 B"))) << r.err;
  // One file with -o DIR/ keeps its remote name too.
  const auto one = client({"get", "docs/a.txt", "-o", out("one/")});
  ASSERT_EQ(one.exit_code, 0) << describe(one);
  EXPECT_EQ(read_file(work_ / "one" / "a.txt"), "document a\n");
  EXPECT_EQ(one.err, "saved " + out("one/") + "a.txt (11 bytes)\n");
}

TEST_F(Transfer, SeveralFilesOrRecursiveNeedAnOutputDirectory) {
  const std::string need =
      "minihttps: get: -r and several files are written into a directory: add -o DIR/ (-o . for the current one)\n";
  auto r = client({"get", "top.txt", "docs/a.txt"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err, need);
  EXPECT_EQ(r.out, "");
  r = client({"get", "-r", "docs"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err, need);
  r = client({"get", "top.txt", "docs/a.txt", "-o", out("file.txt")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err, "minihttps: get: with -r or several files, -o names a directory: " + out("file.txt") +
                       " is not one (end it with / to create it)\n");
  r = client({"get", "-r", "-C", "docs", "-o", out(".")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err, "minihttps: get: -C continues one download; it cannot be used with -r or several files\n");
  EXPECT_TRUE(files_below(work_.path()).empty());
}

TEST_F(Transfer, TwoRemoteFilesNeverBecomeOneLocalFile) {
  write_file(root_ / "a.txt", "the other a\n");
  const auto r = client({"get", "docs/a.txt", "a.txt", "-o", out(".")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err,
            "minihttps: get: docs/a.txt and a.txt would both be written to " + (work_ / "." / "a.txt").string() + "\n");
  EXPECT_TRUE(files_below(work_.path()).empty());
}

TEST_F(Transfer, AFailedFileLeavesNothingOfItselfTheOthersArriveAndTheExitIsNonZero) {
  const auto r = client({"get", "top.txt", "missing.txt", "docs/a.txt", "-o", out("got/")});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(files_below(work_ / "got"), (std::vector<std::string>{"a.txt", "top.txt"}));  // no missing.txt(.part)
  EXPECT_NE(r.err.find("minihttps: get /missing.txt: file: not found\n"), std::string::npos) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, summary("2 files", "15 B", "; 1 failed"))) << r.err;
  // In a tree, a file the server refuses: below five directories of 254-byte names, its path
  // (percent-encoded) passes the server's 4096-byte limit, though its directory's does not.
  const std::string long_name = [] {
    std::string n;
    for (int i = 0; i < 127; ++i) n += "\xc3\xa9";  // é: 2 bytes, %C3%A9 in a path
    return n;
  }();
  fs::path deep = root_ / "docs" / "sub";
  for (int i = 0; i < 5; ++i) deep /= long_name;
  fs::create_directories(deep);
  write_file(deep / long_name, "unreachable\n");
  const auto t = client({"get", "-r", "docs", "-o", out("tree/")});
  EXPECT_EQ(t.exit_code, 1) << describe(t);
  EXPECT_EQ(files_below(work_ / "tree"),
            (std::vector<std::string>{"docs/a.txt", "docs/sub/b.bin", "docs/sub/deeper/c.txt"}));
  EXPECT_NE(t.err.find(": path: too long\n"), std::string::npos) << t.err;
  EXPECT_TRUE(std::regex_search(t.err, summary("3 files", "293 KiB", "; 1 failed"))) << t.err;
}

// A file whose stream stops verifying half-way (a man in the middle flips a bit of the one large
// answer): its verified first half, in FILE.part, is removed, and so is the record -C would use.
TEST(GetBatch, AFileThatFailsHalfWayLeavesNoPartFile) {
  TempDir root, home, work;
  fs::create_directories(root / "docs" / "sub");
  write_file(root / "docs" / "a.txt", "document a\n");
  write_file(root / "docs" / "sub" / "b.bin", as_chars(pattern_bytes(300000, 7)));
  write_file(root / "docs" / "z.txt", "z\n");
  ServerOptions o = with_args({"--chunk-size", "4096"});
  o.root = root.path();
  ServerProcess server(o);
  TamperProxy proxy(server.port(), 4096);
  ASSERT_EQ(run_client(home.path(), {"-q", "connect", "--server", proxy.url(), "--name", "m", "--rsa-bits", "2048"})
                .exit_code,
            0);
  proxy.set_mode(TamperProxy::Mode::flip_body_bit, TamperProxy::Match::at_least(100000));
  const auto r = run_client(home.path(), {"get", "-r", "docs", "-o", (work / "out/").string()});
  EXPECT_EQ(r.exit_code, 5) << describe(r);
  EXPECT_EQ(proxy.tampered(), 1);
  EXPECT_EQ(files_below(work.path()), (std::vector<std::string>{"out/docs/a.txt", "out/docs/z.txt"}));
  EXPECT_NE(r.err.find("does not verify"), std::string::npos) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, summary("2 files", "13 B", "; 1 failed"))) << r.err;
}

// ---- put ------------------------------------------------------------------------------------------

class PutTree : public Transfer {
 protected:
  void make_tree() {
    fs::create_directories(work_ / "tree" / "sub" / "deeper");
    write_file(work_ / "tree" / "a.txt", "local a\n");
    write_file(work_ / "tree" / "sub" / "b.bin", as_chars(pattern_bytes(200000, 9)));
    write_file(work_ / "tree" / "sub" / "deeper" / "c.txt", "local c\n");
    write_file(work_ / "tree" / ".env", "SECRET=1\n");
    write_file(work_ / "outside.txt", "outside the tree\n");
    fs::create_symlink(work_ / "outside.txt", work_ / "tree" / "link.txt");
    fs::create_directory_symlink(work_.path(), work_ / "tree" / "loop");
  }
  std::string cksum_of(const fs::path& f) {
    Cksum c;
    c.update(as_bytes(read_file(f)));
    return std::to_string(c.value());
  }
};

TEST_F(PutTree, PutRecursiveKeepsPathsSkipsLinksAndHiddenNamesAndRoundTrips) {
  make_tree();
  const auto r = client({"put", "-r", out("tree")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(
      std::regex_match(r.out, std::regex("uploaded tree/a.txt \\(8 bytes, cksum " + cksum_of(work_ / "tree" / "a.txt") +
                                         "\\)\n"
                                         "uploaded tree/sub/b.bin \\(200000 bytes, cksum " +
                                         cksum_of(work_ / "tree" / "sub" / "b.bin") +
                                         "\\)\n"
                                         "uploaded tree/sub/deeper/c.txt \\(8 bytes, cksum " +
                                         cksum_of(work_ / "tree" / "sub" / "deeper" / "c.txt") +
                                         "\\)\n"
                                         "3 files, 195 KiB in [0-9]+\\.[0-9] s; 3 skipped\n")))
      << r.out;
  // One warning each, in any order (the local directory's order).
  for (const std::string& w :
       {"minihttps: skipping " + out("tree/.env") + ": the server cannot store that name (path: hidden name)\n",
        "minihttps: skipping " + out("tree/link.txt") + ": a symbolic link (put -r does not follow links)\n",
        "minihttps: skipping " + out("tree/loop") + ": a symbolic link (put -r does not follow links)\n"})
    EXPECT_NE(r.err.find(w), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 3) << r.err;
  EXPECT_EQ(uploads_of(server_), (std::vector<std::string>{"tree/a.txt", "tree/sub/b.bin", "tree/sub/deeper/c.txt"}));
  // Listed as directories, and fetched back whole.
  EXPECT_EQ(client({"ls", "--uploads", "tree"}).out, "a.txt\nsub/\n");
  const auto back = client({"-q", "get", "-r", "--uploads", "tree", "-o", out("back/")});
  ASSERT_EQ(back.exit_code, 0) << describe(back);
  EXPECT_EQ(files_below(work_ / "back"),
            (std::vector<std::string>{"tree/a.txt", "tree/sub/b.bin", "tree/sub/deeper/c.txt"}));
  EXPECT_EQ(read_file(work_ / "back" / "tree" / "sub" / "b.bin"), as_chars(pattern_bytes(200000, 9)));
}

TEST_F(PutTree, SeveralSourcesNeedADirectoryAndNeverLandOnOneName) {
  write_file(work_ / "a.pdf", "pdf a\n");
  write_file(work_ / "b.pdf", "pdf b\n");
  // The glob `put *.pdf` of two files: not "a.pdf stored as b.pdf".
  auto r = client({"put", out("a.pdf"), out("b.pdf")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err, "minihttps: put: " + out("b.pdf") +
                       " is a local file too: to upload both, name a directory to put them in (put " + out("a.pdf") +
                       " " + out("b.pdf") + " DIR/, or / for the top); to store " + out("a.pdf") + " as " +
                       out("b.pdf") + ", write it as /" + out("b.pdf").substr(1) + "\n");
  r = client({"put", out("a.pdf"), out("b.pdf"), "pdfs"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err,
            "minihttps: put: pdfs is not a directory in your uploads: with several files or -r the last argument "
            "is the directory to put them in (end it with / to create it)\n");
  EXPECT_TRUE(uploads_of(server_).empty());
  r = client({"put", out("a.pdf"), out("b.pdf"), "pdfs/"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(std::regex_search(r.out, summary("2 files", "12 B"))) << r.out;
  EXPECT_EQ(uploads_of(server_), (std::vector<std::string>{"pdfs/a.pdf", "pdfs/b.pdf"}));
  // An existing directory is a destination without the '/'; several sources go to the top with "/".
  write_file(work_ / "c.pdf", "pdf c\n");
  r = client({"put", out("c.pdf"), "pdfs"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "uploaded pdfs/c.pdf (6 bytes, cksum " + cksum_of(work_ / "c.pdf") + ")\n");
  r = client({"-q", "put", out("a.pdf"), out("b.pdf"), "/"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "");
  // One source and a new name: stored under it (a path of directories included).
  r = client({"put", out("c.pdf"), "archive/2026/c-renamed.pdf"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "uploaded archive/2026/c-renamed.pdf (6 bytes, cksum " + cksum_of(work_ / "c.pdf") + ")\n");
  EXPECT_EQ(uploads_of(server_), (std::vector<std::string>{"a.pdf", "archive/2026/c-renamed.pdf", "b.pdf", "pdfs/a.pdf",
                                                           "pdfs/b.pdf", "pdfs/c.pdf"}));
  // Two sources of the same name.
  fs::create_directories(work_ / "other");
  write_file(work_ / "other" / "a.pdf", "another a\n");
  r = client({"put", out("a.pdf"), out("other/a.pdf"), "dup/"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err,
            "minihttps: put: " + out("a.pdf") + " and " + out("other/a.pdf") + " would both be stored as dup/a.pdf\n");
}

TEST_F(PutTree, LocalProblemsAreExitOneBeforeAnythingIsSent) {
  fs::create_directories(work_ / "dir");
  write_file(work_ / "ok.txt", "ok\n");
  auto r = client({"put", out("dir")});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: put: " + out("dir") + " is a directory: use put -r to upload it and what it holds\n");
  r = client({"put", out("ok.txt"), out("nope.txt"), "d/"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: put: cannot read " + out("nope.txt") + ": No such file or directory\n");
  r = client({"put", out("ok.txt"), ".profile"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.err, "minihttps: put: " + out("ok.txt") +
                       " cannot be stored as .profile (path: hidden name): give it another "
                       "name, e.g. put " +
                       out("ok.txt") + " NAME\n");
  EXPECT_TRUE(uploads_of(server_).empty());
}

TEST_F(PutTree, AFileInTheWayOfADirectoryIsAConflictAndRmLeavesNoEmptyDirectories) {
  write_file(work_ / "x", "a file named x\n");
  write_file(work_ / "y.txt", "y\n");
  ASSERT_EQ(client({"-q", "put", out("x")}).exit_code, 0);
  auto r = client({"put", out("y.txt"), "x/"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: put x/y.txt: upload: x is a file, not a directory\n");
  ASSERT_EQ(client({"-q", "put", out("y.txt"), "d1/d2/y.txt"}).exit_code, 0);
  r = client({"put", out("x"), "d1/d2"});  // d1/d2 is a directory: x goes into it
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(uploads_of(server_), (std::vector<std::string>{"d1/d2/x", "d1/d2/y.txt", "x"}));
  r = client({"rm", "d1/d2"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: rm d1/d2: upload: d1/d2 is a directory\n");
  ASSERT_EQ(client({"rm", "d1/d2/x"}).exit_code, 0);
  EXPECT_EQ(upload_dirs_of(server_), (std::vector<std::string>{"d1", "d1/d2"}));
  r = client({"rm", "d1/d2/y.txt"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "removed d1/d2/y.txt\n");
  EXPECT_TRUE(upload_dirs_of(server_).empty());
  EXPECT_EQ(client({"ls", "--uploads"}).out, "x\n");
}

TEST(PutBatch, AFileTheServerRefusesIsCountedTheOthersAreStored) {
  ServerProcess server(with_args({"--upload-max-files", "2"}));
  TempDir home, work;
  ASSERT_EQ(run_client(home.path(), {"connect", "--server", server.url(), "--name", "limited", "--rsa-bits", "2048"})
                .exit_code,
            0);
  for (const char* n : {"1.txt", "2.txt", "3.txt"}) write_file(work / n, "n\n");
  const auto r = run_client(
      home.path(), {"put", (work / "1.txt").string(), (work / "2.txt").string(), (work / "3.txt").string(), "/"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "minihttps: put 3.txt: upload: your limit of 2 files would be exceeded\n");
  EXPECT_TRUE(std::regex_search(r.out, summary("2 files", "4 B", "; 1 failed"))) << r.out;
  EXPECT_EQ(uploads_of(server), (std::vector<std::string>{"1.txt", "2.txt"}));
}

// ---- the progress bar -----------------------------------------------------------------------------

// The client on a terminal (a pty: the bar is drawn only there): everything it printed, and its exit.
std::pair<int, std::string> on_terminal(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pf{master, POLLIN, 0};
    if (::poll(&pf, 1, 100) <= 0) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) return {-2, out};  // reaped without its status: should not happen
      continue;
    }
    char buf[4096];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child closed the terminal
    out.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(PutTree, TheProgressBarCountsTheFilesBytesNotTheEncryptedStream) {
  write_file(work_ / "three.bin", as_chars(pattern_bytes(3u << 20, 4)));
  const auto [code, text] =
      on_terminal({client_binary().string(), "--home", home_.path().string(), "put", out("three.bin")});
  EXPECT_EQ(code, 0) << text;
  // The stream is a third larger (base64 tokens): its total would read "4.0".
  EXPECT_NE(text.find("100%  3.0 / 3.0 MiB"), std::string::npos) << text;
  EXPECT_EQ(text.find("/ 4."), std::string::npos) << text;
  // And a download's bar, of the same file served.
  write_file(root_ / "three.bin", as_chars(pattern_bytes(3u << 20, 4)));
  const auto [got, shown] = on_terminal(
      {client_binary().string(), "--home", home_.path().string(), "get", "three.bin", "-o", out("back.bin")});
  EXPECT_EQ(got, 0) << shown;
  EXPECT_NE(shown.find("100%  3.0 / 3.0 MiB"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("/ 4."), std::string::npos) << shown;
  EXPECT_EQ(read_file(work_ / "back.bin"), as_chars(pattern_bytes(3u << 20, 4)));
}

}  // namespace
}  // namespace mh::test
