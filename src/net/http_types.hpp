#pragma once
// Framework-free HTTP request/response types shared by the server's parts and the client.
// Boost.Beast stays inside src/net/*.cpp; everything else sees only these.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ascii.hpp"
#include "core/error.hpp"

namespace mh::net {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

using mh::iequals;  // core/ascii.hpp
// First value of a header (case-insensitive name), or nullopt.
std::optional<std::string_view> find_header(const Headers& h, std::string_view name) noexcept;

struct Request {
  std::string method;  // "GET"
  std::string target;  // origin-form as received: "/docs/a.txt?x=1"
  Headers headers;
  std::string body;            // only for buffered bodies
  std::string remote_address;  // peer IP, for rate limits and logs
  std::string client_id;       // set by the handler once the client is known (access log)
  bool has_body = false;       // Content-Length > 0 or chunked

  std::optional<std::string_view> header(std::string_view name) const noexcept { return find_header(headers, name); }
};

// The server's thread pool as a response body sees it: work posted there runs on any of its
// threads, off the connection (what a body may use to encrypt ahead on every core).
struct Pool {
  unsigned threads = 1;
  std::function<void(std::function<void()>)> post;
};

// A response body produced piece by piece (files, Fernet streams) with a size known up front.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual std::uint64_t size() const = 0;
  // Fills up to cap bytes; returns how many; 0 only at the end. Throws mh::Error on failure,
  // which aborts the connection (the response is already under way).
  virtual std::size_t read(char* buf, std::size_t cap) = 0;
  // The server asks before each read(). A body that makes its bytes ahead on the pool answers
  // false when read() would have to wait for that work, and then calls wake() once, from any
  // thread, when it would not; the connection sleeps meanwhile instead of holding a thread.
  // Callers that never ask (the client, tests) get a body that works on the calling thread.
  virtual bool ready(const Pool&, std::function<void()> wake) {
    (void)wake;
    return true;
  }
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::unique_ptr<BodySource> stream;  // when set, the body comes from here
  bool head_only = false;              // HEAD: send the headers of this response, no body
  bool close = false;                  // close the connection after this response

  void set(std::string name, std::string value);
};

Response error_response(const Error& e);  // below, with json_response

// A request body streamed into the handler; finish() runs after the last byte arrived.
// If the body breaks off (timeout, disconnect, over the limit) abort() runs instead.
// When the client ends its sending half before Content-Length bytes came, ended_early() may give
// an answer (then abort() runs; the default gives none: the connection just closes).
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void write(std::string_view chunk) = 0;
  virtual Response finish() = 0;
  virtual void abort() noexcept {}
  // The answer to a refusal of write() (the rest of the body stays unread, the connection closes
  // after it): by default the plain error response; a sink that knows its request can seal it.
  virtual Response refusal(const Error& e) { return error_response(e); }
  virtual std::optional<Response> ended_early() { return std::nullopt; }
};

// What a handler wants once it has seen the request head.
struct BufferBody {
  std::size_t max_bytes;
  std::function<Response(Request&)> then;  // runs with request.body filled
};
struct StreamBody {
  std::unique_ptr<BodySink> sink;
  std::uint64_t max_bytes;
};

// ---- WebSocket (RFC 6455), Beast-free ----------------------------------------------------------

// WebSocket close codes used by minihttps (RFC 6455 §7.4.1).
namespace close_code {
inline constexpr int normal = 1000;
inline constexpr int going_away = 1001;        // server stopping
inline constexpr int unsupported_data = 1003;  // a binary frame where text is expected
inline constexpr int policy_violation = 1008;  // a frame that does not verify, flooding, kicked
inline constexpr int too_big = 1009;           // a message over the size limit
inline constexpr int internal_error = 1011;
inline constexpr int try_again_later = 1013;  // a server limit was reached
}  // namespace close_code

// One open WebSocket connection as the application sees it. Both calls are thread-safe and
// never block: messages are queued and written in the order send() was called (calls from
// several threads are ordered as they happened). A peer that does not read fast enough to keep
// its queue under the limit is closed (1008). Once the connection is closing or closed, send()
// does nothing.
class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;
  virtual void send(std::string text) = 0;
  // Sends what is already queued, then a close frame with code and reason (at most 123 bytes),
  // and drops the TCP connection if the close handshake is not over within a few seconds.
  virtual void close(int code, std::string reason) = 0;
};

// The application side of one WebSocket connection. on_open runs once the upgrade succeeded;
// then on_message for each complete text message, one at a time, in order; then on_close, once,
// when the connection has ended for whatever reason (on_close runs only if on_open ran). The
// calls for one connection never overlap; different connections run on different threads.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  virtual void on_open(std::shared_ptr<WebSocketPeer> peer) = 0;
  virtual void on_message(std::string_view text) = 0;
  virtual void on_close() = 0;
};

// A handler's answer to a request that asks for a WebSocket upgrade: the server completes the
// upgrade and hands the connection to `handler`. For a request that is not a valid upgrade, the
// server answers 426 instead.
struct Upgrade {
  std::unique_ptr<WebSocketHandler> handler;
  std::size_t max_message_bytes = 64 * 1024;  // a longer message closes the connection with 1009
  std::size_t max_queued_bytes = 1 << 20;     // outgoing bytes not yet written; beyond: close 1008
  Headers headers;                            // added to the 101 response (e.g. the sealed head)
};

using Dispatch = std::variant<Response, BufferBody, StreamBody, Upgrade>;

// "Connection: upgrade" and "Upgrade: websocket" (tokens, any case): the request asks for a
// WebSocket. The server checks the rest (method, version, Sec-WebSocket-Key) when it accepts.
bool wants_websocket(const Request& req) noexcept;

class Handler {
 public:
  virtual ~Handler() = default;
  // Runs once the request head has arrived: answers at once, or says how to take the body.
  virtual Dispatch on_head(Request& req) = 0;
};

// The one place an mh::Error becomes an HTTP response: status from mh::http_status, a short
// JSON body {"error": name, "reason": text}. 401s tell the client to handshake.
Response error_response(const Error& e);
// Its body: {"error": name, "reason": text}, the reason replaced by "internal error" for 5xx
// failures other than unavailable and insufficient_storage.
std::string error_json(const Error& e);
Response json_response(int status, std::string json);

}  // namespace mh::net
