#include "support/redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace mh::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = 10s;
constexpr auto kStopTimeout = 5s;

// A port nothing listens on right now: bound to port 0, read back, closed. Another process may
// take it before redis-server does; start() then retries with another one.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

int unix_connect(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One inline PING, without the client under test: whether the server is ready must not depend
// on the code the tests are checking.
bool answers_ping(int fd) {
  if (fd < 0) return false;
  timeval tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[16] = {};
  const bool ok = send_all(fd, "PING\r\n") && ::recv(fd, buf, 7, MSG_WAITALL) == 7 && std::string(buf) == "+PONG\r\n";
  ::close(fd);
  return ok;
}

}  // namespace

RedisServer::RedisServer(Listen listen) : listen_(listen) { start(); }

RedisServer::~RedisServer() {
  try {
    stop();
  } catch (...) {}
}

std::string RedisServer::url() const {
  if (listen_ == Listen::unix_socket) return "unix://" + (dir_ / "redis.sock").string();
  return "redis://127.0.0.1:" + std::to_string(port_);
}

std::string RedisServer::log() const {
  try {
    return read_file(dir_ / "redis.log");
  } catch (...) { return "(no log)"; }
}

void RedisServer::start() {
  if (running()) return;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (listen_ == Listen::tcp && (port_ == 0 || attempt > 0)) port_ = free_port();
    if (start_once()) return;
    if (listen_ != Listen::tcp) break;
  }
  throw std::runtime_error("redis-server did not start; its log:\n" + log());
}

bool RedisServer::start_once() {
  std::vector<std::string> argv = {
      "/usr/bin/redis-server", "--save", "",      "--appendonly",      "no", "--daemonize", "no", "--bind", "127.0.0.1",
      "--protected-mode",      "yes",    "--dir", dir_.path().string()};
  if (listen_ == Listen::unix_socket) {
    for (const char* a : {"--port", "0", "--unixsocket"}) argv.emplace_back(a);
    argv.push_back((dir_ / "redis.sock").string());
    for (const char* a : {"--unixsocketperm", "700"}) argv.emplace_back(a);
  } else {
    argv.emplace_back("--port");
    argv.push_back(std::to_string(port_));
  }
  const std::size_t log_start = log().size();
  const int log_fd = ::open((dir_ / "redis.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) throw std::runtime_error(std::string("cannot open redis.log: ") + std::strerror(errno));
  try {
    pid_ = spawn(argv, -1, log_fd, log_fd);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);

  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    // Its own "[Rr]eady to accept connections" line first: a PING alone could be answered by another server that took
    // the TCP port, while ours is about to exit on "Address already in use".
    if (log().find("eady to accept connections", log_start) != std::string::npos) {
      const int fd = listen_ == Listen::unix_socket ? unix_connect(dir_ / "redis.sock") : tcp_connect(port_);
      if (answers_ping(fd)) return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  kill();
  throw std::runtime_error("redis-server did not answer PING within 10 s; its log:\n" + log());
}

void RedisServer::wait_gone() {
  const auto deadline = Clock::now() + kStopTimeout;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  pid_ = -1;
}

void RedisServer::stop() {
  if (!running()) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGTERM);
  wait_gone();
}

void RedisServer::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  wait_gone();
}

void RedisServer::restart() {
  stop();
  start();
}

}  // namespace mh::test
