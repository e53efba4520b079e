#pragma once
// Internal to src/net: the server side of one WebSocket connection (RFC 6455), taken over from an
// HTTP session whose handler answered net::Upgrade. http_server.cpp uses it; nothing outside
// src/net includes this header. Beast's WebSocket code stays in websocket_session.cpp.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <memory>

#include "net/http_types.hpp"
#include "net/tls_stream.hpp"

namespace mh::net::detail {

using UpgradeRequest = boost::beast::http::request<boost::beast::http::empty_body>;

// GET, HTTP/1.1, "Connection: upgrade" and "Upgrade: websocket" (what Beast requires to accept).
bool is_websocket_upgrade(const UpgradeRequest& req);

class WebSocketSession {
 public:
  // Takes the connection out of `stream` (left closed, but usable) for up.handler.
  static std::shared_ptr<WebSocketSession> create(boost::beast::tcp_stream&& stream, Upgrade up);
  static std::shared_ptr<WebSocketSession> create(TlsStream&& stream, Upgrade up);
  virtual ~WebSocketSession() = default;

  // Completes the upgrade (101), calls on_open, reads messages until the connection ends, calls
  // on_close. Returns the bytes of messages sent. Must run on the stream's strand, like the calls
  // below; `req` must stay alive until it returns.
  virtual boost::asio::awaitable<std::uint64_t> run(const UpgradeRequest& req) = 0;
  // The server is stopping: close with 1001 after what is queued (abort if still upgrading).
  virtual void going_away() = 0;
  // Drops the TCP connection now.
  virtual void abort() = 0;
};

}  // namespace mh::net::detail
