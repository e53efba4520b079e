#pragma once
// A man in the middle for tests: a TCP proxy between the real client and the real server that
// can damage responses on their way back — flip a bit of the body, cut the body short, or
// replace the whole response with one it recorded earlier — to show that the client refuses
// each and writes nothing.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mh::test {

class TamperProxy {
 public:
  enum class Mode { pass, flip_body_bit, truncate_body, replay_recorded };

  explicit TamperProxy(std::uint16_t server_port);
  ~TamperProxy();
  TamperProxy(const TamperProxy&) = delete;
  TamperProxy& operator=(const TamperProxy&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Applies to responses whose request line starts with `request_prefix` (e.g. "GET /docs/").
  void set_mode(Mode m, std::string request_prefix = "GET ");
  // Remember the next response to a matching request (for replay_recorded).
  void record_next(std::string request_prefix);
  int tampered() const noexcept { return tampered_.load(); }

 private:
  void accept_loop();
  void serve(int client_fd);
  std::string rewrite(const std::string& request_line, std::string response, bool& cut);

  std::uint16_t server_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  Mode mode_ = Mode::pass;
  std::string prefix_ = "GET ";
  std::string record_prefix_;
  std::string recorded_;
  std::atomic<int> tampered_{0};
};

}  // namespace mh::test
