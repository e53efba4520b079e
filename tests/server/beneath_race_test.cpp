// The attack review's symlink race, reproduced: a local user who can write one directory inside
// the served root swaps it with a symlink to the server's keys (renameat2 RENAME_EXCHANGE, in a
// loop) while a client requests names through it, directly and through an in-root symlink. The
// server must never hand out a byte from outside the root, under any interleaving.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "support/test_support.hpp"
#include "web/file_service.hpp"

namespace mh::web {
namespace {
namespace fs = std::filesystem;

constexpr std::string_view kSecret = "SECRET-server-key-bytes";
constexpr std::string_view kPublic = "public bytes, inside the root";

int exchange(const fs::path& a, const fs::path& b) {
  return static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE));
}

// Every byte an answer would send: its chunks' plaintext, read as the responder reads them.
std::string plaintext_of(Answer& a) {
  if (!a.layout) return {};
  std::string out;
  for (std::uint64_t i = a.layout->first_chunk(); i <= a.layout->last_chunk(); ++i) {
    const std::uint64_t n = a.layout->plaintext_size(i);
    if (!a.source) {
      out.append(a.body, static_cast<std::size_t>(a.layout->offset(i)), static_cast<std::size_t>(n));
      continue;
    }
    Bytes chunk(static_cast<std::size_t>(n));
    a.source->read(a.layout->offset(i), chunk);
    out.append(as_chars(chunk));
  }
  return out;
}

class SymlinkRace : public ::testing::TestWithParam<io::Resolution> {
 protected:
  void SetUp() override {
    keys_ = tmp_.path() / "keys";
    root_ = tmp_.path() / "www";
    fs::create_directories(keys_);
    fs::create_directories(root_ / "d");
    // The same names on both sides, so that a swap can only be told by what is served.
    test::write_file(keys_ / "server_ed25519.key", kSecret);
    test::write_file(keys_ / "only-in-keys", kSecret);
    test::write_file(root_ / "d/server_ed25519.key", kPublic);
    test::write_file(root_ / "d/index.html", kPublic);
    fs::create_symlink("d", root_ / "link");             // an operator's in-root symlink
    fs::create_symlink(keys_, root_ / "swap-absolute");  // the attacker's prepared links
    fs::create_symlink("../keys", root_ / "swap-relative");
  }

  test::TempDir tmp_;
  fs::path keys_, root_;
};

TEST_P(SymlinkRace, SwappingADirectoryForASymlinkNeverLeadsOutside) {
  const FileService svc({root_, 10000}, GetParam());
  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};
  std::thread swapper([&] {
    // Alternates d between the real directory and a symlink to the keys, both link shapes.
    for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const fs::path other = root_ / (i % 2 ? "swap-absolute" : "swap-relative");
      if (exchange(root_ / "d", other) == 0 && exchange(root_ / "d", other) == 0) swaps.fetch_add(1);
    }
  });

  const std::vector<std::string> targets = {
      "/link/server_ed25519.key", "/d/server_ed25519.key", "/link/", "/d/", "/link/?list", "/d/?list",
      "/link/only-in-keys",       "/d/only-in-keys"};
  std::map<std::string, long> outcomes;
  long requests = 0, leaked = 0;
  const auto start = std::chrono::steady_clock::now();
  // At least 10 s and at least 10,000 requests, whichever comes last.
  while (requests < 10000 || std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    const std::string& target = targets[static_cast<std::size_t>(requests++) % targets.size()];
    const net::Headers fields;
    try {
      Answer r = svc.serve(FileRequest{"GET", target, fields, stream::kMinChunkSize});
      ASSERT_EQ(r.status, 200);
      const std::string plain = plaintext_of(r);
      if (plain.find("SECRET") != std::string::npos || plain.find("only-in-keys") != std::string::npos) {
        ++leaked;
        ADD_FAILURE() << target << " served bytes from outside the root: " << plain;
      }
      ++outcomes["200"];
    } catch (const Error& e) { ++outcomes[e.what()]; }
  }
  stop = true;
  swapper.join();

  EXPECT_EQ(leaked, 0);
  EXPECT_GT(swaps.load(), 0);
  // Every answer is a served in-root file, or one of the refusals of a name that is (now) a link
  // leading out or a name that exists only in the keys directory. Nothing else, no internal error.
  for (const auto& [what, n] : outcomes)
    EXPECT_TRUE(what == "200" || what == "file: outside the root" || what == "file: not found") << what << " x" << n;
  EXPECT_GT(outcomes["200"], 0);
  EXPECT_GT(outcomes["file: outside the root"], 0) << "the race was never hit: the test proves nothing";
  std::cout << "[ race ] " << requests << " requests, " << swaps.load() << " swaps";
  for (const auto& [what, n] : outcomes) std::cout << ", " << what << ": " << n;
  std::cout << "\n";
}

INSTANTIATE_TEST_SUITE_P(Resolution, SymlinkRace,
                         ::testing::Values(io::Resolution::fast_path_first, io::Resolution::walk_only),
                         [](const auto& info) { return info.param == io::Resolution::walk_only ? "walk" : "openat2"; });

}  // namespace
}  // namespace mh::web
