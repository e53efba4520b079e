#pragma once
// A man in the middle for tests: a TCP proxy between the real client and the real server that
// can damage responses on their way back — flip a bit of the body, cut the body short, replace
// the whole response with one it recorded earlier, reframe it as an endless chunked body, add
// bytes after it, or rewrite it with a test's function — to show that the client refuses each
// and writes nothing.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mh::test {

class TamperProxy {
 public:
  // chunked_junk: the genuine signed head, its Content-Length swapped for
  //   "Transfer-Encoding: chunked", then chunks of junk until the client closes (at most
  //   kJunkCap bytes; junk_sent() says how many went out).
  // bytes_after_body: the genuine response followed, in the same write, by a forged second
  //   response the client never asked for.
  // rewrite: each matching response replaced by what the rewriter makes of it (a hostile server
  //   that holds the server's keys, for tests of what the client prints).
  enum class Mode { pass, flip_body_bit, truncate_body, replay_recorded, chunked_junk, bytes_after_body, rewrite };
  static constexpr std::uint64_t kJunkCap = 256ull << 20;
  using Rewriter = std::function<std::string(const std::string& request, const std::string& response)>;

  explicit TamperProxy(std::uint16_t server_port);
  ~TamperProxy();
  TamperProxy(const TamperProxy&) = delete;
  TamperProxy& operator=(const TamperProxy&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Applies to responses whose request line starts with `request_prefix` (e.g. "GET /docs/").
  // Resets the chunked_junk counters below.
  void set_mode(Mode m, std::string request_prefix = "GET ");
  // Remember the next response to a matching request (for replay_recorded).
  void record_next(std::string request_prefix);
  int tampered() const noexcept { return tampered_.load(); }
  // For Mode::rewrite: the function applied to matching (whole) requests and responses.
  void set_rewriter(Rewriter r);
  // Mode::chunked_junk: junk bytes written to the client, the genuine response's Content-Length,
  // and whether the client closed the connection before the junk ran out.
  std::uint64_t junk_sent() const noexcept { return junk_sent_.load(); }
  std::uint64_t declared_length() const noexcept { return declared_length_.load(); }
  bool client_closed_early() const noexcept { return client_closed_early_.load(); }

 private:
  void accept_loop();
  void serve(int client_fd);
  std::string rewrite(const std::string& request, std::string response, bool& cut, bool& junk);
  void stream_junk(int client_fd);

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
  Rewriter rewriter_;
  std::atomic<std::uint64_t> junk_sent_{0}, declared_length_{0};
  std::atomic<bool> client_closed_early_{false};
};

}  // namespace mh::test
