#pragma once
// The client's HTTP/1.1 connection, on TCP or on TLS over it (https://): blocking calls, a timeout
// on every network step, keep-alive, streaming bodies in both directions. Beast stays in
// http_client.cpp.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "net/http_types.hpp"

namespace mh::net {

// HOST[:PORT], http://HOST[:PORT] or https://HOST[:PORT] (TLS underneath: docs/PROTOCOL.md §1.1),
// no path; Errc::bad_request with a reason otherwise.
struct ServerUrl {
  std::string host;  // without brackets for IPv6
  std::string port = "80";
  bool tls = false;
  static ServerUrl parse(std::string_view url);
  std::string scheme() const { return tls ? "https" : "http"; }
  std::string authority() const;  // what goes in Host: "127.0.0.1:8443", without the scheme's default port
  std::string str() const { return scheme() + "://" + authority(); }
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;  // empty when the body was streamed to a callback
  std::optional<std::string_view> header(std::string_view name) const noexcept { return find_header(headers, name); }
};

class HttpClient {
 public:
  HttpClient(ServerUrl server, std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends req (its body, if any, from req.body) and reads the response, buffering at most
  // max_body bytes of it (Errc::network beyond). Errc::network on connection trouble.
  ClientResponse send(const Request& req, std::size_t max_body = 1 << 20);

  // Like send, but hands the response body to on_chunk as it arrives. on_head runs first and may
  // throw to refuse the response (e.g. an unexpected status).
  ClientResponse send_streaming(const Request& req, const std::function<void(const ClientResponse&)>& on_head,
                                const std::function<void(std::string_view)>& on_chunk);

  // Streams the request body from `body` (Content-Length = body.size()).
  ClientResponse send_body(const Request& req, BodySource& body, std::size_t max_response = 1 << 20);

  const ServerUrl& server() const noexcept { return server_; }

 private:
  struct Impl;
  ServerUrl server_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mh::net
