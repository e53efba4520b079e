#pragma once
// A TCP load balancer for tests, as HAProxy in `mode tcp` would stand in front of several
// minihttpsd instances: it listens on 127.0.0.1 (a free port) and pipes each accepted connection
// to one backend, chosen in turn (round robin) or the one a test pins. A backend that refuses the
// connection is skipped for the next one, as a balancer with health checks would, so a killed
// instance's clients carry on through the others. Every connection is a thread pair; the
// destructor closes everything and joins.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mh::test {

class Balancer {
 public:
  explicit Balancer(std::vector<std::uint16_t> backend_ports);
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Sends every new connection to backend i (an index into the ports), or back to round robin.
  void pin(std::optional<std::size_t> backend);
  // The backend index each accepted connection went to, in order.
  std::vector<std::size_t> routed() const;

 private:
  void accept_loop();
  void serve(int client);
  int dial(std::size_t& chosen);

  std::vector<std::uint16_t> backends_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::optional<std::size_t> pinned_;
  std::size_t next_ = 0;
  std::vector<std::size_t> routed_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace mh::test
