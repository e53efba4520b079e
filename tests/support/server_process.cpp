#include "support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace mh::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

fs::path server_binary() { return MH_SERVER_BIN; }
#ifdef MH_FAULTY_SERVER_BIN
fs::path faulty_server_binary() { return MH_FAULTY_SERVER_BIN; }
#else
fs::path faulty_server_binary() { throw std::runtime_error("this test binary has no faulty server"); }
#endif
fs::path client_binary() { return MH_CLIENT_BIN; }

namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    r = fds[0];
    w = fds[1];
  }
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// waitpid with a timeout: the decoded status, or nullopt if still running after `timeout`.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto pause = 1ms;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return exit_code_of(status);
    if (r < 0 && errno != EINTR) return -1;  // not our child any more (should not happen)
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 20ms);
  }
}

std::string listen_arg(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Writing to a pipe whose reader is gone must be an error (EPIPE), not the end of the test run.
void ignore_sigpipe() {
  static const bool once = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)once;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

// ---- the drained output of a running server ----------------------------------------------------

struct ServerProcess::Output {
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::string out, err;
  bool out_closed = false, err_closed = false;
  int wake_w = -1;  // written to when the reader must finish (the process is gone)

  // Runs on the reader thread until both pipes hit EOF or a wake-up arrives.
  void drain(int out_fd, int err_fd, int wake_r) {
    set_nonblocking(out_fd);
    set_nonblocking(err_fd);
    pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {wake_r, POLLIN, 0}};
    char buf[16384];
    bool stop = false;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
      if (!stop) {
        const int n = ::poll(fds, 3, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (fds[2].revents) stop = true;  // final pass: read what is buffered, without blocking
      }
      bool any = false;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || (!stop && !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          if (stop) {  // nothing more buffered
            ::close(fds[i].fd);
            fds[i].fd = -1;
            std::lock_guard lock(mutex);
            (i == 0 ? out_closed : err_closed) = true;
          }
          continue;
        }
        std::lock_guard lock(mutex);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          (i == 0 ? out_closed : err_closed) = true;
        } else {
          (i == 0 ? out : err).append(buf, static_cast<std::size_t>(n));
          any = true;
        }
      }
      if (any || stop) changed.notify_all();
    }
    {
      std::lock_guard lock(mutex);
      out_closed = err_closed = true;
    }
    changed.notify_all();
    ::close(wake_r);
  }
};

// ---- ServerProcess -------------------------------------------------------------------------------

ServerProcess::ServerProcess(ServerOptions o) : opts_(std::move(o)) {
  ignore_sigpipe();
  if (opts_.root.empty() || opts_.keys.empty() || opts_.upload_dir.empty()) temp_ = std::make_unique<TempDir>();
  upload_dir_ = opts_.upload_dir.empty() ? temp_->path() / "uploads" : opts_.upload_dir;
  if (opts_.root.empty()) {
    root_ = temp_->path() / "www";
    fs::create_directories(root_ / "docs");
    write_file(root_ / "hello.txt", "hello, world\n");
    write_file(root_ / "docs" / "a.txt", "document a\n");
    const Bytes data = pattern_bytes(4096);
    write_file(root_ / "data.bin", std::string(data.begin(), data.end()));
  } else {
    root_ = opts_.root;
  }
  if (opts_.keys.empty()) {
    keys_ = temp_->path() / "keys";
    fs::create_directories(keys_);
    fs::permissions(keys_, fs::perms::owner_all, fs::perm_options::replace);
  } else {
    keys_ = opts_.keys;
  }
  port_ = opts_.port;
  start();
}

ServerProcess::~ServerProcess() {
  try {
    stop(5s);
  } catch (...) {}
}

std::string ServerProcess::authority() const { return "127.0.0.1:" + std::to_string(port_); }
std::string ServerProcess::url() const { return (tls_ ? "https://" : "http://") + authority(); }

