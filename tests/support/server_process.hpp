#pragma once
// A real minihttpsd for integration tests, and a runner for the real minihttps client.
//
//   mh::test::ServerProcess server({.extra_args = {"--max-clients", "2"}});
//   auto r = mh::test::run_client(home.path(), {"connect", "--server", server.url(), "--name", "alice"});
//
// The server listens on 127.0.0.1 with port 0 (a free port) unless ServerOptions::port says
// otherwise; its root and keys are fresh temporary directories unless given. Its stdout and
// stderr are drained on a background thread, so the pipes never fill. Every wait has a timeout
// and the destructor never leaves a process behind (SIGTERM, then SIGKILL after 5 s).
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace mh::test {

struct ServerOptions {
  std::vector<std::string> extra_args;    // e.g. {"--max-clients", "2"}; appended last
  std::filesystem::path root;             // empty: a fresh temporary www with a few files
  std::filesystem::path keys;             // empty: a fresh temporary keys directory
  std::filesystem::path upload_dir;       // empty: a fresh temporary directory
  std::filesystem::path binary;           // empty: the real minihttpsd (MH_SERVER_BIN)
  std::uint16_t port = 0;                 // 0: a free port chosen by the server
  std::string listen_host = "127.0.0.1";  // "::" for dual stack; url() always says 127.0.0.1
  std::string log_level = "info";         // --log-level
  bool access_log = true;                 // false: --no-access-log
  double grace = 2;                       // --grace (seconds in-flight requests get on SIGTERM)
  std::chrono::milliseconds start_timeout{10000};
  std::vector<std::string> env;  // added to the server's environment, e.g. {"TZ=XYZ-5"}
};

// Shorthands (designated initializers trip -Wmissing-field-initializers under -Werror).
inline ServerOptions with_args(std::vector<std::string> args) {
  ServerOptions o;
  o.extra_args = std::move(args);
  return o;
}
inline ServerOptions with_keys(std::filesystem::path keys, std::vector<std::string> args = {}) {
  ServerOptions o = with_args(std::move(args));
  o.keys = std::move(keys);
  return o;
}

class ServerProcess {
 public:
  // Starts the server and waits for its "listening on" and "fingerprint" lines; throws
  // std::runtime_error (with everything the server wrote) when they do not come in time.
  explicit ServerProcess(ServerOptions o = {});
  ~ServerProcess();  // SIGTERM, wait up to 5 s, then SIGKILL and reap
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::string url() const;        // "http://127.0.0.1:PORT", or https:// when it serves TLS
  std::string authority() const;  // "127.0.0.1:PORT"
  std::uint16_t port() const { return port_; }
  std::string fingerprint() const { return fingerprint_; }  // "SHA256:..."
  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& keys() const { return keys_; }
  const std::filesystem::path& upload_dir() const { return upload_dir_; }
  const ServerOptions& options() const { return opts_; }

  pid_t pid() const { return pid_; }
  bool running();      // not exited (reaps it if it has)
  void kill(int sig);  // sends sig to the server (no-op once reaped)
  // Waits for the process to exit: its exit code (128+N if killed by signal N), or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `timeout`; returns the exit status as wait_exit does.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Everything the server printed on stdout / logged on stderr so far, over all its runs
  // (restart() appends; each earlier run ends with a "[minihttpsd exited: N]" line).
  std::string stdout_text() const;
  std::string stderr_text() const;
  // Waits until the current run's stderr contains `needle` (true) or the timeout passes (false).
  bool wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout) const;

  // Stops the server and starts it again on the SAME port: with the same keys (key pinning
  // still matches), or with another keys directory (a "changed key"). Retries the bind for a
  // while when the port is momentarily busy.
  void restart();
  void restart_with_keys(const std::filesystem::path& keys);

 private:
  void start();
  void start_once();
  void reap_pipes();

  ServerOptions opts_;
  std::unique_ptr<TempDir> temp_;  // owns the generated root/keys, if any
  std::filesystem::path root_, keys_, upload_dir_;
  pid_t pid_ = -1;
  int exit_status_ = -1;  // once reaped
  int last_exit_ = -1;    // of the previous run, for the stderr history
  std::uint16_t port_ = 0;
  std::string fingerprint_;
  bool tls_ = false;  // it said "listening on https://"

  struct Output;  // the drained pipes, shared with the reader thread
  std::shared_ptr<Output> out_;
  std::thread reader_;
  std::string past_out_, past_err_;  // output of earlier runs (before restart)
};

// Runs argv (no shell) with `input` on stdin and a hard timeout: the child is killed (SIGKILL)
// when it runs longer, and the result's exit_code is then -1 with a note appended to err.
CommandResult run_process(const std::vector<std::string>& argv, std::string_view input = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60),
                          const std::vector<std::string>& extra_env = {});

// Runs the real client: MH_CLIENT_BIN --home <home> [args...].
CommandResult run_client(const std::filesystem::path& home, const std::vector<std::string>& args,
                         std::string_view input = {});

// The real server binary with args only (for option parsing tests: --help, bad values).
CommandResult run_server_binary(const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

std::filesystem::path server_binary();
// The same server with the test-only fault hooks (--test-corrupt-uploads N).
std::filesystem::path faulty_server_binary();
std::filesystem::path client_binary();

}  // namespace mh::test
