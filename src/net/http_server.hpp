#pragma once
// minihttpsd's HTTP/1.1 server, on TCP or TLS: Boost.Beast on an Asio thread pool, one coroutine per connection,
// keep-alive, limits on every read, streaming bodies both ways, WebSocket upgrades (a handler
// answers net::Upgrade; see net/http_types.hpp), graceful stop (WebSockets get 1001). Beast stays in
// http_server.cpp; the rest of the program talks to it through net::Handler.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/tls_certificate.hpp"
#include "net/http_types.hpp"

namespace mh::net {

struct ServerLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds request_timeout{15000};  // a complete request head must arrive within this
  std::chrono::milliseconds body_timeout{30000};     // longest pause allowed inside a request body
  std::chrono::milliseconds write_timeout{30000};    // longest pause allowed while the peer reads
  std::size_t max_connections = 20000;
};

// One line per request, handed to the logger of the caller's choice.
struct AccessRecord {
  const Request& request;
  int status;
  std::uint64_t bytes;  // response body bytes sent
  std::chrono::microseconds duration;
  bool complete = true;     // false: the connection failed before the whole response went out (aborted)
  bool keep_alive = false;  // the connection stays open for another request
};
using AccessLogger = std::function<void(const AccessRecord&)>;
// Other things worth a log line (a response abandoned because its client went away).
using EventLogger = std::function<void(const std::string&)>;

class HttpServer {
 public:
  HttpServer(Handler& handler, ServerLimits limits, int threads, AccessLogger log = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Every connection speaks TLS from now on (docs/ARCHITECTURE.md §9): TLS 1.2 or 1.3 with this
  // certificate chain and key. Call before listen(). Errc::bad_request when they do not load or do
  // not match. A plain HTTP request on a TLS connection is answered 400 in plain HTTP, saying so.
  void use_tls(const TlsCertificate& tls);
  // Binds HOST:PORT (port 0 picks a free one) and returns the port actually bound.
  std::uint16_t listen(const std::string& host, std::uint16_t port);
  // Runs the thread pool; returns once the server has stopped.
  void run();
  // Thread-safe. Stops accepting, lets requests in flight finish for up to `grace`, then
  // closes every connection and makes run() return.
  void stop(std::chrono::milliseconds grace);
  std::size_t connections() const;
  // Open connections per client (the UUID of the last verified request on each connection).
  std::map<std::string, std::size_t> connections_by_client() const;
  // Closes the client's HTTP connections at once (its chat sockets are the chat hub's to close).
  void close_client(const std::string& client_id);
  // Runs fn on the server's pool after `delay`, and again every `period` if it is non-zero,
  // until the server stops (housekeeping such as sweeping expired sessions).
  void every(std::chrono::milliseconds period, std::function<void()> fn);
  // Where event lines go (none by default). Call before run().
  void set_event_log(EventLogger log);
  // From now on SIGINT and SIGTERM no longer end the process: each runs fn(signal, count) on the
  // server's pool (count 0 for the first one), for as long as the server runs (an asio
  // signal_set, so no thread waits for them and no signal mask is needed).
  void on_signals(std::function<void(int signal, int count)> fn);

  struct Impl;  // opaque: Beast lives in the .cpp

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mh::net
