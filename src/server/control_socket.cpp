#include "server/control_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "core/error.hpp"
#include "io/unique_fd.hpp"

namespace mh::server {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxCommand = 1024;
constexpr const char* kUsage =
    "usage: minihttpsd ctl [--keys DIR | --socket PATH] list | kick NAME|UUID | ban NAME|UUID|FINGERPRINT | "
    "unban NAME|UUID|FINGERPRINT | bans | stop\n";

// The answer on the socket: the exit code on a line of its own, then the text.
std::string answer(const ConsoleReply& r) { return std::to_string(r.code) + "\n" + r.text; }

sockaddr_un address(const fs::path& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof a.sun_path) throw Error(Errc::bad_request, "control socket path too long: " + p);
  std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
  return a;
}

int connect_to(const fs::path& path) {
  const sockaddr_un a = address(path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

// Reads until newline or EOF, at most kMaxCommand bytes, within `timeout_ms`.
std::string read_line(int fd, int timeout_ms) {
  std::string line;
  char buf[256];
  while (line.size() < kMaxCommand && line.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  return line.substr(0, line.find('\n'));
}

void write_all(int fd, const std::string& s) {
  for (std::size_t off = 0; off < s.size();) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

ControlSocket::ControlSocket(fs::path path, OperatorConsole& console) : path_(std::move(path)), console_(console) {
  if (const int other = connect_to(path_); other >= 0) {
    ::close(other);
    throw Error(Errc::unavailable, "another minihttpsd answers on " + path_.string());
  }
  ::unlink(path_.c_str());  // a stale socket from a server that did not stop cleanly
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un a = address(path_);
  // Owner-only from birth: the umask applies to the socket file bind() creates.
  const mode_t old = ::umask(0177);
  const int rc = ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  ::umask(old);
  if (rc != 0 || ::listen(fd_, 8) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
    const std::string why = io::errno_text(errno);
    ::close(fd_);
    throw Error(Errc::io, "cannot create the control socket " + path_.string() + ": " + why);
  }
  thread_ = std::thread([this] { serve(); });
}

ControlSocket::~ControlSocket() {
  if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  ::unlink(path_.c_str());
}

void ControlSocket::serve() {
  for (;;) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents) return;
    io::UniqueFd c(::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
    if (c.get() < 0) continue;
    // Only our own user (or root) may command the server, whatever the file mode says.
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != ::getuid() && cred.uid != 0)) {
      write_all(c.get(), answer({1, "refused: not the server's user\n"}));
      continue;
    }
    ConsoleReply reply;
    try {
      reply = console_.execute(read_line(c.get(), 5000));
    } catch (const std::exception& e) {  // e.g. the ban list could not be written
      reply = {1, std::string(e.what()) + "\n"};
    }
    write_all(c.get(), answer(reply));
  }
}

int run_ctl(int argc, char** argv) {
  // minihttpsd ctl [--keys DIR | --socket PATH] COMMAND [ARG]
  fs::path socket = "keys/control.sock";
  std::string command;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--keys" || a == "--socket") && i + 1 < argc) {
      socket = a == "--keys" ? fs::path(argv[++i]) / "control.sock" : fs::path(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      command += (command.empty() ? "" : " ") + a;
    }
  }
  if (command.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const int fd = connect_to(socket);
  if (fd < 0) {
    std::cerr << "minihttpsd ctl: no server answers on " << socket.string() << ": " << io::errno_text(errno) << "\n";
    return 1;
  }
  io::UniqueFd guard(fd);
  write_all(fd, command + "\n");
  ::shutdown(fd, SHUT_WR);
  std::string reply;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  const auto eol = reply.find('\n');
  if (eol == std::string::npos || eol == 0 || reply.find_first_not_of("0123456789") != eol) {
    std::cerr << "minihttpsd ctl: the server on " << socket.string() << " gave no answer\n";
    return 1;
  }
  const int code = std::stoi(reply.substr(0, eol));
  (code == 0 ? std::cout : std::cerr) << reply.substr(eol + 1);
  return code;
}

}  // namespace mh::server
