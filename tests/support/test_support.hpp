#pragma once
// Helpers shared by the test suites: vector files, temporary directories, running commands.
#include <sys/types.h>

#include <cstdint>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace mh::test {

// Worked examples in docs/: bytes as indented hex, 64 digits a line; and the hex digits of the
// indented block that follows the line "label:" (and a blank line) in `doc`.
std::string hex_block(ByteView b);
std::string hex_after(const std::string& doc, const std::string& label);

// The reason of the mh::Error that f throws ("no error" if none), and its code in *code.
std::string error_of(const std::function<void()>& f, Errc* code = nullptr);

std::filesystem::path vectors_dir();
std::filesystem::path source_dir();
std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, std::string_view data);
// "1985-10-26T01:20:01-07:00" -> unix seconds.
std::int64_t parse_rfc3339(std::string_view s);

// A fresh directory under $TMPDIR, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// "exit N", then stdout and stderr: what a failed expectation on a command shows.
std::string describe(const CommandResult& r);
// Runs argv (no shell) with `input` on stdin; captures stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv, std::string_view input = {},
                          const std::vector<std::string>& extra_env = {});

// Spawns argv (PATH searched) with stdin/stdout/stderr on the given fds (-1 for stdin:
// /dev/null), the environment plus extra_env, a clean signal mask and default dispositions (the
// test process may ignore SIGPIPE; children must not inherit that). Throws std::runtime_error.
pid_t spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
            const std::vector<std::string>& extra_env = {});
// A waitpid status as a shell reports it: the exit code, or 128 + the signal.
int exit_code_of(int wait_status);

// Deterministic pseudo-random bytes (not for crypto): reproducible test data.
Bytes pattern_bytes(std::size_t n, std::uint32_t seed = 1);

// A blocking TCP socket connected to 127.0.0.1:port, or -1. rcvbuf > 0 shrinks its receive
// buffer first (a slow reader).
int tcp_connect(std::uint16_t port, int rcvbuf = 0);

// Sends all of data (MSG_NOSIGNAL); false once the peer is gone.
bool send_all(int fd, std::string_view data);

struct Received {
  std::string data;
  bool eof = false;  // the peer closed (or reset) the connection
};
// Reads until the peer closes or `timeout` passes.
Received read_until_closed(int fd, std::chrono::milliseconds timeout);

// Every regular file below `dir` (for uploads: committed or not), as sorted paths relative to it;
// none if `dir` does not exist.
std::vector<std::string> files_below(const std::filesystem::path& dir);

// A Python 3 interpreter that has the `cryptography` package (Debian's python3-cryptography).
std::string python_with_cryptography();

}  // namespace mh::test
