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

#include "core/error.hpp"

namespace mh::net {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

bool iequals(std::string_view a, std::string_view b) noexcept;
// First value of a header (case-insensitive name), or nullopt.
std::optional<std::string_view> find_header(const Headers& h, std::string_view name) noexcept;

struct Request {
  std::string method;  // "GET"
  std::string target;  // origin-form as received: "/docs/a.txt?x=1"
  Headers headers;
  std::string body;    // only for buffered bodies
  std::string remote_address;  // peer IP, for rate limits and logs
  std::string client_id;       // set by the handler once the client is known (access log)
  bool has_body = false;       // Content-Length > 0 or chunked

  std::optional<std::string_view> header(std::string_view name) const noexcept { return find_header(headers, name); }
};

// A response body produced piece by piece (files, Fernet streams) with a size known up front.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual std::uint64_t size() const = 0;
  // Fills up to cap bytes; returns how many; 0 only at the end. Throws mh::Error on failure,
  // which aborts the connection (the response is already under way).
  virtual std::size_t read(char* buf, std::size_t cap) = 0;
  // Starts the same bytes again from the beginning (for a digest pass); false if impossible.
  virtual bool rewind() { return false; }
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

// A request body streamed into the handler; finish() runs after the last byte arrived.
// If the body breaks off (timeout, disconnect, over the limit) abort() runs instead.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void write(std::string_view chunk) = 0;
  virtual Response finish() = 0;
  virtual void abort() noexcept {}
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
using Dispatch = std::variant<Response, BufferBody, StreamBody>;

class Handler {
 public:
  virtual ~Handler() = default;
  // Runs once the request head has arrived: answers at once, or says how to take the body.
  virtual Dispatch on_head(Request& req) = 0;
};

// The one place an mh::Error becomes an HTTP response: status from mh::http_status, a short
// JSON body {"error": name, "reason": text}. 401s tell the client to handshake.
Response error_response(const Error& e);
Response json_response(int status, std::string json);

}  // namespace mh::net
