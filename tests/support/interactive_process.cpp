#include "support/interactive_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include "support/server_process.hpp"

namespace mh::test {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

struct InteractiveProcess::Output {
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::string out, err, partial;
  std::vector<std::string> lines;
  bool done = false;

  void drain(int out_fd, int err_fd) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    char buf[16384];
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
      const int n = ::poll(fds, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        std::lock_guard lock(mutex);
        if (got <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
        } else if (i == 0) {
          out.append(buf, static_cast<std::size_t>(got));
          partial.append(buf, static_cast<std::size_t>(got));
          for (std::size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
            lines.push_back(partial.substr(0, nl));
            partial.erase(0, nl + 1);
          }
        } else {
          err.append(buf, static_cast<std::size_t>(got));
        }
        changed.notify_all();
      }
    }
    std::lock_guard lock(mutex);
    done = true;
    changed.notify_all();
  }
};

InteractiveProcess::InteractiveProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env)
    : out_(std::make_shared<Output>()) {
  std::signal(SIGPIPE, SIG_IGN);  // a child gone before we wrote is an error return, not death
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  try {
    pid_ = spawn(argv, in[0], out[1], err[1], extra_env);
  } catch (...) {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    throw;
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_fd_ = in[1];
  reader_ = std::thread([o = out_, a = out[0], b = err[0]] { o->drain(a, b); });
}

InteractiveProcess::~InteractiveProcess() {
  close_stdin();
  if (wait_exit(5s) == -1) {
    kill(SIGKILL);
    wait_exit(5s);
  }
  if (reader_.joinable()) reader_.join();
}

bool InteractiveProcess::write(std::string_view data) {
  while (!data.empty()) {
    if (stdin_fd_ < 0) return false;
    const ssize_t n = ::write(stdin_fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void InteractiveProcess::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<std::size_t> InteractiveProcess::wait_line(const std::regex& re, std::chrono::milliseconds timeout,
                                                         std::size_t from) {
  std::unique_lock lock(out_->mutex);
  std::size_t next = from;
  std::optional<std::size_t> found;
  out_->changed.wait_for(lock, timeout, [&] {
    for (; next < out_->lines.size(); ++next)
      if (std::regex_search(out_->lines[next], re)) {
        found = next;
        return true;
      }
    return out_->done;
  });
  return found;
}

bool InteractiveProcess::wait_count(const std::regex& re, std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(out_->mutex);
  std::size_t seen = 0, next = 0;
  return out_->changed.wait_for(lock, timeout, [&] {
    for (; next < out_->lines.size(); ++next)
      if (std::regex_search(out_->lines[next], re)) ++seen;
    return seen >= n || out_->done;
  }) && seen >= n;
}

std::vector<std::string> InteractiveProcess::lines() const {
  std::lock_guard lock(out_->mutex);
  return out_->lines;
}

std::vector<std::string> InteractiveProcess::matching(const std::regex& re) const {
  std::vector<std::string> r;
  for (const auto& l : lines())
    if (std::regex_search(l, re)) r.push_back(l);
  return r;
}

std::string InteractiveProcess::out() const {
  std::lock_guard lock(out_->mutex);
  return out_->out;
}

std::string InteractiveProcess::err() const {
  std::lock_guard lock(out_->mutex);
  return out_->err;
}

bool InteractiveProcess::wait_err(std::string_view needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(out_->mutex);
  return out_->changed.wait_for(lock, timeout, [&] {
    return out_->err.find(needle) != std::string::npos || out_->done;
  }) && out_->err.find(needle) != std::string::npos;
}

int InteractiveProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ < 0) return exit_status_;
  const auto deadline = SteadyClock::now() + timeout;
  auto pause = 1ms;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = exit_code_of(status);
      pid_ = -1;
      // Output written just before the exit is collected before anyone looks at it.
      std::unique_lock lock(out_->mutex);
      out_->changed.wait_for(lock, 2s, [&] { return out_->done; });
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) return -1;
    if (SteadyClock::now() >= deadline) return -1;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 20ms);
  }
}

void InteractiveProcess::kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

}  // namespace mh::test