void ServerProcess::start() {
  // A port freed a moment ago (restart) can still be taken by a straggler: retry the bind.
  const auto deadline = Clock::now() + 5s;
  for (;;) {
    try {
      start_once();
      return;
    } catch (const std::runtime_error& e) {
      const std::string err = e.what();
      const bool busy = port_ != 0 && err.find("in use") != std::string::npos;
      if (!busy || Clock::now() >= deadline) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
}

void ServerProcess::start_once() {
  std::vector<std::string> argv = {(opts_.binary.empty() ? server_binary() : opts_.binary).string(),
                                   "--listen",
                                   listen_arg(opts_.listen_host, port_),
                                   "--root",
                                   root_.string(),
                                   "--keys",
                                   keys_.string(),
                                   "--upload-dir",
                                   upload_dir_.string(),
                                   "--log-level",
                                   opts_.log_level,
                                   "--grace",
                                   std::to_string(opts_.grace)};
  if (!opts_.access_log) argv.push_back("--no-access-log");
  argv.insert(argv.end(), opts_.extra_args.begin(), opts_.extra_args.end());

  Pipe out, err, wake;
  try {
    pid_ = spawn(argv, -1, out.w, err.w, opts_.env);
  } catch (...) {
    for (int* fd : {&out.r, &out.w, &err.r, &err.w, &wake.r, &wake.w}) close_fd(*fd);
    throw;
  }
  exit_status_ = -1;
  close_fd(out.w);
  close_fd(err.w);
  if (out_) {  // keep what the previous run said
    std::lock_guard lock(out_->mutex);
    past_out_ += out_->out;
    past_err_ += out_->err + "[minihttpsd exited: " + std::to_string(last_exit_) + "]\n";
  }
  out_ = std::make_shared<Output>();
  out_->wake_w = wake.w;
  reader_ = std::thread([o = out_, a = out.r, b = err.r, w = wake.r] { o->drain(a, b, w); });

  // Wait for "listening on http[s]://127.0.0.1:PORT\nfingerprint SHA256:...\n".
  std::string listening, fp;
  bool ok = false;
  {
    std::unique_lock lock(out_->mutex);
    ok = out_->changed.wait_for(lock, opts_.start_timeout, [&] {
      const std::string& s = out_->out;
      const auto l = s.find("listening on http");
      const auto f = s.find("fingerprint ");
      if (l != std::string::npos && f != std::string::npos) {
        const auto le = s.find('\n', l), fe = s.find('\n', f);
        if (le != std::string::npos && fe != std::string::npos) {
          listening = s.substr(l, le - l);
          tls_ = listening.starts_with("listening on https://");
          fp = s.substr(f + 12, fe - f - 12);
          return true;
        }
      }
      return out_->out_closed;  // exited before printing them
    });
    ok = ok && !fp.empty();
  }
  if (ok) {
    const auto colon = listening.rfind(':');
    try {
      port_ = static_cast<std::uint16_t>(std::stoi(listening.substr(colon + 1)));
    } catch (...) { ok = false; }
    fingerprint_ = fp;
  }
  if (!ok) {
    const int status = stop(2s);
    throw std::runtime_error("minihttpsd did not start (exit status " + std::to_string(status) + ")\nargs:" +
                             [&] {
                               std::string a;
                               for (const auto& s : argv) a += " " + s;
                               return a;
                             }() +
                             "\nstdout:\n" + stdout_text() + "\nstderr:\n" + stderr_text());
  }
}

bool ServerProcess::running() {
  if (pid_ < 0) return false;
  if (const auto st = wait_for(pid_, 0ms)) {
    exit_status_ = last_exit_ = *st;
    pid_ = -1;
    reap_pipes();
    return false;
  }
  return true;
}

void ServerProcess::kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return exit_status_;
  const auto st = wait_for(pid_, timeout);
  if (!st) return -1;
  exit_status_ = last_exit_ = *st;
  pid_ = -1;
  reap_pipes();
  return exit_status_;
}

int ServerProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (wait_exit(timeout) == -1 && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait_exit(5s);
      if (pid_ > 0) {  // cannot happen short of a kernel problem; never block forever
        wait_exit(60s);
      }
    }
  }
  reap_pipes();
  return exit_status_;
}

void ServerProcess::reap_pipes() {
  if (!reader_.joinable()) return;
  // The process is gone: the reader drains what is buffered and stops, even if some other
  // process still holds the write ends.
  {
    std::unique_lock lock(out_->mutex);
    out_->changed.wait_for(lock, 500ms, [&] { return out_->out_closed && out_->err_closed; });
  }
  const char c = 'x';
  [[maybe_unused]] const ssize_t n = ::write(out_->wake_w, &c, 1);
  reader_.join();
  close_fd(out_->wake_w);
}

std::string ServerProcess::stdout_text() const {
  if (!out_) return past_out_;
  std::lock_guard lock(out_->mutex);
  return past_out_ + out_->out;
}

std::string ServerProcess::stderr_text() const {
  if (!out_) return past_err_;
  std::lock_guard lock(out_->mutex);
  return past_err_ + out_->err;
}

bool ServerProcess::wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout) const {
  if (!out_) return false;
  std::unique_lock lock(out_->mutex);
  return out_->changed.wait_for(lock, timeout, [&] { return out_->err.find(needle) != std::string::npos; });
}

void ServerProcess::restart() {
  stop();
  start();
}

void ServerProcess::restart_with_keys(const fs::path& keys) {
  stop();
  keys_ = keys;
  start();
}

// ---- one-shot commands ---------------------------------------------------------------------------

CommandResult run_process(const std::vector<std::string>& argv, std::string_view input,
                          std::chrono::milliseconds timeout, const std::vector<std::string>& extra_env) {
  ignore_sigpipe();
  Pipe in, out, err;
  pid_t pid = -1;
  try {
    pid = spawn(argv, in.r, out.w, err.w, extra_env);
  } catch (...) {
    for (int* fd : {&in.r, &in.w, &out.r, &out.w, &err.r, &err.w}) close_fd(*fd);
    throw;
  }
  close_fd(in.r);
  close_fd(out.w);
  close_fd(err.w);
  if (input.empty())
    close_fd(in.w);
  else
    set_nonblocking(in.w);

  CommandResult r;
  std::size_t written = 0;
  pollfd fds[3] = {{out.r, POLLIN, 0}, {err.r, POLLIN, 0}, {in.w, POLLOUT, 0}};
  char buf[65536];
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int n = ::poll(fds, 3, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(got));
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(fds[2].fd, input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        ::close(fds[2].fd);
        fds[2].fd = -1;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  if (timed_out) ::kill(pid, SIGKILL);
  auto st = wait_for(pid, timed_out ? 5000ms
                                    : std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::max<Clock::duration>(deadline - Clock::now(), 1s)));
  if (!st) {  // outputs closed but still running: give up on it
    ::kill(pid, SIGKILL);
    st = wait_for(pid, 5000ms);
    timed_out = true;
  }
  r.exit_code = timed_out ? -1 : st.value_or(-1);
  if (timed_out) r.err += "\n[run_process: killed after " + std::to_string(timeout.count()) + " ms]\n";
  return r;
}

CommandResult run_client(const fs::path& home, const std::vector<std::string>& args, std::string_view input) {
  std::vector<std::string> argv = {client_binary().string(), "--home", home.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, input, std::chrono::seconds(60));
}

CommandResult run_server_binary(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {server_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {}, timeout);
}

}  // namespace mh::test
