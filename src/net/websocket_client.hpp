#pragma once
// The client side of a WebSocket (RFC 6455) over TCP or TLS (https:// URLs): connect, upgrade with extra request
// headers (e.g. RFC 9421 signature fields), then text messages both ways. Beast stays in
// websocket_client.cpp. After open() a background thread does the I/O, so one thread may block in
// receive() while others send().
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "net/http_client.hpp"
#include "net/http_types.hpp"

namespace mh::net {

class WebSocketClient {
 public:
  // How the connection ended, once it has.
  struct CloseInfo {
    int code = 0;            // the close code the server sent (or echoed); 0 if none (connection lost)
    std::string reason;      // its reason text
    bool by_server = false;  // the server started the close handshake
    std::string error;       // what broke, when the connection ended without a close handshake
  };

  // `timeout` bounds connecting and the upgrade handshake.
  WebSocketClient(ServerUrl server, std::chrono::milliseconds timeout);
  ~WebSocketClient();  // drops the connection if still open and joins the I/O thread
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Connects and asks to upgrade `target` (origin form) with `headers` added to the request
  // (Host is the server's authority). The answer's status is 101 when the WebSocket is open;
  // any other status, with its headers and body, when the server refused (the connection is then
  // closed; open may be called again). Errc::network when there is no answer. Messages longer than
  // max_message_bytes close the connection (1009).
  ClientResponse open(const std::string& target, const Headers& headers, std::size_t max_message_bytes = 1 << 20);

  // Queues a text message; messages go out in the order of the calls. Thread-safe. False (and
  // nothing sent) once the connection is closing or closed.
  bool send(std::string text);

  // The next message, waiting at most `timeout`. nullopt when the timeout passed or the
  // connection has ended and every message received before the end was taken (see closed()).
  std::optional<std::string> receive(std::chrono::milliseconds timeout);

  // Sends what is queued, then a close frame; waits up to `timeout` for the server's close
  // reply, then drops the connection. Messages that arrive meanwhile can still be received.
  // Returns true if the close handshake completed. Thread-safe; later calls only wait.
  bool close(int code, const std::string& reason, std::chrono::milliseconds timeout);

  // Waits up to `timeout` for the connection to end (e.g. the server closes it).
  bool wait_closed(std::chrono::milliseconds timeout);
  bool closed() const;
  CloseInfo close_info() const;

 private:
  struct Impl;
  ServerUrl server_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mh::net
