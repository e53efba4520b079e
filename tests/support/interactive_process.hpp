#pragma once
// A child process driven like a user at a terminal would: its stdin stays open for lines written
// over time, its stdout is collected line by line (waits have timeouts), and its stderr is kept.
//
//   InteractiveProcess p({client_binary().string(), "--home", home, "chat"});
//   ASSERT_TRUE(p.wait_line(std::regex("\\* you joined lobby"), 10s));
//   p.write_line("hello");
//   p.close_stdin();
//   EXPECT_EQ(p.wait_exit(10s), 0);
//
// The destructor never leaves a process behind: stdin closed, a short wait, then SIGKILL.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mh::test {

class InteractiveProcess {
 public:
  explicit InteractiveProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});
  ~InteractiveProcess();
  InteractiveProcess(const InteractiveProcess&) = delete;
  InteractiveProcess& operator=(const InteractiveProcess&) = delete;

  // Writes to the child's stdin (all of it, blocking). False if stdin is closed or the child is gone.
  bool write(std::string_view data);
  bool write_line(std::string_view line) { return write(std::string(line) + "\n"); }
  void close_stdin();  // the child sees the end of input

  // The index of the first stdout line at or after `from` that matches `re` (regex_search),
  // waiting up to `timeout`; nullopt on timeout (or when stdout closed without one).
  std::optional<std::size_t> wait_line(const std::regex& re, std::chrono::milliseconds timeout, std::size_t from = 0);
  // Waits until at least n stdout lines match `re`; true if they did within `timeout`.
  bool wait_count(const std::regex& re, std::size_t n, std::chrono::milliseconds timeout);
  std::vector<std::string> lines() const;  // complete stdout lines so far
  std::vector<std::string> matching(const std::regex& re) const;
  std::string out() const;  // all of stdout so far
  std::string err() const;  // all of stderr so far
  bool wait_err(std::string_view needle, std::chrono::milliseconds timeout);

  // The exit code (128+N if killed by signal N), or -1 if still running after `timeout`.
  int wait_exit(std::chrono::milliseconds timeout);
  void kill(int sig);
  pid_t pid() const noexcept { return pid_; }

 private:
  struct Output;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int exit_status_ = -1;
  std::shared_ptr<Output> out_;
  std::thread reader_;
};

}  // namespace mh::test
