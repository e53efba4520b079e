// The CSPRNG front end (core/bytes.cpp): a per-thread pool of system randomness must never hand
// a forked child the bytes its parent hands out next (IVs and nonces would repeat).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/bytes.hpp"

namespace mh {
namespace {

TEST(Random, ForkedChildDoesNotRepeatItsParentsNextBytes) {
  (void)random_bytes(16);  // the parent's pool now holds unused bytes
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const Bytes b = random_bytes(16);
    const bool ok = ::write(fds[1], b.data(), b.size()) == 16;
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  Bytes child(16);
  ASSERT_EQ(::read(fds[0], child.data(), child.size()), 16);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(random_bytes(16), child);
}

TEST(Random, SmallAndLargeRequestsAreFilledAndDistinct) {
  const Bytes a = random_bytes(16), b = random_bytes(16), big = random_bytes(4096);
  EXPECT_NE(a, b);
  EXPECT_FALSE(is_all_zero(a));
  EXPECT_FALSE(is_all_zero(ByteView(big).subspan(4000)));
}

}  // namespace
}  // namespace mh
