#include "support/balancer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace mh::test {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Copies both ways until either side closes (then shuts the other down) or fds are shut down.
void pipe_both(int a, int b) {
  char buf[64 * 1024];
  pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  for (;;) {
    if (poll(p, 2, 200) < 0) return;
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = write(p[1 - i].fd, buf + off, static_cast<std::size_t>(n - off));
        if (w <= 0) return;
        off += w;
      }
    }
  }
}

}  // namespace

Balancer::Balancer(std::vector<std::uint16_t> backend_ports) : backends_(std::move(backend_ports)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(0);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 128) != 0)
    throw std::runtime_error("balancer: cannot listen");
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

Balancer::~Balancer() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  {
    std::lock_guard lock(mutex_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
}

void Balancer::pin(std::optional<std::size_t> backend) {
  std::lock_guard lock(mutex_);
  pinned_ = backend;
}

std::vector<std::size_t> Balancer::routed() const {
  std::lock_guard lock(mutex_);
  return routed_;
}

void Balancer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mutex_);
    open_fds_.push_back(client);
    threads_.emplace_back([this, client] { serve(client); });
  }
}

// The pinned backend, else the next in turn; one that refuses is skipped. -1 if all refuse.
int Balancer::dial(std::size_t& chosen) {
  std::size_t first;
  {
    std::lock_guard lock(mutex_);
    first = pinned_ ? *pinned_ : next_++ % backends_.size();
  }
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    chosen = (first + i) % backends_.size();
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(backends_[chosen]);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    close(fd);
  }
  return -1;
}

void Balancer::serve(int client) {
  std::size_t chosen = 0;
  const int backend = dial(chosen);
  if (backend >= 0) {
    {
      std::lock_guard lock(mutex_);
      routed_.push_back(chosen);
      open_fds_.push_back(backend);
    }
    pipe_both(client, backend);
  }
  std::lock_guard lock(mutex_);
  for (int fd : {client, backend}) {
    if (fd < 0) continue;
    shutdown(fd, SHUT_RDWR);
    close(fd);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  }
}

}  // namespace mh::test
